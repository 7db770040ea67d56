"""NUTS on the spec-z sub-model: wall time of warm-up + 1,000 posterior draws against survey size.

The ``nuts`` section of ``python -m benchmarks`` (:func:`main`), or a script::

    python benchmarks/bench_nuts.py [--quick] [--target 16000]

(the script simulates its own survey of ``--target`` detected SNe the way the simulator
section does). Issue 8 compares the neural posterior's 1,000 joint draws of a 16k-SN survey
(``bench_inference.py``) with NUTS on the spec-z sub-model of the same size; the runner's
ratio is ``seconds_1000_draws`` here over the inference section's seconds.

**The model.** The spec-z sub-model is the SN-only model with every SN's redshifts and host
quantities known: :func:`cigars.likelihood.sn_model` (Tripp + host terms with the x1/c
population and SN dust marginalised, the ln W_mm measurement-variance density, each SN divided
by its detection probability), the ``tripp`` likelihood of
``configs/quickstart-knownhosts.yaml`` (``sn_dust``, ``var_m_model``, ``selection``: true).
``configs/cigars-i-16k.yaml`` has no ``likelihood`` section, so the benchmark builds it
(:func:`experiment`): the config's cosmology and prior; its ``simulator`` section replaced by
the one that drew the survey (``bench_simulator.build``: default LSST survey and SN model,
logistic selection), so that the likelihood is the data's own; the globals are the config's
inferred parameters except the sub-model's fixed ones (``dtd_A``, ``dtd_s``, ``step_loc``:
:func:`cigars.likelihood.submodel_prior`), 10 parameters. Data: the survey's detected SNe with
their true covariates (:func:`cigars.likelihood.sn_data_from_catalogue`), float64 (inside
``jax.enable_x64``, as ``cigars infer --method nuts``). The per-SN selection table
(:func:`cigars.likelihood.selection_grid`) is built once per survey; its time is ``setup_s``,
not counted in the NUTS time (as the neural estimator's training is not counted in its time).

**The sampler.** numpyro NUTS with the library's settings (:func:`cigars.likelihood.run_nuts`
and :class:`~cigars.likelihood.SamplerConfig` defaults: target acceptance 0.8, maximum tree
depth 10, dense mass matrix, ``init_to_median``), one chain, ``num_warmup`` = 500 (the
``run_nuts`` default) then 1,000 draws. Warm-up (``mcmc.warmup``) and sampling (``mcmc.run``)
are timed apart. Compile time is the union of JAX's tracing, lowering and XLA-compile spans
(``jax.monitoring`` events) during each phase, subtracted from its wall time: ``warmup_s`` and
``sampling_s`` exclude compilation, ``compile_s`` is their sum (numpyro compiles the warm-up
and the sampling loop separately). Leapfrog steps per iteration come from numpyro's
``num_steps`` field, the effective sample size of each parameter from
:func:`numpyro.diagnostics.effective_sample_size` over the kept draws (``ess_min``: the
smallest), so ``seconds_per_effective_draw`` compares per independent draw too.

**Scaling.** On a shared 2-core CPU a 1,600-SN chain takes 18-35 leapfrog steps (gradients) per
draw after a 100-200 iteration warm-up, at 17-27 ms each, and one gradient of the 16k-SN
likelihood 0.27-0.35 s (depending on the machine's load), so full-length runs take from tens
of minutes (1.6k) to hours (16k). So the cost is measured as (leapfrog steps) x (seconds per
leapfrog step):

* one NUTS chain at the smallest size (1,600 SNe; ``chain``: ``num_warmup_run`` +
  ``num_samples_run`` iterations, 200 + 100 by default, 100 + 100 with ``quick``) gives the
  leapfrog steps of each phase, the seconds per step inside NUTS and the ESS per draw;
* the leapfrog steps of a full-length run are those of the chain scaled per iteration of each
  phase (warm-up steps x 500 / ``num_warmup_run``, sampling steps x 1,000 /
  ``num_samples_run``: ``leapfrog_1000_draws``; early warm-up iterations are the longest, so
  a short warm-up scaled up overestimates the warm-up's steps, and a shorter adaptation
  leaves a smaller step size, more steps per draw: a 100 + 100 chain at 1,600 SNe gave 74k
  steps, a 200 + 100 chain 45k; a full-length chain, ``--chain 1600 500 1000``, removes this
  extrapolation). They are assumed independent of N: after dense-mass adaptation the
  posterior's shape, not its size, sets the steps per draw;
* the seconds per leapfrog step at every size (1,600, 5,000 and all SNe: random subsets of
  the survey) are the median time of the jitted potential-energy gradient (numpyro's
  ``potential_fn`` of the model; AOT-compiled, compile timed apart) plus NUTS's own work per
  step (tree building, the 10 x 10 mass matrix; independent of N): the in-chain seconds per
  step less the gradient's at the chain's size (``leapfrog_overhead_ms``);
* ``seconds_1000_draws`` = steps x seconds per step, ``scaled: true``; with a chain of
  500 + 1,000 at a size, that size's value is the measured ``warmup_s + sampling_s``
  (``scaled: false``). ``seconds_1000_draws_with_compile`` adds the NUTS compile time measured
  at the chain's size (XLA compile time barely depends on the array sizes: see the gradient's
  ``grad_compile_s`` per size). ``seconds_per_effective_draw`` divides by the ESS of 1,000
  draws (the chain's smallest ESS per draw x 1,000).

Exponents: power laws of the costs against N (``power_law``).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np

try:  # as part of the ``benchmarks`` package (python -m benchmarks)
    from benchmarks._harness import PeakMemory, load, power_law, program_memory, timed
except ModuleNotFoundError:  # as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks._harness import PeakMemory, load, power_law, program_memory, timed

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = "configs/cigars-i-16k.yaml"
NUM_WARMUP = 500
NUM_DRAWS = 1000
SIZES = (1600, 5000, None)  # random subsets of the survey; None: all of it
CHAIN = (1600, 200, 100)  # (SNe, warm-up iterations, draws) of the measured chain
QUICK_CHAIN = (1600, 100, 100)
_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)
# Catalogue fields read by cigars.likelihood.sn_data_from_catalogue.
_FIELDS = (
    "z_cos",
    "z_hel",
    "logmass",
    "progenitor_logzsol",
    "age_gyr",
    "dust2",
    "m_obs",
    "x1_obs",
    "c_obs",
    "var_m",
    "var_x1",
    "var_c",
)


def experiment(config: str | Path = EXPERIMENT):
    """The experiment of ``config`` with the survey's simulator and a ``tripp`` likelihood.

    The simulator section is the one ``bench_simulator.build`` draws the benchmark surveys
    with (default LSST survey and SN model, logistic selection); the likelihood section is
    that of ``configs/quickstart-knownhosts.yaml`` without its neural-training ``sub_model``
    (whose default ``fixed`` list still applies), one chain of 500 + 1,000.
    """
    from cigars.config import load_experiment
    from cigars.likelihood import SamplerConfig, TrippLikelihoodConfig
    from cigars.simulate import SimulatorConfig
    from cigars.survey import LogisticSelectionConfig, LSSTSurveyConfig

    path = Path(config)
    if not path.is_absolute() and not path.exists():
        path = ROOT / path
    exp = load_experiment(path)
    sim = SimulatorConfig(survey=LSSTSurveyConfig(n_max=1), selection=LogisticSelectionConfig())
    lik = TrippLikelihoodConfig(
        sn_dust=True,
        var_m_model=True,
        selection=True,
        sampler=SamplerConfig(num_warmup=NUM_WARMUP, num_samples=NUM_DRAWS, num_chains=1),
    )
    return exp.replace(simulator=sim, likelihood=lik)


def survey_rows(catalogue) -> dict[str, np.ndarray]:
    """The detected SNe's likelihood columns (a Catalogue, or a mapping of such columns)."""
    if hasattr(catalogue, "to_numpy"):
        return catalogue.to_numpy(_FIELDS)
    return {f: np.asarray(catalogue[f]) for f in _FIELDS}


