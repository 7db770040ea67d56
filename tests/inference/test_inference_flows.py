"""Conditional spline flow: invertibility, normalisation, log-det vs autodiff, dim 1."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from cigars.inference import ConditionalFlow


def _flow(dim, context_dim, key, scale=0.5, **kw):
    """A flow with every parameter random (far from the identity), built inside one jit."""

    @nnx.jit
    def make(key):
        k_init, k_rand = jax.random.split(key)
        flow = ConditionalFlow(dim, context_dim, rngs=nnx.Rngs(k_init), **kw)
        graphdef, state = nnx.split(flow)
        leaves, treedef = jax.tree.flatten(state)
        keys = jax.random.split(k_rand, len(leaves))
        leaves = [
            scale * jax.random.normal(k, x.shape, x.dtype)
            for k, x in zip(keys, leaves, strict=True)
        ]
        return nnx.merge(graphdef, jax.tree.unflatten(treedef, leaves))

    return make(key)


@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("dim", [1, 2, 5])
def test_round_trip_and_log_det_vs_autodiff(key, x64, dim, affine):
    k1, k2, k3 = jax.random.split(key, 3)
    kw = dict(num_layers=3, hidden=16, depth=1, num_bins=5, bound=3.0, affine=affine)
    flow = _flow(dim, 3, k1, **kw)
    x = 2.0 * jax.random.normal(k2, (dim,))
    c = jax.random.normal(k3, (3,))
    z, ld = jax.jit(flow.to_base)(x, c)
    np.testing.assert_allclose(jax.jit(flow.from_base)(z, c), x, atol=1e-8)
    jac = jax.jit(jax.jacfwd(lambda v: flow.to_base(v, c)[0]))(x)
    np.testing.assert_allclose(ld, np.linalg.slogdet(np.asarray(jac))[1], atol=1e-8)
    assert not np.allclose(z, x)  # the randomised flow is not the identity


@pytest.mark.parametrize("affine", [False, True])
def test_one_dimensional_density_integrates_to_one(key, x64, affine):
    kw = dict(num_layers=2, hidden=16, depth=1, num_bins=6, bound=3.0, affine=affine)
    flow = _flow(1, 2, key, **kw)
    grid = jnp.linspace(-40, 40, 400001)[:, None]
    log_prob = jax.jit(flow.log_prob)
    for c in (jnp.array([0.3, -1.0]), jnp.array([2.0, 0.5])):
        p = jnp.exp(log_prob(grid, c))
        np.testing.assert_allclose(jnp.trapezoid(p, grid[:, 0]), 1.0, atol=1e-4)


def test_two_dimensional_density_integrates_to_one(key, x64):
    flow = _flow(2, 1, key, scale=0.3, num_layers=2, hidden=8, depth=1, num_bins=4, bound=2.0)
    g = jnp.linspace(-12, 12, 1201)
    xx, yy = jnp.meshgrid(g, g, indexing="ij")
    pts = jnp.stack([xx, yy], -1)
    p = jnp.exp(jax.jit(flow.log_prob)(pts, jnp.array([0.7])))
    total = jnp.trapezoid(jnp.trapezoid(p, g, axis=1), g)
    np.testing.assert_allclose(total, 1.0, atol=2e-3)


def test_sampling_matches_density(key):
    """Samples pushed back to the base are standard normal (moments)."""
    flow = _flow(2, 2, key, scale=0.3, num_layers=3, hidden=16, depth=1)
    c = jnp.array([0.5, -0.5])
    x = jax.jit(flow.sample, static_argnums=2)(jax.random.key(7), c, 20000)
    assert x.shape == (20000, 2)
    z, _ = jax.jit(flow.to_base)(x, c)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=0.03)
    np.testing.assert_allclose(np.cov(np.asarray(z).T), np.eye(2), atol=0.05)


def test_context_matters_and_batching(key):
    flow = _flow(2, 2, key, num_layers=2, hidden=8, depth=1)
    x = jnp.ones((3, 2))
    log_prob = jax.jit(flow.log_prob)
    lp_a = log_prob(x, jnp.zeros((3, 2)))
    lp_b = log_prob(x, jnp.ones((3, 2)))
    assert lp_a.shape == (3,)
    assert not np.allclose(lp_a, lp_b)
    # Batched evaluation equals a loop (and vmap); samples get shape (n, *batch, dim).
    ctx = jax.random.normal(key, (3, 2))
    batched = log_prob(x, ctx)
    looped = jnp.stack([log_prob(x[i : i + 1], ctx[i : i + 1])[0] for i in range(3)])
    np.testing.assert_allclose(jax.vmap(flow.log_prob)(x, ctx), batched, rtol=1e-5)
    np.testing.assert_allclose(batched, looped, rtol=1e-5)
    assert flow.sample(key, ctx, 4).shape == (4, 3, 2)


def test_initial_flow_is_standard_normal():
    flow = ConditionalFlow(3, 2, num_layers=2, hidden=8, depth=1, rngs=nnx.Rngs(0))
    x = jnp.array([0.3, -1.2, 2.0])
    expected = -0.5 * jnp.sum(x**2) - 1.5 * jnp.log(2 * jnp.pi)
    np.testing.assert_allclose(jax.jit(flow.log_prob)(x, jnp.zeros(2)), expected, rtol=1e-5)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="dim"):
        ConditionalFlow(0, 2, rngs=nnx.Rngs(0))
    flow = ConditionalFlow(2, 2, num_layers=1, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="context"):
        flow.log_prob(jnp.zeros(2), jnp.zeros(3))
    with pytest.raises(ValueError, match="last axis 2"):
        flow.log_prob(jnp.zeros(3), jnp.zeros(2))


@pytest.mark.long
def test_context_in_parts_equals_the_concatenated_context(key, x64):
    """A tuple of broadcastable context parts gives the flow of their concatenation (float64:
    only the order of the first layer's sums differs)."""
    flow = _flow(5, 9, key, hidden=16, depth=2, num_layers=3)
    k = jax.random.split(key, 4)
    per_object = jax.random.normal(k[0], (6, 4))  # shared by every draw
    per_draw = jax.random.normal(k[1], (3, 1, 2))
    shared = jax.random.normal(k[2], (1, 3))
    parts = (per_object, per_draw, shared)
    full = jnp.concatenate([jnp.broadcast_to(p, (3, 6, p.shape[-1])) for p in parts], -1)
    z = jax.random.normal(k[3], (3, 6, 5))
    x = flow.from_base(z, parts)
    assert x.dtype == jnp.float64
    np.testing.assert_allclose(x, flow.from_base(z, full), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(flow.log_prob(x, parts), flow.log_prob(x, full), atol=1e-9)
    with pytest.raises(ValueError, match="context with last axis 9"):
        flow.from_base(z, (per_object, per_draw))


def test_affine_flow_represents_a_narrow_shifted_gaussian_exactly():
    """With the splines at the identity, the affine layer alone is a Gaussian of the context's
    mean and scale: log_prob equals the normal density (the narrow-posterior case it is for)."""
    flow = ConditionalFlow(2, 1, num_layers=2, hidden=8, depth=1, affine=True, rngs=nnx.Rngs(0))
    out = flow.affine.net.out
    # shift, then the raw log scale whose smooth bound 8 tanh(raw / 8) is log(0.01), log(0.2)
    raw = 8.0 * np.arctanh(np.log([0.01, 0.2]) / 8.0)
    out.bias[...] = jnp.asarray([3.0, -1.0, *raw], out.bias[...].dtype)
    x = jnp.array([[3.005, -1.1], [2.99, -0.7]])
    expected = jax.scipy.stats.norm.logpdf(x, jnp.array([3.0, -1.0]), jnp.array([0.01, 0.2]))
    log_prob = jax.jit(flow.log_prob)(x, jnp.zeros((2, 1)))
    np.testing.assert_allclose(log_prob, expected.sum(-1), rtol=1e-5)
    draws = jax.jit(lambda c: flow.sample(jax.random.key(1), c, 20000))(jnp.zeros(1))
    np.testing.assert_allclose(draws.mean(0), [3.0, -1.0], atol=0.01)
    np.testing.assert_allclose(draws.std(0), [0.01, 0.2], rtol=0.03)
