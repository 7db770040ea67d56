"""Expected coverage of credible regions: 1-D central intervals and TARP for the joint posterior."""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = [
    "central_coverage",
    "coverage_by_width",
    "coverage_deviation",
    "coverage_summary",
    "coverage_tolerance",
    "credibility_levels",
    "tarp_coverage",
]


def _cell_fraction(ranks: np.ndarray, num_samples: int, lo: np.ndarray, hi: np.ndarray):
    """Probability that ``u ~ U[r/(L+1), (r+1)/(L+1)]`` lies in ``[lo, hi]``.

    The randomised PIT of rank ``r`` among ``L`` draws is uniform on that cell and exactly
    U(0, 1) under calibration; averaging over it instead of drawing it keeps the coverage curves
    deterministic while their expectation is exactly the diagonal for a calibrated posterior.
    ``lo`` and ``hi`` broadcast against ``ranks``.
    """
    cell = 1.0 / (num_samples + 1)
    u0 = np.asarray(ranks, dtype=float) * cell
    overlap = np.minimum(u0 + cell, hi) - np.maximum(u0, lo)
    return np.clip(overlap / cell, 0.0, 1.0)


def credibility_levels(n: int = 101) -> np.ndarray:
    """The credibility grid ``0, 1/(n-1), ..., 1`` on which coverage curves are evaluated."""
    return np.linspace(0.0, 1.0, n)


def central_coverage(
    ranks: np.ndarray, num_samples: int, levels: np.ndarray | None = None
) -> np.ndarray:
    """Expected coverage of central (equal-tailed) credible intervals, from SBC ranks.

    The truth lies inside the central interval of credibility ``a`` (between the posterior
    quantiles ``(1 - a)/2`` and ``(1 + a)/2``) exactly when its PIT ``u`` (the posterior mass
    below it) is in ``[(1 - a)/2, (1 + a)/2]``. The expected coverage is the fraction of
    simulations for which that holds. With ``L`` draws, ``u`` is known to within its rank cell
    ``[r, r + 1] / (L + 1)``; the truth is counted inside by the fraction of its cell that is
    (the randomised PIT averaged analytically), so a calibrated posterior gives
    ``E[coverage(a)] = a`` exactly for any ``L``.

    Args:
        ranks: SBC ranks, shape ``(n,)`` or ``(n, d)``.
        num_samples: ``L``, draws per posterior.
        levels: credibility levels (default :func:`credibility_levels`).

    Returns:
        Coverage, shape ``(n_levels,)`` or ``(n_levels, d)``.
    """
    levels = credibility_levels() if levels is None else np.asarray(levels, dtype=float)
    ranks = np.asarray(ranks)
    if ranks.size and (
        not np.all(ranks == np.round(ranks)) or ranks.min() < 0 or ranks.max() > num_samples
    ):
        raise ValueError(
            f"central_coverage: ranks must be integers in [0, {num_samples}] (num_samples), got "
            f"values in [{ranks.min()}, {ranks.max()}]"
        )
    # A coverage depends on a rank only through its value: histogram the ranks (L + 1 counts per
    # column) and weight each value's cell fraction by its count. Memory O(levels x L), not
    # O(levels x objects): the pooled per-object ranks of 100 16k-SN surveys are 10^7 values.
    flat = ranks.reshape(ranks.shape[0], int(np.prod(ranks.shape[1:]))).astype(np.int64)
    counts = np.stack([np.bincount(col, minlength=num_samples + 1) for col in flat.T], axis=1)
    a = levels[:, None]
    values = np.arange(num_samples + 1)[None, :]
    fraction = _cell_fraction(values, num_samples, (1 - a) / 2, (1 + a) / 2)
    with np.errstate(invalid="ignore"):  # no ranks: NaN, as a mean over none
        coverage = fraction @ counts / ranks.shape[0]
    return coverage.reshape(levels.shape + ranks.shape[1:])


def coverage_summary(
    ranks: np.ndarray, num_samples: int, levels: np.ndarray
) -> dict[str, np.ndarray]:
    """A coverage curve on ``levels`` with its coverage at 68% and 95% and largest deviation.

    Returns:
        ``coverage_68``, ``coverage_95``, ``max_deviation`` ``(d,)`` and ``curve``
        ``(d, n_levels)`` (one row per column of ``ranks``).
    """
    curve = central_coverage(ranks, num_samples, levels)
    at = central_coverage(ranks, num_samples, np.array([0.68, 0.95]))
    return {
        "coverage_68": at[0],
        "coverage_95": at[1],
        "max_deviation": coverage_deviation(levels, curve),
        "curve": curve.T,
    }


