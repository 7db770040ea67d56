"""The reference implementation's released mock surveys (``mock-1.6k.npz``, ``mock-16k.npz``).

Each file holds the 13 true global parameters as scalars, the observed data (``gmags_obs``: host
LSST ugrizy magnitudes with 0.01-mag noise; ``snobs``: m_obs, x_obs, c_obs and their variances)
and the true latents per SN (``../shared/data/cigars-reference/README.md``).
:func:`read_reference_mock` returns them in the layout of :func:`cigars.io.read_mock`, so that
``cigars infer`` and the comparison scripts treat them like a ``cigars simulate`` catalogue.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table

from cigars.simulate._theta import REFERENCE_NAMES

__all__ = ["BANDS", "read_reference_mock"]

#: The LSST bands of the reference mocks, in the order of ``gmags_obs``.
BANDS = ("u", "g", "r", "i", "z", "y")
#: The reference's fixed host photometric error (MODEL.md section 9).
HOST_MAG_ERR = 0.01
#: Reference latent name -> cigars ``true_*`` column name.
_LATENTS = {
    "z": "true_z",
    "logmass": "true_logmass",
    "logzsol": "true_logzsol",
    "dust2": "true_dust2",
    "dust_index": "true_dust_index",
    "dust_ratio": "true_dust_ratio",
    "gas_logz": "true_gas_logz",
    "x_int": "true_x1_int",
    "c_int": "true_c_int",
    "delta_M": "true_delta_m",
    "M_int": "true_M_int",
    "M": "true_M",
    "A_V": "true_A_V",
    "R_V": "true_R_V",
    "m": "true_m_true",
}


def read_reference_mock(path: str | Path) -> tuple[Table, dict[str, float]]:
    """Read a reference mock into the cigars catalogue layout.

    Returns:
        ``(table, truth)``: one row per detected SN with ``host_mag_<band>``,
        ``host_mag_err_<band>`` (0.01), ``m_b``, ``x1``, ``c``, ``var_m_b``, ``var_x1``, ``var_c``,
        ``z_spec`` (NaN: the reference surveys are photometric only) and ``true_*`` latents; and
        the true globals under cigars names.

    Raises:
        ValueError: naming the file and the array that is missing or has the wrong shape.
    """
    path = Path(path)
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: np.asarray(f[k]) for k in f.files}
    for name in ("gmags_obs", "snobs", *REFERENCE_NAMES):
        if name not in arrays:
            raise ValueError(f"{path}: missing array {name!r}; not a CIGaRS reference mock")
    mags, sn = arrays["gmags_obs"], arrays["snobs"]
    n = len(sn)
    if mags.shape != (n, len(BANDS)) or sn.shape != (n, 6):
        raise ValueError(
            f"{path}: gmags_obs {mags.shape} and snobs {sn.shape} must be (N, 6) with the same N"
        )
    table = Table()
    table["id"] = np.arange(n, dtype=np.int64)
    for j, band in enumerate(BANDS):
        table[f"host_mag_{band}"] = mags[:, j].astype(np.float64)
    for band in BANDS:
        table[f"host_mag_err_{band}"] = np.full(n, HOST_MAG_ERR)
    for j, col in enumerate(("m_b", "x1", "c", "var_m_b", "var_x1", "var_c")):
        table[col] = sn[:, j].astype(np.float64)
    table["z_spec"] = np.full(n, np.nan)
    for ref, col in _LATENTS.items():
        if ref in arrays:
            table[col] = arrays[ref].astype(np.float64)
    truth = {ours: float(arrays[ref]) for ref, ours in REFERENCE_NAMES.items()}
    return table, truth
