"""Neural importance sampling: weights and diagnostics against Gaussian theory, resampling's
multiplicities, the log joint against the likelihood written out, and the reweighted posterior
of a deliberately wrong proposal against a grid posterior."""

import jax
import numpy as np
import pytest
from likelihood_cases import standardised_case
from scipy import stats

from cigars.likelihood import (
    importance_resample,
    importance_weights,
    log_joint,
    standardised_log_likelihood,
    standardised_model,
)


def _gaussian_case(mu_q, sd_q, n, seed=0, mu_p=1.0, sd_p=0.5):
    rng = np.random.default_rng(seed)
    x = rng.normal(mu_q, sd_q, n)
    log_p = stats.norm.logpdf(x, mu_p, sd_p) + 3.0  # unnormalised: the constant must not matter
    return x, importance_weights(log_p, stats.norm.logpdf(x, mu_q, sd_q))


def test_weighted_moments_and_efficiency_match_gaussian_theory():
    x, w = _gaussian_case(0.0, 1.0, 40_000)
    mean = w.weights @ x
    sd = np.sqrt(w.weights @ (x - mean) ** 2)
    assert mean == pytest.approx(1.0, abs=0.02)
    assert sd == pytest.approx(0.5, abs=0.015)
    # 1 / E_q[(p/q)^2] for two Gaussians (variance of the weights finite: 2 sd_q^2 > sd_p^2)
    s2 = 2 * 1.0**2 - 0.5**2
    second_moment = 1.0**2 / (0.5 * np.sqrt(s2)) * np.exp(1.0**2 / s2)
    assert w.efficiency == pytest.approx(1 / second_moment, abs=0.03)
    assert w.ess == pytest.approx(w.efficiency * 40_000)
    assert w.weights.sum() == pytest.approx(1.0)
    assert w.reliable and w.pareto_k < 0.5


def test_pareto_k_flags_a_proposal_narrower_than_the_target():
    # Weights of a N(0, s^2) proposal for a N(0, 1) target have a Pareto tail of shape
    # k = 1 - s^2 (0.91 here; the estimate from 8,000 draws is lower, ~0.8).
    _, narrow = _gaussian_case(0.0, 0.3, 8_000, mu_p=0.0, sd_p=1.0)
    assert narrow.pareto_k > 0.7 and not narrow.reliable
    _, wide = _gaussian_case(0.0, 2.0, 8_000, mu_p=0.0, sd_p=1.0)
    assert wide.reliable and wide.efficiency > 0.5


def test_zero_target_density_gets_zero_weight_and_bad_input_is_refused():
    log_q = np.zeros(5)
    w = importance_weights(np.array([0.0, -np.inf, 1.0, 0.5, -np.inf]), log_q)
    assert w.n_zero == 2 and w.weights[1] == 0 and w.weights[4] == 0
    assert w.weights.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"log_target\[2\] = nan"):
        importance_weights(np.array([0.0, 1.0, np.nan]), np.zeros(3))
    with pytest.raises(ValueError, match=r"log_proposal\[1\]"):
        importance_weights(np.zeros(3), np.array([0.0, np.inf, 0.0]))
    with pytest.raises(ValueError, match="zero at 3 of 3"):
        importance_weights(np.full(3, -np.inf), np.zeros(3))
    with pytest.raises(ValueError, match=r"two \(S,\) arrays"):
        importance_weights(np.zeros(3), np.zeros(4))


def test_systematic_resampling_keeps_each_draw_floor_or_ceil_times():
    rng = np.random.default_rng(3)
    log_w = rng.normal(0, 1.5, 200)
    w = importance_weights(log_w, np.zeros(200))
    draws = np.arange(200)
    out = importance_resample(jax.random.key(1), draws, w, 1000)
    counts = np.bincount(out, minlength=200)
    expected = 1000 * w.weights
    assert np.all(counts >= np.floor(expected) - 1e-9) and np.all(counts <= np.ceil(expected))
    assert counts.sum() == 1000
    assert not np.all(np.diff(out) >= 0)  # shuffled
    with pytest.raises(ValueError, match="199 draws but 200 weights"):
        importance_resample(jax.random.key(1), draws[:-1], w, 10)


def _standardised_case():
    return standardised_case({"normal": [-19.3, 0.5]})


def test_log_joint_is_prior_plus_likelihood_and_minus_inf_outside_the_support(x64):
    truth, data, prior = _standardised_case()
    f = log_joint(standardised_model, (prior, data, "flat_lambdacdm"), prior, ["M0", "Om0"])
    theta = np.array([[-19.25, 0.31], [-19.4, 0.2], [-19.3, 1.2], [-19.3, -0.1]])
    got = f(theta)
    for (m0, om), value in zip(theta[:2], got[:2], strict=True):
        ll = float(standardised_log_likelihood(truth.replace(Om0=om, M0=m0), data))
        expected = ll + stats.norm.logpdf(m0, -19.3, 0.5) + stats.uniform.logpdf(om, 0, 1)
        assert value == pytest.approx(expected, abs=1e-8)
    assert np.all(got[2:] == -np.inf)
    with pytest.raises(ValueError, match="not the model's parameters"):
        log_joint(standardised_model, (prior, data), prior, ["Om0"])
    with pytest.raises(ValueError, match=r"theta must be \(S, 2\)"):
        f(theta[:, :1])


def test_reweighting_a_wrong_proposal_gives_the_grid_posterior(x64):
    """A Gaussian proposal 1.5 sd off in Om0 and twice too wide, reweighted: the posterior."""
    truth, data, prior = _standardised_case()
    # Om0's posterior sd is ~0.044 and M0's ~0.054: 500 x 400 points give the same moments to 1e-12
    om = np.linspace(0.0005, 0.9995, 250)
    m0 = np.linspace(-19.8, -18.8, 100)
    grid = np.array([[a, b] for a in om for b in m0])
    log_post = log_joint(standardised_model, (prior, data, "flat_lambdacdm"), prior, ["Om0", "M0"])
    lp = log_post(grid)
    p = np.exp(lp - lp.max()).reshape(om.size, m0.size)
    p /= p.sum()
    om_mean = np.sum(p.sum(1) * om)
    om_sd = np.sqrt(np.sum(p.sum(1) * (om - om_mean) ** 2))
    m0_mean = np.sum(p.sum(0) * m0)

    rng = np.random.default_rng(5)
    mu_q = np.array([om_mean + 1.5 * om_sd, m0_mean])
    sd_q = np.array([2.0 * om_sd, 0.1])
    draws = rng.normal(mu_q, sd_q, (20_000, 2))
    log_q = stats.norm.logpdf(draws, mu_q, sd_q).sum(1)
    w = importance_weights(log_post(draws), log_q)
    assert w.reliable and w.n_zero > 0  # some proposals below Om0 = 0
    resampled = importance_resample(jax.random.key(0), draws, w, 4000)
    assert abs(w.weights @ draws[:, 0] - om_mean) < 0.05 * om_sd
    assert abs(resampled[:, 0].mean() - om_mean) < 0.1 * om_sd
    assert abs(draws[:, 0].mean() - om_mean) > 1.4 * om_sd  # the proposal alone is off
