"""The SN likelihood against independent oracles: scipy Gaussians built from the generative
equations, adaptive quadrature over the SN dust, and the simulator's own stages."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from cigars.cosmology import Cosmology, distance_modulus
from cigars.likelihood import SNData, SNModel, distance_modulus_hel, sn_log_likelihood
from cigars.simulate import Theta
from cigars.sn import IndependentSNDust, SampleIntrinsic, TiedSNDust
from cigars.survey import ObserveSupernovae

THETA = Theta(alpha_c=0.012, Om0=0.31, Ode0=0.72)
_ll = jax.jit(sn_log_likelihood)


def _data(**extra):
    cols = dict(
        z_cos=[0.05, 0.3, 0.52],
        z_hel=[0.051, 0.299, 0.52],
        logmass=[10.5, 9.5, 10.01],
        logzsol=[0.1, -0.5, -1.2],
        age_gyr=[1.0, 3.0, 0.2],
        dust2=[0.3, 0.05, 0.8],
        m=[17.4, 22.2, 23.9],
        x1=[0.5, -1.0, 1.7],
        c=[0.05, 0.2, -0.1],
        var_m=[0.02**2, 0.05**2, 0.08**2],
        var_x1=[0.04, 0.1, 0.3],
        var_c=[0.001, 0.002, 0.004],
    )
    cols.update(extra)
    return SNData.from_arrays(**cols)


def _oracle_gaussian(theta, data, i, model_cosmology="lambdacdm", w_row=None):
    """Mean and covariance of (m_obs, x1_obs, c_obs[, W-row]) given zero dust, from the
    generative equations written out independently of the package."""
    cosmo = Cosmology(H0=theta.H0, Om0=theta.Om0, Ode0=theta.Ode0)
    z, zh = float(data.z_cos[i]), float(data.z_hel[i])
    mu = float(distance_modulus(cosmo, z)) + 5 * np.log10((1 + zh) / (1 + z))
    dm = (
        theta.gamma_Z * float(data.logzsol[i])
        + theta.gamma_age * float(data.age_gyr[i])
        + theta.step_M * (float(data.logmass[i]) > theta.step_loc)
    )
    # latent (x, c, M_int) = mean + A @ (sx e1, sc e2, s0 e3)
    a_mat = np.array(
        [
            [1, 0, 0],
            [theta.alpha_c, 1, 0],
            [theta.alpha + theta.beta * theta.alpha_c, theta.beta, 1],
        ]
    )
    cov_lat = a_mat @ np.diag([1.0, 0.1**2, theta.sigma_res**2]) @ a_mat.T
    mean_lat = np.array([0.0, 0.0, theta.M0 + dm])
    h = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]], float)  # (m, x, c) <- (x, c, M)
    if w_row is not None:
        h = np.vstack([h, [0, 0, 1]])
    mean = h @ mean_lat + np.r_[mu, 0, 0, [mu] if w_row is not None else []]
    cov = h @ cov_lat @ h.T
    cov[:3, :3] += np.asarray(data.cov[i])
    if w_row is not None:
        cov[3, 3] += w_row**2
    return mean, cov


def test_no_dust_is_the_analytic_gaussian(x64):
    data = _data()
    model = SNModel.from_components(SampleIntrinsic(), None, None, "lambdacdm")
    ll = np.asarray(_ll(model, THETA, data))
    for i in range(data.n):
        mean, cov = _oracle_gaussian(THETA, data, i)
        ref = stats.multivariate_normal(mean, cov).logpdf(np.asarray(data.y[i]))
        assert ll[i] == pytest.approx(ref, abs=1e-9)


def test_var_m_term_is_the_lognormal_density(x64):
    data = _data()
    obs = ObserveSupernovae()
    model = SNModel.from_components(SampleIntrinsic(), None, obs, "lambdacdm")
    ll = np.asarray(_ll(model, THETA, data))
    s, p, sw = obs.var_m_slope, obs.var_m_pivot, obs.var_m_sd
    # p(y, ln W) = int N(y | m, ...) N(ln W; s (m - p), sw) dm, by quadrature over the true m
    for i in range(data.n):
        mean, cov = _oracle_gaussian(THETA, data, i)
        lnw = float(data.ln_var_m[i])
        sd_m = np.sqrt(cov[0, 0] - float(data.cov[i, 0, 0]))

        def integrand(m, i=i, mean=mean, cov=cov, lnw=lnw, sd_m=sd_m):
            # condition (m_obs, x_obs, c_obs) on the true m: Gaussian conditioning by hand
            c_ym = cov[:, 0].copy()
            c_ym[0] -= float(data.cov[i, 0, 0])
            cond_mean = mean + c_ym / sd_m**2 * (m - mean[0])
            cond_cov = cov - np.outer(c_ym, c_ym) / sd_m**2
            return (
                stats.norm(mean[0], sd_m).pdf(m)
                * stats.multivariate_normal(cond_mean, cond_cov).pdf(np.asarray(data.y[i]))
                * stats.norm(s * (m - p), sw).pdf(lnw)
            )

        val, _ = integrate.quad(integrand, mean[0] - 3, mean[0] + 3, epsabs=0, epsrel=1e-11)
        assert ll[i] == pytest.approx(np.log(val), abs=1e-6)


def test_exponential_dust_against_adaptive_quadrature(x64):
    data = _data()
    dust = IndependentSNDust()
    model = SNModel.from_components(SampleIntrinsic(), dust, None, "lambdacdm")
    ll = np.asarray(_ll(model, THETA, data))
    rv_dist = stats.truncnorm(
        (dust.rv_min - dust.rv_mean) / dust.rv_sd, np.inf, dust.rv_mean, dust.rv_sd
    )
    for i in range(data.n):
        mean, cov = _oracle_gaussian(THETA, data, i)
        y = np.asarray(data.y[i])

        def dens(av, rv, mean=mean, cov=cov, y=y):
            shift = np.array([av * (1 + 1 / rv), 0.0, av / rv])
            return (
                stats.multivariate_normal(mean + shift, cov).pdf(y)
                * rv_dist.pdf(rv)
                * np.exp(-av / dust.tau_av)
                / dust.tau_av
            )

        val, _ = integrate.dblquad(dens, 1.2, 6.0, 0.0, 1.5, epsabs=0, epsrel=1e-7)
        # R_V Gauss-Hermite nodes ignore the truncated 1.6e-4 of the R_V mass
        assert ll[i] == pytest.approx(np.log(val), abs=5e-4)


def test_tied_dust_shifts_by_the_host_extinction(x64):
    data = _data()
    dust = TiedSNDust(scale=0.5)
    model = SNModel.from_components(SampleIntrinsic(), dust, None, "lambdacdm", n_rv=9)
    ll = np.asarray(_ll(model, THETA, data))
    rv_dist = stats.truncnorm(
        (dust.rv_min - dust.rv_mean) / dust.rv_sd, np.inf, dust.rv_mean, dust.rv_sd
    )
    for i in range(data.n):
        mean, cov = _oracle_gaussian(THETA, data, i)
        av = 0.5 * 1.0857362047581294 * float(data.dust2[i])
        y = np.asarray(data.y[i])

        def dens(rv, mean=mean, cov=cov, y=y, av=av):
            shift = np.array([av * (1 + 1 / rv), 0.0, av / rv])
            return stats.multivariate_normal(mean + shift, cov).pdf(y) * rv_dist.pdf(rv)

        val, _ = integrate.quad(dens, 1.2, 8.0, epsabs=0, epsrel=1e-10)
        assert ll[i] == pytest.approx(np.log(val), abs=5e-4)


def test_distance_modulus_uses_heliocentric_one_plus_z(x64):
    cosmo_theta = Theta(Om0=0.3, Ode0=0.7)
    z = jnp.array([0.1, 0.5])
    mu_cos = distance_modulus(Cosmology(H0=70.0, Om0=0.3, Ode0=0.7), z)
    mu = distance_modulus_hel(cosmo_theta, z, z * 1.01)
    np.testing.assert_allclose(mu - mu_cos, 5 * np.log10((1 + 1.01 * z) / (1 + z)), atol=1e-12)


def test_gradients_are_finite(x64):
    data = _data()
    model = SNModel.from_components(SampleIntrinsic(), IndependentSNDust(), ObserveSupernovae())
    g = jax.jit(jax.grad(lambda th: jnp.sum(sn_log_likelihood(model, th, data))))(THETA)
    assert all(np.isfinite(float(v)) for v in jax.tree_util.tree_leaves(g))


def test_bad_input_names_row_and_column():
    with pytest.raises(ValueError, match="row 1, column 'y'"):
        _data(m=[17.4, np.nan, 23.9])
    with pytest.raises(ValueError, match="missing column 'x1'"):
        SNData.from_arrays(z_cos=[0.1], m=[20.0], c=[0.0], var_m=[0.1], var_x1=[1], var_c=[1])
    with pytest.raises(ValueError, match="row 0: the variance of c must be positive"):
        _data(var_c=[-1.0, 0.002, 0.004])


def test_magnitude_dependent_stretch_or_colour_errors_are_refused():
    """Their variances would carry information on m that the likelihood does not model."""
    for kw in ({"var_x1_slope": 0.7}, {"var_c_slope": 0.9}):
        with pytest.raises(ValueError, match="var_x1_slope, survey.var_c_slope"):
            SNModel.from_components(SampleIntrinsic(), None, ObserveSupernovae(**kw))
