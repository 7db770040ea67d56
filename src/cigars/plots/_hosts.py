"""Host photometry of a sample against the model's SN hosts, before and after re-weighting."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from cigars.plots._validation import _grid, _save

__all__ = ["plot_host_features"]


def plot_host_features(
    features: Mapping[str, np.ndarray], names: Sequence[str], path: str | Path
) -> Path:
    """One panel per host feature: normalised histograms of each labelled set of rows.

    Args:
        features: label -> ``(n, n_feat)`` rows (:func:`cigars.hosts.host_features`), e.g.
            ``data``, ``model``, ``re-weighted``; the first label is drawn filled.
        names: the feature names (``z``, ``mean_mag``, colours).
        path: the PNG to write (atomically).

    Returns:
        ``path``.
    """
    fig, axes = _grid(len(names), size=2.6)
    for i, (ax, name) in enumerate(zip(axes, names, strict=False)):
        pooled = np.concatenate([np.asarray(x)[:, i] for x in features.values()])
        lo, hi = np.percentile(pooled, [0.5, 99.5])
        bins = np.linspace(lo, hi, 40)
        for j, (label, x) in enumerate(features.items()):
            x = np.asarray(x)[:, i]
            style = {"histtype": "stepfilled", "alpha": 0.3} if j == 0 else {"histtype": "step"}
            ax.hist(x, bins=bins, density=True, label=f"{label} ({len(x)})", lw=1.3, **style)
        ax.set_xlabel(name)
        ax.set_yticks([])
    axes[0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return _save(fig, path)
