"""Paper scale on one accelerator: train CIGaRS-I on the fly, check it, infer a reference mock.

Usage (on a GPU machine; see docs/checks.md for the recorded run)::

    python -m benchmarks.paper_scale configs/cigars-i-16k.yaml \
        --reference ../shared/data/cigars-reference/mock-16k.npz --train-seconds 240 -o OUT

Steps, each timed, with compilation reported apart from the steady state:

1. the galaxy bank (built with the config's SPS provider unless ``--bank`` names one);
2. a short probe run that measures training steps per second, from which the step count that
   fits ``--train-seconds`` is set (so the learning-rate schedule runs to its end);
3. training with simulations drawn inside each jitted step;
4. 1,000 joint draws of every global and per-object parameter for the reference mock, with the
   posterior next to the truth and the reference's released posterior (MODEL.md section 8), and
   host photo-z metrics against the true redshifts;
5. calibration on ``--n-cal`` fresh simulations from the prior: coverage of the central 68% and
   95% intervals and SBC rank uniformity per global parameter.

Everything lands in ``OUT/paper_scale.json`` (plus the loss curve and the metrics log).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import jax
import numpy as np

from cigars.io import atomic_write_text

#: The reference's released final posteriors (mean, sd), MODEL.md section 8.
REFERENCE_POSTERIOR = {
    "16k": {
        "Om0": (0.326, 0.032),
        "Ode0": (0.744, 0.052),
        "dtd_A": (-12.1508, 0.0065),
        "dtd_s": (-1.356, 0.016),
        "M0": (-19.515, 0.014),
        "sigma_res": (0.0972, 0.0026),
        "alpha": (-0.1390, 0.0017),
        "beta": (2.201, 0.018),
        "alpha_c": (0.0016, 0.0009),
        "step_loc": (10.07, 0.11),
        "step_M": (-0.042, 0.015),
        "gamma_Z": (-0.116, 0.015),
        "gamma_age": (-0.0303, 0.0017),
    },
    "1.6k": {
        "Om0": (0.268, 0.102),
        "Ode0": (0.643, 0.159),
        "dtd_A": (-12.134, 0.018),
        "dtd_s": (-1.287, 0.045),
        "M0": (-19.475, 0.053),
        "sigma_res": (0.109, 0.009),
        "alpha": (-0.1446, 0.0062),
        "beta": (2.256, 0.063),
        "alpha_c": (0.0014, 0.0030),
        "step_loc": (9.88, 0.43),
        "step_M": (-0.067, 0.051),
        "gamma_Z": (-0.068, 0.052),
        "gamma_age": (-0.0304, 0.0060),
    },
}


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _write(path: Path, record: dict) -> None:
    atomic_write_text(path, json.dumps(record, indent=1, default=float))


def photoz_metrics(z_mean: np.ndarray, z_true: np.ndarray) -> dict[str, float]:
    """Bias, sigma_NMAD, outlier fractions and median |dz| of point estimates."""
    dz = (z_mean - z_true) / (1 + z_true)
    return {
        "n": int(len(dz)),
        "bias": float(np.median(dz)),
        "sigma_nmad": float(1.4826 * np.median(np.abs(dz - np.median(dz)))),
        "eta_0.15": float(np.mean(np.abs(dz) > 0.15)),
        "eta_0.05": float(np.mean(np.abs(dz) > 0.05)),
        "median_abs_dz": float(np.median(np.abs(z_mean - z_true))),
    }


def calibration(ranks: np.ndarray, inside68: np.ndarray, inside95: np.ndarray, names) -> dict:
    """Coverage and SBC (chi-square on 10 rank bins) per parameter."""
    from scipy import stats

    n_sims, n_draws = ranks.shape[0], ranks.max() + 1
    out = {}
    for j, name in enumerate(names):
        counts = np.histogram(ranks[:, j], bins=10, range=(0, n_draws))[0]
        p = stats.chisquare(counts).pvalue
        out[name] = {
            "coverage68": float(inside68[:, j].mean()),
            "coverage95": float(inside95[:, j].mean()),
            "sbc_p": float(p),
        }
    out["n_sims"] = int(n_sims)
    return out


def run(args) -> dict:
    import dataclasses

    from cigars.config import load_experiment
    from cigars.experiment import (
        build_experiment_bank,
        catalogue_arrays,
        experiment_truth,
        npe_problem,
        train_experiment,
    )
    from cigars.hosts import load_bank
    from cigars.inference import fit_objects, sample_posterior, simulate_batch, train
    from cigars.io import read_reference_mock

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    report_path = out / "paper_scale.json"
    report: dict = {
        "config": str(args.config),
        "device": str(jax.devices()[0].device_kind),
        "platform": jax.default_backend(),
        "jax": jax.__version__,
        "python": platform.python_version(),
    }
    exp = load_experiment(args.config)

    # 1. bank -------------------------------------------------------------------------------
    bank_path = Path(args.bank) if args.bank else out / "bank.h5"
    if not bank_path.exists():
        n_galaxies = exp.bank.n_galaxies if args.n_galaxies is None else args.n_galaxies
        t0 = time.perf_counter()
        build_experiment_bank(exp, bank_path, n_galaxies=n_galaxies, progress=False)
        report["bank_seconds"] = time.perf_counter() - t0
        report["bank_galaxies"] = n_galaxies
        _log(f"bank: {n_galaxies} galaxies in {report['bank_seconds']:.1f} s")
        _write(report_path, report)
    bank = load_bank(bank_path)
    simulate_one, prior, local_bounds = npe_problem(exp, bank)
    names = tuple(exp.prior.build(experiment_truth(exp)).names)

    # 2. probe: steps per second ------------------------------------------------------------
    tcfg = exp.inference.training.replace(
        batch_size=args.batch_size,
        n_pilot=args.batch_size,
        n_val=args.batch_size,
        steps=100_000,
        warmup_steps=10,
        log_every=args.probe_steps // 2,
        val_every=100_000,
        checkpoint_every=100_000,
    )
    probe_cfg = exp.inference.replace(training=tcfg)
    t0 = time.perf_counter()
    train(
        probe_cfg,
        simulate_one,
        prior,
        out / "probe",
        local_bounds=local_bounds,
        until_step=args.probe_steps,
        progress=False,
    )
    probe_s = time.perf_counter() - t0
    recs = [json.loads(line) for line in (out / "probe" / "metrics.jsonl").read_text().splitlines()]
    sims_per_s = recs[-1]["sims_per_s"]
    steps_per_s = sims_per_s / args.batch_size
    report["probe"] = {
        "seconds_incl_compile": probe_s,
        "steady_sims_per_s": sims_per_s,
        "steady_steps_per_s": steps_per_s,
        "batch_size": args.batch_size,
    }
    _log(f"probe: {steps_per_s:.2f} steps/s ({sims_per_s:.0f} sims/s) after {probe_s:.0f} s")
    _write(report_path, report)

    # 3. training -----------------------------------------------------------------------------
    steps = max(int(steps_per_s * args.train_seconds), args.min_steps)
    tcfg = exp.inference.training.replace(
        steps=steps,
        batch_size=args.batch_size,
        warmup_steps=max(min(steps // 20, 500), 1),
        n_pilot=args.n_pilot,
        n_val=args.n_val,
        val_every=max(steps // 10, 1),
        patience=100,
        log_every=max(steps // 100, 1),
        checkpoint_every=max(steps // 4, 1),
    )
    # Through train_experiment, so that OUT/run is a run folder like `cigars train` writes
    # (experiment.yaml included): `cigars infer` and `cigars validate` take it as it is.
    t0 = time.perf_counter()
    result = train_experiment(
        exp.replace(inference=exp.inference.replace(training=tcfg)),
        bank_path,
        out / "run",
        init_from=args.init_from,
        progress=False,
    )
    train_s = time.perf_counter() - t0
    report["training"] = {
        "steps": result.step,
        "batch_size": args.batch_size,
        "simulations": result.step * args.batch_size,
        "seconds": train_s,
        "best_val_loss": result.best_val_loss,
        "init_from": args.init_from,
        "training_config": dataclasses.asdict(tcfg),
    }
    _log(f"training: {result.step} steps in {train_s:.0f} s, best val {result.best_val_loss:.3f}")
    _write(report_path, report)
    estimator = result.estimator

    # 4. the reference mock --------------------------------------------------------------------
    if args.reference:
        table, truth = read_reference_mock(args.reference)
        data, context, mask = catalogue_arrays(table, exp, source=str(args.reference))
        timings = []
        for i in range(2):
            t0 = time.perf_counter()
            theta, local = sample_posterior(
                estimator, jax.random.key(i), data, mask, context, num_samples=args.num_samples
            )
            theta, local = jax.block_until_ready((theta, local))
            timings.append(time.perf_counter() - t0)
        theta = np.asarray(theta)
        n = int(mask.sum())
        z_draws = np.asarray(local)[:, :n, 0]
        ref = REFERENCE_POSTERIOR.get(args.reference_label, {})
        rows = {}
        for j, name in enumerate(names):
            mean, sd = float(theta[:, j].mean()), float(theta[:, j].std())
            rows[name] = {
                "mean": mean,
                "sd": sd,
                "truth": truth.get(name),
                "z": (mean - truth[name]) / sd if name in truth else None,
                "reference_mean": ref.get(name, (None, None))[0],
                "reference_sd": ref.get(name, (None, None))[1],
            }
        report["reference_mock"] = {
            "file": str(args.reference),
            "n_sn": n,
            "draws": args.num_samples,
            "seconds_first_call": timings[0],
            "seconds_steady": timings[1],
            "globals": rows,
            "photoz": photoz_metrics(z_draws.mean(0), np.asarray(table["true_z"])),
            "photoz_median_sd": float(np.median(z_draws.std(0))),
        }
        _log(
            f"reference mock: {n} SNe, {args.num_samples} joint draws in {timings[1]:.2f} s; "
            f"Om0 {rows['Om0']['mean']:.3f} +- {rows['Om0']['sd']:.3f}"
        )
        _write(report_path, report)

    # 5. calibration on fresh simulations ------------------------------------------------------
    if args.n_cal:
        sim = jax.jit(lambda k: simulate_batch(simulate_one, prior, k, args.n_cal))(
            jax.random.key(12345)
        )
        sim = jax.device_get(sim)
        # A run trained with max_objects is for the surveys that fit (exactly: TrainingConfig).
        limit = exp.inference.training.max_objects
        kept = range(args.n_cal) if limit is None else np.flatnonzero(fit_objects(sim, limit)[1])
        ranks, in68, in95 = [], [], []
        t0 = time.perf_counter()
        for i in kept:
            draws, _ = sample_posterior(
                estimator,
                jax.random.key(1000 + i),
                sim.data[i],
                sim.mask[i],
                sim.context[i],
                num_samples=args.cal_draws,
            )
            draws = np.asarray(draws)
            true = np.asarray(sim.theta[i])
            ranks.append((draws < true).sum(0))
            lo68, hi68, lo95, hi95 = np.quantile(draws, [0.16, 0.84, 0.025, 0.975], axis=0)
            in68.append((lo68 <= true) & (true <= hi68))
            in95.append((lo95 <= true) & (true <= hi95))
        report["calibration"] = calibration(np.array(ranks), np.array(in68), np.array(in95), names)
        report["calibration"]["seconds"] = time.perf_counter() - t0
        report["calibration"]["skipped_over_max_objects"] = args.n_cal - len(kept)
        _log(f"calibration on {args.n_cal} simulations done")
        _write(report_path, report)
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--reference", help="reference mock .npz to infer")
    parser.add_argument("--reference-label", default="16k", choices=sorted(REFERENCE_POSTERIOR))
    parser.add_argument("--bank", help="existing bank (default: build OUT/bank.h5)")
    parser.add_argument("--n-galaxies", type=int, help="bank size (default: the config's)")
    parser.add_argument("--train-seconds", type=float, default=240.0)
    parser.add_argument("--init-from", help="run folder to fine-tune from (same architecture)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--probe-steps", type=int, default=20)
    parser.add_argument("--min-steps", type=int, default=200)
    parser.add_argument("--n-pilot", type=int, default=256)
    parser.add_argument("--n-val", type=int, default=128)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--n-cal", type=int, default=50)
    parser.add_argument("--cal-draws", type=int, default=200)
    args = parser.parse_args(argv)
    report = run(args)
    print(json.dumps(report, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
