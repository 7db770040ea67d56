"""The Cardelli, Clayton & Mathis (1989) Milky-Way extinction law."""

from __future__ import annotations

from typing import final

import jax.numpy as jnp

from cigars._types import Array, Float
from cigars.dust._base import MAG_PER_TAU, AbstractAttenuation

__all__ = ["CCM89", "ccm89_ab"]


def _horner(coeffs, y):
    out = jnp.zeros_like(y)
    for c in coeffs:
        out = out * y + c
    return out


# CCM89 eq. 3a-b coefficients (highest power first) for 1.1 <= x < 3.3 micron^-1, y = x - 1.82.
_A_OPT = (0.32999, -0.77530, 0.01979, 0.72085, -0.02427, -0.50447, 0.17699, 1.0)
_B_OPT = (-2.09002, 5.30260, -0.62251, -5.38434, 1.07233, 2.28305, 1.41338, 0.0)


def ccm89_ab(wave: Float[Array, "*w"]) -> tuple[Float[Array, "*w"], Float[Array, "*w"]]:
    r"""CCM89 coefficients :math:`a(x), b(x)` with :math:`A_\lambda/A_V = a(x) + b(x)/R_V`.

    Piecewise in :math:`x = 1/\lambda` [micron^-1] (Cardelli, Clayton & Mathis 1989, ApJ 345, 245,
    eqs. 2-5): infrared :math:`x < 1.1`, optical/NIR :math:`1.1 \le x < 3.3`, UV
    :math:`3.3 \le x < 8` (with the far-UV curvature term above 5.9), far UV :math:`x \ge 8`.
    Published validity 0.3 <= x <= 10 (1000 A - 3.3 micron); the formulae are extrapolated
    outside it.

    Args:
        wave: wavelengths [Angstrom].

    Returns:
        ``(a, b)``, each with the shape of ``wave``.
    """
    x = 1e4 / jnp.asarray(wave)
    # Infrared.
    xir = jnp.clip(x, 1e-3, None)
    a_ir, b_ir = 0.574 * xir**1.61, -0.527 * xir**1.61
    # Optical / near-infrared.
    y = x - 1.82
    a_opt, b_opt = _horner(_A_OPT, y), _horner(_B_OPT, y)
    # Ultraviolet, with the far-UV curvature above x = 5.9.
    fa = jnp.where(x > 5.9, -0.04473 * (x - 5.9) ** 2 - 0.009779 * (x - 5.9) ** 3, 0.0)
    fb = jnp.where(x > 5.9, 0.2130 * (x - 5.9) ** 2 + 0.1207 * (x - 5.9) ** 3, 0.0)
    a_uv = 1.752 - 0.316 * x - 0.104 / ((x - 4.67) ** 2 + 0.341) + fa
    b_uv = -3.090 + 1.825 * x + 1.206 / ((x - 4.62) ** 2 + 0.263) + fb
    # Far ultraviolet.
    y8 = x - 8.0
    a_fuv = -1.073 - 0.628 * y8 + 0.137 * y8**2 - 0.070 * y8**3
    b_fuv = 13.670 + 4.257 * y8 - 0.420 * y8**2 + 0.374 * y8**3

    a = jnp.where(x < 1.1, a_ir, jnp.where(x < 3.3, a_opt, jnp.where(x < 8.0, a_uv, a_fuv)))
    b = jnp.where(x < 1.1, b_ir, jnp.where(x < 3.3, b_opt, jnp.where(x < 8.0, b_uv, b_fuv)))
    return a, b


@final
class CCM89(AbstractAttenuation):
    r"""Cardelli, Clayton & Mathis (1989) extinction, :math:`A_\lambda = A_V\,[a(x) + b(x)/R_V]`.

    Attributes:
        a_v: V-band extinction [mag].
        r_v: total-to-selective extinction ratio A_V / E(B-V).

    Example:
        >>> import jax.numpy as jnp
        >>> law = CCM89(a_v=1.0, r_v=3.1)
        >>> round(float(law.attenuation_mag(jnp.array(5494.5))), 3)
        1.0
    """

    a_v: Float[Array, ""] | float
    r_v: Float[Array, ""] | float = 3.1

    def optical_depth(self, wave: Float[Array, "*w"]) -> Float[Array, "*w"]:
        """tau(lambda) = A_lambda / 1.0857 at ``wave`` [Angstrom]."""
        a, b = ccm89_ab(wave)
        return self.a_v * (a + b / self.r_v) / MAG_PER_TAU
