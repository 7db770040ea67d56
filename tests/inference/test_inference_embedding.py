"""Set embedding: permutation invariance and invariance to whatever sits in padded slots."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from cigars.inference import SetEmbedding, covariance_features, masked_mean


def _embedding(pooling, pool_inputs=False, pool_variance=False, pool_covariance=0):
    """The embedding, initialised inside one jit, and a jitted call of it."""
    emb = nnx.jit(
        lambda: SetEmbedding(
            3,
            1,
            embed_dim=16,
            summary_dim=8,
            hidden=32,
            depth=2,
            pooling=pooling,
            num_heads=4,
            pool_inputs=pool_inputs,
            pool_variance=pool_variance,
            pool_covariance=pool_covariance,
            rngs=nnx.Rngs(0),
        )
    )()
    return nnx.jit(lambda m, x, mask, extra: m(x, mask, extra)), emb


def _set(key, n_max=12, n=7):
    k1, k2 = jax.random.split(key)
    x = jax.random.normal(k1, (n_max, 3))
    mask = jnp.zeros(n_max, bool).at[jax.random.permutation(k2, n_max)[:n]].set(True)
    return x, mask


@pytest.mark.parametrize("pooling", ["mean", "attention"])
def test_permutation_invariance(key, pooling):
    call, module = _embedding(pooling)

    def emb(x, mask, extra):
        return call(module, x, mask, extra)

    x, mask = _set(key)
    extra = jnp.array([0.4])
    s, e = emb(x, mask, extra)
    perm = jax.random.permutation(jax.random.key(1), x.shape[0])
    s_p, e_p = emb(x[perm], mask[perm], extra)
    np.testing.assert_allclose(s_p, s, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(e_p, e[perm], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "pooling",
    [
        "mean",
        "attention",
        "mean+inputs",
        "mean+variance",
        "attention+variance",
        "mean+covariance",
    ],
)
def test_padded_slots_do_not_matter(key, pooling):
    call, module = _embedding(
        pooling.split("+")[0],
        pool_inputs=pooling.endswith("+inputs"),
        pool_variance=pooling.endswith("+variance"),
        pool_covariance=4 if pooling.endswith("+covariance") else 0,
    )

    def emb(x, mask, extra):
        return call(module, x, mask, extra)

    x, mask = _set(key)
    extra = jnp.array([0.4])
    s, e = emb(x, mask, extra)
    garbage = jnp.where(mask[:, None], x, jnp.array([1e30, jnp.nan, -jnp.inf]))
    s_g, e_g = emb(garbage, mask, extra)
    np.testing.assert_array_equal(s_g, s)
    np.testing.assert_array_equal(e_g, e)
    # Adding more padding slots changes nothing either.
    s_pad, _ = emb(
        jnp.concatenate([x, 5 * jnp.ones((4, 3))]),
        jnp.concatenate([mask, jnp.zeros(4, bool)]),
        extra,
    )
    np.testing.assert_allclose(s_pad, s, rtol=1e-5, atol=1e-6)
    # Gradients stay finite with garbage in padded slots.
    graphdef, state = nnx.split(module)
    g = jax.jit(jax.grad(lambda st: nnx.merge(graphdef, st)(garbage, mask, extra)[0].sum()))(state)
    assert all(np.all(np.isfinite(v)) for v in jax.tree.leaves(g))


@pytest.mark.parametrize("pooling", ["mean", "attention"])
def test_valid_objects_matter_and_empty_set_is_finite(key, pooling):
    call, module = _embedding(pooling)

    def emb(x, mask, extra):
        return call(module, x, mask, extra)

    x, mask = _set(key)
    extra = jnp.array([0.0])
    s, _ = emb(x, mask, extra)
    i = int(np.flatnonzero(np.asarray(mask))[0])
    s2, _ = emb(x.at[i].add(1.0), mask, extra)
    assert not np.allclose(s, s2)
    s0, e0 = emb(x, jnp.zeros_like(mask), extra)
    assert np.all(np.isfinite(s0)) and np.all(e0 == 0)


def test_pool_inputs_feeds_the_inputs_masked_mean(key):
    """With pool_inputs the summariser sees [mean of encodings, mean of valid inputs, extra]."""
    call, module = _embedding("mean", pool_inputs=True)
    x, mask = _set(key)
    extra = jnp.array([0.4])
    s, e = call(module, x, mask, extra)
    m = np.asarray(mask)
    pooled_x = np.asarray(x)[m].mean(0)  # numpy oracle of the masked mean
    expected = module.summariser(
        jnp.concatenate([np.asarray(e)[m].mean(0), pooled_x, np.asarray(extra)])
    )
    np.testing.assert_allclose(s, expected, rtol=1e-5, atol=1e-6)
    assert module.summariser.in_dim == 16 + 3 + 1


def test_pool_variance_feeds_the_encodings_variance(key):
    """With pool_variance the summariser sees [mean, variance of the valid encodings, extra]."""
    call, module = _embedding("mean", pool_variance=True)
    x, mask = _set(key)
    extra = jnp.array([0.4])
    s, e = call(module, x, mask, extra)
    valid = np.asarray(e)[np.asarray(mask)]  # numpy oracle: population variance of the valid
    expected = module.summariser(jnp.concatenate([valid.mean(0), valid.var(0), extra]))
    np.testing.assert_allclose(s, expected, rtol=1e-5, atol=1e-6)
    assert module.summariser.in_dim == 2 * 16 + 1
    # Permuting the objects changes nothing.
    perm = jax.random.permutation(jax.random.key(1), x.shape[0])
    np.testing.assert_allclose(call(module, x[perm], mask[perm], extra)[0], s, rtol=1e-5, atol=1e-6)


def test_covariance_features_oracle(key):
    """Covariance entries against numpy; conditional variances against least-squares residuals."""
    k1, k2 = jax.random.split(key)
    p = jax.random.normal(k1, (2, 40, 3)) @ jnp.array([[1.0, 0.5, 0.0], [0, 1, 0.3], [0, 0, 2]])
    p = p + jax.random.normal(k2, (2, 40, 3)) * 0.1
    mask = jnp.arange(40)[None, :] < jnp.array([[40], [25]])
    p = jnp.where(mask[..., None], p, jnp.nan)  # padded rows must not matter
    out = np.asarray(covariance_features(p, mask, jitter=0.0))
    assert out.shape == (2, 6 + 3)
    for b, n in enumerate((40, 25)):
        x = np.asarray(p[b, :n], np.float64)
        cov = np.cov(x.T, bias=True)
        np.testing.assert_allclose(out[b, :6], cov[np.triu_indices(3)], rtol=1e-4, atol=1e-6)
        for j in range(3):  # mean squared residual of x_j on the others and an intercept
            design = np.column_stack([np.ones(n), np.delete(x, j, axis=1)])
            resid = x[:, j] - design @ np.linalg.lstsq(design, x[:, j], rcond=None)[0]
            np.testing.assert_allclose(out[b, 6 + j], np.log(np.mean(resid**2)), atol=1e-3)
    # A set smaller than k + 1 (singular covariance) stays finite with the default jitter.
    few = covariance_features(p, jnp.arange(40)[None, :] < jnp.array([[2], [0]]))
    assert np.all(np.isfinite(np.asarray(few)))


def test_pool_covariance_feeds_the_projection_moments(key):
    """With pool_covariance k the summariser sees [mean, covariance features of W e, extra]."""
    call, module = _embedding("mean", pool_covariance=3)
    x, mask = _set(key)
    extra = jnp.array([0.4])
    s, e = call(module, x, mask, extra)
    valid = np.asarray(e)[np.asarray(mask)]
    moments = covariance_features(module.covariance_proj(jnp.asarray(valid)), jnp.ones(7, bool))
    expected = module.summariser(jnp.concatenate([valid.mean(0), moments, extra]))
    np.testing.assert_allclose(s, expected, rtol=1e-5, atol=1e-5)
    assert module.summariser.in_dim == 16 + 6 + 3 + 1


def test_masked_mean_oracle(key):
    e = jax.random.normal(key, (2, 5, 3))
    mask = jnp.array([[1, 0, 1, 1, 0], [0, 0, 0, 0, 0]], bool)
    out = masked_mean(e, mask)
    np.testing.assert_allclose(out[0], np.asarray(e)[0][np.asarray(mask[0])].mean(0), rtol=1e-6)
    np.testing.assert_array_equal(out[1], 0.0)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"pooling": "attention", "embed_dim": 10, "num_heads": 4}, "divisible"),
        ({"pool_covariance": -1}, "pool_covariance must be >= 0"),
    ],
)
def test_invalid_architectures_are_refused(bad, message):
    kwargs = {"embed_dim": 8, "summary_dim": 4, "hidden": 8, "depth": 1} | bad
    with pytest.raises(ValueError, match=message):
        SetEmbedding(3, 1, **kwargs, rngs=nnx.Rngs(0))
