"""Simulation-based calibration: ranks of the truth among posterior draws and their uniformity."""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["default_rank_bins", "rank_uniformity", "sbc_ranks"]


def sbc_ranks(draws: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Rank of each true value among its posterior draws (Talts et al. 2018, arXiv:1804.06788).

    The rank is the number of draws strictly below the truth, an integer in ``0..L``. For a
    calibrated posterior and independent draws it is uniform on ``{0, ..., L}``.

    Args:
        draws: posterior draws, shape ``(n, L, d)`` (``n`` simulations or objects, ``L`` draws
            each, ``d`` parameters).
        truth: the true values, shape ``(n, d)``.

    Returns:
        Integer ranks, shape ``(n, d)``.

    Example:
        >>> sbc_ranks(np.array([[[0.0], [1.0], [2.0]]]), np.array([[1.5]])).tolist()
        [[2]]
    """
    draws = np.asarray(draws)
    truth = np.asarray(truth)
    if draws.ndim != 3 or truth.shape != (draws.shape[0], draws.shape[2]):
        raise ValueError(
            f"sbc_ranks: draws must be (n, L, d) and truth (n, d), got {draws.shape} and "
            f"{truth.shape}"
        )
    return np.sum(draws < truth[:, None, :], axis=1)


def default_rank_bins(n: int) -> int:
    """Histogram bins for ``n`` ranks: about 10 expected counts per bin, between 4 and 20."""
    return int(min(20, max(4, n // 10)))


def rank_uniformity(
    ranks: np.ndarray,
    num_samples: int,
    *,
    n_bins: int | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray | int]:
    """Tests of the ranks against the discrete uniform distribution on ``{0, ..., L}``.

    * Chi-square on the rank histogram: ``n_bins`` equal-width bins over ``[0, L + 1)``, each
      expected count ``n * (ranks in the bin) / (L + 1)`` (exact even when ``L + 1`` is not a
      multiple of ``n_bins``); ``n_bins - 1`` degrees of freedom.
    * Kolmogorov-Smirnov of the randomised PIT ``(rank + U) / (L + 1)``, ``U ~ U(0, 1)`` (seeded),
      which is exactly U(0, 1) under calibration.

    Args:
        ranks: integer ranks, shape ``(n,)`` or ``(n, d)``.
        num_samples: ``L``, the number of posterior draws each rank was computed from.
        n_bins: histogram bins (default :func:`default_rank_bins`).
        seed: seed of the PIT randomisation.

    Returns:
        ``counts`` ``(n_bins, d)``, ``expected`` ``(n_bins,)``, ``chi2`` and ``chi2_p`` ``(d,)``,
        ``ks`` and ``ks_p`` ``(d,)``, ``n_bins`` (squeezed to scalars for 1-D input).
    """
    ranks = np.asarray(ranks)
    squeeze = ranks.ndim == 1
    ranks = ranks.reshape(ranks.shape[0], -1)
    n = ranks.shape[0]
    L = int(num_samples)
    if n < 1:
        raise ValueError("rank_uniformity: no ranks")
    if ranks.min() < 0 or ranks.max() > L:
        raise ValueError(f"rank_uniformity: ranks must lie in 0..{L} (num_samples = {L})")
    n_bins = default_rank_bins(n) if n_bins is None else int(n_bins)
    if not 2 <= n_bins <= L + 1:
        raise ValueError(f"rank_uniformity: n_bins must be in 2..{L + 1}, got {n_bins}")
    bin_of = (np.arange(L + 1) * n_bins) // (L + 1)
    expected = n * np.bincount(bin_of, minlength=n_bins) / (L + 1)
    counts = np.stack(
        [np.bincount(bin_of[ranks[:, j]], minlength=n_bins) for j in range(ranks.shape[1])],
        axis=-1,
    )
    chi2 = np.sum((counts - expected[:, None]) ** 2 / expected[:, None], axis=0)
    chi2_p = stats.chi2.sf(chi2, n_bins - 1)
    rng = np.random.default_rng(seed)
    u = (ranks + rng.uniform(size=ranks.shape)) / (L + 1)
    ks = stats.kstest(u, "uniform", axis=0)
    out = {
        "counts": counts,
        "expected": expected,
        "chi2": chi2,
        "chi2_p": chi2_p,
        "ks": np.asarray(ks.statistic),
        "ks_p": np.asarray(ks.pvalue),
        "n_bins": n_bins,
    }
    if squeeze:
        for k in ("counts",):
            out[k] = out[k][:, 0]
        for k in ("chi2", "chi2_p", "ks", "ks_p"):
            out[k] = out[k][0]
    return out
