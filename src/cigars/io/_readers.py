"""Catalogue readers: CSV, ECSV, FITS and SNANA text tables (gzipped too), through a column map.

:func:`read_table` reads a file's own columns; :func:`read_catalogue` turns them into the cigars
columns (those :func:`cigars.io.write_mock` writes) with a :class:`~cigars.io.ColumnMap`, or
reads a file already in cigars columns (a ``cigars simulate`` mock, or a CSV/ECSV/FITS table
written with those names) when no map is given. The format comes from the extension:

=====================================  =========================================================
``.csv``                               comma-separated, one header line (astropy ``ascii.csv``)
``.ecsv``                              astropy's enhanced CSV (units and types in the header)
``.fits``, ``.fit``, ``.fts``          FITS binary table (a mock's ``CATALOGUE``, else the first)
``.fitres``, ``.dat``, ``.txt``        SNANA ``VARNAMES:``/``SN:`` rows, or a whitespace table
                                       with one header line (e.g. ``Pantheon+SH0ES.dat``)
=====================================  =========================================================

Each may end in ``.gz``. Input files are only ever opened for reading.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy.table import Table

from cigars.io._columns import ColumnMap, QuantityColumns, load_column_map
from cigars.io._cuts import RowCut, apply_cuts
from cigars.io._validate import CatalogueError, Problem, _id_text, as_float

__all__ = ["read_catalogue", "read_snana", "read_table", "table_format"]

_SUFFIXES = {
    ".csv": "csv",
    ".ecsv": "ecsv",
    ".fits": "fits",
    ".fit": "fits",
    ".fts": "fits",
    ".fitres": "snana",
    ".dat": "snana",
    ".txt": "snana",
}
_ROW_KEYS = ("SN:", "ROW:", "GAL:")
_LN10 = np.log(10.0)


def _error(path, message: str, *, row: int | None = None, column: str | None = None):
    return CatalogueError(str(path), [Problem(message, row, column)])


def table_format(path: str | Path) -> str:
    """The format of a catalogue file from its extension (``.gz`` ignored).

    Raises:
        CatalogueError: for an unknown extension.
    """
    name = Path(path).name.lower().removesuffix(".gz")
    suffix = Path(name).suffix
    if suffix not in _SUFFIXES:
        raise _error(
            path,
            f"unknown catalogue format {suffix or '(no extension)'!r}: expected one of "
            f"{sorted(_SUFFIXES)} (optionally .gz), or set 'format' in the column map",
        )
    return _SUFFIXES[suffix]


def _open_text(path: Path):
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _typed(values: list[str]) -> np.ndarray:
    arr = np.array(values, dtype=str)
    for dtype in (np.int64, np.float64):
        try:
            return arr.astype(dtype)
        except ValueError:
            continue
    return arr


def read_snana(path: str | Path) -> Table:
    """Read a SNANA text table (FITRES, HEAD-style key tables) or a plain whitespace table.

    SNANA tables have a ``VARNAMES:`` line naming the columns and one ``SN:`` (or ``ROW:``,
    ``GAL:``) line per row; ``#`` comments, other ``KEY:`` header lines and ``DOCUMENTATION:``
    ... ``DOCUMENTATION_END:`` blocks are skipped. Without ``VARNAMES:``, the first non-comment
    line is the header of a whitespace-separated table. Columns of integers or numbers become
    numeric, others text.

    Raises:
        CatalogueError: naming the file and line of a malformed table.
    """
    path = Path(path)
    names: list[str] | None = None
    snana = False
    rows: list[list[str]] = []
    in_doc = False
    try:
        with _open_text(path) as f:
            for lineno, line in enumerate(f, 1):
                text = line.strip()
                if not text or text.startswith("#"):
                    continue
                if in_doc:
                    in_doc = not text.startswith("DOCUMENTATION_END:")
                    continue
                if text.startswith("DOCUMENTATION:"):
                    in_doc = True
                    continue
                tokens = text.split()
                key = tokens[0]
                if key == "VARNAMES:":
                    if names is not None:
                        raise _error(path, f"line {lineno}: a second header (VARNAMES:) line")
                    names, snana = tokens[1:], True
                    continue
                if key in _ROW_KEYS and snana:
                    values = tokens[1:]
                elif key.endswith(":") and (snana or names is None):
                    continue
                elif names is None:
                    names = tokens
                    continue
                elif snana:
                    raise _error(path, f"line {lineno}: expected a 'SN:' row, got {key!r}")
                else:
                    values = tokens
                if len(values) != len(names):
                    raise _error(
                        path, f"line {lineno}: {len(values)} values for {len(names)} columns"
                    )
                rows.append(values)
    except (UnicodeDecodeError, OSError, EOFError) as err:
        raise _error(path, f"cannot read as a text table: {err}") from None
    if names is None:
        raise _error(path, "no header: expected a VARNAMES: line or a line of column names")
    if not names:
        raise _error(path, "the header names no columns")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise _error(path, f"column {dup[0]!r} appears twice in the header")
    table = Table()
    for j, name in enumerate(names):
        table[name] = _typed([r[j] for r in rows]) if rows else np.zeros(0)
    return table


def _fits_table(path: Path, hdu) -> Table:
    from astropy.io import fits

    try:
        with fits.open(path, memmap=False) as hdul:
            tables = [
                i for i, h in enumerate(hdul) if isinstance(h, fits.BinTableHDU | fits.TableHDU)
            ]
            if hdu is None:
                names = [h.name for h in hdul]
                if "CATALOGUE" in names:
                    hdu = names.index("CATALOGUE")
                elif tables:
                    hdu = tables[0]
                else:
                    raise _error(path, "no table extension in this FITS file")
            try:
                return Table.read(hdul, hdu=hdu)
            except (KeyError, IndexError):
                raise _error(path, f"no FITS extension {hdu!r}") from None
    except (OSError, EOFError, ValueError, TypeError) as err:
        if isinstance(err, CatalogueError):
            raise
        raise _error(path, f"cannot read as FITS: {err}") from None


def read_table(path: str | Path, format: str = "auto", *, hdu=None) -> Table:
    """A catalogue file's own columns as an astropy Table.

    Args:
        path: the file (see the module docstring for formats; ``.gz`` allowed).
        format: ``auto`` (from the extension), ``csv``, ``ecsv``, ``fits`` or ``snana``.
        hdu: the FITS extension (default: ``CATALOGUE`` if present, else the first table).

    Raises:
        FileNotFoundError: if the file does not exist.
        CatalogueError: if it cannot be parsed (naming the file, and the line where known).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    fmt = table_format(path) if format == "auto" else format
    if fmt == "snana":
        return read_snana(path)
    if fmt == "fits":
        return _fits_table(path, hdu)
    try:
        with _open_text(path) as f:
            text = f.read()
    except (UnicodeDecodeError, OSError, EOFError) as err:
        raise _error(path, f"cannot read as a text table: {err}") from None
    try:
        return Table.read(text, format=f"ascii.{fmt}", guess=False)
    except Exception as err:  # astropy raises many types for malformed text tables
        raise _error(path, f"cannot read as {fmt.upper()}: {type(err).__name__}: {err}") from None


