"""Rational-quadratic spline: invertibility, log-det against autodiff, tails, monotonicity."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cigars.inference import rational_quadratic_spline, spline_param_count

BOUND = 3.0
_rqs = jax.jit(rational_quadratic_spline, static_argnames=("bound", "inverse"))


def _params(key, k=6, scale=2.0, shape=()):
    return scale * jax.random.normal(key, shape + (spline_param_count(k),))


@pytest.mark.parametrize("k", [2, 5, 8])
def test_inverse_undoes_forward(key, x64, k):
    k1, k2 = jax.random.split(key)
    params = _params(k1, k, shape=(200,))
    x = jax.random.uniform(k2, (200,), minval=-1.5 * BOUND, maxval=1.5 * BOUND)
    y, ld = _rqs(x, params, bound=BOUND)
    x_back, ld_inv = _rqs(y, params, bound=BOUND, inverse=True)
    np.testing.assert_allclose(x_back, x, atol=1e-9)
    np.testing.assert_allclose(ld_inv, -ld, atol=1e-9)


def test_log_det_matches_autodiff(key, x64):
    """Oracle: jax.jacfwd of the elementwise map (the Jacobian is diagonal)."""
    k1, k2 = jax.random.split(key)
    params = _params(k1, 7, shape=(50,))
    x = jax.random.uniform(k2, (50,), minval=-1.2 * BOUND, maxval=1.2 * BOUND)
    jac = jax.jit(jax.jacfwd(lambda v: rational_quadratic_spline(v, params, bound=BOUND)[0]))(x)
    _, ld = _rqs(x, params, bound=BOUND)
    np.testing.assert_allclose(ld, np.log(np.diag(jac)), atol=1e-10)
    assert np.allclose(jac - np.diag(np.diag(jac)), 0.0)
    # Inverse log-det against autodiff of the inverse map.
    y = _rqs(x, params, bound=BOUND)[0]
    jac_inv = jax.jit(
        jax.jacfwd(lambda v: rational_quadratic_spline(v, params, bound=BOUND, inverse=True)[0])
    )(y)
    _, ld_inv = _rqs(y, params, bound=BOUND, inverse=True)
    np.testing.assert_allclose(ld_inv, np.log(np.diag(jac_inv)), atol=1e-10)


def test_zero_params_is_identity_and_tails_are_identity(key):
    x = jnp.linspace(-2 * BOUND, 2 * BOUND, 101)
    y, ld = _rqs(x, jnp.zeros((spline_param_count(4),)), bound=BOUND)
    np.testing.assert_allclose(y, x, atol=1e-5)
    np.testing.assert_allclose(ld, 0.0, atol=1e-5)
    params = _params(key, 4, shape=(101,))
    y, ld = _rqs(x, params, bound=BOUND)
    outside = np.abs(np.asarray(x)) > BOUND
    np.testing.assert_array_equal(np.asarray(y)[outside], np.asarray(x)[outside])
    np.testing.assert_array_equal(np.asarray(ld)[outside], 0.0)


def test_monotone_continuous_and_maps_interval_onto_itself(key, x64):
    params = _params(key, 8, scale=3.0)
    x = jnp.linspace(-BOUND, BOUND, 20001)
    y, _ = _rqs(x, params, bound=BOUND)
    assert np.all(np.diff(np.asarray(y)) > 0)
    np.testing.assert_allclose([y[0], y[-1]], [-BOUND, BOUND], atol=1e-12)
    # Continuity across knots: no jump larger than slope bound * step.
    assert np.max(np.diff(np.asarray(y))) < 1e-2


def test_gradients_finite_wrt_params(key):
    k1, k2 = jax.random.split(key)
    params = _params(k1, 5, shape=(30,))
    x = jax.random.normal(k2, (30,)) * BOUND

    def f(p):
        y, ld = rational_quadratic_spline(x, p, bound=BOUND)
        return jnp.sum(y**2) + jnp.sum(ld)

    g = jax.jit(jax.grad(f))(params)
    assert np.all(np.isfinite(g))


def test_jit_equals_eager_and_broadcasting(key):
    k1, k2 = jax.random.split(key)
    params = _params(k1, 5)  # shared by all x
    x = jax.random.normal(k2, (4, 3))
    eager = rational_quadratic_spline(x, params, bound=BOUND)
    jitted = jax.jit(lambda a, p: rational_quadratic_spline(a, p, bound=BOUND))(x, params)
    np.testing.assert_allclose(eager[0], jitted[0], rtol=1e-6)
    assert eager[0].shape == (4, 3) and eager[1].shape == (4, 3)


def test_bad_parameter_count_raises():
    with pytest.raises(ValueError, match="3K-1"):
        rational_quadratic_spline(jnp.zeros(3), jnp.zeros((3, 6)), bound=1.0)
