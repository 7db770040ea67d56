"""NUTS reference posteriors for the validation surveys of a trained run (``--reference nuts``).

For each of ``n_surveys`` validation surveys (the keys of
:func:`cigars.validate.survey_keys`, so the surveys are those ``cigars validate`` draws with
the same seed), this draws from the run's neural posterior and runs NUTS on the known-hosts
likelihood (:func:`~cigars.likelihood.sn_model`, selection included) of the same survey, then
compares them per global parameter: the 1-D C2ST accuracy
(:func:`cigars.inference.c2st`; 0.5 = indistinguishable), the shift of the neural posterior mean
in NUTS standard deviations, and the ratio of their standard deviations; plus the C2ST of the
joint distribution of the shared parameters.

What is compared depends on the run:

* a run of the **known-hosts sub-model** (``likelihood.sub_model`` in its experiment): both
  are posteriors of the same problem (the NPE's target *is* the NUTS posterior), so C2ST near
  0.5, shifts << 1 and ratios near 1 measure the neural estimator's accuracy;
* a run of the **photometric model**: NUTS knows every detected SN's redshift and host
  quantities, which the neural posterior infers from host photometry (or, for the
  spectroscopic fraction, gets as context); the posteriors differ by construction, and the
  numbers measure how much the unknown hosts cost, not the estimator's accuracy. The report
  says which case it is.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from cigars.likelihood._importance import importance_resample, importance_weights, log_joint

__all__ = [
    "compare_with_nuts",
    "nuts_draws",
    "nuts_reference",
    "nuts_setup",
    "reference_checks",
    "shift_mc_error",
    "summarise_comparison",
    "survey_nuts",
]


def nuts_draws(key, model, prior, data, grid, *, num_warmup: int, num_samples: int):
    """NUTS on the known-hosts likelihood of one sample; call inside ``jax.enable_x64``.

    Args:
        key: PRNG key of the chain.
        model: the SN model (:func:`~cigars.likelihood.sn_model_for`).
        prior: the sub-model prior (:func:`~cigars.likelihood.submodel_prior`).
        data: the supernovae (:class:`~cigars.likelihood.SNData`).
        grid: their selection normalisation (:func:`~cigars.likelihood.selection_grid`).
        num_warmup: warm-up steps.
        num_samples: draws.

    Returns:
        ``(draws, divergences)``: parameter name -> float64 draws, and the divergence count.
    """
    from cigars.likelihood._models import sn_model
    from cigars.likelihood._nuts import run_nuts

    mcmc = run_nuts(
        key,
        sn_model,
        model,
        prior,
        data,
        grid,
        num_warmup=num_warmup,
        num_samples=num_samples,
        progress=False,
    )
    draws = {n: np.asarray(v, np.float64) for n, v in mcmc.get_samples().items()}
    return draws, int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())


def _nuts_fingerprint(key, data, fixed, num_warmup, num_samples, setup) -> str:
    """SHA-256 of everything one survey's NUTS draws depend on (:func:`nuts_reference` cache).

    The chain's key, the survey's supernovae (every :class:`SNData` field, float64), the prior's
    fixed values, the warm-up and draw counts, and ``setup`` (the experiment's likelihood and
    selection sections and the jax, numpyro and cigars versions) -- so a cached file is found
    only by the exact same computation.
    """
    import dataclasses

    import jax

    h = hashlib.sha256()
    h.update(np.asarray(jax.random.key_data(key)).tobytes())
    for f in dataclasses.fields(data):
        h.update(f.name.encode())
        h.update(np.ascontiguousarray(np.asarray(getattr(data, f.name), np.float64)).tobytes())
    h.update(np.asarray(fixed, np.float64).tobytes())
    h.update(json.dumps([num_warmup, num_samples, setup], sort_keys=True, default=str).encode())
    return h.hexdigest()


def _cached_nuts(cache: Path | None, fingerprint: str, run):
    """``run()``'s ``(draws, divergences, seconds)``, read from or written to ``cache``.

    Files are ``cache/nuts-<first 40 hex digits>.npz`` (plain arrays, read without pickle; written
    atomically). Returns the triple and whether it came from the cache.
    """
    from cigars.io import atomic_path

    path = None if cache is None else Path(cache) / f"nuts-{fingerprint[:40]}.npz"
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as f:
            names = [str(n) for n in f["names"]]
            draws = {n: f[f"draw_{n}"] for n in names}
            return (draws, int(f["divergences"]), float(f["seconds"])), True
    t = time.perf_counter()
    draws, n_div = run()
    seconds = time.perf_counter() - t
    if path is not None:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(
                    fh,
                    names=np.array(list(draws)),
                    divergences=n_div,
                    seconds=seconds,
                    **{f"draw_{n}": np.asarray(v) for n, v in draws.items()},
                )
    return (draws, n_div, seconds), False


def nuts_setup(exp) -> dict[str, Any]:
    """The part of every survey's NUTS fingerprint (:func:`_nuts_fingerprint`) set by ``exp``.

    Its likelihood and selection sections and the jax, numpyro and cigars versions.
    """
    import jax
    import numpyro

    from cigars import __version__
    from cigars.config import to_dict

    return {
        "likelihood": to_dict(exp.likelihood),
        "selection": to_dict(exp.simulator.selection),
        "versions": [jax.__version__, numpyro.__version__, __version__],
    }


def survey_nuts(
    exp,
    setup,
    model,
    selection,
    k_post,
    theta_true,
    theta_vec,
    data,
    *,
    num_warmup,
    num_samples,
    cache,
):
    """NUTS on the known-hosts likelihood of one validation survey; inside ``jax.enable_x64``.

    The chain's key is ``fold_in(k_post, 1)`` (``k_post``: the survey's posterior key of
    :func:`cigars.validate.survey_keys`); the globals the sub-model does not infer are fixed to
    their true values. Whatever computes the same survey's reference (``cigars validate
    --reference nuts``, ``benchmarks/bench_sbi_nuts.py``) reads the same cached draws.

    Args:
        exp: the experiment.
        setup: :func:`nuts_setup` of ``exp``.
        model: :func:`~cigars.likelihood.sn_model_for` of ``exp``.
        selection: the experiment's built selection function.
        k_post: the survey's posterior key.
        theta_true: the survey's true globals (the prior's parameter PyTree).
        theta_vec: the same as an array ``(n_theta,)`` in the prior's order.
        data: the survey's supernovae (:class:`~cigars.likelihood.SNData`).
        num_warmup: warm-up steps.
        num_samples: draws.
        cache: the draws' cache folder (None: no cache; :func:`_cached_nuts`).

    Returns:
        ``(prior, grid, (draws, divergences, seconds), from_cache)``: the sub-model prior with
        the fixed values, the selection normalisation, the NUTS result and whether it was read
        from the cache.
    """
    import jax

    from cigars.likelihood._selection import selection_grid
    from cigars.likelihood._submodel import submodel_prior

    prior = submodel_prior(exp, fixed_values=theta_true)
    grid = selection_grid(selection, model, data)  # NUTS and the importance weights
    k_nuts = jax.random.fold_in(k_post, 1)
    fixed = np.asarray(theta_vec, np.float64)
    fingerprint = _nuts_fingerprint(k_nuts, data, fixed, num_warmup, num_samples, setup)
    result, from_cache = _cached_nuts(
        cache,
        fingerprint,
        functools.partial(
            nuts_draws,
            k_nuts,
            model,
            prior,
            data,
            grid,
            num_warmup=num_warmup,
            num_samples=num_samples,
        ),
    )
    return prior, grid, result, from_cache


def shift_mc_error(npe: np.ndarray, nuts: np.ndarray) -> tuple[float, float]:
    """Monte-Carlo standard error of the shift ``(mean(npe) - mean(nuts)) / sd(nuts)``.

    The neural draws are independent; NUTS's (one chain) count by their effective number
    (:func:`numpyro.diagnostics.effective_sample_size`, at most their number). Returns
    ``(se, nuts_ess)``.
    """
    from numpyro.diagnostics import effective_sample_size

    ess = min(float(effective_sample_size(nuts[None, :])), float(nuts.size))
    sd = nuts.std(ddof=1)
    return math.sqrt(npe.var(ddof=1) / npe.size + nuts.var(ddof=1) / ess) / sd, ess


def compare_with_nuts(draws, nuts: dict[str, np.ndarray], names, key) -> dict[str, Any]:
    """One sample's neural draws against NUTS's, per parameter and jointly.

    Args:
        draws: (num_draws, len(names)) neural draws of ``names``.
        nuts: parameter name -> NUTS draws.
        names: the compared parameters (columns of ``draws``).
        key: PRNG key of the C2ST classifiers (folded with the parameter index; the joint
            C2ST with ``len(names)``).

    Returns:
        ``{"parameters": {name: npe/nuts mean and sd, nuts_ess, shift_in_nuts_sd, shift_mc_se
        (:func:`shift_mc_error`), sd_ratio, c2st},
        "c2st_joint": ...}``.
    """
    import jax

    from cigars.inference import c2st

    draws = np.asarray(draws, np.float64)
    out = {}
    for j, name in enumerate(names):
        a, b = draws[:, j], np.asarray(nuts[name], np.float64)
        se, ess = shift_mc_error(a, b)
        out[name] = {
            "npe_mean": float(a.mean()),
            "npe_sd": float(a.std(ddof=1)),
            "nuts_mean": float(b.mean()),
            "nuts_sd": float(b.std(ddof=1)),
            "nuts_ess": ess,
            "shift_in_nuts_sd": float((a.mean() - b.mean()) / b.std(ddof=1)),
            "shift_mc_se": se,
            "sd_ratio": float(a.std(ddof=1) / b.std(ddof=1)),
            "c2st": c2st(jax.random.fold_in(key, j), a, b),
        }
    joint = np.stack([nuts[n] for n in names], axis=1)
    return {
        "parameters": out,
        "c2st_joint": c2st(jax.random.fold_in(key, len(names)), draws, joint),
    }


def _importance_draws(proposals, log_q, model, data, grid, prior, names):
    """The neural proposals and their importance weights under the known-hosts likelihood.

    Call inside ``jax.enable_x64``. Returns ``(draws, weights)``: the (S, n_theta) proposals in
    float64 and their :class:`~cigars.likelihood.ImportanceWeights`.
    """
    from cigars.likelihood._models import sn_model

    target = log_joint(sn_model, (model, prior, data, grid), prior, names)
    draws = np.asarray(proposals, np.float64)
    return draws, importance_weights(target(draws), np.asarray(log_q, np.float64))


def summarise_comparison(records: list[dict[str, Any]], names) -> dict[str, dict[str, float]]:
    """Mean C2ST, mean absolute shift and median sd ratio per parameter over samples.

    Also ``abs_shift_noise``: the mean absolute shift that Monte-Carlo noise alone gives an
    exact posterior, ``sqrt(2/pi)`` times each sample's ``shift_mc_se``, averaged (the mean
    of |normal| of that sd). The measured ``abs_shift_mean`` carries this noise too (in
    quadrature, roughly), so a value near the noise floor says more draws, not a better
    network, would lower it.
    """
    summary = {}
    for name in names:
        rows = [r["parameters"][name] for r in records]
        summary[name] = {
            "c2st_mean": float(np.mean([r["c2st"] for r in rows])),
            "abs_shift_mean": float(np.mean([abs(r["shift_in_nuts_sd"]) for r in rows])),
            "abs_shift_noise": float(
                math.sqrt(2 / math.pi) * np.mean([r["shift_mc_se"] for r in rows])
            ),
            "sd_ratio_median": float(np.median([r["sd_ratio"] for r in rows])),
        }
    return summary


def nuts_reference(
    run_dir: str | Path,
    output: str | Path,
    *,
    n_surveys: int = 4,
    seed: int = 12345,
    num_warmup: int | None = None,
    num_samples: int | None = None,
    importance: int = 8,
    cache: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Compare a run's neural posteriors with NUTS on ``n_surveys`` validation surveys.

    For a known-hosts sub-model run, also the neural posterior importance-sampled to the
    same likelihood (:mod:`cigars.likelihood._importance`): ``importance * num_samples``
    neural draws (the first ``num_samples`` are the ones compared above) weighted by
    ``p(X, theta) / q(theta | X)``, resampled to ``num_samples`` and compared with NUTS the
    same way, with each survey's effective sample size, efficiency and PSIS Pareto k. Both
    sample one exact posterior, so this checks the likelihood and the neural proposal's
    coverage of it; the efficiency measures how close the network is.

    Writes the section ``reference_nuts`` into ``output/report.json`` (added to an existing
    ``cigars validate`` report, else a new report); for a known-hosts run also its checks
    (:func:`reference_checks`), which then count in the report's verdict.

    Args:
        run_dir: a training run (``cigars train``).
        output: the report folder.
        n_surveys: surveys compared (the first ones of ``cigars validate`` with ``seed``).
        seed: the surveys' PRNG seed (:func:`cigars.validate.survey_keys`).
        num_warmup: NUTS warm-up steps (default: the experiment's ``likelihood.sampler`` or
            300).
        num_samples: NUTS draws, also the number of neural draws (default: the sampler's or
            500).
        importance: neural proposals per NUTS draw for the importance-sampled comparison
            (sub-model runs only; 0: none).
        cache: a folder of NUTS draws (created if missing): each survey's draws are read from
            it when the same computation (survey data, chain key, prior, sampler settings,
            likelihood and selection config, versions: :func:`_nuts_fingerprint`) was cached
            before, else run and saved. Comparing several runs of one experiment on the same
            surveys then runs NUTS once (~2 min per survey on a 2-core CPU). The cigars
            version in the key does not change with every source edit: clear the folder
            after changing the likelihood's code in a development checkout.
        progress: show a progress bar.

    Returns:
        The ``reference_nuts`` section.

    Raises:
        ValueError: if the run has no simulator section or fewer than 1 survey is asked for.
    """
    import jax
    from tqdm.auto import tqdm

    from cigars.experiment import load_run, npe_problem, simulator_for
    from cigars.hosts import load_bank
    from cigars.inference import load_estimator, posterior_log_prob, sample_posterior
    from cigars.likelihood._submodel import (
        sn_data_from_catalogue,
        sn_data_from_simulation,
        sn_model_for,
        submodel_prior,
    )
    from cigars.simulate import simulate
    from cigars.validate import add_report_section, fitting_surveys, write_report

    if n_surveys < 1:
        raise ValueError(f"nuts_reference: n_surveys must be >= 1, got {n_surveys}")
    if importance < 0:
        raise ValueError(f"nuts_reference: importance must be >= 0, got {importance}")
    t0 = time.perf_counter()
    exp, bank_path = load_run(run_dir)
    if exp.simulator is None:
        raise ValueError(f"{run_dir}: the run's experiment has no simulator section")
    sampler = getattr(exp.likelihood, "sampler", None)
    num_warmup = num_warmup or (sampler.num_warmup if sampler else 300)
    num_samples = num_samples or (sampler.num_samples if sampler else 500)
    bank = load_bank(bank_path)
    sub_model = getattr(exp.likelihood, "sub_model", None) is not None
    simulate_one, prior, _ = npe_problem(exp, bank)
    global_prior = prior.global_prior
    estimator = load_estimator(run_dir)
    simulator = None if sub_model else simulator_for(exp, bank)
    model = sn_model_for(exp)
    selection = exp.simulator.selection.build()
    sim_jit = jax.jit(simulate_one)
    npe_names = list(prior.names)
    nuts_names = list(submodel_prior(exp).names)
    shared = [n for n in npe_names if n in nuts_names]
    setup = nuts_setup(exp)
    surveys = []
    bar = tqdm(total=n_surveys, disable=not progress, desc="nuts reference", unit="survey")
    # the surveys cigars validate keeps (a run trained with max_objects is for those only)
    fitting = fitting_surveys(
        sim_jit, prior, seed, exp.inference.training.max_objects, 10 * n_surveys
    )
    for i, (_, k_sim, k_post), theta_vec, sim in itertools.islice(fitting, n_surveys):
        use_is = sub_model and importance > 0
        proposals, _ = sample_posterior(
            estimator,
            k_post,
            sim.data,
            sim.mask,
            sim.context,
            num_samples=num_samples * (importance if use_is else 1),
        )
        npe = np.asarray(proposals[:num_samples], np.float64)
        if use_is:  # the network's own precision, outside enable_x64
            log_q = posterior_log_prob(estimator, proposals, sim.data, sim.mask, sim.context)
        theta_true = global_prior.from_array(theta_vec)
        if not sub_model:  # the same survey (same keys, default precision) with its truths
            _, cat = simulate(simulator, k_sim, theta_true)
            rows = cat.to_numpy()
        with jax.enable_x64(True):
            if sub_model:
                data = sn_data_from_simulation(sim.data, sim.mask, sim.context)
            else:
                data = sn_data_from_catalogue(rows)
                if data.n != int(np.asarray(sim.mask).sum()):
                    raise RuntimeError(f"survey {i}: the rebuilt catalogue differs from the run's")
            nuts_prior, grid, (nuts, n_div, t_nuts), from_cache = survey_nuts(
                exp,
                setup,
                model,
                selection,
                k_post,
                theta_true,
                theta_vec,
                data,
                num_warmup=num_warmup,
                num_samples=num_samples,
                cache=cache,
            )
            if use_is:
                t_is = time.perf_counter()
                weighted = _importance_draws(
                    proposals, log_q, model, data, grid, nuts_prior, npe_names
                )
                t_is = time.perf_counter() - t_is
        columns = [npe_names.index(n) for n in shared]
        compared = compare_with_nuts(npe[:, columns], nuts, shared, jax.random.fold_in(k_post, 2))
        for name in shared:
            truth = float(np.asarray(getattr(theta_true, name)))
            compared["parameters"][name] = {"truth": truth, **compared["parameters"][name]}
        record: dict[str, Any] = {
            "survey": i,
            "n_objects": int(data.n),
            "nuts_divergences": n_div,
            "nuts_s": t_nuts,
            "nuts_cached": from_cache,
            **compared,
        }
        if use_is:
            draws, weights = weighted
            resampled = importance_resample(
                jax.random.fold_in(k_post, 3), draws, weights, num_samples
            )
            record["importance"] = {
                **weights.summary(),
                "weights_s": t_is,
                **compare_with_nuts(
                    resampled[:, columns], nuts, shared, jax.random.fold_in(k_post, 2)
                ),
            }
        surveys.append(record)
        bar.update(1)
        bar.set_postfix(c2st_joint=f"{record['c2st_joint']:.3f}")
    bar.close()
    summary = summarise_comparison(surveys, shared)
    weighted = [s["importance"] for s in surveys if "importance" in s]
    section = {
        "compared": (
            "same posterior: the run is the known-hosts sub-model, whose exact posterior NUTS "
            "samples"
            if sub_model
            else "different posteriors: NUTS knows every SN's redshift and host quantities; "
            "the run's neural posterior infers them from host photometry (measures the cost "
            "of unknown hosts, not the estimator's accuracy)"
        ),
        "sub_model": sub_model,
        "seed": seed,
        "n_surveys": n_surveys,
        "num_warmup": num_warmup,
        "num_samples": num_samples,
        "parameters": shared,
        "not_in_nuts": [n for n in npe_names if n not in nuts_names],
        "summary": summary,
        "c2st_joint_mean": float(np.mean([s["c2st_joint"] for s in surveys])),
        "surveys": surveys,
        "elapsed_s": time.perf_counter() - t0,
    }
    if weighted:
        section["importance"] = {
            "proposals_per_draw": importance,
            "summary": summarise_comparison(weighted, shared),
            "c2st_joint_mean": float(np.mean([w["c2st_joint"] for w in weighted])),
            "efficiency_min": float(min(w["efficiency"] for w in weighted)),
            "efficiency_median": float(np.median([w["efficiency"] for w in weighted])),
            "pareto_k_max": float(max(w["pareto_k"] for w in weighted)),
            "all_reliable": all(w["reliable"] for w in weighted),
        }
    checks = reference_checks(section) if sub_model else []
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    if not (output / "report.json").is_file():
        write_report(output, {"run_dir": str(Path(run_dir).resolve())})
    add_report_section(output, "reference_nuts", section, checks)
    return section


