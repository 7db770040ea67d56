"""The Calzetti et al. (2000) starburst attenuation curve."""

from __future__ import annotations

from typing import final

import jax.numpy as jnp

from cigars._types import Array, Float
from cigars.dust._base import MAG_PER_TAU, AbstractAttenuation

__all__ = ["Calzetti2000", "calzetti2000_k"]

CALZETTI_RV = 4.05
"""Calzetti et al. (2000) total-to-selective attenuation ratio R'_V (their eq. 5)."""


def calzetti2000_k(wave: Float[Array, "*w"]) -> Float[Array, "*w"]:
    r"""The Calzetti et al. (2000) starburst curve :math:`k'(\lambda) = A_\lambda/E_s(B-V)`.

    .. math::

        k'(\lambda) = \begin{cases}
            2.659\,(-2.156 + 1.509/x - 0.198/x^2 + 0.011/x^3) + R'_V, & x < 0.63\,\mu{\rm m},\\
            2.659\,(-1.857 + 1.040/x) + R'_V, & x \ge 0.63\,\mu{\rm m},
        \end{cases}

    with :math:`x = \lambda/\mu{\rm m}` and :math:`R'_V = 4.05` (Calzetti et al. 2000, ApJ 533,
    682, eqs. 4-5). The published validity is 0.12-2.2 micron; outside it the polynomials are
    extrapolated (as FSPS and Prospector do), and the curve is clipped at zero (it would turn
    negative beyond ~2.9 micron).

    Args:
        wave: wavelengths [Angstrom].

    Returns:
        k'(lambda), dimensionless; k'(5500 A) ~ 4.05.

    Example:
        >>> import jax.numpy as jnp
        >>> round(float(calzetti2000_k(jnp.array(1500.0))), 2)
        10.33
    """
    x = jnp.asarray(wave) / 1e4
    inv = 1.0 / x
    blue = 2.659 * (-2.156 + inv * (1.509 + inv * (-0.198 + inv * 0.011))) + CALZETTI_RV
    red = 2.659 * (-1.857 + 1.040 * inv) + CALZETTI_RV
    return jnp.maximum(jnp.where(x < 0.63, blue, red), 0.0)


@final
class Calzetti2000(AbstractAttenuation):
    r"""Calzetti et al. (2000) attenuation normalised to the V-band optical depth.

    .. math:: \tau(\lambda) = \tau_V\, k'(\lambda) / R'_V, \qquad R'_V = 4.05,

    so that :math:`\tau(5500\,\text{Å}) \approx \tau_V` (:func:`calzetti2000_k`).

    Attributes:
        tau_v: optical depth at 5500 A (A_V = 1.0857 tau_V mag).
    """

    tau_v: Float[Array, ""] | float

    @classmethod
    def from_av(cls, a_v: Float[Array, ""] | float) -> Calzetti2000:
        """The law with V-band attenuation ``a_v`` [mag]."""
        return cls(tau_v=a_v / MAG_PER_TAU)

    def optical_depth(self, wave: Float[Array, "*w"]) -> Float[Array, "*w"]:
        """tau(lambda) at rest-frame ``wave`` [Angstrom]."""
        return self.tau_v * calzetti2000_k(wave) / CALZETTI_RV
