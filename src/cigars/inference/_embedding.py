"""Permutation-invariant, mask-aware summaries of a padded set of objects.

Each object's feature vector is encoded by a shared MLP, ``e_i = phi(x_i)`` (Zaheer et al. 2017,
Deep Sets). The set is pooled over the valid objects only, either by the masked mean

    m = sum_i mask_i e_i / max(1, sum_i mask_i)

or by pooling by multi-head attention with one learned query (PMA; Lee et al. 2019, Set
Transformer, Sec. 3.2), with padded slots excluded from the softmax. With ``pool_inputs`` the
masked mean of the inputs themselves is appended (a linear path: a per-object statistic whose
sum over objects is informative, such as a likelihood-score contribution, reaches the summariser
exactly instead of through the encoder's nonlinearity). With ``pool_variance`` the masked
variance of each encoding dimension, ``sum_i mask_i (e_i - m)^2 / max(1, sum_i mask_i)``, is
appended too (a second-moment path: a per-object residual's scatter). With ``pool_covariance =
k`` a learned linear map projects each encoding to ``k`` dimensions ``p_i = W e_i + b`` and
the summariser also sees their masked covariance matrix over the set (its ``k(k+1)/2``
upper-triangle entries) and each dimension's log conditional variance given the other ``k - 1``,
``-log (Σ^-1)_jj``: the residual variance of that dimension's least-squares regression on the
others (:func:`covariance_features`). A Hubble residual's scatter *after* its regression on
stretch and colour, whose slopes differ from survey to survey, is such a conditional variance;
the variances of fixed projections (``pool_variance``) do not give it. Extra per-set features
(e.g. the standardised log object count) are appended and a second MLP gives the summary
``s = rho([m, extra])``. Padded slots never influence the output, whatever they contain.
"""

from __future__ import annotations

import math
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

from cigars._types import Array, Bool, Float
from cigars.inference._nets import MLP

__all__ = ["AttentionPool", "SetEmbedding", "covariance_features", "masked_mean"]


def masked_mean(e: Float[Array, "... n k"], mask: Bool[Array, "... n"]) -> Float[Array, "... k"]:
    """Mean of ``e`` over the valid slots (zero for an empty set)."""
    w = mask.astype(e.dtype)[..., None]
    total = jnp.sum(jnp.where(mask[..., None], e, 0.0), axis=-2)
    return total / jnp.maximum(jnp.sum(w, axis=-2), 1.0)


def covariance_features(
    p: Float[Array, "... n k"], mask: Bool[Array, "... n"], jitter: float = 1e-3
) -> Float[Array, "... c"]:
    """Masked covariance entries and log conditional variances of ``p`` over the valid slots.

    Args:
        p: per-object vectors; padded rows may hold anything.
        mask: True for valid objects.
        jitter: the covariance gets ``jitter * trace / k + 1e-6`` added to its diagonal before
            it is inverted, so that sets of fewer than ``k + 1`` objects stay finite.

    Returns:
        ``k(k+1)/2`` entries of the population covariance matrix (row-major upper triangle),
        then ``-log (Σ^-1)_jj`` for each ``j``: the log of dimension ``j``'s variance
        conditional on the others (for a Gaussian; in general the mean squared residual of its
        least-squares regression on them, intercept included).
    """
    k = p.shape[-1]
    valid = mask[..., None]
    centred = jnp.where(valid, p - masked_mean(p, mask)[..., None, :], 0.0)
    n = jnp.maximum(jnp.sum(mask, axis=-1), 1).astype(p.dtype)[..., None, None]
    cov = jnp.einsum("...ni,...nj->...ij", centred, centred) / n
    upper = jnp.triu_indices(k)
    scale = jnp.trace(cov, axis1=-2, axis2=-1)[..., None, None] / k
    regularised = cov + (jitter * scale + 1e-6) * jnp.eye(k, dtype=p.dtype)
    precision = jnp.diagonal(jnp.linalg.inv(regularised), axis1=-2, axis2=-1)
    return jnp.concatenate([cov[..., upper[0], upper[1]], -jnp.log(precision)], axis=-1)


