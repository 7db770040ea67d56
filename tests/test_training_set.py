"""Stored training simulations: written resumably, read back exactly, trained from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from cigars.cli import main
from cigars.config import load_experiment
from cigars.experiment import _stored_training_set
from cigars.inference import Simulation
from cigars.io._simulations import read_simulation_files, read_simulations, write_simulations

ROOT = Path(__file__).resolve().parents[1]


def _chunk(i, size=3, n_max=5):
    rng = np.random.default_rng(i)
    return Simulation(
        theta=rng.normal(size=(size, 2)),
        locals=rng.normal(size=(size, n_max, 1)),
        data=rng.normal(size=(size, n_max, 4)),
        mask=rng.random((size, n_max)) < 0.7,
        context=rng.normal(size=(size, n_max, 2)),
    )


def test_interrupted_write_resumes_to_the_same_file(tmp_path):
    def failing(i):
        if i == 2:
            raise KeyboardInterrupt
        return _chunk(i)

    path = tmp_path / "sims.h5"
    with pytest.raises(KeyboardInterrupt):
        write_simulations(path, failing, n=10, chunk_size=3, config={"a": 1}, progress=False)
    assert not path.exists() and (tmp_path / "sims.h5.partial").exists()
    # Resuming with other settings is refused; with the same ones it completes.
    with pytest.raises(ValueError, match="different settings"):
        write_simulations(path, _chunk, n=10, chunk_size=3, config={"a": 2}, progress=False)
    write_simulations(path, _chunk, n=10, chunk_size=3, config={"a": 1}, progress=False)
    whole = tmp_path / "whole.h5"
    write_simulations(whole, _chunk, n=10, chunk_size=3, config={"a": 1}, progress=False)
    (got, cfg), (want, _) = read_simulations(path), read_simulations(whole)
    assert cfg["a"] == 1 and got.theta.shape == (10, 2)
    for name in ("theta", "locals", "data", "mask", "context"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
    np.testing.assert_allclose(got.data[3:6], _chunk(1).data, rtol=1e-6)
    assert got.mask.dtype == bool


def test_zero_width_fields_round_trip(tmp_path):
    """Problems without locals or context (the known-hosts sub-model) store zero-width fields."""

    def chunk(i):
        sim = _chunk(i)
        return sim.replace(locals=sim.locals[..., :0], context=sim.context[..., :0])

    path = tmp_path / "sims.h5"
    write_simulations(path, chunk, n=5, chunk_size=3, config={"a": 1}, progress=False)
    sim, _ = read_simulations(path)
    assert sim.locals.shape == (5, 5, 0) and sim.context.shape == (5, 5, 0)
    np.testing.assert_allclose(sim.data[3:], np.asarray(chunk(1).data[:2], np.float32))


def test_read_refuses_other_files(tmp_path):
    bad = tmp_path / "x.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        read_simulations(bad)


def test_several_files_read_as_one_set(tmp_path):
    a, b, wide = tmp_path / "a.h5", tmp_path / "b.h5", tmp_path / "wide.h5"
    write_simulations(a, _chunk, n=5, chunk_size=3, config={"a": 1}, progress=False)
    write_simulations(
        b, lambda i: _chunk(i + 10), n=4, chunk_size=3, config={"a": 2}, progress=False
    )
    sim, configs = read_simulation_files([b, a])
    assert [c["a"] for c in configs] == [2, 1]
    (sa, _), (sb, _) = read_simulations(a), read_simulations(b)
    for name in ("theta", "locals", "data", "mask", "context"):
        want = np.concatenate([getattr(sb, name), getattr(sa, name)])
        np.testing.assert_array_equal(getattr(sim, name), want)
        assert getattr(sim, name).dtype == want.dtype
    # The check sees every file's config before any array is read, and may refuse one.
    seen = []

    def refuse_b(path, config):
        seen.append(path.name)
        if config["a"] == 2:
            raise ValueError(f"{path}: refused")

    with pytest.raises(ValueError, match="b.h5: refused"):
        read_simulation_files([a, b], refuse_b)
    assert seen == ["a.h5", "b.h5"]
    # Files of different shapes are refused, naming both.
    write_simulations(
        wide, lambda i: _chunk(i, n_max=6), n=3, chunk_size=3, config={}, progress=False
    )
    with pytest.raises(ValueError, match=r"wide.h5: locals has shape \(6, 1\).*a.h5 has \(5, 1\)"):
        read_simulation_files([a, wide])
    with pytest.raises(ValueError, match="no file"):
        read_simulation_files([])


@pytest.mark.long
def test_cli_simulations_then_train_from_them(tmp_path, capsys, monkeypatch, tiny_experiment):
    monkeypatch.chdir(ROOT)
    config, tiny = tiny_experiment(
        n_max=256,
        counts=20,
        width=8,
        layers=1,
        steps=4,
        batch_size=2,
        warmup_steps=1,
        n_pilot=4,
        n_val=2,
        val_every=2,
        log_every=2,
        checkpoint_every=2,
        local_subsample=4,
    )
    bank, sims, run = tmp_path / "bank.h5", tmp_path / "sims.h5", tmp_path / "run"
    assert main(["bank", str(config), "-o", str(bank), "--n", "3000", "--quiet"]) == 0
    args = ["simulations", str(config), "--bank", str(bank), "--quiet", "--chunk-size", "4"]
    assert main([*args, "-n", "8", "-o", str(sims)]) == 0
    stored, _ = read_simulations(sims)
    assert stored.data.shape[:2] == (8, 256) and stored.mask.any(axis=1).all()
    # A second set drawn with another seed extends the first (in file order); one drawn with
    # the same seed would repeat its surveys and is refused. (One training, on both files,
    # covers the one-file case: each stored-set size is another compilation of the step.)
    more, same = tmp_path / "more.h5", tmp_path / "same.h5"
    assert main([*args, "-n", "4", "--seed", "7", "-o", str(more)]) == 0
    assert main([*args, "-n", "4", "-o", str(same)]) == 0
    exp = load_experiment(config)
    both = _stored_training_set(exp, [sims, more])
    added, _ = read_simulations(more)
    assert both.theta.shape[0] == 12
    for name in ("theta", "locals", "data", "mask", "context"):
        want = np.concatenate([getattr(stored, name), getattr(added, name)])
        np.testing.assert_array_equal(getattr(both, name), want)
    train = ["train", str(config), "--bank", str(bank), "--simulations", str(sims)]
    assert main([*train, str(more), "--quiet", "-o", str(run)]) == 0
    assert (run / "checkpoint.msgpack").is_file()
    capsys.readouterr()
    assert main([*train, str(same), "--quiet", "-o", str(tmp_path / "run-same")]) == 2
    assert "same seed" in capsys.readouterr().err
    # A training set from another experiment is refused, naming the file.
    tiny["simulator"]["survey"]["counts"] = 30
    config.write_text(yaml.safe_dump(tiny))
    capsys.readouterr()
    assert main([*train, "-o", str(tmp_path / "run2")]) == 2
    assert "different experiment" in capsys.readouterr().err
