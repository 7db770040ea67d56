"""Peer side-by-side: cigars' hierarchical NPE against ``sbi``'s NPE on the same simulations.

One stored training set of the quick-start experiment (``configs/quickstart.yaml``) and one
held-out test set are simulated once (``cigars.experiment.simulate_training_set``; simulation
time is reported separately). Both estimators are trained on exactly the same surveys:

* cigars: :func:`cigars.inference.train` with ``dataset=`` (globals AND the per-object latents;
  the quick-start estimator config; the last ``n_val`` surveys are its validation set);
* sbi (``NPE``): a neural spline flow (``posterior_nn("nsf")``) over the GLOBAL parameters only
  (sbi has no per-object latents) with sbi's ``PermutationInvariantEmbedding`` over the objects
  (trial net: an MLP on each object's 18 features + 2 context columns). Sizes roughly matched to
  cigars: trial net width 128 -> 64, aggregation ``mean``, then a 128-wide FC to a 64-d summary;
  flow of 4 transforms, width 128, 8 bins. Variable survey sizes: sbi 0.27's
  ``PermutationInvariantEmbedding`` can mask NaN-padded objects, but its posterior refuses an
  observation containing NaN (``process_x``) and NPE drops NaN simulations by default, so instead
  every survey's valid objects are moved to the front, the padding is zero and a 0/1 mask
  channel is appended; the trial net multiplies its output by the mask and adds the mask as an
  extra output, so the mean over the fixed slots is a masked sum plus the object fraction. The
  object features are z-scored here with statistics of the valid training rows
  (``z_score_x="none"`` in sbi).

Both see the same compacted arrays: valid objects first, ``n_rows`` slots (the largest survey
in either set, rounded up to 64) instead of the simulator's 1,536; cigars ignores padding and
order, so this changes nothing for it but its cost.

Evaluation on the same held-out surveys, globals only: SBC rank uniformity (chi-square and KS
p-values), 68/95% central coverage, TARP (``cigars.validate``), mean posterior sd of each global
(sharpness), and C2ST between the two estimators' posteriors on a few surveys
(``cigars.inference.c2st``; 0.5 = indistinguishable). No NUTS reference (the likelihood
module's NUTS covers the SN model with known redshifts and hosts, not this photometric
hierarchical model).

Usage: ``python benchmarks/bench_sbi.py [--quick]``; also ``run(quick)`` / ``main(quick)`` for
``python -m benchmarks``. Writes ``benchmarks/SBI_COMPARISON.md`` and
``benchmarks/sbi_comparison.json`` (full runs only). Simulations are cached in
``$CIGARS_BENCH_DIR`` (default ``/tmp/cigars-bench-sbi``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import jax
import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONFIG = ROOT / "configs" / "quickstart.yaml"


def compact_surveys(data, mask, context, n_rows: int | None = None):
    """Valid objects first, ``n_rows`` slots: ``(features, mask)`` with features = data ++ context.

    ``n_rows`` defaults to the largest survey rounded up to a multiple of 64.
    """
    data, mask, context = np.asarray(data), np.asarray(mask, bool), np.asarray(context)
    counts = mask.sum(axis=1)
    if n_rows is None:
        n_rows = int(-(-max(int(counts.max()), 1) // 64) * 64)
    if counts.max() > n_rows:
        raise ValueError(f"compact_surveys: a survey has {counts.max()} objects > n_rows={n_rows}")
    feats = np.concatenate([data, context], axis=-1).astype(np.float32)
    order = np.argsort(~mask, axis=1, kind="stable")[:, :n_rows]
    out = np.take_along_axis(feats, order[..., None], axis=1)
    m = np.arange(n_rows)[None, :] < counts[:, None]
    out = np.where(m[..., None], out, 0.0).astype(np.float32)
    return out, m


def sbi_inputs(feats, mask, mean=None, sd=None):
    """z-score valid rows (statistics from these unless given), zero padding, + a mask channel."""
    valid = feats[mask]
    if mean is None:
        mean, sd = valid.mean(axis=0), valid.std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
    x = (feats - mean) / sd
    x = np.where(mask[..., None], x, 0.0)
    x = np.concatenate([x, mask[..., None]], axis=-1).astype(np.float32)
    return x, mean, sd


def _torch_prior(exp, names):
    import torch
    from sbi.utils import MultipleIndependent

    dists = []
    for name in names:
        spec = exp.prior.params[name]
        ((kind, args),) = spec.items()
        lo, hi = (torch.tensor([float(a)]) for a in args)
        if kind == "uniform":
            dists.append(torch.distributions.Uniform(lo, hi))
        elif kind == "normal":
            dists.append(torch.distributions.Normal(lo, hi))
        else:
            raise ValueError(f"bench_sbi: prior {name}: {kind!r} not mapped to torch")
    return MultipleIndependent(dists, validate_args=False)


def train_sbi(
    theta,
    x,
    prior,
    *,
    n_val: int,
    max_epochs: int,
    batch_size: int,
    seed: int = 0,
    progress: bool = False,
):
    """sbi NPE (NSF + PermutationInvariantEmbedding).

    Returns (posterior, seconds, epochs, validation losses per epoch); ``progress``: sbi's
    epoch counter on stderr.
    """
    import torch
    from sbi.inference import NPE
    from sbi.neural_nets import posterior_nn
    from sbi.neural_nets.embedding_nets import FCEmbedding, PermutationInvariantEmbedding

    class MaskedTrial(torch.nn.Module):
        """Trial net on the features; output zeroed on padded slots, plus the mask itself."""

        def __init__(self, n_in):
            super().__init__()
            self.net = FCEmbedding(input_dim=n_in, output_dim=64, num_layers=3, num_hiddens=128)

        def forward(self, x):
            m = x[..., -1:]
            return torch.cat([self.net(x[..., :-1]) * m, m], dim=-1)

    torch.manual_seed(seed)
    embed = PermutationInvariantEmbedding(
        MaskedTrial(x.shape[-1] - 1),
        trial_net_output_dim=65,
        aggregation_fn="mean",
        num_hiddens=128,
        output_dim=64,
    )
    builder = posterior_nn(
        model="nsf",
        embedding_net=embed,
        hidden_features=128,
        num_transforms=4,
        num_bins=8,
        z_score_x="none",
    )
    inference = NPE(prior=prior, density_estimator=builder, show_progress_bars=progress)
    inference.append_simulations(
        torch.as_tensor(theta, dtype=torch.float32),
        torch.as_tensor(x),
    )
    t0 = time.perf_counter()
    net = inference.train(
        training_batch_size=batch_size,
        learning_rate=5e-4,
        validation_fraction=n_val / len(theta),
        max_num_epochs=max_epochs,
        stop_after_epochs=20,
        show_train_summary=progress,
    )
    seconds = time.perf_counter() - t0
    epochs = int(inference.summary["epochs_trained"][-1])
    val_losses = [float(v) for v in inference.summary["validation_loss"]]
    return inference.build_posterior(net), seconds, epochs, val_losses


def sbi_draws(posterior, x, num_samples: int, seed: int = 0):
    import torch

    torch.manual_seed(seed)
    out = []
    for xi in x:
        s = posterior.sample((num_samples,), x=torch.as_tensor(xi[None]), show_progress_bars=False)
        out.append(s.numpy().astype(np.float64))
    return np.stack(out)


def cigars_draws(estimator, feats, mask, n_feat: int, num_samples: int, seed: int = 0):
    """Globals-only draws from cigars' estimator (embedding + global flow), one survey at a time."""
    from flax import nnx

    graphdef, state = nnx.split(estimator)

    @jax.jit
    def draw(state, key, data, m, ctx):
        model = nnx.merge(graphdef, state)
        s, _, _ = model.embed(data, m, ctx)
        return model.z_to_theta(model.global_flow.sample(key, s, num_samples))

    key = jax.random.key(seed)
    out = []
    for i in range(len(feats)):
        th = draw(
            state, jax.random.fold_in(key, i), feats[i, :, :n_feat], mask[i], feats[i, :, n_feat:]
        )
        out.append(np.asarray(th, dtype=np.float64))
    return np.stack(out)


