"""cigars against ``sbi`` at an equal simulation budget, both judged against NUTS.

The known-hosts sub-model of the quick-start experiment (``configs/quickstart-knownhosts.yaml``:
redshifts and host quantities known, SN data drawn conditioned on detection, 10 globals) has an
exact likelihood, so NUTS (:mod:`cigars.likelihood`) gives its true posterior. One stored
training set and one held-out test set are simulated once (cached in ``$CIGARS_BENCH_DIR``).
Both estimators are trained on exactly the same surveys (the equal budget):

* cigars: :func:`cigars.inference.train` with ``dataset=`` and the config's estimator
  (per-object data incl. the likelihood-score terms, whitened linear pool), 3,000 steps x 16
  with early stopping on its last 64 surveys;
* sbi: NPE with a neural spline flow and ``PermutationInvariantEmbedding`` over the same
  per-object features (data, score terms and covariates), built as in ``bench_sbi.py``; sbi's
  own early stopping (20 epochs without improvement) up to ``sbi_epochs``.

Quality: on the first ``n_nuts`` test surveys, NUTS (the experiment's sampler settings) against
each estimator: C2ST per global and joint (0.5 = indistinguishable), the mean shift in NUTS
sd and the sd ratio; on all test surveys, calibration (SBC, coverage, TARP). Wall time: each
training, excluding simulation.

Usage: ``python benchmarks/bench_sbi_nuts.py [--quick]``. Writes
``benchmarks/SBI_NUTS_COMPARISON.md`` and ``benchmarks/sbi_nuts_comparison.json`` (full runs).

**At the config's own budget** (``--simulations A.h5 B.h5 --bank BANK``, the stored sets of
``cigars simulations`` the config's header names): both train on those surveys with the
config's per-object features (Laplace features included) -- cigars exactly as ``cigars train
CONFIG --simulations ...`` (its schedule and early stopping; the last ``n_val`` surveys are the
validation set), sbi on the same features and validation fraction -- and are judged on the
surveys ``cigars validate RUN --seed SEED`` draws: calibration on the first ``--n-test``, NUTS
on the first ``--n-nuts`` (``--nuts-cache``: the same cache ``cigars validate --nuts-cache``
fills, so NUTS runs once for both and for every validated run). Writes
``SBI_NUTS_COMPARISON_FULL.md`` and ``sbi_nuts_comparison_full.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import jax
import numpy as np

try:  # as part of the ``benchmarks`` package
    from benchmarks import bench_sbi
except ModuleNotFoundError:  # as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks import bench_sbi

HERE = Path(__file__).resolve().parent
CONFIG = HERE.parent / "configs" / "quickstart-knownhosts.yaml"


def run(
    quick: bool = False,
    *,
    n_train: int = 4000,
    n_test: int = 64,
    sbi_epochs: int = 100,
    n_nuts: int = 4,
) -> dict:
    """Simulate (cached), train both on the same set, compare with NUTS; returns the numbers."""
    import torch

    from cigars.config import load_experiment
    from cigars.experiment import npe_problem
    from cigars.hosts import load_bank
    from cigars.inference import Simulation, train
    from cigars.likelihood._reference import compare_with_nuts, nuts_draws
    from cigars.likelihood._selection import selection_grid
    from cigars.likelihood._submodel import sn_data_from_simulation, sn_model_for, submodel_prior

    exp = load_experiment(CONFIG)
    # the per-object features SBI_NUTS_COMPARISON.md was measured with: data, score terms and
    # covariates, without the config's Laplace features (added later)
    sub = dataclasses.replace(exp.likelihood.sub_model, laplace=False)
    exp = dataclasses.replace(exp, likelihood=dataclasses.replace(exp.likelihood, sub_model=sub))
    # the schedule SBI_NUTS_COMPARISON.md was measured with (the config's own is sized for a
    # stored set of 16,384 surveys)
    training = dataclasses.replace(
        exp.inference.training, steps=3000, batch_size=16, n_val=64, val_every=250, patience=4
    )
    if quick:
        n_train, n_test, sbi_epochs, n_nuts = 400, 16, 3, 1
        training = dataclasses.replace(training, steps=150, warmup_steps=20, val_every=50)
    torch.set_num_threads(os.cpu_count() or 1)
    work = Path(os.environ.get("CIGARS_BENCH_DIR", "/tmp/cigars-bench-sbi"))
    work.mkdir(parents=True, exist_ok=True)
    bank = bench_sbi.quickstart_bank(work)
    npe_config = dataclasses.replace(exp.inference, training=training)
    sampler = exp.likelihood.sampler
    num_samples = sampler.num_samples

    sim_tr, t_sim_tr = bench_sbi._simulations(
        exp, bank, work / f"kh-train-{n_train}.h5", n_train, seed=21
    )
    sim_te, t_sim_te = bench_sbi._simulations(
        exp, bank, work / f"kh-test-{n_test}.h5", n_test, seed=22
    )
    n_feat = sim_tr.data.shape[-1]
    rows = min(
        int(-(-max(sim_tr.mask.sum(1).max(), sim_te.mask.sum(1).max()) // 64) * 64),
        sim_tr.mask.shape[1],
    )
    f_tr, m_tr = bench_sbi.compact_surveys(sim_tr.data, sim_tr.mask, sim_tr.context, rows)
    f_te, m_te = bench_sbi.compact_surveys(sim_te.data, sim_te.mask, sim_te.context, rows)
    dataset = Simulation(
        theta=np.asarray(sim_tr.theta),
        locals=np.zeros(f_tr.shape[:2] + (0,), np.float32),
        data=f_tr[..., :n_feat],
        mask=m_tr,
        context=f_tr[..., n_feat:],
    )
    _, prior, _ = npe_problem(exp, load_bank(bank))
    names = list(prior.names)

    # cigars
    run_dir = work / f"kh-cigars-{'quick' if quick else 'full'}-{int(time.time())}"
    t0 = time.perf_counter()
    result = train(npe_config, None, prior, run_dir, dataset=dataset, progress=True)
    t_cigars = time.perf_counter() - t0
    d_cig = bench_sbi.cigars_draws(result.estimator, f_te, m_te, n_feat, num_samples)

    # sbi
    x_tr, mean, sd = bench_sbi.sbi_inputs(f_tr, m_tr)
    x_te, _, _ = bench_sbi.sbi_inputs(f_te, m_te, mean, sd)
    posterior, t_sbi, epochs, _ = bench_sbi.train_sbi(
        np.asarray(sim_tr.theta),
        x_tr,
        bench_sbi._torch_prior(exp, names),
        n_val=training.n_val,
        max_epochs=sbi_epochs,
        batch_size=training.batch_size * 4,
    )
    d_sbi = bench_sbi.sbi_draws(posterior, x_te, num_samples)

    # NUTS on the first n_nuts test surveys
    model = sn_model_for(exp)
    selection = exp.simulator.selection.build()
    key = jax.random.key(5)
    records = {"cigars": [], "sbi": []}
    nuts_s, divergences = [], []
    for i in range(n_nuts):
        t0 = time.perf_counter()
        with jax.enable_x64(True):
            data = sn_data_from_simulation(sim_te.data[i], sim_te.mask[i], sim_te.context[i])
            nuts, div = nuts_draws(
                jax.random.key(100 + i),
                model,
                submodel_prior(exp),
                data,
                selection_grid(selection, model, data),
                num_warmup=sampler.num_warmup,
                num_samples=num_samples,
            )
        nuts_s.append(time.perf_counter() - t0)
        divergences.append(div)
        for name, d in (("cigars", d_cig), ("sbi", d_sbi)):
            records[name].append(compare_with_nuts(d[i], nuts, names, jax.random.fold_in(key, i)))

    truth = np.asarray(sim_te.theta, dtype=np.float64)
    return {
        "quick": quick,
        "config": os.path.relpath(CONFIG, HERE.parent),
        "n_train": n_train,
        "n_val": training.n_val,
        "n_test": n_test,
        "n_nuts": n_nuts,
        "num_samples": num_samples,
        "nuts_warmup": sampler.num_warmup,
        "nuts_s": nuts_s,
        "nuts_divergences": divergences,
        "n_objects_nuts": [int(m_te[i].sum()) for i in range(n_nuts)],
        "simulation_s_train": t_sim_tr,
        "simulation_s_test": t_sim_te,
        "cigars_train_s": t_cigars,
        "cigars_steps": result.step,
        "cigars_batch_size": training.batch_size,
        "cigars_best_val_loss": result.best_val_loss,
        "sbi_train_s": t_sbi,
        "sbi_epochs": epochs,
        "train_time_ratio_cigars_over_sbi": t_cigars / t_sbi,
        "names": names,
        **_judged(records, {"cigars": d_cig, "sbi": d_sbi}, truth, names),
    }


def _judged(records: dict, draws: dict, truth, names) -> dict:
    """Each estimator's NUTS comparisons (per survey and summarised) and calibration."""
    from cigars.likelihood._reference import summarise_comparison

    return {
        "vs_nuts": {
            k: {
                "surveys": v,
                "summary": {
                    **summarise_comparison(v, names),
                    "joint_c2st_mean": float(np.mean([r["c2st_joint"] for r in v])),
                },
            }
            for k, v in records.items()
        },
        "calibration": {k: bench_sbi.calibration(d, truth, names) for k, d in draws.items()},
    }


