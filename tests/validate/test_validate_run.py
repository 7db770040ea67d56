"""Validation of a sampler on fresh simulations: the toy's exact posterior passes, a miscalibrated
one fails; the NPE gives the same global draws on compacted surveys; CLI errors and end to end."""

from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

from cigars.cli import main
from cigars.inference import (
    EstimatorConfig,
    HierarchicalNPE,
    LinearGaussianToy,
    Simulation,
    sample_posterior,
)
from cigars.validate import collect_draws, diagnose, read_report
from cigars.validate._run import _compact

ROOT = Path(__file__).resolve().parents[2]
TOY = LinearGaussianToy(n_max=16, n_min=4)


def exact_sampler(scale, key, data, mask, context, num_samples):
    """The toy's exact joint posterior, its spread around the mean scaled by ``scale``."""
    sim = Simulation(
        theta=jnp.zeros(2),
        locals=jnp.zeros(mask.shape + (1,)),
        data=data,
        mask=mask,
        context=context,
    )
    theta, local = TOY.sample_posterior(key, sim, num_samples)
    theta = theta.mean(0) + scale * (theta - theta.mean(0))
    local = jnp.nanmean(local, 0) + scale * (local - jnp.nanmean(local, 0))
    return theta, local


def _toy_draws(scale, max_objects=None):
    """300 toy surveys (seed 7) through the exact posterior with its spread scaled."""
    return collect_draws(
        jax.jit(functools.partial(exact_sampler, scale), static_argnums=4),
        TOY.simulate,
        TOY.prior,
        names=("mu", "delta"),
        local_names=("l",),
        n_sims=300,
        num_samples=60,
        seed=7,
        max_objects=max_objects,
        progress=False,
    )


@pytest.fixture(scope="module")
def exact_draws():
    return {scale: _toy_draws(scale) for scale in (1.0, 0.5)}


def test_exact_posterior_passes_every_check(exact_draws):
    draws = exact_draws[1.0]
    assert draws.theta_draws.shape == (300, 60, 2)
    assert draws.local_ranks.shape[1] == 1 and 300 * 4 <= draws.local_ranks.shape[0] <= 300 * 16
    assert not draws.has_spec.any()  # no spec_flag column given
    report = diagnose(draws)
    assert report["verdict"]["passed"], report["verdict"]
    assert "photoz" not in report  # no local parameter called z


def test_overconfident_posterior_fails(exact_draws):
    report = diagnose(exact_draws[0.5])
    failed = set(report["verdict"]["failed"])
    assert {"sbc: mu", "sbc: delta", "coverage: mu", "coverage: delta"} <= failed
    assert {"tarp: joint globals", "coverage: l (per object)"} <= failed


def test_survey_truths_follow_the_keys(exact_draws):
    from cigars.validate import survey_keys

    k_theta, k_sim, _ = survey_keys(7, 3)
    theta = TOY.prior.sample(k_theta)
    np.testing.assert_allclose(exact_draws[1.0].theta_true[3], theta, rtol=1e-6)
    sim = TOY.simulate(k_sim, theta)
    n = int(sim.mask.sum())
    first = int((exact_draws[1.0].survey < 3).sum())
    got = exact_draws[1.0].local_true[first : first + n, 0]
    np.testing.assert_allclose(got, np.asarray(sim.locals)[np.asarray(sim.mask), 0], rtol=1e-6)


def test_surveys_with_too_many_objects_are_skipped_and_the_exact_posterior_still_passes(
    exact_draws,
):
    """A run trained with max_objects is validated on the surveys it is for: the truncation
    is a function of the data, so the exact posterior stays calibrated on them."""
    from cigars.validate import survey_keys

    draws = _toy_draws(1.0, max_objects=9)
    keys = draws.survey_key
    assert keys.shape == (300,) and keys[-1] > 299  # some of the 4-16-object surveys skipped
    counts = np.bincount(draws.survey, minlength=300)
    assert counts.max() <= 9 and counts.min() >= 4
    # the surveys kept are the ones with the same keys in the unskipped run
    full = exact_draws[1.0]
    common = keys[keys < 300]
    np.testing.assert_allclose(draws.theta_true[: common.size], full.theta_true[common])
    for i in set(range(keys[-1])) - set(keys.tolist()):
        k_theta, k_sim, _ = survey_keys(7, i)
        assert int(TOY.simulate(k_sim, TOY.prior.sample(k_theta)).mask.sum()) > 9
    assert diagnose(draws)["verdict"]["passed"]


