"""Cost of the known-hosts sub-model's stored training sets (`cigars simulations`), by part.

    python benchmarks/bench_knownhosts.py [--bank BANK.h5] [--quick]

``configs/quickstart-knownhosts.yaml`` trains from stored sets of 16,384 simulated samples
(issue 6's ensemble). Each chunk of ``--chunk`` samples is one jitted, vmapped call
(:func:`cigars.experiment.simulate_training_set`); this times that call in three builds of the
same simulator, so the parts' costs are differences:

* ``plain``: covariates, SN population, dust, noise and selection (128 tries per SN), no
  compression features;
* ``score``: plus each SN's likelihood score at the fiducial point
  (:func:`cigars.likelihood.score_terms`);
* ``full``: plus the sample's Laplace approximation (:func:`laplace_features`), the config as
  shipped.

Each is compiled (``compile_s``, the first call) and then timed over ``--chunks`` further chunks
(median ``s_per_chunk``; ``min_per_16384`` extrapolates to one stored set). The Laplace fit is
then profiled one sample at a time on a ``plain`` chunk: its Levenberg-Marquardt passes
(percentiles), its time per sample, and the jitted gradient and Hessian of the sample's
log-likelihood (300 SNe at most), which each pass evaluates once (plus six objective values).
Writes ``benchmarks/knownhosts_simulation.json`` (``-o``) atomically, with the machine.
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._harness import machine, timed  # noqa: E402

CONFIG = HERE.parent / "configs" / "quickstart-knownhosts.yaml"


def builds(exp):
    """The three experiments ``plain``, ``score``, ``full`` (see the module docstring)."""
    sub = exp.likelihood.sub_model
    # Without Laplace features the estimator must not read them (the config check says so).
    bare = exp.inference.replace(
        estimator=exp.inference.estimator.replace(global_frame="pilot", pool_inputs=False)
    )
    out = {}
    for name, score, laplace in (("plain", False, False), ("score", True, False)):
        e = exp.replace(inference=bare)
        out[name] = e.replace(
            likelihood=e.likelihood.replace(sub_model=sub.replace(score=score, laplace=laplace))
        )
    out["full"] = exp
    return out


def time_chunks(exp, bank, chunk: int, n_chunks: int) -> tuple[dict, object]:
    """Compile and steady-state seconds of one chunk; also returns the last chunk drawn."""
    from cigars.experiment import npe_problem
    from cigars.inference import simulate_batch

    simulate_one, prior, _ = npe_problem(exp, bank)
    draw = jax.jit(lambda k: simulate_batch(simulate_one, prior, k, chunk))
    seeds = itertools.count()  # a fresh chunk each call: its fits' passes vary with the draws
    compile_s, _, _ = timed(lambda: jax.block_until_ready(draw(jax.random.key(next(seeds)))), 1)
    s, s_min, sims = timed(
        lambda: jax.block_until_ready(draw(jax.random.key(next(seeds)))), n_chunks
    )
    return {
        "compile_s": compile_s,
        "s_per_chunk": s,
        "s_per_chunk_min": s_min,
        "ms_per_sample": 1e3 * s / chunk,
        "min_per_16384": s / chunk * 16384 / 60,
    }, sims


def profile_laplace(exp, sims) -> dict:
    """Per-sample Laplace fit: passes, time, and its gradient and Hessian costs."""
    from cigars.likelihood import _submodel as sm
    from cigars.likelihood import sn_log_likelihood

    model = sm.sn_model_for(exp)
    prior = sm.submodel_prior(exp)
    data, context, mask = sims.data[..., :6], sims.context, sims.mask
    theta0 = prior.to_array(prior.fixed).astype(data.dtype)

    def log_l(t, d, c, m):
        sn = sm._sn_data(d, c)
        return jnp.sum(jnp.where(m, sn_log_likelihood(model, prior.from_array(t), sn), 0.0))

    def per_sample(fn):
        fn(0)  # compile
        t0 = time.perf_counter()
        out = [fn(i) for i in range(data.shape[0])]
        return out, 1e3 * (time.perf_counter() - t0) / data.shape[0]

    # the simulator's cap on the passes
    cap = inspect.signature(sm.laplace_features).parameters["max_newton"].default
    fit = jax.jit(lambda d, c, m: sm._laplace(model, prior, theta0, d, c, m, cap)[1])
    passes, fit_ms = per_sample(lambda i: int(fit(data[i], context[i], mask[i])))
    res = {"laplace_ms_per_sample": fit_ms, "n_sn_mean": float(np.mean(np.sum(mask, -1)))}
    for name, f in (("grad", jax.grad(log_l)), ("hessian", jax.hessian(log_l))):
        g = jax.jit(f)
        _, res[f"{name}_ms"] = per_sample(
            lambda i, g=g: jax.block_until_ready(g(theta0, data[i], context[i], mask[i]))
        )
    p = np.asarray(passes)
    res["passes_mean"] = float(p.mean())
    pct = [*np.percentile(p, [10, 50, 90]), p.max()]
    res["passes_percentiles_10_50_90_max"] = [round(float(x), 1) for x in pct]
    res["cap"] = cap
    res["at_cap"] = int(np.sum(p >= cap))
    return res


def markdown(res: dict) -> str:
    """The result as a short Markdown report."""
    rows = [
        "| build | compile [s] | s / chunk | ms / sample | min / 16,384 |",
        "|---|---|---|---|---|",
    ]
    for name in ("plain", "score", "full"):
        r = res["builds"][name]
        rows.append(
            f"| {name} | {r['compile_s']:.1f} | {r['s_per_chunk']:.2f} | "
            f"{r['ms_per_sample']:.1f} | {r['min_per_16384']:.1f} |"
        )
    lap = res["laplace"]
    rows += [
        "",
        f"Laplace fit, one sample at a time ({lap['n_sn_mean']:.0f} SNe on average): "
        f"{lap['laplace_ms_per_sample']:.1f} ms per sample, {lap['passes_mean']:.1f} passes "
        f"(10/50/90%/max {'/'.join(f'{x:g}' for x in lap['passes_percentiles_10_50_90_max'])}; "
        f"{lap['at_cap']} at the cap of {lap['cap']}); gradient {lap['grad_ms']:.2f} ms, "
        f"Hessian {lap['hessian_ms']:.2f} ms.",
    ]
    return "\n".join(rows)


def main(argv=None) -> dict:
    from cigars.config import load_experiment
    from cigars.experiment import build_experiment_bank
    from cigars.hosts import load_bank
    from cigars.io import atomic_write_text

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bank", type=Path, help="bank HDF5 (default: build the config's)")
    parser.add_argument("--chunk", type=int, default=64, help="samples per jitted call")
    parser.add_argument("--chunks", type=int, default=3, help="timed chunks per build")
    parser.add_argument("--quick", action="store_true", help="chunks of 16, one timed")
    parser.add_argument("-o", "--output", type=Path, default=HERE / "knownhosts_simulation.json")
    args = parser.parse_args(argv)
    chunk, n_chunks = (16, 1) if args.quick else (args.chunk, args.chunks)

    exp = load_experiment(CONFIG)
    with tempfile.TemporaryDirectory() as tmp:
        bank_path = args.bank
        if bank_path is None:
            bank_path = build_experiment_bank(exp, Path(tmp) / "bank.h5", progress=False)
        bank = load_bank(bank_path)
        res = {"machine": machine(), "chunk": chunk, "builds": {}}
        for name, e in builds(exp).items():
            res["builds"][name], sims = time_chunks(e, bank, chunk, n_chunks)
            if name == "plain":
                plain = sims
            print(f"{name}: {res['builds'][name]['s_per_chunk']:.2f} s per chunk", flush=True)
        res["laplace"] = profile_laplace(exp, plain)
    atomic_write_text(args.output, json.dumps(res, indent=2) + "\n")
    print(markdown(res))
    print(f"written: {args.output}")
    return res


if __name__ == "__main__":
    main()
