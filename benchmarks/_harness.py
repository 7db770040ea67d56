"""Shared measurement helpers of the benchmark runner (``python -m benchmarks``).

Timing: the median and minimum of repeated calls after compilation, which is timed on its
own. Memory: the peak resident set size (``VmHWM``) of the process during a section, reset
before it through ``/proc/self/clear_refs`` (Linux; elsewhere the process-wide peak from
``resource.getrusage`` is reported and marked as such). Scaling: least-squares power laws
``cost = a n^b`` over survey sizes. Device: the copy bandwidth of a large array.
"""

from __future__ import annotations

import math
import os
import platform
import resource
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """``(median, min, last result)`` of ``repeats`` wall-clock timings of ``fn()`` [s]."""
    times, out = [], None
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), float(np.min(times)), out


def _status_kib(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        return None
    return None


class PeakMemory:
    """Peak resident memory [MiB] of this process between :meth:`reset` and :meth:`peak`.

    ``exact`` is False where the peak cannot be reset (then :meth:`peak` is the peak since the
    process started).
    """

    def __init__(self) -> None:
        self.exact = False
        self.reset()

    def reset(self) -> None:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.exact = _status_kib("VmHWM") is not None
        except OSError:
            self.exact = False

    def peak(self) -> float:
        if self.exact:
            return _status_kib("VmHWM") / 1024.0
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    @staticmethod
    def current() -> float:
        kib = _status_kib("VmRSS")
        return float("nan") if kib is None else kib / 1024.0


def program_memory(compiled) -> dict[str, float]:
    """Device memory of a compiled XLA program [MiB]: arguments, outputs, temporaries, and their
    sum less the outputs that alias (donated) arguments. Deterministic, unlike process RSS."""
    try:
        m = compiled.memory_analysis()
    except Exception:  # not every backend reports it
        return {}
    mib = 1 / 2**20
    total = (
        m.argument_size_in_bytes
        + m.output_size_in_bytes
        + m.temp_size_in_bytes
        - m.alias_size_in_bytes
    )
    return {
        "program_args_mib": m.argument_size_in_bytes * mib,
        "program_out_mib": m.output_size_in_bytes * mib,
        "program_temp_mib": m.temp_size_in_bytes * mib,
        "program_total_mib": total * mib,
    }


def power_law(sizes: Sequence[float], costs: Sequence[float]) -> float:
    """Exponent b of the least-squares fit ``log cost = log a + b log n`` (NaN if < 2 points)."""
    n = np.asarray(sizes, float)
    c = np.asarray(costs, float)
    ok = (n > 0) & (c > 0) & np.isfinite(c)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(n[ok]), np.log(c[ok]), 1)[0])


def copy_bandwidth(n_bytes: int, repeats: int = 7) -> dict[str, float]:
    """Memory bandwidth of the default JAX device from jitted copies of a float32 array.

    In the STREAM convention: (bytes read + bytes written) / time of the fastest copy, in GB/s
    (10^9 bytes per second). ``bandwidth_gb_s`` copies into a donated buffer of the same size
    (``dst.at[:].set(src)``, reused in place: the memory system's speed); ``fresh_gb_s`` is
    ``jnp.copy`` into a newly allocated output, which on CPU includes the page faults of
    fresh memory (as every new output array of a program does).
    """
    import jax
    import jax.numpy as jnp

    n = n_bytes // 4
    src = jax.block_until_ready(jnp.arange(n, dtype=jnp.float32))
    dst = [jax.block_until_ready(jnp.zeros(n, jnp.float32))]
    into = jax.jit(lambda s, d: d.at[:].set(s), donate_argnums=1)

    def copy_into():
        dst[0] = jax.block_until_ready(into(src, dst[0]))

    copy_into()
    med, best, _ = timed(copy_into, repeats)
    fresh = jax.jit(jnp.copy)
    jax.block_until_ready(fresh(src))
    _, fresh_best, _ = timed(lambda: jax.block_until_ready(fresh(src)), repeats)
    return {
        "array_mib": n * 4 / 2**20,
        "copy_ms_min": 1e3 * best,
        "copy_ms_median": 1e3 * med,
        "bandwidth_gb_s": 2 * n * 4 / best / 1e9,
        "bandwidth_gb_s_median": 2 * n * 4 / med / 1e9,
        "fresh_gb_s": 2 * n * 4 / fresh_best / 1e9,
    }


def bf16_speedup(rows: int = 4096, width: int = 128, repeats: int = 7) -> dict[str, float]:
    """Time of an MLP-sized layer pair ``tanh(x W) W`` in float32 over the same in bfloat16."""
    import jax
    import jax.numpy as jnp

    out = {}
    for name, dtype in (("float32", jnp.float32), ("bfloat16", jnp.bfloat16)):
        x, w = jnp.ones((rows, width), dtype), jnp.ones((width, width), dtype) / width
        layer = jax.jit(lambda x, w: jnp.tanh(x @ w) @ w)
        jax.block_until_ready(layer(x, w))
        _, best, _ = timed(
            lambda layer=layer, x=x, w=w: jax.block_until_ready(layer(x, w)), repeats
        )
        out[f"mlp_{name}_ms"] = 1e3 * best
    out["bf16_speedup"] = out["mlp_float32_ms"] / out["mlp_bfloat16_ms"]
    return out


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """Machine, device and versions."""
    import jax

    from cigars.io import provenance

    info: dict[str, Any] = {"cpu": cpu_model(), "cpu_count": os.cpu_count()}
    try:
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    except AttributeError:
        info["cpus_usable"] = os.cpu_count()
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        info["memory_gib"] = round(pages / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    info["platform"] = platform.platform()
    info["jax_backend"] = jax.default_backend()
    info["devices"] = [str(d) for d in jax.devices()]
    info["device_kind"] = jax.devices()[0].device_kind
    info.update({k: v for k, v in provenance().items() if k not in info})
    info["versions"] = _versions()
    info["date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return info


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("jax", "jaxlib", "numpy", "flax", "optax", "numpyro", "scipy", "sbi", "torch"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def load() -> float:
    """The 1-minute load average (NaN where unavailable)."""
    try:
        return float(os.getloadavg()[0])
    except OSError:
        return float("nan")


def contamination(load_avg: float, cpus: int) -> str | None:
    """A warning when other processes competed for the CPUs (load above the usable CPUs)."""
    if math.isfinite(load_avg) and load_avg > cpus + 0.5:
        return (
            f"load average {load_avg:.1f} on {cpus} CPUs: other processes shared the machine, "
            "so these timings are pessimistic"
        )
    return None