def coverage_by_width(
    ranks: np.ndarray, num_samples: int, widths: np.ndarray, n_groups: int = 4
) -> dict[str, np.ndarray]:
    """Central-interval coverage in groups of objects of similar posterior width.

    A pooled coverage curve can sit near the diagonal while sharp posteriors are too wide and
    broad ones too narrow, or, as for hosts whose exact posterior is a point (a finite galaxy
    bank), show a miscalibration that only the sharpest posteriors carry. Objects are sorted by
    ``widths`` (e.g. the posterior sd), per column, into ``n_groups`` groups of equal count,
    narrowest first, and :func:`central_coverage` is computed in each.

    Args:
        ranks: SBC ranks ``(m, d)``.
        num_samples: ``L``, draws per posterior.
        widths: a width per object and column, ``(m, d)``.
        n_groups: number of groups (quantiles of the width).

    Returns:
        ``width_edges`` ``(n_groups + 1, d)`` (the width quantiles bounding the groups),
        ``coverage_68``, ``coverage_95`` and ``max_deviation`` ``(n_groups, d)``, and ``n``
        ``(n_groups,)`` objects per group.

    Raises:
        ValueError: if the shapes differ or there are fewer objects than groups.
    """
    ranks = np.asarray(ranks)
    widths = np.asarray(widths, dtype=float)
    if ranks.ndim != 2 or widths.shape != ranks.shape:
        raise ValueError(
            f"coverage_by_width: ranks and widths must both be (m, d), got {ranks.shape} and "
            f"{widths.shape}"
        )
    m, d = ranks.shape
    if n_groups < 1 or m < n_groups:
        raise ValueError(f"coverage_by_width: need at least n_groups ({n_groups}) objects, got {m}")
    levels = credibility_levels()
    order = np.argsort(widths, axis=0, kind="stable")
    groups = np.array_split(np.arange(m), n_groups)
    out = {k: np.zeros((n_groups, d)) for k in ("coverage_68", "coverage_95", "max_deviation")}
    for g, idx in enumerate(groups):
        summary = coverage_summary(
            np.take_along_axis(ranks, order[idx], axis=0), num_samples, levels
        )
        for k in out:
            out[k][g] = summary[k]
    out["width_edges"] = np.quantile(widths, np.linspace(0.0, 1.0, n_groups + 1), axis=0)
    out["n"] = np.array([len(idx) for idx in groups])
    return out


def coverage_deviation(levels: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """Largest absolute distance of a coverage curve from the diagonal, per column."""
    levels = np.asarray(levels, dtype=float)
    coverage = np.asarray(coverage, dtype=float)
    return np.max(np.abs(coverage - levels.reshape((-1,) + (1,) * (coverage.ndim - 1))), axis=0)


def coverage_tolerance(n: int, tolerance: float = 0.05, p: float = 0.01) -> float:
    """Allowed coverage-curve deviation for ``n`` independent simulations.

    ``max(tolerance, D)``, with ``D`` the ``1 - p`` quantile of the one-sample Kolmogorov-Smirnov
    statistic for ``n`` points (``scipy.stats.kstwo``): a coverage curve is the empirical CDF of
    ``|2u - 1|`` (or of the TARP fraction), so a calibrated estimator stays within ``D`` of the
    diagonal with probability ``1 - p``. A miscalibration is reported when it is both larger
    than ``tolerance`` and larger than the noise of ``n`` simulations (e.g. ``D = 0.16`` for
    ``n = 100``, ``0.036`` for ``n = 2000``).
    """
    if n < 1:
        raise ValueError(f"coverage_tolerance: n must be >= 1, got {n}")
    return float(max(tolerance, stats.kstwo.isf(p, int(n))))


def tarp_coverage(
    draws: np.ndarray,
    truth: np.ndarray,
    *,
    seed: int = 0,
    references: np.ndarray | None = None,
    levels: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """TARP expected coverage of the joint posterior (Lemos et al. 2023, arXiv:2302.03026).

    Parameters are first scaled to ``[0, 1]`` by the range of the true values. For simulation
    ``i`` a reference point ``r_i`` is drawn uniformly in the unit box (or given); the TARP
    region of credibility ``a`` is the ball around ``r_i`` holding a fraction ``a`` of the
    posterior draws. The truth lies inside it exactly when ``f_i <= a``, where ``f_i`` is the
    posterior mass closer to ``r_i`` than the truth, known from the ``rank_i`` draws that are
    closer to within the cell ``[rank_i, rank_i + 1] / (L + 1)`` (counted as in
    :func:`central_coverage`). The expected coverage ``ECP(a)`` is the fraction of simulations
    with ``f_i <= a``; ``ECP(a) = a`` for all ``a`` is necessary and sufficient for a calibrated
    posterior when the references cover the parameter space (the paper's Theorem 3).

    Args:
        draws: posterior draws ``(n, L, d)``.
        truth: true values ``(n, d)``.
        seed: seed of the random reference points.
        references: reference points in the scaled unit box, ``(n, d)`` (default: uniform).
        levels: credibility levels (default :func:`credibility_levels`).

    Returns:
        ``levels``, ``coverage`` (the ECP at each level) and ``rank`` ``(n,)``, the number of
        draws closer to the reference than the truth (uniform on ``0..L`` under calibration).
    """
    draws = np.asarray(draws, dtype=float)
    truth = np.asarray(truth, dtype=float)
    if draws.ndim != 3 or truth.shape != (draws.shape[0], draws.shape[2]):
        raise ValueError(
            f"tarp_coverage: draws must be (n, L, d) and truth (n, d), got {draws.shape} and "
            f"{truth.shape}"
        )
    n, L, d = draws.shape
    lo = truth.min(axis=0)
    scale = truth.max(axis=0) - lo
    scale = np.where(scale > 0, scale, 1.0)
    draws = (draws - lo) / scale
    truth = (truth - lo) / scale
    if references is None:
        references = np.random.default_rng(seed).uniform(size=(n, d))
    references = np.asarray(references, dtype=float)
    if references.shape != (n, d):
        raise ValueError(f"tarp_coverage: references must be ({n}, {d}), got {references.shape}")
    d_draws = np.linalg.norm(draws - references[:, None, :], axis=-1)
    d_truth = np.linalg.norm(truth - references, axis=-1)
    closer = np.sum(d_draws < d_truth[:, None], axis=1)
    levels = credibility_levels() if levels is None else np.asarray(levels, dtype=float)
    coverage = np.mean(_cell_fraction(closer[None, :], L, -np.inf, levels[:, None]), axis=1)
    return {"levels": levels, "coverage": coverage, "rank": closer}
