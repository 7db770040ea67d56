"""Monotone rational-quadratic splines with linear (identity) tails.

The transform of Durkan, Bekasov, Murray & Papamakarios (2019), "Neural Spline Flows", NeurIPS,
Sec. 3.1 and Appendix A (arXiv:1906.04032): ``K`` bins on ``[-B, B]`` with knots
``(x_k, y_k)`` and positive knot derivatives ``d_k``; inside bin ``k``, with
``w_k = x_{k+1} - x_k``, ``h_k = y_{k+1} - y_k``, ``s_k = h_k / w_k`` and
``xi = (x - x_k) / w_k``,

    y = y_k + h_k [s_k xi^2 + d_k xi (1 - xi)] / [s_k + (d_{k+1} + d_k - 2 s_k) xi (1 - xi)]
                                                                                    (eq. 4)

    dy/dx = s_k^2 [d_{k+1} xi^2 + 2 s_k xi (1 - xi) + d_k (1 - xi)^2]
            / [s_k + (d_{k+1} + d_k - 2 s_k) xi (1 - xi)]^2                                  (eq. 5)

and the inverse is the root of a quadratic (eqs. 6-8). Outside ``[-B, B]`` the map is the
identity, and the boundary derivatives are fixed to 1 so the spline joins the tails smoothly.
Everything is elementwise: parameters carry one trailing axis (``K`` widths, ``K`` heights,
``K - 1`` interior derivatives) and broadcast against ``x``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from cigars._types import Array, Float

__all__ = ["rational_quadratic_spline", "spline_param_count"]

_MIN_BIN = 1e-3
_MIN_DERIVATIVE = 1e-3


def spline_param_count(num_bins: int) -> int:
    """Number of unnormalised parameters per transformed dimension: ``3 K - 1``."""
    return 3 * num_bins - 1


def _knots(unnormalised, bound):
    k = unnormalised.shape[-1]
    widths = _MIN_BIN + (1 - _MIN_BIN * k) * jax.nn.softmax(unnormalised, axis=-1)
    cum = jnp.cumsum(widths, axis=-1)
    inner = 2 * bound * cum[..., :-1] - bound
    lo = jnp.full(inner.shape[:-1] + (1,), -bound, inner.dtype)
    hi = jnp.full(inner.shape[:-1] + (1,), bound, inner.dtype)
    knots = jnp.concatenate([lo, inner, hi], axis=-1)
    return knots, knots[..., 1:] - knots[..., :-1]


def _derivatives(unnormalised):
    # Softplus scaled so that zero parameters give derivative exactly 1 (identity at init).
    d = _MIN_DERIVATIVE + (1 - _MIN_DERIVATIVE) * jax.nn.softplus(unnormalised) / math.log(2.0)
    ones = jnp.ones(d.shape[:-1] + (1,), d.dtype)
    return jnp.concatenate([ones, d, ones], axis=-1)


def _take(a, idx):
    return jnp.take_along_axis(a, idx[..., None], axis=-1)[..., 0]


def rational_quadratic_spline(
    x: Float[Array, "*batch"],
    params: Float[Array, "... p"],
    *,
    bound: float,
    inverse: bool = False,
) -> tuple[Float[Array, "*batch"], Float[Array, "*batch"]]:
    """Apply the rational-quadratic spline (or its inverse) elementwise.

    Args:
        x: input values, any shape ``S``.
        params: unnormalised spline parameters, shape ``S + (3 K - 1,)`` laid out as
            ``[K width logits, K height logits, K - 1 interior derivative pre-activations]``.
            All-zero parameters give the identity map.
        bound: half-width ``B`` of the spline interval ``[-B, B]``; identity outside.
        inverse: apply the inverse map instead (eqs. 6-8 of Durkan et al. 2019).

    Returns:
        ``(y, log|dy/dx|)`` for the forward map, ``(x, log|dx/dy|)`` for the inverse, both of
        shape ``S``.

    Raises:
        ValueError: if the parameter axis is not ``3 K - 1`` long for some ``K >= 2``.
    """
    p = params.shape[-1]
    if p % 3 != 2 or p < 5:
        raise ValueError(f"spline params: last axis must be 3K-1 with K >= 2, got {p}")
    k = (p + 1) // 3
    params = jnp.broadcast_to(params, x.shape + (p,))
    xk, wk_all = _knots(params[..., :k], bound)
    yk, hk_all = _knots(params[..., k : 2 * k], bound)
    dk_all = _derivatives(params[..., 2 * k :])

    inside = jnp.abs(x) <= bound
    v = jnp.clip(x, -bound, bound)
    grid = yk if inverse else xk
    idx = jnp.sum(v[..., None] >= grid[..., 1:-1], axis=-1)
    x0, w = _take(xk, idx), _take(wk_all, idx)
    y0, h = _take(yk, idx), _take(hk_all, idx)
    d0, d1 = _take(dk_all, idx), _take(dk_all, idx + 1)
    s = h / w
    slack = d1 + d0 - 2 * s

    if inverse:
        dy = v - y0
        a = h * (s - d0) + dy * slack
        b = h * d0 - dy * slack
        c = -s * dy
        disc = jnp.maximum(b**2 - 4 * a * c, 0.0)
        xi = jnp.clip(2 * c / (-b - jnp.sqrt(disc)), 0.0, 1.0)
        out = x0 + xi * w
    else:
        xi = jnp.clip((v - x0) / w, 0.0, 1.0)
        out = y0 + h * (s * xi**2 + d0 * xi * (1 - xi)) / (s + slack * xi * (1 - xi))
    one_m = 1 - xi
    denom = s + slack * xi * one_m
    log_deriv = (
        2 * jnp.log(s)
        + jnp.log(d1 * xi**2 + 2 * s * xi * one_m + d0 * one_m**2)
        - 2 * jnp.log(denom)
    )
    if inverse:
        log_deriv = -log_deriv
    out = jnp.where(inside, out, x)
    log_deriv = jnp.where(inside, log_deriv, 0.0)
    return out, log_deriv
