"""Samples of the Prospector-beta prior against its log density and independent CDFs.

Each conditional of the hierarchy is checked by a probability-integral transform (PIT): the
sampled values pushed through an independent scipy/numpy CDF must be uniform (KS test, fixed
seed). The (z, logM) histogram distribution is checked cell by cell.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as st
from astropy.cosmology import WMAP9 as ASTROPY_WMAP9
from numpyro.infer import Predictive
from numpyro.infer.util import log_density

from cigars._config import ConfigError, from_dict
from cigars.hosts._hosts_config import HostPopulationConfig, ProspectorBetaConfig
from cigars.hosts._params import HostParams
from cigars.hosts._priors import (
    PB_PZ,
    PB_PZ_DZ,
    RedshiftMassPrior,
    expected_logsfr_ratios,
    host_log_prob,
    host_model,
    prospector_beta_prior,
    redshift_mass_distribution,
    sample_hosts,
)

N = 10_000
P_MIN = 1e-3  # KS p-value threshold (fixed seed: deterministic)


@pytest.fixture(scope="module")
def prior():
    return prospector_beta_prior()


@pytest.fixture(scope="module")
def hosts(prior):
    h = sample_hosts(jax.random.key(20260425), N, prior)
    return jax.tree.map(lambda a: np.asarray(a, np.float64), h)


_log_prob = jax.jit(host_log_prob)


def _ks_uniform(u):
    return st.kstest(u, "uniform").pvalue


# --- Independent CDFs ---------------------------------------------------------------------------


def _leja_phi(logm, z):
    """Leja+20 double Schechter per dex (numpy; parameters by Lagrange interpolation)."""
    zc = np.clip(z, 0.2, 3.0)
    anchors = np.array([0.2, 1.6, 3.0])

    def quad_through(y):
        return np.polyval(np.polyfit(anchors, y, 2), zc)

    lp1 = quad_through([-2.44, -3.08, -4.14])
    lp2 = quad_through([-2.89, -3.29, -3.51])
    lms = quad_through([10.79, 10.88, 10.84])
    x = 10.0 ** (logm - lms)
    return (10.0**lp1 * x ** (1 - 0.28) + 10.0**lp2 * x ** (1 - 1.48)) * np.exp(-x)


def _young_log_sfr(h):
    """log10 SFR in the 0-30 Myr bin, from astropy ages and the continuity transform (numpy)."""
    lg_t = np.log10(ASTROPY_WMAP9.age(h.z).to("yr").value)
    frac = np.linspace(0.0, 1.0, 5)
    spaced = 8.0 + (np.log10(0.85) + lg_t[:, None] - 8.0) * frac
    n = h.z.size
    edges = np.concatenate(
        [np.zeros((n, 1)), np.full((n, 1), np.log10(3e7)), spaced, lg_t[:, None]], 1
    )
    widths = np.diff(10.0**edges, axis=1)
    rel_sfr = 10.0 ** np.concatenate([np.zeros((n, 1)), -np.cumsum(h.logsfr_ratios, 1)], 1)
    mass0 = 10.0**h.logmass * rel_sfr[:, 0] * widths[:, 0] / np.sum(rel_sfr * widths, 1)
    return np.log10(mass0 / widths[:, 0])


def _truncnorm_cdf(x, loc, scale, lo, hi):
    return st.truncnorm.cdf(x, (lo - loc) / scale, (hi - loc) / scale, loc=loc, scale=scale)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# --- PIT tests of every conditional -------------------------------------------------------------


def test_samples_lie_in_the_support_and_score_finitely(prior, hosts):
    cfg = prior.config
    assert hosts.z.shape == (N,) and hosts.logsfr_ratios.shape == (N, 6)
    assert cfg.z_min <= hosts.z.min() and hosts.z.max() <= cfg.z_max
    assert cfg.logm_min <= hosts.logmass.min() and hosts.logmass.max() <= cfg.logm_max
    assert np.all(np.abs(hosts.logsfr_ratios) <= 5.0)
    h32 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), hosts)
    lp = np.asarray(_log_prob(prior, h32))
    assert lp.shape == (N,) and np.all(np.isfinite(lp))
    # Out-of-support values score -inf (same shapes: no recompilation).
    bad = h32.replace(
        z=h32.z.at[0].set(1.7),
        dust2=h32.dust2.at[1].set(-0.1),
        logzsol=h32.logzsol.at[2].set(0.5),
        ln_fagn=h32.ln_fagn.at[3].set(2.0),
        logmass=h32.logmass.at[4].set(8.4),
    )
    lp_bad = np.asarray(_log_prob(prior, bad))
    assert np.all(np.isneginf(lp_bad[:5])) and np.array_equal(lp_bad[5:], lp[5:])


def test_redshift_marginal_pit(prior, hosts):
    cfg = prior.config
    grid = np.arange(cfg.z_min, cfg.z_max + 1e-9, 0.0005)
    pdf = np.interp(grid, PB_PZ_DZ * np.arange(PB_PZ.size), PB_PZ)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))])
    assert _ks_uniform(np.interp(hosts.z, grid, cdf / cdf[-1])) > P_MIN


def test_mass_given_redshift_pit(prior, hosts):
    cfg = prior.config
    grid = np.linspace(cfg.logm_min, cfg.logm_max, 2001)
    u = np.empty(N)
    for s in range(0, N, 1000):
        z, m = hosts.z[s : s + 1000, None], hosts.logmass[s : s + 1000]
        phi = _leja_phi(grid[None, :], z)
        cdf = np.concatenate(
            [np.zeros((z.shape[0], 1)), np.cumsum(0.5 * (phi[:, 1:] + phi[:, :-1]), 1)], 1
        )
        cdf /= cdf[:, -1:]
        u[s : s + 1000] = [np.interp(mi, grid, ci) for mi, ci in zip(m, cdf, strict=True)]
    assert _ks_uniform(u) > P_MIN


def test_metallicity_pit(hosts):
    loc = -0.65 + 0.8 * _sigmoid((hosts.logmass - 10.1) / 0.3)
    scale = 0.52 - 0.36 * _sigmoid((hosts.logmass - 10.4) / 0.2)
    assert _ks_uniform(_truncnorm_cdf(hosts.logzsol, loc, scale, -1.98, 0.19)) > P_MIN


def test_logsfr_ratio_pit(prior, hosts):
    """Clamped Student-t(2, E[r], 0.3); samples at +-5 get a randomised PIT within the atom."""
    expect = np.asarray(
        jax.jit(expected_logsfr_ratios)(prior, jnp.asarray(hosts.z), jnp.asarray(hosts.logmass))
    )
    t = st.t(df=2, loc=expect, scale=0.3)
    u = t.cdf(hosts.logsfr_ratios)
    rng = np.random.default_rng(0)
    lo, hi = hosts.logsfr_ratios <= -5.0, hosts.logsfr_ratios >= 5.0
    u = np.where(lo, rng.uniform(size=u.shape) * t.cdf(-5.0), u)
    u = np.where(hi, t.cdf(5.0) + rng.uniform(size=u.shape) * t.sf(5.0), u)
    for k in range(6):
        assert _ks_uniform(u[:, k]) > P_MIN, k
    # The clamps are hit as often as the Student-t tails say.
    expected_hits = t.cdf(-5.0).sum() + t.sf(5.0).sum()
    hits = lo.sum() + hi.sum()
    assert abs(hits - expected_hits) < 5 * math.sqrt(expected_hits) + 2


def test_dust_pit(hosts):
    loc2 = 0.2 + 0.5 * np.maximum(_young_log_sfr(hosts), 0.0)
    assert _ks_uniform(_truncnorm_cdf(hosts.dust2, loc2, 0.2, 0.0, 4.0)) > P_MIN
    d = hosts.dust2
    loc_i = -0.095 + 0.111 * d - 0.0066 * d**2
    assert _ks_uniform(_truncnorm_cdf(hosts.dust_index, loc_i, 0.4, -1.0, 0.4)) > P_MIN
    assert _ks_uniform(_truncnorm_cdf(hosts.dust_ratio, 1.0, 0.3, 0.0, 2.0)) > P_MIN


def test_nuisance_pit(hosts):
    assert _ks_uniform((hosts.gas_logz + 2.0) / 2.5) > P_MIN
    lo, hi = math.log(1e-5), math.log(3.0)
    assert _ks_uniform((hosts.ln_fagn - lo) / (hi - lo)) > P_MIN
    lo, hi = math.log(5.0), math.log(150.0)
    assert _ks_uniform((hosts.ln_agn_tau - lo) / (hi - lo)) > P_MIN


# --- The (z, logM) histogram distribution -------------------------------------------------------


def test_histogram_log_prob_is_normalised_and_matches_samples(prior):
    d = redshift_mass_distribution(prior)
    cfg = prior.config
    dz, dm = d.cell_sizes
    zc = cfg.z_min + dz * (np.arange(cfg.n_z) + 0.5)
    mc = cfg.logm_min + dm * (np.arange(cfg.n_logm) + 0.5)
    grid = jnp.stack(jnp.meshgrid(jnp.asarray(zc), jnp.asarray(mc), indexing="ij"), -1)
    p_cells = np.exp(np.asarray(d.log_prob(grid), np.float64)) * dz * dm
    assert p_cells.sum() == pytest.approx(1.0, abs=1e-5)
    # Samples against cell probabilities, on 20 x 20 blocks of cells (chi-square).
    s = np.asarray(jax.jit(lambda k: d.sample(k, (200_000,)))(jax.random.key(2)))
    bz, bm = cfg.n_z // 20, cfg.n_logm // 20
    counts, _, _ = np.histogram2d(
        s[:, 0],
        s[:, 1],
        bins=[cfg.z_min + dz * bz * np.arange(21), cfg.logm_min + dm * bm * np.arange(21)],
    )
    expected = p_cells.reshape(20, bz, 20, bm).sum((1, 3)) * s.shape[0]
    keep = expected > 20
    chi2 = np.sum((counts[keep] - expected[keep]) ** 2 / expected[keep])
    assert st.chi2.sf(chi2, keep.sum() - 1) > P_MIN
    assert counts[~keep].sum() <= expected[~keep].sum() + 5 * math.sqrt(expected[~keep].sum()) + 5


def test_histogram_distribution_on_a_small_grid():
    """Exact cell frequencies, empty cells never drawn, uniform within cells, -inf outside."""
    pz = np.array([0.0, 0.5, 0.3, 0.2])
    pm = np.array([[0.25, 0.25, 0.5], [0.0, 1.0, 0.0], [0.6, 0.0, 0.4], [0.1, 0.2, 0.7]])
    with np.errstate(divide="ignore"):
        d = RedshiftMassPrior(np.log(pz), np.log(pm), (0.0, 2.0), (9.0, 12.0))
    s = np.asarray(jax.jit(lambda k: d.sample(k, (100_000,)))(jax.random.key(7)))
    i = np.floor(s[:, 0] / 0.5).astype(int)
    j = np.floor(s[:, 1] - 9.0).astype(int)
    counts = np.zeros((4, 3))
    np.add.at(counts, (i, j), 1)
    expected = pz[:, None] * pm * s.shape[0]
    assert np.all(counts[expected == 0] == 0)
    pos = expected > 0
    chi2 = np.sum((counts[pos] - expected[pos]) ** 2 / expected[pos])
    assert st.chi2.sf(chi2, pos.sum() - 1) > P_MIN
    assert st.kstest(s[:, 0] / 0.5 - i, "uniform").pvalue > P_MIN
    assert st.kstest(s[:, 1] - 9.0 - j, "uniform").pvalue > P_MIN
    lp = d.log_prob(jnp.asarray([[0.7, 10.5], [0.7, 9.5], [2.5, 10.0], [0.7, 8.0]]))
    np.testing.assert_allclose(lp[:2], [np.log(0.5 / 0.5), -np.inf], rtol=1e-6)
    assert np.all(np.isneginf(lp[2:]))
    with pytest.raises(ValueError, match="log_pm_given_z"):
        RedshiftMassPrior(np.zeros(3), np.zeros((4, 2)), (0, 1), (0, 1))


# --- Consistency of sampler, log density and numpyro model --------------------------------------


def _sites(h: HostParams) -> dict:
    return {
        "zm": jnp.stack([h.z, h.logmass], -1),
        "logzsol": h.logzsol,
        "logsfr_ratios": h.logsfr_ratios,
        "dust2": h.dust2,
        "dust_index": h.dust_index,
        "dust_ratio": h.dust_ratio,
        "gas_logz": h.gas_logz,
        "ln_fagn": h.ln_fagn,
        "ln_agn_tau": h.ln_agn_tau,
    }


@jax.jit
def _model_log_densities(prior, sites, one):
    plate, trace = log_density(host_model, (prior, 8), {}, sites)
    single, _ = log_density(host_model, (prior,), {}, one)
    return plate, single, trace["z"]["value"]


def test_model_log_density_equals_host_log_prob(prior, hosts):
    h_all = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), hosts)
    ours = np.asarray(_log_prob(prior, h_all))[:8]  # same shape as above: no recompilation
    h = jax.tree.map(lambda a: a[:8], h_all)
    single_sites = jax.tree.map(lambda a: a[3], _sites(h))
    plate, single, z = _model_log_densities(prior, _sites(h), single_sites)
    assert float(plate) == pytest.approx(float(ours.sum()), rel=1e-5)
    assert float(single) == pytest.approx(float(ours[3]), rel=1e-5)
    np.testing.assert_array_equal(z, h.z)


@pytest.mark.slow
def test_predictive_draws_from_the_model(prior):
    draws = Predictive(host_model, num_samples=2)(jax.random.key(6), prior, 8)
    assert draws["zm"].shape == (2, 8, 2) and draws["logsfr_ratios"].shape == (2, 8, 6)
    np.testing.assert_array_equal(draws["z"], draws["zm"][..., 0])


def test_sample_hosts_depends_only_on_galaxy_index(prior, hosts):
    """Galaxy g gets fold_in(key, g): a chunk drawn with an offset equals those rows."""
    shifted = sample_hosts(jax.random.key(20260425), N, prior, offset=100)
    for name in HostParams.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(hosts, name)[100:], getattr(shifted, name)[:-100])


@pytest.mark.slow
def test_nuts_runs_on_the_model(prior):
    from numpyro.infer import MCMC, NUTS

    mcmc = MCMC(NUTS(host_model), num_warmup=50, num_samples=50, progress_bar=False)
    mcmc.run(jax.random.key(8), prior)
    z = mcmc.get_samples()["z"]
    assert z.shape == (50,) and np.all((z >= 0.02) & (z <= 1.5))


# --- Config -------------------------------------------------------------------------------------


def test_config_parsing_and_validation():
    cfg = from_dict(HostPopulationConfig, {"type": "prospector_beta", "z_max": 1.0})
    assert isinstance(cfg, ProspectorBetaConfig) and cfg.n_z == 490 and cfg.n_logm == 400
    with pytest.raises(ConfigError, match="z_min must be below z_max"):
        from_dict(HostPopulationConfig, {"type": "prospector_beta", "z_min": 1.6})
    with pytest.raises(ConfigError, match="dz"):
        from_dict(HostPopulationConfig, {"type": "prospector_beta", "dz": 0.007})
    with pytest.raises(ConfigError, match="unknown key"):
        from_dict(HostPopulationConfig, {"type": "prospector_beta", "zmax": 1.0})
    with pytest.raises(ConfigError, match="z_max"):
        from_dict(HostPopulationConfig, {"type": "prospector_beta", "z_max": 3.5})


def test_config_build_gives_a_prior_on_its_grid():
    cfg = ProspectorBetaConfig(z_min=0.1, z_max=0.5, dz=0.01, logm_min=9.0, dlogm=0.05)
    p = cfg.build()
    assert p.config is cfg
    assert p.log_pz.shape == (40,) and p.log_pm_given_z.shape == (40, 70)
    s = redshift_mass_distribution(p).sample(jax.random.key(1), (500,))
    assert float(s[:, 0].min()) >= 0.1 and float(s[:, 0].max()) <= 0.5
    assert float(s[:, 1].min()) >= 9.0 and float(s[:, 1].max()) <= 12.5
