"""Posterior figures: a corner plot of the global parameters and per-object photo-z."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

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
    fig, axes = plt.subplots(n, n, figsize=(1.6 * n + 1, 1.6 * n + 1), squeeze=False)
    for i, yi in enumerate(names):
        for j, xj in enumerate(names):
            ax = axes[i, j]
            if j > i:
                ax.axis("off")
                continue
            x = np.asarray(samples[xj]).ravel()
            if i == j:
                ax.hist(x, bins=30, color="C0", histtype="stepfilled", alpha=0.6)
                ax.set_yticks([])
            else:
                ax.scatter(x, np.asarray(samples[yi]).ravel(), s=1, alpha=0.2, c="C0")
                if truth is not None and yi in truth:
                    ax.axhline(truth[yi], c="C3", lw=0.8)
            if truth is not None and xj in truth:
                ax.axvline(truth[xj], c="C3", lw=0.8)
            ax.tick_params(labelsize=5)
            if i == n - 1:
                ax.set_xlabel(xj, fontsize=7)
            if j == 0 and i > 0:
                ax.set_ylabel(yi, fontsize=7)
    fig.tight_layout(pad=0.2)
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
