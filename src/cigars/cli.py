"""The ``cigars`` command line: parse, load the config, call a library function. Nothing else."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import cigars

EXIT_USAGE = 2


def _cmd_config_show(args) -> int:
    from cigars.config import dump, load_experiment

    print(dump(load_experiment(args.file)), end="")
    return 0


def _cmd_config_check(args) -> int:
    from cigars.config import load_experiment

    load_experiment(args.file)
    print(f"{args.file}: OK")
    return 0


def _cmd_bank(args) -> int:
    from cigars.config import load_experiment, to_dict
    from cigars.experiment import build_experiment_bank
    from cigars.io import provenance

    exp = load_experiment(args.config)
    n_galaxies = exp.bank.n_galaxies if args.n is None else args.n
    path = build_experiment_bank(
        exp,
        args.output,
        n_galaxies=n_galaxies,
        metadata={"provenance": provenance(), "experiment": to_dict(exp)},
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    print(f"bank written: {path} ({n_galaxies} galaxies, {len(exp.bands.filters)} bands)")
    return 0


def _cmd_reweight_bank(args) -> int:
    from cigars.config import load_experiment
    from cigars.experiment import reweight_bank
    from cigars.io import parse_cuts
    from cigars.plots import plot_host_features

    exp = load_experiment(args.config)
    out = reweight_bank(
        exp,
        args.bank,
        args.data,
        args.output,
        columns=args.columns,
        where=parse_cuts(args.where),
        n_surveys=args.n_surveys,
        seed=args.seed,
        max_weight=args.max_weight,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    print(
        f"weighted bank written: {out['output']} (host photometry of {out['n_data']} of "
        f"{out['n_data_rows']} rows against {out['n_model']} simulated SN hosts; effective "
        f"sample size of the weights {out['ess_fraction']:.1%})"
    )
    print("\n| feature | data | model | re-weighted model |\n|---|---|---|---|")
    for name, m in out["medians"].items():
        new = out["new_medians"][name]
        print(f"| median {name} | {m['data']:.3f} | {m['model']:.3f} | {new:.3f} |")
    factor = out["count_factor"]
    counts = exp.simulator.survey.counts
    print(
        f"\nWith the weights a survey at the true parameters expects {factor:.3g} times as "
        f"many SNe: to keep its size, set simulator.survey.counts to {counts / factor:.4g} "
        f"(now {counts:g})."
    )
    if args.figure:
        path = plot_host_features(out["features"], out["feature_names"], args.figure)
        print(f"figure written: {path}")
    return 0


def _add_where(p) -> None:
    """The ``--where`` row cuts of a command that reads a catalogue (parse with parse_cuts)."""
    p.add_argument(
        "--where",
        action="append",
        default=None,
        metavar="CUT",
        help="keep only the rows with COLUMN OP VALUE on the file's own columns (OP: < <= > >= "
        "== !=; e.g. 'PROBCC_BEAMS<0.5'); repeat for several cuts (all must pass)",
    )


def _parse_truth(items: Sequence[str]) -> dict[str, float]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--truth {item!r}: expected NAME=NUMBER") from None
    return out


def _cmd_simulate(args) -> int:
    from cigars.config import load_experiment
    from cigars.experiment import simulate_mock

    exp = load_experiment(args.config)
    summary = simulate_mock(
        exp,
        args.bank,
        args.output,
        seed=args.seed,
        truth=_parse_truth(args.truth),
        overwrite=args.overwrite,
    )
    print(
        f"mock written: {args.output}: {summary['n_detected']} detected SNe "
        f"(of {summary['n_total']} in {summary['n_hosts_detected']} detected hosts), "
        f"{summary['n_spec']} with spec-z"
    )
    return 0


def _cmd_plot_hubble(args) -> int:
    from cigars.io._mock import read_mock
    from cigars.plots import plot_hubble

    table, _, _, undetected = read_mock(args.mock)
    out = plot_hubble(table, args.output, undetected=undetected if args.undetected else None)
    print(f"figure written: {out}")
    return 0


def _cmd_simulations(args) -> int:
    from cigars.config import load_experiment
    from cigars.experiment import simulate_training_set

    exp = load_experiment(args.config)
    path = simulate_training_set(
        exp,
        args.bank,
        args.output,
        args.n,
        seed=args.seed,
        chunk_size=args.chunk_size,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    print(f"training set written: {path} ({args.n} simulated surveys)")
    return 0


def _cmd_train(args) -> int:
    from cigars.config import load_experiment
    from cigars.experiment import train_experiment

    exp = load_experiment(args.config)
    if args.steps is not None:
        exp = exp.replace(
            inference=exp.inference.replace(
                training=exp.inference.training.replace(steps=args.steps)
            )
        )
    if args.seed is not None:
        exp = exp.replace(inference=exp.inference.replace(seed=args.seed))
    result = train_experiment(
        exp,
        args.bank,
        args.output,
        resume=args.resume,
        progress=not args.quiet,
        simulations=args.simulations,
        data=args.data,
        columns=args.columns,
        init_from=args.init_from,
    )
    print(
        f"training done: {result.step} steps, best validation loss {result.best_val_loss:.4f}"
        f"{' (stopped early)' if result.stopped_early else ''}; run in {args.output}"
    )
    return 0


def _cmd_ensemble(args) -> int:
    from cigars.experiment import ensemble_runs

    out = ensemble_runs(args.runs, args.output)
    print(
        f"ensemble of {len(args.runs)} runs written to {out}: use it as a run folder "
        "(cigars infer / validate draw from the equal-weight mixture of their posteriors)"
    )
    return 0


def _print_cuts(attrs) -> None:
    if attrs.get("where"):
        print(f"--where {attrs['where']}: {attrs['n_read']} of {attrs['n_file_rows']} rows kept")


def _cmd_infer_nuts(args) -> int:
    import numpy as np

    from cigars.config import load_experiment
    from cigars.io import parse_cuts
    from cigars.likelihood import infer_nuts, summary_rows

    used = [f for f in ("columns", "drop_invalid", "photo_z", "importance") if getattr(args, f)]
    if used:
        raise ValueError(
            f"--{used[0].replace('_', '-')} applies to --method npe; with --method nuts set "
            "likelihood.column_map / likelihood.columns in the config"
        )
    exp = load_experiment(args.run_dir)
    idata, names = infer_nuts(
        exp,
        args.data,
        args.output,
        cov_path=args.cov,
        seed=args.seed,
        num_samples=args.num_samples,
        progress=True,
        where=parse_cuts(args.where),
    )
    n_div = int(np.asarray(idata.sample_stats["diverging"]).sum())
    _print_cuts(idata.attrs)
    post = idata.posterior
    print(
        f"posterior written: {args.output} (NUTS, {post.sizes['chain']} chains x "
        f"{post.sizes['draw']} draws, {idata.attrs['n_objects']} objects, {n_div} divergences)"
    )
    print(
        f"{'parameter':>12} {'mean':>10} {'sd':>9} {'3%':>10} {'97%':>10} {'r_hat':>7} {'ess':>7}"
    )
    for r in summary_rows(idata, names):
        print(
            f"{r['name']:>12} {r['mean']:>10.4f} {r['sd']:>9.4f} {r['q03']:>10.4f} "
            f"{r['q97']:>10.4f} {r['r_hat']:>7.3f} {r['ess']:>7.0f}"
        )
    return 0


def _cmd_infer(args) -> int:
    import numpy as np

    from cigars.experiment import drop_report_path, infer_catalogue
    from cigars.io import parse_cuts

    if args.method == "nuts":
        return _cmd_infer_nuts(args)
    if args.cov is not None:
        raise ValueError("--cov applies to --method nuts")
    if args.num_samples is None:
        args.num_samples = 1000
    idata, names = infer_catalogue(
        args.run_dir,
        args.data,
        args.output,
        num_samples=args.num_samples,
        seed=args.seed,
        columns=args.columns,
        drop_invalid=args.drop_invalid,
        photo_z=args.photo_z,
        importance=args.importance,
        where=parse_cuts(args.where),
    )
    post = idata.posterior
    if args.drop_invalid:
        print(
            f"skipped {idata.attrs['n_dropped']} invalid rows of {idata.attrs['n_read']}: "
            f"listed in {drop_report_path(args.output)}"
        )
    _print_cuts(idata.attrs)
    print(f"posterior written: {args.output} ({args.num_samples} joint draws)")
    if idata.attrs.get("method") == "npe-is":
        a = idata.attrs
        verdict = "reliable" if a["importance_reliable"] else "NOT reliable: do not use"
        print(
            f"importance-sampled from {a['importance_n_draws']} neural draws: ESS "
            f"{a['importance_ess']:.0f} (efficiency {a['importance_efficiency']:.3f}), Pareto k "
            f"{a['importance_pareto_k']:.2f} (threshold {a['importance_k_threshold']:.2f}, "
            f"{verdict})"
        )
    print(f"{'parameter':>12} {'mean':>10} {'sd':>9} {'3%':>10} {'97%':>10}")
    for name in names:
        v = np.asarray(post[name]).ravel()
        lo, hi = np.quantile(v, [0.03, 0.97])
        print(f"{name:>12} {v.mean():>10.4f} {v.std():>9.4f} {lo:>10.4f} {hi:>10.4f}")
    return 0


def _cmd_plot_posterior(args) -> int:
    from pathlib import Path

    import arviz as az
    import numpy as np

    from cigars.io import read_mock
    from cigars.plots import plot_corner, plot_photoz

    idata = az.from_netcdf(args.posterior)
    post = idata.posterior
    names = [v for v in post.data_vars if not v.endswith("_obj")]
    samples = {n: np.asarray(post[n]).ravel() for n in names}
    truth = None
    table = None
    if args.mock is not None:
        table, truth, _, _ = read_mock(args.mock)
    out = Path(args.output)
    written = [plot_corner(samples, out / "corner.png", truth=truth, names=names)]
    skipped = None
    if "z_obj" not in post:
        skipped = "the posterior has no per-object redshifts (z_obj), e.g. NUTS on a spec-z sample"
    else:
        z = np.asarray(post["z_obj"]).reshape(-1, post["z_obj"].shape[-1])
        observed = idata.get("observed_data")
        has_column = observed is not None and "z_spec" in observed
        z_spec = np.asarray(observed["z_spec"]) if has_column else np.empty(0)
        has = np.isfinite(z_spec)
        if table is not None and "true_z" in table.colnames:
            written.append(
                plot_photoz(z, np.asarray(table["true_z"]), out / "photoz.png", label="true z")
            )
        elif has.any():
            written.append(
                plot_photoz(z[:, has], z_spec[has], out / "photoz.png", label="spectroscopic z")
            )
        else:
            skipped = "no reference redshifts: give --mock, or infer on data with z_spec"
    for path in written:
        print(f"figure written: {path}")
    if skipped:
        print(f"photo-z figure skipped: {skipped}")
    return 0


def _verdict(report) -> str:
    """``N checks, all passed`` or ``N checks, K failed`` of a validation report."""
    v = report["verdict"]
    summary = "all passed" if v["passed"] else f"{v['n_failed']} failed"
    return f"{v['n_checks']} checks, {summary}"


def _cmd_validate(args) -> int:
    from pathlib import Path

    from cigars.validate import validate_run

    report = validate_run(
        args.run_dir,
        args.output,
        n_sims=args.n_sims,
        num_samples=args.num_samples,
        seed=args.seed,
        progress=not args.quiet,
    )
    print(f"{'check':<32} {'value':>10} {'threshold':>12}  result")
    for c in report["checks"]:
        name = f"{c['section']}: {c['name']}"
        threshold = f"{c['op']} {c['threshold']:.3g}"
        verdict = "pass" if c["passed"] else "FAIL"
        print(f"{name:<32} {c['value']:>10.4g} {threshold:>12}  {verdict}")
    by_width = report["coverage"].get("locals_by_width")
    if by_width:
        print("per-object 68% coverage by quartile of posterior sd (narrowest first):")
        for name in report["coverage"]["locals_pooled"]:
            print(f"{name:>12} " + " ".join(f"{c:.3f}" for c in by_width[name]["coverage_68"]))
    print(f"validation: {_verdict(report)} ({report['n_sims']} simulated surveys)")
    if report.get("skipped_surveys"):
        print(
            f"skipped {len(report['skipped_surveys'])} simulated surveys with more objects than "
            "the run's training.max_objects (the estimator is for the others)"
        )
    out = Path(args.output)
    print(f"report written: {out / 'report.json'}")
    print(f"figures written: {', '.join(str(out / f) for f in report['figures'])}")
    if args.reference == "nuts":
        from cigars.likelihood import nuts_reference

        ref = nuts_reference(
            args.run_dir,
            args.output,
            n_surveys=args.n_reference,
            seed=args.seed,
            importance=args.importance,
            cache=args.nuts_cache,
            progress=not args.quiet,
        )
        cached = sum(s["nuts_cached"] for s in ref["surveys"])
        if cached:
            print(
                f"NUTS draws of {cached} of {ref['n_surveys']} surveys read from {args.nuts_cache}"
            )
        print(f"NUTS reference on {ref['n_surveys']} surveys ({ref['compared']}):")
        print(f"{'parameter':>12} {'C2ST':>7} {'|shift|/sd':>11} {'sd ratio':>9} {'MC noise':>9}")
        for name, r in ref["summary"].items():
            print(
                f"{name:>12} {r['c2st_mean']:>7.3f} {r['abs_shift_mean']:>11.3f} "
                f"{r['sd_ratio_median']:>9.3f} {r['abs_shift_noise']:>9.3f}"
            )
        print("(MC noise: the mean |shift| that the finite draws alone give an exact posterior)")
        print(f"{'joint':>12} {ref['c2st_joint_mean']:>7.3f}")
        weighted = ref.get("importance")
        if weighted:
            print(
                f"importance-sampled to the same likelihood ({weighted['proposals_per_draw']} "
                f"neural proposals per draw; efficiency min {weighted['efficiency_min']:.3f}, "
                f"median {weighted['efficiency_median']:.3f}; Pareto k max "
                f"{weighted['pareto_k_max']:.2f}, "
                f"{'reliable' if weighted['all_reliable'] else 'NOT reliable on every survey'}):"
            )
            for name, r in weighted["summary"].items():
                print(
                    f"{name:>12} {r['c2st_mean']:>7.3f} {r['abs_shift_mean']:>11.3f} "
                    f"{r['sd_ratio_median']:>9.3f}"
                )
            print(f"{'joint':>12} {weighted['c2st_joint_mean']:>7.3f}")
        from cigars.validate import Thresholds, read_report

        th, report = Thresholds(), read_report(out)
        if ref["sub_model"]:
            failed = [
                f"{c['name']} ({c['statistic']} {c['value']:.3g})"
                for c in report["checks"]
                if c["section"] == "reference_nuts" and not c["passed"]
            ]
            print(
                f"NUTS checks (C2ST <= {th.nuts_c2st}, |shift| <= {th.nuts_shift} sd, sd ratio "
                f"in [{1 / th.nuts_sd_ratio:.2f}, {th.nuts_sd_ratio}], Pareto k <= "
                f"{th.pareto_k}): {'all passed' if not failed else 'failed: ' + ', '.join(failed)}"
            )
        print(f"validation with the NUTS reference: {_verdict(report)}")
        print(f"report section 'reference_nuts' added: {out / 'report.json'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``cigars`` command."""
    parser = argparse.ArgumentParser(
        prog="cigars",
        description="Simulation-based inference for SN Ia cosmology with host-galaxy photometry.",
    )
    parser.add_argument("--version", action="version", version=f"cigars {cigars.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p_config = sub.add_parser("config", help="inspect and validate experiment configs")
    sub_config = p_config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    p = sub_config.add_parser("show", help="print the fully resolved config with all defaults")
    p.add_argument("file", help="experiment YAML file")
    p.set_defaults(func=_cmd_config_show)
    p = sub_config.add_parser("check", help="validate a config (exit 0 if valid, 2 otherwise)")
    p.add_argument("file", help="experiment YAML file")
    p.set_defaults(func=_cmd_config_check)

    p = sub.add_parser(
        "bank",
        help="draw the galaxy bank (host parameters + cosmology-free photometry) into HDF5",
        description="Draw N galaxies from the host prior and store their parameters, SFH and "
        "redshifted 10-pc magnitudes. Interrupted runs resume from BANK.h5.partial.",
    )
    p.add_argument("config", help="experiment YAML file (sections hosts, sps, bands, bank)")
    p.add_argument("-o", "--output", required=True, help="output HDF5 file")
    p.add_argument("--n", type=int, default=None, help="override bank.n_galaxies")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bank")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_bank)

    p = sub.add_parser(
        "reweight-bank",
        help="weight the bank's galaxies so the model's SN hosts look like a sample's hosts",
        description="Fit the ratio of host-photometry densities at each redshift between an "
        "observed sample (host magnitudes and z_spec) and the SN hosts of surveys simulated at "
        "the true parameters, and write a copy of the bank whose galaxies carry it as weights "
        "(their SN rates and the survey's count; the redshift distribution stays the model's). "
        "The input bank is not modified.",
    )
    p.add_argument("config", help="experiment YAML file (needs a simulator section)")
    p.add_argument("data", help="the observed catalogue (as for `cigars infer`)")
    p.add_argument("--bank", required=True, help="galaxy bank HDF5 (from `cigars bank`)")
    p.add_argument("-o", "--output", required=True, help="the weighted bank (HDF5) to write")
    p.add_argument("--columns", default=None, metavar="MAP", help="column map of the catalogue")
    _add_where(p)
    p.add_argument("--n-surveys", type=int, default=16, help="simulated surveys (default 16)")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed of the simulated surveys")
    p.add_argument(
        "--max-weight", type=float, default=100.0, help="clip of the weights (default 100)"
    )
    p.add_argument("--figure", default=None, help="PNG of the host features before and after")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_reweight_bank)

    p = sub.add_parser(
        "simulate",
        help="simulate one mock survey at the true parameters and write it as FITS",
    )
    p.add_argument("config", help="experiment YAML file (needs a simulator section)")
    p.add_argument("--bank", required=True, help="galaxy bank HDF5 (from `cigars bank`)")
    p.add_argument("-o", "--output", required=True, help="output FITS catalogue")
    p.add_argument("--seed", type=int, default=None, help="PRNG seed (default: config seed)")
    p.add_argument(
        "--truth", nargs="*", default=[], metavar="NAME=VALUE", help="override true parameters"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser(
        "simulations",
        help="simulate N surveys from the prior into a training-set file",
        description="Simulate N surveys from the prior (the estimator's inputs and the true "
        "parameters) into HDF5, for `cigars train --simulations`. Interrupted runs resume "
        "from OUTPUT.partial.",
    )
    p.add_argument("config", help="experiment YAML file (needs a simulator section)")
    p.add_argument("--bank", required=True, help="galaxy bank HDF5 (from `cigars bank`)")
    p.add_argument("-n", type=int, required=True, help="number of simulated surveys")
    p.add_argument("-o", "--output", required=True, help="output HDF5 file")
    p.add_argument("--seed", type=int, default=None, help="PRNG seed (default: config seed)")
    p.add_argument("--chunk-size", type=int, default=64, help="surveys per jitted call")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_simulations)

    p = sub.add_parser(
        "train",
        help="train the neural posterior (fresh simulations in every step)",
        description="Train the hierarchical neural posterior estimator of an experiment, "
        "simulating surveys from the prior inside every jitted training step. Checkpoints, "
        "metrics.jsonl and loss_curve.png go to the run directory.",
    )
    p.add_argument("config", help="experiment YAML file")
    p.add_argument("--bank", default=None, help="galaxy bank HDF5 (simulator experiments)")
    p.add_argument(
        "--data",
        default=None,
        metavar="FILE",
        help="likelihood type 'standardised': the sample whose redshifts and errors fix the "
        "design (instead of --bank)",
    )
    p.add_argument(
        "--columns", default=None, metavar="MAP", help="column map of --data (default: config)"
    )
    p.add_argument("-o", "--output", required=True, help="run directory")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--steps", type=int, default=None, help="override inference.training.steps")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="override inference.seed (initialisation, batches; members of an ensemble)",
    )
    p.add_argument(
        "--init-from",
        default=None,
        metavar="RUN",
        help="start from the best parameters of another run of the same architecture "
        "(fine-tuning: fresh optimiser and schedule)",
    )
    p.add_argument(
        "--simulations",
        nargs="+",
        default=None,
        metavar="FILE",
        help="train from stored training sets (`cigars simulations`; several files drawn with "
        "different seeds are concatenated) instead of on the fly",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "ensemble",
        help="combine training runs of one problem into an ensemble (a mixture posterior)",
        description="Combine training runs of the same experiment (e.g. different "
        "inference.seed) into a folder that `cigars infer` and `cigars validate` take as a run: "
        "its posterior is the equal-weight mixture of the runs' posteriors. The checkpoints "
        "are copied; the runs are left as they are.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="training run folders (at least 2)")
    p.add_argument("-o", "--output", required=True, help="new ensemble folder")
    p.set_defaults(func=_cmd_ensemble)

    p = sub.add_parser(
        "infer",
        help="joint posterior of globals and every object's latents for a catalogue",
    )
    p.add_argument(
        "run_dir",
        help="training run directory (from `cigars train`); with --method nuts: an experiment "
        "config with a likelihood section",
    )
    p.add_argument(
        "data",
        help="catalogue: a `cigars simulate` mock, or CSV/ECSV/FITS/SNANA (.gz too) with --columns",
    )
    p.add_argument("-o", "--output", required=True, help="output ArviZ netCDF file")
    p.add_argument(
        "--method",
        choices=("npe", "nuts"),
        default="npe",
        help="npe: the trained neural posterior (default); nuts: a likelihood-based reference "
        "posterior of a spectroscopic SN sample (numpyro NUTS, float64)",
    )
    p.add_argument(
        "--cov",
        default=None,
        metavar="FILE",
        help="--method nuts: covariance of the standardised magnitudes in Pantheon+ .cov "
        "format (N, then N^2 values, over all rows of DATA)",
    )
    p.add_argument(
        "--num-samples",
        type=int,
        default=None,
        help="joint posterior draws (npe, default 1000); draws per chain (nuts, default: config)",
    )
    p.add_argument("--seed", type=int, default=0, help="PRNG seed")
    p.add_argument(
        "--columns",
        default=None,
        metavar="MAP",
        help="column map: a YAML file or a shipped map (pantheonplus, des-sn5yr)",
    )
    p.add_argument(
        "--drop-invalid",
        action="store_true",
        help="skip invalid rows (listed in OUTPUT.dropped.json) instead of failing",
    )
    p.add_argument(
        "--photo-z",
        action="store_true",
        help="ignore spectroscopic redshifts: infer every host's redshift from photometry",
    )
    _add_where(p)
    p.add_argument(
        "--importance",
        type=int,
        default=0,
        metavar="K",
        help="runs of the standardised likelihood: importance-sample the neural posterior to "
        "the exact likelihood from K proposals per draw (ESS and Pareto k are printed)",
    )
    p.set_defaults(func=_cmd_infer)

    p_plot = sub.add_parser("plot", help="figures")
    sub_plot = p_plot.add_subparsers(dest="plot_command", metavar="FIGURE", required=True)
    p = sub_plot.add_parser("hubble", help="Hubble diagram and redshift distributions of a mock")
    p.add_argument("mock", help="mock catalogue FITS (from `cigars simulate`)")
    p.add_argument("-o", "--output", default="hubble.png", help="output image")
    p.add_argument(
        "--undetected", action="store_true", help="also draw the SNe that failed selection"
    )
    p.set_defaults(func=_cmd_plot_hubble)
    p = sub_plot.add_parser(
        "posterior", help="corner plot of the globals and per-object photo-z of a posterior"
    )
    p.add_argument("posterior", help="posterior netCDF (from `cigars infer`)")
    p.add_argument("--mock", default=None, help="the mock it was inferred from (truths)")
    p.add_argument("-o", "--output", default="posterior-plots", help="output folder")
    p.set_defaults(func=_cmd_plot_posterior)

    p = sub.add_parser(
        "validate",
        help="calibration checks of a trained run on fresh simulations (SBC, coverage, TARP, "
        "recovery, photo-z)",
        description="Simulate N surveys from the run's prior with its simulator and bank, draw "
        "from the run's posterior for each, and write REPORT_DIR/report.json (every number, "
        "each check with its threshold and pass/fail, the verdict), draws.npz and PNG figures.",
    )
    p.add_argument("run_dir", help="training run directory (from `cigars train`)")
    p.add_argument("-o", "--output", required=True, help="report folder")
    p.add_argument("--n-sims", type=int, default=100, help="number of simulated surveys")
    p.add_argument("--num-samples", type=int, default=300, help="posterior draws per survey")
    p.add_argument(
        "--seed", type=int, default=12345, help="PRNG seed of the surveys (not the training's)"
    )
    p.add_argument(
        "--reference",
        choices=("nuts",),
        default=None,
        help="also compare with NUTS posteriors of the known-hosts likelihood on the first "
        "--n-reference surveys (C2ST, mean shift, sd ratio into report.json)",
    )
    p.add_argument(
        "--n-reference", type=int, default=4, help="surveys compared with --reference nuts"
    )
    p.add_argument(
        "--importance",
        type=int,
        default=8,
        help="with --reference nuts on a known-hosts sub-model run: also importance-sample the "
        "neural posterior to the same likelihood from this many proposals per draw (0: off)",
    )
    p.add_argument(
        "--nuts-cache",
        default=None,
        metavar="DIR",
        help="with --reference nuts: read each survey's NUTS draws from DIR when the same "
        "computation was cached there (same surveys, seed, sampler, likelihood, versions), "
        "else run NUTS and save them; validating several runs of one experiment then runs "
        "NUTS once",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_validate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cigars`` command; returns the exit status."""
    from cigars._config import ConfigError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return EXIT_USAGE
    from cigars._cache import use_compilation_cache

    use_compilation_cache()
    try:
        return args.func(args)
    except ConfigError as err:
        print(f"cigars: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as err:
        print(f"cigars: error: {err}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
