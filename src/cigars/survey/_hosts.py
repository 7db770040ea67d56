"""The per-galaxy columns of a galaxy bank that the survey and supernova stages read.

:class:`HostTable` is the small protocol between the galaxy bank (``cigars.hosts``) and the
simulator stages: per-galaxy arrays with leading axis ``n_host``. Build it from any bank object
with :meth:`HostTable.from_bank`, which reads the attributes listed in :data:`BANK_FIELDS`
(directly on the bank or on its ``params`` attribute).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import struct

from cigars._types import Array, Float, Int

__all__ = ["BANK_ALIASES", "BANK_FIELDS", "HostTable"]

BANK_FIELDS = {
    "z": "cosmological redshift, (n_host,)",
    "logmass": "log10 total formed stellar mass [M_sun], (n_host,)",
    "logzsol": "stellar metallicity log10(Z/Z_sun), (n_host,)",
    "dust2": "diffuse dust optical depth at 5500 A, (n_host,)",
    "dust_index": "Kriek & Conroy attenuation slope offset, (n_host,)",
    "dust_ratio": "birth-cloud / diffuse optical depth ratio, (n_host,)",
    "log_age_edges": "log10 SFH-bin age edges [yr], youngest first, (n_host, n_bin + 1)",
    "bin_logmass": "log10 stellar mass formed in each SFH bin [M_sun], (n_host, n_bin)",
    "abs_mag": "redshifted 10-pc (cosmology-free) magnitudes, (n_host, n_band)",
}
"""Bank columns read by :meth:`HostTable.from_bank` (plus the optional ``ln_weight``)."""

BANK_ALIASES = {
    "log_age_edges": ("log_age_edges", "sfh_log_age_edges"),
    "bin_logmass": ("bin_logmass", "sfh_log_mass"),
    "ln_weight": ("ln_weight", "lnweight", "log_weight"),
}
"""Attribute names accepted for a column (default: the column's own name); looked up on the
bank and on its ``hosts`` / ``params`` attribute (a nested :class:`~cigars.hosts.HostParams`)."""

_NESTED = ("hosts", "params")


@struct.dataclass
class HostTable:
    """Per-galaxy bank columns used by the simulator (all leaves; leading axis ``n_host``).

    Attributes:
        z: cosmological redshift.
        logmass: log10 total formed stellar mass [M_sun].
        logzsol: stellar metallicity log10(Z / Z_sun).
        dust2: diffuse dust optical depth at 5500 A.
        dust_index: attenuation-curve slope offset.
        dust_ratio: birth-cloud to diffuse optical-depth ratio.
        log_age_edges: (n_host, n_bin + 1) log10 age edges of the SFH bins [yr], youngest first
            (ages are look-back times from the galaxy's epoch).
        bin_logmass: (n_host, n_bin) log10 stellar mass formed in each bin [M_sun].
        abs_mag: (n_host, n_band) redshifted absolute magnitudes: apparent magnitude minus
            5 log10(D_M(z) / 10 pc) (MODEL.md section 3b).
        ln_weight: (n_host,) natural-log importance weight of each galaxy, or ``None`` (all 1).
        bank_index: (n_host,) int32 row of each galaxy in the original bank when this table is
            a :meth:`subset`, or ``None`` (row i is bank row i).
    """

    z: Float[Array, " n_host"]
    logmass: Float[Array, " n_host"]
    logzsol: Float[Array, " n_host"]
    dust2: Float[Array, " n_host"]
    dust_index: Float[Array, " n_host"]
    dust_ratio: Float[Array, " n_host"]
    log_age_edges: Float[Array, "n_host n_edge"]
    bin_logmass: Float[Array, "n_host n_bin"]
    abs_mag: Float[Array, "n_host n_band"]
    ln_weight: Float[Array, " n_host"] | None = None
    bank_index: Int[Array, " n_host"] | None = None

    @property
    def n_host(self) -> int:
        """Number of galaxies."""
        return self.z.shape[0]

    @property
    def n_bin(self) -> int:
        """Number of star-formation-history bins."""
        return self.bin_logmass.shape[1]

    @property
    def n_band(self) -> int:
        """Number of photometric bands."""
        return self.abs_mag.shape[1]

    def bank_rows(self) -> Int[Array, " n_host"]:
        """Original bank row of every galaxy (``bank_index``, or 0..n_host-1)."""
        if self.bank_index is None:
            return jnp.arange(self.n_host, dtype=jnp.int32)
        return self.bank_index

    def subset(self, rows: Any) -> HostTable:
        """The galaxies ``rows`` (a host-side integer or boolean array), remembering bank rows.

        Args:
            rows: indices or a boolean mask over the galaxies (concrete, not traced).

        Returns:
            A smaller :class:`HostTable` whose ``bank_index`` maps back to the original bank.

        Raises:
            ValueError: if the selection is empty.
        """
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        if rows.size == 0:
            raise ValueError("HostTable.subset: no galaxy selected")
        bank_rows = np.asarray(self.bank_rows())[rows]
        taken = {
            f: None if getattr(self, f) is None else jnp.asarray(np.asarray(getattr(self, f))[rows])
            for f in (*BANK_FIELDS, "ln_weight")
        }
        return HostTable(**taken, bank_index=jnp.asarray(bank_rows, jnp.int32))

    @classmethod
    def from_bank(cls, bank: Any, dtype: Any = None) -> HostTable:
        """Collect the :data:`BANK_FIELDS` (and optional ``ln_weight``) of a galaxy bank.

        Each column is looked up under the names in :data:`BANK_ALIASES` on ``bank`` and then
        on ``bank.hosts`` / ``bank.params`` (a nested :class:`~cigars.hosts.HostParams`); this
        reads :class:`cigars.hosts.Bank` (``hosts``, ``sfh_log_age_edges``, ``sfh_log_mass``,
        ``abs_mag``) directly.

        Args:
            bank: any object with those attributes (arrays with leading axis n_host).
            dtype: float dtype to store (default: JAX's default float).

        Returns:
            The checked :class:`HostTable`.

        Raises:
            ValueError: naming a missing attribute, a wrong shape or a non-finite value.
        """
        dtype = jnp.result_type(float) if dtype is None else dtype
        containers = [bank] + [getattr(bank, n) for n in _NESTED if hasattr(bank, n)]

        def get(name: str, required: bool = True):
            for attr in BANK_ALIASES.get(name, (name,)):
                for obj in containers:
                    value = getattr(obj, attr, None)
                    if value is not None:
                        return value
            if required:
                names = " or ".join(repr(a) for a in BANK_ALIASES.get(name, (name,)))
                raise ValueError(
                    f"HostTable.from_bank: the bank has no attribute {names} ({BANK_FIELDS[name]})"
                )
            return None

        cols = {name: get(name) for name in BANK_FIELDS}
        ln_weight = get("ln_weight", required=False)
        return cls.from_arrays(**cols, ln_weight=ln_weight, dtype=dtype)

    @classmethod
    def from_arrays(cls, *, dtype: Any = None, ln_weight=None, **cols) -> HostTable:
        """Build a :class:`HostTable` from arrays, checking shapes and finiteness.

        Args:
            dtype: float dtype to store (default: JAX's default float).
            ln_weight: optional (n_host,) log weights.
            **cols: the :data:`BANK_FIELDS` arrays.

        Returns:
            The :class:`HostTable`.

        Raises:
            ValueError: naming a missing or unexpected column, a wrong shape or a
                non-finite value.
        """
        dtype = jnp.result_type(float) if dtype is None else dtype
        missing = sorted(set(BANK_FIELDS) - set(cols))
        extra = sorted(set(cols) - set(BANK_FIELDS))
        if missing or extra:
            raise ValueError(f"HostTable: missing columns {missing}, unexpected columns {extra}")
        arrays = {k: np.asarray(v) for k, v in cols.items()}
        n = arrays["z"].shape[0] if arrays["z"].ndim == 1 else -1
        if n < 1:
            raise ValueError(f"HostTable: z must be a non-empty 1-d array, got {arrays['z'].shape}")
        for name, arr in arrays.items():
            ndim = 2 if name in ("log_age_edges", "bin_logmass", "abs_mag") else 1
            if arr.ndim != ndim or arr.shape[0] != n:
                raise ValueError(
                    f"HostTable: {name} must have {ndim} dims and {n} rows, got shape {arr.shape}"
                )
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"HostTable: {name} has non-finite values")
        n_bin = arrays["bin_logmass"].shape[1]
        if arrays["log_age_edges"].shape[1] != n_bin + 1:
            raise ValueError(
                f"HostTable: log_age_edges needs n_bin + 1 = {n_bin + 1} columns, "
                f"got {arrays['log_age_edges'].shape[1]}"
            )
        if np.any(np.diff(arrays["log_age_edges"], axis=1) <= 0):
            raise ValueError("HostTable: log_age_edges must increase along each row")
        if np.any(arrays["z"] < 0):
            raise ValueError("HostTable: z must be non-negative")
        if ln_weight is not None:
            ln_weight = np.asarray(ln_weight)
            if ln_weight.shape != (n,) or not np.all(np.isfinite(ln_weight)):
                raise ValueError(f"HostTable: ln_weight must be finite with shape ({n},)")
            ln_weight = jnp.asarray(ln_weight, dtype)
        return cls(**{k: jnp.asarray(v, dtype) for k, v in arrays.items()}, ln_weight=ln_weight)
