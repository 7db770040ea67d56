"""Provenance of every output (config, package version, git SHA, jax version); atomic writes."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

__all__ = ["atomic_path", "atomic_write_text", "git_sha", "provenance", "write_run_metadata"]


def git_sha() -> str | None:
    """The git commit of the installed source tree, or None outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=here,
        capture_output=True,
        text=True,
        timeout=5,
    )
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def provenance() -> dict[str, Any]:
    """Versions and machine facts recorded next to every output."""
    import jax

    import cigars

    return {
        "cigars_version": cigars.__version__,
        "git_sha": git_sha(),
        "jax_version": jax.__version__,
        "jax_backend": jax.default_backend(),
        "python_version": platform.python_version(),
        "platform": platform.platform(),
    }


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path`` atomically.

    A crash inside the block leaves ``path`` untouched (and removes the temporary file). The
    file gets the permissions of one created with ``open`` (``0o666`` less the umask), not
    ``mkstemp``'s owner-only ``0o600``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_run_metadata(outdir: str | Path, resolved_config: dict[str, Any]) -> None:
    """Write the resolved config (``config.yaml``) and ``provenance.json`` into ``outdir``."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(outdir / "config.yaml", yaml.safe_dump(resolved_config, sort_keys=False))
    atomic_write_text(outdir / "provenance.json", json.dumps(provenance(), indent=2) + "\n")