def _join(path: Path, table: Table, cmap: ColumnMap) -> Table:
    """Add the joined file's columns (prefixed), aligned to ``table``'s rows by ID."""
    join = cmap.join
    other_path = Path(join.file)
    if not other_path.is_absolute():
        other_path = path.parent / other_path
    other = read_table(other_path, hdu=join.hdu)
    for name, tab, where in ((join.key, table, path), (join.other_key, other, other_path)):
        if name not in tab.colnames:
            raise _error(where, f"join column {name!r} is not in the file")
    keys = [_id_text(x) for x in np.asarray(other[join.other_key])]
    index: dict[str, int] = {}
    for i, k in enumerate(keys):
        if k in index:
            raise _error(other_path, f"duplicate join ID {k!r}", row=i, column=join.other_key)
        index[k] = i
    pos = np.array([index.get(_id_text(x), -1) for x in np.asarray(table[join.key])])
    found = pos >= 0
    out = table.copy(copy_data=False)
    for name in other.colnames:
        new = join.prefix + name
        if new in out.colnames:
            raise _error(
                path,
                f"joined column {new!r} is also in the main file: set join.prefix in the "
                "column map",
            )
        col = np.asarray(getattr(other[name], "data", other[name]))
        if col.ndim != 1:
            continue
        if col.dtype.kind in "biuf":
            vals = np.full(len(pos), np.nan)
            vals[found] = col[pos[found]]
            mask = np.ma.getmaskarray(other[name])
            vals[found & mask[np.where(found, pos, 0)]] = np.nan
        else:
            vals = np.array([_id_text(col[p]) if p >= 0 else "" for p in pos])
        out[new] = vals
    out.meta["join"] = {
        "file": str(other_path),
        "matched": int(found.sum()),
        "unmatched": int((~found).sum()),
    }
    return out


def _check_unit(path, table: Table, name: str, expected: str) -> None:
    unit = getattr(table[name], "unit", None)
    if unit is None:
        return
    text = str(unit)
    ok = {"mag": ("mag", "AB", "ABmag", ""), "": ("", "dimensionless")}[expected]
    if text not in ok:
        raise _error(
            path,
            f"the file gives unit {text!r}; the column map reads it as "
            f"{expected or 'dimensionless'}",
            column=name,
        )


