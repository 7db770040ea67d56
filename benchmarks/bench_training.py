"""Speed of hierarchical-NPE training: simulations and steps per second, and time to a quality.

Usage: ``python benchmarks/bench_training.py [--quick]`` or a section of ``python -m benchmarks``.

Every step is the jitted ``(state, key) -> (state, metrics)`` program of
:func:`cigars.inference.make_train_step` that draws ``batch_size`` parameter vectors from the
prior, simulates the surveys and takes one AdamW step, with the state donated. Compile time is
measured on its own (ahead-of-time ``lower().compile()``, which the jitted step then reuses);
steady-state rates are the median of ``repeats`` timings of ``n_steps`` consecutive steps
(blocking only at the end). While timing, the loop
runs under ``jax.transfer_guard("disallow")`` (no implicit host-device transfer may happen)
and the jitted step's cache size is checked afterwards (no recompilation across steps).

Three measurements:

* ``toy``: the linear-Gaussian toy (:class:`~cigars.inference.LinearGaussianToy`, 32 objects)
  at a few batch sizes.
* ``time_to_target``: training on the toy until the estimated KL divergence of the global
  posterior, mean over validation surveys of ``log p(theta | X) - log q(theta | X)`` with the
  exact posterior p, falls below ``target_kl`` nats; steps and seconds (step time only,
  evaluations excluded) to get there. The same target defines "equal quality" for the sbi
  comparison (``benchmarks/bench_sbi.py``, a separate section).
* ``cigars``: the CIGaRS simulator inside the step (the quick-start experiment's simulator,
  prior and network on a toy bank of 20,000 galaxies, or ``--bank``), at survey sizes scaled
  from the quick-start's (``n_max`` 1536): simulations and steps per second and the exponent of
  the step time against ``n_max``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import types
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

try:
    from benchmarks._harness import PeakMemory, load, power_law, program_memory
except ModuleNotFoundError:  # as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks._harness import PeakMemory, load, power_law, program_memory

from cigars.inference import (
    EstimatorConfig,
    HierarchicalNPE,
    LinearGaussianToy,
    Statistic,
    TrainingConfig,
    TrainState,
    check_simulator,
    make_optimizer,
    make_train_step,
    simulate_batch,
)

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"


def build_step(
    simulate, prior, shapes, batch_size, estimator, local_bounds=None, seed=0, steps=10_000
):
    """Model, initial train state and the jitted (donating) step for one problem."""
    theta_bounds = (np.asarray(prior.lower, float), np.asarray(prior.upper, float))
    model = nnx.jit(
        lambda: HierarchicalNPE.for_shapes(
            estimator,
            shapes,
            theta_bounds=theta_bounds,
            local_bounds=local_bounds,
            rngs=nnx.Rngs(seed),
        )
    )()
    pilot_fn = jax.jit(lambda k: simulate_batch(simulate, prior, k, batch_size))
    pilot = jax.device_get(pilot_fn(jax.random.key(1)))
    model.fit_statistics(pilot)
    graphdef, params, stats = nnx.split(model, nnx.Param, Statistic)
    cfg = TrainingConfig(steps=steps, batch_size=batch_size, warmup_steps=100)
    tx = make_optimizer(cfg)
    state = TrainState(params=params, stats=stats, opt_state=tx.init(params), step=jnp.int32(0))
    state = jax.tree.map(jnp.copy, state)  # the step donates its input; keep the model's arrays

    def draw(k, _src):
        return simulate_batch(simulate, prior, k, batch_size)

    step = jax.jit(make_train_step(graphdef, tx, cfg, draw), donate_argnums=0)
    return model, graphdef, state, step


def time_steps(step, state, n_steps: int, repeats: int) -> dict[str, Any]:
    """Compile (first call), then the median time of ``n_steps`` steps; checks transfers."""
    key = jax.random.key(0)
    t0 = time.perf_counter()
    compiled = step.lower(state, key, None).compile()  # the jitted step reuses this program
    compile_s = time.perf_counter() - t0
    memory = program_memory(compiled)
    t0 = time.perf_counter()
    state, metrics = step(state, key, None)
    jax.block_until_ready((state, metrics))
    first_step_s = time.perf_counter() - t0
    state, metrics = step(state, key, None)  # warm-up
    jax.block_until_ready((state, metrics))
    times, guard = [], "none"
    try:
        with jax.transfer_guard("disallow"):
            for _ in range(repeats):
                t0 = time.perf_counter()
                for _ in range(n_steps):
                    state, metrics = step(state, key, None)
                jax.block_until_ready((state, metrics))
                times.append(time.perf_counter() - t0)
    except Exception as err:  # a transfer inside the loop: report it, time without the guard
        guard = f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(n_steps):
                state, metrics = step(state, key, None)
            jax.block_until_ready((state, metrics))
            times.append(time.perf_counter() - t0)
    dt = float(np.median(times)) / n_steps
    loss = float(metrics["loss"])
    return {
        "compile_s": compile_s,
        "first_step_s": first_step_s,
        "step_ms": 1e3 * dt,
        "steps_per_s": 1.0 / dt,
        "compilations": int(step._cache_size()),
        "transfers_in_loop": guard,
        "final_loss_finite": bool(np.isfinite(loss)),
        "state": state,
        **memory,
    }


def toy_throughput(batch_sizes, n_steps: int, repeats: int, memory: PeakMemory) -> list[dict]:
    toy = LinearGaussianToy()
    shapes = check_simulator(toy.simulate, toy.prior)
    rows = []
    for b in batch_sizes:
        memory.reset()
        _, _, state, step = build_step(toy.simulate, toy.prior, shapes, b, EstimatorConfig())
        res = time_steps(step, state, n_steps, repeats)
        res.pop("state")
        res.update(batch_size=b, sims_per_s=b * res["steps_per_s"], peak_rss_mib=memory.peak())
        rows.append(res)
        print(
            f"toy batch {b:4d}: compile {res['compile_s']:.1f} s, {res['steps_per_s']:7.1f} "
            f"steps/s, {res['sims_per_s']:8.0f} sims/s",
            flush=True,
        )
    return rows


def exact_kl(model, toy: LinearGaussianToy, val) -> float:
    """Mean over validation surveys of log p(theta | X) - log q(theta | X) [nats]."""

    def one(sim):
        mean, cov = toy.posterior_theta(sim)
        d = sim.theta - mean
        log_p = -0.5 * (
            d @ jnp.linalg.solve(cov, d) + jnp.linalg.slogdet(cov)[1] + 2 * jnp.log(2 * jnp.pi)
        )
        return log_p - model.log_prob_theta(sim.theta, sim.data, sim.mask, sim.context)

    return float(jnp.mean(nnx.jit(lambda m, v: jax.vmap(one)(v))(model, val)))


def time_to_target(
    target_kl: float, max_steps: int, batch_size: int, eval_every: int, n_val: int
) -> dict[str, Any]:
    """Train on the toy until the global-posterior KL estimate is below ``target_kl``."""
    toy = LinearGaussianToy()
    shapes = check_simulator(toy.simulate, toy.prior)
    model, graphdef, state, step = build_step(
        toy.simulate, toy.prior, shapes, batch_size, EstimatorConfig(), steps=max_steps
    )
    val = jax.jit(lambda k: simulate_batch(toy.simulate, toy.prior, k, n_val))(jax.random.key(7))
    key = jax.random.key(0)
    t0 = time.perf_counter()
    step.lower(state, key, None).compile()  # the jitted step reuses this program
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    state, metrics = step(state, key, None)
    jax.block_until_ready(state)
    train_s, steps, history, reached = time.perf_counter() - t0, 1, [], None
    while steps < max_steps:
        t0 = time.perf_counter()
        for _ in range(eval_every):
            state, metrics = step(state, key, None)
        jax.block_until_ready(state)
        train_s += time.perf_counter() - t0
        steps += eval_every
        kl = exact_kl(nnx.merge(graphdef, state.params, state.stats), toy, val)
        history.append({"step": steps, "train_s": train_s, "kl": kl})
        if kl <= target_kl:
            reached = history[-1]
            break
    out = {
        "target_kl_nats": target_kl,
        "batch_size": batch_size,
        "n_val": n_val,
        "eval_every": eval_every,
        "compile_s": compile_s,
        "reached": reached is not None,
        "steps": steps,
        "seconds": train_s,
        "simulations": steps * batch_size,
        "final_kl_nats": history[-1]["kl"] if history else float("nan"),
        "history": history,
    }
    print(
        f"toy time to KL <= {target_kl}: "
        + (
            f"{steps} steps, {train_s:.1f} s ({steps * batch_size} simulations)"
            if reached
            else f"not reached in {steps} steps ({train_s:.1f} s; KL {out['final_kl_nats']:.3f})"
        ),
        flush=True,
    )
    return out


def cigars_problem(hosts, scale: int):
    """The quick-start experiment's NPE problem on ``hosts``, survey size scaled by ``scale``."""
    from cigars.config import load_experiment
    from cigars.experiment import npe_problem
    from cigars.survey import BANK_FIELDS

    exp = load_experiment(QUICKSTART)
    survey = exp.simulator.survey
    survey = dataclasses.replace(
        survey, n_max=survey.n_max * scale, counts=survey.counts * scale * 20_000 / hosts.n_host
    )
    exp = dataclasses.replace(exp, simulator=dataclasses.replace(exp.simulator, survey=survey))
    bank = types.SimpleNamespace(
        **{f: getattr(hosts, f) for f in BANK_FIELDS},
        ln_weight=hosts.ln_weight,
        band_names=tuple(exp.bands.filters),
    )
    simulate, prior, local_bounds = npe_problem(exp, bank)
    return exp, simulate, prior, local_bounds


