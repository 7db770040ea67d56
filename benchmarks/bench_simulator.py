"""Speed of one simulated survey: the JAX simulator vs plain-NumPy implementations of its stages.

Usage::

    python benchmarks/bench_simulator.py [--n-host 1000000] [--repeats 7]
        [--targets 1600 16000 160000] [--prune 0.7] [--batch 0] [--skip-numpy] [--quick]

or through the harness, ``python -m benchmarks --only simulator`` (``main(quick)``).

A toy bank (``cigars.simulate.toy_host_table``, 6 bands) of ``n_host`` galaxies; for each
target number of *detected* SNe the survey-size label ``counts`` is calibrated on a pilot run
and ``n_max`` set to 1.25x the pilot's total (pre-selection) SN count. ``--prune f`` drops
bank galaxies no cosmology with D_M >= f D_M(reference) can detect (default 0.7, which covers
the CIGaRS-I prior). Reported per target: the median (and min) wall time per survey after
compilation of ``cigars.simulate.simulate`` (one ``jit``), its compile time, and two NumPy
baselines from ``numpy_simulator.py`` with their ratios NumPy / JAX:

* ``np_fast``: the same algorithmic shortcuts (per-bank precomputation, the same pruned
  galaxies, tabulated distances, O(n_host) categorical sampling): the ratio measures the engine;
* ``np_direct``: the direct transcription of the model over the whole bank (every galaxy's six
  magnitudes and seven bin rates per simulation, a categorical over all (galaxy, bin) pairs):
  the ratio measures engine plus algorithms.

``--batch B`` also times ``simulate_batch`` (one jit around one vmap) per survey.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

try:  # as part of the ``benchmarks`` package (python -m benchmarks)
    from benchmarks.numpy_simulator import NumpySimulator
except ModuleNotFoundError:  # as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from numpy_simulator import NumpySimulator

from cigars.simulate import (
    GlobalPrior,
    SimulatorConfig,
    Theta,
    simulate,
    simulate_batch,
    toy_host_table,
)
from cigars.sn import survey_scale
from cigars.survey import LogisticSelectionConfig, LSSTSurveyConfig


def _timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), float(np.min(times)), out


def _build(hosts, counts, n_max, prune):
    cfg = SimulatorConfig(
        survey=LSSTSurveyConfig(n_max=int(n_max), counts=float(counts), prune_dm_ratio=prune),
        selection=LogisticSelectionConfig(),
    )
    return cfg.build(hosts)


def run(
    n_host=1_000_000,
    repeats=7,
    targets=(1600, 16000, 160000),
    prune=0.7,
    batch=0,
    skip_numpy=False,
) -> dict:
    """Run the benchmark, print a table and return the numbers (times in ms)."""
    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    results: dict = {"n_host": n_host, "prune_dm_ratio": prune, "dtype": "float32"}
    t0 = time.perf_counter()
    hosts = toy_host_table(n_host, seed=0)
    print(f"toy bank: {n_host} galaxies x {hosts.n_band} bands ({time.perf_counter() - t0:.1f} s)")
    theta = jax.tree_util.tree_map(jnp.float32, Theta())

    pilot = _build(hosts, 1000.0, 20 * n_host // 1000 + 1000, prune)
    results["galaxies_per_simulation"] = pilot.stages[2].hosts.n_host
    _, cat = simulate(pilot, jax.random.key(0), theta)
    det_per_count = int(cat.n_detected) / 1000.0
    tot_per_count = int(cat.n_sn_total) / 1000.0
    print(
        f"galaxies per simulation: {results['galaxies_per_simulation']}; pilot (counts=1000): "
        f"{int(cat.n_detected)} detected of {int(cat.n_sn_total)} SNe"
    )
    print(
        f"{'target':>8} {'counts':>8} {'n_max':>7} {'N_det':>7} {'compile_s':>9} {'jax_ms':>8} "
        f"{'jax_min':>8} {'np_fast':>8} {'ratio':>6} {'np_direct':>9} {'ratio':>6}"
    )
    for target in targets:
        counts = target / det_per_count
        n_max = int(1.25 * tot_per_count * counts) + 64
        sim = _build(hosts, counts, n_max, prune)
        t_c = time.perf_counter()
        jax.block_until_ready(simulate(sim, jax.random.key(1), theta))
        compile_s = time.perf_counter() - t_c
        keys = iter(jax.random.split(jax.random.key(2), repeats))
        jax_med, jax_min, (_, cat) = _timed(
            lambda sim=sim, keys=keys: jax.block_until_ready(simulate(sim, next(keys), theta)),
            repeats,
        )
        n_det = int(cat.n_detected)
        np_fast = np_direct = float("nan")
        if not skip_numpy:
            kappa = survey_scale(counts, hosts.n_host)
            for direct in (False, True):
                table = hosts if direct else sim.stages[2].hosts
                npsim = NumpySimulator(table, kappa, n_max, direct=direct)
                rng = np.random.default_rng(3)
                med, _, res = _timed(
                    lambda npsim=npsim, rng=rng: npsim.simulate(rng, Theta()), max(3, repeats // 2)
                )
                assert abs(len(res["m_obs"]) - n_det) < 6 * np.sqrt(n_det) + 10, "NumPy != JAX"
                np_fast, np_direct = (np_fast, med) if direct else (med, np_direct)
        print(
            f"{target:8d} {counts:8.0f} {n_max:7d} {n_det:7d} {compile_s:9.1f} "
            f"{1e3 * jax_med:8.1f} {1e3 * jax_min:8.1f} {1e3 * np_fast:8.1f} "
            f"{np_fast / jax_med:6.1f} {1e3 * np_direct:9.1f} {np_direct / jax_med:6.1f}"
        )
        row = {
            "n_max": n_max,
            "n_detected": n_det,
            "compile_s": compile_s,
            "jax_ms": 1e3 * jax_med,
            "jax_min_ms": 1e3 * jax_min,
            "numpy_fast_ms": 1e3 * np_fast,
            "numpy_direct_ms": 1e3 * np_direct,
            "ratio_fast": np_fast / jax_med,
            "ratio_direct": np_direct / jax_med,
        }
        if batch:
            prior = GlobalPrior.from_mapping({"Om0": {"uniform": [0.25, 0.35]}})
            thetas = prior.sample(jax.random.key(4), (batch,))
            bkeys = jax.random.split(jax.random.key(5), batch)
            jax.block_until_ready(simulate_batch(sim, bkeys, thetas))
            b_med, _, _ = _timed(
                lambda sim=sim, bkeys=bkeys, thetas=thetas: jax.block_until_ready(
                    simulate_batch(sim, bkeys, thetas)
                ),
                max(3, repeats // 2),
            )
            row["batch_ms_per_survey"] = 1e3 * b_med / batch
            print(f"{'':8} batch of {batch}: {1e3 * b_med / batch:.1f} ms per survey")
        results.update({f"{target} SNe | {k}": v for k, v in row.items()})
    return results


def main(quick: bool = False) -> dict:
    """Harness entry point (``python -m benchmarks``): the full run, or a 5x smaller bank."""
    if quick:
        return run(n_host=200_000, repeats=3, targets=(1600, 16000))
    return run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-host", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--targets", type=int, nargs="+", default=[1600, 16000, 160000])
    parser.add_argument("--prune", type=float, default=0.7, help="prune_dm_ratio (0 = off)")
    parser.add_argument("--batch", type=int, default=0)
    parser.add_argument("--skip-numpy", action="store_true")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        main(quick=True)
    else:
        run(args.n_host, args.repeats, args.targets, args.prune, args.batch, args.skip_numpy)
