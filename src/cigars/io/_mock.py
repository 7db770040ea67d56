"""Mock observed catalogues on disk: one FITS row per detected SN, truths and config in the file.

Layout (``cigars simulate`` writes it; ``cigars infer`` and ``cigars plot`` read it):

* HDU 1 ``CATALOGUE``: one row per detected SN. Observed columns: ``id``,
  ``host_mag_<band>`` and ``host_mag_err_<band>`` per band, ``m_b``, ``x1``, ``c`` and their
  measurement variances ``var_m_b``, ``var_x1``, ``var_c``, and ``z_spec`` (NaN where no spectrum
  was taken). Every latent follows as a ``true_<name>`` column (``true_z`` is the cosmological
  redshift). The header holds the true global parameters as ``HIERARCH TRUTH <name>`` cards.
* HDU 2 ``UNDETECTED`` (optional): the simulated SNe that failed the SN selection, latents only.
* HDU 3 ``CONFIG``: the resolved experiment config and provenance as YAML text (uint8 bytes).

Nothing is pickled; the file is written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from astropy.io import fits
from astropy.table import Table

from cigars.io._provenance import atomic_path

__all__ = ["OBSERVED_COLUMNS", "band_labels", "catalogue_table", "read_mock", "write_mock"]

OBSERVED_COLUMNS = ("m_b", "x1", "c", "var_m_b", "var_x1", "var_c", "z_spec")
_RENAME = {
    "m_obs": "m_b",
    "x1_obs": "x1",
    "c_obs": "c",
    "var_m": "var_m_b",
    "var_x1": "var_x1",
    "var_c": "var_c",
    "z_spec": "z_spec",
}
_TRUE_RENAME = {"z_cos": "z"}
_SKIP = {"mask", "valid", "has_spec"}


def band_labels(filters) -> tuple[str, ...]:
    """Column labels of bands from speclite filter names (``lsst2023-u`` -> ``u``)."""
    return tuple(name.split("-")[-1] for name in filters)


def catalogue_table(rows: Mapping[str, np.ndarray], band_names: tuple[str, ...]) -> Table:
    """Turn the detected rows of a simulated catalogue into the on-disk table layout.

    Args:
        rows: per-SN arrays of the detected SNe (``Catalogue.to_numpy()``), keyed by field.
        band_names: the host photometric bands, in the order of the ``host_mag*`` columns.

    Returns:
        The table with observed columns first, then ``true_*`` latents.
    """
    n = len(next(iter(rows.values())))
    table = Table()
    table["id"] = np.arange(n, dtype=np.int64)
    for field, col in (("host_mag_obs", "host_mag_{}"), ("host_mag_err", "host_mag_err_{}")):
        if field in rows:
            for j, band in enumerate(band_names):
                table[col.format(band)] = np.asarray(rows[field][:, j], dtype=np.float64)
    for field, col in _RENAME.items():
        if field in rows:
            table[col] = np.asarray(rows[field], dtype=np.float64)
    for field, values in rows.items():
        if field in _RENAME or field in _SKIP or field in ("host_mag_obs", "host_mag_err"):
            continue
        values = np.asarray(values)
        name = "true_" + _TRUE_RENAME.get(field, field)
        if values.ndim == 2:
            for j, band in enumerate(band_names):
                table[f"{name}_{band}"] = values[:, j]
        else:
            table[name] = values
    return table


def write_mock(
    path: str | Path,
    table: Table,
    *,
    truth: Mapping[str, float],
    config: Mapping[str, Any],
    provenance: Mapping[str, Any],
    band_names: tuple[str, ...],
    undetected: Table | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a mock catalogue FITS file atomically (see the module docstring for the layout).

    Raises:
        FileExistsError: if ``path`` exists and ``overwrite`` is false.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite to replace it")
    cat = fits.table_to_hdu(table)
    cat.name = "CATALOGUE"
    cat.header["HIERARCH BANDS"] = ",".join(band_names)
    for name, value in truth.items():
        cat.header[f"HIERARCH TRUTH {name}"] = float(value)
    hdus = [fits.PrimaryHDU(), cat]
    if undetected is not None:
        und = fits.table_to_hdu(undetected)
        und.name = "UNDETECTED"
        hdus.append(und)
    text = yaml.safe_dump(
        {"config": dict(config), "provenance": dict(provenance)}, sort_keys=False
    ).encode()
    hdus.append(fits.ImageHDU(np.frombuffer(text, dtype=np.uint8), name="CONFIG"))
    with atomic_path(path) as tmp:
        fits.HDUList(hdus).writeto(tmp)
    return path


def read_mock(path: str | Path) -> tuple[Table, dict[str, float], dict[str, Any], Table | None]:
    """Read a mock written by :func:`write_mock`.

    Returns:
        ``(table, truth, meta, undetected)``: the detected-SN table (with ``meta['bands']``), the
        true global parameters, ``{'config': ..., 'provenance': ...}``, and the undetected-SN
        table or ``None``.

    Raises:
        ValueError: if the file is not a cigars mock catalogue.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with fits.open(path, memmap=False) as hdul:
        names = [h.name for h in hdul]
        if "CATALOGUE" not in names:
            raise ValueError(f"{path}: not a cigars mock catalogue (no CATALOGUE extension)")
        header = hdul["CATALOGUE"].header
        table = Table(hdul["CATALOGUE"].data)
        truth = {
            k.removeprefix("TRUTH "): float(v) for k, v in header.items() if k.startswith("TRUTH ")
        }
        table.meta["bands"] = tuple(str(header.get("BANDS", "")).split(","))
        meta = yaml.safe_load(bytes(hdul["CONFIG"].data).decode()) if "CONFIG" in names else {}
        undetected = Table(hdul["UNDETECTED"].data) if "UNDETECTED" in names else None
    return table, truth, meta, undetected
