"""Regression pins of our own numbers (not an oracle) and behaviour at the edges."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cigars import cosmology as cc

# Values produced by this implementation (float64) when it was first validated against astropy;
# they guard against unintended changes of the quadrature or constants.
Z = np.array([0.01, 0.5, 1.5])
LCDM = cc.Cosmology(H0=70.0, Om0=0.3, Ode0=0.7)
CPL = cc.Cosmology(H0=67.4, Om0=0.315, Ode0=0.6, w0=-0.9, wa=-0.5, Tcmb0=2.7255, Neff=3.046)
PINS = {
    ("LCDM", "comoving_distance"): [42.73092581379442, 1888.6253959334056, 4363.855766233602],
    ("LCDM", "distance_modulus"): [33.17531838091242, 42.26118542154089, 45.189051982817944],
    ("LCDM", "lookback_time"): [0.13867792297522552, 5.040637929310091, 9.26625201520791],
    ("LCDM", "age"): [13.328306024086658, 8.426346017751788, 4.200731931853968],
    ("CPL", "comoving_distance"): [44.336112675881374, 1909.7371919915295, 4361.972073530455],
    ("CPL", "transverse_comoving_distance"): [
        44.336175013222785,
        1914.723004587165,
        4421.579020891437,
    ],
    ("CPL", "distance_modulus"): [33.25539798282076, 42.290986071187056, 45.21758699824717],
    ("CPL", "lookback_time"): [0.14388758890683323, 5.104009969621814, 9.291592324667944],
    ("CPL", "age"): [13.31634025819038, 8.356217877475485, 4.168635522429353],
}


@pytest.mark.parametrize(("label", "name"), list(PINS))
def test_regression_pins(x64, label, name):
    cosmo = {"LCDM": LCDM, "CPL": CPL}[label]
    got = getattr(cc, name)(cosmo, jnp.asarray(Z))
    assert got.dtype == jnp.float64
    np.testing.assert_allclose(got, PINS[label, name], rtol=1e-11)


def test_regression_pin_wmap9_age(x64):
    np.testing.assert_allclose(
        cc.age(cc.WMAP9, jnp.array([0.0, 1.0, 3.0])),
        [13.768899116929333, 5.922228427916936, 2.178280853674921],
        rtol=1e-11,
    )


def test_derived_densities():
    flat = cc.Cosmology(H0=70.0, Om0=0.3, Tcmb0=2.7255)
    assert flat.is_flat
    assert float(flat.Ok0) == 0.0
    np.testing.assert_allclose(flat.Om0 + flat.Ode0_value + flat.Or0, 1.0, rtol=1e-7)
    np.testing.assert_allclose(flat.Onu0 / flat.Ogamma0, 0.22710731766 * 3.046, rtol=1e-7)
    curved = cc.Cosmology(H0=70.0, Om0=0.3, Ode0=0.6)
    assert not curved.is_flat
    np.testing.assert_allclose(curved.Ok0, 0.1, rtol=1e-6)
    assert float(curved.Or0) == 0.0
    np.testing.assert_allclose(curved.hubble_distance, 299_792.458 / 70.0, rtol=1e-7)


def test_tabulated_outside_grid_is_nan():
    table = cc.tabulate(LCDM, z_max=1.0, n=32)
    out = cc.tabulated_distance_modulus(table, jnp.array([-0.1, 0.5, 1.0, 1.01]))
    assert np.isnan(out[0]) and np.isnan(out[3])
    assert np.isfinite(out[1]) and np.isfinite(out[2])


@pytest.mark.parametrize("n", [1, 0, 2.5, True])
def test_tabulate_rejects_bad_grid_size(n):
    with pytest.raises(ValueError, match="n must be an int >= 2"):
        cc.tabulate(LCDM, z_max=1.0, n=n)


@pytest.mark.parametrize("z_max", [0.0, -1.0])
def test_tabulate_rejects_bad_z_max(z_max):
    with pytest.raises(ValueError, match="z_max must be positive"):
        cc.tabulate(LCDM, z_max=z_max)


def test_tabulate_converges_fourth_order(x64):
    """The Hermite interpolation error (absolute, in c/H0) falls ~16x per halving of the step."""
    z = jnp.linspace(0.0, 3.0, 1001)
    exact = jax.jit(cc.comoving_distance)(CPL, z) / CPL.hubble_distance

    @functools.partial(jax.jit, static_argnames="n")
    def approx(n):  # jitted: run eagerly, every primitive compiled for each n took 13-18 s
        return cc.tabulated_comoving_distance(cc.tabulate(CPL, 3.0, n), z) / CPL.hubble_distance

    errs = [float(jnp.max(jnp.abs(approx(n) - exact))) for n in (33, 65, 129)]
    assert 13 < errs[0] / errs[1] < 17 and 14 < errs[1] / errs[2] < 17


def test_tabulate_under_jit_with_traced_z_max():
    build = jax.jit(cc.tabulate, static_argnames="n")
    table = build(LCDM, jnp.float32(2.0), n=64)
    np.testing.assert_allclose(
        cc.tabulated_distance_modulus(table, jnp.asarray(Z, jnp.float32)),
        cc.distance_modulus(LCDM, jnp.asarray(Z, jnp.float32)),
        atol=2e-5,
    )


def test_age_at_infinite_redshift_and_zero_distance_at_zero():
    assert float(cc.age(LCDM, jnp.inf)) == 0.0
    assert float(cc.comoving_distance(LCDM, 0.0)) == 0.0
    assert float(cc.transverse_comoving_distance(CPL, 0.0)) == 0.0
    assert float(cc.lookback_time(CPL, 0.0)) == 0.0
