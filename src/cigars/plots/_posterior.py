"""Posterior figures: a corner plot of the global parameters and per-object photo-z."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

__all__ = ["plot_corner", "plot_photoz"]


def plot_corner(
    samples: Mapping[str, np.ndarray],
    path: str | Path,
    *,
    truth: Mapping[str, float] | None = None,
    names: Sequence[str] | None = None,
) -> Path:
    """Corner plot: 1-D histograms on the diagonal, 2-D scatter of draws below it.

    Args:
        samples: parameter name -> 1-D array of posterior draws.
        path: output image.
        truth: optional true values, drawn as lines.
        names: which parameters, in order (default: all).

    Returns:
        The path written.
    """
    names = list(names or samples)
    n = len(names)
    size = 1.4 * n + 0.8
    fig = plt.figure(figsize=(size, size))
    # Only the lower triangle gets axes; a column shares its x range, a row of scatter panels
    # its y range, and only the outer panels carry tick labels (fixed margins: tight_layout on
    # 13 x 13 panels took longer than drawing them).
    grid = fig.add_gridspec(
        n, n, left=0.8 / size, bottom=0.8 / size, right=0.98, top=0.98, wspace=0.06, hspace=0.06
    )
    diag: list = []
    for i, yi in enumerate(names):
        row = None
        for j, xj in enumerate(names[: i + 1]):
            share_x = diag[j] if j < i else None
            ax = fig.add_subplot(grid[i, j], sharex=share_x, sharey=row if i != j else None)
            x = np.asarray(samples[xj]).ravel()
            if i == j:
                ax.hist(x, bins=30, color="C0", histtype="stepfilled", alpha=0.6)
                ax.tick_params(left=False)
                diag.append(ax)
            else:
                ax.scatter(x, np.asarray(samples[yi]).ravel(), s=1, alpha=0.2, c="C0")
                if truth is not None and yi in truth:
                    ax.axhline(truth[yi], c="C3", lw=0.8)
                row = ax if row is None else row
                ax.yaxis.set_major_locator(MaxNLocator(3))
            if truth is not None and xj in truth:
                ax.axvline(truth[xj], c="C3", lw=0.8)
            ax.xaxis.set_major_locator(MaxNLocator(3))
            ax.tick_params(labelsize=5, labelbottom=i == n - 1, labelleft=j == 0 and i > 0)
            if i == n - 1:
                ax.set_xlabel(xj, fontsize=7)
                ax.tick_params(axis="x", labelrotation=45)
            if j == 0 and i > 0:
                ax.set_ylabel(yi, fontsize=7)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_photoz(z_draws: np.ndarray, z_ref: np.ndarray, path: str | Path, *, label: str) -> Path:
    """Posterior-mean host redshift (with 68% intervals) against a reference redshift.

    Args:
        z_draws: posterior draws of every object's redshift, shape (n_draw, n_object).
        z_ref: the reference (true or spectroscopic) redshifts, shape (n_object,).
        path: output image.
        label: axis label of the reference.

    Returns:
        The path written.
    """
    mean = z_draws.mean(axis=0)
    lo, hi = np.quantile(z_draws, [0.16, 0.84], axis=0)
    rel = (mean - z_ref) / (1 + z_ref)
    nmad = 1.4826 * np.median(np.abs(rel - np.median(rel)))
    fig, (ax, axr) = plt.subplots(
        2, 1, figsize=(6, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    ax.errorbar(z_ref, mean, yerr=[mean - lo, hi - mean], fmt=".", ms=3, lw=0.5, alpha=0.6)
    top = float(max(z_ref.max(), hi.max())) * 1.05
    ax.plot([0, top], [0, top], "k--", lw=0.8)
    ax.set_ylabel("posterior host z (mean, 68%)")
    ax.set_title(
        f"{len(z_ref)} objects: σ_NMAD = {nmad:.4f}, bias = {np.median(rel):+.4f}, "
        f"η(>0.15) = {np.mean(np.abs(rel) > 0.15):.3f}",
        fontsize=9,
    )
    axr.scatter(z_ref, rel, s=3, alpha=0.6)
    axr.axhline(0, c="k", lw=0.8)
    axr.set_ylabel("Δz / (1 + z)")
    axr.set_xlabel(label)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