class _Mapper:
    """Builds cigars columns from a file table through a column map, recording sources."""

    def __init__(self, path: Path, raw: Table, cmap: ColumnMap):
        self.path, self.raw, self.cmap = path, raw, cmap
        self.out = Table()
        self.sources: dict[str, str] = {}
        self.notes: dict[str, dict[int, str]] = {}

    def column(self, name: str, unit: str = "", missing=()) -> tuple[np.ndarray, dict[int, str]]:
        """The file column as floats (``missing`` values NaN) and notes on unreadable rows."""
        self.need(name)
        _check_unit(self.path, self.raw, name, unit)
        values, bad = as_float(self.raw[name])
        if missing:
            values[np.isin(values, np.asarray(missing, dtype=np.float64))] = np.nan
        return values, {i: f"not a number ({t!r})" for i, t in bad.items()}

    def need(self, name: str) -> None:
        """Raise if the file lacks a column the map names."""
        if name not in self.raw.colnames:
            shown = ", ".join(self.raw.colnames[:40])
            more = " ..." if len(self.raw.colnames) > 40 else ""
            raise _error(
                self.path,
                f"column {name!r} named by the column map {self.cmap.name!r} is not in the "
                f"file (it has: {shown}{more})",
            )

    def put(self, field: str, values: np.ndarray, source: str, *notes: dict[int, str]) -> None:
        self.out[field] = values
        self.sources[field] = source
        merged = {k: v for n in notes for k, v in n.items()}
        if merged:
            self.notes.setdefault(field, {}).update(merged)

    def quantity(self, field: str, q: QuantityColumns, unit: str = "") -> None:
        """Value and uncertainty: ``var_<field>`` for m_b, x1, c; ``<field>_err`` otherwise."""
        v, nv = self.column(q.column, unit, q.missing)
        self.put(field, v, q.column, nv)
        sn = field in ("m_b", "x1", "c")
        if q.err is not None:
            e, ne = self.column(q.err, unit, q.missing)
            self.put(
                f"var_{field}" if sn else f"{field}_err", e * np.abs(e) if sn else e, q.err, ne
            )
        elif q.var is not None:
            w, nw = self.column(q.var, "", q.missing)
            self.put(
                f"var_{field}" if sn else f"{field}_err", w if sn else _signed_sqrt(w), q.var, nw
            )

    def x0(self, q: QuantityColumns) -> np.ndarray:
        """Read x0; unless ``m_b`` is mapped, m_b = -2.5 log10(x0) + Z and its variance."""
        x0, n0 = self.column(q.column, "", q.missing)
        if self.cmap.m_b is not None:
            return x0
        positive = x0 > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            m = np.where(positive, -2.5 * np.log10(np.where(positive, x0, 1.0)), np.nan)
        m = m + self.cmap.x0_zero_point
        notes = {
            int(i): f"x0 must be positive to give m_b ({x0[i]:.6g})"
            for i in np.flatnonzero(np.isfinite(x0) & ~positive)
        }
        self.put("m_b", m, q.column, n0, notes)
        if q.err is not None or q.var is not None:
            if q.err is not None:
                s, ns = self.column(q.err, "", q.missing)
            else:
                w, ns = self.column(q.var, "", q.missing)
                s = _signed_sqrt(w)
            with np.errstate(divide="ignore", invalid="ignore"):
                sm = 2.5 / _LN10 * s / np.abs(x0)
            self.put("var_m_b", sm * np.abs(sm), q.err or q.var, ns, notes)
        return x0

    def build(self) -> Table:
        cmap = self.cmap
        n = len(self.raw)
        if cmap.id is not None:
            self.need(cmap.id)
            self.out["id"] = np.array(
                [_id_text(x) for x in np.asarray(self.raw[cmap.id])], dtype=str
            )
            self.sources["id"] = cmap.id
        else:
            self.out["id"] = np.arange(n, dtype=np.int64)
        for filt, cols in cmap.host_mags.items():
            band = filt.split("-")[-1]
            mag, nm = self.column(cols.mag, "mag", cols.missing)
            if cmap.host_mag_system == "Vega":
                mag = mag + cols.ab_offset
            self.put(f"host_mag_{band}", mag, cols.mag, nm)
            err, ne = self.column(cols.err, "mag", cols.missing)
            if cmap.host_mag_err_floor > 0:
                err = np.where(err >= 0, np.hypot(err, cmap.host_mag_err_floor), err)
            self.put(f"host_mag_err_{band}", err, cols.err, ne)
        if cmap.m_b is not None:
            self.quantity("m_b", cmap.m_b, "mag")
        x0 = self.x0(cmap.x0) if cmap.x0 is not None else None
        for field in ("x1", "c"):
            q = getattr(cmap, field)
            if q is not None:
                self.quantity(field, q)
        if cmap.cov_x1_c:
            self.put("cov_x1_c", self.column(cmap.cov_x1_c)[0], cmap.cov_x1_c)
        for field, direct, via_x0 in (
            ("cov_m_b_x1", cmap.cov_m_b_x1, cmap.cov_x0_x1),
            ("cov_m_b_c", cmap.cov_m_b_c, cmap.cov_x0_c),
        ):
            if direct:
                self.put(field, self.column(direct)[0], direct)
            elif via_x0:
                cov = self.column(via_x0)[0]
                with np.errstate(divide="ignore", invalid="ignore"):
                    self.put(field, -2.5 / (_LN10 * x0) * cov, via_x0)
        for field in ("z_spec", "z_hel", "z_cmb", "z_hd", "host_logmass"):
            q = getattr(cmap, field)
            if q is not None:
                self.quantity(field, q)
        for name in cmap.keep:
            if name in self.out.colnames:
                raise _error(self.path, f"keep: {name!r} clashes with a cigars column")
            self.need(name)
            self.out[name] = self.raw[name]
        self.out.meta.update(
            {
                "source": str(self.path),
                "column_map": cmap.name,
                "filters": list(cmap.filters),
                "source_columns": dict(self.sources),
                "row_notes": {k: dict(v) for k, v in self.notes.items()},
            }
        )
        if "join" in self.raw.meta:
            self.out.meta["join"] = self.raw.meta["join"]
        return self.out


