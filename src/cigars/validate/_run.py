"""Validate a trained run: fresh surveys from its prior, posterior draws, diagnostics, figures."""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from cigars.validate._ranks import sbc_ranks
from cigars.validate._report import (
    Thresholds,
    ValidationDraws,
    diagnose,
    write_report,
)

__all__ = ["DRAWS_NAME", "collect_draws", "fitting_surveys", "survey_keys", "validate_run"]

DRAWS_NAME = "draws.npz"
_MIN_ROWS = 64


def survey_keys(seed: int, i: int):
    """The keys of validation survey ``i``: ``(prior draw, simulation, posterior draws)``.

    ``jax.random.split(jax.random.fold_in(jax.random.key(seed), i), 3)``; a reference
    posterior of the same surveys (e.g. NUTS) rebuilds them from these keys.
    """
    return jax.random.split(jax.random.fold_in(jax.random.key(seed), i), 3)


def fitting_surveys(simulate, prior, seed: int, max_objects: int | None, max_skipped: int):
    """Surveys ``i = 0, 1, ...`` of :func:`survey_keys`, skipping those that do not fit.

    Yields ``(i, keys, theta, sim)``: the survey's index, its keys ``(prior draw, simulation,
    posterior draws)``, its parameters (``theta ~ prior``) and its
    :class:`~cigars.inference.Simulation` (by ``simulate``), for every survey with at most
    ``max_objects`` valid objects (all of them if None). Runs for as long as the caller asks.

    Raises:
        RuntimeError: after more than ``max_skipped`` surveys were skipped.
    """
    from cigars.inference import as_simulation

    skipped, i = 0, -1
    while True:
        i += 1
        keys = survey_keys(seed, i)
        theta = prior.sample(keys[0])
        sim = as_simulation(simulate(keys[1], theta))
        if max_objects is not None and int(np.sum(np.asarray(sim.mask))) > max_objects:
            skipped += 1
            if skipped > max_skipped:
                raise RuntimeError(
                    f"{skipped} of {i + 1} simulated surveys had more than the run's "
                    f"training.max_objects = {max_objects} objects"
                )
            continue
        yield i, keys, theta, sim


def _rows(n: int) -> int:
    """Padded size for ``n`` valid objects: the next power of two, at least 64."""
    return max(_MIN_ROWS, 1 << max(0, int(n - 1).bit_length()))


def _compact(data, mask, context):
    """Valid rows first, padded to :func:`_rows` (the estimator ignores padding and order)."""
    mask = np.asarray(mask, bool)
    idx = np.flatnonzero(mask)
    rows = min(_rows(idx.size), mask.shape[0])
    out = []
    for a in (data, context):
        a = np.asarray(a)
        b = np.zeros((rows,) + a.shape[1:], a.dtype)
        b[: idx.size] = a[idx]
        out.append(b)
    m = np.zeros(rows, bool)
    m[: idx.size] = True
    return out[0], m, out[1], idx


