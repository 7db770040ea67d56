"""Input/output: provenance records, atomic writes, catalogue readers and posterior files."""

from cigars.io._checkpoint import load_checkpoint, read_checkpoint_metadata, save_checkpoint
from cigars.io._mock import band_labels, catalogue_table, read_mock, write_mock
from cigars.io._provenance import (
    atomic_path,
    atomic_write_text,
    git_sha,
    provenance,
    write_run_metadata,
)
from cigars.io._reference import read_reference_mock

__all__ = [
    "atomic_path",
    "atomic_write_text",
    "band_labels",
    "catalogue_table",
    "git_sha",
    "load_checkpoint",
    "provenance",
    "read_checkpoint_metadata",
    "read_mock",
    "read_reference_mock",
    "save_checkpoint",
    "write_mock",
    "write_run_metadata",
]
