"""Elementwise bijections between R^n and a box-shaped support, and affine standardisation.

A parameter with support bounds ``(lower, upper)`` (either may be infinite) is mapped to an
unconstrained value ``u`` by

* ``lower, upper`` finite:  theta = lower + (upper - lower) * sigmoid(u)   (scaled logit inverse)
* only ``lower`` finite:    theta = lower + softplus(u)
* only ``upper`` finite:    theta = upper - softplus(u)
* both infinite:            theta = u

The flows of :class:`~cigars.inference.HierarchicalNPE` model ``u`` (after a fixed affine
standardisation), so posterior draws always lie inside the prior's support.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from cigars._types import Array, Float

__all__ = ["SupportTransform"]


def _softplus_inverse(y):
    """log(exp(y) - 1), stable for small and large ``y > 0``."""
    return y + jnp.log(-jnp.expm1(-y))


@struct.dataclass
class SupportTransform:
    """Per-dimension bijection from unconstrained ``u`` to ``theta`` in ``[lower, upper]``.

    Attributes:
        lower: lower bounds, one per dimension (``-inf`` for none).
        upper: upper bounds, one per dimension (``+inf`` for none).

    Example:
        >>> t = SupportTransform.create([0.0, -np.inf], [1.0, np.inf])
        >>> theta, _ = t.forward(jnp.array([0.0, 3.0]))
        >>> [round(float(v), 6) for v in theta]
        [0.5, 3.0]
    """

    lower: tuple[float, ...] = struct.field(pytree_node=False)
    upper: tuple[float, ...] = struct.field(pytree_node=False)

    @classmethod
    def create(cls, lower: Sequence[float], upper: Sequence[float]) -> SupportTransform:
        """Validate the bounds and build the transform.

        Raises:
            ValueError: if the shapes differ, a bound is NaN, or ``lower >= upper`` somewhere.
        """
        lo = np.asarray(lower, dtype=float).reshape(-1)
        hi = np.asarray(upper, dtype=float).reshape(-1)
        if lo.shape != hi.shape:
            raise ValueError(f"support bounds: lower has {lo.size} entries, upper has {hi.size}")
        if np.isnan(lo).any() or np.isnan(hi).any():
            raise ValueError("support bounds must not be NaN (use -inf/+inf for no bound)")
        bad = np.flatnonzero(~(lo < hi))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"support bounds: need lower < upper, got [{lo[i]}, {hi[i]}] at {i}")
        return cls(lower=tuple(float(v) for v in lo), upper=tuple(float(v) for v in hi))

    @property
    def dim(self) -> int:
        """Number of dimensions."""
        return len(self.lower)

    def _parts(self):
        lo = np.asarray(self.lower)
        hi = np.asarray(self.upper)
        has_lo, has_hi = np.isfinite(lo), np.isfinite(hi)
        both = has_lo & has_hi
        only_lo = has_lo & ~has_hi
        only_hi = has_hi & ~has_lo
        safe_lo = np.where(has_lo, lo, 0.0)
        safe_hi = np.where(has_hi, hi, 1.0)
        return both, only_lo, only_hi, safe_lo, safe_hi

    def forward(
        self, u: Float[Array, "... d"]
    ) -> tuple[Float[Array, "... d"], Float[Array, "*batch"]]:
        """Map unconstrained ``u`` to the support.

        Returns:
            ``theta`` and ``log|det d theta / d u|`` summed over the last axis.
        """
        both, only_lo, only_hi, lo, hi = self._parts()
        dtype = u.dtype
        lo_, hi_ = jnp.asarray(lo, dtype), jnp.asarray(hi, dtype)
        width = hi_ - lo_
        y_both = lo_ + width * jax.nn.sigmoid(u)
        y_lo = lo_ + jax.nn.softplus(u)
        y_hi = hi_ - jax.nn.softplus(u)
        theta = jnp.where(both, y_both, jnp.where(only_lo, y_lo, jnp.where(only_hi, y_hi, u)))
        ld_both = jnp.log(width) - jax.nn.softplus(u) - jax.nn.softplus(-u)
        ld_half = -jax.nn.softplus(-u)
        ld = jnp.where(both, ld_both, jnp.where(only_lo | only_hi, ld_half, 0.0))
        return theta, ld.sum(-1)

    def inverse(
        self, theta: Float[Array, "... d"]
    ) -> tuple[Float[Array, "... d"], Float[Array, "*batch"]]:
        """Map ``theta`` (inside the support) to unconstrained ``u``.

        Values on or beyond a bound are clipped just inside it (relative margin of ``4 eps``
        of the dtype) so that ``u`` stays finite.

        Returns:
            ``u`` and ``log|det d u / d theta|`` summed over the last axis.
        """
        both, only_lo, only_hi, lo, hi = self._parts()
        dtype = theta.dtype
        eps = 4 * float(jnp.finfo(dtype).eps)
        lo_, hi_ = jnp.asarray(lo, dtype), jnp.asarray(hi, dtype)
        width = hi_ - lo_
        p = jnp.clip((theta - lo_) / width, eps, 1 - eps)
        u_both = jnp.log(p) - jnp.log1p(-p)
        tiny = jnp.asarray(np.finfo(np.dtype(dtype)).tiny, dtype) * 1e6
        d_lo = jnp.maximum(theta - lo_, tiny + eps * jnp.abs(lo_))
        d_hi = jnp.maximum(hi_ - theta, tiny + eps * jnp.abs(hi_))
        u_lo = _softplus_inverse(d_lo)
        u_hi = _softplus_inverse(d_hi)
        u = jnp.where(both, u_both, jnp.where(only_lo, u_lo, jnp.where(only_hi, u_hi, theta)))
        # log|du/dtheta| = -log|dtheta/du| evaluated at u.
        ld_both = -(jnp.log(width) - jax.nn.softplus(u) - jax.nn.softplus(-u))
        ld_half = jax.nn.softplus(-u)
        ld = jnp.where(both, ld_both, jnp.where(only_lo | only_hi, ld_half, 0.0))
        return u, ld.sum(-1)