def markdown(res: dict, machine: str) -> str:
    """The report: per-global agreement with NUTS for both, calibration, wall times."""
    cig, sbi = res["vs_nuts"]["cigars"]["summary"], res["vs_nuts"]["sbi"]["summary"]
    if "simulations" in res:  # run_stored
        source = [
            f"Both trained on the same {res['n_train']} stored surveys (`"
            + "`, `".join(Path(p).name for p in res["simulations"])
            + f"`, {res['n_features']} features per SN incl. the Laplace features; cigars with "
            "the config's own schedule); held-out surveys: those of `cigars validate --seed "
            f"{res['seed']}`, calibration on {res['n_test']}, NUTS ({res['nuts_warmup']} + "
            f"{res['num_samples']} draws; {sum(res['nuts_divergences'])} divergences) on the "
            f"first {res['n_nuts']} ({min(res['n_objects_nuts'])}-{max(res['n_objects_nuts'])} "
            f"SNe). sbi: `max_num_epochs` {res['sbi_max_epochs']}, {res['sbi_epochs']} epochs "
            f"trained; its validation loss was lowest at epoch {res['sbi_best_epoch']}"
            + (
                " (stopped by the cap, not by its own early stopping)."
                if res["sbi_epochs"] >= res["sbi_max_epochs"]
                else " (stopped by its own early stopping)."
            ),
        ]
        usage = "`python benchmarks/bench_sbi_nuts.py --simulations ...`"
    else:
        source = [
            f"Both trained on the same {res['n_train']} stored surveys; NUTS "
            f"({res['nuts_warmup']} + {res['num_samples']} draws) on the first {res['n_nuts']} "
            f"of {res['n_test']} held-out surveys "
            f"({', '.join(map(str, res['n_objects_nuts']))} SNe; "
            f"{sum(res['nuts_divergences'])} divergences; {np.mean(res['nuts_s']):.0f} s each).",
        ]
        usage = "`python benchmarks/bench_sbi_nuts.py`"
    lines = [
        "# cigars vs sbi at an equal simulation budget, both against NUTS",
        "",
        f"Machine: {machine}. Produced by {usage} (see its",
        f"docstring). Model: `{res['config']}` (known-hosts sub-model, exact likelihood).",
        *source,
        "",
        "| | cigars | sbi |",
        "|---|---|---|",
        f"| training wall time (s) | {res['cigars_train_s']:.0f} | {res['sbi_train_s']:.0f} |",
        f"| steps / epochs | {res['cigars_steps']} x {res['cigars_batch_size']} | "
        f"{res['sbi_epochs']} epochs |",
        f"| joint C2ST vs NUTS (mean) | {cig['joint_c2st_mean']:.3f} | "
        f"{sbi['joint_c2st_mean']:.3f} |",
    ]
    for k, label in (
        ("tarp_max_dev", "TARP max deviation"),
        ("min_sbc_ks_p", "min SBC KS p"),
        ("mean_cov68", "mean 68% coverage"),
        ("mean_cov95", "mean 95% coverage"),
    ):
        a, b = res["calibration"]["cigars"][k], res["calibration"]["sbi"][k]
        lines.append(f"| {label} | {a:.3f} | {b:.3f} |")
    lines += [
        "",
        f"Training-time ratio cigars/sbi: {res['train_time_ratio_cigars_over_sbi']:.2f}. "
        f"TARP tolerance for {res['n_test']} surveys: "
        f"{res['calibration']['cigars']['tarp_tolerance']:.3f}.",
        "",
        "Per global, mean over the NUTS surveys: C2ST / |mean shift| in NUTS sd / median sd "
        "ratio (targets: C2ST <= 0.6, shift < 0.2, ratio in [0.8, 1.25]).",
        "",
        "| global | cigars | sbi |",
        "|---|---|---|",
    ]
    for n in res["names"]:
        a, b = cig[n], sbi[n]
        lines.append(
            f"| {n} | {a['c2st_mean']:.3f} / {a['abs_shift_mean']:.2f} / "
            f"{a['sd_ratio_median']:.2f} | {b['c2st_mean']:.3f} / {b['abs_shift_mean']:.2f} / "
            f"{b['sd_ratio_median']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def run_stored(
    simulations,
    bank,
    *,
    seed: int = 777,
    n_test: int = 100,
    n_nuts: int = 16,
    nuts_cache=None,
    sbi_epochs: int = 100,
) -> dict:
    """Both trained on stored sets at the config's budget; judged on validation surveys."""
    import itertools

    import torch
    from tqdm.auto import tqdm

    from cigars.config import load_experiment
    from cigars.experiment import _stored_training_set, npe_problem, train_experiment
    from cigars.hosts import load_bank
    from cigars.inference import sample_posterior
    from cigars.likelihood._reference import (
        compare_with_nuts,
        nuts_setup,
        survey_nuts,
    )
    from cigars.likelihood._submodel import sn_data_from_simulation, sn_model_for
    from cigars.validate import fitting_surveys
    from cigars.validate._run import _compact

    exp = load_experiment(CONFIG)
    training = exp.inference.training
    sampler = exp.likelihood.sampler
    num_samples = sampler.num_samples
    torch.set_num_threads(os.cpu_count() or 1)
    work = Path(os.environ.get("CIGARS_BENCH_DIR", "/tmp/cigars-bench-sbi"))
    work.mkdir(parents=True, exist_ok=True)
    simulate_one, prior, _ = npe_problem(exp, load_bank(bank))
    names = list(prior.names)

    # the held-out surveys: those of `cigars validate --seed seed`
    fitting = fitting_surveys(jax.jit(simulate_one), prior, seed, training.max_objects, 10 * n_test)
    test = list(tqdm(itertools.islice(fitting, n_test), total=n_test, desc="test surveys"))

    # cigars, as `cigars train CONFIG --simulations ...`
    run_dir = work / f"kh-cigars-stored-{int(time.time())}"
    t0 = time.perf_counter()
    result = train_experiment(exp, bank, run_dir, simulations=simulations, progress=True)
    t_cigars = time.perf_counter() - t0
    d_cig = []
    for _, (_, _, k_post), _, sim in tqdm(test, desc="cigars draws"):
        data, mask, context, _ = _compact(sim.data, sim.mask, sim.context)
        th, _ = sample_posterior(result.estimator, k_post, data, mask, context, num_samples)
        d_cig.append(np.asarray(th, np.float64))
    d_cig = np.stack(d_cig)

    # sbi, on the same surveys and features
    stored = _stored_training_set(exp, simulations)
    theta_tr = np.asarray(stored.theta)
    rows = stored.mask.shape[1]
    n_feat = stored.data.shape[-1]
    f_tr, m_tr = bench_sbi.compact_surveys(stored.data, stored.mask, stored.context, rows)
    del stored
    x_tr, mean, sd = bench_sbi.sbi_inputs(f_tr, m_tr)
    del f_tr, m_tr
    posterior, t_sbi, epochs, sbi_val = bench_sbi.train_sbi(
        theta_tr,
        x_tr,
        bench_sbi._torch_prior(exp, names),
        n_val=training.n_val,
        max_epochs=sbi_epochs,
        batch_size=training.batch_size * 4,
        progress=True,
    )
    del x_tr
    f_te, m_te = bench_sbi.compact_surveys(
        np.stack([np.asarray(t[3].data) for t in test]),
        np.stack([np.asarray(t[3].mask) for t in test]),
        np.stack([np.asarray(t[3].context) for t in test]),
        rows,
    )
    x_te, _, _ = bench_sbi.sbi_inputs(f_te, m_te, mean, sd)
    d_sbi = bench_sbi.sbi_draws(posterior, x_te, num_samples)

    # NUTS on the first n_nuts (the cache of `cigars validate --nuts-cache`)
    model = sn_model_for(exp)
    selection = exp.simulator.selection.build()
    setup = nuts_setup(exp)
    records = {"cigars": [], "sbi": []}
    nuts_s, divergences, cached = [], [], []
    for j, (_, (_, _, k_post), theta_vec, sim) in enumerate(tqdm(test[:n_nuts], desc="NUTS")):
        with jax.enable_x64(True):
            data = sn_data_from_simulation(sim.data, sim.mask, sim.context)
            _, _, (nuts, n_div, t_nuts), hit = survey_nuts(
                exp,
                setup,
                model,
                selection,
                k_post,
                prior.global_prior.from_array(theta_vec),
                theta_vec,
                data,
                num_warmup=sampler.num_warmup,
                num_samples=num_samples,
                cache=nuts_cache,
            )
        nuts_s.append(t_nuts)
        divergences.append(n_div)
        cached.append(hit)
        for name, d in (("cigars", d_cig), ("sbi", d_sbi)):
            records[name].append(
                compare_with_nuts(d[j], nuts, names, jax.random.fold_in(k_post, 2))
            )

    truth = np.stack([np.asarray(t[2], np.float64) for t in test])
    return {
        "quick": False,
        "config": os.path.relpath(CONFIG, HERE.parent),
        "simulations": [str(p) for p in simulations],
        "seed": seed,
        "n_train": len(theta_tr),
        "n_val": training.n_val,
        "n_test": n_test,
        "n_nuts": n_nuts,
        "num_samples": num_samples,
        "nuts_warmup": sampler.num_warmup,
        "nuts_s": nuts_s,
        "nuts_divergences": divergences,
        "nuts_cached": cached,
        "n_objects_nuts": [int(np.asarray(t[3].mask).sum()) for t in test[:n_nuts]],
        "n_features": n_feat,
        "cigars_train_s": t_cigars,
        "cigars_steps": result.step,
        "cigars_batch_size": training.batch_size,
        "cigars_best_val_loss": result.best_val_loss,
        "cigars_run": str(run_dir),
        "sbi_train_s": t_sbi,
        "sbi_epochs": epochs,
        "sbi_max_epochs": sbi_epochs,
        "sbi_val_losses": sbi_val,
        "sbi_best_epoch": int(np.argmin(sbi_val)) + 1,
        "train_time_ratio_cigars_over_sbi": t_cigars / t_sbi,
        "names": names,
        **_judged(records, {"cigars": d_cig, "sbi": d_sbi}, truth, names),
    }


