"""Config classes of the ``cosmology`` component kind; ``build()`` returns a :class:`Cosmology`.

YAML example::

    cosmology:
      type: lambdacdm      # or flat_lambdacdm, w0wacdm, flat_w0wacdm
      H0: 70.0
      Om0: 0.3
      Ode0: 0.7
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cigars._config import Component, bounded
from cigars.cosmology._cosmology import Cosmology

__all__ = [
    "CosmologyConfig",
    "FlatLambdaCDMConfig",
    "FlatW0WaCDMConfig",
    "LambdaCDMConfig",
    "W0WaCDMConfig",
]

# Redshifts on which validate() requires a positive expansion rate (no bounce before z = 10).
_CHECK_Z = np.concatenate([np.linspace(0.0, 3.0, 301), np.linspace(3.0, 10.0, 141)[1:]])


class CosmologyConfig(Component, kind="cosmology"):
    """A cosmological model and its parameters (choose the implementation with ``type:``).

    Attributes:
        H0: Hubble constant [km / s / Mpc].
        Om0: matter density parameter today.
        Tcmb0: CMB temperature [K]; 0 (default) means no radiation.
        Neff: effective number of massless neutrino species (used only if Tcmb0 > 0).
    """

    H0: float = bounded(70.0, gt=0.0, le=1000.0)
    Om0: float = bounded(0.3, ge=0.0, le=2.0)
    Tcmb0: float = bounded(0.0, ge=0.0, le=100.0)
    Neff: float = bounded(3.046, ge=0.0, le=20.0)

    def build(self) -> Cosmology:
        """The :class:`Cosmology` with this config's parameters."""
        return Cosmology(**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)})

    def validate(self) -> None:
        """Check that E(z)^2 > 0 for 0 <= z <= 10 (no bounce), so all distances exist.

        Raises:
            ValueError: naming the parameters and the first redshift where E(z)^2 <= 0.
        """
        cosmo = self.build()
        zp1 = 1.0 + _CHECK_Z
        ode0 = float(cosmo.Ode0_value)
        e2 = zp1**2 * ((float(cosmo.Or0) * zp1 + cosmo.Om0) * zp1 + float(cosmo.Ok0))
        e2 = e2 + ode0 * zp1 ** (3.0 * (1.0 + cosmo.w0 + cosmo.wa)) * np.exp(
            -3.0 * cosmo.wa * _CHECK_Z / zp1
        )
        bad = np.flatnonzero(~(e2 > 0))
        if bad.size:
            raise ValueError(
                f"{self.type_name} cosmology {self!r} has no expansion history: "
                f"E(z)^2 = {e2[bad[0]]:.3g} <= 0 at z = {_CHECK_Z[bad[0]]:.3g}"
            )


class LambdaCDMConfig(CosmologyConfig, name="lambdacdm"):
    """LambdaCDM with free curvature (the CIGaRS reference model: H0 = 70, Om0 and Ode0 free).

    Attributes:
        Ode0: cosmological-constant density parameter today; curvature is 1 - Om0 - Ode0 - Or0.
    """

    Ode0: float = bounded(0.7, ge=-2.0, le=3.0)


class FlatLambdaCDMConfig(CosmologyConfig, name="flat_lambdacdm"):
    """Spatially flat LambdaCDM (Ode0 = 1 - Om0 - Or0)."""


class W0WaCDMConfig(CosmologyConfig, name="w0wacdm"):
    """CPL dark energy w(a) = w0 + wa (1 - a) with free curvature.

    Attributes:
        Ode0: dark-energy density parameter today; curvature is 1 - Om0 - Ode0 - Or0.
        w0: equation of state today.
        wa: its evolution, -dw/da.
    """

    Ode0: float = bounded(0.7, ge=-2.0, le=3.0)
    w0: float = bounded(-1.0, ge=-5.0, le=1.0)
    wa: float = bounded(0.0, ge=-10.0, le=10.0)


class FlatW0WaCDMConfig(CosmologyConfig, name="flat_w0wacdm"):
    """Spatially flat CPL dark energy (Ode0 = 1 - Om0 - Or0).

    Attributes:
        w0: equation of state today.
        wa: its evolution, -dw/da.
    """

    w0: float = bounded(-1.0, ge=-5.0, le=1.0)
    wa: float = bounded(0.0, ge=-10.0, le=10.0)