class AttentionPool(nnx.Module):
    """One-query multi-head attention pooling over the valid objects of a set (PMA).

    Args:
        dim: object-encoding dimension (divisible by ``num_heads``).
        num_heads: number of attention heads.
        rngs: parameter initialisation keys.
    """

    def __init__(self, dim: int, num_heads: int, *, rngs: nnx.Rngs):
        if dim % num_heads:
            raise ValueError(f"AttentionPool: dim {dim} not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.query = nnx.Param(
            nnx.initializers.normal(1.0)(rngs.params(), (num_heads, self.head_dim))
        )
        self.key_proj = nnx.Linear(dim, dim, rngs=rngs)
        self.value_proj = nnx.Linear(dim, dim, rngs=rngs)
        self.out_proj = nnx.Linear(dim, dim, rngs=rngs)

    def __call__(
        self, e: Float[Array, "... n k"], mask: Bool[Array, "... n"]
    ) -> Float[Array, "... k"]:
        """Pool the valid rows of ``e``; an empty set gives the output bias."""
        split = e.shape[:-1] + (self.num_heads, self.head_dim)
        keys = self.key_proj(e).reshape(split)
        values = self.value_proj(e).reshape(split)
        logits = jnp.einsum("hd,...nhd->...hn", self.query[...], keys) / math.sqrt(self.head_dim)
        logits = jnp.where(mask[..., None, :], logits, -jnp.inf)
        any_valid = jnp.any(mask, axis=-1)[..., None, None]
        logits = jnp.where(any_valid, logits, 0.0)
        attn = jax.nn.softmax(logits, axis=-1)
        attn = jnp.where(mask[..., None, :], attn, 0.0)
        pooled = jnp.einsum("...hn,...nhd->...hd", attn, values)
        return self.out_proj(pooled.reshape(pooled.shape[:-2] + (-1,)))


class SetEmbedding(nnx.Module):
    """Encode each object, pool over the set, and summarise.

    Args:
        in_dim: per-object feature dimension (data plus per-object context).
        extra_dim: per-set features appended after pooling (e.g. 1 for the log count).
        embed_dim: per-object encoding dimension ``k``.
        summary_dim: set summary dimension.
        hidden: hidden width of both MLPs.
        depth: hidden layers of both MLPs.
        pooling: ``"mean"`` (masked mean) or ``"attention"`` (PMA).
        num_heads: attention heads (``pooling="attention"`` only).
        pool_inputs: also pool the inputs linearly (masked mean) into the summariser.
        pool_variance: also pool the masked variance of each encoding dimension.
        pool_covariance: ``k`` > 0 also pools the covariance entries and log conditional
            variances of a learned ``k``-dimensional projection of the encodings
            (:func:`covariance_features`); 0 for none.
        rngs: parameter initialisation keys.
    """

    def __init__(
        self,
        in_dim: int,
        extra_dim: int,
        *,
        embed_dim: int,
        summary_dim: int,
        hidden: int,
        depth: int,
        pooling: Literal["mean", "attention"] = "mean",
        num_heads: int = 4,
        pool_inputs: bool = False,
        pool_variance: bool = False,
        pool_covariance: int = 0,
        rngs: nnx.Rngs,
    ):
        if pooling not in ("mean", "attention"):
            raise ValueError(
                f"SetEmbedding: pooling must be 'mean' or 'attention', got {pooling!r}"
            )
        self.encoder = MLP(in_dim, embed_dim, hidden=hidden, depth=depth, rngs=rngs)
        self.pool = (
            AttentionPool(embed_dim, num_heads, rngs=rngs) if pooling == "attention" else None
        )
        if pool_covariance < 0:
            raise ValueError(f"SetEmbedding: pool_covariance must be >= 0, got {pool_covariance}")
        self.pool_inputs = pool_inputs
        self.pool_variance = pool_variance
        self.covariance_proj = (
            nnx.Linear(embed_dim, pool_covariance, rngs=rngs) if pool_covariance else None
        )
        k = pool_covariance
        pooled_dim = (
            embed_dim * (2 if pool_variance else 1)
            + (in_dim if pool_inputs else 0)
            + k * (k + 1) // 2
            + k
        )
        self.summariser = MLP(
            pooled_dim + extra_dim, summary_dim, hidden=hidden, depth=depth, rngs=rngs
        )

    def __call__(
        self,
        x: Float[Array, "... n f"],
        mask: Bool[Array, "... n"],
        extra: Float[Array, "... x"],
        pooled_scale: tuple[Array, Array] | None = None,
    ) -> tuple[Float[Array, "... s"], Float[Array, "... n k"]]:
        """Return the set summary and the per-object encodings (zero in padded slots).

        Args:
            x: per-object features; padded rows may hold anything (they are zeroed first).
            mask: True for valid objects.
            extra: per-set features appended after pooling.
            pooled_scale: ``(shift, W)`` whitening the pooled inputs to ``W (mean - shift)``
                (``pool_inputs`` only; default none).
        """
        x = jnp.where(mask[..., None], x, 0.0)
        e = jnp.where(mask[..., None], self.encoder(x), 0.0)
        pooled = masked_mean(e, mask) if self.pool is None else self.pool(e, mask)
        if self.pool_variance:
            centred = e - masked_mean(e, mask)[..., None, :]
            pooled = jnp.concatenate([pooled, masked_mean(centred**2, mask)], axis=-1)
        if self.covariance_proj is not None:
            moments = covariance_features(self.covariance_proj(e), mask)
            pooled = jnp.concatenate([pooled, moments], axis=-1)
        if self.pool_inputs:
            mean_x = masked_mean(x, mask)
            if pooled_scale is not None:
                mean_x = (mean_x - pooled_scale[0]) @ pooled_scale[1].T
            pooled = jnp.concatenate([pooled, mean_x], axis=-1)
        return self.summariser(jnp.concatenate([pooled, extra], axis=-1)), e
