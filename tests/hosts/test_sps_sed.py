"""SED building from SSP grids: exact SFH-bin averages, metallicity, dust, contracts."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cigars.hosts._params import HostParams
from cigars.hosts._sps import AbstractSPS, SSPGridSPS, age_bin_weights, metallicity_weights
from cigars.hosts._ssp import analytic_ssp_grid, load_popstar, log_wave_edges

LN10 = math.log(10.0)
# CIGaRS-like SFH bin edges for t_univ = 8 Gyr (log10 yr): 0, 30 Myr, 5 log-spaced, t_univ.
EDGES = np.concatenate(
    [[0.0, np.log10(3e7)], np.linspace(8.0, np.log10(0.85 * 8e9), 5), [np.log10(8e9)]]
)
MASS_FRACTIONS = np.array([0.01, 0.03, 0.06, 0.1, 0.2, 0.3, 0.3])

# Compiled once per input signature and shared by the tests (eager calls compile every op).
SED = jax.jit(lambda sps, host, edges, masses: sps.rest_sed(host, edges, masses))
SURVIVING = jax.jit(lambda sps, host, edges, masses: sps.surviving_logmass(host, edges, masses))
AGE_WEIGHTS = jax.jit(age_bin_weights)
Z_WEIGHTS = jax.jit(metallicity_weights)


def make_host(**kw) -> HostParams:
    base = dict(
        z=0.3, logmass=10.0, logzsol=-0.4, logsfr_ratios=np.zeros(6), dust2=0.4,
        dust_index=-0.2, dust_ratio=0.8, gas_logz=-0.4, ln_fagn=math.log(1e-3), ln_agn_tau=3.0,
    )  # fmt: skip
    base.update(kw)
    return HostParams(**{k: jnp.asarray(v) for k, v in base.items()})


def mean_log_age(tau_a, tau_b, tau_min=-np.inf):
    """Time average of max(log10 t, tau_min) over t in [10^tau_a, 10^tau_b] (closed form)."""
    ta, tb = 10.0**tau_a, 10.0**tau_b

    def prim(t):  # ∫ log10 t dt
        return t * np.log10(t) - t / LN10

    tm = np.clip(10.0**tau_min, ta, tb)
    return ((tm - ta) * tau_min if tau_min > -np.inf else 0.0) + (prim(tb) - prim(tm))


# --------------------------------------------------------------------------------------------
# Age and metallicity weights.


def test_age_bin_weights_exact(x64):
    log_age = jnp.array([5.0, 6.0, 6.3, 7.2, 8.0, 9.0, 9.5, 10.2])
    edges = jnp.asarray(EDGES)
    w_tot, w_young = AGE_WEIGHTS(log_age, edges, 7.0)
    np.testing.assert_allclose(w_tot.sum(axis=1), 1.0, rtol=1e-12)
    # Sum_k w_k tau_k is the time average of the (clamped) piecewise-linear interpolant of tau.
    for b in range(7):
        lo, hi = EDGES[b], EDGES[b + 1]
        expect = mean_log_age(lo, hi, tau_min=5.0) / (10**hi - 10**lo)
        assert float(w_tot[b] @ log_age) == pytest.approx(expect, rel=1e-12)
    # Young part: only the first bin, the fraction of its time span below 10^7 yr.
    frac = np.asarray(w_young.sum(axis=1))
    np.testing.assert_allclose(frac[0], (1e7 - 1.0) / (3e7 - 1.0), rtol=1e-12)
    np.testing.assert_allclose(frac[1:], 0.0, atol=1e-15)
    assert np.all(np.asarray(w_tot) >= -1e-15) and np.all(np.asarray(w_young) >= -1e-15)


def test_age_bin_weights_beyond_the_oldest_node(x64):
    # Bins older than the last node use the last spectrum.
    w_tot, _ = AGE_WEIGHTS(jnp.array([6.0, 8.0]), jnp.array([9.0, 10.0, 10.3]), 7.0)
    np.testing.assert_allclose(w_tot, [[0.0, 1.0], [0.0, 1.0]], atol=1e-12)


def test_metallicity_weights(x64):
    nodes = jnp.array([-2.0, -1.0, 0.0, 0.5])
    np.testing.assert_allclose(Z_WEIGHTS(nodes, -0.25), [0, 0.25, 0.75, 0], atol=1e-15)
    np.testing.assert_allclose(Z_WEIGHTS(nodes, 0.5), [0, 0, 0, 1], atol=1e-15)
    np.testing.assert_allclose(Z_WEIGHTS(nodes, -3.0), [1, 0, 0, 0], atol=1e-15)
    np.testing.assert_allclose(Z_WEIGHTS(nodes, -1.0) @ nodes, -1.0, atol=1e-15)


# --------------------------------------------------------------------------------------------
# The analytic grid gives closed-form spectra.


def _numpy_attenuation(wave, dust2, delta, dust1):
    inv = 1e4 / wave
    blue = 1.17 * (-2.156 + 1.509 * inv - 0.198 * inv**2 + 0.011 * inv**3) + 1.78
    red = 1.17 * (-1.857 + 1.04 * inv) + 1.78
    k = np.maximum(np.where(wave > 6300, red, blue) / 0.44 / 4.05, 0)
    e_b = 0.85 - 1.9 * delta
    bump = e_b * (wave * 350) ** 2 / ((wave**2 - 2175.0**2) ** 2 + (wave * 350) ** 2)
    tau2 = dust2 * (k + bump / 4.05) * (wave / 5500) ** delta
    tau1 = dust1 * (wave / 5500) ** -1.0
    return np.exp(-tau2), np.exp(-tau1)


@pytest.mark.parametrize("logzsol", [-1.5, -0.4, 0.3])
def test_analytic_grid_closed_form(x64, logzsol):
    grid = analytic_ssp_grid(wave_edges=log_wave_edges(912.0, 11000.0, 0.01))
    sps = SSPGridSPS.from_grid(grid, dtype=jnp.float64)
    tmin, tmax = grid.log_age[0], grid.log_age[-1]
    scale = 1e-3 * (1 - 0.15 * grid.logzsol)
    hot, cool = grid.flux[0, 0] / scale[0], grid.flux[0, -1] / scale[0]
    masses = 10**10.0 * MASS_FRACTIONS
    host = make_host(logzsol=logzsol)

    def shape(tau_bar):  # spectrum per unit mass at mean log age tau_bar
        w = (tmax - tau_bar) / (tmax - tmin)
        return 1e-3 * (1 - 0.15 * logzsol) * (w * hot + (1 - w) * cool)

    widths = 10 ** EDGES[1:] - 10 ** EDGES[:-1]
    tau_bar = np.array([mean_log_age(EDGES[b], EDGES[b + 1]) for b in range(7)]) / widths
    total = sum(m * shape(t) for m, t in zip(masses, tau_bar, strict=True))
    young_t = mean_log_age(0.0, 7.0) / (1e7 - 1.0)
    young = masses[0] * (1e7 - 1.0) / widths[0] * shape(young_t)
    t2, t1 = _numpy_attenuation(grid.wave, 0.4, -0.2, 0.8 * 0.4)
    expect = t2 * (total - (1 - t1) * young)
    got = np.asarray(SED(sps, host, jnp.asarray(EDGES), jnp.asarray(masses)))
    np.testing.assert_allclose(got, expect, rtol=1e-9)
    # Surviving mass: f = 1 - 0.04 (tau - tau_min), averaged the same way.
    surv = np.sum(masses * (1 - 0.04 * (tau_bar - tmin)))
    got_m = float(SURVIVING(sps, host, jnp.asarray(EDGES), jnp.asarray(masses)))
    assert got_m == pytest.approx(np.log10(surv), abs=1e-12)


def test_dust_free_sed_is_linear_in_masses(x64):
    sps = SSPGridSPS.from_grid(analytic_ssp_grid(), dtype=jnp.float64)
    host = make_host(dust2=0.0)
    m1, m2 = jnp.asarray(MASS_FRACTIONS), jnp.asarray(MASS_FRACTIONS[::-1])
    edges = jnp.asarray(EDGES)
    s = lambda m: SED(sps, host, edges, m)  # noqa: E731
    np.testing.assert_allclose(s(2 * m1 + 3 * m2), 2 * s(m1) + 3 * s(m2), rtol=1e-12)


def test_birth_cloud_only_dims_young_stars(x64):
    sps = SSPGridSPS.from_grid(analytic_ssp_grid(), dtype=jnp.float64)
    edges = jnp.asarray(EDGES)
    old_only = jnp.asarray(np.r_[0.0, MASS_FRACTIONS[1:]])
    a = SED(sps, make_host(dust_ratio=0.0), edges, old_only)
    b = SED(sps, make_host(dust_ratio=2.0), edges, old_only)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    young_only = jnp.asarray(np.r_[1.0, np.zeros(6)])
    c = SED(sps, make_host(dust_ratio=2.0), edges, young_only)
    d = SED(sps, make_host(dust_ratio=0.0), edges, young_only)
    assert np.all(np.asarray(c) < np.asarray(d))


def test_missing_sfh_is_a_clear_error():
    sps = SSPGridSPS.from_grid(analytic_ssp_grid())
    with pytest.raises(ValueError, match="SFH bins"):
        sps.rest_sed(make_host())
    with pytest.raises(ValueError, match="one more entry"):
        sps.rest_sed(make_host(), jnp.zeros(7), jnp.ones(7))


# --------------------------------------------------------------------------------------------
# Contracts on the PopStar provider (float32, as in production).


@pytest.fixture(scope="module")
def popstar_sps():
    return SSPGridSPS.from_grid(load_popstar(cache=False))


def test_popstar_contracts(popstar_sps):
    sps = popstar_sps
    assert isinstance(sps, AbstractSPS)
    edges = jnp.asarray(EDGES, jnp.float32)
    masses = jnp.asarray(1e10 * MASS_FRACTIONS, jnp.float32)
    host = make_host()
    sed = SED(sps, host, edges, masses)
    assert sed.shape == sps.wave.shape and sed.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(sed))) and bool(jnp.all(sed >= 0))
    # Closing over the provider (constants) and passing it (arguments) agree.
    closed = jax.jit(lambda h: sps.rest_sed(h, edges, masses))(host)
    np.testing.assert_allclose(closed, sed, rtol=2e-5)
    hosts = jax.tree.map(lambda *x: jnp.stack(x), make_host(logzsol=-1.0), make_host(dust2=1.2))
    batched = jax.jit(jax.vmap(SED, in_axes=(None, 0, None, None)))(sps, hosts, edges, masses)
    looped = [SED(sps, make_host(logzsol=-1.0), edges, masses),
              SED(sps, make_host(dust2=1.2), edges, masses)]  # fmt: skip
    np.testing.assert_allclose(batched, jnp.stack(looped), rtol=2e-5)


def test_popstar_sed_gradients_finite(popstar_sps):
    sps = popstar_sps
    edges = jnp.asarray(EDGES, jnp.float32)
    fractions = jnp.asarray(MASS_FRACTIONS, jnp.float32)

    def blue_to_red(x):
        logzsol, dust2, dust_index, dust_ratio, logmass, edge_shift = x
        host = make_host(logzsol=logzsol, dust2=dust2, dust_index=dust_index, dust_ratio=dust_ratio)
        sed = sps.rest_sed(host, edges + edge_shift * jnp.arange(8) / 7, 10**logmass * fractions)
        return jnp.log(sed[300] / sed[900])

    g = jax.jit(jax.grad(blue_to_red))(jnp.array([-0.4, 0.4, -0.2, 0.8, 10.0, 0.05]))
    assert bool(jnp.all(jnp.isfinite(g)))
    assert np.all(np.abs(np.asarray(g)[:4]) > 0)


def test_popstar_magnitude_gradients_finite(popstar_sps):
    from cigars.hosts._filters import host_magnitudes, load_bands, make_photometry

    sps = popstar_sps
    phot = make_photometry(load_bands(), np.asarray(sps.wave_edges))
    edges = jnp.asarray(EDGES, jnp.float32)
    fractions = jnp.asarray(MASS_FRACTIONS, jnp.float32)

    def mags(x):
        logzsol, dust2, dust_index, dust_ratio, z, logmass = x
        host = make_host(logzsol=logzsol, dust2=dust2, dust_index=dust_index,
                         dust_ratio=dust_ratio, z=z, logmass=logmass)  # fmt: skip
        return host_magnitudes(sps, phot, host, edges, 10**logmass * fractions)

    jac = np.asarray(jax.jit(jax.jacfwd(mags))(jnp.array([-0.4, 0.4, -0.2, 0.8, 0.6, 10.0])))
    assert jac.shape == (6, 6) and np.all(np.isfinite(jac))
    assert np.all(np.abs(jac[:, :5]).sum(axis=0) > 0)
    np.testing.assert_allclose(jac[:, 5], -2.5, rtol=1e-3)