def calibration(draws, truth, names) -> dict:
    """SBC p-values, 68/95% coverage, TARP deviation and mean posterior sd per global."""
    from cigars.validate import (
        central_coverage,
        coverage_deviation,
        coverage_tolerance,
        rank_uniformity,
        sbc_ranks,
        tarp_coverage,
    )

    num = draws.shape[1]
    ranks = sbc_ranks(draws, truth)
    uni = rank_uniformity(ranks, num)
    cov = central_coverage(ranks, num, np.array([0.68, 0.95]))
    tarp = tarp_coverage(draws, truth)
    sd = draws.std(axis=1, ddof=1).mean(axis=0)
    prior_sd = truth.std(axis=0, ddof=1)
    per = {
        n: {
            "sbc_chi2_p": float(uni["chi2_p"][j]),
            "sbc_ks_p": float(uni["ks_p"][j]),
            "cov68": float(cov[0, j]),
            "cov95": float(cov[1, j]),
            "post_sd": float(sd[j]),
            "sd_over_truth_spread": float(sd[j] / prior_sd[j]),
        }
        for j, n in enumerate(names)
    }
    return {
        "per_param": per,
        "tarp_max_dev": float(coverage_deviation(tarp["levels"], tarp["coverage"])),
        "tarp_tolerance": coverage_tolerance(len(truth)),
        "min_sbc_ks_p": float(np.min(uni["ks_p"])),
        "mean_cov68": float(np.mean(cov[0])),
        "mean_cov95": float(np.mean(cov[1])),
        "median_sd_over_truth_spread": float(np.median(sd / prior_sd)),
    }


