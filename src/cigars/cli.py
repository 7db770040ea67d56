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
    from cigars.hosts import build_bank
    from cigars.io import provenance

    exp = load_experiment(args.config)
    bank_cfg = exp.bank if args.n is None else exp.bank.replace(n_galaxies=args.n)
    path = build_bank(
        args.output,
        hosts_config=exp.hosts,
        sps_config=exp.sps,
        bands_config=exp.bands,
        bank_config=bank_cfg,
        metadata={"provenance": provenance(), "experiment": to_dict(exp)},
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    print(f"bank written: {path} ({bank_cfg.n_galaxies} galaxies, {len(exp.bands.filters)} bands)")
    return 0


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

    p_plot = sub.add_parser("plot", help="figures")
    sub_plot = p_plot.add_subparsers(dest="plot_command", metavar="FIGURE", required=True)
    p = sub_plot.add_parser("hubble", help="Hubble diagram and redshift distributions of a mock")
    p.add_argument("mock", help="mock catalogue FITS (from `cigars simulate`)")
    p.add_argument("-o", "--output", default="hubble.png", help="output image")
    p.add_argument(
        "--undetected", action="store_true", help="also draw the SNe that failed selection"
    )
    p.set_defaults(func=_cmd_plot_hubble)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cigars`` command; returns the exit status."""
    from cigars._config import ConfigError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return EXIT_USAGE
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