def test_a_max_objects_no_survey_meets_is_an_error_not_an_endless_loop():
    from cigars.validate import fitting_surveys

    surveys = fitting_surveys(jax.jit(TOY.simulate), TOY.prior, 7, 3, max_skipped=20)
    with pytest.raises(RuntimeError, match="21 of 21 simulated surveys had more than"):
        next(surveys)  # the toy's surveys have 4-16 objects


def test_compacted_surveys_give_the_same_global_draws(key):
    """The NPE ignores padded slots and object order: valid rows first, padded to 64 slots."""
    from flax import nnx

    toy = LinearGaussianToy(n_max=100, n_min=3)
    small = EstimatorConfig(
        embed_dim=8,
        summary_dim=8,
        hidden=16,
        depth=1,
        flow_layers=2,
        local_flow_layers=1,
        flow_hidden=16,
        flow_depth=1,
        num_bins=4,
    )
    model = HierarchicalNPE(small, n_theta=2, n_local=1, n_feat=2, n_ctx=1, rngs=nnx.Rngs(0))
    k_par, k_sim, k_post = jax.random.split(key, 3)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(k_par, len(leaves))
    leaves = [0.3 * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves, strict=True)]
    estimator = nnx.merge(graphdef, jax.tree.unflatten(treedef, leaves), rest)
    sim = toy.simulate(k_sim, jnp.array([0.3, -0.2]))
    # At most 20 valid objects, scattered over the 100 slots.
    sim = sim.replace(mask=sim.mask & (jnp.cumsum(sim.mask) <= 20))
    data, mask, context, idx = _compact(sim.data, sim.mask, sim.context)
    assert data.shape[0] == 64 and mask.sum() == sim.mask.sum()
    np.testing.assert_array_equal(data[: idx.size], np.asarray(sim.data)[np.asarray(sim.mask)])
    full = sample_posterior(estimator, k_post, sim.data, sim.mask, sim.context, 50)
    small = sample_posterior(estimator, k_post, data, mask, context, 50)
    assert np.std(np.asarray(full[0]), axis=0).min() > 0.01  # draws that can differ
    np.testing.assert_allclose(small[0], full[0], rtol=1e-4, atol=1e-5)
    assert np.all(np.isfinite(small[1][:, : idx.size]))


def test_validate_rejects_what_is_not_a_run(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nothing"), "-o", str(tmp_path / "r")]) == 2
    assert "not a cigars training run" in capsys.readouterr().err
    # A run whose recorded bank has gone.
    exp = yaml.safe_load((ROOT / "configs" / "quickstart.yaml").read_text())
    from cigars.config import Experiment, from_dict, to_dict

    record = {"bank": str(tmp_path / "gone.h5"), "experiment": to_dict(from_dict(Experiment, exp))}
    run = tmp_path / "run"
    run.mkdir()
    (run / "experiment.yaml").write_text(yaml.safe_dump(record))
    assert main(["validate", str(run), "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "gone.h5" in err and "missing" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_validate_end_to_end_on_a_tiny_run(tmp_path, capsys, monkeypatch, tiny_experiment):
    """bank -> train (tiny) -> validate through the CLI, with the real simulator."""
    monkeypatch.chdir(ROOT)
    config, _ = tiny_experiment(steps=6)
    bank, run, out = tmp_path / "bank.h5", tmp_path / "run", tmp_path / "report"
    assert main(["bank", str(config), "-o", str(bank), "--n", "3000", "--quiet"]) == 0
    assert main(["train", str(config), "--bank", str(bank), "-o", str(run), "--quiet"]) == 0
    argv = ["validate", str(run), "-o", str(out), "--n-sims", "4", "--num-samples", "20"]
    assert main([*argv, "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "report written" in printed and "sbc: Om0" in printed
    report = read_report(out)
    for section in ("sbc", "coverage", "tarp", "recovery", "photoz", "checks", "verdict"):
        assert section in report
    assert report["n_sims"] == 4 and report["num_samples"] == 20
    assert len(report["sbc"]["globals"]) == 13
    for name in report["figures"]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "draws.npz").is_file()
