"""Shared fixtures: a fixed-seed PRNG key, float64 on demand, paths to the shared data."""

from __future__ import annotations

from pathlib import Path

import jax
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def key():
    """A fixed-seed PRNG key (tests split it; never reuse)."""
    return jax.random.key(20260425)


@pytest.fixture
def x64():
    """Run the test with 64-bit floats enabled, restoring the previous setting afterwards."""
    with jax.enable_x64(True):
        yield


@pytest.fixture
def shared_data() -> Path:
    """The shared data directory beside the project (``../shared/data``); skip if absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
