"""Validation figures: SBC ranks, coverage and TARP curves, recovery, z-scores, photo-z."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

__all__ = [
    "plot_coverage",
    "plot_photoz_validation",
    "plot_rank_histograms",
    "plot_recovery",
    "plot_tarp",
    "plot_validation",
    "plot_zscores",
]


def _save(fig, path: str | Path, dpi: int = 110) -> Path:
    from cigars.io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)
    return path


def _grid(n: int, size: float = 2.2):
    cols = min(n, 5)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols + 0.4, size * rows + 0.4))
    axes = np.atleast_1d(axes).ravel()
    for ax in axes[n:]:
        ax.axis("off")
    return fig, axes


def plot_rank_histograms(
    counts: np.ndarray,
    expected: np.ndarray,
    names: Sequence[str],
    path: str | Path,
    *,
    p_values: Sequence[float] | None = None,
    title: str = "SBC rank histograms",
) -> Path:
    """Rank histograms with the expected count per bin and its 99% binomial band.

    Args:
        counts: ranks per bin ``(n_bins, d)``.
        expected: expected count per bin under calibration ``(n_bins,)``.
        names: parameter names ``(d,)``.
        path: output image.
        p_values: chi-square p-values to print in each panel.
        title: figure title.
    """
    counts = np.asarray(counts)
    expected = np.asarray(expected, dtype=float)
    n = counts[:, 0].sum()
    lo = stats.binom.ppf(0.005, n, expected / n)
    hi = stats.binom.ppf(0.995, n, expected / n)
    edges = np.arange(len(expected) + 1)
    fig, axes = _grid(len(names))
    for j, name in enumerate(names):
        ax = axes[j]
        ax.fill_between(
            edges, np.append(lo, lo[-1]), np.append(hi, hi[-1]), step="post", color="0.85", lw=0
        )
        ax.stairs(expected, edges, color="0.4", lw=0.8)
        ax.stairs(counts[:, j], edges, fill=True, color="C0", alpha=0.7)
        low = min(lo.min(), counts[:, j].min())
        if low > 0.5 * expected.max():  # many ranks per bin: zoom in on the band
            ax.set_ylim(bottom=0.9 * low)
        label = name if p_values is None else f"{name}  p={p_values[j]:.2g}"
        ax.set_title(label, fontsize=8)
        ax.set_xticks([])
        ax.tick_params(labelsize=6)
    fig.suptitle(f"{title} (grey: 99% band of a calibrated posterior)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_coverage(
    levels: np.ndarray,
    curves: Mapping[str, np.ndarray],
    path: str | Path,
    *,
    band: float | None = None,
    title: str = "expected coverage of central credible intervals",
) -> Path:
    """Coverage against credibility, one line per parameter, with the diagonal and a band.

    Args:
        levels: credibility levels ``(n_levels,)``.
        curves: name -> coverage ``(n_levels,)``.
        path: output image.
        band: half-width of the tolerance band drawn around the diagonal.
        title: axis title.
    """
    levels = np.asarray(levels)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    if band is not None:
        ax.fill_between(
            levels,
            np.clip(levels - band, 0, 1),
            np.clip(levels + band, 0, 1),
            color="0.88",
            lw=0,
            label=f"±{band:.3f} (pass)",
        )
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    cmap = plt.get_cmap("tab20")
    for j, (name, cov) in enumerate(curves.items()):
        ax.plot(levels, cov, lw=1.0, color=cmap(j % 20), label=name)
    ax.set_xlabel("credibility level")
    ax.set_ylabel("expected coverage")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6, ncol=2, loc="upper left")
    fig.tight_layout()
    return _save(fig, path)


def plot_tarp(
    levels: np.ndarray, coverage: np.ndarray, n: int, path: str | Path, *, band: float
) -> Path:
    """TARP expected coverage of the joint posterior with a pointwise ±2σ binomial band."""
    levels = np.asarray(levels)
    sd = np.sqrt(levels * (1 - levels) / n)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.fill_between(
        levels,
        np.clip(levels - band, 0, 1),
        np.clip(levels + band, 0, 1),
        color="0.9",
        lw=0,
        label=f"±{band:.3f} (pass)",
    )
    ax.fill_between(levels, levels - 2 * sd, levels + 2 * sd, color="0.75", lw=0, label="±2σ")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.plot(levels, coverage, c="C3", lw=1.5, label="TARP")
    ax.set_xlabel("credibility level")
    ax.set_ylabel("expected coverage")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(f"TARP, joint global posterior ({n} simulations)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return _save(fig, path)


def plot_recovery(
    truth: np.ndarray, mean: np.ndarray, sd: np.ndarray, names: Sequence[str], path: str | Path
) -> Path:
    """Posterior mean ± sd against the truth, one panel per parameter."""
    fig, axes = _grid(len(names))
    for j, name in enumerate(names):
        ax = axes[j]
        ax.errorbar(truth[:, j], mean[:, j], yerr=sd[:, j], fmt=".", ms=2, lw=0.5, alpha=0.6)
        lo = min(truth[:, j].min(), (mean[:, j] - sd[:, j]).min())
        hi = max(truth[:, j].max(), (mean[:, j] + sd[:, j]).max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.7)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=6)
    fig.supxlabel("true value", fontsize=8)
    fig.supylabel("posterior mean ± sd", fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def plot_zscores(z: np.ndarray, names: Sequence[str], path: str | Path) -> Path:
    """Histograms of ``(posterior mean - truth) / sd`` per parameter against N(0, 1)."""
    grid = np.linspace(-4, 4, 200)
    fig, axes = _grid(len(names))
    for j, name in enumerate(names):
        ax = axes[j]
        v = np.clip(z[:, j], -4, 4)
        ax.hist(v, bins=np.linspace(-4, 4, 17), density=True, color="C0", alpha=0.7)
        ax.plot(grid, stats.norm.pdf(grid), "k-", lw=0.8)
        ax.set_title(f"{name}: sd {np.std(z[:, j], ddof=1):.2f}", fontsize=8)
        ax.tick_params(labelsize=6)
    fig.supxlabel("z-score (posterior mean − truth) / sd, clipped to ±4", fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def plot_photoz_validation(
    z_true: np.ndarray,
    z_mean: np.ndarray,
    z_sd: np.ndarray,
    binned: Sequence[Mapping[str, Any]],
    overall: Mapping[str, Any],
    path: str | Path,
) -> Path:
    """Posterior-mean photo-z against true z, residuals, and the metrics in redshift bins."""
    rel = (z_mean - z_true) / (1 + z_true)
    fig, (ax, axr, axm) = plt.subplots(
        3, 1, figsize=(6.5, 9), sharex=True, gridspec_kw={"height_ratios": [3, 1, 1.4]}
    )
    ax.errorbar(z_true, z_mean, yerr=z_sd, fmt=".", ms=1.5, lw=0.3, alpha=0.3)
    top = float(max(z_true.max(), z_mean.max())) * 1.05
    ax.plot([0, top], [0, top], "k--", lw=0.8)
    ax.set_ylabel("posterior host z (mean ± sd)")
    ax.set_title(
        f"{overall['n']} objects without spec-z: σ_NMAD = {overall['sigma_nmad']:.4f}, "
        f"bias = {overall['bias']:+.4f}, η(>0.15) = {overall['eta_0.15']:.4f}, "
        f"η(>0.05) = {overall['eta_0.05']:.3f}",
        fontsize=8,
    )
    axr.scatter(z_true, rel, s=1, alpha=0.3)
    axr.axhline(0, c="k", lw=0.8)
    for cut in (0.05, 0.15):
        axr.axhline(cut, c="C3", lw=0.5, ls=":")
        axr.axhline(-cut, c="C3", lw=0.5, ls=":")
    axr.set_ylim(-0.2, 0.2)
    axr.set_ylabel("Δz / (1 + z)")
    rows = [b for b in binned if b["n"]]
    mid = np.array([(b["z_lo"] + b["z_hi"]) / 2 for b in rows])
    half = np.array([(b["z_hi"] - b["z_lo"]) / 2 for b in rows])
    for key, label, c in (
        ("sigma_nmad", "σ_NMAD", "C0"),
        ("median_abs_dz", "median |Δz|", "C1"),
        ("bias", "bias", "C2"),
    ):
        axm.errorbar(mid, [b[key] for b in rows], xerr=half, fmt="o", ms=3, c=c, label=label)
    axm.axhline(0, c="k", lw=0.5)
    axm.set_ylabel("metric per z bin")
    axm.set_xlabel("true z")
    axm.legend(fontsize=7, ncol=3, loc="upper left")
    axe = axm.twinx()
    axe.errorbar(mid, [b["eta_0.05"] for b in rows], xerr=half, fmt="s", ms=3, c="C3", mfc="none")
    axe.set_ylabel("η(>0.05) (squares)", color="C3")
    axe.tick_params(axis="y", colors="C3")
    fig.tight_layout()
    return _save(fig, path, dpi=120)


def plot_validation(report: Mapping[str, Any], draws, output: str | Path) -> list[Path]:
    """Every validation figure of a report (:func:`cigars.validate.diagnose`) into ``output``.

    Args:
        report: the report.
        draws: the :class:`~cigars.validate.ValidationDraws` it was computed from.
        output: the folder.

    Returns:
        The paths written.
    """
    from cigars.validate import posterior_recovery

    out = Path(output)
    names = list(draws.names)
    sbc, cov = report["sbc"], report["coverage"]
    g = sbc["globals"]
    counts = np.array([g[n]["counts"] for n in names]).T
    written = [
        plot_rank_histograms(
            counts,
            sbc["expected_per_bin"],
            names,
            out / "sbc_globals.png",
            p_values=[g[n]["chi2_p"] for n in names],
            title=f"SBC ranks of the globals ({report['n_sims']} simulations, "
            f"{report['num_samples']} draws)",
        )
    ]
    curves = {n: np.asarray(cov["globals"][n]["curve"]) for n in names}
    written.append(
        plot_coverage(
            cov["levels"],
            curves,
            out / "coverage_globals.png",
            band=cov["tolerance_globals"],
            title=f"central-interval coverage, globals ({report['n_sims']} simulations)",
        )
    )
    if "locals_pooled" in sbc:
        lnames = list(draws.local_names)
        lp = sbc["locals_pooled"]
        written.append(
            plot_rank_histograms(
                np.array([lp[n]["counts"] for n in lnames]).T,
                sbc["locals_pooled_expected_per_bin"],
                lnames,
                out / "sbc_locals.png",
                title=f"SBC ranks of the per-object parameters ({cov['n_objects']} objects)",
            )
        )
        written.append(
            plot_coverage(
                cov["levels"],
                {n: np.asarray(cov["locals_pooled"][n]["curve"]) for n in lnames},
                out / "coverage_locals.png",
                band=cov["tolerance_locals"],
                title=f"central-interval coverage, per-object ({cov['n_objects']} objects)",
            )
        )
    tarp = report["tarp"]
    written.append(
        plot_tarp(
            tarp["levels"],
            tarp["coverage"],
            report["n_sims"],
            out / "tarp.png",
            band=tarp["tolerance"],
        )
    )
    rec = posterior_recovery(draws.theta_draws, draws.theta_true)
    written.append(
        plot_recovery(draws.theta_true, rec["mean"], rec["sd"], names, out / "recovery.png")
    )
    written.append(plot_zscores(rec["z"], names, out / "zscores.png"))
    photo = report.get("photoz")
    if photo is not None and photo["overall"]["n"]:
        k = draws.local_names.index(photo["parameter"])
        sel = ~np.asarray(draws.has_spec, bool)
        written.append(
            plot_photoz_validation(
                draws.local_true[sel, k],
                draws.local_mean[sel, k],
                draws.local_sd[sel, k],
                photo["binned"],
                photo["overall"],
                out / "photoz.png",
            )
        )
    return written
