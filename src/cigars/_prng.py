"""Changing the PRNG implementation of a key (used inside the simulator).

On CPU, JAX lowers its default threefry2x32 hash as a rolled loop that streams every random
array through memory five times; the counter-based Philox-4x32-10 generator (Salmon et al.
2011, SC '11, also available in JAX) draws the same uniforms and normals about five times
faster there. :func:`rekey` derives a key of another implementation from any key.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from cigars._types import Key

__all__ = ["key_data_shape", "rekey"]


@functools.cache
def key_data_shape(impl: str) -> tuple[int, ...]:
    """Shape of the key data of the ``jax.random.key`` implementation ``impl``.

    Raises:
        ValueError: if JAX has no such implementation.
    """
    try:
        return tuple(jax.random.key_data(jax.random.key(0, impl=impl)).shape)
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(f"unknown PRNG implementation {impl!r}") from err


def rekey(key: Key, impl: str | None) -> Key:
    """A key of implementation ``impl`` derived from ``key``.

    ``key`` itself is returned if it already is one, or if ``impl`` is ``None``. The new key's
    data are random bits drawn with ``key`` (one hash), so distinct keys give independent
    streams.

    Args:
        key: a typed or raw PRNG key.
        impl: a ``jax.random.key`` implementation name, e.g. ``"philox4x32"``.

    Returns:
        The typed key.
    """
    if impl is None or str(jax.random.key_impl(key)) == impl:
        return key
    data = jax.random.bits(key, key_data_shape(impl), jnp.uint32)
    return jax.random.wrap_key_data(data, impl=impl)
