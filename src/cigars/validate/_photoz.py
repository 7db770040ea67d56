"""Photometric-redshift metrics of per-object redshift posteriors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["DEFAULT_Z_EDGES", "photoz_metrics", "photoz_metrics_binned"]

DEFAULT_Z_EDGES = (0.0, 0.2, 0.4, 0.6, 0.9, 1.2, 1.5)
"""Redshift bins of the binned metrics (those of MODEL.md section 8, extended to z = 1.5)."""


def photoz_metrics(
    z_est: np.ndarray,
    z_true: np.ndarray,
    *,
    outlier_cuts: Sequence[float] = (0.15, 0.05),
) -> dict[str, float | int | None]:
    """Point-estimate photo-z quality of ``z_est`` (e.g. posterior means) against ``z_true``.

    With ``r = (z_est - z_true) / (1 + z_true)``:

    * ``bias`` = median(r), ``mean_bias`` = mean(r);
    * ``sigma_nmad`` = 1.4826 median(|r - median(r)|) (normalised median absolute deviation);
    * ``eta_<cut>`` = fraction with ``|r| > cut`` (outlier fractions);
    * ``median_abs_dz`` = median(|z_est - z_true|).

    Args:
        z_est: estimated redshifts ``(n,)``.
        z_true: true redshifts ``(n,)``.
        outlier_cuts: thresholds on ``|r|`` for the outlier fractions.

    Returns:
        The metrics and ``n``; every metric is None when ``n = 0``.

    Example:
        >>> m = photoz_metrics(np.array([0.1, 0.3]), np.array([0.0, 0.2]))
        >>> round(m["median_abs_dz"], 6), m["eta_0.05"]
        (0.1, 1.0)
    """
    z_est = np.asarray(z_est, dtype=float).ravel()
    z_true = np.asarray(z_true, dtype=float).ravel()
    if z_est.shape != z_true.shape:
        raise ValueError(f"photoz_metrics: {z_est.shape} estimates for {z_true.shape} truths")
    keys = ["bias", "mean_bias", "sigma_nmad", "median_abs_dz"]
    keys += [f"eta_{cut:g}" for cut in outlier_cuts]
    if z_est.size == 0:
        return {"n": 0, **dict.fromkeys(keys)}
    dz = z_est - z_true
    r = dz / (1.0 + z_true)
    med = float(np.median(r))
    out = {
        "n": int(r.size),
        "bias": med,
        "mean_bias": float(np.mean(r)),
        "sigma_nmad": float(1.4826 * np.median(np.abs(r - med))),
        "median_abs_dz": float(np.median(np.abs(dz))),
    }
    for cut in outlier_cuts:
        out[f"eta_{cut:g}"] = float(np.mean(np.abs(r) > cut))
    return out


def photoz_metrics_binned(
    z_est: np.ndarray,
    z_true: np.ndarray,
    edges: Sequence[float] = DEFAULT_Z_EDGES,
    *,
    outlier_cuts: Sequence[float] = (0.15, 0.05),
) -> list[dict[str, float | int | None]]:
    """:func:`photoz_metrics` in bins of true redshift ``[edges[k], edges[k+1])``.

    The last bin includes its upper edge. Returns one dict per bin with ``z_lo`` and ``z_hi``.
    """
    z_est = np.asarray(z_est, dtype=float).ravel()
    z_true = np.asarray(z_true, dtype=float).ravel()
    edges = np.asarray(edges, dtype=float)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"photoz_metrics_binned: edges must increase, got {edges.tolist()}")
    out = []
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        last = k == edges.size - 2
        sel = (z_true >= lo) & ((z_true <= hi) if last else (z_true < hi))
        m = photoz_metrics(z_est[sel], z_true[sel], outlier_cuts=outlier_cuts)
        out.append({"z_lo": float(lo), "z_hi": float(hi), **m})
    return out
