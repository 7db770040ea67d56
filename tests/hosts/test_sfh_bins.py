"""SFH binning and the continuity transform (cigars.hosts._sfh).

Oracles: astropy.cosmology.WMAP9 for t_univ; numpy re-derivations of the bin widths and masses.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from astropy.cosmology import WMAP9 as ASTROPY_WMAP9
from hypothesis import given, settings
from hypothesis import strategies as st

from cigars.hosts._sfh import (
    FIRST_SN_BIN,
    N_SFH_EDGES,
    log_sfr_per_bin,
    logsfr_ratios_to_log_masses,
    sfh_bin_log_widths,
    sfh_log_age_edges,
    sfh_log_age_edges_from_t_univ,
    sfh_log_mid_ages,
)

Z_GRID = np.linspace(0.0, 3.0, 601)


def _numpy_edges(z):
    """Independent construction of the MODEL.md §3a edges from astropy's WMAP9 age."""
    lg_t = np.log10(ASTROPY_WMAP9.age(z).to("yr").value)
    spaced = np.linspace(8.0, np.log10(0.85) + lg_t, 5)
    return np.concatenate([[0.0, np.log10(3e7)], spaced, [lg_t]])


# --- Comparison to other codes ------------------------------------------------------------------


def test_edges_match_astropy_construction(x64):
    ours = np.asarray(sfh_log_age_edges(jnp.asarray(Z_GRID)))
    ref = np.stack([_numpy_edges(z) for z in Z_GRID])
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-8)


def test_bin_widths_match_numpy(x64):
    edges = np.asarray(sfh_log_age_edges(jnp.asarray(Z_GRID)))
    ref = np.log10(np.diff(10.0**edges, axis=-1))
    np.testing.assert_allclose(np.asarray(sfh_bin_log_widths(jnp.asarray(edges))), ref, atol=1e-10)


# --- Structure ----------------------------------------------------------------------------------


def test_edges_increase_for_every_redshift_in_range():
    edges = np.asarray(jax.jit(sfh_log_age_edges)(jnp.asarray(Z_GRID, dtype=jnp.float32)))
    assert edges.shape == (Z_GRID.size, N_SFH_EDGES) == (Z_GRID.size, 8)
    assert np.all(np.diff(edges, axis=-1) > 0)
    widths = np.asarray(sfh_bin_log_widths(jnp.asarray(edges)))
    assert np.all(np.isfinite(widths))


def test_bins_of_model_section_4a():
    """Bins 0 (0-30 Myr) and 1 (30-100 Myr) are the SN-free ones; SN bins start at 100 Myr."""
    edges = np.asarray(sfh_log_age_edges(jnp.asarray([0.02, 0.7, 1.5])))
    assert FIRST_SN_BIN == 2
    np.testing.assert_allclose(10.0 ** edges[:, 1], 3e7, rtol=1e-6)
    np.testing.assert_allclose(10.0 ** edges[:, FIRST_SN_BIN], 1e8, rtol=1e-6)
    np.testing.assert_allclose(edges[:, -1] - edges[:, -2], -np.log10(0.85), atol=1e-6)
    mids = np.asarray(sfh_log_mid_ages(jnp.asarray(edges)))
    assert np.all(mids[:, FIRST_SN_BIN:] > 8.0) and np.all(mids[:, :FIRST_SN_BIN] < 8.0)


def test_edges_from_t_univ_and_from_z_agree():
    z = jnp.asarray([0.1, 1.0])
    from cigars.cosmology import WMAP9, age

    np.testing.assert_array_equal(
        sfh_log_age_edges(z), sfh_log_age_edges_from_t_univ(age(WMAP9, z))
    )


# --- Continuity transform -----------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    logmass=st.floats(8.5, 12.5),
    z=st.floats(0.0, 3.0),
    ratios=st.lists(st.floats(-5.0, 5.0), min_size=6, max_size=6),
)
def test_masses_sum_to_formed_mass_and_reproduce_ratios(logmass, z, ratios):
    with jax.enable_x64(True):
        edges = sfh_log_age_edges(jnp.asarray(z))
        log_m = logsfr_ratios_to_log_masses(jnp.asarray(logmass), jnp.asarray(ratios), edges)
        total = np.log10(np.sum(10.0 ** (np.asarray(log_m) - logmass))) + logmass
        assert total == pytest.approx(logmass, abs=1e-12)
        log_sfr = np.asarray(log_sfr_per_bin(log_m, edges))
        np.testing.assert_allclose(-np.diff(log_sfr), ratios, atol=1e-9)


def test_zero_ratios_give_mass_proportional_to_bin_width(x64):
    edges = sfh_log_age_edges(jnp.asarray(0.4))
    log_m = np.asarray(logsfr_ratios_to_log_masses(jnp.asarray(10.0), jnp.zeros(6), edges))
    widths = np.diff(10.0 ** np.asarray(edges))
    np.testing.assert_allclose(10.0**log_m, 1e10 * widths / widths.sum(), rtol=1e-12)


def test_transform_float32_mass_conservation():
    key = jax.random.key(3)
    ratios = jax.random.uniform(key, (1000, 6), minval=-5.0, maxval=5.0)
    z = jnp.linspace(0.02, 1.5, 1000)
    logmass = jnp.linspace(8.5, 12.5, 1000)
    log_m = jax.jit(lambda m, r, z: logsfr_ratios_to_log_masses(m, r, sfh_log_age_edges(z)))(
        logmass, ratios, z
    )
    total = np.log10(np.sum(10.0 ** (np.asarray(log_m, np.float64) - 10.0), axis=-1)) + 10.0
    np.testing.assert_allclose(total, logmass, atol=1e-5)


# --- Contracts: jit == eager, vmap == loop, gradients -------------------------------------------


def test_jit_vmap_and_grad_contracts():
    z = jnp.asarray([0.05, 0.6, 1.4])
    logmass = jnp.asarray([9.0, 10.5, 12.0])
    ratios = jnp.asarray([[0.1, -0.2, 0.3, 0.0, 0.5, -1.0]] * 3)

    def f(z, m, r):
        return logsfr_ratios_to_log_masses(m, r, sfh_log_age_edges(z))

    eager = f(z, logmass, ratios)
    np.testing.assert_allclose(jax.jit(f)(z, logmass, ratios), eager, rtol=1e-6)
    looped = jnp.stack([f(z[i], logmass[i], ratios[i]) for i in range(3)])
    np.testing.assert_allclose(jax.vmap(f)(z, logmass, ratios), looped, rtol=1e-6)
    g = jax.grad(lambda r: f(z[1], logmass[1], r)[3])(ratios[1])
    assert np.all(np.isfinite(g))
