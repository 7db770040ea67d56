"""Atomic msgpack checkpoints: exact round trip, structure checks, crash safety, no pickle."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from cigars.io._checkpoint import load_checkpoint, read_checkpoint_metadata, save_checkpoint


def _tree(key):
    model = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    params = nnx.state(model, nnx.Param)
    opt = optax.adamw(1e-3)
    opt_state = opt.init(params)
    grads = jax.tree.map(jnp.ones_like, params)
    _, opt_state = opt.update(grads, opt_state, params)
    return {
        "params": params,
        "opt_state": opt_state,
        "step": jnp.int32(7),
        "key": jax.random.fold_in(key, 3),
        "best": np.float64(np.inf),
        "flag": np.bool_(True),
        "list": [jnp.arange(3.0), jnp.zeros((0, 2))],
    }


def test_round_trip_is_exact(tmp_path, key):
    tree = _tree(key)
    path = tmp_path / "sub" / "ckpt.msgpack"
    save_checkpoint(path, tree, {"config": {"a": 1}, "note": "x"})
    template = _tree(jax.random.key(0))  # same structure, different values
    restored, meta = load_checkpoint(path, template)
    assert meta == {"config": {"a": 1}, "note": "x"}
    assert read_checkpoint_metadata(path) == meta
    assert jax.tree.structure(restored) == jax.tree.structure(tree)
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(tree), strict=True):
        if jax.dtypes.issubdtype(getattr(b, "dtype", None), jax.dtypes.prng_key):
            np.testing.assert_array_equal(jax.random.key_data(a), jax.random.key_data(b))
            # The restored key generates the same numbers.
            np.testing.assert_array_equal(jax.random.normal(a, (3,)), jax.random.normal(b, (3,)))
        else:
            assert np.asarray(a).dtype == np.asarray(b).dtype
            np.testing.assert_array_equal(a, b)
    # Abstract targets work too.
    abstract = jax.tree.map(
        lambda x: (
            x
            if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)
            else jax.ShapeDtypeStruct(np.shape(x), x.dtype)
        ),
        template,
    )
    restored2, _ = load_checkpoint(path, abstract)
    np.testing.assert_array_equal(restored2["step"], 7)


def test_flat_load_and_mismatch_errors(tmp_path, key):
    tree = {"a": jnp.ones(3), "b": {"c": jnp.zeros((2, 2), jnp.int32)}}
    path = tmp_path / "c.msgpack"
    save_checkpoint(path, tree)
    flat, meta = load_checkpoint(path)
    assert set(flat) == {"['a']", "['b']['c']"} and meta == {}
    with pytest.raises(ValueError, match=r"\['b'\]\['c'\].*shape"):
        load_checkpoint(path, {"a": jnp.ones(3), "b": {"c": jnp.zeros((3, 2), jnp.int32)}})
    with pytest.raises(ValueError, match="no entry"):
        load_checkpoint(path, {"a": jnp.ones(3), "z": jnp.ones(1)})
    with pytest.raises(ValueError, match="dtype"):
        load_checkpoint(
            path, {"a": jnp.ones(3, jnp.int32), "b": {"c": jnp.zeros((2, 2), jnp.int32)}}
        )
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.msgpack")
    bogus = tmp_path / "bogus.msgpack"
    bogus.write_bytes(b"\x81\xa1a\x01")  # a valid msgpack map, not a checkpoint
    with pytest.raises(ValueError, match="not a cigars checkpoint"):
        load_checkpoint(bogus)
    with pytest.raises(ValueError, match="JSON"):
        save_checkpoint(tmp_path / "m.msgpack", tree, {"bad": object()})


def test_failed_write_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "c.msgpack"
    save_checkpoint(path, {"a": jnp.ones(3)}, {"v": 1})
    before = path.read_bytes()

    def boom(self, data):
        with open(self, "wb") as fh:
            fh.write(data[: len(data) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_bytes", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"a": jnp.zeros(3)}, {"v": 2})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.msgpack"]  # no temporary left


def test_file_is_msgpack_not_pickle(tmp_path):
    path = tmp_path / "c.msgpack"
    save_checkpoint(path, {"a": jnp.ones(2)})
    raw = path.read_bytes()
    assert 0x80 <= raw[0] <= 0x8F  # msgpack fixmap
    assert not raw.startswith(b"\x80\x04") and b"cigars-checkpoint" in raw
