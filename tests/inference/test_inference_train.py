"""Training loop: outputs, exact resume, stored-array mode, early stopping, errors."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from inference_tiny import TINY, TOY

from cigars.inference import (
    EstimatorConfig,
    NPEConfig,
    TrainingConfig,
    load_estimator,
    sample_posterior,
    simulate_batch,
    train,
)


def _config(**training):
    base = dict(
        steps=20,
        batch_size=8,
        warmup_steps=2,
        n_pilot=16,
        n_val=16,
        val_every=5,
        log_every=5,
        checkpoint_every=10,
        local_subsample=4,
    )
    base.update(training)
    return NPEConfig(seed=3, estimator=TINY, training=TrainingConfig(**base))


def _record_simulations(monkeypatch) -> list[list[int]]:
    """Record the sizes of the simulation sets (pilot, validation) each training run draws."""
    from cigars.inference import _train

    calls, real = [], _train._simulate_many

    def spy(simulate, prior, jobs, batch_size):
        calls.append([n for _, n in jobs])
        return real(simulate, prior, jobs, batch_size)

    monkeypatch.setattr(_train, "_simulate_many", spy)
    return calls


def _params(result):
    from flax import nnx

    return jax.tree.leaves(nnx.state(result.estimator, nnx.Param))


@pytest.mark.long
def test_outputs_and_reload(tmp_path):
    res = train(_config(), TOY.simulate, TOY.prior, tmp_path, progress=False)
    assert res.step == 20 and not res.stopped_early and np.isfinite(res.best_val_loss)
    names = {p.name for p in tmp_path.iterdir()}
    assert {
        "checkpoint.msgpack",
        "metrics.jsonl",
        "loss_curve.png",
        "config.yaml",
        "provenance.json",
    } <= names
    assert (tmp_path / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert records == res.history
    train_recs = [r for r in records if "loss" in r]
    val_recs = [r for r in records if "val_loss" in r]
    assert [r["step"] for r in train_recs] == [5, 10, 15, 20]
    assert [r["step"] for r in val_recs] == [5, 10, 15, 20]
    assert all(np.isfinite(r["loss"]) and r["sims_per_s"] > 0 for r in train_recs)
    assert min(r["val_loss"] for r in val_recs) == res.best_val_loss
    # The reloaded estimator is the returned one (best validation parameters).
    est = load_estimator(tmp_path)
    sim = TOY.simulate(jax.random.key(0), jnp.array([0.1, 0.2]))
    a = sample_posterior(res.estimator, jax.random.key(1), sim.data, sim.mask, sim.context, 16)
    b = sample_posterior(est, jax.random.key(1), sim.data, sim.mask, sim.context, 16)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    last = load_estimator(tmp_path / "checkpoint.msgpack", which="last")
    assert last.n_theta == 2
    with pytest.raises(ValueError, match="resume=True"):
        train(_config(), TOY.simulate, TOY.prior, tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"training\.learning_rate"):
        train(
            _config(learning_rate=0.5),
            TOY.simulate,
            TOY.prior,
            tmp_path,
            progress=False,
            resume=True,
        )


def test_resume_reproduces_uninterrupted_run(tmp_path, monkeypatch):
    """Train 2N steps straight vs N, stop, resume N: identical parameters (CPU, same seed)."""
    cfg = _config(steps=20, checkpoint_every=20, n_pilot=24)
    calls = _record_simulations(monkeypatch)
    straight = train(cfg, TOY.simulate, TOY.prior, tmp_path / "a", progress=False)
    first = train(cfg, TOY.simulate, TOY.prior, tmp_path / "b", progress=False, until_step=10)
    assert first.step == 10
    resumed = train(cfg, TOY.simulate, TOY.prior, tmp_path / "b", progress=False, resume=True)
    assert resumed.step == 20
    # Validation and pilot sets for the fresh runs; the resumed one reads its statistics.
    assert calls == [[16, 24], [16, 24], [16]]
    for a, b in zip(_params(straight), _params(resumed), strict=True):
        np.testing.assert_array_equal(a, b)
    hist_a = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    hist_b = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()

    def strip(lines):
        return [{k: v for k, v in json.loads(x).items() if k != "sims_per_s"} for x in lines]

    assert strip(hist_a) == strip(hist_b)
    assert resumed.best_val_loss == straight.best_val_loss


@pytest.mark.long
def test_init_from_starts_at_the_source_runs_best_parameters(tmp_path, monkeypatch):
    from flax import nnx

    from cigars.inference._nets import Statistic
    from cigars.io import read_checkpoint_metadata

    src = train(_config(steps=10), TOY.simulate, TOY.prior, tmp_path / "src", progress=False)
    other_seed = _config(steps=10).replace(seed=11)
    calls = _record_simulations(monkeypatch)
    # No steps: the run is exactly its starting point, parameters and statistics included.
    start = train(
        other_seed,
        TOY.simulate,
        TOY.prior,
        tmp_path / "start",
        init_from=tmp_path / "src",
        until_step=0,
        progress=False,
    )
    for a, b in zip(_params(src), _params(start), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(
        jax.tree.leaves(nnx.state(src.estimator, Statistic)),
        jax.tree.leaves(nnx.state(start.estimator, Statistic)),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    assert calls == [[16]]  # the statistics are the source's: no pilot set is simulated
    fresh = train(other_seed, TOY.simulate, TOY.prior, tmp_path / "fresh", until_step=0,
                  progress=False)  # fmt: skip
    assert not np.array_equal(_params(fresh)[0], _params(src)[0])
    # Fine-tuning moves on from there and records where it started.
    tuned = train(
        other_seed, TOY.simulate, TOY.prior, tmp_path / "tuned", init_from=tmp_path / "src",
        progress=False,
    )  # fmt: skip
    assert tuned.step == 10 and np.isfinite(tuned.best_val_loss)
    meta = read_checkpoint_metadata(tmp_path / "tuned" / "checkpoint.msgpack")
    assert meta["init_from"] == str(tmp_path / "src")
    wider = NPEConfig(seed=3, estimator=TINY.replace(hidden=32), training=other_seed.training)
    with pytest.raises(ValueError, match=r"another architecture: estimator\.hidden"):
        train(wider, TOY.simulate, TOY.prior, tmp_path / "w", init_from=tmp_path / "src",
              progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="no checkpoint"):
        train(other_seed, TOY.simulate, TOY.prior, tmp_path / "n", init_from=tmp_path / "nope",
              progress=False)  # fmt: skip


@pytest.mark.long
def test_stored_arrays_and_early_stopping(tmp_path):
    data = jax.jit(lambda k: simulate_batch(TOY.simulate, TOY.prior, k, 64))(jax.random.key(5))
    res = train(
        _config(steps=10), None, TOY.prior, tmp_path / "stored", dataset=data, progress=False
    )
    assert res.step == 10 and np.isfinite(res.best_val_loss)
    with pytest.raises(ValueError, match="more than n_val"):
        train(_config(n_val=64), None, TOY.prior, tmp_path / "x", dataset=data, progress=False)
    # A learning rate too small to change the float32 parameters: validation never improves.
    cfg = _config(steps=50, learning_rate=1e-30, val_every=1, patience=2, checkpoint_every=50)
    stop = train(cfg, TOY.simulate, TOY.prior, tmp_path / "stop", progress=False)
    assert stop.stopped_early and stop.step == 3
    again = train(cfg, TOY.simulate, TOY.prior, tmp_path / "stop", progress=False, resume=True)
    assert again.stopped_early and again.step == 3


def test_fit_objects_gathers_the_valid_rows_and_flags_surveys_that_do_not_fit():
    from cigars.inference import fit_objects

    sims = jax.jit(lambda k: simulate_batch(TOY.simulate, TOY.prior, k, 32))(jax.random.key(2))
    n = np.asarray(sims.mask).sum(1)
    assert n.min() <= 4 < n.max()  # the toy's surveys hold 2-8 objects
    for batch in (sims, jax.tree.map(np.asarray, sims)):  # traced (jnp) and host (np) paths
        out, fits = fit_objects(batch, 4)
        assert out.data.shape[1] == 4 and out.locals.shape[1] == 4
        np.testing.assert_array_equal(np.asarray(fits), n <= 4)
        np.testing.assert_array_equal(np.asarray(out.mask).sum(1), np.minimum(n, 4))
        for i in range(32):
            keep = min(n[i], 4)
            valid = np.asarray(sims.data[i])[np.asarray(sims.mask[i])][:keep]
            np.testing.assert_array_equal(np.asarray(out.data[i])[:keep], valid)
            assert np.asarray(out.mask[i])[:keep].all()


@pytest.mark.long
def test_loss_weights_leave_surveys_out_and_compaction_changes_nothing(key):
    from flax import nnx

    from cigars.inference import HierarchicalNPE, fit_objects

    sims = jax.jit(lambda k: simulate_batch(TOY.simulate, TOY.prior, k, 16))(jax.random.key(4))
    model = HierarchicalNPE.for_shapes(
        TINY, {"n_theta": 2, "n_local": 1, "n_feat": 2, "n_ctx": 1}, rngs=nnx.Rngs(0)
    )
    small, fits = fit_objects(sims, 5)
    f = np.asarray(fits)
    assert 0 < f.sum() < 16
    # Every valid object is in the local term (num_local covers n_max), so the loss is a
    # deterministic function of each survey's set of objects.
    full_subset = jax.tree.map(lambda a: a[f], sims)
    # jitted: run eagerly, each of the four losses compiles its primitives one by one (4x slower)
    loss = nnx.jit(lambda m, s, w: m.loss(s, key, 8, weight=w)[0])
    expected = loss(model, full_subset, None)
    weighted = loss(model, small, fits)
    np.testing.assert_allclose(weighted, expected, rtol=1e-5)
    # and weights of one are the plain mean
    np.testing.assert_allclose(loss(model, sims, jnp.ones(16)), loss(model, sims, None), rtol=1e-6)


def test_training_on_the_surveys_that_fit(tmp_path):
    from cigars.io import read_checkpoint_metadata

    res = train(_config(max_objects=5, steps=10), TOY.simulate, TOY.prior, tmp_path / "fit")
    kept = [r["kept"] for r in res.history if "kept" in r]
    assert kept and all(0 < k < 1 for k in kept)  # 2-8 objects per survey: some left out
    meta = read_checkpoint_metadata(tmp_path / "fit" / "checkpoint.msgpack")
    n_fit, n_val = meta["validation_surveys_fitting"]
    assert n_val == 16 and 8 <= n_fit < 16
    assert np.isfinite(res.best_val_loss)
    # the message counts the surveys' objects, not the rows they were compacted to
    with pytest.raises(
        ValueError, match=r"no validation survey has at most .* smallest has [2-8]\)"
    ):
        train(_config(max_objects=1), TOY.simulate, TOY.prior, tmp_path / "none", progress=False)


def test_config_validation():
    with pytest.raises(ValueError, match="warmup_steps"):
        TrainingConfig(steps=10, warmup_steps=10).validate()
    with pytest.raises(ValueError, match="num_heads"):
        EstimatorConfig(pooling="attention", embed_dim=10, num_heads=4).validate()
