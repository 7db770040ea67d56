"""Shared fixtures: a fixed-seed PRNG key, float64 on demand, paths to the shared data."""

from __future__ import annotations

from pathlib import Path

import jax
import pytest

from cigars._cache import set_compilation_cache

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# Many tests compile the same programs (the simulator, a training step of the same tiny
# config); JAX's persistent compilation cache shares those compilations between tests, test
# processes and runs. It is keyed on the program, JAX version and flags, so a changed program
# never reuses a stale executable; its file lock keeps the pytest-xdist workers from reading
# each other's half-written entries. A clean checkout (CI) starts empty: 15.3 -> 13.3 min on
# the 2-core machine, mostly from repeated compilations.
set_compilation_cache(ROOT / ".cache" / "jax-tests", max_size_gib=2)

# The slowest test files of `make test` (stop 36, 2-core machine: 60-340 s each; stop 38 moved
# some of their tests to the long tier), run first.
# `make test` gives each file to one process (--dist loadfile) in collection order; a slow one
# collected last keeps one process busy while the others have nothing left to do. The sort is
# stable: the other files keep their order. (`make test-long` runs in collection order.)
SLOW_FILES_FIRST = (
    "inference/test_inference_npe.py",
    "inference/test_inference_train.py",
    "likelihood/test_likelihood_submodel.py",
    "inference/test_inference_flows.py",
    "cosmology/test_cosmology_gradients.py",
    "inference/test_inference_lookup.py",
    "simulate/test_simulate_simulator.py",
    "cosmology/test_cosmology_contracts.py",
    "survey/test_survey_stages.py",
    "inference/test_inference_embedding.py",
    "hosts/test_bank_io.py",
    "inference/test_inference_ensemble.py",
)


def pytest_collection_modifyitems(items):
    rank = {ROOT / "tests" / name: i for i, name in enumerate(SLOW_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path, len(rank)))


@pytest.fixture
def key():
    """A fixed-seed PRNG key (tests split it; never reuse)."""
    return jax.random.key(20260425)


@pytest.fixture
def x64():
    """Run the test with 64-bit floats enabled, restoring the previous setting afterwards."""
    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data directory beside the project (``../shared/data``); skip if absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_file(shared_data):
    """``shared_file("dir/name")``: that file under ``../shared/data``; skip if it is missing."""

    def get(relative: str) -> Path:
        path = shared_data / relative
        if not path.is_file():
            pytest.skip(f"{path} not found")
        return path

    return get


@pytest.fixture
def tiny_experiment(tmp_path):
    """A factory writing a tiny quick-start experiment for end-to-end CLI tests.

    ``tiny_experiment(n_max=512, counts=40, width=16, layers=2, **training)`` writes
    ``tmp_path/tiny.yaml``: the quick-start physics with a small survey, a small network
    (``width`` for the embeddings, twice that for the hidden layers) and a few training steps
    (``training`` overrides the defaults below). Returns ``(path, dict)``.
    """
    import yaml

    def write(*, n_max=512, counts=40, width=16, layers=2, **training):
        exp = yaml.safe_load((ROOT / "configs" / "quickstart.yaml").read_text())
        exp["simulator"]["survey"].update(n_max=n_max, counts=counts)
        exp["inference"] = {
            "estimator": {
                "embed_dim": width,
                "summary_dim": width,
                "hidden": 2 * width,
                "flow_layers": layers,
                "local_flow_layers": layers,
                "flow_hidden": 2 * width,
            },
            "training": {
                "steps": 12,
                "batch_size": 4,
                "warmup_steps": 2,
                "n_pilot": 8,
                "n_val": 4,
                "val_every": 6,
                "log_every": 3,
                "checkpoint_every": 6,
                "local_subsample": 8,
                **training,
            },
        }
        path = tmp_path / "tiny.yaml"
        path.write_text(yaml.safe_dump(exp))
        return path, exp

    return write
