"""The cache directory and the persistent compilation cache the ``cigars`` command turns on."""

from __future__ import annotations

import jax
import pytest

from cigars._cache import cache_dir, use_compilation_cache

_OPTIONS = (
    "jax_compilation_cache_dir",
    "jax_persistent_cache_min_compile_time_secs",
    "jax_compilation_cache_max_size",
)


@pytest.fixture
def no_compilation_cache():
    """Unset JAX's cache directory (tests/conftest.py sets one) and restore every option."""
    saved = {name: getattr(jax.config, name) for name in _OPTIONS}
    jax.config.update("jax_compilation_cache_dir", None)
    yield
    for name, value in saved.items():
        jax.config.update(name, value)


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CIGARS_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv("CIGARS_CACHE_DIR")
    assert cache_dir().name == "cigars"


def test_compilation_cache_goes_under_the_cache_dir(tmp_path, monkeypatch, no_compilation_cache):
    monkeypatch.setenv("CIGARS_CACHE_DIR", str(tmp_path))
    assert use_compilation_cache(max_size_gib=0.5) == tmp_path / "jax"
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "jax")
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 1.0
    assert jax.config.jax_compilation_cache_max_size == 2**29


def test_compilation_cache_leaves_a_chosen_directory_and_can_be_turned_off(
    tmp_path, monkeypatch, no_compilation_cache
):
    monkeypatch.setenv("CIGARS_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CIGARS_COMPILATION_CACHE", "0")
    assert use_compilation_cache() is None
    assert jax.config.jax_compilation_cache_dir is None
    monkeypatch.delenv("CIGARS_COMPILATION_CACHE")
    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "mine"))
    assert use_compilation_cache() is None
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "mine")