def subset(rows: Mapping[str, np.ndarray], n: int | None, seed: int) -> dict[str, np.ndarray]:
    """A random subset of ``n`` rows (all rows when ``n`` is None or not smaller)."""
    total = len(rows["z_cos"])
    if n is None or n >= total:
        return dict(rows)
    keep = np.sort(np.random.default_rng(seed).choice(total, n, replace=False))
    return {k: v[keep] for k, v in rows.items()}


class CompileClock:
    """Seconds JAX spent tracing, lowering and compiling inside a ``with`` block.

    The union of the time spans of JAX's compile events (nested spans count once).
    """

    def __enter__(self) -> CompileClock:
        self.spans: list[tuple[float, float]] = []
        jax.monitoring.register_event_time_span_listener(self._listen)
        return self

    def _listen(self, event: str, start: float, end: float, **kwargs) -> None:
        if event in _COMPILE_EVENTS:
            self.spans.append((start, end))

    def __exit__(self, *exc) -> None:
        jax.monitoring.unregister_event_time_span_listener(self._listen)

    def seconds(self) -> float:
        total, reach = 0.0, -math.inf
        for start, end in sorted(self.spans):
            if end > reach:
                total += end - max(start, reach)
                reach = end
        return total


def problem(exp, rows: Mapping[str, np.ndarray]):
    """``(model_args, setup_s)``: :func:`cigars.likelihood.sn_model`'s arguments (float64).

    Call inside ``jax.enable_x64(True)``.
    """
    from cigars.likelihood import (
        selection_grid,
        sn_data_from_catalogue,
        sn_model_for,
        submodel_prior,
    )

    t0 = time.perf_counter()
    data = sn_data_from_catalogue(rows)
    model = sn_model_for(exp)
    grid = jax.block_until_ready(selection_grid(exp.simulator.selection.build(), model, data))
    return (model, submodel_prior(exp), data, grid), time.perf_counter() - t0


