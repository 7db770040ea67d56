"""Validation of an observed catalogue against a trained model, before any computation.

:func:`validate_catalogue` checks a catalogue table (cigars column names, as
:func:`cigars.io.read_catalogue` returns) against the limits of the model it will be given to
(:class:`CatalogueLimits`, built from the experiment):

* table-level problems, always errors: no rows, a missing column, a band set different from
  the model's (a missing or extra band, or the same label for a different filter), more rows
  than the model takes (``simulator.survey.n_max``, or ``inference.training.max_objects``);
* row-level problems, errors unless ``drop_invalid`` (then the rows are skipped and listed):
  a missing, non-numeric or infinite value; a zero or negative error or variance; a magnitude
  outside the physical range; a host magnitude fainter than the survey's host detection depth
  by more than 5 sigma, or a SN magnitude fainter than the selection ever keeps, or a
  spectroscopic redshift outside the simulated range (the trained ranges); a repeated ID.

Every problem names the file, the row (counted from 0, the first data row), the column (the
file's own column when a column map renamed it) and the value: ``FILE: row R, column C: what
is wrong (value)``. A NaN ``z_spec`` means "no spectrum" and is valid.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "MAG_PHYSICAL",
    "Z_PHYSICAL",
    "CatalogueError",
    "CatalogueLimits",
    "Problem",
    "Validated",
    "as_float",
    "validate_catalogue",
    "write_drop_report",
]

MAG_PHYSICAL = (0.0, 40.0)
"""Apparent magnitudes outside this range [mag] are not physical (sentinels like -9, 99)."""
Z_PHYSICAL = (0.0, 10.0)
"""A spectroscopic SN Ia redshift must lie in (0, 10]."""
HOST_N_SIGMA = 5.0
"""A host magnitude fainter than the detection depth by more than this many errors is untrained."""
P_DET_MIN = 1e-6
"""The SN magnitude limit is where the selection's detection probability drops below this."""
C_KMS = 299792.458
_MAX_LINES = 20


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with a catalogue.

    Attributes:
        message: what is wrong.
        row: the data row (from 0), or None for a table-level problem.
        column: the cigars column, or None.
        file_column: the file's own column name when a column map renamed it.
        value: the offending value (shown in parentheses), or None.
    """

    message: str
    row: int | None = None
    column: str | None = None
    file_column: str | None = None
    value: Any = None

    def describe(self, source: str) -> str:
        """``SOURCE: row R, column C: message (value)``."""
        parts = [source]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            if self.file_column and self.file_column != self.column:
                parts.append(f"column {self.file_column!r} ({self.column})")
            else:
                parts.append(f"column {self.column!r}")
        text = ", ".join(parts[1:])
        head = f"{parts[0]}: {text}: " if text else f"{parts[0]}: "
        value = "" if self.value is None else f" ({_show(self.value)})"
        return head + self.message + value

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for the drop report)."""
        value = self.value
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not np.isfinite(value):
            value = str(value)
        return {
            "row": self.row,
            "column": self.column,
            "file_column": self.file_column,
            "problem": self.message,
            "value": value,
        }


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float | np.floating):
        return format(float(value), ".6g")
    return str(value)


class CatalogueError(ValueError):
    """A catalogue cannot be used; the message lists each problem with file, row and column.

    Attributes:
        source: the file (or label) of the catalogue.
        problems: the :class:`Problem` list.
    """

    def __init__(self, source: str, problems: Sequence[Problem], *, hint: str = ""):
        self.source = str(source)
        self.problems = tuple(problems)
        lines = [p.describe(self.source) for p in self.problems[:_MAX_LINES]]
        if len(self.problems) > _MAX_LINES:
            lines.append(f"... and {len(self.problems) - _MAX_LINES} more problems")
        if len(lines) > 1:
            rows = {p.row for p in self.problems if p.row is not None}
            head = f"{self.source}: {len(self.problems)} problems"
            head += f" in {len(rows)} rows" if rows else ""
            lines.insert(0, head + (f" ({hint})" if hint else ":"))
        elif hint:
            lines[0] += f" ({hint})"
        super().__init__("\n".join(lines))


