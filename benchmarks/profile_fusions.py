"""Where a compiled program spends its time: XLA's fusions, from a ``jax.profiler`` trace.

How stop 20 found work done several times over (``docs/checks.md``, speed section): a fusion
that takes much longer than its output size suggests, or that takes the inputs of another
(e.g. the random-number state), is recomputing a producer XLA fused into it.

Usage::

    python benchmarks/profile_fusions.py simulator [--target 16000] [--top 30]
    python benchmarks/profile_fusions.py inference [--top 30]

``simulator``: one survey of the toy 10^6-galaxy bank at the target number of detected SNe (as
``bench_simulator.py``); ``inference``: 1,000 joint draws for its 16k survey (as
``bench_inference.py``). Prints the mean time per call of the slowest trace events over
``--repeats`` calls (after compilation and two warm-up calls), the executor's own events
included, and with ``--hlo FILE`` writes the compiled program's HLO, where each fusion's
``calls=`` computation shows what it evaluates. ``--by-line`` instead sums the fusions by the
line of ``src/cigars`` that produced them (the innermost cigars frame of each instruction's
stack trace in the HLO; while loops are left out, their bodies' fusions are counted).
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import re
import sys
import tempfile
from pathlib import Path

import jax

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def fusion_times(fn, repeats: int) -> list[tuple[str, float, float]]:
    """``(event name, ms per call, occurrences per call)`` of ``fn()``'s trace, slowest first."""
    for _ in range(2):
        jax.block_until_ready(fn())
    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp):
            for _ in range(repeats):
                jax.block_until_ready(fn())
        trace = next(Path(tmp).rglob("*.trace.json.gz"))
        events = json.loads(gzip.decompress(trace.read_bytes()))["traceEvents"]
    total, count = collections.defaultdict(float), collections.Counter()
    for e in events:
        if e.get("ph") == "X" and not e["name"].startswith("$"):  # "$": Python frames
            total[e["name"]] += e["dur"]
            count[e["name"]] += 1
    rows = [(k, v / repeats / 1e3, count[k] / repeats) for k, v in total.items()]
    return sorted(rows, key=lambda r: -r[1])


def _stack_tables(hlo: str) -> tuple[dict, dict, dict, dict]:
    """The HLO text's FileNames, FunctionNames, FileLocations and StackFrames tables."""
    tables: dict[str, dict] = {}
    section = None
    for line in hlo.splitlines():
        s = line.strip()
        if s in ("FileNames", "FunctionNames", "FileLocations", "StackFrames"):
            section = tables.setdefault(s, {})
        elif section is not None and re.match(r"^\d+ ", s):
            i, rest = s.split(" ", 1)
            if rest.startswith('"'):
                section[int(i)] = rest.strip('"')
            else:
                section[int(i)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", rest)}
        else:
            section = None
    return tuple(
        tables.get(k, {}) for k in ("FileNames", "FunctionNames", "FileLocations", "StackFrames")
    )


def source_lines(hlo: str) -> dict[str, str]:
    """Each instruction's innermost ``src/cigars`` frame, ``file:line function``, by name."""
    files, funcs, locations, frames = _stack_tables(hlo)

    def where(frame_id: int) -> str:
        first = None
        for _ in range(100):  # walk from the innermost frame outwards
            frame = frames.get(frame_id)
            if frame is None:
                break
            loc = locations[frame["file_location_id"]]
            path = files[loc["file_name_id"]]
            label = f"{Path(path).name}:{loc['line']} {funcs[loc['function_name_id']]}"
            first = first or label
            if "/src/cigars/" in path:
                return label
            # The printed parent_frame_id is one more than the parent's printed index (as
            # jaxlib 0.10 prints them: chains then run from a numpyro sampler through the
            # stage that called it to _simulate); 0 or less is the outermost frame.
            parent = frame["parent_frame_id"] - 1
            if parent <= 0 or parent == frame_id:
                break
            frame_id = parent
        return first or "?"

    out = {}
    for m in re.finditer(r"%([\w.\-]+) = [^\n]*?stack_frame_id=(\d+)", hlo):
        out[m.group(1)] = where(int(m.group(2)))
    return out


def by_line(rows, hlo: str) -> list[tuple[str, float]]:
    """Fusion times summed by source line (executor events and while loops left out)."""
    lines = source_lines(hlo)
    total = collections.defaultdict(float)
    for name, ms, _ in rows:
        if name.startswith(("Thunk", "Pjit", "while")) or name not in lines:
            continue
        total[lines[name]] += ms
    return sorted(total.items(), key=lambda kv: -kv[1])


def _survey(target: int):
    """The toy bank, the benchmark's simulator for ``target`` detected SNe, and its parameters."""
    import jax.numpy as jnp

    from benchmarks.bench_simulator import build, load_hosts, pilot, survey_size
    from cigars.simulate import Theta
    from cigars.simulate._simulator import _as_theta

    hosts, _ = load_hosts(None, 1_000_000)
    theta = _as_theta(jax.tree_util.tree_map(jnp.float32, Theta()))
    counts, n_max = survey_size(pilot(hosts, 0.7, theta)[1], target)
    return hosts, build(hosts, counts, n_max, 0.7), theta


def _simulator(target: int):
    from cigars.simulate._simulator import _simulate

    _, sim, theta = _survey(target)
    compiled = _simulate.lower(sim, jax.random.key(1), theta).compile()
    return (lambda: compiled(sim, jax.random.key(2), theta)), compiled


def _inference():
    from flax import nnx

    from benchmarks.bench_inference import NUM_SAMPLES, chunk_for, estimator_for, survey_arrays
    from cigars.inference._posterior import _sample, active_slots
    from cigars.simulate._simulator import _simulate

    hosts, sim, theta = _survey(16000)
    _, cat = _simulate(sim, jax.random.key(1), theta)
    model, _ = estimator_for(hosts)
    data, mask, context = survey_arrays(cat)
    n = int(mask.size)
    graphdef, state = nnx.split(model)
    args = (graphdef, state, jax.random.key(0), data, mask, context)
    static = (NUM_SAMPLES, chunk_for(n), active_slots(n, n))
    compiled = _sample.lower(*args, *static).compile()
    return (lambda: compiled(*args[1:])), compiled


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("program", choices=["simulator", "inference"])
    parser.add_argument("--target", type=int, default=16000, help="detected SNe (simulator)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--hlo", type=Path, help="write the compiled program's HLO here")
    parser.add_argument("--by-line", action="store_true", help="sum by cigars source line")
    args = parser.parse_args(argv)
    fn, compiled = _simulator(args.target) if args.program == "simulator" else _inference()
    rows = fusion_times(fn, args.repeats)
    if args.by_line:
        lines = by_line(rows, compiled.as_text())
        total = sum(ms for _, ms in lines)
        print(f"{total:9.3f} ms in fusions attributed to a source line")
        for label, ms in lines[: args.top]:
            print(f"{ms:9.3f} ms {100 * ms / total:5.1f}%  {label}")
    else:
        for name, ms, per_call in rows[: args.top]:
            print(f"{ms:9.3f} ms {per_call:6.1f}x  {name[:90]}")
    if args.hlo:
        args.hlo.write_text(compiled.as_text())
        print(f"wrote {args.hlo}")


if __name__ == "__main__":
    main()
