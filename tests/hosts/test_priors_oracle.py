"""Prospector-beta prior ingredients against independent code (scipy, astropy, numpy).

"Comparison to other codes" sections use oracles written here from the papers' formulas;
"Regression pins" hold numbers of the model specification (MODEL.md §3a) and are kept apart.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as st
from astropy import units as u
from astropy.cosmology import WMAP9 as ASTROPY_WMAP9
from scipy.integrate import quad
from scipy.interpolate import UnivariateSpline
from scipy.optimize import brentq

from cigars.hosts._hosts_config import ProspectorBetaConfig
from cigars.hosts._priors import (
    B19_DZ,
    B19_SFRD,
    PB_PZ,
    PB_PZ_DZ,
    ClampedStudentT,
    dust2_distribution,
    dust_index_distribution,
    expected_logsfr_ratios,
    leja20_log10_mass_function,
    leja20_parameters,
    logzsol_distribution,
    mass_metallicity_loc,
    mass_metallicity_scale,
    prospector_beta_prior,
    redshift_mass_distribution,
    sfh_shift_dex,
)


@pytest.fixture(scope="module")
def prior():
    return prospector_beta_prior()


# --- Independent oracles ------------------------------------------------------------------------

LEJA = {
    "logphi1": [-2.44, -3.08, -4.14],
    "logphi2": [-2.89, -3.29, -3.51],
    "logmstar": [10.79, 10.88, 10.84],
}


def leja_parameter_oracle(y, z0, z1=0.2, z2=1.6, z3=3.0):
    """Leja+20 Appendix B: y(z) = a z^2 + b z + c through the three anchors (their algebra)."""
    y1, y2, y3 = y
    a = ((y3 - y1) + (y2 - y1) / (z2 - z1) * (z1 - z3)) / (
        z3**2 - z1**2 + (z2**2 - z1**2) / (z2 - z1) * (z1 - z3)
    )
    b = ((y2 - y1) - a * (z2**2 - z1**2)) / (z2 - z1)
    c = y1 - a * z1**2 - b * z1
    return a * z0**2 + b * z0 + c


def leja_phi_oracle(logm, z):
    """Leja+20 eq. 14: sum of two Schechter functions per dex (linear space)."""
    zc = min(max(z, 0.2), 3.0)
    lp1, lp2, lms = (leja_parameter_oracle(LEJA[k], zc) for k in ("logphi1", "logphi2", "logmstar"))

    def schechter(logphi, alpha):
        return (
            10**logphi
            * np.log(10)
            * 10 ** ((logm - lms) * (alpha + 1))
            * np.exp(-(10 ** (logm - lms)))
        )

    return schechter(lp1, -0.28) + schechter(lp2, -1.48)


def pb_expectation_oracle(z, logm, clip=5.0):
    """Prospector-beta expected log-SFR ratios from the paper's recipe with astropy + FITPACK."""
    z_nodes = B19_DZ * np.arange(B19_SFRD.size)
    z_nodes[0] = 1e-8
    tl = ASTROPY_WMAP9.lookback_time(z_nodes).to(u.yr).value
    spline = UnivariateSpline(tl, B19_SFRD, s=0, ext=3)
    shift = -0.2 + (min(max(logm, 9.0), 12.0) - 9.0) / 3.0
    target = ASTROPY_WMAP9.age(z).value * 10**shift

    def f(zz):
        return ASTROPY_WMAP9.age(zz).value - target

    if f(0.15) < 0:
        z_s = 0.15
    elif f(10.0) > 0:
        z_s = 10.0
    else:
        z_s = brentq(f, 0.15, 10.0, xtol=1e-12)
    t0 = ASTROPY_WMAP9.lookback_time(z_s).to(u.yr).value
    t_onset = ASTROPY_WMAP9.lookback_time(15.0).to(u.yr).value
    tbinmax = t_onset - 0.1 * (t_onset - t0)
    if z_s <= 3.0:
        edges = [t0, t0 + 3e7, *np.geomspace(t0 + 1.3e8, tbinmax, 5), t_onset]
    else:
        edges = [t0, *np.geomspace(t0 + 10**7.1295, tbinmax, 6), t_onset]
    sfr = np.array(
        [spline.integral(a, b) / (b - a) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    )
    return np.clip(np.log10(sfr[:-1] / sfr[1:]), -clip, clip)


# --- Comparison to other codes ------------------------------------------------------------------


@pytest.mark.parametrize("z", [0.0, 0.2, 0.55, 1.0, 1.6, 2.2, 3.0, 3.5])
def test_leja20_parameters_match_appendix_algebra(z):
    ours = [float(v) for v in leja20_parameters(jnp.asarray(z))]
    zc = min(max(z, 0.2), 3.0)
    ref = [leja_parameter_oracle(LEJA[k], zc) for k in ("logphi1", "logphi2", "logmstar")]
    np.testing.assert_allclose(ours, ref, atol=2e-6)


def test_leja20_mass_function_matches_schechter_sum(x64):
    logm = np.linspace(8.0, 12.5, 46)
    for z in (0.05, 0.5, 1.2, 1.5):
        ours = 10.0 ** np.asarray(leja20_log10_mass_function(jnp.asarray(logm), jnp.asarray(z)))
        np.testing.assert_allclose(ours, leja_phi_oracle(logm, z), rtol=1e-10)


def test_conditional_mass_pdf_is_normalised_leja20(prior):
    """p(logM | z cell) of the histogram = Leja+20 phi / its integral over [8.5, 12.5]."""
    cfg = prior.config
    d = redshift_mass_distribution(prior)
    _, dm = d.cell_sizes
    m_mid = cfg.logm_min + dm * (np.arange(cfg.n_logm) + 0.5)
    for i in (0, 123, 400, cfg.n_z - 1):
        z = cfg.z_min + cfg.dz * (i + 0.5)
        norm, _ = quad(leja_phi_oracle, cfg.logm_min, cfg.logm_max, args=(z,), epsabs=0, limit=200)
        ours = np.exp(np.asarray(prior.log_pm_given_z[i], np.float64)) / dm
        np.testing.assert_allclose(ours, leja_phi_oracle(m_mid, z) / norm, rtol=2e-4)


def test_redshift_marginal_is_the_prospector_beta_table(prior):
    """Cell averages of the linearly interpolated table, normalised over [0.02, 1.5]."""
    cfg = prior.config
    nodes = PB_PZ_DZ * np.arange(PB_PZ.size)

    def table(z):
        return np.interp(z, nodes, PB_PZ)

    norm, _ = quad(table, cfg.z_min, cfg.z_max, points=nodes[1:38], limit=200)
    z_mid = cfg.z_min + cfg.dz * (np.arange(cfg.n_z) + 0.5)
    ours = np.exp(np.asarray(redshift_mass_distribution(prior).marginal_z_log_prob(z_mid)))
    np.testing.assert_allclose(ours, table(z_mid) / norm, rtol=2e-5)


def test_comoving_volume_redshift_marginal_matches_astropy():
    cfg = ProspectorBetaConfig(redshift_pdf="comoving_volume", dz=0.01)
    p = prospector_beta_prior(cfg)
    z_mid = cfg.z_min + cfg.dz * (np.arange(cfg.n_z) + 0.5)
    dvdz = ASTROPY_WMAP9.differential_comoving_volume(z_mid).value
    number = [quad(leja_phi_oracle, cfg.logm_min, cfg.logm_max, args=(z,))[0] for z in z_mid]
    ref = dvdz * np.asarray(number)
    ref /= ref.sum() * cfg.dz
    ours = np.exp(np.asarray(redshift_mass_distribution(p).marginal_z_log_prob(z_mid)))
    np.testing.assert_allclose(ours, ref, rtol=2e-3)


CASES = [
    (0.02, 8.5),
    (0.02, 12.5),  # shifted epoch clamped at z = 0.15
    (0.3, 9.7),
    (0.75, 10.5),
    (1.2, 11.3),
    (1.5, 8.5),
    (1.5, 12.5),
    (2.9, 8.6),  # shifted redshift above 3: the other bin scheme
    (3.0, 10.0),
]


@pytest.mark.parametrize(("z", "logm"), CASES)
def test_expected_logsfr_ratios_match_prospector_recipe(prior, z, logm):
    ours = np.asarray(expected_logsfr_ratios(prior, jnp.asarray(z), jnp.asarray(logm)))
    np.testing.assert_allclose(ours, pb_expectation_oracle(z, logm), atol=2e-4)


def test_truncated_normals_match_scipy(prior):
    """log_prob and moments of the dust and metallicity conditionals against scipy.truncnorm."""
    cases = [
        (logzsol_distribution(prior, jnp.asarray(9.2)), mass_metallicity_loc(9.2),
         mass_metallicity_scale(9.2), -1.98, 0.19),
        (logzsol_distribution(prior, jnp.asarray(11.5)), mass_metallicity_loc(11.5),
         mass_metallicity_scale(11.5), -1.98, 0.19),
        (dust2_distribution(prior, jnp.asarray(1.3)), 0.2 + 0.5 * 1.3, 0.2, 0.0, 4.0),
        (dust2_distribution(prior, jnp.asarray(-2.0)), 0.2, 0.2, 0.0, 4.0),
        (dust_index_distribution(prior, jnp.asarray(1.5)),
         -0.095 + 0.111 * 1.5 - 0.0066 * 1.5**2, 0.4, -1.0, 0.4),
    ]  # fmt: skip
    keys = jax.random.split(jax.random.key(11), len(cases))
    for k, (d, loc, scale, lo, hi) in zip(keys, cases, strict=True):
        loc, scale = float(loc), float(scale)
        ref = st.truncnorm((lo - loc) / scale, (hi - loc) / scale, loc=loc, scale=scale)
        x = np.linspace(lo + 1e-3, hi - 1e-3, 7)
        np.testing.assert_allclose(d.log_prob(jnp.asarray(x)), ref.logpdf(x), atol=2e-5)
        s = np.asarray(d.sample(k, (40_000,)), np.float64)
        assert s.min() >= lo and s.max() <= hi
        se = ref.std() / math.sqrt(s.size)
        assert abs(s.mean() - ref.mean()) < 5 * se
        assert s.var() == pytest.approx(ref.var(), rel=0.05)


def test_clamped_student_t_against_scipy():
    d = ClampedStudentT(2.0, jnp.asarray([0.5, -4.2]), 0.3, -5.0, 5.0)
    ref = [st.t(df=2, loc=0.5, scale=0.3), st.t(df=2, loc=-4.2, scale=0.3)]
    x = np.array([[-2.0, 0.7], [1.0, -4.9]]).T
    lp = np.asarray(d.log_prob(jnp.asarray(x)))
    np.testing.assert_allclose(
        lp, [[r.logpdf(v) for r, v in zip(ref, row, strict=True)] for row in x], rtol=1e-5
    )
    at_lo = np.asarray(d.log_prob(jnp.asarray([-5.0, -5.0])))
    at_hi = np.asarray(d.log_prob(jnp.asarray([5.0, 5.0])))
    np.testing.assert_allclose(at_lo, [r.logcdf(-5.0) for r in ref], rtol=1e-4)
    np.testing.assert_allclose(at_hi, [r.logsf(5.0) for r in ref], rtol=1e-4)
    s = np.asarray(d.sample(jax.random.key(5), (200_000,)))
    assert s.min() >= -5.0 and s.max() <= 5.0
    for col, r in enumerate(ref):
        p_lo, n = r.cdf(-5.0), s.shape[0]
        count = np.sum(s[:, col] == -5.0)
        assert abs(count - n * p_lo) < 5 * math.sqrt(n * p_lo * (1 - p_lo)) + 1


# --- Data tables --------------------------------------------------------------------------------


def test_transcribed_tables_are_smooth():
    """A mistyped digit in the transcribed tables would break their smoothness."""
    log_sfrd = np.log10(B19_SFRD)
    assert B19_SFRD.size == round(15.12 / B19_DZ) + 1
    assert np.max(np.abs(np.diff(log_sfrd, 2))) < 0.02
    assert PB_PZ.size == round(3.0 / PB_PZ_DZ) + 1 and PB_PZ[0] == 0.0
    assert np.max(np.abs(np.diff(PB_PZ[1:], 2))) < 3e-3
    assert np.max(np.abs(np.diff(np.log(PB_PZ[11:]), 2))) < 0.015


# --- Regression pins (MODEL.md §3a formulas) ----------------------------------------------------


def test_pins_mass_metallicity_and_shift():
    assert float(mass_metallicity_loc(10.1)) == pytest.approx(-0.25, abs=1e-6)
    assert float(mass_metallicity_scale(10.4)) == pytest.approx(0.34, abs=1e-6)
    shifts = np.asarray(sfh_shift_dex(jnp.asarray([8.0, 9.0, 10.5, 12.0, 13.0])))
    np.testing.assert_allclose(shifts, [-0.2, -0.2, 0.3, 0.8, 0.8], atol=1e-6)
