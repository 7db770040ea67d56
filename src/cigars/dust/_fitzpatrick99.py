"""The Fitzpatrick (1999) R_V-dependent Milky-Way extinction law."""

from __future__ import annotations

from typing import final

import jax.numpy as jnp
import numpy as np

from cigars._types import Array, Float
from cigars.dust._base import MAG_PER_TAU, AbstractAttenuation

__all__ = ["Fitzpatrick99"]

# Fitzpatrick & Massa (1990) UV-bump parameters adopted by Fitzpatrick (1999), Table 3.
_X0, _GAMMA, _C3, _C4, _C5 = 4.596, 0.99, 3.23, 0.41, 5.9
# Optical/IR spline anchors in x = 1/lambda [micron^-1]: 0, 26500, 12200, 6000, 5470, 4670, 4110 A,
# plus two UV anchors at 2700 and 2600 A that join the spline to the UV formula.
_X_KNOTS = np.array([0.0, 1e4 / 26500, 1e4 / 12200, 1e4 / 6000, 1e4 / 5470, 1e4 / 4670,
                     1e4 / 4110, 1e4 / 2700, 1e4 / 2600])  # fmt: skip
_X_UV = 1e4 / 2700.0  # below 2700 A the analytic UV curve is used


def _uv_k(x, r_v):
    """FM90 UV curve E(lambda-V)/E(B-V) with F99's R_V-dependent c1, c2 (F99 sec. 3)."""
    c2 = -0.824 + 4.717 / r_v
    c1 = 2.030 - 3.007 * c2
    x2 = x * x
    drude = x2 / ((x2 - _X0**2) ** 2 + x2 * _GAMMA**2)
    y = jnp.maximum(x - _C5, 0.0)
    fuv = _C4 * (0.5392 * y**2 + 0.05644 * y**3)
    return c1 + c2 * x + _C3 * drude + fuv


def _knot_values(r_v):
    """E(lambda-V)/E(B-V) at the spline anchors (FM_UNRED's updated optical/IR values)."""
    rv2 = r_v * r_v
    optical = jnp.stack(
        [
            -r_v,
            0.26469 * r_v / 3.1 - r_v,
            0.82925 * r_v / 3.1 - r_v,
            -0.422809 + 1.00270 * r_v + 2.13572e-4 * rv2 - r_v,
            -5.13540e-2 + 1.00216 * r_v - 7.35778e-5 * rv2 - r_v,
            0.700127 + 1.00184 * r_v - 3.32598e-5 * rv2 - r_v,
            1.19456
            + 1.01707 * r_v
            - 5.46959e-3 * rv2
            + 7.97809e-4 * rv2 * r_v
            - 4.45636e-5 * rv2 * rv2
            - r_v,
        ]
    )
    return jnp.concatenate([optical, _uv_k(jnp.asarray(_X_KNOTS[7:]), r_v)])


def _natural_spline(xk: np.ndarray, yk, x):
    """Natural cubic spline through (xk, yk) evaluated at x (xk fixed, yk traced)."""
    h = np.diff(xk)
    n = xk.size
    # Tridiagonal system for the interior second derivatives (natural ends: M_0 = M_{n-1} = 0).
    mat = np.zeros((n - 2, n - 2))
    for i in range(n - 2):
        mat[i, i] = 2.0 * (h[i] + h[i + 1])
        if i > 0:
            mat[i, i - 1] = h[i]
        if i < n - 3:
            mat[i, i + 1] = h[i + 1]
    slopes = jnp.diff(yk) / h
    rhs = 6.0 * jnp.diff(slopes)
    m = jnp.concatenate([jnp.zeros(1), jnp.linalg.solve(jnp.asarray(mat), rhs), jnp.zeros(1)])
    i = jnp.clip(jnp.searchsorted(jnp.asarray(xk), x, side="right") - 1, 0, n - 2)
    x0, x1, hi = jnp.asarray(xk)[i], jnp.asarray(xk)[i + 1], jnp.asarray(h)[i]
    t0, t1 = x1 - x, x - x0
    return (
        m[i] * t0**3 / (6 * hi)
        + m[i + 1] * t1**3 / (6 * hi)
        + (yk[i] / hi - m[i] * hi / 6) * t0
        + (yk[i + 1] / hi - m[i + 1] * hi / 6) * t1
    )


@final
class Fitzpatrick99(AbstractAttenuation):
    r"""Fitzpatrick (1999) extinction for any :math:`R_V`.

    UV (:math:`\lambda < 2700` Å): the Fitzpatrick & Massa (1990) curve with
    :math:`c_2 = -0.824 + 4.717/R_V`, :math:`c_1 = 2.030 - 3.007\,c_2`, :math:`x_0 = 4.596`,
    :math:`\gamma = 0.99`, :math:`c_3 = 3.23`, :math:`c_4 = 0.41`; optical/IR: a natural cubic
    spline in :math:`x = 1/\lambda` through anchors at 26500, 12200, 6000, 5470, 4670, 4110 Å
    (R_V-dependent values as in the IDL ``FM_UNRED`` routine, F99 Table 4 updated) and at
    2700, 2600 Å from the UV curve, with :math:`k(x=0) = -R_V`. Then

    .. math:: A_\lambda = \frac{A_V}{R_V}\,[k(x) + R_V].

    Fitzpatrick 1999, PASP 111, 63; Fitzpatrick & Massa 1990, ApJS 72, 163.
    Defined for 910 A - 6 micron here (published validity down to 1150 A).

    Attributes:
        a_v: V-band extinction [mag].
        r_v: total-to-selective extinction ratio A_V / E(B-V).
    """

    a_v: Float[Array, ""] | float
    r_v: Float[Array, ""] | float = 3.1

    def optical_depth(self, wave: Float[Array, "*w"]) -> Float[Array, "*w"]:
        """tau(lambda) = A_lambda / 1.0857 at ``wave`` [Angstrom]."""
        x = 1e4 / jnp.asarray(wave)
        r_v = jnp.asarray(self.r_v)
        k_opt = _natural_spline(_X_KNOTS, _knot_values(r_v), jnp.minimum(x, _X_KNOTS[-1]))
        k_uv = _uv_k(jnp.maximum(x, _X_UV), r_v)
        k = jnp.where(x < _X_UV, k_opt, k_uv)
        return self.a_v / r_v * (k + r_v) / MAG_PER_TAU