def main(quick: bool = False, stored: dict | None = None) -> dict:
    """Run, write the report (full runs), return the numbers.

    ``stored``: keyword arguments of :func:`run_stored` (the comparison at the config's
    budget, written to ``*_FULL``/``*_full`` files) instead of :func:`run`.
    """
    from cigars.io import atomic_write_text

    res = run(quick) if stored is None else run_stored(**stored)
    machine = os.environ.get("CIGARS_BENCH_MACHINE", f"{os.cpu_count()} CPU cores")
    if not quick:
        tail = "" if stored is None else "_full"
        atomic_write_text(HERE / f"sbi_nuts_comparison{tail}.json", json.dumps(res, indent=2))
        atomic_write_text(HERE / f"SBI_NUTS_COMPARISON{tail.upper()}.md", markdown(res, machine))
    return res


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few-minute smoke version")
    parser.add_argument(
        "--simulations", nargs="+", type=Path, help="stored training sets: compare at this budget"
    )
    parser.add_argument("--bank", type=Path, help="the sets' galaxy bank (with --simulations)")
    parser.add_argument("--seed", type=int, default=777, help="held-out surveys' seed")
    parser.add_argument("--n-test", type=int, default=100, help="surveys for calibration")
    parser.add_argument("--n-nuts", type=int, default=16, help="surveys compared with NUTS")
    parser.add_argument("--nuts-cache", type=Path, help="NUTS draws cache (cigars validate's)")
    parser.add_argument("--sbi-epochs", type=int, default=100, help="sbi's epoch limit")
    args = parser.parse_args()
    stored = None
    if args.simulations:
        if args.bank is None or args.quick:
            parser.error("--simulations needs --bank and is not a --quick run")
        stored = {
            "simulations": args.simulations,
            "bank": args.bank,
            "seed": args.seed,
            "n_test": args.n_test,
            "n_nuts": min(args.n_nuts, args.n_test),
            "nuts_cache": args.nuts_cache,
            "sbi_epochs": args.sbi_epochs,
        }
    out = main(args.quick, stored)
    print(markdown(out, f"{os.cpu_count()} CPU cores"))
