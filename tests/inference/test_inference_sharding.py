"""Data-parallel training over two (forced) host devices equals single-device training."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import jax
import pytest

SCRIPT = textwrap.dedent(
    """
    import json, sys, tempfile
    import jax, numpy as np
    from flax import nnx
    from cigars.inference import (EstimatorConfig, LinearGaussianToy, NPEConfig, TrainingConfig,
                                  train)

    assert len(jax.devices()) == 2, jax.devices()
    toy = LinearGaussianToy(n_max=8, n_min=2)
    est = EstimatorConfig(embed_dim=8, summary_dim=8, hidden=16, depth=1, flow_layers=1,
                          local_flow_layers=1, flow_hidden=16, flow_depth=1, num_bins=4)
    def cfg(batch, max_objects=None):
        return NPEConfig(seed=1, estimator=est, training=TrainingConfig(
            steps=6, batch_size=batch, warmup_steps=1, n_pilot=16, n_val=16, val_every=3,
            log_every=3, checkpoint_every=6, local_subsample=4, max_objects=max_objects))
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        one = train(cfg(8), toy.simulate, toy.prior, tmp + "/one", progress=False,
                    devices=jax.devices()[:1])
        two = train(cfg(8), toy.simulate, toy.prior, tmp + "/two", progress=False)
        leaves = lambda r: jax.tree.leaves(nnx.state(r.estimator, nnx.Param))
        out["max_param_diff"] = max(float(np.max(np.abs(a - b)))
                                    for a, b in zip(leaves(one), leaves(two)))
        out["max_param_change"] = max(float(np.max(np.abs(a))) for a in leaves(one))
        out["loss_one"] = [r["loss"] for r in one.history if "loss" in r]
        out["loss_two"] = [r["loss"] for r in two.history if "loss" in r]
        # the same with the surveys' objects gathered into 5 rows (some surveys left out)
        one = train(cfg(8, 5), toy.simulate, toy.prior, tmp + "/one5", progress=False,
                    devices=jax.devices()[:1])
        two = train(cfg(8, 5), toy.simulate, toy.prior, tmp + "/two5", progress=False)
        out["max_param_diff_fit"] = max(float(np.max(np.abs(a - b)))
                                        for a, b in zip(leaves(one), leaves(two)))
        out["kept"] = [r["kept"] for r in two.history if "kept" in r]
        # The compiled two-device step really is partitioned: gradients are all-reduced.
        from cigars.inference import _train
        from jax.sharding import Mesh, NamedSharding, PartitionSpec
        model, graphdef, _, state = _train._fresh(
            cfg(8), {"n_theta": 2, "n_local": 1, "n_feat": 2, "n_ctx": 1, "n_max": 8},
            (np.full(2, -np.inf), np.full(2, np.inf)), None, jax.random.key(0))
        step, _ = _train._compiled(graphdef, cfg(8).training, toy.simulate, toy.prior,
                                   tuple(jax.devices()), False)
        mesh = Mesh(np.asarray(jax.devices()), ("batch",))
        state = jax.device_put(state, NamedSharding(mesh, PartitionSpec()))
        hlo = step.lower(state, jax.random.key(0), None).compile().as_text()
        out["all_reduce"] = hlo.count("all-reduce")
        try:
            train(cfg(7), toy.simulate, toy.prior, tmp + "/bad", progress=False)
        except ValueError as err:
            out["error"] = str(err)
    print("RESULT" + json.dumps(out))
    """
)


@pytest.mark.long
def test_two_device_data_parallel_matches_single_device():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    # the tests' compilation cache (tests/conftest.py): the script compiles its step twice
    env.setdefault("JAX_COMPILATION_CACHE_DIR", jax.config.jax_compilation_cache_dir)
    env.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(jax.config.jax_compilation_cache_max_size))
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT"))
    out = json.loads(line[len("RESULT") :])
    assert out["max_param_change"] > 0
    assert out["max_param_diff"] < 1e-5
    assert out["max_param_diff_fit"] < 1e-5 and all(0 < k < 1 for k in out["kept"])
    assert len(out["loss_one"]) == 2
    for a, b in zip(out["loss_one"], out["loss_two"], strict=True):
        assert abs(a - b) < 1e-5 * max(1.0, abs(a))
    assert "divisible by the number of devices (2)" in out["error"]
    assert out["all_reduce"] > 0