def collect_draws(
    sampler,
    simulate_one,
    prior,
    *,
    names: Sequence[str],
    local_names: Sequence[str],
    n_sims: int,
    num_samples: int,
    seed: int,
    spec_flag: int | None = None,
    compact: bool = True,
    max_objects: int | None = None,
    progress: bool = True,
) -> ValidationDraws:
    """Simulate ``n_sims`` surveys from the prior and draw from a posterior sampler for each.

    Survey ``i`` uses :func:`survey_keys` ``(seed, i)``: ``theta ~ prior``, one simulation,
    ``num_samples`` joint posterior draws. With ``max_objects``, a survey with more valid
    objects is skipped and ``i`` goes on until ``n_sims`` surveys are drawn (the estimator of a
    run trained with ``training.max_objects`` is for the others only; leaving surveys out by a
    function of the data keeps the checks exact); ``survey_key`` records the ``i`` used.

    Args:
        sampler: ``sampler(key, data, mask, context, num_samples) -> (theta, locals)`` with
            shapes ``(L, d)`` and ``(L, n_rows, k)``, e.g.
            ``functools.partial(cigars.inference.sample_posterior, estimator)``.
        simulate_one: ``simulate(key, theta)`` following the simulator contract of
            :mod:`cigars.inference`.
        prior: the prior (``sample(key) -> (d,)``).
        names: the global parameter names ``(d,)``.
        local_names: the per-object parameter names ``(k,)``.
        n_sims: number of surveys.
        num_samples: ``L``, posterior draws per survey.
        seed: PRNG seed.
        spec_flag: column of the context that flags a spectroscopic redshift (None: none has).
        compact: give the sampler the valid objects only, padded to a power of two (>= 64, at
            most the simulator's ``n_max``): the same posterior for an estimator that ignores
            padded slots and object order (the hierarchical NPE does), several times faster.
        max_objects: skip surveys with more valid objects (None: keep all).
        progress: show a progress bar.

    Raises:
        ValueError: for fewer than 2 surveys or draws.
        RuntimeError: if a posterior draw is not finite (naming the survey), or if more than
            ``10 n_sims`` surveys were skipped.
    """
    from tqdm.auto import tqdm

    if n_sims < 2:
        raise ValueError(f"validate: n_sims must be >= 2, got {n_sims}")
    if num_samples < 2:
        raise ValueError(f"validate: num_samples must be >= 2, got {num_samples}")
    simulate = jax.jit(simulate_one)
    theta_true, theta_draws = [], []
    loc = {k: [] for k in ("true", "ranks", "mean", "sd", "spec", "survey")}
    used = []
    bar = tqdm(total=n_sims, disable=not progress, desc="validate", unit="survey", leave=False)
    surveys = fitting_surveys(simulate, prior, seed, max_objects, 10 * n_sims)
    for row, (i, (_, _, k_post), _, sim) in enumerate(itertools.islice(surveys, n_sims)):
        used.append(i)
        if compact:
            data, mask, context, idx = _compact(sim.data, sim.mask, sim.context)
        else:
            data, mask, context = sim.data, sim.mask, sim.context
            idx = np.flatnonzero(np.asarray(sim.mask))
        draws, local_draws = sampler(k_post, data, mask, context, num_samples)
        draws = np.asarray(draws, dtype=np.float64)
        local_draws = np.asarray(local_draws, dtype=np.float64)
        local_draws = local_draws[:, : idx.size] if compact else local_draws[:, idx]
        if not (np.all(np.isfinite(draws)) and np.all(np.isfinite(local_draws))):
            raise RuntimeError(
                f"validate: survey {i} (seed {seed}): non-finite posterior draws from the sampler"
            )
        theta_true.append(np.asarray(sim.theta, dtype=np.float64))
        theta_draws.append(draws)
        if local_names:
            truth_l = np.asarray(sim.locals, dtype=np.float64)[idx]
            per_obj = np.moveaxis(local_draws, 0, 1)  # (n_obj, L, k)
            loc["true"].append(truth_l)
            loc["ranks"].append(sbc_ranks(per_obj, truth_l))
            loc["mean"].append(per_obj.mean(axis=1))
            loc["sd"].append(per_obj.std(axis=1, ddof=1))
            spec = np.zeros(idx.size, bool)
            if spec_flag is not None:
                spec = np.asarray(sim.context)[idx, spec_flag] > 0.5
            loc["spec"].append(spec)
            loc["survey"].append(np.full(idx.size, row))
        bar.update(1)
        bar.set_postfix(objects=int(idx.size))
    bar.close()
    k = len(local_names)

    def cat(parts, shape, dtype):
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(shape, dtype)

    return ValidationDraws(
        names=tuple(names),
        local_names=tuple(local_names),
        num_samples=int(num_samples),
        theta_true=np.stack(theta_true),
        theta_draws=np.stack(theta_draws),
        local_true=cat(loc["true"], (0, k), np.float64),
        local_ranks=cat(loc["ranks"], (0, k), np.int64),
        local_mean=cat(loc["mean"], (0, k), np.float64),
        local_sd=cat(loc["sd"], (0, k), np.float64),
        has_spec=cat(loc["spec"], (0,), bool),
        survey=cat(loc["survey"], (0,), np.int64),
        survey_key=np.asarray(used, np.int64),
    )


