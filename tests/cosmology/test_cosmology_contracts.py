"""Contract tests over the registry of cosmology functions ``f(cosmo, z)`` (cosmology_registry.py).

Shapes and dtypes, finite outputs, jit == eager, vmap == loop, no recompilation on a second call
with new values; gradients are in test_cosmology_gradients.py.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cosmology_registry import COSMO, FLAT, NAMES, REGISTRY, STRUCTURE_CASES, Z, batch_of

from cigars import cosmology as cc


@pytest.mark.parametrize(("name", "cosmo"), STRUCTURE_CASES)
def test_shapes_dtype_finite(name, cosmo):
    fn = jax.jit(REGISTRY[name])
    out = fn(cosmo, Z)
    assert out.shape == Z.shape
    assert out.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(out)))
    assert fn(cosmo, 0.5).shape == ()


@pytest.mark.parametrize("name", NAMES)
def test_jit_matches_eager(name):
    fn = REGISTRY[name]
    np.testing.assert_allclose(jax.jit(fn)(COSMO, Z), fn(COSMO, Z), rtol=2e-6)


@pytest.mark.parametrize("name", NAMES)
def test_no_recompile_on_second_call(name):
    fn = jax.jit(REGISTRY[name])  # jit caches are shared per function: count the increase
    fn(COSMO, Z).block_until_ready()
    compiled = fn._cache_size()
    other = COSMO.replace(H0=71.0, Om0=0.25, Ode0=0.6, w0=-1.1, wa=-0.3, Tcmb0=2.0, Neff=3.0)
    fn(other, Z * 0.9).block_until_ready()
    assert fn._cache_size() == compiled


@pytest.mark.parametrize(("name", "cosmo"), STRUCTURE_CASES)
def test_vmap_matches_loop(name, cosmo):
    fn = jax.jit(REGISTRY[name])  # eager == jit is tested separately
    batch = batch_of(cosmo)
    zs = Z[0] * jnp.array([[1.0], [0.9], [0.8]])
    out = jax.vmap(fn)(batch, zs)
    for i in range(3):
        one = jax.tree.map(lambda leaf, i=i: leaf[i], batch)
        np.testing.assert_allclose(out[i], fn(one, zs[i]), rtol=2e-6)


def test_batch_of_flat_cosmologies_vmaps_tables():
    batch = batch_of(FLAT, 8)
    assert batch.Ode0 is None
    tables = jax.jit(jax.vmap(lambda c: cc.tabulate(c, z_max=3.0)))(batch)
    assert tables.dc.shape == (8, 512)
    z = jnp.linspace(0.01, 3.0, 100)
    mu = jax.jit(jax.vmap(cc.tabulated_distance_modulus, in_axes=(0, None)))(tables, z)
    ref = jax.jit(jax.vmap(cc.distance_modulus, in_axes=(0, None)))(batch, z)
    np.testing.assert_allclose(mu, ref, atol=2e-5)
