"""The galaxy bank: prior draws of host galaxies with their redshifted 10-pc magnitudes, on disk.

The bank (MODEL.md §3a, §10.1) is drawn once and reused by every simulation: each simulation only
applies distances, noise, detection and SN assignment to it. :func:`write_bank` samples it in
chunks into an HDF5 file, and can resume an interrupted run; :func:`load_bank` reads it into a
:class:`Bank` PyTree.

File layout (HDF5; every array float32, leading axis = galaxy):

* one dataset per :class:`~cigars.hosts._params.HostParams` field (``z``, ``logmass``,
  ``logzsol``, ``logsfr_ratios`` (n, 6), ``dust2``, ``dust_index``, ``dust_ratio``,
  ``gas_logz``, ``ln_fagn``, ``ln_agn_tau``);
* ``sfh_log_age_edges`` (n, 8): SFH bin edges [log10 yr]; ``sfh_log_mass`` (n, 7): log10 of the
  mass formed per bin [M_sun];
* ``abs_mag`` (n, n_band): redshifted absolute AB magnitudes (the rest-frame SED redshifted to
  z and observed from 10 pc; cosmology-free, MODEL.md §3b);
* ``logmass_surviving`` (n,), only if a surviving-mass function was given;
* ``chunk_done`` (n_chunks,): 1 for every chunk written;
* attributes ``format`` (:data:`BANK_FORMAT`), ``band_names``, ``config`` (YAML: bank size,
  chunking, seed, the host prior's resolved config, band names, caller's extra config),
  ``provenance`` (YAML of the caller's metadata), ``complete`` (bool).

Galaxy g is drawn with the key ``fold_in(key(seed), g)`` (see
:func:`~cigars.hosts._priors.sample_hosts`), so the bank's contents do not depend on how it was
chunked or interrupted. While being written the file is ``<path>.partial``; it is renamed to
``<path>`` only when complete.
"""

import math
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import yaml
from flax import struct
from tqdm import tqdm

from cigars._config import to_dict
from cigars._types import Array, Float
from cigars.hosts._params import N_SFH_BINS, HostParams
from cigars.hosts._priors import ProspectorBetaPrior, sample_hosts
from cigars.hosts._sfh import N_SFH_EDGES, logsfr_ratios_to_log_masses, sfh_log_age_edges

__all__ = [
    "BANK_FORMAT",
    "Bank",
    "MagnitudesFn",
    "SurvivingMassFn",
    "load_bank",
    "write_bank",
    "write_weighted_bank",
]

BANK_FORMAT = "cigars-galaxy-bank-1"
"""Identifier of the bank file layout (stored in the ``format`` attribute)."""

MagnitudesFn = Callable[[HostParams, Array, Array], Array]
"""``(hosts, sfh_log_age_edges (n, 8), sfh_log_mass (n, 7)) -> abs_mag (n, n_band)``."""
SurvivingMassFn = Callable[[HostParams, Array, Array], Array]
"""``(hosts, sfh_log_age_edges (n, 8), sfh_log_mass (n, 7)) -> logmass_surviving (n,)``."""

_HOST_FIELDS = tuple(HostParams.__dataclass_fields__)
_HOST_SHAPES = {name: (N_SFH_BINS - 1,) if name == "logsfr_ratios" else () for name in _HOST_FIELDS}


@struct.dataclass
class Bank:
    """A galaxy bank in memory (leading axis n_host on every array).

    Attributes:
        hosts: the galaxies' intrinsic parameters.
        sfh_log_age_edges: SFH bin edges [log10 yr], shape (n_host, 8).
        sfh_log_mass: log10 of the mass formed per SFH bin [M_sun], shape (n_host, 7).
        abs_mag: redshifted absolute AB magnitudes at 10 pc, shape (n_host, n_band).
        logmass_surviving: log10 of the surviving stellar mass [M_sun], shape (n_host,), or
            None if the bank was written without it.
        band_names: names of the ``abs_mag`` columns (static).
        ln_weight: natural-log weight of each galaxy in the host population, shape
            (n_host,) (MODEL.md section 3a; :func:`write_weighted_bank`), or None (all 1).
    """

    hosts: HostParams
    sfh_log_age_edges: Float[Array, "n_host 8"]
    sfh_log_mass: Float[Array, "n_host 7"]
    abs_mag: Float[Array, "n_host n_band"]
    logmass_surviving: Float[Array, " n_host"] | None
    band_names: tuple[str, ...] = struct.field(pytree_node=False)
    ln_weight: Float[Array, " n_host"] | None = None

    def __len__(self) -> int:
        return int(self.hosts.z.shape[0])


