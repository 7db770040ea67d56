"""benchmarks/bench_simulator.py: counting a program's random words for the random-number floor."""

import importlib
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("benchmarks.bench_simulator")


def _program(key):
    """Normals (1 word each), a threefry Poisson in a loop, uniforms in a fori_loop body."""
    k1, k2 = jax.random.split(key)
    normal = jax.random.normal(k1, (1000, 3))
    counts = jax.random.poisson(jax.random.key(3, impl="threefry2x32"), 2.0, (5,))

    def body(i, acc):
        return acc + jax.random.uniform(jax.random.fold_in(k2, i), (7,))

    return normal, counts, jax.lax.fori_loop(0, 3, body, jnp.zeros(7))


def test_random_words_finds_every_draw_with_its_generator(bench):
    calls = bench.random_words(_program, jax.random.key(0, impl="philox4x32"))
    philox = sorted(shape for shape, impl in calls if impl == "philox4x32")
    # The normals and the loop body's uniforms (counted once: it is one call in the program).
    assert philox == [(7,), (1000, 3)]
    # The Poisson sampler draws inside its own loops, all with the threefry key.
    assert {impl for _, impl in calls} == {"philox4x32", "threefry2x32"}
    assert all(shape == (5,) for shape, impl in calls if impl == "threefry2x32")


def test_rng_floor_draws_as_many_words_as_counted(bench):
    calls = [((1000, 3), "philox4x32"), ((7,), "philox4x32"), ((5,), "threefry2x32")]
    out = bench.rng_floor(calls, repeats=2)
    assert out["rng_words"] == 3000 + 7 + 5
    assert out["rng_floor_ms"] > 0 and out["numpy_rng_ms"] > 0


def test_random_words_refuses_bits_it_does_not_count(bench):
    with pytest.raises(ValueError, match="uint64|not counted"):
        bench.random_words(
            lambda k: jax.random.bits(k, (4,), jnp.uint8), jax.random.key(0, impl="philox4x32")
        )
