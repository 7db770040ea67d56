"""The :class:`Cosmology` parameter PyTree and the constants behind its derived densities."""

from __future__ import annotations

import math

import jax.numpy as jnp
from flax import struct

from cigars._types import Array, Float

__all__ = ["Cosmology", "WMAP9"]

# --- Physical constants (SI; exact SI-2019 values, G from CODATA 2022 as in astropy 8). ---------
_C_M_S = 299_792_458.0  # speed of light [m / s]
_K_B = 1.380_649e-23  # Boltzmann constant [J / K]
_H_PLANCK = 6.626_070_15e-34  # Planck constant [J s]
_G_NEWTON = 6.674_30e-11  # gravitational constant [m^3 / (kg s^2)]
_MPC_M = 3.085_677_581_491_367_3e22  # megaparsec [m]
_GYR_S = 1e9 * 365.25 * 86_400.0  # Julian gigayear [s]

C_KM_S = _C_M_S / 1e3
"""Speed of light [km / s]."""

_SIGMA_SB = 2.0 * math.pi**5 * _K_B**4 / (15.0 * _H_PLANCK**3 * _C_M_S**2)  # [W / (m^2 K^4)]
# Photon density parameter for T = 1 K and h = 1: (4 sigma / c^3) T^4 / rho_crit(H0 = 100 km/s/Mpc),
# with rho_crit = 3 H0^2 / (8 pi G).
_OGAMMA_H2_PER_K4 = (4.0 * _SIGMA_SB / _C_M_S**3) / (
    3.0 * (1e5 / _MPC_M) ** 2 / (8.0 * math.pi * _G_NEWTON)
)
# Massless-neutrino energy density per effective species relative to photons: 7/8 (4/11)^(4/3).
_NU_PER_PHOTON = 7.0 / 8.0 * (4.0 / 11.0) ** (4.0 / 3.0)
_HUBBLE_TIME_GYR_H100 = _MPC_M / 1e3 / _GYR_S  # 1 / (1 km/s/Mpc) in Gyr


@struct.dataclass
class Cosmology:
    r"""Parameters of an FLRW cosmology with CPL (w0-wa) dark energy and massless neutrinos.

    The names follow ``astropy.cosmology``. Every numeric field is a PyTree leaf, so a
    ``Cosmology`` whose fields carry a leading batch axis is a batch of cosmologies for
    ``jax.vmap``, and ``jax.grad`` differentiates with respect to every field. ``Ode0=None``
    (flat) is part of the PyTree *structure* (``None`` has no leaves), not a traced flag.

    The expansion rate is

    .. math::

        E^2(z) = \Omega_{r,0}(1+z)^4 + \Omega_{m,0}(1+z)^3 + \Omega_{k,0}(1+z)^2
                 + \Omega_{de,0}(1+z)^{3(1+w_0+w_a)} e^{-3 w_a z/(1+z)},

    with :math:`w(a) = w_0 + w_a(1-a)` (Chevallier & Polarski 2001, IJMPD 10, 213; Linder 2003,
    PRL 90, 091301) and radiation :math:`\Omega_{r,0} = \Omega_{\gamma,0}(1 + 0.2271 N_{eff})`
    from the CMB temperature, as astropy's ``FLRW`` with ``m_nu = 0``.

    Attributes:
        H0: Hubble constant [km / s / Mpc].
        Om0: matter (dark + baryonic) density parameter today.
        Ode0: dark-energy density parameter today, or ``None`` for a spatially flat universe
            (then :math:`\Omega_{de,0} = 1 - \Omega_{m,0} - \Omega_{r,0}`). Otherwise the
            curvature is :math:`\Omega_{k,0} = 1 - \Omega_{m,0} - \Omega_{de,0} - \Omega_{r,0}`.
        w0: dark-energy equation of state today.
        wa: CPL evolution of the equation of state, :math:`-dw/da`.
        Tcmb0: CMB temperature today [K]; 0 switches radiation off.
        Neff: effective number of (massless) neutrino species.

    Example:
        >>> from cigars.cosmology import Cosmology
        >>> cosmo = Cosmology(H0=70.0, Om0=0.3, Ode0=0.7)
        >>> round(float(cosmo.Ok0), 12)
        0.0
    """

    H0: Float[Array, "..."] | float = 70.0
    Om0: Float[Array, "..."] | float = 0.3
    Ode0: Float[Array, "..."] | float | None = None
    w0: Float[Array, "..."] | float = -1.0
    wa: Float[Array, "..."] | float = 0.0
    Tcmb0: Float[Array, "..."] | float = 0.0
    Neff: Float[Array, "..."] | float = 3.046

    @property
    def is_flat(self) -> bool:
        """Whether the cosmology is flat by construction (``Ode0 is None``); a static property."""
        return self.Ode0 is None

    @property
    def h(self) -> Float[Array, "..."]:
        """Dimensionless Hubble constant H0 / (100 km/s/Mpc)."""
        return jnp.asarray(self.H0) / 100.0

    @property
    def Ogamma0(self) -> Float[Array, "..."]:
        """Photon density parameter today, (4 sigma_SB / c^3) Tcmb0^4 / rho_crit,0."""
        return _OGAMMA_H2_PER_K4 * jnp.asarray(self.Tcmb0) ** 4 / self.h**2

    @property
    def Onu0(self) -> Float[Array, "..."]:
        """Massless-neutrino density parameter today, 7/8 (4/11)^(4/3) Neff Ogamma0."""
        return _NU_PER_PHOTON * self.Neff * self.Ogamma0

    @property
    def Or0(self) -> Float[Array, "..."]:
        """Radiation (photons + massless neutrinos) density parameter today."""
        return self.Ogamma0 + self.Onu0

    @property
    def Ode0_value(self) -> Float[Array, "..."]:
        """The dark-energy density parameter today, resolved for flat cosmologies."""
        if self.Ode0 is None:
            return 1.0 - jnp.asarray(self.Om0) - self.Or0
        return jnp.asarray(self.Ode0)

    @property
    def Ok0(self) -> Float[Array, "..."]:
        """Curvature density parameter today (exactly zero when ``Ode0`` is ``None``)."""
        if self.Ode0 is None:
            return jnp.zeros_like(self.Or0 + jnp.asarray(self.Om0))
        return 1.0 - jnp.asarray(self.Om0) - jnp.asarray(self.Ode0) - self.Or0

    @property
    def hubble_distance(self) -> Float[Array, "..."]:
        """Hubble distance c / H0 [Mpc]."""
        return C_KM_S / jnp.asarray(self.H0)

    @property
    def hubble_time(self) -> Float[Array, "..."]:
        """Hubble time 1 / H0 [Gyr]."""
        return _HUBBLE_TIME_GYR_H100 / jnp.asarray(self.H0)


WMAP9 = Cosmology(H0=69.32, Om0=0.2865, Ode0=None, w0=-1.0, wa=0.0, Tcmb0=2.725, Neff=3.04)
"""Flat LambdaCDM of WMAP 9-year (Hinshaw et al. 2013, ApJS 208, 19, Table 4 "WMAP+eCMB+BAO+H0"),
as ``astropy.cosmology.WMAP9``: H0 = 69.32, Om0 = 0.2865 (incl. baryons), Tcmb0 = 2.725 K,
Neff = 3.04, massless neutrinos. The host star-formation-history age grid uses its age t_univ(z)."""
