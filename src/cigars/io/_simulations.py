"""Stored training simulations: many simulated surveys as estimator inputs, on disk (HDF5).

``cigars simulations`` writes them and ``cigars train --simulations`` trains from them instead of
simulating inside each step (for a simulator too slow to run in the training loop, or to train
several estimators on the same set).

File layout: datasets ``theta`` (n, n_theta), ``locals`` (n, n_max, n_local), ``data``
(n, n_max, n_feat), ``mask`` (n, n_max) and ``context`` (n, n_max, n_ctx), float32 except the
boolean mask, leading axis = simulation; ``chunk_done`` (n_chunks,); attributes ``format``
(:data:`SIMULATIONS_FORMAT`), ``config`` (YAML: what was simulated, compared on resume),
``provenance`` and ``complete``. Chunk i holds simulations [i chunk, (i + 1) chunk) and is drawn
from ``fold_in(key(seed), i)``. While written the file is ``<path>.partial``; an interrupted run
resumes at the first unfinished chunk, and the file is renamed when complete.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import yaml
from tqdm import tqdm

__all__ = ["SIMULATIONS_FORMAT", "read_simulation_files", "read_simulations", "write_simulations"]

SIMULATIONS_FORMAT = "cigars-simulations-1"
_FIELDS = ("theta", "locals", "data", "mask", "context")


def write_simulations(
    path: str | os.PathLike,
    simulate_chunk: Callable[[int], Any],
    *,
    n: int,
    chunk_size: int,
    config: Mapping[str, Any],
    metadata: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write ``n`` simulations in chunks, resumably.

    Args:
        path: output HDF5 file.
        simulate_chunk: ``i -> Simulation`` of ``chunk_size`` simulations for chunk ``i``
            (deterministic in ``i``); only the first rows of the last chunk are kept.
        n: number of simulations.
        chunk_size: simulations per chunk (part of ``config``: changing it changes the draws).
        config: what is simulated (experiment, seed, ...); must match when resuming.
        metadata: provenance (not compared).
        overwrite: replace a complete file at ``path``.
        progress: show a progress bar.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
        ValueError: bad sizes, or a partial file written with other settings.
    """
    from cigars.inference import as_simulation

    path = Path(path)
    part = path.with_name(path.name + ".partial")
    if n < 1 or chunk_size < 1:
        raise ValueError(f"n ({n}) and chunk_size ({chunk_size}) must be positive")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite to replace it")
    config_yaml = yaml.safe_dump(
        {"format": SIMULATIONS_FORMAT, "n": n, "chunk_size": chunk_size, **dict(config)},
        sort_keys=False,
    )
    n_chunks = math.ceil(n / chunk_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    f = h5py.File(part, "r+") if part.exists() else None
    if f is not None and f.attrs.get("config") != config_yaml:
        f.close()
        raise ValueError(
            f"cannot resume {part}: it was written with different settings; delete it to start over"
        )
    try:
        if f is None:
            f = h5py.File(part, "w")
            f.attrs["format"] = SIMULATIONS_FORMAT
            f.attrs["config"] = config_yaml
            f.attrs["complete"] = False
            f.create_dataset("chunk_done", shape=(n_chunks,), dtype="u1", fillvalue=0)
        done = np.asarray(f["chunk_done"][...], dtype=bool)
        with tqdm(
            total=n_chunks,
            initial=int(done.sum()),
            desc=f"simulations {path.name}",
            unit="chunk",
            disable=not progress,
        ) as bar:
            for i in np.flatnonzero(~done):
                sim = as_simulation(simulate_chunk(int(i)))
                start = int(i) * chunk_size
                m = min(chunk_size, n - start)
                for name in _FIELDS:
                    values = np.asarray(getattr(sim, name))[:m]
                    dtype = bool if name == "mask" else np.float32
                    if name not in f:
                        f.create_dataset(
                            name,
                            shape=(n, *values.shape[1:]),
                            dtype=dtype,
                            # zero-width fields (no locals, no context) cannot be chunked
                            chunks=(min(chunk_size, n), *values.shape[1:]) if values.size else None,
                        )
                    f[name][start : start + m] = values.astype(dtype)
                f["chunk_done"][i] = 1
                f.flush()
                bar.update(1)
        f.attrs["provenance"] = yaml.safe_dump(dict(metadata or {}), sort_keys=False)
        f.attrs["complete"] = True
    finally:
        f.close()
    os.replace(part, path)
    return path


def _open(path: Path) -> h5py.File:
    """A complete cigars simulation file, open for reading (ValueError naming it otherwise)."""
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path}: not a readable HDF5 file ({err})") from None
    if f.attrs.get("format") != SIMULATIONS_FORMAT or not all(n in f for n in _FIELDS):
        f.close()
        raise ValueError(f"{path}: not a cigars simulation file (format {SIMULATIONS_FORMAT})")
    if not f.attrs.get("complete", False):
        f.close()
        raise ValueError(f"{path}: incomplete simulation file")
    return f


def read_simulations(path: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
    """Read stored simulations.

    Returns:
        ``(simulation, config)``: a :class:`~cigars.inference.Simulation` of numpy arrays and
        the recorded config.

    Raises:
        ValueError: naming the file if it is not a complete cigars simulation file.
    """
    sim, (config,) = read_simulation_files([path])
    return sim, config


def read_simulation_files(
    paths: Sequence[str | os.PathLike],
    check: Callable[[Path, dict[str, Any]], None] | None = None,
) -> tuple[Any, list[dict[str, Any]]]:
    """Read one or several stored simulation files as one set, in the order given.

    Every file is opened and its config passed to ``check`` before any array is read; the
    arrays are then read straight into one preallocated array per field, so the set occupies
    memory once (concatenating per-file arrays would need twice its size).

    Args:
        paths: the files.
        check: called as ``check(path, config)`` for each file; raise to refuse it.

    Returns:
        ``(simulation, configs)``: a :class:`~cigars.inference.Simulation` of numpy arrays and
        each file's recorded config.

    Raises:
        ValueError: naming the file if one is not a complete cigars simulation file, or if its
            per-simulation shapes differ from the first file's.
    """
    from cigars.inference import Simulation

    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("read_simulation_files: no file given")
    configs, counts, shapes = [], [], {}
    for path in paths:
        with _open(path) as f:
            configs.append(yaml.safe_load(f.attrs["config"]))
            counts.append(int(f["mask"].shape[0]))
            for name in _FIELDS:
                shape, dtype = f[name].shape[1:], f[name].dtype
                if name not in shapes:
                    shapes[name] = (shape, dtype, path)
                elif shapes[name][:2] != (shape, dtype):
                    raise ValueError(
                        f"{path}: {name} has shape {shape} ({dtype}) per simulation, but "
                        f"{shapes[name][2]} has {shapes[name][0]} ({shapes[name][1]}): the files "
                        "are not simulations of one experiment"
                    )
                if f[name].shape[0] != counts[-1]:
                    raise ValueError(f"{path}: {name} and mask differ in length")
        if check is not None:
            check(path, configs[-1])
    total = sum(counts)
    arrays = {name: np.empty((total, *shape), dtype) for name, (shape, dtype, _) in shapes.items()}
    start = 0
    for path, n in zip(paths, counts, strict=True):
        with _open(path) as f:
            for name in _FIELDS:
                if n and arrays[name].size:
                    f[name].read_direct(arrays[name], dest_sel=np.s_[start : start + n])
        start += n
    return Simulation(**arrays), configs