def run_chain(key, exp, model_args, num_warmup: int, num_samples: int) -> dict[str, Any]:
    """One NUTS chain of ``num_warmup`` + ``num_samples``, phases timed apart (see the docstring).

    Call inside ``jax.enable_x64(True)``.
    """
    from numpyro.diagnostics import effective_sample_size
    from numpyro.infer import MCMC, NUTS, init_to_median

    from cigars.likelihood import sn_model

    s = exp.likelihood.sampler
    kernel = NUTS(
        sn_model,
        target_accept_prob=s.target_accept,
        max_tree_depth=s.max_tree_depth,
        dense_mass=s.dense_mass,
        init_strategy=init_to_median(num_samples=15),
    )
    mcmc = MCMC(
        kernel,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=1,
        progress_bar=False,
    )
    fields = ("num_steps", "diverging")
    k_warm, k_run = jax.random.split(key)
    with CompileClock() as clock:
        t0 = time.perf_counter()
        mcmc.warmup(k_warm, *model_args, extra_fields=fields, collect_warmup=True)
        jax.block_until_ready(mcmc.post_warmup_state)
        warm_wall = time.perf_counter() - t0
    warm_compile = clock.seconds()
    warm_steps = np.asarray(mcmc.get_extra_fields()["num_steps"])
    with CompileClock() as clock:
        t0 = time.perf_counter()
        mcmc.run(k_run, *model_args, extra_fields=fields)
        jax.block_until_ready((mcmc.get_samples(), mcmc.last_state))
        run_wall = time.perf_counter() - t0
    run_compile = clock.seconds()
    extra = mcmc.get_extra_fields()
    steps = np.asarray(extra["num_steps"])
    samples = {k: np.asarray(v, np.float64) for k, v in mcmc.get_samples().items()}
    ess = {k: float(effective_sample_size(v[None])) for k, v in samples.items()}
    finite = all(np.all(np.isfinite(v)) for v in samples.values())
    warmup_s, sampling_s = warm_wall - warm_compile, run_wall - run_compile
    return {
        "num_warmup_run": num_warmup,
        "num_samples_run": num_samples,
        "warmup_s": warmup_s,
        "sampling_s": sampling_s,
        "compile_s": warm_compile + run_compile,
        "warmup_leapfrog": int(warm_steps.sum()),
        "sampling_leapfrog": int(steps.sum()),
        "leapfrog_per_draw": float(steps.mean()),
        "max_tree_depth_hits": int(np.sum(steps >= 2**s.max_tree_depth - 1)),
        "divergences": int(np.asarray(extra["diverging"]).sum()),
        "step_size": float(np.asarray(mcmc.last_state.adapt_state.step_size)),
        "ms_per_leapfrog": 1e3
        * (warmup_s + sampling_s)
        / max(1, int(warm_steps.sum() + steps.sum())),
        "ess": ess,
        "ess_min": min(ess.values()),
        "ess_min_parameter": min(ess, key=ess.get),
        "posterior_mean": {k: float(v.mean()) for k, v in samples.items()},
        "posterior_sd": {k: float(v.std()) for k, v in samples.items()},
        "finite": bool(finite),
    }