def as_float(column) -> tuple[np.ndarray, dict[int, str]]:
    """A table column as float64, masked and non-numeric entries NaN.

    Returns:
        ``(values, bad)``: the values, and ``{row: raw text}`` of entries that are not numbers.
    """
    mask = np.ma.getmaskarray(column)
    raw = np.asarray(getattr(column, "data", column))
    bad: dict[int, str] = {}
    if raw.dtype.kind in "biuf":
        values = raw.astype(np.float64)
    else:
        values = np.full(raw.shape, np.nan)
        for i, item in enumerate(raw):
            if mask[i]:
                continue
            text = item.decode(errors="replace") if isinstance(item, bytes) else str(item)
            try:
                values[i] = float(text)
            except ValueError:
                bad[i] = text
    values[mask] = np.nan
    return values, bad


def _labels(filters: Sequence[str]) -> tuple[str, ...]:
    return tuple(str(f).split("-")[-1] for f in filters)


@dataclasses.dataclass(frozen=True)
class CatalogueLimits:
    """What a trained model accepts: its bands, padded size and trained ranges.

    Attributes:
        filters: the model's host bands (speclite names), in the order of its data vector.
        n_max: the most objects the model takes (``simulator.survey.n_max``, or the smaller
            ``inference.training.max_objects``).
        n_max_key: the config key ``n_max`` comes from (for messages).
        z_spec_range: simulated range of the spectroscopic (heliocentric) redshift.
        host_mag_max: per band, the host detection depth [mag] (None: unchecked).
        m_b_max: faintest SN magnitude the selection keeps (None: unchecked).
        mag_range: physical range of apparent magnitudes [mag].
    """

    filters: tuple[str, ...]
    n_max: int
    n_max_key: str = "simulator.survey.n_max"
    z_spec_range: tuple[float, float] = (Z_PHYSICAL[0], Z_PHYSICAL[1])
    host_mag_max: tuple[float, ...] | None = None
    m_b_max: float | None = None
    mag_range: tuple[float, float] = MAG_PHYSICAL

    @property
    def bands(self) -> tuple[str, ...]:
        """Column labels of the bands (``lsst2023-u`` -> ``u``)."""
        return _labels(self.filters)

    @classmethod
    def from_experiment(cls, exp) -> CatalogueLimits:
        """The limits of a model trained on experiment ``exp``.

        The redshift range is the host population's ``[z_min, z_max]`` widened for peculiar
        velocities (5 sigma), the CMB dipole and the spectroscopic error (5 sigma), as the
        simulator turns the cosmological redshift into the observed heliocentric one. The host
        limit is the survey's detection depth per band (hosts are detected when their noiseless
        magnitude is brighter in every band). The SN limit is the faintest magnitude where the
        selection's detection probability exceeds 1e-6 at some redshift of that range; it is
        skipped when the selection cannot be built here (e.g. its table file is missing).

        Raises:
            ValueError: if the experiment has no ``simulator`` section.
        """
        sim = exp.simulator
        if sim is None:
            raise ValueError("the experiment has no 'simulator' section")
        filters = tuple(exp.bands.filters)
        survey = sim.survey
        dv = (HOST_N_SIGMA * survey.sigma_v_kms + survey.dipole_kms) / C_KMS
        sigma_z = sim.spectroscopy.sigma_z if sim.spectroscopy is not None else 0.0
        z_lo = (1 + exp.hosts.z_min) * (1 - dv) - 1 - HOST_N_SIGMA * sigma_z
        z_hi = (1 + exp.hosts.z_max) * (1 + dv) - 1 + HOST_N_SIGMA * sigma_z
        depths = tuple(survey.depths)
        host_max = depths if len(depths) == len(filters) else None
        n_max, n_max_key = int(survey.n_max), "simulator.survey.n_max"
        inference = getattr(exp, "inference", None)
        max_objects = inference.training.max_objects if inference is not None else None
        if max_objects is not None and max_objects < n_max:
            n_max, n_max_key = int(max_objects), "inference.training.max_objects"
        return cls(
            filters=filters,
            n_max=n_max,
            n_max_key=n_max_key,
            z_spec_range=(max(z_lo, Z_PHYSICAL[0]), z_hi),
            host_mag_max=host_max,
            m_b_max=_selection_faint_limit(sim.selection, z_lo, z_hi),
        )


