"""Where the test suite's time goes: XLA compilations per test, as a pytest plugin.

The suite is bound by compilation (stop 26: 7,050 compilations took 1,460 of its 1,990 CPU
seconds on the 2-core machine, 5,200 of them single primitives run eagerly). This plugin
records every compilation JAX logs, with the test that caused it, one file per pytest-xdist
worker; run as a script it sums them by test, by program and by test file.

Usage::

    rm -rf .cache/jax-tests   # a clean compilation cache, as in CI
    JAX_LOG_COMPILES=1 CIGARS_COMPILE_LOG=/tmp/compiles \\
        python -m pytest -n 2 --dist loadfile -p benchmarks.compile_log
    python benchmarks/compile_log.py /tmp/compiles [--top 25]

Eager primitives show up as ``jit(add)``, ``jit(multiply)``, ...: a test (or library code)
that runs a jax function without ``jax.jit`` compiles each of its primitives on its own.
"""

from __future__ import annotations

import argparse
import collections
import logging
import os
import re
import sys
from pathlib import Path

_PATTERN = re.compile(r"Finished XLA compilation of (.+?) in ([0-9.eE+-]+) sec")
_current = {"test": "(collection)"}


class _Recorder(logging.Handler):
    def __init__(self, path: Path):
        super().__init__(logging.DEBUG)
        self.path = path

    def emit(self, record: logging.LogRecord) -> None:
        match = _PATTERN.search(record.getMessage())
        if match:
            with self.path.open("a") as fh:
                fh.write(f"{_current['test']}\t{match.group(1)}\t{match.group(2)}\n")


def pytest_configure(config) -> None:
    out = os.environ.get("CIGARS_COMPILE_LOG")
    if not out:
        raise RuntimeError("benchmarks.compile_log: set CIGARS_COMPILE_LOG to an output folder")
    if os.environ.get("JAX_LOG_COMPILES") != "1":
        raise RuntimeError("benchmarks.compile_log: set JAX_LOG_COMPILES=1 (JAX logs nothing else)")
    Path(out).mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    logging.getLogger("jax").addHandler(_Recorder(Path(out) / f"compiles-{worker}.tsv"))


def pytest_runtest_setup(item) -> None:
    _current["test"] = item.nodeid


def summarise(folder: Path, top: int) -> None:
    """Print the compile seconds by test, by program and by test file."""
    rows = []
    for path in sorted(folder.glob("compiles-*.tsv")):
        for line in path.read_text().splitlines():
            test, program, seconds = line.split("\t")
            rows.append((test, program, float(seconds)))
    if not rows:
        sys.exit(f"no compiles-*.tsv in {folder}")
    total = sum(s for *_, s in rows)
    print(f"{len(rows)} compilations, {total:.0f} s")
    for title, key in (
        ("by test", lambda r: r[0]),
        ("by program", lambda r: r[1]),
        ("by test file", lambda r: r[0].split("::")[0]),
    ):
        seconds, count = collections.Counter(), collections.Counter()
        for row in rows:
            seconds[key(row)] += row[2]
            count[key(row)] += 1
        print(f"\n{title}: seconds, compilations")
        for name, s in seconds.most_common(top):
            print(f"{s:8.1f} {count[name]:6d}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the CIGARS_COMPILE_LOG folder of a test run")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    summarise(args.folder, args.top)


if __name__ == "__main__":
    main()
