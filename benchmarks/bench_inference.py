"""Speed of amortised inference: 1,000 joint posterior draws of all globals and per-object latents.

A section of ``python -m benchmarks`` (:func:`run`), fed with the surveys simulated by the
simulator section. The estimator has the shapes of the CIGaRS-I experiment
(``configs/cigars-i-16k.yaml``: 13 globals, 7 latents per SN, 18 observed features and 2
context values per SN) and its architecture (``inference.estimator``, whose per-SN posterior is
the globals-linear Gaussian mixture: see :class:`cigars.inference.LinearThetaMixture`); its
weights are freshly initialised (training changes the numbers, not the cost), its
standardisation is fitted on a few simulated surveys. Each draw is ``theta ~ q(theta | X)``
followed by the 7 latents of every SN given ``theta`` (:func:`cigars.inference.sample_posterior`),
so 1,000 draws of a 16k-SN survey are 1,000 x (13 + 7 x 16,000) numbers. Compile time (first
call) is reported apart from the steady-state median. Draws are processed ``chunk_size`` at a
time (256, the default, up to 6,250 SNe; fewer beyond, to bound memory: see
:func:`chunk_for`). Survey sizes: the detected SNe of the simulated surveys, and a random
subset of the 16k survey's for the intermediate size (5,000; ``--quick`` stops there).
"""

from __future__ import annotations

import dataclasses
import math
import time
import types
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from benchmarks._harness import PeakMemory, load, power_law, program_memory, timed
from cigars.inference import (
    HierarchicalNPE,
    check_simulator,
    sample_posterior,
    simulate_batch,
)
from cigars.inference._posterior import _sample

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "configs" / "cigars-i-16k.yaml"
NUM_SAMPLES = 1000


def estimator_for(hosts, seed: int = 0):
    """A freshly initialised estimator with the CIGaRS-I problem's shapes and bounds.

    The problem (prior, local bounds, feature layout) comes from
    :func:`cigars.experiment.npe_problem` on a small subset of ``hosts``, whose simulations
    also give the standardisation statistics.
    """
    from cigars.config import load_experiment
    from cigars.experiment import npe_problem
    from cigars.survey import BANK_FIELDS

    exp = load_experiment(EXPERIMENT)
    small = hosts.subset(np.arange(min(hosts.n_host, 5000)))
    survey = exp.simulator.survey
    survey = dataclasses.replace(survey, n_max=2048, counts=survey.counts / 4)
    exp = dataclasses.replace(exp, simulator=dataclasses.replace(exp.simulator, survey=survey))
    bank = types.SimpleNamespace(
        **{f: getattr(small, f) for f in BANK_FIELDS},
        ln_weight=small.ln_weight,
        band_names=tuple(exp.bands.filters),
    )
    simulate, prior, local_bounds = npe_problem(exp, bank)
    shapes = check_simulator(simulate, prior)
    model = nnx.jit(
        lambda: HierarchicalNPE.for_shapes(
            exp.inference.estimator,
            shapes,
            theta_bounds=(np.asarray(prior.lower, float), np.asarray(prior.upper, float)),
            local_bounds=local_bounds,
            rngs=nnx.Rngs(seed),
        )
    )()
    pilot = jax.device_get(
        jax.jit(lambda k: simulate_batch(simulate, prior, k, 8))(jax.random.key(11))
    )
    model.fit_statistics(pilot)
    return model, shapes


def survey_arrays(cat, rows: int | None = None, seed: int = 0):
    """Observed data and context of a simulated catalogue's detected SNe (optionally a subset)."""
    from cigars.experiment import observed_features

    data, context = observed_features(cat)
    keep = np.flatnonzero(np.asarray(cat.mask))
    if rows is not None and rows < keep.size:
        keep = np.sort(np.random.default_rng(seed).choice(keep, rows, replace=False))
    data = jnp.asarray(np.asarray(data)[keep])
    context = jnp.asarray(np.asarray(context)[keep])
    return data, jnp.ones(keep.size, bool), context


