"""Atomic msgpack checkpoints of array PyTrees (never pickle).

A checkpoint file is one msgpack map (``flax.serialization.msgpack_serialize``)::

    {"format": "cigars-checkpoint", "version": 1,
     "metadata": "<JSON text: config, versions, anything JSON-able>",
     "arrays": {"<jax key path>": ndarray, ...},
     "prng_keys": ["<key path of a typed PRNG key leaf>", ...]}

Array leaves are stored under their ``jax.tree_util.keystr`` path, so restoring into a target
PyTree of the same structure checks names, shapes and dtypes and reports the first mismatch.
Typed PRNG keys are stored as their raw key data and re-wrapped on restore. Writes go to a
temporary file beside the target that is then renamed over it (``os.replace``), so a crash never
leaves a truncated checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import serialization

from cigars.io._provenance import atomic_path

__all__ = ["load_checkpoint", "read_checkpoint_metadata", "save_checkpoint"]

_FORMAT = "cigars-checkpoint"
_VERSION = 1


def _is_prng_key(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    return dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def save_checkpoint(path: str | Path, tree: Any, metadata: dict[str, Any] | None = None) -> None:
    """Write ``tree`` (a PyTree of arrays) and JSON-able ``metadata`` atomically to ``path``.

    Args:
        path: destination file (parent folders are created).
        tree: PyTree whose leaves are arrays, numpy scalars or typed PRNG keys.
        metadata: JSON-serialisable mapping stored beside the arrays (e.g. config, versions).

    Raises:
        ValueError: if a leaf is not an array or ``metadata`` is not JSON-serialisable.
    """
    arrays: dict[str, np.ndarray] = {}
    prng: list[str] = []
    for key_path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = jax.tree_util.keystr(key_path)
        if _is_prng_key(leaf):
            prng.append(name)
            leaf = jax.random.key_data(leaf)
        if not hasattr(leaf, "shape") and not isinstance(leaf, int | float | bool | np.generic):
            raise ValueError(
                f"save_checkpoint: leaf {name} is a {type(leaf).__name__}, not an array"
            )
        arrays[name] = np.asarray(jax.device_get(leaf))
    try:
        meta = json.dumps(metadata or {}, sort_keys=True)
    except TypeError as err:
        raise ValueError(f"save_checkpoint: metadata is not JSON-serialisable: {err}") from None
    blob = serialization.msgpack_serialize(
        {
            "format": _FORMAT,
            "version": _VERSION,
            "metadata": meta,
            "arrays": arrays,
            "prng_keys": prng,
        }
    )
    with atomic_path(path) as tmp:
        tmp.write_bytes(blob)


def _read(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    raw = serialization.msgpack_restore(path.read_bytes())
    if not isinstance(raw, dict) or raw.get("format") != _FORMAT:
        raise ValueError(f"{path}: not a cigars checkpoint")
    if raw.get("version") != _VERSION:
        raise ValueError(f"{path}: unsupported checkpoint version {raw.get('version')!r}")
    return raw


def read_checkpoint_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata mapping stored in a checkpoint."""
    return json.loads(_read(path)["metadata"])


def load_checkpoint(path: str | Path, target: Any = None) -> tuple[Any, dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: the checkpoint file.
        target: a PyTree with the saved structure (leaves may be arrays or
            ``jax.ShapeDtypeStruct``); if given, the arrays are put back into that structure.

    Returns:
        ``(tree, metadata)``: the restored PyTree (numpy arrays; typed PRNG keys re-wrapped),
        or, without ``target``, a flat ``{key path: array}`` dict; and the metadata mapping.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is not a checkpoint, or an entry is missing or has the wrong
            shape or dtype for ``target``.
    """
    raw = _read(path)
    meta = json.loads(raw["metadata"])
    arrays = raw["arrays"]
    prng = set(raw["prng_keys"])
    if target is None:
        out = {}
        for name, arr in arrays.items():
            out[name] = jax.random.wrap_key_data(arr) if name in prng else arr
        return out, meta
    leaves_with_path, treedef = jax.tree_util.tree_flatten_with_path(target)
    leaves = []
    for key_path, leaf in leaves_with_path:
        name = jax.tree_util.keystr(key_path)
        if name not in arrays:
            raise ValueError(f"{path}: checkpoint has no entry {name}")
        arr = arrays[name]
        if _is_prng_key(leaf):
            if name not in prng:
                raise ValueError(f"{path}: entry {name} is not a PRNG key")
            impl = jax.random.key_impl(leaf) if isinstance(leaf, jax.Array) else None
            key = jax.random.wrap_key_data(arr, impl=impl)
            leaves.append(key)
            continue
        if hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
            shape, dtype = tuple(leaf.shape), np.dtype(leaf.dtype)
        else:
            shape, dtype = np.shape(leaf), np.asarray(leaf).dtype
        if arr.shape != shape or arr.dtype != dtype:
            raise ValueError(
                f"{path}: entry {name} has shape {arr.shape} and dtype {arr.dtype}, "
                f"expected {shape} and {dtype}"
            )
        leaves.append(arr)
    return jax.tree_util.tree_unflatten(treedef, leaves), meta
