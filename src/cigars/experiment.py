"""Library functions behind the CLI: build an experiment's components and run its jobs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np

from cigars.config import Experiment, to_dict

__all__ = ["experiment_truth", "simulate_mock", "simulator_for"]


def experiment_truth(exp: Experiment, overrides: Mapping[str, float] | None = None):
    """The true global parameters: the cosmology section, then ``truth``, then ``overrides``."""
    from cigars.simulate import Theta

    cosmo = exp.cosmology.build()
    base = {
        "H0": float(cosmo.H0),
        "Om0": float(cosmo.Om0),
        "w0": float(cosmo.w0),
        "wa": float(cosmo.wa),
    }
    if cosmo.Ode0 is not None:
        base["Ode0"] = float(cosmo.Ode0)
    theta = Theta.from_mapping({**base, **exp.truth.values})
    return Theta.from_mapping(dict(overrides or {}), base=theta)


def simulator_for(exp: Experiment, bank):
    """The experiment's simulator over a loaded galaxy bank.

    Raises:
        ValueError: if the experiment has no ``simulator`` section or the bank's bands differ.
    """
    if exp.simulator is None:
        raise ValueError("the experiment has no 'simulator' section")
    if tuple(bank.band_names) != tuple(exp.bands.filters):
        raise ValueError(
            f"the bank's bands {list(bank.band_names)} differ from the experiment's "
            f"bands.filters {list(exp.bands.filters)}"
        )
    return exp.simulator.build(bank, exp.cosmology)


def simulate_mock(
    exp: Experiment,
    bank_path: str | Path,
    output: str | Path,
    *,
    seed: int | None = None,
    truth: Mapping[str, float] | None = None,
    include_undetected: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Simulate one survey at the true parameters and write it as a mock catalogue (FITS).

    Args:
        exp: the experiment.
        bank_path: the galaxy bank (``cigars bank``).
        output: the FITS file to write.
        seed: PRNG seed (default: the experiment's).
        truth: parameter overrides (``Theta`` or reference names).
        include_undetected: also store the SNe that failed the selection (for plots).
        overwrite: replace an existing file.

    Returns:
        A summary: number of detected SNe, Poisson total, spectroscopic count, overflow flag.

    Raises:
        RuntimeError: if the simulation overflowed its ``n_max`` slots.
    """
    from cigars.hosts import load_bank
    from cigars.io import provenance
    from cigars.io._mock import catalogue_table, write_mock
    from cigars.simulate import simulate

    bank = load_bank(bank_path)
    simulator = simulator_for(exp, bank)
    theta = experiment_truth(exp, truth)
    key = jax.random.key(exp.seed if seed is None else seed)
    _, cat = simulate(simulator, key, theta)
    if bool(cat.overflow):
        raise RuntimeError(
            f"the survey drew {int(cat.n_sn_total)} SNe, more than simulator.survey.n_max = "
            f"{cat.n_slots}: raise n_max"
        )
    bands = tuple(b.split("-")[-1] for b in bank.band_names)
    table = catalogue_table(cat.to_numpy(), bands)
    undetected = None
    if include_undetected:
        lost = cat.replace(mask=cat.valid & ~cat.detected)
        rows = lost.to_numpy()
        undetected = catalogue_table(
            {k: v for k, v in rows.items() if k in ("z_cos", "m_true", "logmass", "mu")}, bands
        )
    write_mock(
        output,
        table,
        truth=theta.to_dict(),
        config=to_dict(exp),
        provenance=provenance(),
        band_names=bands,
        undetected=undetected,
        overwrite=overwrite,
    )
    return {
        "n_detected": len(table),
        "n_total": int(cat.n_sn_total),
        "n_spec": int(np.isfinite(np.asarray(table["z_spec"])).sum()),
        "n_hosts_detected": int(cat.n_hosts_detected),
    }
