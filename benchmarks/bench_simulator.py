"""Speed of one simulated survey: the JAX simulator vs NumPy, and vs the memory-bandwidth floor.

Usage::

    python benchmarks/bench_simulator.py [--n-host 1000000] [--bank BANK.h5] [--repeats 7]
        [--targets 1600 16000 160000] [--prune 0.7] [--batch 8] [--skip-numpy] [--quick]

or as a section of ``python -m benchmarks`` (:func:`section`).

The bank: a toy bank (``cigars.simulate.toy_host_table``, 6 bands) of ``n_host`` galaxies, or
a real one (``--bank``). For each target number of *detected* SNe the survey-size label
``counts`` is calibrated on a pilot run and ``n_max`` set to 1.25x the pilot's total
(pre-selection) SN count. ``--prune f`` drops bank galaxies no cosmology with
D_M >= f D_M(reference) can detect (default 0.7, which covers the CIGaRS-I prior). Logistic
SN selection (the NumPy port has the same). Reported per target:

* the compile time of ``cigars.simulate.simulate`` (ahead-of-time ``lower().compile()``) and
  the median (and min) wall time per survey after it, as surveys per second (over at least
  ``repeats`` surveys and about one second of them, at most 50, after half as many untimed
  ones: a process's first 10-30 surveys run 2-3x slower);
* two NumPy baselines from ``numpy_simulator.py`` and the ratios NumPy / JAX: ``np_fast`` uses
  the same algorithmic shortcuts (per-bank precomputation, the same pruned galaxies, tabulated
  distances, O(n_host) categorical sampling), so its ratio measures the engine; ``np_direct``
  is the direct transcription of the model over the whole bank (every galaxy's magnitudes and
  bin rates per simulation, a categorical over all (galaxy, bin) pairs);
* the bandwidth floor: the bytes of the bank one survey must read (:func:`survey_read_bytes`)
  divided by the device's copy bandwidth, and the ratio of the measured time to it;
* the random-number floor: the random words one survey draws (every ``random_bits`` call of
  its program, :func:`random_words`) and the time to draw just those words with the same
  generators (:func:`rng_floor`), next to NumPy's default generator (PCG64) drawing as many;
  the survey cannot be faster than its random numbers;
* ``batch`` surveys in one vmapped call (as training simulates them), per survey, and the
  speed-up over one at a time: on an accelerator one survey is too little work and the
  single-survey time measures kernel launches;
* the peak resident memory while simulating at that size;
* power-law exponents of time and memory against the number of detected SNe.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

try:  # as part of the ``benchmarks`` package (python -m benchmarks)
    from benchmarks._harness import (
        PeakMemory,
        copy_bandwidth,
        load,
        power_law,
        program_memory,
        timed,
    )
    from benchmarks.numpy_simulator import NumpySimulator
except ModuleNotFoundError:  # as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks._harness import (
        PeakMemory,
        copy_bandwidth,
        load,
        power_law,
        program_memory,
        timed,
    )
    from benchmarks.numpy_simulator import NumpySimulator

from cigars.simulate import SimulatorConfig, Theta, toy_host_table
from cigars.simulate._simulator import _as_theta, _simulate
from cigars.sn import AssignSupernovae, survey_scale
from cigars.survey import DetectHosts, LogisticSelectionConfig, LSSTSurveyConfig

TARGETS = (1600, 16000, 160000)
_ROW_COLUMNS = ("z", "logmass", "logzsol", "dust2", "dust_index", "dust_ratio")


def build(hosts, counts: float, n_max: int, prune: float):
    """The simulator over ``hosts`` with this survey size (logistic selection)."""
    cfg = SimulatorConfig(
        survey=LSSTSurveyConfig(n_max=int(n_max), counts=float(counts), prune_dm_ratio=prune),
        selection=LogisticSelectionConfig(),
    )
    return cfg.build(hosts)


def pilot(hosts, prune: float, theta):
    """The pilot survey at ``counts`` = 1000 that sizes the benchmark's surveys.

    Returns:
        ``(simulator, catalogue)``.
    """
    sim = build(hosts, 1000.0, 20 * hosts.n_host // 1000 + 1000, prune)
    _, cat = jax.block_until_ready(_simulate(sim, jax.random.key(0), theta))
    return sim, cat


def survey_size(pilot_catalogue, target: int) -> tuple[float, int]:
    """``(counts, n_max)`` of a survey of about ``target`` detected SNe, from the pilot."""
    det_per_count = int(pilot_catalogue.n_detected) / 1000.0
    tot_per_count = int(pilot_catalogue.n_sn_total) / 1000.0
    counts = target / det_per_count
    return counts, int(1.25 * tot_per_count * counts) + 64


def survey_read_bytes(sim) -> dict[str, int]:
    """Bytes of the bank one survey must read: the whole-bank columns and the slots' host rows.

    Whole bank (every galaxy, every survey): the host-detection columns (distance limit, z and
    its Chebyshev variable) and the prepared SFH bins (effective log mass and midpoint age per
    active bin). Per slot: its host's row (six property columns, bank index, two SFH-bin edges,
    the band magnitudes).
    """
    detect = next(s for s in sim.stages if isinstance(s, DetectHosts))
    assign = next(s for s in sim.stages if isinstance(s, AssignSupernovae))
    leaves = [detect.dm_limit_mpc, detect.z, detect.t, *jax.tree_util.tree_leaves(assign.prepared)]
    whole = sum(int(a.size) * a.dtype.itemsize for a in leaves)
    hosts = assign.hosts
    itemsize = hosts.z.dtype.itemsize
    per_slot = itemsize * (len(_ROW_COLUMNS) + 2 + hosts.n_band) + 4  # + int32 bank index
    return {
        "bank_bytes": whole,
        "slot_bytes": per_slot * sim.n_max,
        "total": whole + per_slot * sim.n_max,
    }


def random_words(fn, *args) -> list[tuple[tuple[int, ...], str]]:
    """``(shape, key implementation)`` of every ``random_bits`` call in ``fn(*args)``'s program.

    Walks the jaxpr, sub-jaxprs included (a call inside a loop body is counted once per
    appearance, not per iteration; the simulator draws none in loops over slots).
    """
    found: list[tuple[tuple[int, ...], str]] = []

    def walk(jaxpr) -> None:
        for eqn in jaxpr.eqns:
            if eqn.primitive.name == "random_bits":
                impl = eqn.invars[0].aval.dtype._impl.name
                if eqn.outvars[0].aval.dtype.itemsize != 4:
                    raise ValueError(f"random_words: {eqn.outvars[0].aval.dtype} bits not counted")
                found.append((tuple(eqn.outvars[0].aval.shape), impl))
            for param in eqn.params.values():
                for sub in param if isinstance(param, list | tuple) else (param,):
                    inner = getattr(sub, "jaxpr", None)
                    if inner is not None:
                        walk(inner if hasattr(inner, "eqns") else inner.jaxpr)

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return found


def rng_floor(calls: list[tuple[tuple[int, ...], str]], repeats: int) -> dict[str, float]:
    """Median time [ms] to draw the words of ``calls`` (:func:`random_words`), and NumPy's.

    JAX: one jitted program drawing each call's ``uint32`` array with a key of its
    implementation. NumPy: ``default_rng`` (PCG64) drawing the same arrays of ``uint32``.
    """
    impls = sorted({impl for _, impl in calls})

    def draw(seed):
        keys = {impl: jax.random.key(seed, impl=impl) for impl in impls}
        return [
            jax.random.bits(jax.random.fold_in(keys[impl], i), shape, jnp.uint32)
            for i, (shape, impl) in enumerate(calls)
        ]

    compiled = jax.jit(draw).lower(0).compile()
    jax.block_until_ready(compiled(1))
    seeds = iter(range(2, 2 * repeats + 3))
    for _ in range(repeats):
        jax.block_until_ready(compiled(next(seeds)))
    jax_s, _, _ = timed(lambda: jax.block_until_ready(compiled(next(seeds))), repeats)
    rng = np.random.default_rng(0)
    np_draw = lambda: [rng.integers(0, 2**32, size=s, dtype=np.uint32) for s, _ in calls]  # noqa: E731
    np_draw()
    np_s, _, _ = timed(np_draw, repeats)
    return {
        "rng_words": sum(math.prod(s) for s, _ in calls),
        "rng_floor_ms": 1e3 * jax_s,
        "numpy_rng_ms": 1e3 * np_s,
    }


def _line(row: dict[str, Any]) -> str:
    get = lambda k: row.get(k, math.nan)  # noqa: E731
    return (
        f"{row['target']:7d} {row['n_max']:7d} {row['n_detected']:7d} {row['compile_s']:7.1f} "
        f"{row['ms']:8.1f} {row['ms_min']:8.1f} {get('numpy_fast_ms'):8.1f} "
        f"{get('ratio_numpy_fast'):6.1f} {get('numpy_direct_ms'):8.1f} "
        f"{get('ratio_numpy_direct'):6.1f} {get('floor_ms'):7.2f} {get('ratio_to_floor'):6.1f} "
        f"{row['peak_rss_mib']:6.0f} {get('batch_ms_per_survey'):8.2f} "
        f"{get('rng_floor_ms'):7.2f} {get('ratio_to_rng_floor'):5.1f} {get('numpy_rng_ms'):7.2f}"
    )


def load_hosts(bank: str | None, n_host: int):
    """The bank's :class:`HostTable` (a real bank file, or a toy bank of ``n_host``)."""
    if bank:
        from cigars.hosts import load_bank
        from cigars.survey import HostTable

        return HostTable.from_bank(load_bank(bank)), f"{bank} (real)"
    return toy_host_table(n_host, seed=0), f"toy_host_table({n_host}, seed=0)"