def cigars_throughput(hosts, scales, n_steps: int, repeats: int, memory: PeakMemory) -> list:
    rows = []
    for scale in scales:
        memory.reset()
        rss_start = memory.current()
        exp, simulate, prior, local_bounds = cigars_problem(hosts, scale)
        shapes = check_simulator(simulate, prior)
        batch = exp.inference.training.batch_size
        _, _, state, step = build_step(
            simulate, prior, shapes, batch, exp.inference.estimator, local_bounds
        )
        pilot = jax.jit(lambda k, f=simulate, p=prior: simulate_batch(f, p, k, 8))
        sims = pilot(jax.random.key(3))
        res = time_steps(step, state, n_steps, repeats)
        res.pop("state")
        res.update(
            scale=scale,
            n_max=shapes["n_max"],
            mean_detected=float(np.mean(np.sum(np.asarray(sims.mask), axis=1))),
            batch_size=batch,
            sims_per_s=batch * res["steps_per_s"],
            peak_rss_mib=memory.peak(),
            rss_growth_mib=memory.peak() - rss_start,
            load_average=load(),
        )
        rows.append(res)
        print(
            f"cigars n_max {shapes['n_max']:6d} (~{res['mean_detected']:.0f} SNe) batch {batch}: "
            f"compile {res['compile_s']:.1f} s, {res['steps_per_s']:.2f} steps/s, "
            f"{res['sims_per_s']:.1f} sims/s",
            flush=True,
        )
    return rows