def quickstart_bank(work: Path) -> Path:
    """``$CIGARS_BENCH_BANK``, or the quick-start bank built once into ``work`` (seconds)."""
    if "CIGARS_BENCH_BANK" in os.environ:
        return Path(os.environ["CIGARS_BENCH_BANK"])
    from cigars.config import load_experiment
    from cigars.experiment import build_experiment_bank

    path = work / "quickstart-bank.h5"
    if not path.exists():
        build_experiment_bank(load_experiment(HERE.parent / "configs" / "quickstart.yaml"), path)
    return path


def _simulations(exp, bank, path: Path, n: int, seed: int):
    from cigars.experiment import simulate_training_set
    from cigars.io._simulations import read_simulations

    seconds = 0.0
    if not path.exists():
        t0 = time.perf_counter()
        simulate_training_set(exp, bank, path, n, seed=seed, progress=True)
        seconds = time.perf_counter() - t0
    sim, _ = read_simulations(path)
    if len(sim.theta) != n:
        raise ValueError(f"{path}: holds {len(sim.theta)} surveys, expected {n}")
    return sim, seconds


def run(
    quick: bool = False,
    *,
    n_train: int = 3000,
    n_test: int = 128,
    cigars_steps: int = 400,
    sbi_epochs: int = 2,
    num_samples: int = 200,
    n_c2st: int = 3,
) -> dict:
    """Simulate (cached), train both, evaluate on the held-out surveys; returns the numbers."""
    import torch

    from cigars.config import load_experiment
    from cigars.experiment import experiment_truth, npe_problem
    from cigars.hosts import load_bank
    from cigars.inference import c2st, fit_objects, train

    if quick:
        n_train, n_test, cigars_steps, sbi_epochs, num_samples, n_c2st = 400, 30, 150, 5, 200, 2
    torch.set_num_threads(os.cpu_count() or 1)
    work = Path(os.environ.get("CIGARS_BENCH_DIR", "/tmp/cigars-bench-sbi"))
    work.mkdir(parents=True, exist_ok=True)
    bank = quickstart_bank(work)
    exp = load_experiment(CONFIG)
    training = dataclasses.replace(exp.inference.training, steps=cigars_steps)
    npe_config = dataclasses.replace(exp.inference, training=training)
    n_val = training.n_val
    names = list(exp.prior.build(experiment_truth(exp)).names)

    sim_tr, t_sim_tr = _simulations(exp, bank, work / f"train-{n_train}.h5", n_train, seed=11)
    sim_te, t_sim_te = _simulations(exp, bank, work / f"test-{n_test}.h5", n_test, seed=12)
    n_feat = sim_tr.data.shape[-1]
    rows = int(-(-max(sim_tr.mask.sum(1).max(), sim_te.mask.sum(1).max()) // 64) * 64)
    f_tr, m_tr = compact_surveys(sim_tr.data, sim_tr.mask, sim_tr.context, rows)
    f_te, m_te = compact_surveys(sim_te.data, sim_te.mask, sim_te.context, rows)
    # cigars gets the same valid rows first in the same slots (its padded rows are ignored)
    dataset, _ = fit_objects(jax.tree.map(np.asarray, sim_tr), rows)

    # cigars
    _, prior, local_bounds = npe_problem(exp, load_bank(bank))
    run_dir = work / f"cigars-run-{'quick' if quick else 'full'}-{int(time.time())}"
    t0 = time.perf_counter()
    result = train(
        npe_config, None, prior, run_dir, local_bounds=local_bounds, dataset=dataset, progress=True
    )
    t_cigars = time.perf_counter() - t0
    d_cig = cigars_draws(result.estimator, f_te, m_te, n_feat, num_samples)

    # sbi
    x_tr, mean, sd = sbi_inputs(f_tr, m_tr)
    x_te, _, _ = sbi_inputs(f_te, m_te, mean, sd)
    posterior, t_sbi, epochs, _ = train_sbi(
        np.asarray(sim_tr.theta),
        x_tr,
        _torch_prior(exp, names),
        n_val=n_val,
        max_epochs=sbi_epochs,
        batch_size=training.batch_size * 4,
    )
    t0 = time.perf_counter()
    d_sbi = sbi_draws(posterior, x_te, num_samples)
    t_sbi_sample = time.perf_counter() - t0

    truth = np.asarray(sim_te.theta, dtype=np.float64)
    key = jax.random.key(3)
    c2 = [
        float(c2st(jax.random.fold_in(key, i), d_cig[i], d_sbi[i], steps=300))
        for i in range(n_c2st)
    ]
    return {
        "quick": quick,
        "n_train": n_train,
        "n_val": n_val,
        "n_test": n_test,
        "n_rows": rows,
        "n_theta": len(names),
        "num_samples": num_samples,
        "simulation_s_train": t_sim_tr,
        "simulation_s_test": t_sim_te,
        "cigars_train_s": t_cigars,
        "cigars_steps": result.step,
        "cigars_batch_size": training.batch_size,
        "cigars_surveys_seen": result.step * training.batch_size,
        "cigars_best_val_loss": result.best_val_loss,
        "cigars_stopped_early": result.stopped_early,
        "sbi_train_s": t_sbi,
        "sbi_epochs": epochs,
        "sbi_batch_size": training.batch_size * 4,
        "sbi_surveys_seen": epochs * (n_train - n_val),
        "sbi_sample_s": t_sbi_sample,
        "train_time_ratio_cigars_over_sbi": t_cigars / t_sbi,
        "cigars": calibration(d_cig, truth, names),
        "sbi": calibration(d_sbi, truth, names),
        "c2st_cigars_vs_sbi": c2,
        "names": names,
    }


def _flat(res: dict) -> dict:
    """Scalar summary for the benchmark runner's table."""
    out = {k: v for k, v in res.items() if isinstance(v, (int, float, bool, str))}
    for est in ("cigars", "sbi"):
        for k in (
            "tarp_max_dev",
            "min_sbc_ks_p",
            "mean_cov68",
            "mean_cov95",
            "median_sd_over_truth_spread",
        ):
            out[f"{est}_{k}"] = res[est][k]
    out["c2st_mean"] = float(np.mean(res["c2st_cigars_vs_sbi"]))
    return out


def markdown(res: dict, machine: str) -> str:
    lines = [
        "# cigars vs sbi NPE on the same simulations",
        "",
        f"Machine: {machine}. Produced by `python benchmarks/bench_sbi.py` (see its docstring",
        "for the set-up). Wall times are on a CPU shared with other jobs: treat ratios as rough.",
        "",
        "| quantity | cigars | sbi |",
        "|---|---|---|",
        f"| training wall time (s) | {res['cigars_train_s']:.0f} | {res['sbi_train_s']:.0f} |",
        f"| steps / epochs | {res['cigars_steps']} steps x {res['cigars_batch_size']} | "
        f"{res['sbi_epochs']} epochs x {res['n_train'] - res['n_val']} "
        f"(batch {res['sbi_batch_size']}) |",
        f"| surveys seen in training | {res['cigars_surveys_seen']} | {res['sbi_surveys_seen']} |",
        f"| what is learned | globals + {''}per-object latents | globals only |",
    ]
    for k, label in (
        ("tarp_max_dev", "TARP max deviation"),
        ("min_sbc_ks_p", "min SBC KS p"),
        ("mean_cov68", "mean 68% coverage"),
        ("mean_cov95", "mean 95% coverage"),
        ("median_sd_over_truth_spread", "median posterior sd / prior spread"),
    ):
        lines.append(f"| {label} | {res['cigars'][k]:.3f} | {res['sbi'][k]:.3f} |")
    lines += [
        "",
        f"Simulations (not counted above): {res['n_train']} training surveys in "
        f"{res['simulation_s_train']:.0f} s, {res['n_test']} test surveys in "
        f"{res['simulation_s_test']:.0f} s (0 = cached: then see SBI_COMPARISON.md's notes). "
        "Training-time ratio cigars/sbi: "
        f"{res['train_time_ratio_cigars_over_sbi']:.2f}. TARP tolerance for "
        f"{res['n_test']} surveys: {res['cigars']['tarp_tolerance']:.3f}.",
        "",
        "C2ST cigars vs sbi posterior (globals, "
        f"{res['num_samples']} draws each; 0.5 = same): "
        + ", ".join(f"{c:.3f}" for c in res["c2st_cigars_vs_sbi"]),
        "",
        "| global | cigars sd | sbi sd | cigars cov68/95 | sbi cov68/95 | cigars KS p | sbi KS p |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in res["names"]:
        a, b = res["cigars"]["per_param"][n], res["sbi"]["per_param"][n]
        lines.append(
            f"| {n} | {a['post_sd']:.4g} | {b['post_sd']:.4g} | {a['cov68']:.2f}/{a['cov95']:.2f} "
            f"| {b['cov68']:.2f}/{b['cov95']:.2f} | {a['sbc_ks_p']:.2f} | {b['sbc_ks_p']:.2f} |"
        )
    lines += [
        "",
        "Notes:",
        "",
        "- Same simulations for both (the stored training set; cigars' last `n_val` surveys are",
        "  its validation set, sbi holds out the same fraction at random). Simulation time is not",
        "  part of the training times.",
        "- sbi learns the globals only (it has no per-object latents); cigars also trains its",
        "  per-object flows in the same wall time, and only its globals are compared here.",
        "- Both trainings are short, equal-order wall-time budgets on a shared 2-core CPU, far",
        "  from convergence (posterior sd / prior spread near 1 means little was learned yet);",
        "  the comparison is of speed and calibration at a fixed small budget, not of converged",
        "  posteriors. `max_num_epochs=2` in sbi ran the epochs sbi reports above.",
        "- No C2ST against NUTS: `cigars.likelihood`'s NUTS covers the SN model with known",
        "  redshifts and hosts, not this photometric hierarchical quick-start model.",
    ]
    return "\n".join(lines) + "\n"


def main(quick: bool = False) -> dict:
    """Entry point of ``python -m benchmarks``: runs :func:`run`, writes the report (full runs)."""
    from cigars.io import atomic_write_text

    res = run(quick)
    machine = os.environ.get("CIGARS_BENCH_MACHINE", f"{os.cpu_count()} CPU cores")
    if not quick:
        atomic_write_text(HERE / "sbi_comparison.json", json.dumps(res, indent=2))
        atomic_write_text(HERE / "SBI_COMPARISON.md", markdown(res, machine))
    return _flat(res)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few-minute version")
    args = parser.parse_args()
    print(json.dumps(main(args.quick), indent=2))
