"""Changing a key's PRNG implementation (cigars._prng) and the simulator's use of it."""

import jax
import numpy as np
import pytest
from scipy import stats

from cigars._prng import key_data_shape, rekey


def test_rekey_gives_independent_keys_of_the_requested_kind():
    keys = jax.random.split(jax.random.key(0), 3)
    new = jax.vmap(lambda k: rekey(k, "philox4x32"))(keys)
    assert str(jax.random.key_impl(new)) == "philox4x32"
    data = np.asarray(jax.random.key_data(new))
    assert data.shape == (3, *key_data_shape("philox4x32"))
    assert len({tuple(d) for d in data}) == 3
    u = np.asarray(jax.random.uniform(new[0], (20_000,)))
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    same = rekey(new[0], "philox4x32")
    np.testing.assert_array_equal(jax.random.key_data(same), jax.random.key_data(new[0]))
    key = keys[0]
    assert rekey(key, None) is key


def test_rekey_accepts_raw_keys_and_rejects_unknown_kinds():
    raw = jax.random.PRNGKey(3)
    assert str(jax.random.key_impl(rekey(raw, "philox4x32"))) == "philox4x32"
    with pytest.raises(ValueError, match="unknown PRNG implementation 'nope'"):
        key_data_shape("nope")


def test_simulator_prng_impl_is_checked():
    from cigars.simulate import Simulator

    with pytest.raises(ValueError, match="prng_impl"):
        Simulator.chain([], n_max=4, n_band=6, prng_impl="nope")
    assert Simulator.chain([], n_max=4, n_band=6).prng_impl == "philox4x32"
