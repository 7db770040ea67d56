"""Joint posterior draws from a trained hierarchical NPE or an ensemble, in physical units."""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from cigars._types import Array, Bool, Float, Key
from cigars.inference._npe import HierarchicalNPE

__all__ = ["EnsembleNPE", "posterior_log_prob", "sample_posterior"]


@dataclasses.dataclass(frozen=True)
class EnsembleNPE:
    """An equal-weight mixture of hierarchical NPEs trained on the same problem (a deep ensemble).

    ``q(theta, l | X) = (1/K) sum_k q_k(theta, l | X)``: each joint draw comes whole from one
    member (globals and locals together), picked uniformly at random, and
    :func:`posterior_log_prob` is the mixture's density. Members trained from different
    initialisations and batch orders make errors that partly cancel in the mixture, and their
    disagreement widens it where the training data leave the posterior uncertain (Lakshminarayanan
    et al. 2017; Hermans et al. 2022 for simulation-based inference). Built by
    :func:`~cigars.inference.load_estimator` from a folder written by ``cigars ensemble``.

    Raises:
        ValueError: for fewer than two members, or members of different data or parameter
            shapes or supports.
    """

    members: tuple[HierarchicalNPE, ...]

    def __post_init__(self):
        if len(self.members) < 2:
            raise ValueError(f"EnsembleNPE: needs at least 2 members, got {len(self.members)}")
        first = self.members[0]
        for i, member in enumerate(self.members[1:], 1):
            for attr in ("n_theta", "n_local", "n_feat", "n_ctx"):
                if getattr(member, attr) != getattr(first, attr):
                    raise ValueError(
                        f"EnsembleNPE: member {i} has {attr}={getattr(member, attr)}, "
                        f"member 0 {getattr(first, attr)}"
                    )
            for attr in ("theta_lower", "theta_upper", "local_lower", "local_upper"):
                if not np.array_equal(getattr(member, attr), getattr(first, attr)):
                    raise ValueError(f"EnsembleNPE: member {i} has other supports ({attr})")

    @property
    def n_theta(self) -> int:
        return self.members[0].n_theta

    def resolve_context(self, data, context):
        return self.members[0].resolve_context(data, context)


