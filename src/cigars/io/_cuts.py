"""Row cuts on a catalogue's own columns (``cigars infer --where``), applied as it is read.

A cut is ``COLUMN OP VALUE`` with ``OP`` one of ``< <= > >= == !=``: a sample selection made
on the file's columns before they are mapped to cigars columns (a photometric-classification
probability, a survey flag, a quality cut), so that an analysis of part of a file needs no
edited copy of it. A row whose value is missing (masked, NaN, empty) fails every cut.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import Table

from cigars.io._validate import CatalogueError, Problem, _id_text, as_float

__all__ = ["RowCut", "apply_cuts", "parse_cuts"]

_OPS = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_PATTERN = re.compile(r"^\s*([^\s<>=!]+)\s*(<=|>=|==|!=|<|>)\s*([^\s<>=!](?:.*\S)?)\s*$")


@dataclass(frozen=True)
class RowCut:
    """One cut ``column op value``.

    Attributes:
        column: the file's column name (after a column map's join: ``prefix + name``).
        op: ``<``, ``<=``, ``>``, ``>=``, ``==`` or ``!=``.
        value: a number, or a text for ``==`` / ``!=`` on a text column.
    """

    column: str
    op: str
    value: float | str

    def __str__(self) -> str:
        return f"{self.column}{self.op}{self.value}"

    @classmethod
    def parse(cls, text: str) -> RowCut:
        """A cut from ``"COLUMN OP VALUE"`` (e.g. ``"PROBCC_BEAMS<0.5"``).

        Raises:
            ValueError: naming the text, if it is not of that form.
        """
        match = _PATTERN.match(text)
        if match is None:
            raise ValueError(
                f"--where {text!r}: expected COLUMN OP VALUE with OP one of "
                f"{' '.join(sorted(_OPS, key=len))}, e.g. 'PROBCC_BEAMS<0.5'"
            )
        column, op, raw = match.groups()
        try:
            value: float | str = float(raw)
        except ValueError:
            if op not in ("==", "!="):
                raise ValueError(f"--where {text!r}: {op} needs a number, got {raw!r}") from None
            value = raw.strip("'\"")
        return cls(column, op, value)

    def keep(self, table: Table, source: str | Path) -> np.ndarray:
        """The rows of ``table`` that pass, as a boolean array.

        Raises:
            CatalogueError: naming the file and column, for a column the table lacks or a
                number compared with a text column.
        """
        if self.column not in table.colnames:
            raise CatalogueError(
                str(source),
                [Problem(f"--where {self}: no column {self.column!r} in the file", None, None)],
                hint="columns: " + ", ".join(table.colnames[:40]),
            )
        column = table[self.column]
        compare = _OPS[self.op]
        if isinstance(self.value, str):
            raw = np.asarray(getattr(column, "data", column))
            text = np.array([_id_text(x) for x in raw])
            present = ~np.ma.getmaskarray(column) & (text != "")
            return present & compare(text, self.value)
        values, bad = as_float(column)
        if bad and len(bad) == np.count_nonzero(~np.ma.getmaskarray(column)):
            raise CatalogueError(
                str(source),
                [Problem(f"--where {self}: the column holds text, not numbers", None, self.column)],
            )
        with np.errstate(invalid="ignore"):
            return np.isfinite(values) & compare(values, self.value)


def parse_cuts(texts: Iterable[str] | None) -> tuple[RowCut, ...]:
    """The cuts of ``--where`` arguments (none for ``None``)."""
    return tuple(RowCut.parse(t) for t in texts or ())


def apply_cuts(table: Table, cuts: Sequence[RowCut | str] | str, source: str | Path) -> Table:
    """``table``'s rows that pass every cut (all rows without cuts).

    ``cuts`` may be :class:`RowCut` s or their text (``"PROBCC_BEAMS<0.5"``), or one text.

    The result's ``meta`` records ``file_rows`` (each kept row's index in ``table``), ``where``
    (the cuts as text) and ``n_file_rows``; without cuts it is ``table`` itself.

    Raises:
        ValueError: for a text that is not a cut.
        CatalogueError: for a cut on a missing or text column, or if no row passes.
    """
    if isinstance(cuts, str):
        cuts = (cuts,)
    cuts = tuple(RowCut.parse(c) if isinstance(c, str) else c for c in cuts)
    if not cuts:
        return table
    keep = np.ones(len(table), bool)
    for cut in cuts:
        keep &= cut.keep(table, source)
    if not keep.any():
        raise CatalogueError(
            str(source),
            [Problem(f"no row passes --where {' '.join(map(str, cuts))}", None, None)],
        )
    out = table[keep]
    out.meta["file_rows"] = np.flatnonzero(keep)
    out.meta["where"] = [str(c) for c in cuts]
    out.meta["n_file_rows"] = len(table)
    return out
