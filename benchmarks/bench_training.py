"""Speed of the hierarchical-NPE train step on the linear-Gaussian toy (this machine's devices).

For a few batch sizes: the jitted step ``(state, key) -> (state, metrics)`` that draws
``batch_size`` parameter vectors from the prior, simulates the surveys (``n_max = 32`` objects
each) and takes one AdamW step, all in one XLA program with the state donated. Reported: the
compile time, steps per second and simulations (surveys) per second, each the median of
``repeats`` timings of ``n_steps`` consecutive steps (blocking only at the end), after a warm-up.
Also the time to draw 1,000 joint posterior samples for one survey (globals + 32 locals).

The network is the default :class:`~cigars.inference.EstimatorConfig` (embedding 64, flows of
4 coupling layers, width 128, 8 spline bins).

Usage: ``python benchmarks/bench_training.py [--quick] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from cigars.inference import (
    EstimatorConfig,
    HierarchicalNPE,
    LinearGaussianToy,
    Statistic,
    TrainingConfig,
    TrainState,
    fit_standardization,
    make_optimizer,
    make_train_step,
    sample_posterior,
    simulate_batch,
)


def _setup(toy, batch_size, estimator):
    model = nnx.jit(
        lambda: HierarchicalNPE(
            estimator, n_theta=2, n_local=1, n_feat=2, n_ctx=1, rngs=nnx.Rngs(0)
        )
    )()
    pilot = jax.jit(lambda k: simulate_batch(toy.simulate, toy.prior, k, 512))(jax.random.key(1))
    model.set_statistics(fit_standardization(pilot, model.theta_transform, model.local_transform))
    graphdef, params, stats = nnx.split(model, nnx.Param, Statistic)
    cfg = TrainingConfig(steps=10_000, batch_size=batch_size, warmup_steps=100)
    tx = make_optimizer(cfg)
    state = TrainState(params=params, stats=stats, opt_state=tx.init(params), step=jnp.int32(0))
    state = jax.tree.map(jnp.copy, state)  # the step donates its input; keep the model's arrays

    def draw(k, _src):
        return simulate_batch(toy.simulate, toy.prior, k, batch_size)

    step = jax.jit(make_train_step(graphdef, tx, cfg, draw), donate_argnums=0)
    return model, state, step


def _time_steps(step, state, key, n_steps, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n_steps):
            state, metrics = step(state, key, None)
        jax.block_until_ready((state, metrics))
        times.append(time.perf_counter() - t0)
    return state, float(np.median(times))


def main(quick: bool = False, repeats: int = 3) -> dict:
    toy = LinearGaussianToy()
    estimator = EstimatorConfig()
    batch_sizes = [16, 64] if quick else [16, 64, 256]
    n_steps = 10 if quick else 30
    key = jax.random.key(0)
    out: dict = {"device": str(jax.devices()[0]), "n_devices": len(jax.devices()), "n_max": 32}
    model = None
    for b in batch_sizes:
        model, state, step = _setup(toy, b, estimator)
        t0 = time.perf_counter()
        compiled = step.lower(state, key, None).compile()
        out[f"compile_s_batch{b}"] = time.perf_counter() - t0
        state, _ = compiled(state, key, None)  # warm-up
        state, dt = _time_steps(compiled, state, key, n_steps, repeats)
        out[f"steps_per_s_batch{b}"] = n_steps / dt
        out[f"sims_per_s_batch{b}"] = n_steps * b / dt
        print(
            f"batch {b:4d}: {n_steps / dt:8.1f} steps/s  {n_steps * b / dt:9.0f} sims/s", flush=True
        )
    sim = toy.simulate(jax.random.key(2), jnp.array([0.3, -0.2]))
    draw = lambda k: sample_posterior(model, k, sim.data, sim.mask, sim.context, 1000)  # noqa: E731
    jax.block_until_ready(draw(jax.random.key(3)))
    t0 = time.perf_counter()
    for i in range(repeats):
        jax.block_until_ready(draw(jax.random.key(4 + i)))
    out["posterior_1000_draws_s"] = (time.perf_counter() - t0) / repeats
    print(f"1000 joint posterior draws: {out['posterior_1000_draws_s'] * 1e3:.1f} ms")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for k, v in main(quick=args.quick, repeats=args.repeats).items():
        print(f"{k}: {v}")
