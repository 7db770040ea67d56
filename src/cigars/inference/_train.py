"""Training loop of the hierarchical NPE: fresh simulations inside a jitted, data-parallel step.

The optimiser step is a pure function ``(state, key, source) -> (state, metrics)`` over a
:class:`TrainState` of array PyTrees (network parameters, fixed statistics, optax state, step
count); the network is rebuilt with ``nnx.merge`` inside the traced function. ``source`` is
None when simulating on the fly, or the stored simulations (an argument, so they are not baked
into the program as constants). Each step draws ``batch_size`` parameter vectors from the prior
and simulates them inside the same XLA program (or gathers a random minibatch of stored
simulations), so no data cross the host-device boundary in the loop. The step key is
``fold_in(key, step)``, which makes a resumed run reproduce an uninterrupted one. With several
local devices the batch axis is sharded over a one-axis ``Mesh`` and the state is replicated;
XLA inserts the gradient all-reduce.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx, struct
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from cigars._config import from_dict, to_dict
from cigars._types import Array, Key
from cigars.inference._configs import NPEConfig, TrainingConfig
from cigars.inference._contract import (
    Prior,
    Simulation,
    as_simulation,
    check_simulator,
    simulation_shapes,
)
from cigars.inference._lookup import ReferenceSet
from cigars.inference._nets import Statistic
from cigars.inference._npe import HierarchicalNPE
from cigars.inference._posterior import EnsembleNPE
from cigars.io._checkpoint import load_checkpoint, read_checkpoint_metadata, save_checkpoint
from cigars.io._provenance import atomic_write_text, provenance, write_run_metadata

__all__ = [
    "TrainResult",
    "TrainState",
    "load_estimator",
    "make_optimizer",
    "make_train_step",
    "plot_loss_curve",
    "simulate_batch",
    "train",
]

CHECKPOINT_NAME = "checkpoint.msgpack"
ENSEMBLE_NAME = "ensemble.json"
"""An ensemble folder's member list (``cigars ensemble``): ``{"members": [folder, ...]}``."""
METRICS_NAME = "metrics.jsonl"
LOSS_PLOT_NAME = "loss_curve.png"


