"""Input/output: provenance records, atomic writes, catalogue readers and posterior files."""

from cigars.io._checkpoint import load_checkpoint, read_checkpoint_metadata, save_checkpoint
from cigars.io._columns import (
    ColumnMap,
    HostBandColumns,
    JoinColumns,
    QuantityColumns,
    load_column_map,
    shipped_column_maps,
)
from cigars.io._cuts import RowCut, apply_cuts, parse_cuts
from cigars.io._mock import band_labels, catalogue_table, read_mock, write_mock
from cigars.io._provenance import (
    atomic_path,
    atomic_write_text,
    git_sha,
    provenance,
    write_run_metadata,
)
from cigars.io._readers import read_catalogue, read_snana, read_table
from cigars.io._reference import read_reference_mock
from cigars.io._validate import (
    CatalogueError,
    CatalogueLimits,
    Problem,
    Validated,
    file_row_numbers,
    validate_catalogue,
    write_drop_report,
)

__all__ = [
    "CatalogueError",
    "CatalogueLimits",
    "ColumnMap",
    "HostBandColumns",
    "JoinColumns",
    "Problem",
    "QuantityColumns",
    "RowCut",
    "Validated",
    "apply_cuts",
    "atomic_path",
    "atomic_write_text",
    "band_labels",
    "catalogue_table",
    "file_row_numbers",
    "git_sha",
    "load_column_map",
    "load_checkpoint",
    "parse_cuts",
    "provenance",
    "read_catalogue",
    "read_checkpoint_metadata",
    "read_mock",
    "read_reference_mock",
    "read_snana",
    "read_table",
    "save_checkpoint",
    "shipped_column_maps",
    "validate_catalogue",
    "write_drop_report",
    "write_mock",
    "write_run_metadata",
]