def validate_run(
    run_dir: str | Path,
    output: str | Path,
    *,
    n_sims: int = 100,
    num_samples: int = 300,
    seed: int = 12345,
    thresholds: Thresholds | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Calibration and accuracy checks of a trained run on fresh simulations from its prior.

    Simulates ``n_sims`` surveys with the run's experiment (its simulator over the run's bank,
    or for a ``standardised`` run its likelihood over the design it was trained for,
    the globals drawn from the experiment's prior), draws ``num_samples`` joint posterior
    samples for each from the run's estimator, and writes to ``output``: ``report.json`` (every
    number, each check with its threshold and pass/fail, the verdict;
    :func:`~cigars.validate.diagnose`), ``draws.npz`` (the reduced draws,
    :class:`~cigars.validate.ValidationDraws`) and PNG figures.

    Args:
        run_dir: a training run (``cigars train``).
        output: the report folder.
        n_sims: number of simulated surveys.
        num_samples: posterior draws per survey.
        seed: PRNG seed of the surveys (:func:`survey_keys`); use one the training never used.
        thresholds: pass/fail thresholds (default :class:`~cigars.validate.Thresholds`).
        progress: show a progress bar.

    Returns:
        The report.

    Raises:
        ValueError: if ``run_dir`` is not a training run, or its bank is missing.
    """
    from cigars.experiment import CONTEXT_NAMES, LOCAL_NAMES, load_run, npe_problem
    from cigars.hosts import load_bank
    from cigars.inference import load_estimator, sample_posterior
    from cigars.io import provenance

    t0 = time.perf_counter()
    exp, bank_path = load_run(run_dir)
    if bank_path is None:  # a 'standardised' run: samples simulated over its design
        from cigars.likelihood import design_problem

        simulate_one, prior, _ = design_problem(run_dir, exp)
    elif not Path(bank_path).is_file():
        raise ValueError(
            f"{run_dir}: the run's galaxy bank {bank_path} (recorded in experiment.yaml) is missing"
        )
    else:
        simulate_one, prior, _ = npe_problem(exp, load_bank(bank_path))
    estimator = load_estimator(run_dir)
    # no locals, no photo-z: the known-hosts sub-model and design-sample runs
    globals_only = bank_path is None or getattr(exp.likelihood, "sub_model", None) is not None
    draws = collect_draws(
        functools.partial(sample_posterior, estimator),
        simulate_one,
        prior,
        names=prior.names,
        local_names=() if globals_only else LOCAL_NAMES,
        n_sims=n_sims,
        num_samples=num_samples,
        seed=seed,
        spec_flag=None if globals_only else CONTEXT_NAMES.index("has_spec"),
        max_objects=exp.inference.training.max_objects,
        progress=progress,
    )
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    draws.save(output / DRAWS_NAME)
    report = {
        "run_dir": str(Path(run_dir).resolve()),
        "bank": str(bank_path),
        "seed": seed,
        "survey_keys": "survey i: split(fold_in(key(seed), i), 3) = (prior, simulation, posterior)",
        "skipped_surveys": sorted(
            set(range(int(draws.survey_key[-1]) + 1)) - set(draws.survey_key.tolist())
        ),
        **diagnose(draws, thresholds=thresholds, seed=seed),
    }
    from cigars.plots import plot_validation

    report["figures"] = [p.name for p in plot_validation(report, draws, output)]
    report["provenance"] = provenance()
    report["elapsed_s"] = time.perf_counter() - t0
    write_report(output, report)
    return report
