"""Assemble a galaxy bank from a host prior, an SPS provider and a band set."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from cigars.hosts._bank import MagnitudesFn, SurvivingMassFn, write_bank
from cigars.hosts._filters import host_magnitudes, make_photometry
from cigars.hosts._sps import AbstractSPS, SSPGridSPS

__all__ = ["bank_photometry_fns", "build_bank"]


def bank_photometry_fns(
    sps: AbstractSPS, bands, z_max: float = 3.0
) -> tuple[MagnitudesFn, SurvivingMassFn | None]:
    """Jitted batch functions computing a chunk's magnitudes (and surviving mass, if available).

    Args:
        sps: the SPS provider.
        bands: the photometric bands (:func:`~cigars.hosts.load_bands`).
        z_max: largest redshift the photometry tables cover.

    Returns:
        ``(magnitudes_fn, surviving_logmass_fn)`` with the signatures
        :func:`~cigars.hosts.write_bank` expects; the second is ``None`` for providers without
        a surviving-mass model (the emulator).
    """
    phot = make_photometry(bands, sps.wave_edges, z_max=z_max)

    def one(host, edges, log_masses):
        return host_magnitudes(sps, phot, host, edges, 10.0 ** log_masses.astype(jnp.float32))

    magnitudes = jax.jit(jax.vmap(one))
    surviving = None
    if isinstance(sps, SSPGridSPS):

        def one_surviving(host, edges, log_masses):
            return sps.surviving_logmass(host, edges, 10.0 ** log_masses.astype(jnp.float32))

        surviving = jax.jit(jax.vmap(one_surviving))
    return magnitudes, surviving


def build_bank(
    path: str | os.PathLike,
    *,
    hosts_config,
    sps_config,
    bands_config,
    bank_config,
    metadata: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Draw a galaxy bank and its cosmology-free photometry into ``path`` (resumable HDF5).

    Args:
        path: output HDF5 file.
        hosts_config: the host population (:class:`~cigars.hosts.ProspectorBetaConfig`).
        sps_config: the SPS provider config (kind ``sps``).
        bands_config: the photometric bands (:class:`~cigars.hosts.BandsConfig`).
        bank_config: size, chunking and seed (:class:`~cigars.hosts.BankConfig`).
        metadata: provenance recorded in the file.
        overwrite: replace an existing complete bank.
        progress: show a progress bar.

    Returns:
        The path of the finished bank.
    """
    from cigars._config import to_dict

    prior = hosts_config.build()
    sps = sps_config.build()
    bands = bands_config.build()
    magnitudes, surviving = bank_photometry_fns(sps, bands)
    return write_bank(
        path,
        prior,
        magnitudes,
        tuple(bands.names),
        n=bank_config.n_galaxies,
        chunk_size=bank_config.chunk_size,
        seed=bank_config.seed,
        surviving_logmass_fn=surviving,
        config={"sps": to_dict(sps_config), "bands": to_dict(bands_config)},
        metadata=metadata,
        overwrite=overwrite,
        progress=progress,
    )