def _signed_sqrt(v: np.ndarray) -> np.ndarray:
    """sqrt(|v|) with the sign of v (so a negative variance stays visibly invalid)."""
    return np.sign(v) * np.sqrt(np.abs(v))


def read_catalogue(
    path: str | Path,
    columns: ColumnMap | str | Path | None = None,
    *,
    where: Sequence[RowCut | str] | str = (),
) -> Table:
    """Read an observed catalogue into cigars columns.

    Args:
        path: the catalogue file (CSV, ECSV, FITS, SNANA text; ``.gz`` allowed; ``.npz``: a
            reference-implementation mock, :func:`~cigars.io.read_reference_mock`).
        columns: a :class:`~cigars.io.ColumnMap`, a shipped map's name (``pantheonplus``,
            ``des-sn5yr``) or a map YAML file; None for a file already in cigars columns
            (e.g. a ``cigars simulate`` mock).
        where: row cuts (:class:`~cigars.io.RowCut` s or their text, ``"PROBCC_BEAMS<0.5"``)
            on the file's own columns (after a map's join), applied before the columns are
            mapped; only the rows that pass are read. ``meta`` then also records
            ``file_rows`` (each row's index in the file), ``where`` and ``n_file_rows``.

    Returns:
        The table in cigars columns. ``meta`` records ``source`` (the file), ``filters`` (the
        host bands' filter names, when known), ``source_columns`` (cigars column -> file
        column) and ``row_notes`` (per column, rows whose value could not be read, with why);
        :func:`~cigars.io.validate_catalogue` reports them.

    Raises:
        FileNotFoundError: if a file does not exist.
        CatalogueError: if a file cannot be parsed or lacks a column the map names.
        ConfigError: if the column map is invalid.
    """
    path = Path(path)
    if columns is None:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        if path.suffix == ".npz":
            from cigars.io._reference import BANDS, read_reference_mock

            table, _ = read_reference_mock(path)
            # The reference made its host photometry through the LSST v1.1 (2016) throughputs
            # (docs/checks.md, "Cause of the DTD offset"), speclite's lsst2016-*.
            table.meta["filters"] = [f"lsst2016-{b}" for b in BANDS]
            table.meta["source"] = str(path)
            return apply_cuts(table, where, path)
        fmt = table_format(path)
        if fmt == "fits":
            from astropy.io import fits

            try:
                with fits.open(path, memmap=False) as hdul:
                    is_mock = "CATALOGUE" in [h.name for h in hdul]
            except OSError as err:
                raise _error(path, f"cannot read as FITS: {err}") from None
            if is_mock:
                from cigars.io._mock import read_mock

                table, _, meta, _ = read_mock(path)
                filters = ((meta.get("config") or {}).get("bands") or {}).get("filters")
                if filters:
                    table.meta["filters"] = list(filters)
                table.meta["source"] = str(path)
                return apply_cuts(table, where, path)
        table = read_table(path, fmt)
        table.meta["source"] = str(path)
        return apply_cuts(table, where, path)
    cmap = load_column_map(columns)
    raw = read_table(path, cmap.format, hdu=cmap.hdu)
    if cmap.join is not None:
        raw = _join(path, raw, cmap)
    raw = apply_cuts(raw, where, path)
    table = _Mapper(path, raw, cmap).build()
    for key in ("file_rows", "where", "n_file_rows"):
        if key in raw.meta:
            table.meta[key] = raw.meta[key]
    return table
