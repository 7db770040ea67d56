"""Cosmology: FLRW parameters, expansion rate, distances, distance moduli and ages in pure JAX.

* :class:`Cosmology` - parameter PyTree (astropy names: H0, Om0, Ode0, w0, wa, Tcmb0, Neff);
  ``Ode0=None`` is flat. :data:`WMAP9` - astropy's WMAP9, used for host star-formation ages.
* ``f(cosmo, z)`` functions by fixed Gauss-Legendre quadrature (jit/vmap/grad-able):
  :func:`efunc`, :func:`comoving_distance`, :func:`transverse_comoving_distance`,
  :func:`angular_diameter_distance`, :func:`luminosity_distance`, :func:`distance_modulus`,
  :func:`lookback_time`, :func:`age`.
* The simulator fast path: :func:`tabulate` -> :class:`DistanceTable` ->
  :func:`tabulated_distance_modulus` / :func:`tabulated_transverse_comoving_distance`.
* Config classes (kind ``cosmology``): ``lambdacdm``, ``flat_lambdacdm``, ``w0wacdm``,
  ``flat_w0wacdm``.
"""

from cigars.cosmology._config import (
    CosmologyConfig,
    FlatLambdaCDMConfig,
    FlatW0WaCDMConfig,
    LambdaCDMConfig,
    W0WaCDMConfig,
)
from cigars.cosmology._cosmology import WMAP9, Cosmology
from cigars.cosmology._distances import (
    age,
    angular_diameter_distance,
    comoving_distance,
    cosn,
    de_density_scale,
    distance_modulus,
    efunc,
    inv_efunc,
    lookback_time,
    luminosity_distance,
    sinn_ratio,
    transverse_comoving_distance,
)
from cigars.cosmology._table import (
    DistanceTable,
    tabulate,
    tabulated_comoving_distance,
    tabulated_distance_modulus,
    tabulated_luminosity_distance,
    tabulated_transverse_comoving_distance,
)

__all__ = [
    "WMAP9",
    "Cosmology",
    "CosmologyConfig",
    "DistanceTable",
    "FlatLambdaCDMConfig",
    "FlatW0WaCDMConfig",
    "LambdaCDMConfig",
    "W0WaCDMConfig",
    "age",
    "angular_diameter_distance",
    "comoving_distance",
    "cosn",
    "de_density_scale",
    "distance_modulus",
    "efunc",
    "inv_efunc",
    "lookback_time",
    "luminosity_distance",
    "sinn_ratio",
    "tabulate",
    "tabulated_comoving_distance",
    "tabulated_distance_modulus",
    "tabulated_luminosity_distance",
    "tabulated_transverse_comoving_distance",
    "transverse_comoving_distance",
]