@struct.dataclass
class TrainState:
    """Everything the optimiser step changes or reads, as array PyTrees.

    Attributes:
        params: trainable network parameters (``nnx.State`` of ``nnx.Param``).
        stats: fixed standardisation statistics (``nnx.State`` of ``Statistic``).
        opt_state: optax state.
        step: number of optimiser steps taken (int32 scalar).
    """

    params: Any
    stats: Any
    opt_state: Any
    step: Array


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        estimator: the network with the parameters of the best validation loss.
        history: every metrics record written to ``metrics.jsonl``.
        best_val_loss: the best validation loss (``inf`` if never validated).
        step: optimiser steps completed.
        stopped_early: whether early stopping ended the run.
        run_dir: the output folder.
    """

    estimator: HierarchicalNPE
    history: list[dict[str, Any]]
    best_val_loss: float
    step: int
    stopped_early: bool
    run_dir: Path


def make_optimizer(cfg: TrainingConfig) -> optax.GradientTransformation:
    """AdamW with linear warm-up and cosine decay, after global-norm gradient clipping."""
    return optax.chain(
        optax.clip_by_global_norm(cfg.clip_norm),
        optax.adamw(_schedule(cfg), weight_decay=cfg.weight_decay),
    )


def _schedule(cfg: TrainingConfig):
    """The learning rate by step: linear warm-up from 0, then cosine decay to the final fraction."""
    return optax.warmup_cosine_decay_schedule(
        0.0,
        cfg.learning_rate,
        cfg.warmup_steps,
        cfg.steps,
        cfg.learning_rate * cfg.final_lr_fraction,
    )


def simulate_batch(
    simulate: Callable[[Key, Array], Any], prior: Prior, key: Key, batch_size: int, sharding=None
) -> Simulation:
    """Draw ``batch_size`` parameter vectors from the prior and simulate each (vmapped).

    Args:
        simulate: the simulator ``simulate(key, theta)`` (see the package docstring).
        prior: the prior over the globals.
        key: PRNG key.
        batch_size: number of surveys.
        sharding: optional sharding of the batch axis (applied to the per-survey keys, so each
            device simulates its own shard).
    """
    k_theta, k_sim = jax.random.split(key)
    keys_theta = jax.random.split(k_theta, batch_size)
    keys_sim = jax.random.split(k_sim, batch_size)
    if sharding is not None:
        keys_theta = jax.lax.with_sharding_constraint(keys_theta, sharding)
        keys_sim = jax.lax.with_sharding_constraint(keys_sim, sharding)
    theta = jax.vmap(prior.sample)(keys_theta)
    return jax.vmap(lambda k, t: as_simulation(simulate(k, t)))(keys_sim, theta)


def fit_objects(sims: Simulation, max_objects: int) -> tuple[Simulation, Array]:
    """Each survey's valid objects gathered into the first ``max_objects`` rows (in order).

    Args:
        sims: a batch of simulations (any leading axes).
        max_objects: rows kept (static).

    Returns:
        ``(sims, fits)``: the simulations with ``max_objects`` object rows, and whether each
        survey's valid objects all fit (a survey that does not keeps only its first
        ``max_objects``; train on it with weight 0).
    """
    xp = jnp if isinstance(sims.mask, jax.Array) else np
    fits = xp.sum(sims.mask, axis=-1) <= max_objects
    if sims.mask.shape[-1] <= max_objects:
        return sims, fits
    order = xp.argsort(~sims.mask, axis=-1, stable=True)[..., :max_objects]

    def rows(a):
        return xp.take_along_axis(a, order[..., None], axis=-2)

    out = sims.replace(
        locals=rows(sims.locals),
        data=rows(sims.data),
        mask=xp.take_along_axis(sims.mask, order, axis=-1),
        context=rows(sims.context),
    )
    return out, fits


def _fitting(sims: Simulation, max_objects: int | None, what: str) -> Simulation:
    """Host-side: the stored surveys whose valid objects fit, compacted (validation, pilot)."""
    if max_objects is None:
        return sims
    sims = jax.tree.map(np.asarray, sims)
    smallest = int(sims.mask.sum(-1).min())  # before compaction, which caps the counts
    sims, fits = fit_objects(sims, max_objects)
    if not fits.any():
        raise ValueError(
            f"no {what} survey has at most training.max_objects = {max_objects} objects "
            f"(the smallest has {smallest})"
        )
    return jax.tree.map(lambda a: a[fits], sims)


def _gather_batch(dataset: Simulation, key: Key, batch_size: int) -> Simulation:
    n = dataset.mask.shape[0]
    idx = jax.random.randint(key, (batch_size,), 0, n)
    return jax.tree.map(lambda a: a[idx], dataset)


def make_train_step(
    graphdef: nnx.GraphDef,
    tx: optax.GradientTransformation,
    cfg: TrainingConfig,
    draw: Callable[[Key, Any], Simulation],
    batch_sharding=None,
) -> Callable[[TrainState, Key, Any], tuple[TrainState, dict[str, Array]]]:
    """The pure optimiser step ``step(state, key, source) -> (state, metrics)``.

    Args:
        graphdef: the estimator's graph definition (from ``nnx.split``).
        tx: the optax transformation.
        cfg: training settings (local subsample size and weight; the schedule for logging).
        draw: ``draw(key, source) -> Simulation`` batch (simulate, or gather from ``source``).
        batch_sharding: sharding constraint for the batch axis (data parallelism), or None.

    Returns:
        The un-jitted step. ``key`` is the run's base key; the step folds in ``state.step``.
    """
    schedule = _schedule(cfg)

    def step(state: TrainState, key: Key, source: Any):
        k_draw, k_loss = jax.random.split(jax.random.fold_in(key, state.step))
        batch = draw(k_draw, source)
        if batch_sharding is not None:
            batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
        weight = None
        if cfg.max_objects is not None:
            batch, weight = fit_objects(batch, cfg.max_objects)

        def loss_fn(params):
            model = nnx.merge(graphdef, params, state.stats)
            return model.loss(batch, k_loss, cfg.local_subsample, cfg.local_weight, weight)

        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = {
            "loss": loss,
            **aux,
            "grad_norm": optax.tree.norm(grads),
            "lr": schedule(state.step),
        }
        if weight is not None:
            metrics["kept"] = jnp.mean(weight.astype(loss.dtype))
        new = state.replace(params=params, opt_state=opt_state, step=state.step + 1)
        return new, metrics

    return step


def _eval_fn(graphdef, cfg: TrainingConfig, batch_sharding):
    def evaluate(params, stats, val: Simulation, key):
        model = nnx.merge(graphdef, params, stats)

        def one(args):
            chunk, k = args
            if batch_sharding is not None:
                chunk = jax.lax.with_sharding_constraint(chunk, batch_sharding)
            loss, aux = model.loss(chunk, k, cfg.local_subsample, cfg.local_weight)
            return loss, aux["global_nll"], aux["local_nll"]

        keys = jax.random.split(key, val.mask.shape[0])
        loss, g, loc = jax.lax.map(one, (val, keys))
        return {"val_loss": loss.mean(), "val_global_nll": g.mean(), "val_local_nll": loc.mean()}

    return evaluate


def _chunks(sim: Simulation, size: int) -> Simulation:
    """Reshape a batch of simulations to ``(n_chunks, size, ...)`` (dropping the remainder)."""
    n = (sim.mask.shape[0] // size) * size
    return jax.tree.map(lambda a: a[:n].reshape((n // size, size) + a.shape[1:]), sim)


def _cached(factory):
    """``functools.lru_cache`` that falls back to no caching for unhashable arguments.

    Re-using the jitted functions lets repeated :func:`train` calls in one process (resuming,
    sweeps, tests) skip recompilation.
    """
    cached = functools.lru_cache(maxsize=8)(factory)

    @functools.wraps(factory)
    def wrapper(*args):
        try:
            hash(args)
        except TypeError:
            return factory(*args)
        return cached(*args)

    return wrapper


@_cached
def _batch_simulator(simulate, prior, batch_size):
    return jax.jit(lambda k: simulate_batch(simulate, prior, k, batch_size))


@_cached
def _compiled(graphdef, cfg: TrainingConfig, simulate, prior, devices: tuple, stored: bool):
    """The jitted train step and validation function for one configuration and device set."""
    mesh = Mesh(np.asarray(devices), ("batch",))
    replicated = NamedSharding(mesh, P())
    batch_sharding = NamedSharding(mesh, P("batch"))
    if stored:

        def draw(k, src):
            return _gather_batch(src, k, cfg.batch_size)

    else:

        def draw(k, _src):
            return simulate_batch(simulate, prior, k, cfg.batch_size, batch_sharding)

    step = jax.jit(
        make_train_step(graphdef, make_optimizer(cfg), cfg, draw, batch_sharding),
        donate_argnums=0,
        out_shardings=(replicated, replicated),
    )
    evaluate = jax.jit(_eval_fn(graphdef, cfg, batch_sharding), out_shardings=replicated)
    return step, evaluate


def _simulate_many(simulate, prior, jobs, batch_size) -> list[Simulation]:
    """``n`` simulations for each ``(key, n)`` of ``jobs``, as numpy arrays on the host.

    Drawn in jitted batches of ``batch_size`` (one compilation for all the jobs).
    """
    fn = _batch_simulator(simulate, prior, batch_size)
    out = []
    for key, n in jobs:
        parts = [jax.device_get(fn(jax.random.fold_in(key, i))) for i in range(-(-n // batch_size))]
        out.append(jax.tree.map(lambda *xs, n=n: np.concatenate(xs)[:n], *parts))
    return out


def _slice(sim: Simulation, start: int, stop: int | None) -> Simulation:
    return jax.tree.map(lambda a: a[start:stop], sim)


def _write_metrics(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("a") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")


def _read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_loss_curve(history: list[dict[str, Any]], path: str | Path) -> None:
    """Write the training and validation loss curves to a PNG (matplotlib Agg, no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    tr = [(r["step"], r["loss"]) for r in history if "loss" in r]
    va = [(r["step"], r["val_loss"]) for r in history if "val_loss" in r]
    if tr:
        ax.plot(*zip(*tr, strict=True), label="train", lw=1)
    if va:
        ax.plot(*zip(*va, strict=True), "o-", label="validation", ms=3)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (NLL, standardised units)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(str(path))


def _build(config: NPEConfig, shapes: dict[str, int], theta_bounds, local_bounds, key):
    """A freshly initialised estimator (initialised inside one jit: one compilation)."""
    return nnx.jit(lambda k: _construct(config, shapes, theta_bounds, local_bounds, k))(key)


def _construct(config: NPEConfig, shapes: dict[str, int], theta_bounds, local_bounds, key):
    return HierarchicalNPE.for_shapes(
        config.estimator,
        shapes,
        theta_bounds=theta_bounds,
        local_bounds=local_bounds,
        rngs=nnx.Rngs(params=key),
    )


def _copy(tree):
    return jax.tree.map(jnp.copy, tree)


def _checkpoint_tree(state: TrainState, key: Key, best: dict[str, Any], stopped) -> dict[str, Any]:
    return {
        "state": state,
        "key": key,
        "best_params": best["params"],
        "best_val": np.float64(best["val"]),
        "bad_evals": np.int64(best["bad"]),
        "stopped": np.bool_(stopped),
    }


def _fresh(config: NPEConfig, shapes, theta_bounds, local_bounds, key):
    """A freshly initialised estimator, its split state and a checkpoint template."""
    model = _build(config, shapes, theta_bounds, local_bounds, key)
    graphdef, params, stats = nnx.split(model, nnx.Param, Statistic)
    tx = make_optimizer(config.training)
    state = TrainState(params=params, stats=stats, opt_state=tx.init(params), step=jnp.int32(0))
    return model, graphdef, tx, state


def _meta(config: NPEConfig, shapes, model: HierarchicalNPE) -> dict[str, Any]:
    return {
        "kind": "hierarchical_npe",
        "config": to_dict(config),
        "shapes": shapes,
        "theta_bounds": [list(model.theta_lower), list(model.theta_upper)],
        "local_bounds": [list(model.local_lower), list(model.local_upper)],
        "provenance": provenance(),
    }


def train(
    config: NPEConfig,
    simulate: Callable[[Key, Array], Any] | None,
    prior: Prior,
    run_dir: str | Path,
    *,
    local_bounds: tuple[Any, Any] | None = None,
    dataset: Simulation | None = None,
    val_dataset: Simulation | None = None,
    resume: bool = False,
    until_step: int | None = None,
    init_from: str | Path | None = None,
    progress: bool = True,
    devices: list[Any] | None = None,
    reference: ReferenceSet | None = None,
) -> TrainResult:
    """Train a :class:`HierarchicalNPE` on simulations drawn on the fly (or stored ones).

    Outputs in ``run_dir``: ``config.yaml`` and ``provenance.json``; ``metrics.jsonl`` (one JSON
    record per ``log_every`` steps and per validation); ``checkpoint.msgpack`` (every
    ``checkpoint_every`` steps and at the end: parameters, optimiser state, step, base key,
    standardisation statistics, early-stopping state, best parameters, config and versions);
    ``loss_curve.png``.

    Args:
        config: architecture, schedule and seed.
        simulate: ``simulate(key, theta) -> Simulation`` (or the tuple form); may be None when
            ``dataset`` is given.
        prior: the prior over the globals (``sample``, ``log_prob``, ``lower``, ``upper``).
        run_dir: output folder.
        local_bounds: ``(lower, upper)`` support bounds of the local latents (default: none).
        dataset: stored simulations (leading axis = simulation) to train from instead of
            simulating; its last ``n_val`` rows are the validation set unless ``val_dataset``.
        val_dataset: stored validation simulations (with ``dataset``).
        resume: continue from ``run_dir/checkpoint.msgpack`` (same config required).
        until_step: stop (with a checkpoint) after this many total steps, e.g. to split a run.
        init_from: a run folder or checkpoint whose best parameters and standardisation
            statistics start this run (fine-tuning with a fresh optimiser and schedule); its
            estimator architecture, data shapes and bounds must equal this run's. Ignored when
            resuming from an existing checkpoint, which already holds the parameters.
        progress: show a tqdm progress bar with the loss and simulations per second.
        devices: devices to shard the batch over (default: all local devices).
        reference: the reference set of ``estimator.reference_lookup`` (required with it;
            its arrays are stored with the statistics, so a trained run does not need it).

    Returns:
        A :class:`TrainResult` with the best-validation estimator.

    Raises:
        ValueError: for an inconsistent simulator/prior, a batch size not divisible by the
            number of devices, an existing checkpoint without ``resume``, a config that does
            not match the checkpoint being resumed, or an ``init_from`` run of another
            architecture or problem.
    """
    cfg = config.training
    run_dir = Path(run_dir)
    ckpt_path = run_dir / CHECKPOINT_NAME
    metrics_path = run_dir / METRICS_NAME
    if ckpt_path.exists() and not resume:
        raise ValueError(f"{ckpt_path} exists; pass resume=True or choose a new run_dir")
    restoring = resume and ckpt_path.exists()
    if restoring:
        # through the config class: options added since the checkpoint take their defaults
        old_config = to_dict(
            from_dict(NPEConfig, read_checkpoint_metadata(ckpt_path).get("config", {}))
        )
        if old_config != to_dict(config):
            diff = _config_diff(old_config, to_dict(config))
            raise ValueError(f"resume: config differs from the checkpoint's at {diff}")
    devices = list(devices) if devices is not None else jax.devices()
    if cfg.batch_size % len(devices):
        raise ValueError(
            f"batch_size ({cfg.batch_size}) must be divisible by the number of devices "
            f"({len(devices)})"
        )
    mesh = Mesh(np.asarray(devices), ("batch",))
    replicated = NamedSharding(mesh, P())

    key = jax.random.key(config.seed)
    k_init, k_pilot, k_val, k_train = jax.random.split(key, 4)

    # -- simulations for the statistics and validation --------------------------------------
    # The standardisation statistics come from a pilot set, unless a checkpoint (resumed, or
    # ``init_from``) provides them: then no pilot is simulated.
    fit_pilot = init_from is None and not restoring
    if dataset is None:
        if simulate is None:
            raise ValueError("train: give either simulate or dataset")
        if cfg.n_val < cfg.batch_size:
            raise ValueError(f"n_val ({cfg.n_val}) must be at least batch_size ({cfg.batch_size})")
        shapes = check_simulator(simulate, prior)
        jobs = [(k_val, cfg.n_val)] + ([(k_pilot, cfg.n_pilot)] if fit_pilot else [])
        val, *pilot = _simulate_many(simulate, prior, jobs, cfg.batch_size)
        pilot = pilot[0] if pilot else None
        source = None

    else:
        dataset = as_simulation(dataset)
        shapes = simulation_shapes(_first(dataset))
        if val_dataset is None:
            if dataset.mask.shape[0] <= cfg.n_val:
                raise ValueError(
                    f"dataset has {dataset.mask.shape[0]} simulations, need more than n_val "
                    f"({cfg.n_val})"
                )
            val = _slice(dataset, -cfg.n_val, None)
            dataset = _slice(dataset, 0, -cfg.n_val)
        else:
            val = as_simulation(val_dataset)
        if val.mask.shape[0] < cfg.batch_size:
            raise ValueError(
                f"validation set ({val.mask.shape[0]}) smaller than batch_size ({cfg.batch_size})"
            )
        # The training set moves to the devices once. The validation and pilot slices are
        # copied out of it, so that the host arrays can be freed when the caller holds no
        # other reference (train_experiment does not): a stored set then occupies host memory
        # once, not twice.
        pilot = jax.tree.map(np.array, _slice(dataset, 0, cfg.n_pilot))
        val = jax.tree.map(np.array, val)
        source = jax.device_put(dataset, replicated)
        del dataset

    if cfg.max_objects is not None:  # the surveys the estimator is for (exactly: see config)
        n_val = val.mask.shape[0]
        val = _fitting(val, cfg.max_objects, "validation")
        if val.mask.shape[0] < cfg.batch_size:
            raise ValueError(
                f"only {val.mask.shape[0]} of {n_val} validation surveys have at most "
                f"training.max_objects = {cfg.max_objects} objects, fewer than batch_size "
                f"({cfg.batch_size}): raise max_objects or n_val"
            )
        pilot = None if pilot is None else _fitting(pilot, cfg.max_objects, "pilot")
    if config.estimator.reference_lookup != (reference is not None):
        raise ValueError(
            "estimator.reference_lookup needs a reference set (train(..., reference=...))"
            if reference is None
            else "a reference set was given but estimator.reference_lookup is false"
        )
    if reference is not None:
        shapes = {**shapes, "reference": reference.spec()}
    theta_bounds = (np.asarray(prior.lower, float), np.asarray(prior.upper, float))
    model, graphdef, tx, state = _fresh(config, shapes, theta_bounds, local_bounds, k_init)
    meta = _meta(config, shapes, model)
    if cfg.max_objects is not None:
        meta["validation_surveys_fitting"] = [int(val.mask.shape[0]), int(n_val)]
    if fit_pilot:
        model.fit_statistics(pilot, reference)
        state = state.replace(stats=nnx.state(model, Statistic))
    elif not restoring:
        params, stats = _initial_state(init_from, config, meta)
        meta["init_from"] = str(init_from)
        state = state.replace(params=params, stats=stats, opt_state=tx.init(params))
    best = {"params": _copy(state.params), "val": np.inf, "bad": 0}
    stopped = False

    history: list[dict[str, Any]] = []
    start = 0
    if restoring:
        old = read_checkpoint_metadata(ckpt_path)
        _check_same_problem(old, meta, f"resume: {ckpt_path}")
        if "init_from" in old:
            meta["init_from"] = old["init_from"]
        restored, _ = load_checkpoint(ckpt_path, _checkpoint_tree(state, k_train, best, stopped))
        state, k_train = restored["state"], restored["key"]
        best = {
            "params": restored["best_params"],
            "val": float(restored["best_val"]),
            "bad": int(restored["bad_evals"]),
        }
        stopped = bool(restored["stopped"])
        start = int(state.step)
        history = [r for r in _read_metrics(metrics_path) if r["step"] <= start]
        atomic_write_text(metrics_path, "".join(json.dumps(r) + "\n" for r in history))
    else:
        metrics_path.parent.mkdir(parents=True, exist_ok=True)
        metrics_path.write_text("")
    write_run_metadata(run_dir, to_dict(config))

    state = jax.device_put(state, replicated)
    best["params"] = jax.device_put(best["params"], replicated)
    val_chunks = jax.device_put(_chunks(val, cfg.batch_size), NamedSharding(mesh, P(None, "batch")))
    k_val_loss = jax.random.fold_in(k_val, 1)
    stored = source is not None
    step_fn, eval_fn = _compiled(
        graphdef,
        cfg,
        None if stored else simulate,
        None if stored else prior,
        tuple(devices),
        stored,
    )

    from tqdm.auto import tqdm

    stop_at = cfg.steps if until_step is None else min(cfg.steps, int(until_step))
    step = start
    pending: list[dict[str, Array]] = []
    t_last, step_last = time.perf_counter(), start
    bar = tqdm(total=cfg.steps, initial=start, disable=not progress, desc="train", leave=False)
    try:
        while step < stop_at and not stopped:
            state, metrics = step_fn(state, k_train, source)
            step += 1
            pending.append(metrics)
            records = []
            if step % cfg.log_every == 0 or step == stop_at:
                fetched = jax.device_get(pending)
                now = time.perf_counter()
                rate = (step - step_last) * cfg.batch_size / max(now - t_last, 1e-9)
                rec: dict[str, Any] = {"step": step}
                for name in fetched[0]:
                    rec[name] = float(np.mean([m[name] for m in fetched]))
                rec["sims_per_s"] = rate
                records.append(rec)
                bar.update(step - step_last)
                bar.set_postfix(loss=f"{rec['loss']:.3f}", sims_s=f"{rate:.0f}")
                pending, t_last, step_last = [], now, step
            if step % cfg.val_every == 0 or step == cfg.steps:
                vm = eval_fn(state.params, state.stats, val_chunks, k_val_loss)
                vm = {k: float(v) for k, v in vm.items()}
                if vm["val_loss"] < best["val"]:
                    best = {"params": _copy(state.params), "val": vm["val_loss"], "bad": 0}
                else:
                    best["bad"] += 1
                    stopped = best["bad"] >= cfg.patience
                records.append({"step": step, **vm, "best_val_loss": best["val"]})
            if records:
                _write_metrics(metrics_path, records)
                history.extend(records)
            if step % cfg.checkpoint_every == 0 or step == stop_at or stopped:
                save_checkpoint(ckpt_path, _checkpoint_tree(state, k_train, best, stopped), meta)
    finally:
        bar.close()
    if history:
        plot_loss_curve(history, run_dir / LOSS_PLOT_NAME)

    final_params = best["params"] if np.isfinite(best["val"]) else state.params
    estimator = nnx.merge(graphdef, jax.device_get(final_params), jax.device_get(state.stats))
    return TrainResult(
        estimator=estimator,
        history=history,
        best_val_loss=float(best["val"]),
        step=step,
        stopped_early=stopped,
        run_dir=run_dir,
    )


def _check_same_problem(old: dict[str, Any], meta: dict[str, Any], where: str) -> None:
    """Refuse a checkpoint (metadata ``old``) whose data shapes or bounds differ from ``meta``."""
    for name in ("shapes", "theta_bounds", "local_bounds"):
        if old.get(name) != meta[name]:
            raise ValueError(
                f"{where} was trained on another problem: {name} {old.get(name)} there, "
                f"{meta[name]} here"
            )


def _initial_state(source: str | Path, config: NPEConfig, meta: dict[str, Any]):
    """Best parameters and statistics of the run ``source``, checked against this run's."""
    path = Path(source)
    path = path / CHECKPOINT_NAME if path.is_dir() else path
    if not path.is_file():
        raise ValueError(f"init_from: no checkpoint at {path}")
    source_model = load_estimator(path)  # refuses anything but an NPE checkpoint
    old = read_checkpoint_metadata(path)
    old_arch = to_dict(from_dict(NPEConfig, old["config"]).estimator)
    if old_arch != to_dict(config.estimator):
        diff = _config_diff(old_arch, to_dict(config.estimator), "estimator.")
        raise ValueError(f"init_from: {path} has another architecture: {diff}")
    _check_same_problem(old, meta, f"init_from: {path}")
    return nnx.state(source_model, nnx.Param), nnx.state(source_model, Statistic)


def _first(sim: Simulation) -> Simulation:
    return jax.tree.map(lambda a: a[0], sim)


def _config_diff(a: dict, b: dict, prefix: str = "") -> str:
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
                return _config_diff(a[k], b[k], f"{prefix}{k}.")
            return f"{prefix}{k} ({a.get(k)!r} in the checkpoint, {b.get(k)!r} now)"
    return "?"


def load_estimator(path: str | Path, *, which: str = "best") -> HierarchicalNPE | EnsembleNPE:
    """Rebuild a trained estimator from a checkpoint, a run folder, or an ensemble folder.

    Args:
        path: ``checkpoint.msgpack``, the run folder, or a folder written by ``cigars
            ensemble`` (then an :class:`~cigars.inference.EnsembleNPE` of its members).
        which: ``"best"`` (best validation loss) or ``"last"`` parameters.

    Raises:
        ValueError: if ``which`` is unknown or the file is not an NPE checkpoint.
    """
    if which not in ("best", "last"):
        raise ValueError(f"load_estimator: which must be 'best' or 'last', got {which!r}")
    path = Path(path)
    if (path / ENSEMBLE_NAME).is_file():
        members = json.loads((path / ENSEMBLE_NAME).read_text())["members"]
        return EnsembleNPE(tuple(load_estimator(path / m, which=which) for m in members))
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    meta = read_checkpoint_metadata(path)
    if meta.get("kind") != "hierarchical_npe":
        raise ValueError(f"{path}: not a hierarchical NPE checkpoint")
    config = from_dict(NPEConfig, meta["config"])
    key = jax.random.key(0)
    _, graphdef, _, state = _fresh(
        config, meta["shapes"], meta["theta_bounds"], meta["local_bounds"], key
    )
    best = {"params": state.params, "val": np.inf, "bad": 0}
    restored, _ = load_checkpoint(path, _checkpoint_tree(state, key, best, False))
    params = restored["best_params"] if which == "best" else restored["state"].params
    if which == "best" and not np.isfinite(restored["best_val"]):
        params = restored["state"].params
    return nnx.merge(graphdef, params, restored["state"].stats)
