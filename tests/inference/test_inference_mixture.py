"""The per-object Gaussian mixture with globals-linear weights and means, against oracles.

Oracles: scipy's multivariate normal density, numerical integration of the density, and the
mixture's closed-form first two moments for draws made through ``sample_from_noise``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from scipy import stats

from cigars.inference import LinearThetaMixture


def _random_mixture(dim, components, theta_dim=3, seed=0):
    """A mixture whose (normally zero-initialised) output layer is random, so coefficients vary."""
    mix = LinearThetaMixture(
        dim, 4, theta_dim, components=components, hidden=16, depth=1, rngs=nnx.Rngs(seed)
    )
    kernel = mix.net.out.kernel
    kernel[...] = 0.3 * jax.random.normal(jax.random.key(seed + 1), kernel[...].shape)
    return mix


def _moments(p, t):
    """Closed-form mean and covariance of one object's mixture at globals ``t`` (numpy)."""
    t = jnp.asarray(t, jnp.float32)
    w = np.exp(np.asarray(p.log_weights(t), float))
    means = np.asarray(p.means + p.shift(t)[None, :], float)
    scale = np.asarray(p.scale_tril, float)
    cov_k = scale @ np.swapaxes(scale, -1, -2)
    mean = w @ means
    second = np.einsum("k,kij->ij", w, cov_k + means[:, :, None] * means[:, None, :])
    return mean, second - np.outer(mean, mean)


def test_one_component_is_the_multivariate_normal_with_a_globals_linear_mean():
    mix = _random_mixture(dim=3, components=1)
    h = jax.random.normal(jax.random.key(2), (5, 4))
    t = jax.random.normal(jax.random.key(3), (3,))
    x = jax.random.normal(jax.random.key(4), (5, 3))
    p = mix.params(h)
    got = np.asarray(mix.log_prob(x, p, t))
    for i in range(5):
        scale = np.asarray(p.scale_tril[i, 0], float)
        assert np.allclose(scale, np.tril(scale)) and np.all(np.diag(scale) > 0)
        mean = np.asarray(p.means[i, 0] + p.shift_slope[i] @ t, float)
        want = stats.multivariate_normal(mean, scale @ scale.T).logpdf(np.asarray(x[i], float))
        assert got[i] == pytest.approx(want, abs=1e-4)


def test_density_integrates_to_one():
    mix = _random_mixture(dim=2, components=3)
    p = mix.params(jnp.full((1, 4), 0.5))
    grid = np.linspace(-12.0, 12.0, 601)
    xx, yy = np.meshgrid(grid, grid, indexing="ij")
    x = jnp.asarray(np.stack([xx.ravel(), yy.ravel()], -1), jnp.float32)
    p1 = jax.tree.map(lambda a: a[0], p)
    dens = np.exp(np.asarray(mix.log_prob(x, p1, jnp.array([0.3, -1.0, 0.7])), float))
    total = dens.sum() * (grid[1] - grid[0]) ** 2
    assert total == pytest.approx(1.0, abs=2e-3)


def test_draws_have_the_mixture_moments_and_follow_the_globals():
    mix = _random_mixture(dim=3, components=4, seed=5)
    p = jax.tree.map(lambda a: a[0], mix.params(jnp.ones((1, 4))))
    n = 200_000
    for t in (np.zeros(3), np.array([1.0, -0.5, 2.0])):
        noise = jax.random.normal(jax.random.key(6), (n, 4))
        draws = np.asarray(mix.sample_from_noise(noise, p, jnp.asarray(t, jnp.float32)), float)
        mean, cov = _moments(p, t)
        sd = np.sqrt(np.diag(cov))
        assert np.all(np.abs(draws.mean(0) - mean) < 5 * sd / np.sqrt(n))
        assert np.allclose(np.cov(draws, rowvar=False), cov, atol=0.02 * sd.max() ** 2)


def test_joint_draws_are_the_picked_components_transform_of_the_noise():
    """sample_draws (S draws of n objects at once, as joint posterior draws are made) against
    numpy: the component whose cumulative softmax weight first exceeds Phi(last noise value),
    then its mean, the shared shift and its scale times the noise; sample_from_noise per
    (draw, object) must agree."""
    mix = _random_mixture(dim=3, components=4, seed=11)
    p = mix.params(jax.random.normal(jax.random.key(12), (7, 4)))
    t = 1.5 * jax.random.normal(jax.random.key(13), (5, 3))
    noise = jax.random.normal(jax.random.key(14), (5, 7, 4))
    got = np.asarray(mix.sample_draws(noise, p, t), float)
    per_object = np.asarray(mix.sample_from_noise(noise, p, t[:, None, :]), float)
    np.testing.assert_allclose(per_object, got, atol=2e-5)
    z = np.asarray(noise, float)
    picked = set()
    for s in range(5):
        for i in range(7):
            pi = jax.tree.map(lambda a, i=i: a[i], p)
            w = np.exp(np.asarray(pi.log_weights(t[s]), float))
            k = int(np.searchsorted(np.cumsum(w), stats.norm.cdf(z[s, i, -1])))
            k = min(k, len(w) - 1)
            picked.add(k)
            mean = np.asarray(pi.means[k] + pi.shift(t[s]), float)
            want = mean + np.asarray(pi.scale_tril[k], float) @ z[s, i, :3]
            np.testing.assert_allclose(got[s, i], want, atol=2e-5)
    assert len(picked) > 1  # the check saw more than one component


def test_component_weights_depend_on_the_globals():
    mix = _random_mixture(dim=2, components=3, seed=8)
    p = jax.tree.map(lambda a: a[0], mix.params(jnp.ones((1, 4))))
    w0 = np.exp(np.asarray(p.log_weights(jnp.zeros(3))))
    w1 = np.exp(np.asarray(p.log_weights(jnp.array([2.0, 0.0, -2.0]))))
    assert w0.sum() == pytest.approx(1.0, abs=1e-6) and w1.sum() == pytest.approx(1.0, abs=1e-6)
    assert np.max(np.abs(w0 - w1)) > 0.05


def test_fresh_mixture_has_distinct_unit_components():
    mix = LinearThetaMixture(2, 4, 3, components=4, hidden=8, depth=1, rngs=nnx.Rngs(0))
    p = mix.params(jnp.ones((4,)))
    assert np.allclose(np.asarray(p.scale_tril), 1.001 * np.eye(2), atol=1e-6)
    means = np.asarray(p.means)
    assert np.min(np.linalg.norm(means[:, None] - means[None], axis=-1) + 10 * np.eye(4)) > 0.05


def test_bad_dimensions_are_refused():
    with pytest.raises(ValueError, match="components >= 1"):
        LinearThetaMixture(2, 4, 3, components=0, hidden=8, depth=1, rngs=nnx.Rngs(0))
