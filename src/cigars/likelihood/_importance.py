r"""Neural importance sampling: the neural posterior as a proposal for an exact likelihood.

Where the likelihood is tractable (known redshifts and hosts, standardised magnitudes), draws
:math:`\theta_j \sim q(\theta \mid X)` of the neural posterior with weights
:math:`w_j \propto p(X \mid \theta_j)\,p(\theta_j) / q(\theta_j \mid X)` represent the exact
posterior, whatever the network's error, as long as :math:`q` covers it (Dax et al. 2023,
PRL 130, 171403). The weights are Pareto-smoothed (PSIS, Vehtari et al. 2024, JMLR 25, 72),
whose tail shape :math:`\hat k` says whether the estimate can be trusted: below
:math:`\min(1 - 1/\log_{10} S, 0.7)` for S draws. The effective sample size over S,
the sampling efficiency, measures how close :math:`q` is to the exact posterior (1 when equal).

* :func:`log_joint` - :math:`\log p(X, \theta)` of a numpyro likelihood model for a batch of
  parameter vectors (``-inf`` outside the prior's support);
* :func:`importance_weights` - PSIS weights, ESS, efficiency and :math:`\hat k`;
* :func:`importance_resample` - equally weighted draws from the weighted ones.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["ImportanceWeights", "importance_resample", "importance_weights", "log_joint"]


@dataclasses.dataclass(frozen=True)
class ImportanceWeights:
    r"""Self-normalised importance weights and their diagnostics.

    Attributes:
        weights: (S,) normalised weights (sum 1; zero where the target density is zero).
        ess: effective sample size :math:`1 / \sum_j w_j^2`.
        efficiency: ``ess / S``.
        pareto_k: PSIS tail shape :math:`\hat k` of the raw weights.
        k_threshold: the :math:`\hat k` below which the estimate is reliable for S draws.
        n_zero: draws with zero target density (outside the prior's support).
    """

    weights: np.ndarray
    ess: float
    efficiency: float
    pareto_k: float
    k_threshold: float
    n_zero: int

    @property
    def reliable(self) -> bool:
        """``pareto_k < k_threshold`` (PSIS's criterion)."""
        return bool(self.pareto_k < self.k_threshold)

    def summary(self) -> dict[str, Any]:
        """The diagnostics as plain numbers (for a report)."""
        return {
            "n_draws": int(self.weights.size),
            "ess": self.ess,
            "efficiency": self.efficiency,
            "pareto_k": self.pareto_k,
            "k_threshold": self.k_threshold,
            "reliable": self.reliable,
            "n_zero": self.n_zero,
        }


def importance_weights(log_target, log_proposal) -> ImportanceWeights:
    r"""Pareto-smoothed importance weights of draws from the proposal.

    Args:
        log_target: (S,) unnormalised log target density at the draws (``-inf`` allowed: zero
            weight).
        log_proposal: (S,) log proposal density at the same draws (must be finite: the draws
            came from it).

    Returns:
        The :class:`ImportanceWeights`.

    Raises:
        ValueError: for mismatched shapes, fewer than 2 draws, a non-finite proposal density,
            a NaN or ``+inf`` target density, or a target that is zero at every draw.
    """
    import arviz

    log_target = np.asarray(log_target, np.float64)
    log_proposal = np.asarray(log_proposal, np.float64)
    if log_target.ndim != 1 or log_target.shape != log_proposal.shape:
        raise ValueError(
            f"importance_weights: need two (S,) arrays, got {log_target.shape} and "
            f"{log_proposal.shape}"
        )
    n = log_target.size
    if n < 2:
        raise ValueError(f"importance_weights: need at least 2 draws, got {n}")
    if not np.all(np.isfinite(log_proposal)):
        j = int(np.flatnonzero(~np.isfinite(log_proposal))[0])
        raise ValueError(f"importance_weights: log_proposal[{j}] = {log_proposal[j]} (not finite)")
    bad = np.isnan(log_target) | (log_target == np.inf)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ValueError(f"importance_weights: log_target[{j}] = {log_target[j]}")
    finite = np.isfinite(log_target)
    if finite.sum() < 2:
        raise ValueError(
            f"importance_weights: the target density is zero at {n - int(finite.sum())} of {n} "
            "draws (the proposal does not overlap the target)"
        )
    log_w = log_target[finite] - log_proposal[finite]
    with warnings.catch_warnings():  # arviz warns for k > 0.7; the caller gets pareto_k
        warnings.simplefilter("ignore")
        smoothed, k = arviz.psislw(log_w - log_w.max())
    w = np.zeros(n)
    w[finite] = np.exp(np.asarray(smoothed) - np.max(smoothed))
    w /= w.sum()
    ess = float(1.0 / np.sum(w**2))
    return ImportanceWeights(
        weights=w,
        ess=ess,
        efficiency=ess / n,
        pareto_k=float(k),
        k_threshold=min(1.0 - 1.0 / math.log10(n), 0.7) if n > 10 else 0.0,
        n_zero=int(n - finite.sum()),
    )


def importance_resample(key, draws, weights: ImportanceWeights, num: int) -> np.ndarray:
    """``num`` equally weighted draws: systematic resampling of the weighted ``draws``.

    Systematic resampling (one uniform offset, ``num`` evenly spaced points through the
    weights' cumulative sum) keeps every draw of weight ``w`` between ``floor(num w)`` and
    ``ceil(num w)`` times, with less added noise than multinomial resampling.

    Args:
        key: PRNG key (the offset and the final shuffle).
        draws: (S, ...) the proposal's draws.
        weights: their :func:`importance_weights`.
        num: draws to return.

    Returns:
        (num, ...) draws, in random order.
    """
    draws = np.asarray(draws)
    if draws.shape[0] != weights.weights.size:
        raise ValueError(
            f"importance_resample: {draws.shape[0]} draws but {weights.weights.size} weights"
        )
    if num < 1:
        raise ValueError(f"importance_resample: num must be >= 1, got {num}")
    k_offset, k_perm = jax.random.split(key)
    u = (float(jax.random.uniform(k_offset)) + np.arange(num)) / num
    cdf = np.cumsum(weights.weights)
    idx = np.minimum(np.searchsorted(cdf, u * cdf[-1], side="right"), draws.shape[0] - 1)
    return draws[np.asarray(jax.random.permutation(k_perm, idx))]


def log_joint(
    model: Callable, args: Sequence[Any], prior: Any, names: Sequence[str], batch_size: int = 256
) -> Callable[[np.ndarray], np.ndarray]:
    r"""The function :math:`\theta \mapsto \log p(X, \theta)` of a numpyro likelihood model.

    Call it, and build it, inside ``jax.enable_x64`` for float64 likelihoods like NUTS's.

    Args:
        model: the numpyro model (e.g. :func:`~cigars.likelihood.sn_model`), whose sample sites
            are the prior's parameters.
        args: its positional arguments (the data).
        prior: the :class:`~cigars.simulate.GlobalPrior` of those sample sites (its supports
            give ``-inf`` outside them; numpyro's densities do not check).
        names: the parameters, in the order of the columns of ``theta``; must be the prior's.
        batch_size: draws evaluated together (memory vs speed).

    Returns:
        ``f(theta)``: (S, len(names)) parameter vectors -> (S,) float64 log joint densities.

    Raises:
        ValueError: if ``names`` are not the prior's parameters.
    """
    from numpyro.infer.util import log_density

    names = list(names)
    if sorted(names) != sorted(prior.names):
        raise ValueError(
            f"log_joint: the columns {names} are not the model's parameters {list(prior.names)}"
        )
    supports = [prior.distribution(n).support for n in names]

    def one(row):
        params = {n: row[j] for j, n in enumerate(names)}
        inside = jnp.all(jnp.stack([s(row[j]) for j, s in enumerate(supports)]))
        lp = log_density(model, tuple(args), {}, params)[0]
        return jnp.where(inside, lp, -jnp.inf)  # a NaN inside the support stays NaN: an error

    fn = jax.jit(lambda theta: jax.lax.map(one, theta, batch_size=batch_size))

    def evaluate(theta) -> np.ndarray:
        theta = np.asarray(theta, np.float64)
        if theta.ndim != 2 or theta.shape[1] != len(names):
            raise ValueError(f"log_joint: theta must be (S, {len(names)}), got {theta.shape}")
        return np.asarray(fn(jnp.asarray(theta)), np.float64)

    return evaluate
