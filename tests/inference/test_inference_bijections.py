"""Support bijections and prior/simulator contract helpers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest

from cigars.inference import (
    NumpyroPrior,
    Simulation,
    SupportTransform,
    as_simulation,
    check_simulator,
    support_bounds,
)

LOWER = [0.02, 0.0, -np.inf, -np.inf]
UPPER = [1.5, np.inf, 4.0, np.inf]


def test_round_trip_and_support(key, x64):
    t = SupportTransform.create(LOWER, UPPER)
    u = 3.0 * jax.random.normal(key, (500, 4))
    theta, ld = t.forward(u)
    assert np.all(theta[:, 0] > 0.02) and np.all(theta[:, 0] < 1.5)
    assert np.all(theta[:, 1] > 0.0)
    assert np.all(theta[:, 2] < 4.0)
    u_back, ld_inv = t.inverse(theta)
    np.testing.assert_allclose(u_back, u, atol=1e-8)
    np.testing.assert_allclose(ld_inv, -ld, atol=1e-8)


def test_log_det_matches_autodiff(key, x64):
    t = SupportTransform.create(LOWER, UPPER)
    u = jax.random.normal(key, (4,))
    jac = jax.jacfwd(lambda v: t.forward(v)[0])(u)
    np.testing.assert_allclose(t.forward(u)[1], np.log(np.abs(np.linalg.det(jac))), atol=1e-10)


def test_values_on_the_bounds_stay_finite():
    t = SupportTransform.create([0.0, 1.0], [1.0, np.inf])
    u, ld = t.inverse(jnp.array([[0.0, 1.0], [1.0, 1.0]]))
    assert np.all(np.isfinite(u)) and np.all(np.isfinite(ld))


def test_invalid_bounds_raise():
    with pytest.raises(ValueError, match="lower < upper"):
        SupportTransform.create([1.0], [0.0])
    with pytest.raises(ValueError, match="NaN"):
        SupportTransform.create([np.nan], [0.0])
    with pytest.raises(ValueError, match="entries"):
        SupportTransform.create([0.0, 1.0], [2.0])


def test_support_bounds_from_numpyro():
    prior = NumpyroPrior(
        dist.Uniform(jnp.array([0.0, -2.0]), jnp.array([1.0, 2.0]))  # batch shape (2,)
    )
    np.testing.assert_array_equal(prior.lower, [0.0, -2.0])
    np.testing.assert_array_equal(prior.upper, [1.0, 2.0])
    lo, hi = support_bounds(dist.HalfNormal(1.0).support, 3)
    np.testing.assert_array_equal(lo, [0.0, 0.0, 0.0])
    assert np.all(np.isinf(hi))
    lo, hi = support_bounds(dist.Normal(0.0, 1.0).support, 2)
    assert np.all(np.isneginf(lo)) and np.all(np.isposinf(hi))
    with pytest.raises(ValueError, match="non-box"):
        support_bounds(dist.Dirichlet(jnp.ones(3)).support, 3)
    with pytest.raises(ValueError, match="vector"):
        NumpyroPrior(dist.Normal(jnp.zeros((2, 2)), 1.0))


def test_tuple_output_and_contract_checks():
    prior = NumpyroPrior(dist.Normal(jnp.zeros(2), 1.0))

    def sim_tuple(key, theta):
        return theta, None, jnp.ones((5, 3)), jnp.ones(5, bool)

    shapes = check_simulator(sim_tuple, prior)
    assert shapes == {"n_theta": 2, "n_max": 5, "n_local": 0, "n_feat": 3, "n_ctx": 0}
    s = as_simulation(sim_tuple(jax.random.key(0), jnp.zeros(2)))
    assert isinstance(s, Simulation) and s.context.shape == (5, 0)

    def bad_mask(key, theta):
        return theta, None, jnp.ones((5, 3)), jnp.ones(4, bool)

    with pytest.raises(ValueError, match="shape"):
        check_simulator(bad_mask, prior)

    def wrong_theta(key, theta):
        return jnp.zeros(3), None, jnp.ones((5, 3)), jnp.ones(5, bool)

    with pytest.raises(ValueError, match="theta of size 3"):
        check_simulator(wrong_theta, prior)
    with pytest.raises(ValueError, match="tuple"):
        as_simulation((1, 2))