def reference_checks(section: dict[str, Any], thresholds=None) -> list:
    """The issue's checks of a known-hosts network against NUTS, per global parameter.

    Mean C2ST <= ``nuts_c2st``, mean |shift| <= ``nuts_shift`` NUTS sd, |ln(median sd ratio)|
    <= ln(``nuts_sd_ratio``); with importance sampling, the largest Pareto k <= ``pareto_k``
    (the network's posterior covers the exact one). The importance-sampled draws' agreement
    with NUTS is reported, not checked: both sample the same exact posterior.
    """
    from cigars.validate import Check, Thresholds

    th = Thresholds() if thresholds is None else thresholds
    checks = []
    for name, r in section["summary"].items():
        checks += [
            Check("reference_nuts", name, "mean C2ST", r["c2st_mean"], "<=", th.nuts_c2st),
            Check(
                "reference_nuts",
                name,
                "mean |shift| / NUTS sd",
                r["abs_shift_mean"],
                "<=",
                th.nuts_shift,
            ),
            Check(
                "reference_nuts",
                name,
                "|ln(sd ratio)|",
                abs(math.log(r["sd_ratio_median"])),
                "<=",
                math.log(th.nuts_sd_ratio),
            ),
        ]
    if "importance" in section:
        k = section["importance"]["pareto_k_max"]
        checks.append(Check("reference_nuts", "importance", "max Pareto k", k, "<=", th.pareto_k))
    return checks