def chunk_for(n_sn: int) -> int:
    """Posterior draws processed together: 256 (the default) up to 6,250 SNe, fewer beyond, so
    the per-object flows' activations (draws x SNe x width) stay near 3 GB."""
    return int(min(256, max(16, 2 ** math.floor(math.log2(1.6e6 / max(n_sn, 1))))))


def _program_memory(model, data, mask, context) -> dict[str, float]:
    """Compile time and XLA memory of the program behind ``sample_posterior`` (its jitted
    ``_sample``, all objects valid); the later calls reuse the compiled program."""
    graphdef, state = nnx.split(model)
    n = int(mask.size)
    try:
        program = _sample.lower(
            graphdef, state, jax.random.key(0), data, mask, context, NUM_SAMPLES, chunk_for(n), n
        )
    except TypeError:  # the private signature changed: skip these numbers
        return {}
    t0 = time.perf_counter()
    compiled = program.compile()
    return {"compile_s": time.perf_counter() - t0, **program_memory(compiled)}


def run(
    hosts, catalogues: dict[int, Any], *, quick: bool, memory: PeakMemory | None = None
) -> dict[str, Any]:
    """Time 1,000 joint draws at several survey sizes; see the module docstring."""
    memory = memory or PeakMemory()
    model, shapes = estimator_for(hosts)
    plan = []  # (catalogue, rows or None for all its detected SNe)
    if 1600 in catalogues:
        plan.append((catalogues[1600], None))
    if 16000 in catalogues:
        plan.append((catalogues[16000], 5000))
        if not quick:
            plan.append((catalogues[16000], None))
    rows = []
    for cat, n_rows in plan:
        memory.reset()
        rss_start = memory.current()
        data, mask, context = survey_arrays(cat, n_rows)
        n = int(mask.size)
        chunk = chunk_for(n)

        def draw(i, data=data, mask=mask, context=context, chunk=chunk):
            key = jax.random.key(100 + i)
            return jax.block_until_ready(
                sample_posterior(model, key, data, mask, context, NUM_SAMPLES, chunk_size=chunk)
            )

        memory_xla = _program_memory(model, data, mask, context)
        t0 = time.perf_counter()
        theta, local = draw(0)
        first_s = time.perf_counter() - t0
        calls = iter(range(1, 100))
        repeats = 1 if quick else 3
        med, best, (theta, local) = timed(lambda c=calls, d=draw: d(next(c)), repeats)
        ok = bool(np.all(np.isfinite(np.asarray(theta)))) and bool(
            np.all(np.isfinite(np.asarray(local)))
        )
        row = {
            "n_sn": n,
            "draws": NUM_SAMPLES,
            "chunk_size": chunk,
            "numbers_per_draw": shapes["n_theta"] + shapes["n_local"] * n,
            "first_call_s": first_s,
            "seconds": med,
            "seconds_min": best,
            "repeats": repeats,
            "finite": ok,
            **memory_xla,
            "rss_start_mib": rss_start,
            "peak_rss_mib": memory.peak(),
            "load_average": load(),
        }
        row["rss_growth_mib"] = row["peak_rss_mib"] - rss_start
        rows.append(row)
        print(
            f"inference {n:6d} SNe: {NUM_SAMPLES} joint draws in {med:.2f} s (first call "
            f"{first_s:.1f} s), peak RSS {row['peak_rss_mib']:.0f} MiB",
            flush=True,
        )
        del theta, local
    n = [r["n_sn"] for r in rows]
    return {
        "estimator": {k: int(v) for k, v in shapes.items()},
        "architecture": "cigars-i-16k inference.estimator (local posterior: "
        f"{model.config.local_posterior}), random initialisation",
        "sizes": rows,
        "exponents": {
            "time_vs_n_sn": power_law(n, [r["seconds"] for r in rows]),
            "rss_growth_vs_n_sn": power_law(n, [r["rss_growth_mib"] for r in rows]),
            "program_memory_vs_n_sn": power_law(n, [r.get("program_total_mib", 0) for r in rows]),
        },
    }
