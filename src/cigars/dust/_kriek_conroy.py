"""Kriek & Conroy (2013) diffuse dust and the birth-cloud power law (FSPS dust_type=4)."""

from __future__ import annotations

from typing import final

import jax.numpy as jnp

from cigars._types import Array, Float
from cigars.dust._base import AbstractAttenuation

__all__ = ["KriekConroy2013", "PowerLawAttenuation"]

_LAMBDA_V = 5500.0  # [Angstrom] normalisation wavelength of FSPS/Prospector optical depths
_LAMBDA_BUMP = 2175.0  # [Angstrom] centre of the UV bump
_WIDTH_BUMP = 350.0  # [Angstrom] FWHM of the UV bump (Noll et al. 2009)


def _fsps_calzetti(wave: Float[Array, "*w"]) -> Float[Array, "*w"]:
    """FSPS's Calzetti curve k'(lambda)/4.05 (``cal00`` of FSPS dust_type=4), clipped at zero.

    FSPS writes the Calzetti et al. (2000) curve with the 1997 coefficients,
    [1.17 (poly(1/x)) + 1.78] / 0.44 / 4.05, i.e. 2.659 (...) + 4.045 divided by 4.05; it differs
    from :func:`cigars.dust.calzetti2000_k` / 4.05 by 0.0045 / 4.05 ~ 0.1 per cent of the
    curve. We keep the FSPS form because the reference photometry is FSPS/Prospector-alpha.
    """
    inv = 1e4 / jnp.asarray(wave)
    blue = 1.17 * (-2.156 + inv * (1.509 + inv * (-0.198 + inv * 0.011))) + 1.78
    red = 1.17 * (-1.857 + 1.04 * inv) + 1.78
    k = jnp.where(jnp.asarray(wave) > 6300.0, red, blue) / 0.44 / 4.05
    return jnp.maximum(k, 0.0)


@final
class KriekConroy2013(AbstractAttenuation):
    r"""Kriek & Conroy (2013) diffuse-dust attenuation, FSPS ``dust_type=4`` (Prospector-alpha).

    .. math::

        \tau(\lambda) = \tau_2 \left[\frac{k'(\lambda)}{4.05} + \frac{D(\lambda)}{4.05}\right]
                        \left(\frac{\lambda}{5500\,\text{Å}}\right)^{\delta},\qquad
        D(\lambda) = \frac{E_b\,(\lambda\,\Delta\lambda)^2}
                          {(\lambda^2 - \lambda_0^2)^2 + (\lambda\,\Delta\lambda)^2},\qquad
        E_b = 0.85 - 1.9\,\delta,

    with the Calzetti et al. (2000) curve :math:`k'` (in FSPS's coefficients, see
    ``_fsps_calzetti``), a Drude UV bump at :math:`\lambda_0 = 2175` Å of width
    :math:`\Delta\lambda = 350` Å, and :math:`\delta` = ``dust_index`` (Kriek & Conroy 2013,
    ApJL 775, L16, eqs. 1-3; Noll et al. 2009 for the bump shape; FSPS ``attn_curve``).

    Attributes:
        dust2: diffuse optical depth at 5500 A (Prospector's ``dust2``).
        dust_index: slope offset delta from the Calzetti curve (Prospector's ``dust_index``).

    Example:
        >>> import jax.numpy as jnp
        >>> law = KriekConroy2013(dust2=0.3, dust_index=0.0)
        >>> round(float(law.optical_depth(jnp.array(5500.0))), 3)
        0.3
    """

    dust2: Float[Array, ""] | float
    dust_index: Float[Array, ""] | float

    def optical_depth(self, wave: Float[Array, "*w"]) -> Float[Array, "*w"]:
        """tau(lambda) at rest-frame ``wave`` [Angstrom]."""
        wave = jnp.asarray(wave)
        e_bump = 0.85 - 1.9 * self.dust_index
        lw2 = (wave * _WIDTH_BUMP) ** 2
        drude = e_bump * lw2 / ((wave**2 - _LAMBDA_BUMP**2) ** 2 + lw2)
        slope = jnp.exp(self.dust_index * jnp.log(wave / _LAMBDA_V))
        return self.dust2 * (_fsps_calzetti(wave) + drude / 4.05) * slope


@final
class PowerLawAttenuation(AbstractAttenuation):
    r"""A power-law optical depth, e.g. the birth-cloud component of Charlot & Fall (2000).

    .. math:: \tau(\lambda) = \tau_V\,(\lambda / 5500\,\text{Å})^{n}.

    With ``tau_v = dust1 = dust_ratio * dust2`` and ``index = -1`` this is FSPS/Prospector-alpha's
    birth-cloud dust (``dust1``, ``dust1_index = -1``), applied only to stars younger than
    ``dust_tesc`` = 10^7 yr.

    Attributes:
        tau_v: optical depth at 5500 A.
        index: power-law index n.
    """

    tau_v: Float[Array, ""] | float
    index: Float[Array, ""] | float = -1.0

    def optical_depth(self, wave: Float[Array, "*w"]) -> Float[Array, "*w"]:
        """tau(lambda) at rest-frame ``wave`` [Angstrom]."""
        return self.tau_v * jnp.exp(self.index * jnp.log(jnp.asarray(wave) / _LAMBDA_V))