def run(hosts, *, quick: bool, memory: PeakMemory | None = None) -> dict[str, Any]:
    """The whole training section (see the module docstring)."""
    memory = memory or PeakMemory()
    out: dict[str, Any] = {}
    out["toy"] = toy_throughput([16] if quick else [16, 64, 256], 10 if quick else 30, 3, memory)
    memory.reset()
    out["time_to_target"] = time_to_target(
        target_kl=0.5 if quick else 0.1,
        max_steps=400 if quick else 3000,
        batch_size=16 if quick else 64,
        eval_every=100,
        n_val=256 if quick else 512,
    )
    out["time_to_target"]["peak_rss_mib"] = memory.peak()
    out["cigars"] = cigars_throughput(hosts, [1, 2] if quick else [1, 4, 16], 3, 3, memory)
    rows = out["cigars"]
    out["exponents"] = {
        "cigars_step_time_vs_n_max": power_law(
            [r["n_max"] for r in rows], [r["step_ms"] for r in rows]
        ),
        "cigars_rss_growth_vs_n_max": power_law(
            [r["n_max"] for r in rows], [r["rss_growth_mib"] for r in rows]
        ),
        "cigars_program_memory_vs_n_max": power_law(
            [r["n_max"] for r in rows], [r.get("program_total_mib", 0) for r in rows]
        ),
    }
    return out


def main(quick: bool = False) -> dict:
    from cigars.simulate import toy_host_table

    return run(toy_host_table(20_000, seed=0), quick=quick)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    main(quick=args.quick)