def _selection_faint_limit(selection_config, z_lo: float, z_hi: float) -> float | None:
    """Faintest magnitude with detection probability above P_DET_MIN at some z in the range."""
    try:
        selection = selection_config.build()
    except (ValueError, OSError):
        return None
    z = np.linspace(max(z_lo, 1e-4), z_hi, 64)
    step = 0.05
    m = np.arange(MAG_PHYSICAL[0], MAG_PHYSICAL[1] + step / 2, step)
    p = np.asarray(selection.detection_probability(z[:, None], m[None, :]))
    seen = (p > P_DET_MIN).any(axis=0)
    if not seen.any() or seen[-1]:
        return None
    return float(m[seen].max() + step)


@dataclasses.dataclass(frozen=True)
class Validated:
    """A validated catalogue.

    Attributes:
        table: the rows that passed (all rows when nothing was dropped).
        rows: their row numbers in the input table (in the file, when the table is a
            ``--where`` cut of it: ``meta['file_rows']``; so are the problems' rows).
        dropped: the problems of the skipped rows (empty unless ``drop_invalid``).
        n_read: the number of rows read.
        source: the file (or label) validated.
    """

    table: Any
    rows: np.ndarray
    dropped: tuple[Problem, ...]
    n_read: int
    source: str

    @property
    def dropped_rows(self) -> tuple[int, ...]:
        """Row numbers (input table) of the skipped rows."""
        return tuple(sorted({p.row for p in self.dropped if p.row is not None}))


def _required(bands: Sequence[str]) -> list[str]:
    return (
        [f"host_mag_{b}" for b in bands]
        + ["m_b", "x1", "c", "var_m_b", "var_x1", "var_c"]
        + [f"host_mag_err_{b}" for b in bands]
        + ["z_spec"]
    )


def _table_problems(table, limits: CatalogueLimits) -> list[Problem]:
    """Problems that make the whole table unusable (never dropped)."""
    problems: list[Problem] = []
    if len(table) == 0:
        return [Problem("the catalogue has no rows")]
    bands = list(limits.bands)
    have = [
        c[len("host_mag_") :]
        for c in table.colnames
        if c.startswith("host_mag_") and not c.startswith("host_mag_err_")
    ]
    file_filters = tuple(table.meta.get("filters", ()) or ())
    if file_filters:
        by_label = dict(zip(_labels(file_filters), file_filters, strict=True))
        for f, b in zip(limits.filters, bands, strict=True):
            if b in by_label and by_label[b] != f:
                problems.append(
                    Problem(
                        f"band {b!r}: the catalogue's filter {by_label[b]!r} differs from the "
                        f"model's {f!r} (the model was trained on {list(limits.filters)})",
                        column=f"host_mag_{b}",
                    )
                )
    for b in have:
        if b not in bands:
            problems.append(
                Problem(
                    f"band {b!r} is not one of the model's bands {bands}: map exactly the "
                    "trained bands",
                    column=f"host_mag_{b}",
                )
            )
    origin = table.meta.get("column_map")
    for c in _required(bands):
        if c not in table.colnames:
            what = f"missing column {c!r}"
            if c.startswith("host_mag"):
                what += f" (the model was trained on bands {bands}; the catalogue has {have})"
            elif origin:
                what += f" (the column map {origin!r} does not map it)"
            problems.append(Problem(what))
    return problems


