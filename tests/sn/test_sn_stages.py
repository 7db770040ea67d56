"""SN Ia occurrence, progenitors, intrinsic population and dust: statistical and exact checks.

Oracles: rates recomputed in NumPy straight from MODEL.md section 4a (reference rule), the
Poisson mean/variance, chi-square tests of the (host, bin) assignment, a KS test of progenitor
ages against the analytic rate-weighted mixture, and scipy distributions for the population.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from cigars._config import ConfigError, from_dict
from cigars.simulate import Theta, toy_host_table
from cigars.sn import (
    AV_PER_TAU,
    ApplySNDust,
    AssignSupernovae,
    IndependentSNDust,
    PowerLawDTD,
    SampleIntrinsic,
    SampleProgenitors,
    SNDustConfig,
    SNPopulationConfig,
    TiedSNDust,
    delta_m,
    survey_scale,
)
from cigars.survey import Catalogue

THETA = Theta()
N_SIMS = 1000


@pytest.fixture(scope="module")
def hosts():
    return toy_host_table(300, seed=11)


def oracle_bin_rates(hosts, a=-12.15, s=-1.34):
    """Observer-frame rates (n_host, n_bin) by the reference rule, from the raw bank columns."""
    edges = np.asarray(hosts.log_age_edges, float)
    mass = 10.0 ** np.asarray(hosts.bin_logmass, float)
    mid = 0.5 * (edges[:, 1:] + edges[:, :-1])
    rate = mass * 10.0**a * (10.0**mid / 1e9) ** s / (1.0 + np.asarray(hosts.z, float))[:, None]
    return np.where(edges[:, :-1] >= 8.0 - 1e-9, rate, 0.0)  # ages >= 100 Myr only


@pytest.fixture(scope="module")
def assigned(hosts):
    """N_SIMS runs of AssignSupernovae + SampleProgenitors on the toy bank (no detection)."""
    dtd = PowerLawDTD()
    kappa = 25.0 / oracle_bin_rates(hosts).sum()  # ~25 SNe per survey
    assign = AssignSupernovae.from_hosts(dtd, hosts, kappa=kappa)
    prog = SampleProgenitors(dtd=dtd, hosts=hosts)
    empty = Catalogue.empty(64, hosts.n_band)

    @jax.jit
    def run(keys):
        def one(key):
            k1, k2 = jax.random.split(key)
            return prog(k2, THETA, assign(k1, THETA, empty))

        return jax.vmap(one)(keys)

    cats = run(jax.random.split(jax.random.key(0), N_SIMS))
    return kappa, cats


def test_poisson_count_mean_and_variance(hosts, assigned):
    kappa, cats = assigned
    lam = kappa * oracle_bin_rates(hosts).sum()
    n = np.asarray(cats.n_sn_total, float)
    np.testing.assert_allclose(np.asarray(cats.expected_n_sn), lam, rtol=1e-4)
    assert abs(n.mean() - lam) < 4 * math.sqrt(lam / N_SIMS)
    dispersion = np.sum((n - lam) ** 2) / lam  # ~ chi2(N_SIMS) for a Poisson count
    assert stats.chi2.ppf(1e-4, N_SIMS) < dispersion < stats.chi2.ppf(1 - 1e-4, N_SIMS)
    assert not np.any(np.asarray(cats.overflow))


def test_valid_slots_are_the_first_n(assigned):
    _, cats = assigned
    n = np.asarray(cats.n_sn_total)
    valid = np.asarray(cats.valid)
    np.testing.assert_array_equal(valid, np.arange(64)[None, :] < n[:, None])
    np.testing.assert_array_equal(np.asarray(cats.mask), valid)


def test_host_bin_assignment_frequencies(hosts, assigned):
    _, cats = assigned
    valid = np.asarray(cats.valid)
    host = np.asarray(cats.host_index)[valid]
    sfh_bin = np.asarray(cats.sfh_bin)[valid]
    p = oracle_bin_rates(hosts)
    assert np.all(p[host, sfh_bin] > 0), "a SN was assigned to a bin with zero rate"
    # chi-square on (host decile by rate) x bin cells
    order = np.argsort(p.sum(1))
    group_of = np.empty(hosts.n_host, int)
    for g, members in enumerate(np.array_split(order, 10)):
        group_of[members] = g
    observed = np.zeros((10, p.shape[1]))
    np.add.at(observed, (group_of[host], sfh_bin), 1)
    expected = np.zeros_like(observed)
    np.add.at(expected, group_of, p)
    expected = expected / expected.sum() * len(host)
    keep = expected > 5
    chi2 = np.sum((observed[keep] - expected[keep]) ** 2 / expected[keep])
    assert stats.chi2.sf(chi2, keep.sum() - 1) > 1e-4
    # host columns are gathered from the bank
    np.testing.assert_array_equal(np.asarray(cats.z_cos)[valid], np.asarray(hosts.z)[host])
    np.testing.assert_array_equal(np.asarray(cats.logzsol)[valid], np.asarray(hosts.logzsol)[host])


def test_progenitor_ages_follow_rate_weighted_mixture(hosts, assigned):
    _, cats = assigned
    valid = np.asarray(cats.valid)
    ages = np.asarray(cats.age_gyr, float)[valid] * 1e9
    p = oracle_bin_rates(hosts)
    edges = 10.0 ** np.asarray(hosts.log_age_edges, float)
    w = (p / p.sum()).ravel()
    lo, hi = edges[:, :-1].ravel(), edges[:, 1:].ravel()
    keep = w > 0
    w, lo, hi = w[keep], lo[keep], hi[keep]

    def cdf(t):
        t = np.asarray(t)[:, None]
        return np.sum(w * np.clip((t - lo) / (hi - lo), 0.0, 1.0), axis=1)

    assert stats.kstest(ages, cdf).pvalue > 1e-3
    np.testing.assert_array_equal(
        np.asarray(cats.progenitor_logzsol)[valid], np.asarray(cats.logzsol)[valid]
    )


def test_undetected_hosts_never_host_supernovae(hosts):
    detected = np.random.default_rng(0).uniform(size=hosts.n_host) < 0.4
    stage = AssignSupernovae.from_hosts(PowerLawDTD(), hosts, kappa=1.0)
    cat = Catalogue.empty(512, hosts.n_band).replace(host_detected=jnp.asarray(detected))
    # choose kappa so ~300 SNe are drawn from the detected hosts
    rate = oracle_bin_rates(hosts).sum(1)
    stage = stage.replace(kappa=300.0 / rate[detected].sum())
    out = jax.jit(stage.__call__)(jax.random.key(5), THETA, cat)
    n = int(out.n_sn_total)
    assert 200 < n <= 512
    assert np.all(detected[np.asarray(out.host_index)[:n]])
    np.testing.assert_allclose(float(out.expected_n_sn), 300.0, rtol=1e-4)


def test_overflow_is_flagged_and_slots_stay_full(hosts):
    stage = AssignSupernovae.from_hosts(PowerLawDTD(), hosts, kappa=1.0)
    stage = stage.replace(kappa=200.0 / oracle_bin_rates(hosts).sum())
    out = jax.jit(stage.__call__)(jax.random.key(1), THETA, Catalogue.empty(16, hosts.n_band))
    assert bool(out.overflow) and int(out.n_sn_total) > 16
    assert bool(jnp.all(out.valid))


def test_ln_weight_enters_rates_and_kappa(hosts):
    ln_w = np.log(np.random.default_rng(2).uniform(0.5, 2.0, hosts.n_host))
    weighted = hosts.replace(ln_weight=jnp.asarray(ln_w, hosts.z.dtype))
    plain = AssignSupernovae.from_hosts(PowerLawDTD(), hosts, kappa=1.0)
    heavy = AssignSupernovae.from_hosts(PowerLawDTD(), weighted, kappa=1.0)
    np.testing.assert_allclose(
        np.asarray(heavy.host_rates(THETA)),
        np.asarray(plain.host_rates(THETA)) * np.exp(ln_w),
        rtol=1e-5,
    )
    assert survey_scale(1000, 10**6, ln_w) == pytest.approx(2.0 / np.mean(np.exp(ln_w)))
    with pytest.raises(ValueError, match="counts"):
        survey_scale(0, 10)


def test_dtd_with_no_usable_bins_is_rejected(hosts):
    with pytest.raises(ValueError, match="no SFH bin"):
        AssignSupernovae.from_hosts(PowerLawDTD(min_delay_yr=1e12), hosts, kappa=1.0)


# --- intrinsic population and dust -------------------------------------------------------


def slots(n, rng):
    return Catalogue.empty(n, 6).replace(
        progenitor_logzsol=jnp.asarray(rng.uniform(-1.5, 0.2, n), jnp.float32),
        age_gyr=jnp.asarray(rng.uniform(0.1, 10.0, n), jnp.float32),
        logmass=jnp.asarray(rng.uniform(8.5, 11.5, n), jnp.float32),
        dust2=jnp.asarray(rng.uniform(0.0, 1.0, n), jnp.float32),
    )


def test_delta_m_formula():
    z, age, mass = np.array([-0.5, 0.1]), np.array([2.0, 0.3]), np.array([9.5, 10.5])
    want = -0.1 * z - 0.03 * age + np.where(mass > 10.0, -0.05, 0.0)
    np.testing.assert_allclose(np.asarray(delta_m(THETA, z, age, mass)), want, rtol=1e-6)


def test_intrinsic_population_statistics():
    n = 100_000
    cat = slots(n, np.random.default_rng(0))
    theta = THETA.replace(alpha_c=0.02, sigma_res=0.12)
    out = jax.jit(SampleIntrinsic().__call__)(jax.random.key(3), theta, cat)
    x1, c, m = (np.asarray(a, float) for a in (out.x1_int, out.c_int, out.M_int))
    assert abs(x1.mean()) < 4 / math.sqrt(n) and abs(x1.std() - 1) < 0.01
    slope = np.polyfit(x1, c, 1)[0]
    assert abs(slope - 0.02) < 4 * 0.1 / math.sqrt(n)
    assert abs((c - 0.02 * x1).std() - 0.1) < 0.002
    dm = np.asarray(delta_m(theta, cat.progenitor_logzsol, cat.age_gyr, cat.logmass), float)
    np.testing.assert_allclose(np.asarray(out.delta_m), dm, rtol=1e-5, atol=1e-6)
    resid = m - (-19.5 + dm - 0.14 * x1 + 2.2 * c)
    assert abs(resid.mean()) < 4 * 0.12 / math.sqrt(n) and abs(resid.std() - 0.12) < 0.002


def test_independent_dust_distributions():
    n = 100_000
    cat = slots(n, np.random.default_rng(1)).replace(
        M_int=jnp.full((n,), -19.3), c_int=jnp.full((n,), 0.05)
    )
    out = jax.jit(ApplySNDust(dust=IndependentSNDust()).__call__)(jax.random.key(4), THETA, cat)
    a_v, r_v = np.asarray(out.A_V, float), np.asarray(out.R_V, float)
    assert stats.kstest(a_v, stats.expon(scale=0.1).cdf).pvalue > 1e-3
    rv_dist = stats.truncnorm((1.2 - 3.0) / 0.5, np.inf, loc=3.0, scale=0.5)
    assert r_v.min() > 1.2
    assert stats.kstest(r_v, rv_dist.cdf).pvalue > 1e-3
    e = a_v / r_v
    np.testing.assert_allclose(np.asarray(out.E_BV), e, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out.M), -19.3 + a_v + e, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out.c_ext), 0.05 + e, rtol=1e-5)


def test_tied_dust_uses_host_dust2():
    cat = slots(1000, np.random.default_rng(2))
    out = jax.jit(ApplySNDust(dust=TiedSNDust(scale=0.5)).__call__)(jax.random.key(5), THETA, cat)
    np.testing.assert_allclose(
        np.asarray(out.A_V), 0.5 * AV_PER_TAU * np.asarray(cat.dust2), rtol=1e-6
    )
    assert AV_PER_TAU == pytest.approx(1.0857, abs=1e-4)


def test_configs_build_components():
    dust = from_dict(SNDustConfig, {"type": "tied", "scale": 0.7, "rv_mean": 2.5}).build()
    assert isinstance(dust, TiedSNDust) and dust.scale == 0.7 and dust.rv_mean == 2.5
    dust = from_dict(SNDustConfig, {"type": "independent", "tau_av": 0.2}).build()
    assert isinstance(dust, IndependentSNDust) and dust.tau_av == 0.2
    pop = from_dict(SNPopulationConfig, {"type": "tripp", "c_sd": 0.08}).build()
    assert isinstance(pop, SampleIntrinsic) and pop.c_sd == 0.08
    with pytest.raises(ConfigError, match="tau_av"):
        from_dict(SNDustConfig, {"type": "independent", "tau_av": 0.0})
    with pytest.raises(ConfigError, match="unknown sn_dust type"):
        from_dict(SNDustConfig, {"type": "global"})
