"""Global parameters and their prior: sampling, log densities (scipy oracle), configs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from cigars._config import ConfigError, from_dict
from cigars.simulate import (
    CIGARS_I_PRIOR,
    CIGARS_I_TRUTH,
    REFERENCE_NAMES,
    GlobalPrior,
    PriorConfig,
    Theta,
    TruthConfig,
)


def test_theta_defaults_are_the_cigars_i_truth():
    t = CIGARS_I_TRUTH
    assert (t.Om0, t.Ode0, t.dtd_A, t.dtd_s, t.M0, t.sigma_res) == (
        0.3,
        0.7,
        -12.15,
        -1.34,
        -19.5,
        0.1,
    )
    assert (t.alpha, t.beta, t.alpha_c, t.gamma_Z, t.gamma_age) == (-0.14, 2.2, 0.0, -0.1, -0.03)
    assert (t.step_M, t.step_loc, t.H0, t.w0, t.wa) == (-0.05, 10.0, 70.0, -1.0, 0.0)


def test_theta_from_reference_names():
    t = Theta.from_mapping({"gamma_M_logzsol": -0.2, "step_M_logmass_loc": 9.5, "Om0": 0.4})
    assert (t.gamma_Z, t.step_loc, t.Om0) == (-0.2, 9.5, 0.4)
    assert set(REFERENCE_NAMES.values()) <= set(Theta.names())
    with pytest.raises(ValueError, match="unknown parameter 'omega'"):
        Theta.from_mapping({"omega": 1.0})
    with pytest.raises(ValueError, match="given twice"):
        Theta.from_mapping({"gamma_Z": 1.0, "gamma_M_logzsol": 1.0})


def scipy_logpdf(family, args, x):
    if family == "uniform":
        return stats.uniform(args[0], args[1] - args[0]).logpdf(x)
    if family == "normal":
        return stats.norm(*args).logpdf(x)
    if family == "truncated_normal":
        loc, scale, lo, hi = args
        return stats.truncnorm((lo - loc) / scale, (hi - loc) / scale, loc, scale).logpdf(x)
    return stats.loguniform(*args).logpdf(x)


def test_cigars_i_prior_samples_and_log_prob():
    prior = GlobalPrior.from_mapping(CIGARS_I_PRIOR)
    assert prior.names == tuple(n for n in Theta.names() if n in CIGARS_I_PRIOR)
    thetas = prior.sample(jax.random.key(0), (2000,))
    for name, family, args in prior.specs:
        x = np.asarray(getattr(thetas, name))
        if family == "uniform":
            assert x.min() >= args[0] and x.max() <= args[1]
        mean = 0.5 * (args[0] + args[1]) if family == "uniform" else args[0]
        assert abs(x.mean() - mean) < 5 * x.std() / np.sqrt(len(x))
    np.testing.assert_array_equal(np.asarray(thetas.H0), 70.0)  # fixed
    lp = np.asarray(prior.log_prob(thetas))
    want = sum(scipy_logpdf(f, a, np.asarray(getattr(thetas, n), float)) for n, f, a in prior.specs)
    np.testing.assert_allclose(lp, want, rtol=1e-5, atol=1e-4)


def test_log_prob_outside_support_is_minus_inf_with_finite_gradient_inside():
    prior = GlobalPrior.from_mapping(
        {
            "Om0": {"uniform": [0, 1]},
            "sigma_res": {"truncated_normal": [0.1, 0.05, 0.01, 0.2]},
            "beta": {"loguniform": [0.5, 5.0]},
        }
    )
    assert float(prior.log_prob(Theta(Om0=1.2, sigma_res=0.1, beta=2.0))) == -np.inf
    assert float(prior.log_prob(Theta(Om0=0.3, sigma_res=0.25, beta=2.0))) == -np.inf
    want = sum(
        scipy_logpdf(f, a, v) for (n, f, a), v in zip(prior.specs, (0.3, 0.1, 2.0), strict=True)
    )
    assert float(prior.log_prob(Theta(Om0=0.3, sigma_res=0.1, beta=2.0))) == pytest.approx(want)
    g = jax.grad(lambda x: prior.log_prob(prior.from_array(x)))(jnp.array([0.3, 0.12, 2.0]))
    assert np.all(np.isfinite(np.asarray(g)))


def test_array_round_trip_and_fixed_values():
    prior = GlobalPrior.from_mapping(
        {"Om0": {"uniform": [0, 1]}, "H0": {"fixed": 67.0}, "M0": {"normal": [-19.3, 0.2]}},
        fixed=Theta(beta=3.1),
    )
    assert prior.names == ("Om0", "M0")
    t = prior.sample(jax.random.key(1), (5,))
    x = prior.to_array(t)
    assert x.shape == (5, 2)
    back = prior.from_array(x)
    np.testing.assert_array_equal(np.asarray(back.Om0), np.asarray(t.Om0))
    np.testing.assert_array_equal(np.asarray(back.H0), 67.0)
    np.testing.assert_allclose(np.asarray(back.beta), 3.1, rtol=1e-6)
    with pytest.raises(ValueError, match="2 entries"):
        prior.from_array(jnp.zeros((5, 3)))
    assert isinstance(prior.distribution("M0"), type(prior.distribution("M0")))
    with pytest.raises(ValueError, match="not an inferred"):
        prior.distribution("H0")


@pytest.mark.parametrize(
    "spec,match",
    [
        ({"Om": {"uniform": [0, 1]}}, "unknown parameter"),
        ({"Om0": {"gaussian": [0, 1]}}, "unknown distribution"),
        ({"Om0": {"uniform": [1, 0]}}, "low < high"),
        ({"Om0": {"normal": [0, -1]}}, "scale > 0"),
        ({"Om0": {"uniform": [0, 1, 2]}}, "takes 2"),
        ({"Om0": [0, 1]}, "one-key mapping"),
        ({"Om0": {"loguniform": [0, 1]}}, "low > 0"),
    ],
)
def test_invalid_prior_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        GlobalPrior.from_mapping(spec)


def test_prior_and_truth_configs():
    cfg = from_dict(
        PriorConfig, {"params": {"Om0": {"uniform": [0.1, 0.5]}, "w0": {"fixed": -0.9}}}
    )
    prior = cfg.build()
    assert prior.names == ("Om0",) and prior.fixed.w0 == -0.9
    assert (
        from_dict(PriorConfig, {}).build().names == GlobalPrior.from_mapping(CIGARS_I_PRIOR).names
    )
    with pytest.raises(ConfigError, match="unknown parameter"):
        from_dict(PriorConfig, {"params": {"Omega": {"uniform": [0, 1]}}})
    truth = from_dict(TruthConfig, {"values": {"Om0": 0.31, "gamma_M_age": -0.02}}).build()
    assert truth.Om0 == 0.31 and truth.gamma_age == -0.02 and truth.beta == 2.2
    with pytest.raises(ConfigError, match="unknown parameter"):
        from_dict(TruthConfig, {"values": {"Omega": 0.31}})
