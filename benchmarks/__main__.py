"""Run every benchmark in one process and record the results.

Usage: ``python -m benchmarks [--quick] [--only NAME ...]``. Writes ``benchmarks/RESULTS.md``
(machine, device, versions and one section per benchmark) and ``benchmarks/results.json``.
Each benchmark module ``benchmarks/bench_<name>.py`` exposes ``main(quick: bool) -> dict``.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import platform
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAMES = ["cosmology", "sps", "bank", "simulator", "training"]


def machine() -> dict:
    import jax

    from cigars.io import provenance

    info = provenance()
    info.update(
        cpu_count=os.cpu_count(),
        processor=platform.processor() or platform.machine(),
        devices=[str(d) for d in jax.devices()],
        date=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    )
    return info


def _markdown(results: dict, info: dict, quick: bool) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Run: `python -m benchmarks{' --quick' if quick else ''}`",
        "",
    ]
    lines += ["| machine | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in info.items()]
    for name, res in results.items():
        lines += ["", f"## {name}", ""]
        if "error" in res:
            lines.append(f"FAILED: {res['error']}")
            continue
        lines += ["| quantity | value |", "|---|---|"]
        for k, v in res.items():
            lines.append(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few-minute version")
    parser.add_argument("--only", nargs="*", choices=NAMES, help="run only these benchmarks")
    args = parser.parse_args(argv)
    from cigars.io import atomic_write_text

    results = {}
    for name in args.only or NAMES:
        try:
            module = importlib.import_module(f"benchmarks.bench_{name}")
        except ModuleNotFoundError as err:
            results[name] = {"error": f"not available: {err}"}
            continue
        run = module.main
        kwargs = {"quick": args.quick} if "quick" in inspect.signature(run).parameters else {}
        print(f"== {name} ==", flush=True)
        results[name] = run(**kwargs)
    info = machine()
    atomic_write_text(HERE / "results.json", json.dumps({"machine": info, **results}, indent=2))
    atomic_write_text(HERE / "RESULTS.md", _markdown(results, info, args.quick))
    print(f"wrote {HERE / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