def _row_problems(table, limits: CatalogueLimits) -> list[Problem]:
    """Problems of single rows (skipped with ``drop_invalid``)."""
    problems: list[Problem] = []
    sources = dict(table.meta.get("source_columns", {}) or {})
    notes = dict(table.meta.get("row_notes", {}) or {})
    bands = list(limits.bands)
    values: dict[str, np.ndarray] = {}

    def add(rows, column, message, vals=None):
        for r in np.atleast_1d(rows):
            r = int(r)
            value = None if vals is None else vals[r]
            problems.append(Problem(message, r, column, sources.get(column), value))

    for c in _required(bands):
        v, bad = as_float(table[c])
        values[c] = v
        col_notes = {int(k): str(t) for k, t in (notes.get(c, {}) or {}).items()}
        for r, text in bad.items():
            problems.append(Problem("not a number", r, c, sources.get(c), text))
        for r, text in col_notes.items():
            if r not in bad:
                problems.append(Problem(text, r, c, sources.get(c)))
        skip = set(bad) | set(col_notes)
        nan = np.isnan(v) & ~np.isin(np.arange(len(v)), list(skip))
        if c != "z_spec":
            add(np.flatnonzero(nan), c, "missing value", v)
        add(np.flatnonzero(np.isinf(v)), c, "not finite", v)
    fin = {c: np.isfinite(v) for c, v in values.items()}
    lo, hi = limits.mag_range
    for c in [f"host_mag_err_{b}" for b in bands] + ["var_m_b", "var_x1", "var_c"]:
        what = "variance" if c.startswith("var_") else "error"
        add(np.flatnonzero(fin[c] & (values[c] <= 0)), c, f"{what} must be positive", values[c])
    for c in [f"host_mag_{b}" for b in bands] + ["m_b"]:
        v = values[c]
        out = fin[c] & ((v < lo) | (v > hi))
        add(np.flatnonzero(out), c, f"outside the physical range [{lo:g}, {hi:g}] mag", v)
    if limits.host_mag_max is not None:
        for b, depth in zip(bands, limits.host_mag_max, strict=True):
            m, err = values[f"host_mag_{b}"], values[f"host_mag_err_{b}"]
            ok = fin[f"host_mag_{b}"] & (m >= lo) & (m <= hi)
            limit = depth + HOST_N_SIGMA * np.where(fin[f"host_mag_err_{b}"], np.abs(err), 0.0)
            add(
                np.flatnonzero(ok & (m > limit)),
                f"host_mag_{b}",
                f"fainter than the model's host detection depth {depth:g} mag by more than "
                f"{HOST_N_SIGMA:g} sigma (outside the trained range)",
                m,
            )
    if limits.m_b_max is not None:
        m = values["m_b"]
        ok = fin["m_b"] & (m >= lo) & (m <= hi)
        add(
            np.flatnonzero(ok & (m > limits.m_b_max)),
            "m_b",
            f"fainter than any SN the model's selection keeps (m_b <= {limits.m_b_max:.2f}; "
            "outside the trained range)",
            m,
        )
    z = values["z_spec"]
    zlo, zhi = Z_PHYSICAL
    unphysical = fin["z_spec"] & ((z <= zlo) | (z > zhi))
    add(np.flatnonzero(unphysical), "z_spec", f"outside the physical range ({zlo:g}, {zhi:g}]", z)
    tlo, thi = limits.z_spec_range
    untrained = fin["z_spec"] & ~unphysical & ((z < tlo) | (z > thi))
    add(
        np.flatnonzero(untrained),
        "z_spec",
        f"outside the trained redshift range [{tlo:.4f}, {thi:.4f}]",
        z,
    )
    if "id" in table.colnames:
        ids = [_id_text(x) for x in np.asarray(getattr(table["id"], "data", table["id"]))]
        first: dict[str, int] = {}
        for r, key in enumerate(ids):
            if key in first:
                problems.append(
                    Problem(
                        f"duplicate ID (first in row {first[key]})", r, "id", sources.get("id"), key
                    )
                )
            else:
                first[key] = r
    return sorted(problems, key=lambda p: (p.row, p.column or ""))


def _id_text(x) -> str:
    return x.decode(errors="replace").strip() if isinstance(x, bytes) else str(x).strip()


