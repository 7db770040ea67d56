"""The reference mocks side by side: our posterior, the reference's released one, the truth.

Reads the ``paper_scale.json`` of one or more :mod:`benchmarks.paper_scale` runs that inferred
a reference mock and writes a markdown table (one row per global parameter: our mean ± sd and
its distance from the truth in our sd, the reference's mean ± sd, the truth; then the host
photo-z metrics next to the reference's) and a figure of the same::

    python -m benchmarks.reference_table RUN_A/paper_scale.json [RUN_B/...] \
        --label 1.6k --label 16k -o docs/reference-mocks.md --figure docs/reference-mocks.png
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from benchmarks.paper_scale import REFERENCE_POSTERIOR
from cigars.io import atomic_path, atomic_write_text

#: Host photo-z of the reference's released 1.6k local posteriors (MODEL.md section 8).
REFERENCE_PHOTOZ = {"1.6k": {"median_abs_dz": 0.0094, "sigma_nmad": 0.0096, "eta_0.15": 0.0}}


def _pm(mean: float, sd: float) -> str:
    """``mean ± sd`` with two significant digits of the sd and the mean to the same place."""
    digits = max(0, 1 - math.floor(math.log10(abs(sd)))) if sd > 0 else 4
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def _mock(path: Path) -> dict:
    report = json.loads(Path(path).read_text())
    if "reference_mock" not in report:
        raise ValueError(f"{path}: no reference_mock section (run paper_scale with --reference)")
    return report


def prior_sd(report: dict) -> dict[str, float]:
    """Prior standard deviation of each global of the report's experiment (empty without one).

    Beside a posterior sd it says how much the data narrowed the prior: a sd near the prior's
    means the network learned little about that parameter, so "within 2 sd of the truth" says
    little there.
    """
    if "config" not in report:
        return {}
    import numpy as np

    from cigars.config import load_experiment
    from cigars.experiment import experiment_truth

    exp = load_experiment(report["config"])
    prior = exp.prior.build(experiment_truth(exp))
    return {n: float(np.sqrt(prior.distribution(n).variance)) for n in prior.names}


def table(reports: dict[str, dict]) -> str:
    """Markdown: globals side by side, then photo-z, for each labelled run."""
    lines = []
    for label, report in reports.items():
        mock = report["reference_mock"]
        train = report["training"]
        ref = REFERENCE_POSTERIOR.get(label, {})
        prior = prior_sd(report)
        lines += [
            f"**{label} mock** ({mock['n_sn']:,} SNe; {train['steps']:,} steps × "
            f"{train['batch_size']} surveys in {train['seconds']:.0f} s on {report['device']}; "
            f"{mock['draws']} joint draws in {mock['seconds_steady']:.2f} s)",
            "",
            "| param | cigars | (mean − truth) / sd | sd / prior sd | reference | truth |",
            "|---|---|---|---|---|---|",
        ]
        for name, row in mock["globals"].items():
            r = ref.get(name)
            ref_text = _pm(*r) if r else "—"
            shrink = f"{row['sd'] / prior[name]:.2f}" if name in prior else "—"
            lines.append(
                f"| {name} | {_pm(row['mean'], row['sd'])} | {row['z']:+.2f} | {shrink} | "
                f"{ref_text} | {row['truth']:.4g} |"
            )
        pz, rpz = mock["photoz"], REFERENCE_PHOTOZ.get(label, {})

        def ref_of(key, fmt, rpz=rpz):
            return format(rpz[key], fmt) if key in rpz else "—"

        lines += [
            "",
            "| photo-z of all hosts | cigars | reference |",
            "|---|---|---|",
            f"| median \\|Δz\\| | {pz['median_abs_dz']:.4f} | {ref_of('median_abs_dz', '.4f')} |",
            f"| σ_NMAD | {pz['sigma_nmad']:.4f} | {ref_of('sigma_nmad', '.4f')} |",
            f"| bias | {pz['bias']:+.4f} | — |",
            f"| η(>0.15) | {pz['eta_0.15']:.2%} | {ref_of('eta_0.15', '.2%')} |",
            f"| η(>0.05) | {pz['eta_0.05']:.2%} | — |",
            f"| median posterior sd(z) | {mock['photoz_median_sd']:.4f} | — |",
            "",
        ]
    return "\n".join(lines)


def figure(reports: dict[str, dict], path: Path) -> None:
    """One panel per global: our mean ± sd and the reference's for each mock, the truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    names = list(next(iter(reports.values()))["reference_mock"]["globals"])
    ncol = 5
    nrow = -(-len(names) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.0 * ncol, 2.2 * nrow), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        y = 0
        labels = []
        for label, report in reports.items():
            row = report["reference_mock"]["globals"][name]
            ax.errorbar(row["mean"], y, xerr=row["sd"], fmt="o", color="C0", ms=4)
            labels.append(f"cigars {label}")
            y += 1
            ref = REFERENCE_POSTERIOR.get(label, {}).get(name)
            if ref:
                ax.errorbar(ref[0], y, xerr=ref[1], fmt="s", color="C1", ms=4)
                labels.append(f"reference {label}")
                y += 1
        ax.axvline(row["truth"], color="k", lw=1, ls="--")
        ax.set_yticks(range(y), labels, fontsize=7)
        ax.set_ylim(-0.7, y - 0.3)
        ax.set_title(name, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(4))
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    fig.suptitle("Reference mocks: posterior mean ± sd (dashed: truth)", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path, help="paper_scale.json files")
    parser.add_argument(
        "--label",
        action="append",
        required=True,
        choices=sorted(REFERENCE_POSTERIOR),
        help="which reference mock each report inferred (one per report, in order)",
    )
    parser.add_argument("-o", "--output", type=Path, help="markdown file (default: stdout)")
    parser.add_argument("--figure", type=Path, help="PNG of the same")
    args = parser.parse_args(argv)
    if len(args.label) != len(args.reports):
        parser.error(f"{len(args.reports)} reports but {len(args.label)} --label")
    reports = {label: _mock(p) for label, p in zip(args.label, args.reports, strict=True)}
    text = table(reports)
    if args.output:
        atomic_write_text(args.output, text)
    else:
        print(text)
    if args.figure:
        figure(reports, args.figure)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