def _partial_path(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


@partial(jax.jit, static_argnames=("size",))
def _draw_chunk(key, size: int, prior: ProspectorBetaPrior, offset):
    hosts = sample_hosts(key, size, prior, offset)
    edges = sfh_log_age_edges(hosts.z)
    log_masses = logsfr_ratios_to_log_masses(hosts.logmass, hosts.logsfr_ratios, edges)
    return hosts, edges, log_masses


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _describe_mismatch(old_yaml: str, new_yaml: str) -> str:
    try:
        old = _flatten(yaml.safe_load(old_yaml) or {})
    except yaml.YAMLError:
        return "the partial file's config attribute is unreadable"
    new = _flatten(yaml.safe_load(new_yaml))
    keys = sorted(set(old) | set(new))
    diffs = [f"{k}: {old.get(k, '<missing>')!r} -> {new.get(k, '<missing>')!r}" for k in keys]
    diffs = [d for d, k in zip(diffs, keys, strict=True) if old.get(k) != new.get(k)]
    return "; ".join(diffs) if diffs else "the configs differ in formatting"


def _as_f32(x, shape: tuple[int, ...], what: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.shape != shape:
        raise ValueError(f"{what} returned shape {arr.shape}, expected {shape}")
    return arr.astype(np.float32, copy=False)


def write_bank(
    path: str | os.PathLike,
    prior: ProspectorBetaPrior,
    magnitudes_fn: MagnitudesFn,
    band_names: Sequence[str],
    *,
    n: int,
    chunk_size: int,
    seed: int,
    surviving_logmass_fn: SurvivingMassFn | None = None,
    config: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Draw ``n`` galaxies from ``prior`` with their magnitudes and write them to an HDF5 bank.

    Chunk i holds galaxies [i chunk_size, (i + 1) chunk_size). Each chunk is sampled (jitted),
    photometered by ``magnitudes_fn`` (called once per chunk, eagerly: pass a jitted function),
    written, marked done and flushed. An interrupted run leaves ``<path>.partial``; calling
    again with the same settings resumes at the first unfinished chunk. On completion the file
    is renamed to ``path`` atomically.

    Args:
        path: output file (conventionally ``*.h5``).
        prior: the host prior to draw from.
        magnitudes_fn: ``(hosts, sfh_log_age_edges, sfh_log_mass) -> (m, n_band)`` redshifted
            absolute magnitudes for a chunk of m galaxies.
        band_names: names of the n_band magnitude columns.
        n: number of galaxies.
        chunk_size: galaxies per chunk (does not change the bank's contents).
        seed: integer seed; galaxy g uses ``fold_in(jax.random.key(seed), g)``.
        surviving_logmass_fn: optional ``(hosts, edges, log_masses) -> (m,)`` log10 surviving
            stellar mass; the dataset is omitted without it.
        config: extra resolved configuration to record (e.g. the photometry's); it must match
            when resuming.
        metadata: provenance to record (not compared when resuming).
        overwrite: replace an existing complete bank at ``path``.
        progress: show a tqdm progress bar.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        FileExistsError: a bank exists at ``path`` and ``overwrite`` is False.
        ValueError: bad arguments, a partial file written with different settings, an
            unreadable partial file, or a function returning the wrong shape.
    """
    path = Path(path)
    part = _partial_path(path)
    band_names = tuple(str(b) for b in band_names)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not band_names or len(set(band_names)) != len(band_names):
        raise ValueError(f"band_names must be non-empty and unique, got {band_names!r}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"a bank already exists at {path}; pass overwrite=True to replace it")

    n_chunks = math.ceil(n / chunk_size)
    config_yaml = yaml.safe_dump(
        {
            "format": BANK_FORMAT,
            "bank": {"n_galaxies": n, "chunk_size": chunk_size, "seed": seed},
            "hosts": to_dict(prior.config),
            "band_names": list(band_names),
            "logmass_surviving": surviving_logmass_fn is not None,
            "extra": dict(config or {}),
        },
        sort_keys=False,
    )
    n_band = len(band_names)
    path.parent.mkdir(parents=True, exist_ok=True)

    if part.exists():
        try:
            f = h5py.File(part, "r+")
        except OSError as err:
            raise ValueError(
                f"cannot resume: {part} is not a readable HDF5 file ({err}); "
                "delete it to start over"
            ) from None
        old = f.attrs.get("config", "")
        old = old.decode() if isinstance(old, bytes) else str(old)
        if old != config_yaml or "chunk_done" not in f:
            f.close()
            raise ValueError(
                f"cannot resume {part}: it was written with different settings "
                f"({_describe_mismatch(old, config_yaml)}); delete it to start over"
            )
    else:
        f = h5py.File(part, "w")
        f.attrs["format"] = BANK_FORMAT
        f.attrs["config"] = config_yaml
        f.attrs["band_names"] = list(band_names)
        f.attrs["complete"] = False
        rows = min(chunk_size, n)
        columns = {name: _HOST_SHAPES[name] for name in _HOST_FIELDS}
        columns["sfh_log_age_edges"] = (N_SFH_EDGES,)
        columns["sfh_log_mass"] = (N_SFH_BINS,)
        columns["abs_mag"] = (n_band,)
        if surviving_logmass_fn is not None:
            columns["logmass_surviving"] = ()
        for name, tail in columns.items():
            f.create_dataset(name, shape=(n, *tail), dtype="f4", chunks=(rows, *tail))
        f.create_dataset("chunk_done", shape=(n_chunks,), dtype="u1", fillvalue=0)
        f.flush()

    try:
        done = np.asarray(f["chunk_done"][...], dtype=bool)
        key = jax.random.key(seed)
        size = min(chunk_size, n)
        bar = tqdm(
            total=n_chunks,
            initial=int(done.sum()),
            desc=f"bank {path.name}",
            unit="chunk",
            disable=not progress,
        )
        with bar:
            for i in np.flatnonzero(~done):
                start = int(i) * chunk_size
                m = min(chunk_size, n - start)
                hosts, edges, log_masses = _draw_chunk(key, size, prior, start)
                hosts, edges, log_masses = jax.tree.map(
                    lambda a, m=m: a[:m], (hosts, edges, log_masses)
                )
                columns = {name: getattr(hosts, name) for name in _HOST_FIELDS}
                columns["sfh_log_age_edges"] = edges
                columns["sfh_log_mass"] = log_masses
                columns["abs_mag"] = _as_f32(
                    magnitudes_fn(hosts, edges, log_masses), (m, n_band), "magnitudes_fn"
                )
                if surviving_logmass_fn is not None:
                    columns["logmass_surviving"] = _as_f32(
                        surviving_logmass_fn(hosts, edges, log_masses),
                        (m,),
                        "surviving_logmass_fn",
                    )
                for name, values in columns.items():
                    f[name][start : start + m] = np.asarray(values, dtype=np.float32)
                f["chunk_done"][i] = 1
                f.flush()
                bar.update(1)
        f.attrs["provenance"] = yaml.safe_dump(dict(metadata or {}), sort_keys=False)
        f.attrs["complete"] = True
        f.flush()
    finally:
        f.close()
    os.replace(part, path)
    return path


def load_bank(path: str | os.PathLike) -> Bank:
    """Read a complete galaxy bank written by :func:`write_bank`.

    Args:
        path: the bank file.

    Returns:
        The :class:`Bank` (jax arrays, float32).

    Raises:
        FileNotFoundError: no bank at ``path`` (the message says if an unfinished
            ``.partial`` file exists).
        ValueError: the file is not a readable HDF5 bank, is incomplete, or lacks datasets.
    """
    path = Path(path)
    if path.name.endswith(".partial"):
        raise ValueError(f"{path} is an unfinished bank; finish it with write_bank first")
    if not path.exists():
        part = _partial_path(path)
        hint = (
            f"; an unfinished bank {part} exists: rerun write_bank with the same settings"
            if part.exists()
            else ""
        )
        raise FileNotFoundError(f"no galaxy bank at {path}{hint}")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path} is not a readable HDF5 galaxy bank ({err})") from None
    with f:
        fmt = f.attrs.get("format")
        fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
        if fmt != BANK_FORMAT:
            raise ValueError(f"{path} is not a cigars galaxy bank (format {fmt!r})")
        if "chunk_done" not in f or not bool(f.attrs.get("complete", False)):
            raise ValueError(f"{path} is an incomplete galaxy bank")
        if not np.all(f["chunk_done"][...]):
            raise ValueError(f"{path} is an incomplete galaxy bank (unfinished chunks)")
        required = [*_HOST_FIELDS, "sfh_log_age_edges", "sfh_log_mass", "abs_mag"]
        missing = [name for name in required if name not in f]
        if missing:
            raise ValueError(f"{path} lacks datasets {missing}")
        band_names = tuple(str(b) for b in f.attrs["band_names"])
        n = f["z"].shape[0]
        expected = {name: (n, *_HOST_SHAPES[name]) for name in _HOST_FIELDS}
        expected |= {
            "sfh_log_age_edges": (n, N_SFH_EDGES),
            "sfh_log_mass": (n, N_SFH_BINS),
            "abs_mag": (n, len(band_names)),
            "logmass_surviving": (n,),
            "ln_weight": (n,),
        }
        for name, shape in expected.items():
            if name in f and f[name].shape != shape:
                raise ValueError(
                    f"{path}: dataset {name} has shape {f[name].shape}, expected {shape}"
                )

        def read(name):
            return jnp.asarray(f[name][...])

        return Bank(
            hosts=HostParams(**{name: read(name) for name in _HOST_FIELDS}),
            sfh_log_age_edges=read("sfh_log_age_edges"),
            sfh_log_mass=read("sfh_log_mass"),
            abs_mag=read("abs_mag"),
            logmass_surviving=read("logmass_surviving") if "logmass_surviving" in f else None,
            band_names=band_names,
            ln_weight=read("ln_weight") if "ln_weight" in f else None,
        )


def write_weighted_bank(
    source: str | os.PathLike,
    path: str | os.PathLike,
    ln_weight: Any,
    *,
    metadata: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """A copy of the bank ``source`` whose galaxies carry the log weights ``ln_weight``.

    The weights enter each galaxy's SN rate and the survey's count normalisation (MODEL.md
    section 3a: a galaxy of weight w stands for w galaxies of the population). ``source`` is
    not modified; the copy is written to ``<path>.partial`` and renamed when complete.

    Args:
        source: a complete bank file.
        path: the new bank file (not ``source``).
        ln_weight: ``(n_host,)`` finite natural-log weights (replacing any the source has).
        metadata: provenance of the weights, stored in the ``ln_weight_provenance`` attribute.
        overwrite: replace an existing file at ``path``.

    Returns:
        ``path``.

    Raises:
        FileExistsError: a file exists at ``path`` and ``overwrite`` is False.
        ValueError: ``path`` is ``source``, or the weights do not fit the bank.
    """
    source, path = Path(source), Path(path)
    bank = load_bank(source)  # checks that it is a complete bank
    if path.resolve() == source.resolve():
        raise ValueError(f"write_weighted_bank: {path} is the source bank; write a new file")
    if path.exists() and not overwrite:
        raise FileExistsError(f"a file already exists at {path}; pass overwrite=True")
    w = np.asarray(ln_weight, np.float64)
    if w.shape != (len(bank),):
        raise ValueError(
            f"write_weighted_bank: ln_weight must have one value per galaxy of {source} "
            f"({len(bank)}), got shape {w.shape}"
        )
    if not np.all(np.isfinite(w)):
        raise ValueError(
            f"write_weighted_bank: ln_weight has {np.count_nonzero(~np.isfinite(w))} "
            "non-finite values"
        )
    part = _partial_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, part)
    with h5py.File(part, "r+") as f:
        if "ln_weight" in f:
            del f["ln_weight"]
        f.create_dataset("ln_weight", data=w.astype(np.float32))
        f.attrs["ln_weight_provenance"] = yaml.safe_dump(dict(metadata or {}), sort_keys=False)
    os.replace(part, path)
    return path