def validate_catalogue(
    table,
    limits,
    *,
    source: str | None = None,
    drop_invalid: bool = False,
) -> Validated:
    """Check a catalogue against a model before any computation.

    Args:
        table: an astropy Table in cigars column names (:func:`cigars.io.read_catalogue`).
        limits: a :class:`CatalogueLimits`, or an experiment to build them from.
        source: the file named in messages (default: ``table.meta['source']``).
        drop_invalid: skip rows with row-level problems instead of raising.

    Returns:
        The :class:`Validated` catalogue (the valid rows and the skipped rows' problems).

    Raises:
        CatalogueError: listing every problem as ``FILE: row R, column C: what (value)``:
            table-level problems always; row-level problems unless ``drop_invalid``.
    """
    if not isinstance(limits, CatalogueLimits):
        limits = CatalogueLimits.from_experiment(limits)
    source = str(source or table.meta.get("source", "catalogue"))
    fatal = _table_problems(table, limits)
    if fatal:
        raise CatalogueError(source, fatal)
    n = len(table)
    too_many = Problem(
        f"{n} objects, more than the model takes: {limits.n_max_key} = {limits.n_max}"
    )
    if n > limits.n_max and not drop_invalid:
        raise CatalogueError(source, [too_many])
    problems = _row_problems(table, limits)
    bad = np.zeros(n, bool)
    bad[[p.row for p in problems if p.row is not None]] = True
    rows = np.flatnonzero(~bad)
    # Rows by their place in the file (they differ when --where cut the table).
    problems = [
        p if p.row is None else dataclasses.replace(p, row=int(file_row_numbers(table, p.row)))
        for p in problems
    ]
    if problems and not drop_invalid:
        raise CatalogueError(source, problems, hint="pass --drop-invalid to skip these rows")
    if rows.size == 0:
        raise CatalogueError(source, [Problem(f"no valid rows left of {n} read"), *problems])
    if rows.size > limits.n_max:
        raise CatalogueError(
            source,
            [
                Problem(
                    f"{rows.size} valid objects, more than the model takes: "
                    f"{limits.n_max_key} = {limits.n_max}"
                )
            ],
        )
    kept = table[rows] if bad.any() else table
    rows = file_row_numbers(table, rows)
    if "file_rows" in table.meta and bad.any():
        kept.meta["file_rows"] = rows
    return Validated(kept, rows, tuple(problems), n, source)


def file_row_numbers(table, rows):
    """Row numbers in the file of ``table``'s ``rows`` (an index or an array of them).

    They differ from ``rows`` when the table is a ``--where`` cut of its file
    (``meta['file_rows']``, :func:`~cigars.io.apply_cuts`).
    """
    file_rows = table.meta.get("file_rows")
    return np.asarray(rows) if file_rows is None else np.asarray(file_rows)[rows]


def write_drop_report(path: str | Path, result: Validated, table=None) -> Path:
    """Write the skipped rows and their problems as JSON, atomically.

    Args:
        path: the report file.
        result: the :class:`Validated` catalogue.
        table: the table as read (to record each skipped row's ``id``).

    Returns:
        The path written.
    """
    from cigars.io._provenance import atomic_write_text

    by_row: dict[int, list[dict[str, Any]]] = {}
    for p in result.dropped:
        by_row.setdefault(int(p.row), []).append(p.to_dict())
    ids = None
    if table is not None and "id" in table.colnames:
        values = [_id_text(x) for x in np.asarray(getattr(table["id"], "data", table["id"]))]
        rows = file_row_numbers(table, np.arange(len(values))).tolist()
        ids = dict(zip(rows, values, strict=True))
    report = {
        "source": result.source,
        "n_read": result.n_read,
        "n_kept": int(result.rows.size),
        "n_dropped": len(by_row),
        "dropped": [
            {"row": r, **({"id": ids[r]} if ids else {}), "problems": probs}
            for r, probs in sorted(by_row.items())
        ],
    }
    atomic_write_text(path, json.dumps(report, indent=2) + "\n")
    return Path(path)
