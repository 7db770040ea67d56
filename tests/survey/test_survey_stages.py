"""Survey stages: distances vs astropy, peculiar velocities, host detection and photometry,
SN observables, selection and spectroscopy (statistical and exact checks)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
from astropy import cosmology as apc
from scipy import stats

from cigars.simulate import Theta, toy_host_table
from cigars.survey import (
    C_KM_S,
    LSST_DEPTHS,
    ApplySelection,
    Catalogue,
    ComputeDistances,
    DepthHostNoise,
    DetectHosts,
    FixedHostNoise,
    FractionSpectroscopy,
    LogisticSelection,
    MagLimitSpectroscopy,
    ObserveHosts,
    ObserveRedshifts,
    ObserveSpectra,
    ObserveSupernovae,
    cosmology_from_theta,
    per_host_sample,
    per_host_standard_normal,
)

N = 4000


def astropy_cosmo(theta, model):
    if model == "lambdacdm":
        return apc.LambdaCDM(H0=theta.H0, Om0=theta.Om0, Ode0=theta.Ode0, Tcmb0=0)
    if model == "flat_lambdacdm":
        return apc.FlatLambdaCDM(H0=theta.H0, Om0=theta.Om0, Tcmb0=0)
    if model == "w0wacdm":
        return apc.w0waCDM(
            H0=theta.H0, Om0=theta.Om0, Ode0=theta.Ode0, w0=theta.w0, wa=theta.wa, Tcmb0=0
        )
    return apc.Flatw0waCDM(H0=theta.H0, Om0=theta.Om0, w0=theta.w0, wa=theta.wa, Tcmb0=0)


def slots_at(z, host=None):
    n = len(z)
    host = np.arange(n) if host is None else host
    return Catalogue.empty(n, 6).replace(
        z_cos=jnp.asarray(z, jnp.float32),
        host_index=jnp.asarray(host, jnp.int32),
        valid=jnp.ones(n, bool),
        mask=jnp.ones(n, bool),
    )


THETAS = {
    "lambdacdm": Theta(Om0=0.25, Ode0=0.85),
    "flat_lambdacdm": Theta(Om0=0.31, Ode0=0.123),  # Ode0 ignored when flat
    "w0wacdm": Theta(Om0=0.3, Ode0=0.6, w0=-0.8, wa=0.4),
    "flat_w0wacdm": Theta(Om0=0.35, w0=-1.2, wa=-0.5, H0=67.0),
}


@pytest.mark.parametrize("model", sorted(THETAS))
def test_distance_moduli_match_astropy(model):
    theta = THETAS[model]
    z = np.linspace(0.01, 1.5, 50)
    stages = (ComputeDistances(z_max=1.6, model=model), ObserveRedshifts(0.0, 0.0))

    @jax.jit
    def run(key, cat):
        for k, s in zip(jax.random.split(key, 2), stages, strict=True):
            cat = s(k, theta, cat)
        return cat

    out = run(jax.random.key(0), slots_at(z))
    want = astropy_cosmo(theta, model).distmod(z).value
    np.testing.assert_allclose(np.asarray(out.mu), want, atol=2e-4)
    np.testing.assert_array_equal(np.asarray(out.z_hel), np.asarray(out.z_cos))


def test_cosmology_from_theta_rejects_unknown_model():
    with pytest.raises(ValueError, match="model"):
        cosmology_from_theta(Theta(), "wcdm")
    with pytest.raises(ValueError, match="model"):
        ComputeDistances(model="open")


@pytest.fixture(scope="module")
def redshifts():
    """Peculiar velocities and dipole on slots where every host appears twice."""
    z = np.random.default_rng(0).uniform(0.02, 1.2, N // 2)
    host = np.arange(N // 2)
    cat = slots_at(np.concatenate([z, z]), np.concatenate([host, host]))
    theta = Theta()
    dist_stage = ComputeDistances(z_max=1.3)
    obs = ObserveRedshifts(sigma_v_kms=300.0)

    @jax.jit
    def run(key, cat):
        k1, k2 = jax.random.split(key)
        return obs(k2, theta, dist_stage(k1, theta, cat))

    return run(jax.random.key(1), cat), theta


def test_peculiar_velocity_redshift_relations(redshifts):
    out, theta = redshifts
    z = np.asarray(out.z_cos, float)
    v = np.asarray(out.v_pec_kms, float)
    cosd = np.asarray(out.cos_dipole, float)
    z_cmb = (1 + z) * (1 + v / C_KM_S) - 1
    np.testing.assert_allclose(np.asarray(out.z_cmb), z_cmb, atol=2e-6)
    z_hel = (1 + z_cmb) / (1 + 369.82 * cosd / C_KM_S) - 1
    np.testing.assert_allclose(np.asarray(out.z_hel), z_hel, atol=2e-6)
    half = N // 2
    np.testing.assert_array_equal(v[:half], v[half:])  # same host, same velocity
    np.testing.assert_array_equal(cosd[:half], cosd[half:])
    assert stats.kstest(v[:half] / 300.0, "norm").pvalue > 1e-3
    assert stats.kstest(cosd[:half], stats.uniform(-1, 2).cdf).pvalue > 1e-3
    # Pantheon+ convention: mu = 5 log10((1 + z_hel) D_M(z_cos) / 10 pc)
    dm = astropy_cosmo(theta, "lambdacdm").comoving_transverse_distance(z).value
    want = 5 * np.log10((1 + np.asarray(out.z_hel, float)) * dm) + 25
    np.testing.assert_allclose(np.asarray(out.mu), want, atol=2e-4)


def test_cosmological_mu_convention_ignores_velocities(redshifts):
    out, theta = redshifts
    stage = ObserveRedshifts(300.0, mu_convention="cosmological")
    cat = jax.jit(stage.__call__)(jax.random.key(2), theta, out)
    want = astropy_cosmo(theta, "lambdacdm").distmod(np.asarray(out.z_cos, float)).value
    np.testing.assert_allclose(np.asarray(cat.mu), want, atol=2e-4)


def test_observe_redshifts_validates():
    with pytest.raises(ValueError, match="sigma_v_kms"):
        ObserveRedshifts(sigma_v_kms=-1.0)
    with pytest.raises(ValueError, match="mu_convention"):
        ObserveRedshifts(mu_convention="exact")


# --- hosts -------------------------------------------------------------------------------


@jax.jit
def distances(theta, cat):
    return ComputeDistances(z_max=1.51)(None, theta, cat)


@pytest.fixture(scope="module")
def bank():
    return toy_host_table(20_000, seed=3)


EVOLVING = Theta(Om0=0.4, Ode0=0.6, host_dmag0=0.3, host_dmag1=-1.2, host_dmag2=0.5)


@pytest.mark.parametrize(
    "theta, evolution",
    [
        (Theta(), False),
        (Theta(Om0=0.1, Ode0=0.2), False),
        (Theta(Om0=0.9, Ode0=0.3), False),
        (EVOLVING, True),  # host luminosity evolution: magnitudes offset by delta(z)
    ],
)
def test_host_detection_matches_brute_force(bank, theta, evolution):
    depths = LSST_DEPTHS
    stage = DetectHosts.from_hosts(bank, depths, z_max=1.5).replace(evolution=evolution)
    cat = distances(theta, Catalogue.empty(8, 6))
    out = jax.jit(stage.__call__)(None, theta, cat)
    z = np.asarray(bank.z, float)
    dm = astropy_cosmo(theta, "lambdacdm").comoving_transverse_distance(z).value
    delta = 0.3 - 1.2 * z + 0.5 * z**2 if evolution else 0.0
    mags = np.asarray(bank.abs_mag, float) + (5 * np.log10(dm) + 25 + delta)[:, None]
    margin = np.max(mags - np.asarray(depths), axis=1)
    want = margin < 0
    got = np.asarray(out.host_detected)
    close = np.abs(margin) < 1e-4  # float32 rounding at the threshold
    np.testing.assert_array_equal(got[~close], want[~close])
    assert int(out.n_hosts_detected) == got.sum()
    assert 0.01 < got.mean() < 0.99
    if evolution:  # the offset matters (it changes which galaxies are detected), only when asked
        plain = stage.replace(evolution=False)
        assert np.sum(np.asarray(plain(None, theta, cat).host_detected) != got) > 100


def test_pruning_check_sees_luminosity_evolution(bank):
    reference = Theta()
    stage, _ = DetectHosts.pruned(
        bank, LSST_DEPTHS, 0.9, cosmology_from_theta(reference, "lambdacdm"), z_max=1.5
    )
    stage = stage.replace(evolution=True)
    cat = distances(reference, Catalogue.empty(8, 6))
    # Fainter hosts keep the bound; hosts 0.3 mag brighter are seen 15% farther, beyond it.
    for dmag0, violated in ((0.3, False), (-0.3, True)):
        theta = reference.replace(host_dmag0=dmag0)
        assert bool(stage(None, theta, cat).prune_violated) is violated


def test_host_detection_rejects_bad_inputs(bank):
    with pytest.raises(ValueError, match="depths"):
        DetectHosts.from_hosts(bank, (25.0, 26.0))
    with pytest.raises(ValueError, match="covering"):
        DetectHosts.from_hosts(bank, LSST_DEPTHS, z_max=0.5)


def test_host_photometry_and_noise(bank):
    theta = Theta()
    half = N // 2
    host = np.random.default_rng(4).integers(0, bank.n_host, half)
    host = np.concatenate([host, host])
    cat = slots_at(np.asarray(bank.z)[host], host)
    cat = distances(theta, cat)
    stage = ObserveHosts(abs_mag=bank.abs_mag, noise=FixedHostNoise(0.01))
    out = jax.jit(stage.__call__)(jax.random.key(6), theta, cat)
    dm = (
        astropy_cosmo(theta, "lambdacdm")
        .comoving_transverse_distance(np.asarray(bank.z, float)[host])
        .value
    )
    want = np.asarray(bank.abs_mag, float)[host] + 5 * np.log10(dm)[:, None] + 25
    np.testing.assert_allclose(np.asarray(out.host_mag), want, atol=2e-4)
    np.testing.assert_allclose(np.asarray(out.host_mag_err), 0.01)
    obs = np.asarray(out.host_mag_obs)
    np.testing.assert_array_equal(obs[:half], obs[half:])  # one host, one photometry
    pulls = ((obs - np.asarray(out.host_mag)) / 0.01)[:half].ravel()
    assert stats.kstest(pulls, "norm").pvalue > 1e-3
    # Host luminosity evolution: every band offset by delta(z_cos), only when asked.
    evolving = EVOLVING.replace(Om0=0.3, Ode0=0.7)
    z = np.asarray(bank.z, float)[host]
    delta = 0.3 - 1.2 * z + 0.5 * z**2
    for evolution, offset in ((True, delta), (False, 0.0)):
        stage = ObserveHosts(abs_mag=bank.abs_mag, noise=FixedHostNoise(0.01), evolution=evolution)
        out = jax.jit(stage.__call__)(jax.random.key(6), evolving, cat)
        np.testing.assert_allclose(np.asarray(out.host_mag), want + np.c_[offset], atol=2e-4)


def test_depth_noise_formula():
    noise = DepthHostNoise(depths=(25.0, 26.0), snr_at_depth=5.0, floor=0.005)
    mag = jnp.array([[25.0, 26.0], [22.5, 21.0]])
    got = np.asarray(noise.sigma(mag))
    k = 2.5 / math.log(10)
    snr = 5.0 * 10 ** (-0.4 * (np.array([[25.0, 26.0], [22.5, 21.0]]) - [25.0, 26.0]))
    np.testing.assert_allclose(got, np.sqrt((k / snr) ** 2 + 0.005**2), rtol=1e-6)
    np.testing.assert_allclose(got[0], math.hypot(k / 5, 0.005), rtol=1e-6)
    with pytest.raises(ValueError, match="2 depths for 3 bands"):
        noise.sigma(jnp.zeros((1, 3)))


# --- SN observables, selection, spectroscopy ---------------------------------------------


@pytest.mark.parametrize("slopes", [(0.0, 0.0), (0.76, -0.5)])
def test_sn_observables_statistics(slopes):
    """ln-variances normal about their (magnitude-dependent) means; pulls standard normal."""
    rng = np.random.default_rng(7)
    n = 100_000
    cat = Catalogue.empty(n, 6).replace(
        M=jnp.asarray(rng.normal(-19.3, 0.3, n), jnp.float32),
        mu=jnp.asarray(rng.uniform(36, 44, n), jnp.float32),
        x1_int=jnp.asarray(rng.normal(0, 1, n), jnp.float32),
        c_ext=jnp.asarray(rng.normal(0, 0.1, n), jnp.float32),
    )
    s_x, s_c = slopes
    stage = ObserveSupernovae(var_x1_slope=s_x, var_c_slope=s_c, var_slope_pivot=21.0)
    out = jax.jit(stage.__call__)(jax.random.key(8), Theta(), cat)
    m = np.asarray(out.m_true, float)
    np.testing.assert_allclose(m, np.asarray(cat.M, float) + np.asarray(cat.mu, float), atol=1e-5)
    for var, mean, sd in (
        (out.var_m, 0.2 * (m - 56.0), 1.2),
        (out.var_x1, -3.0 + s_x * (m - 21.0), 1.0),
        (out.var_c, -7.0 + s_c * (m - 21.0), 0.6),
    ):
        z = (np.log(np.asarray(var, float)) - mean) / sd
        assert stats.kstest(z, "norm").pvalue > 1e-3
    for obs, true, var in (
        (out.m_obs, out.m_true, out.var_m),
        (out.x1_obs, cat.x1_int, out.var_x1),
        (out.c_obs, cat.c_ext, out.var_c),
    ):
        pull = (np.asarray(obs, float) - np.asarray(true, float)) / np.sqrt(np.asarray(var, float))
        assert stats.kstest(pull, "norm").pvalue > 1e-3


def test_selection_keeps_fraction_p_and_never_resurrects():
    n = 200_000
    rng = np.random.default_rng(9)
    z = rng.uniform(0.05, 1.0, n)
    m = rng.uniform(20.0, 25.0, n)
    prior_mask = rng.uniform(size=n) < 0.8
    cat = Catalogue.empty(n, 6).replace(
        z_hel=jnp.asarray(z, jnp.float32),
        m_obs=jnp.asarray(m, jnp.float32),
        mask=jnp.asarray(prior_mask),
        valid=jnp.asarray(prior_mask),
    )
    sel = LogisticSelection()
    out = jax.jit(ApplySelection(selection=sel).__call__)(jax.random.key(10), Theta(), cat)
    p = 1.0 / (1.0 + np.exp((m - (24.32 - 0.344 * z - 1.295 * z**2)) / 0.216))
    np.testing.assert_allclose(np.asarray(out.p_det), p, atol=1e-5)
    kept = np.asarray(out.mask)
    assert not np.any(kept & ~prior_mask), "selection resurrected a masked slot"
    np.testing.assert_array_equal(kept, prior_mask & np.asarray(out.detected))
    # binomial check in bins of p, among the slots that were in the mask
    edges = np.linspace(0, 1, 11)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel_bin = prior_mask & (p >= lo) & (p < hi)
        expected = p[sel_bin].sum()
        var = (p[sel_bin] * (1 - p[sel_bin])).sum()
        assert abs(kept[sel_bin].sum() - expected) < 5 * math.sqrt(var) + 1


def test_spectroscopic_subsample():
    n = 50_000
    rng = np.random.default_rng(11)
    z = rng.uniform(0.05, 1.0, n)
    m = rng.uniform(18.0, 24.0, n)
    mask = rng.uniform(size=n) < 0.5
    cat = Catalogue.empty(n, 6).replace(
        z_hel=jnp.asarray(z, jnp.float32), m_obs=jnp.asarray(m, jnp.float32), mask=jnp.asarray(mask)
    )
    stage = ObserveSpectra(
        spectroscopy=MagLimitSpectroscopy(m_lim=21.0, fraction=0.5), sigma_z=1e-3
    )
    out = jax.jit(stage.__call__)(jax.random.key(12), Theta(), cat)
    has = np.asarray(out.has_spec)
    assert not np.any(has & ~mask) and not np.any(has & (m >= 21.0))
    eligible = mask & (m < 21.0)
    k = has[eligible].sum()
    assert abs(k - 0.5 * eligible.sum()) < 5 * math.sqrt(0.25 * eligible.sum())
    pull = (np.asarray(out.z_spec, float) - z) / (1e-3 * (1 + z))
    assert stats.kstest(pull, "norm").pvalue > 1e-3

    frac = ObserveSpectra(spectroscopy=FractionSpectroscopy(fraction=0.2))
    out = jax.jit(frac.__call__)(jax.random.key(13), Theta(), cat)
    has = np.asarray(out.has_spec)
    assert not np.any(has & ~mask)
    assert abs(has.sum() - 0.2 * mask.sum()) < 5 * math.sqrt(0.16 * mask.sum())
    rows = out.replace(mask=out.mask & (jnp.arange(n) < 2000)).to_numpy(("z_spec", "has_spec"))
    assert np.all(np.isnan(rows["z_spec"][~rows["has_spec"]]))
    assert np.all(np.isfinite(rows["z_spec"][rows["has_spec"]]))


def test_spectroscopy_validates():
    with pytest.raises(ValueError, match="fraction"):
        FractionSpectroscopy(fraction=1.5)
    with pytest.raises(ValueError, match="fraction"):
        MagLimitSpectroscopy(m_lim=20.0, fraction=-0.1)
    with pytest.raises(ValueError, match="sigma_z"):
        ObserveSpectra(spectroscopy=FractionSpectroscopy(fraction=0.1), sigma_z=-1.0)


@pytest.mark.parametrize("n_host", [None, 300, 50_000])  # per slot (twice), per galaxy
def test_per_host_draws_are_shared_within_hosts_and_independent_between(n_host):
    """Both ways of drawing per-host numbers (per galaxy, per slot) give the same law."""
    n_distinct = 300 if n_host == 300 else 2000
    host = np.random.default_rng(8).permutation(n_distinct)
    slots = np.concatenate([host, host[::-1], host])  # each host in three slots
    eps = np.asarray(
        jax.jit(per_host_standard_normal, static_argnums=(2, 3, 4))(
            jax.random.key(3), jnp.asarray(slots), 6, jnp.float32, n_host
        )
    )
    assert eps.shape == (slots.size, 6) and eps.dtype == np.float32
    first, second, third = np.split(eps, 3)
    np.testing.assert_array_equal(first, second[::-1])
    np.testing.assert_array_equal(first, third)
    assert stats.kstest(first.ravel(), "norm").pvalue > 1e-3
    assert np.max(np.abs(np.corrcoef(first.T) - np.eye(6))) < 5 / np.sqrt(n_distinct)
    u = np.asarray(
        per_host_sample(
            jax.random.key(4), jnp.asarray(slots), dist.Uniform(-1.0, 1.0), n_host=n_host
        )
    )
    np.testing.assert_array_equal(u[: slots.size // 3], u[2 * slots.size // 3 :])
    assert stats.kstest(u[:n_distinct], stats.uniform(-1, 2).cdf).pvalue > 1e-3
