"""The step of train(): no implicit host-device transfer, no recompilation, donated state."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from inference_tiny import TINY, TOY
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from cigars.inference import (
    HierarchicalNPE,
    Statistic,
    TrainingConfig,
    TrainState,
    check_simulator,
    make_optimizer,
)
from cigars.inference._train import _compiled

CFG = TrainingConfig(
    steps=12, batch_size=8, warmup_steps=2, n_pilot=16, n_val=16, val_every=6, log_every=3,
    checkpoint_every=12, local_subsample=4,
)  # fmt: skip


def _state():
    shapes = check_simulator(TOY.simulate, TOY.prior)
    model = HierarchicalNPE(
        TINY,
        n_theta=shapes["n_theta"],
        n_local=shapes["n_local"],
        n_feat=shapes["n_feat"],
        n_ctx=shapes["n_ctx"],
        rngs=nnx.Rngs(0),
    )
    graphdef, params, stats = nnx.split(model, nnx.Param, Statistic)
    tx = make_optimizer(CFG)
    state = TrainState(params=params, stats=stats, opt_state=tx.init(params), step=jnp.int32(0))
    replicated = NamedSharding(Mesh(np.asarray(jax.devices()), ("batch",)), P())
    return graphdef, jax.device_put(state, replicated)  # as train() places it


def test_step_has_no_implicit_transfers_recompiles_or_copies_of_the_state():
    graphdef, state = _state()
    step, _ = _compiled(graphdef, CFG, TOY.simulate, TOY.prior, tuple(jax.devices()), False)
    key = jax.device_put(jax.random.key(0))
    state, _ = step(state, key, None)  # compile
    with jax.transfer_guard("disallow"):
        for _ in range(4):
            old = jax.tree.leaves(state.params)
            state, metrics = step(state, key, None)
            assert all(a.is_deleted() for a in old), "the step did not donate its state"
    assert step._cache_size() == 1
    assert int(state.step) == 5 and np.isfinite(float(metrics["loss"]))