def run(
    hosts,
    *,
    targets=TARGETS,
    repeats: int = 7,
    prune: float = 0.7,
    numpy: bool = True,
    bandwidth_gb_s: float | None = None,
    memory: PeakMemory | None = None,
    batch: int = 8,
    verbose: bool = True,
) -> dict[str, Any]:
    """Measure the simulator at each target size; see the module docstring.

    Returns:
        ``{"settings", "sizes": [row per target], "exponents", "catalogues"}``; times in ms,
        ``catalogues`` maps each target to its last simulated catalogue (not JSON).
    """
    memory = memory or PeakMemory()
    say = print if verbose else (lambda *a, **k: None)
    theta = _as_theta(jax.tree_util.tree_map(jnp.float32, Theta()))
    pilot_sim, pilot_cat = pilot(hosts, prune, theta)
    galaxies = next(s for s in pilot_sim.stages if isinstance(s, AssignSupernovae)).hosts.n_host
    settings = {
        "n_host": hosts.n_host,
        "galaxies_per_simulation": galaxies,
        "prune_dm_ratio": prune,
        "dtype": str(hosts.z.dtype),
        "repeats": repeats,
        "selection": "logistic",
        "n_max_rule": "1.25 x pilot total SNe + 64",
        "batch": batch,
    }
    say(
        f"bank: {hosts.n_host} galaxies ({galaxies} after pruning); pilot (counts=1000): "
        f"{int(pilot_cat.n_detected)} detected of {int(pilot_cat.n_sn_total)} SNe"
    )
    say(
        f"{'target':>7} {'n_max':>7} {'N_det':>7} {'compile':>7} {'ms':>8} {'min':>8} "
        f"{'np_fast':>8} {'ratio':>6} {'np_dir':>8} {'ratio':>6} {'floor':>7} {'x':>6} {'MiB':>6} "
        f"{'batch_ms':>8} {'rng':>7} {'x':>5} {'np_rng':>7}"
    )
    rows, catalogues = [], {}
    for target in targets:
        memory.reset()
        rss_start = memory.current()
        load_start = load()
        counts, n_max = survey_size(pilot_cat, target)
        sim = build(hosts, counts, n_max, prune)
        t0 = time.perf_counter()
        compiled = _simulate.lower(sim, jax.random.key(1), theta).compile()
        compile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        # Warm-up; its survey (a fixed key) is the one reported and handed to the inference
        # section, not the last timed one, whose key depends on how many were timed.
        _, cat = jax.block_until_ready(compiled(sim, jax.random.key(1), theta))
        # At least `repeats` surveys and about a second of them (at most 50): a median of 7
        # millisecond-scale surveys moved by a third between runs on this shared machine.
        n_rep = max(repeats, min(50, math.ceil(1.0 / (time.perf_counter() - t0))))
        # The first 10-30 surveys of a process run 2-3x slower than the steady state (seen at
        # 1.6k SNe: ~5 ms, then ~2 ms): half as many untimed surveys first.
        keys = iter(jax.random.split(jax.random.key(2), n_rep + n_rep // 2))
        for _ in range(n_rep // 2):
            jax.block_until_ready(compiled(sim, next(keys), theta))
        med, best, _ = timed(
            lambda c=compiled, s=sim, k=keys: jax.block_until_ready(c(s, next(k), theta)),
            n_rep,
        )
        peak = memory.peak()
        n_det = int(cat.n_detected)
        catalogues[target] = cat
        row: dict[str, Any] = {
            "target": target,
            "counts": counts,
            "n_max": n_max,
            "n_detected": n_det,
            "overflow": bool(cat.overflow),
            "compile_s": compile_s,
            "repeats": n_rep,
            "ms": 1e3 * med,
            "ms_min": 1e3 * best,
            "surveys_per_s": 1.0 / med,
            "rss_start_mib": rss_start,
            "peak_rss_mib": peak,
            "rss_growth_mib": peak - rss_start,
            **program_memory(compiled),
        }
        if batch > 1:
            # As training simulates: `batch` surveys in one vmapped call. An accelerator needs
            # that much work at once; one survey at a time measures kernel launches there.
            many = (
                jax.jit(jax.vmap(_simulate, in_axes=(None, 0, None)))
                .lower(sim, jax.random.split(jax.random.key(3), batch), theta)
                .compile()
            )
            calls = max(3, n_rep // batch)
            bkeys = iter(jax.random.split(jax.random.key(4), calls + 1))
            jax.block_until_ready(many(sim, jax.random.split(next(bkeys), batch), theta))
            bmed, _, _ = timed(
                lambda m=many, s=sim, k=bkeys: jax.block_until_ready(
                    m(s, jax.random.split(next(k), batch), theta)
                ),
                calls,
            )
            row["batch_ms_per_survey"] = 1e3 * bmed / batch
            row["batch_speedup"] = med * batch / bmed
        row.update(rng_floor(random_words(_simulate, sim, jax.random.key(1), theta), n_rep))
        row["ratio_to_rng_floor"] = row["ms"] / row["rng_floor_ms"]
        read = survey_read_bytes(sim)
        row["read_mib"] = read["total"] / 2**20
        if bandwidth_gb_s:
            floor = read["total"] / (bandwidth_gb_s * 1e9)
            row["floor_ms"] = 1e3 * floor
            row["ratio_to_floor"] = med / floor
        if numpy:
            kappa = survey_scale(counts, hosts.n_host)
            pruned = next(s for s in sim.stages if isinstance(s, AssignSupernovae)).hosts
            for name, table, direct in (
                ("numpy_fast", pruned, False),
                ("numpy_direct", hosts, True),
            ):
                npsim = NumpySimulator(table, kappa, n_max, direct=direct)
                rng = np.random.default_rng(3)
                npsim.simulate(rng, Theta())  # warm-up, as for JAX
                np_med, _, res = timed(
                    lambda npsim=npsim, rng=rng: npsim.simulate(rng, Theta()),
                    max(3, min(15, n_rep // 2)),
                )
                if abs(len(res["m_obs"]) - n_det) > 6 * math.sqrt(n_det) + 10:
                    raise RuntimeError(
                        f"NumPy ({len(res['m_obs'])}) and JAX ({n_det}) SN counts differ"
                    )
                row[f"{name}_ms"] = 1e3 * np_med
                row[f"ratio_{name}"] = np_med / med
        row["load_average"] = max(load_start, load())
        rows.append(row)
        say(_line(row))
    n = [r["n_detected"] for r in rows]
    exponents = {
        "time_vs_n_sn": power_law(n, [r["ms"] for r in rows]),
        "rss_growth_vs_n_sn": power_law(n, [r["rss_growth_mib"] for r in rows]),
        "program_memory_vs_n_sn": power_law(n, [r.get("program_total_mib", 0) for r in rows]),
    }
    if numpy:
        exponents["numpy_fast_time_vs_n_sn"] = power_law(n, [r["numpy_fast_ms"] for r in rows])
    return {"settings": settings, "sizes": rows, "exponents": exponents, "catalogues": catalogues}


def main(quick: bool = False) -> dict:
    """Stand-alone run (prints a table); ``quick`` uses a 5x smaller bank and two sizes."""
    hosts, _ = load_hosts(None, 200_000 if quick else 1_000_000)
    bw = copy_bandwidth(2**26 if quick else 2**28)["bandwidth_gb_s"]
    out = run(
        hosts,
        targets=TARGETS[:2] if quick else TARGETS,
        repeats=3 if quick else 7,
        bandwidth_gb_s=bw,
    )
    out.pop("catalogues")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-host", type=int, default=1_000_000)
    parser.add_argument("--bank", help="a galaxy bank file instead of the toy bank")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--targets", type=int, nargs="+", default=list(TARGETS))
    parser.add_argument("--prune", type=float, default=0.7, help="prune_dm_ratio (0 = off)")
    parser.add_argument("--batch", type=int, default=8, help="surveys per vmapped call")
    parser.add_argument("--skip-numpy", action="store_true")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        main(quick=True)
    else:
        hosts, _ = load_hosts(args.bank, args.n_host)
        bw = copy_bandwidth(2**28)["bandwidth_gb_s"]
        print(f"copy bandwidth: {bw:.1f} GB/s")
        run(
            hosts,
            targets=args.targets,
            repeats=args.repeats,
            prune=args.prune,
            numpy=not args.skip_numpy,
            bandwidth_gb_s=bw,
            batch=args.batch,
        )
