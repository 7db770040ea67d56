"""Input/output: provenance records, atomic writes, catalogue readers and posterior files."""

from cigars.io._provenance import (
    atomic_path,
    atomic_write_text,
    git_sha,
    provenance,
    write_run_metadata,
)

__all__ = ["atomic_path", "atomic_write_text", "git_sha", "provenance", "write_run_metadata"]
