"""Comparison to closed-form solutions (independent oracle): Einstein-de Sitter, Milne, de Sitter,
a closed matter-only universe and a w = -1/3 fluid, in float64."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from cigars import cosmology as cc

Z = np.geomspace(1e-3, 5.0, 40)
H0 = 64.0
DH = 299_792.458 / H0  # Mpc
TH = 977.792221680789 / H0  # Gyr (astropy's 1 / (1 km/s/Mpc) in Gyr)


def _close(got, want, rtol=1e-10):
    np.testing.assert_allclose(np.asarray(got), want, rtol=rtol, atol=0)


def test_closed_form_einstein_de_sitter(x64):
    cosmo = cc.Cosmology(H0=H0, Om0=1.0)
    z = jnp.asarray(Z)
    _close(cc.efunc(cosmo, z), (1 + Z) ** 1.5)
    _close(cc.comoving_distance(cosmo, z), 2 * DH * (1 - (1 + Z) ** -0.5))
    _close(cc.transverse_comoving_distance(cosmo, z), 2 * DH * (1 - (1 + Z) ** -0.5))
    _close(cc.age(cosmo, z), 2 / 3 * TH * (1 + Z) ** -1.5)
    _close(cc.lookback_time(cosmo, z), 2 / 3 * TH * (1 - (1 + Z) ** -1.5))


def test_closed_form_milne(x64):
    cosmo = cc.Cosmology(H0=H0, Om0=0.0, Ode0=0.0)  # Ok0 = 1, E = 1 + z
    z = jnp.asarray(Z)
    assert float(cosmo.Ok0) == 1.0
    _close(cc.comoving_distance(cosmo, z), DH * np.log1p(Z))
    _close(cc.transverse_comoving_distance(cosmo, z), DH * Z * (2 + Z) / (2 * (1 + Z)))
    _close(cc.luminosity_distance(cosmo, z), DH * Z * (2 + Z) / 2)
    _close(cc.angular_diameter_distance(cosmo, z), DH * Z * (2 + Z) / (2 * (1 + Z) ** 2))
    _close(cc.age(cosmo, z), TH / (1 + Z))
    _close(cc.lookback_time(cosmo, z), TH * Z / (1 + Z))


def test_closed_form_de_sitter(x64):
    cosmo = cc.Cosmology(H0=H0, Om0=0.0)  # flat, E = 1
    z = jnp.asarray(Z)
    _close(cc.comoving_distance(cosmo, z), DH * Z)
    _close(cc.distance_modulus(cosmo, z), 5 * np.log10(DH * Z * (1 + Z)) + 25)
    _close(cc.lookback_time(cosmo, z), TH * np.log1p(Z))


def test_closed_form_closed_matter_universe(x64):
    # Om0 = 2, Ok0 = -1: E^2 = (1+z)^2 (1 + 2z); D_C = 2 D_H (arctan sqrt(1 + 2z) - pi/4).
    cosmo = cc.Cosmology(H0=H0, Om0=2.0, Ode0=0.0)
    z = jnp.asarray(Z)
    dc = 2 * DH * (np.arctan(np.sqrt(1 + 2 * Z)) - np.pi / 4)
    _close(cc.comoving_distance(cosmo, z), dc)
    _close(cc.transverse_comoving_distance(cosmo, z), DH * np.sin(dc / DH))


@pytest.mark.parametrize("wa", [0.0, 0.4])
def test_closed_form_curvature_like_dark_energy(x64, wa):
    # Flat, Om0 = 0, w0 = -1/3 - wa: rho_de ~ (1+z)^2 exp(-3 wa z/(1+z)); wa = 0 gives E = 1 + z.
    cosmo = cc.Cosmology(H0=H0, Om0=0.0, w0=-1.0 / 3.0 - wa, wa=wa)
    z = jnp.asarray(Z)
    scale = (1 + Z) ** 2 * np.exp(-3 * wa * Z / (1 + Z))
    _close(cc.de_density_scale(cosmo, z), scale)
    if wa == 0.0:
        _close(cc.comoving_distance(cosmo, z), DH * np.log1p(Z))


def test_tabulated_matches_closed_form_milne(x64):
    cosmo = cc.Cosmology(H0=H0, Om0=0.0, Ode0=0.0)
    table = cc.tabulate(cosmo, z_max=5.0, n=512)
    got = cc.tabulated_transverse_comoving_distance(table, jnp.asarray(Z))
    # Largest relative error in the first grid interval, ~ h^3 max|D_M^(4)| / 192 ~ 6e-8 here.
    _close(got, DH * Z * (2 + Z) / (2 * (1 + Z)), rtol=1e-7)
