"""Where cigars keeps what it can rebuild: rebinned SSP grids and compiled XLA programs."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir", "set_compilation_cache", "use_compilation_cache"]


def cache_dir() -> Path:
    """The cache directory: ``$CIGARS_CACHE_DIR`` or the user cache dir (``platformdirs``)."""
    env = os.environ.get("CIGARS_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("cigars"))


def use_compilation_cache(max_size_gib: float = 4.0) -> Path | None:
    """Keep JAX's compiled programs in ``cache_dir() / "jax"`` between processes.

    A ``cigars`` command compiles the same programs as the last one on the same run (the
    training step on ``--resume``, the estimator on every ``infer``); JAX's persistent
    compilation cache, keyed on the program, JAX version and flags, reuses them. Only programs
    that took at least a second to compile are kept, at most ``max_size_gib`` (least recently
    used first out; the cache's file lock lets several processes share it). Does nothing when
    a cache directory is already set (``JAX_COMPILATION_CACHE_DIR`` or by the caller) or when
    ``$CIGARS_COMPILATION_CACHE`` is ``0``.

    Returns:
        The directory in use, or ``None`` if this call left the cache off.
    """
    import jax

    if os.environ.get("CIGARS_COMPILATION_CACHE", "1") == "0":
        return None
    if jax.config.jax_compilation_cache_dir:
        return None
    return set_compilation_cache(cache_dir() / "jax", max_size_gib)


def set_compilation_cache(path: str | os.PathLike, max_size_gib: float) -> Path:
    """Put JAX's persistent compilation cache in ``path``, whatever was set before.

    Keeps programs that took at least a second to compile, at most ``max_size_gib``; setting
    the size also turns on the cache's file lock, without which one process can read another's
    half-written entry.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    import jax

    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    jax.config.update("jax_compilation_cache_max_size", int(max_size_gib * 2**30))
    return Path(path)