def active_slots(n_valid: int, n_max: int) -> int:
    """Slots the per-object flows run on for ``n_valid`` objects: at least ``n_valid``.

    ``n_valid`` rounded up to a multiple of an eighth of the power of two below it (64 at
    least), capped at ``n_max``: at most 12.5% of the flow evaluations are padding (a power of
    two wasted up to half: 16,427 SNe ran on 32,768 slots), and surveys of similar size still
    share one compilation (eight size classes per octave).

    Example:
        >>> active_slots(300, 1536), active_slots(16427, 20000), active_slots(5, 3)
        (320, 18432, 3)
    """
    step = max(64, (1 << max(n_valid - 1, 0).bit_length()) // 16)
    return min(int(n_max), -(-max(n_valid, 1) // step) * step)


@functools.partial(jax.jit, static_argnums=(0, 6, 7, 8))
def _sample(graphdef, state, key, data, mask, context, num_samples, chunk_size, n_active):
    model = nnx.merge(graphdef, state)
    return model.sample(
        key, data, mask, context, num_samples, chunk_size=chunk_size, n_active=n_active
    )


def sample_posterior(
    estimator: HierarchicalNPE | EnsembleNPE,
    key: Key,
    data: Float[Array, "n_sn n_feat"],
    mask: Bool[Array, " n_sn"],
    context: Float[Array, "n_sn n_ctx"] | None = None,
    num_samples: int = 1000,
    *,
    chunk_size: int = 256,
) -> tuple[Float[Array, "s n_theta"], Float[Array, "s n_sn n_local"]]:
    """Draw from the joint posterior ``q(theta, l_1..l_n | X)`` of one survey.

    Each draw is ``theta ~ q(theta | X)`` followed by ``l_i ~ q(l_i | x_i, theta, s(X))`` for
    every valid object, so the draws carry the correlations between the globals and all locals.

    Args:
        estimator: a trained :class:`~cigars.inference.HierarchicalNPE`, or an
            :class:`EnsembleNPE` (each draw from one member picked at random).
        key: PRNG key.
        data: observations ``(n_max, n_feat)`` in the simulator's units (padded rows ignored).
        mask: True for valid objects.
        context: per-object context ``(n_max, n_ctx)``; None if the estimator has none.
        num_samples: number of joint draws ``S``.
        chunk_size: posterior draws processed together for the locals (memory vs speed).

    Returns:
        ``theta`` of shape ``(S, n_theta)`` and ``locals`` of shape ``(S, n_max, n_local)`` in
        physical units (inside the supports); padded slots of ``locals`` are NaN.

    Raises:
        ValueError: if shapes do not match the estimator.
    """
    if num_samples < 1:
        raise ValueError(f"sample_posterior: num_samples must be >= 1, got {num_samples}")
    if isinstance(estimator, EnsembleNPE):
        return _sample_ensemble(estimator, key, data, mask, context, num_samples, chunk_size)
    data = jnp.asarray(data)
    mask = jnp.asarray(mask, bool)
    context = estimator.resolve_context(data, None if context is None else jnp.asarray(context))
    graphdef, state = nnx.split(estimator)
    # The per-object flows run on the valid objects only (padded a little: see active_slots).
    n_active = active_slots(int(np.sum(np.asarray(mask))), int(data.shape[0]))
    return _sample(
        graphdef,
        state,
        key,
        data,
        mask,
        context,
        int(num_samples),
        int(chunk_size),
        n_active,
    )


def _sample_ensemble(ensemble, key, data, mask, context, num_samples, chunk_size):
    """Mixture draws: member k fills the draws whose uniformly drawn label is k.

    Member k is asked for its count rounded up to an eighth of ``num_samples`` (the surplus is
    dropped), so the random counts compile at most nine sampling programs per member.
    """
    n_members = len(ensemble.members)
    k_pick, *k_members = jax.random.split(key, n_members + 1)
    pick = np.asarray(jax.random.randint(k_pick, (num_samples,), 0, n_members))
    step = -(-num_samples // 8)
    theta = local = None
    for k, (member, k_member) in enumerate(zip(ensemble.members, k_members, strict=True)):
        rows = np.flatnonzero(pick == k)
        if rows.size == 0:
            continue
        n_draw = min(num_samples, -(-rows.size // step) * step)
        t, loc = sample_posterior(
            member, k_member, data, mask, context, n_draw, chunk_size=chunk_size
        )
        if theta is None:
            theta = np.empty((num_samples, *t.shape[1:]), t.dtype)
            local = np.empty((num_samples, *loc.shape[1:]), loc.dtype)
        theta[rows] = np.asarray(t)[: rows.size]
        local[rows] = np.asarray(loc)[: rows.size]
    return jnp.asarray(theta), jnp.asarray(local)


@functools.partial(jax.jit, static_argnums=0)
def _log_prob_theta(graphdef, state, theta, data, mask, context):
    return nnx.merge(graphdef, state).log_prob_theta(theta, data, mask, context)


def posterior_log_prob(
    estimator: HierarchicalNPE | EnsembleNPE,
    theta: Float[Array, "s n_theta"],
    data: Float[Array, "n_sn n_feat"],
    mask: Bool[Array, " n_sn"],
    context: Float[Array, "n_sn n_ctx"] | None = None,
) -> Float[Array, " s"]:
    """``log q(theta | X)`` of global parameter vectors in physical units, for one survey.

    Args:
        estimator: a trained :class:`~cigars.inference.HierarchicalNPE`, or an
            :class:`EnsembleNPE` (the mixture's density).
        theta: ``(S, n_theta)`` parameter vectors (inside the prior's support).
        data: observations ``(n_max, n_feat)`` (padded rows ignored).
        mask: True for valid objects.
        context: per-object context, or None if the estimator has none.

    Returns:
        ``(S,)`` log densities.
    """
    data = jnp.asarray(data)
    mask = jnp.asarray(mask, bool)
    context = estimator.resolve_context(data, None if context is None else jnp.asarray(context))
    theta = jnp.asarray(theta, data.dtype)
    if theta.ndim != 2 or theta.shape[1] != estimator.n_theta:
        raise ValueError(
            f"posterior_log_prob: theta must be (S, {estimator.n_theta}), got {theta.shape}"
        )
    if isinstance(estimator, EnsembleNPE):
        log_q = jnp.stack(
            [posterior_log_prob(m, theta, data, mask, context) for m in estimator.members]
        )
        return jax.nn.logsumexp(log_q, axis=0) - math.log(len(estimator.members))
    graphdef, state = nnx.split(estimator)
    return _log_prob_theta(graphdef, state, theta, data, mask, context)