def gradient_cost(key, model_args, repeats: int) -> dict[str, Any]:
    """The jitted gradient of the model's potential energy: one leapfrog step's likelihood work.

    Evaluated at the ``init_to_median`` point (its cost does not depend on the point).
    Call inside ``jax.enable_x64(True)``.
    """
    from numpyro.infer import init_to_median
    from numpyro.infer.util import initialize_model

    from cigars.likelihood import sn_model

    info = initialize_model(
        key, sn_model, model_args=model_args, init_strategy=init_to_median(num_samples=15)
    )
    z = info.param_info.z
    t0 = time.perf_counter()
    compiled = jax.jit(jax.value_and_grad(info.potential_fn)).lower(z).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(z))
    med, best, (value, grad) = timed(lambda: jax.block_until_ready(compiled(z)), repeats)
    leaves = [np.asarray(value), *(np.asarray(g) for g in jax.tree_util.tree_leaves(grad))]
    return {
        "grad_ms": 1e3 * med,
        "grad_ms_min": 1e3 * best,
        "grad_repeats": repeats,
        "grad_compile_s": compile_s,
        "grad_finite": bool(all(np.all(np.isfinite(v)) for v in leaves)),
        **program_memory(compiled),
    }


def run(
    catalogue,
    *,
    chain: tuple[int, int, int] = CHAIN,
    sizes=SIZES,
    config: str | Path = EXPERIMENT,
    seed: int = 0,
    memory: PeakMemory | None = None,
    verbose: bool = True,
) -> dict[str, Any]:
    """Measure NUTS on random subsets of ``catalogue``'s detected SNe; see the module docstring.

    Args:
        catalogue: the survey (a Catalogue, or a mapping of the likelihood's columns).
        chain: ``(SNe, warm-up iterations, draws)`` of the measured NUTS chain.
        sizes: survey sizes whose gradient cost is measured (``None``: all SNe); the chain's
            size is added.
        config: the experiment YAML (cosmology and prior).
        seed: seed of the subsets and the chain.
        memory: the peak-memory tracker.
        verbose: print a line per size.

    Returns:
        The largest size's numbers at the top level, ``sizes`` (a row per size), ``chain``
        (the chain's record) and ``exponents``.
    """
    memory = memory or PeakMemory()
    say = print if verbose else (lambda *a, **k: None)
    exp = experiment(config)
    rows_all = survey_rows(catalogue)
    n_total = len(rows_all["z_cos"])
    n_chain, num_warmup, num_samples = chain

    def clip(n):
        return n_total if n is None else min(int(n), n_total)

    n_chain = clip(n_chain)
    key = jax.random.key(seed)
    rows_out, record = [], None
    for i, n in enumerate(sorted({clip(n) for n in sizes} | {n_chain})):
        memory.reset()
        rss_start, load_start = memory.current(), load()
        rows = subset(rows_all, n, seed + i)
        row: dict[str, Any] = {"n_sn": n}
        with jax.enable_x64(True):
            args, row["setup_s"] = problem(exp, rows)
            if n == n_chain:
                k_chain = jax.random.fold_in(key, 0)
                record = run_chain(k_chain, exp, args, num_warmup, num_samples)
                record["n_sn"] = n
                say(
                    f"NUTS chain, {n} SNe: warm-up {num_warmup} in {record['warmup_s']:.1f} s "
                    f"({record['warmup_leapfrog']} leapfrog steps), {num_samples} draws in "
                    f"{record['sampling_s']:.1f} s ({record['leapfrog_per_draw']:.1f} steps / "
                    f"draw), compile {record['compile_s']:.1f} s, "
                    f"{record['ms_per_leapfrog']:.1f} ms / step, ESS min "
                    f"{record['ess_min']:.0f} ({record['ess_min_parameter']}), "
                    f"{record['divergences']} divergences",
                    flush=True,
                )
            repeats = max(5, min(30, 40_000 // max(n, 1)))
            row.update(gradient_cost(jax.random.fold_in(key, 1 + i), args, repeats))
        del args
        row["peak_rss_mib"] = memory.peak()
        row["rss_growth_mib"] = row["peak_rss_mib"] - rss_start
        row["load_average"] = max(load_start, load())
        rows_out.append(row)
        say(
            f"gradient, {n} SNe: {row['grad_ms']:.1f} ms (compile {row['grad_compile_s']:.1f} s, "
            f"setup {row['setup_s']:.1f} s, peak RSS {row['peak_rss_mib']:.0f} MiB)",
            flush=True,
        )

    # Leapfrog steps of warm-up + 1,000 draws, and ESS of 1,000 draws, from the chain.
    steps_warmup = record["warmup_leapfrog"] * NUM_WARMUP / num_warmup
    steps_draws = record["sampling_leapfrog"] * NUM_DRAWS / num_samples
    steps = steps_warmup + steps_draws
    ess_1000 = record["ess_min"] * NUM_DRAWS / num_samples
    at_chain = next(r for r in rows_out if r["n_sn"] == n_chain)
    overhead_ms = record["ms_per_leapfrog"] - at_chain["grad_ms"]
    full_length = num_warmup >= NUM_WARMUP and num_samples >= NUM_DRAWS
    for row in rows_out:
        measured = row is at_chain
        row["ms_per_leapfrog"] = (
            record["ms_per_leapfrog"] if measured else row["grad_ms"] + overhead_ms
        )
        if measured and full_length:
            row["seconds_1000_draws"] = (
                record["warmup_s"] + record["sampling_s"] * NUM_DRAWS / num_samples
            )
            row["scaled"] = False
        else:
            row["seconds_1000_draws"] = 1e-3 * row["ms_per_leapfrog"] * steps
            row["scaled"] = True
        row["seconds_1000_draws_with_compile"] = row["seconds_1000_draws"] + record["compile_s"]
        row["seconds_per_effective_draw"] = (
            row["seconds_1000_draws"] / ess_1000 if ess_1000 > 0 else math.nan
        )
    n = [r["n_sn"] for r in rows_out]
    exponents = {
        f"{key}_vs_n_sn": power_law(n, [r[key] for r in rows_out])
        for key in ("seconds_1000_draws", "grad_ms", "setup_s", "rss_growth_mib")
    }
    exponents["program_memory_vs_n_sn"] = power_law(
        n, [r.get("program_total_mib", math.nan) for r in rows_out]
    )
    big = rows_out[-1]
    return {
        # The whole survey's numbers first: the runner compares them with the neural posterior.
        "n_sn": big["n_sn"],
        "seconds_1000_draws": big["seconds_1000_draws"],
        "seconds_1000_draws_with_compile": big["seconds_1000_draws_with_compile"],
        "scaled": big["scaled"],
        "seconds_1000_effective_draws": 1e3 * big["seconds_per_effective_draw"],
        "ms_per_leapfrog": big["ms_per_leapfrog"],
        "grad_ms": big["grad_ms"],
        "grad_compile_s": big["grad_compile_s"],
        "setup_s": big["setup_s"],
        "num_warmup": NUM_WARMUP,
        "num_draws": NUM_DRAWS,
        "leapfrog_1000_draws": steps,
        "leapfrog_warmup": steps_warmup,
        "ess_min_1000_draws": ess_1000,
        "chain_n_sn": n_chain,
        "chain_num_warmup": num_warmup,
        "chain_num_samples": num_samples,
        "chain_warmup_s": record["warmup_s"],
        "chain_sampling_s": record["sampling_s"],
        "chain_compile_s": record["compile_s"],
        "chain_leapfrog_per_draw": record["leapfrog_per_draw"],
        "chain_ess_min": record["ess_min"],
        "chain_ess_min_parameter": record["ess_min_parameter"],
        "chain_divergences": record["divergences"],
        "chain_finite": record["finite"],
        "leapfrog_overhead_ms": overhead_ms,
        "n_parameters": len(record["ess"]),
        "precision": "float64",
        "model": (
            "cigars.likelihood.sn_model, tripp likelihood (sn_dust, var_m_model, selection), "
            "known redshifts and hosts; simulator of bench_simulator.build (logistic selection)"
        ),
        "sizes": rows_out,
        "chain": record,
        "exponents": exponents,
        "peak_rss_mib": max(r["peak_rss_mib"] for r in rows_out),
    }


def main(quick: bool = False, reference: dict | None = None) -> dict[str, Any]:
    """The runner's entry point: NUTS on ``reference["catalogue"]`` (the 16k survey).

    Args:
        quick: the smallest size only (1,600 SNe), a chain of 100 + 100 (scaled).
        reference: ``{"catalogue", "n_sn", "config"}`` from ``python -m benchmarks``; without
            one, a survey of 16,000 detected SNe is simulated as the simulator section does.

    Returns:
        ``{"seconds_1000_draws", ...}`` (see :func:`run`).
    """
    reference = dict(reference or {})
    catalogue = reference.get("catalogue")
    if catalogue is None:
        catalogue = simulate_survey(16000)
    out = run(
        catalogue,
        chain=QUICK_CHAIN if quick else CHAIN,
        sizes=QUICK_CHAIN[:1] if quick else SIZES,
        config=reference.get("config", EXPERIMENT),
    )
    out["quick"] = quick
    return out


def simulate_survey(target: int, n_host: int = 1_000_000, prune: float = 0.7):
    """A survey of about ``target`` detected SNe, built as ``bench_simulator.run`` builds it."""
    import jax.numpy as jnp

    from benchmarks import bench_simulator as bs
    from cigars.simulate import Theta
    from cigars.simulate._simulator import _as_theta, _simulate

    hosts, _ = bs.load_hosts(None, n_host)
    theta = _as_theta(jax.tree_util.tree_map(jnp.float32, Theta()))
    pilot = bs.build(hosts, 1000.0, 20 * hosts.n_host // 1000 + 1000, prune)
    _, cat = _simulate(pilot, jax.random.key(0), theta)
    counts = target / (int(cat.n_detected) / 1000.0)
    n_max = int(1.25 * int(cat.n_sn_total) / 1000.0 * counts) + 64
    _, cat = _simulate(bs.build(hosts, counts, n_max, prune), jax.random.key(1), theta)
    return cat


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--target", type=int, default=16000, help="detected SNe of the survey")
    parser.add_argument(
        "--chain",
        type=int,
        nargs=3,
        metavar=("SNE", "WARMUP", "DRAWS"),
        help=f"the measured chain (default {CHAIN}; 1600 500 1000: unscaled)",
    )
    args = parser.parse_args()
    cat = simulate_survey(args.target)
    if args.chain:
        run(cat, chain=tuple(args.chain), sizes=(args.chain[0],) if args.quick else SIZES)
    else:
        main(args.quick, {"catalogue": cat})
