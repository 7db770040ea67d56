"""Bands and redshifted absolute AB magnitudes; oracle: speclite's own band integration."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cigars.hosts._filters import (
    DES_GRIZ,
    LSST_UGRIZY,
    GeneralPhotometry,
    LogGridPhotometry,
    band_coverage,
    load_bands,
    make_photometry,
    redshifted_absolute_magnitudes,
)
from cigars.hosts._ssp import load_popstar, log_wave_edges

L_SUN = 3.828e33  # erg/s
PC = 3.085_677_581_491_367_3e18  # cm
EDGES = log_wave_edges(912.0, 11000.0, 0.002)
MAGS = jax.jit(redshifted_absolute_magnitudes)


@pytest.fixture(scope="module")
def lsst():
    return load_bands()


@pytest.fixture(scope="module")
def galaxy_sed():
    """A realistic, spiky rest-frame SED: PopStar SSPs (nebular) mixed over ages [L_sun/A]."""
    grid = load_popstar(wave_edges=EDGES, cache=False)
    ages = [10, 40, 80, 100]
    return np.einsum("a,aw->w", [1e7, 1e8, 1e9, 1e10], grid.flux[4, ages])


def speclite_redshifted_absolute(names, edges, l_lambda, z, distance_pc=10.0, dimming=3):
    """speclite AB magnitudes of the step-function SED L(lambda/(1+z)) at ``distance_pc``."""
    import speclite.filters

    # Several samples per bin, so that speclite's trapezoid rule also resolves the filter curve
    # (it interpolates the response onto the spectrum's wavelengths).
    lo, hi = edges[:-1] * (1 + z), edges[1:] * (1 + z)
    frac = np.linspace(1e-10, 1 - 1e-10, 6)
    wave = (lo[:, None] + (hi - lo)[:, None] * frac[None, :]).ravel()
    scale = L_SUN / (4 * np.pi * (distance_pc * PC) ** 2 * (1 + z) ** dimming)
    flux = np.repeat(l_lambda, frac.size) * scale
    filters = speclite.filters.load_filters(*names)
    table = filters.get_ab_magnitudes(flux, wave)
    return np.array([table[n][0] for n in filters.names])


# --------------------------------------------------------------------------------------------
# Comparison to speclite (oracle).


@pytest.mark.parametrize("z", [0.0, 0.05, 0.7, 1.4])
def test_lsst_magnitudes_match_speclite(x64, lsst, galaxy_sed, z):
    ours = np.asarray(MAGS(lsst, jnp.asarray(EDGES), jnp.asarray(galaxy_sed), z))
    ref = speclite_redshifted_absolute(LSST_UGRIZY, EDGES, galaxy_sed, z)
    np.testing.assert_allclose(ours, ref, atol=1e-3)


def test_smooth_sed_matches_speclite_tightly(x64, lsst):
    # A smooth analytic SED, integrated over our bins and sampled densely for speclite.
    from cigars.hosts._ssp import rebin_flux

    def sed(lam):
        return 1e6 * (lam / 5000.0) ** -1.5 * np.exp(-(((lam - 4000) / 3000) ** 2)) + 2e5

    fine = np.geomspace(900.0, 11100.0, 200_001)
    binned = rebin_flux(fine, sed(fine), EDGES)
    import speclite.filters

    filters = speclite.filters.load_filters(*LSST_UGRIZY)
    for z in (0.0, 0.5, 1.2):
        ours = np.asarray(MAGS(lsst, jnp.asarray(EDGES), jnp.asarray(binned), z))
        lam = np.linspace(3150.0, 11050.0, 400_001)
        flam = sed(lam / (1 + z)) * L_SUN / (4 * np.pi * (10 * PC) ** 2 * (1 + z) ** 3)
        table = filters.get_ab_magnitudes(flam, lam)
        np.testing.assert_allclose(ours, [table[n][0] for n in filters.names], atol=2e-5)


def test_des_bands_match_speclite(x64, galaxy_sed):
    des = load_bands(DES_GRIZ)
    ours = np.asarray(MAGS(des, jnp.asarray(EDGES), jnp.asarray(galaxy_sed), 0.3))
    ref = speclite_redshifted_absolute(DES_GRIZ, EDGES, galaxy_sed, 0.3)
    np.testing.assert_allclose(ours, ref, atol=1e-3)


def test_distance_modulus_with_comoving_distance_gives_apparent(x64, lsst, galaxy_sed):
    # m = M + 5 log10(D_M / 10 pc) equals speclite's magnitude of the physically dimmed
    # spectrum f = L(lambda/(1+z)) / (4 pi D_L^2 (1+z)) with D_L from astropy (non-flat).
    from astropy.cosmology import LambdaCDM

    cosmo = LambdaCDM(H0=70.0, Om0=0.3, Ode0=0.8)
    z = 0.9
    d_l = cosmo.luminosity_distance(z).to("pc").value
    d_m = cosmo.comoving_transverse_distance(z).to("pc").value
    absolute = np.asarray(MAGS(lsst, jnp.asarray(EDGES), jnp.asarray(galaxy_sed), z))
    apparent = absolute + 5 * np.log10(d_m / 10.0)
    truth = speclite_redshifted_absolute(LSST_UGRIZY, EDGES, galaxy_sed, z, d_l, dimming=1)
    np.testing.assert_allclose(apparent, truth, atol=1e-3)


def test_ab_zero_point(x64, lsst):
    # A flat f_nu = 3631 Jy source at 10 pc has M = 0 in every band at z = 0.
    # bin averages of c/lambda^2: c (1/lo - 1/hi) / (hi - lo) = c / (lo hi)
    f_lam = 3631e-23 * 2.99792458e18 / (EDGES[:-1] * EDGES[1:])
    l_lam = f_lam * 4 * np.pi * (10 * PC) ** 2 / L_SUN
    m = np.asarray(MAGS(lsst, jnp.asarray(EDGES), jnp.asarray(l_lam), 0.0))
    np.testing.assert_allclose(m, 0.0, atol=1e-5)


# --------------------------------------------------------------------------------------------
# The aligned fast path and other behaviour.


def test_log_grid_photometry_matches_general(lsst, galaxy_sed):
    fast = make_photometry(lsst, EDGES, z_max=2.0)
    assert isinstance(fast, LogGridPhotometry) and fast.names == LSST_UGRIZY
    general = GeneralPhotometry(bands=lsst, wave_edges=EDGES)
    zs = jnp.array([0.0, 0.013, 0.4, 1.0, 1.999])
    sed = jnp.asarray(galaxy_sed, jnp.float32)
    a = jax.jit(jax.vmap(fast.magnitudes, in_axes=(None, 0)))(sed, zs)
    b = jax.jit(jax.vmap(general.magnitudes, in_axes=(None, 0)))(sed, zs)
    np.testing.assert_allclose(a, b, atol=2e-4)
    out = jax.jit(fast.magnitudes)(sed, jnp.array(2.5))
    assert bool(jnp.all(jnp.isnan(out)))


def test_make_photometry_general_for_nonuniform_edges(lsst):
    edges = np.concatenate([np.linspace(1000, 5000, 50), np.linspace(5100, 12000, 30)])
    assert isinstance(make_photometry(lsst, edges), GeneralPhotometry)


def test_magnitude_gradient_wrt_redshift_finite(lsst, galaxy_sed):
    sed = jnp.asarray(galaxy_sed, jnp.float32)
    fast = make_photometry(lsst, EDGES, z_max=2.0)
    for fn in (lambda z: MAGS(lsst, jnp.asarray(EDGES), sed, z), lambda z: fast.magnitudes(sed, z)):
        jac = jax.jit(jax.jacfwd(fn))(jnp.array(0.45))
        assert bool(jnp.all(jnp.isfinite(jac))) and bool(jnp.all(jnp.abs(jac) > 0))


def test_coverage(lsst):
    cov = band_coverage(lsst, EDGES, np.array([0.0, 1.5, 3.0]))
    np.testing.assert_allclose(cov[:2], 1.0, atol=1e-5)
    assert cov[2, 0] < 0.9  # u band at z = 3 needs rest wavelengths below 912 A


def test_bands_padding_and_names(lsst):
    assert lsst.names == LSST_UGRIZY and lsst.wave.shape == lsst.response.shape
    des = load_bands(DES_GRIZ)
    n = [int(np.sum(r > 0)) for r in des.response]
    assert des.wave.shape[1] >= max(n)
    assert np.all(np.diff(des.wave, axis=1) >= 0)  # padding repeats the last wavelength


def test_unknown_filter_lists_valid_names():
    with pytest.raises(ValueError, match="lsst2023-u") as err:
        load_bands(("lsst2023-q",))
    assert "unknown filter" in str(err.value)
    with pytest.raises(ValueError, match="repeat"):
        load_bands(("lsst2023-u", "lsst2023-u"))


def test_log_grid_rejects_nonuniform(lsst):
    with pytest.raises(ValueError, match="log-uniform"):
        LogGridPhotometry.create(lsst, np.array([1000.0, 1100.0, 1300.0]))


def test_constants_consistent():
    # The AB normalisation uses the same physical constants as the oracle above.
    from cigars.hosts._sps import _PC_CM, L_SUN_ERG_S

    assert L_SUN_ERG_S == L_SUN and _PC_CM == PC and math.isclose(PC, 3.0857e18, rel_tol=1e-4)
