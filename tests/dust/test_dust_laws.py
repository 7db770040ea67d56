"""Dust laws: oracles (the `extinction` package, published formulae in numpy) and contracts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cigars.dust import (
    CCM89,
    MAG_PER_TAU,
    AbstractAttenuation,
    Calzetti2000,
    Fitzpatrick99,
    KriekConroy2013,
    PowerLawAttenuation,
    calzetti2000_k,
)

WAVE = np.geomspace(1000.0, 30000.0, 301)


# --------------------------------------------------------------------------------------------
# Comparison to other codes and published formulae (oracles).


def _numpy_calzetti2000(wave_aa):
    """Calzetti et al. 2000, ApJ 533, 682, eqs. 4 (k'), R'_V = 4.05."""
    x = wave_aa / 1e4
    blue = 2.659 * (-2.156 + 1.509 / x - 0.198 / x**2 + 0.011 / x**3) + 4.05
    red = 2.659 * (-1.857 + 1.040 / x) + 4.05
    return np.where(x < 0.63, blue, red)


def test_calzetti_published_values(x64):
    # k'(1500 A) = 10.33 and k'(5500 A) = 4.05 (R'_V) are quoted values of the C00 curve.
    k = np.asarray(calzetti2000_k(jnp.array([1500.0, 5500.0, 12000.0])))
    np.testing.assert_allclose(k[:2], [10.33, 4.05], atol=0.01)
    np.testing.assert_allclose(k, _numpy_calzetti2000(np.array([1500.0, 5500.0, 12000.0])))


def test_calzetti_vs_extinction_package(x64):
    extinction = pytest.importorskip("extinction")
    wave = np.geomspace(1200.0, 22000.0, 200)  # the package's (and C00's) validity range
    ours = np.asarray(Calzetti2000.from_av(0.7).attenuation_mag(jnp.asarray(wave)))
    np.testing.assert_allclose(ours, extinction.calzetti00(wave, 0.7, 4.05), atol=1e-10)


@pytest.mark.parametrize("r_v", [2.3, 3.1, 4.0, 5.3])
def test_ccm89_vs_extinction_package(x64, r_v):
    extinction = pytest.importorskip("extinction")
    ours = np.asarray(CCM89(a_v=1.3, r_v=r_v).attenuation_mag(jnp.asarray(WAVE)))
    np.testing.assert_allclose(ours, extinction.ccm89(WAVE, 1.3, r_v), atol=1e-10)


@pytest.mark.parametrize("r_v", [2.3, 3.1, 4.0, 5.3])
def test_fitzpatrick99_vs_extinction_package(x64, r_v):
    extinction = pytest.importorskip("extinction")
    wave = np.geomspace(910.0, 60000.0, 301)
    ours = np.asarray(Fitzpatrick99(a_v=0.8, r_v=r_v).attenuation_mag(jnp.asarray(wave)))
    np.testing.assert_allclose(ours, extinction.fitzpatrick99(wave, 0.8, r_v), atol=1e-10)


def test_ccm89_published_normalisation(x64):
    # CCM89: a(x) = 1, b(x) = 0 at x = 1.82 micron^-1 (5494.5 A), so A = A_V for every R_V.
    for r_v in (2.0, 3.1, 5.0):
        a = CCM89(a_v=1.0, r_v=r_v).attenuation_mag(jnp.array(1e4 / 1.82))
        assert float(a) == pytest.approx(1.0, abs=1e-12)


def _numpy_kc13(wave, dust2, delta, fsps=True):
    """Kriek & Conroy 2013 eqs. 1-3 with the Calzetti curve k' (FSPS's or the published one)."""
    if fsps:  # FSPS dust_type=4: Calzetti with the 1997 coefficients, /0.44/4.05
        inv = 1e4 / wave
        blue = 1.17 * (-2.156 + 1.509 * inv - 0.198 * inv**2 + 0.011 * inv**3) + 1.78
        red = 1.17 * (-1.857 + 1.04 * inv) + 1.78
        kprime = np.where(wave > 6300, red, blue) / 0.44
    else:
        kprime = _numpy_calzetti2000(wave)
    e_b = 0.85 - 1.9 * delta
    bump = e_b * (wave * 350.0) ** 2 / ((wave**2 - 2175.0**2) ** 2 + (wave * 350.0) ** 2)
    return dust2 / 4.05 * (np.maximum(kprime, 0.0) + bump) * (wave / 5500.0) ** delta


@pytest.mark.parametrize("delta", [-1.0, -0.3, 0.0, 0.4])
def test_kriek_conroy_vs_numpy(x64, delta):
    tau = np.asarray(KriekConroy2013(dust2=0.6, dust_index=delta).optical_depth(jnp.asarray(WAVE)))
    np.testing.assert_allclose(tau, _numpy_kc13(WAVE, 0.6, delta), rtol=1e-12)
    # FSPS's Calzetti coefficients (1.17/0.44, 1.78/0.44) differ from the published C00 ones
    # (2.659, 4.05) by < 0.005 in k' over 0.1-3 micron.
    published = _numpy_kc13(WAVE, 0.6, delta, fsps=False)
    bound = 0.6 * 0.005 / 4.05 * (WAVE / 5500.0) ** delta
    assert np.all(np.abs(tau - published) <= bound)


def test_kriek_conroy_bump_strength_follows_dust_index(x64):
    # D(2175 A) = E_b = 0.85 - 1.9 delta exactly at the bump centre, so the optical depth there
    # exceeds the bump-free curve by dust2 E_b / 4.05 (2175/5500)^delta.
    lam = 2175.0
    inv = 1e4 / lam
    k_fsps = (1.17 * (-2.156 + 1.509 * inv - 0.198 * inv**2 + 0.011 * inv**3) + 1.78) / 0.44
    for delta in (-0.5, 0.0, 0.3):
        tau = float(KriekConroy2013(dust2=1.0, dust_index=delta).optical_depth(jnp.array(lam)))
        slope = (lam / 5500.0) ** delta
        excess = tau - k_fsps / 4.05 * slope
        assert excess == pytest.approx((0.85 - 1.9 * delta) / 4.05 * slope, rel=1e-10)


def test_kriek_conroy_normalised_at_v(x64):
    law = KriekConroy2013(dust2=0.37, dust_index=-0.4)
    # At 5500 A the slope factor is 1 and k'/4.05 ~ 1 (0.998 in FSPS's coefficients).
    assert float(law.optical_depth(jnp.array(5500.0))) == pytest.approx(0.37, rel=3e-3)


def test_birth_cloud_power_law(x64):
    law = PowerLawAttenuation(tau_v=0.5, index=-1.0)
    np.testing.assert_allclose(np.asarray(law.optical_depth(jnp.asarray(WAVE))), 0.5 * 5500 / WAVE)


# --------------------------------------------------------------------------------------------
# Contracts.

LAWS = {
    "kc13": lambda p: KriekConroy2013(dust2=p[0], dust_index=p[1] - 0.5),
    "calzetti": lambda p: Calzetti2000(tau_v=p[0]),
    "ccm89": lambda p: CCM89(a_v=p[0], r_v=2.0 + p[1]),
    "f99": lambda p: Fitzpatrick99(a_v=p[0], r_v=2.0 + p[1]),
    "powerlaw": lambda p: PowerLawAttenuation(tau_v=p[0], index=-p[1]),
}


@pytest.mark.parametrize("name", sorted(LAWS))
def test_contracts(name):
    make = LAWS[name]
    wave = jnp.asarray(np.geomspace(1100.0, 25000.0, 64), jnp.float32)
    params = jnp.array([[0.3, 1.1], [0.8, 1.5], [1.2, 0.7]], jnp.float32)
    law = make(params[0])
    assert isinstance(law, AbstractAttenuation)
    tau = law.optical_depth(wave)
    assert tau.shape == wave.shape and tau.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(tau))) and bool(jnp.all(tau >= 0))
    jitted = jax.jit(lambda p: make(p).optical_depth(wave))
    np.testing.assert_allclose(jitted(params[0]), tau, rtol=1e-5)
    batched = jax.jit(jax.vmap(lambda p: make(p).optical_depth(wave)))(params)
    looped = jnp.stack([jitted(p) for p in params])
    np.testing.assert_allclose(batched, looped, rtol=1e-5)
    grad = jax.jit(jax.grad(lambda p: make(p).optical_depth(wave).sum()))(params[1])
    assert bool(jnp.all(jnp.isfinite(grad))) and float(jnp.abs(grad).sum()) > 0
    mag, trans = jax.jit(lambda p: (make(p).attenuation_mag(wave), make(p).transmission(wave)))(
        params[0]
    )
    np.testing.assert_allclose(mag, MAG_PER_TAU * tau, rtol=1e-5)
    np.testing.assert_allclose(trans, jnp.exp(-tau), rtol=1e-5)


def test_abstract_cannot_be_instantiated():
    with pytest.raises(TypeError):
        AbstractAttenuation()
