"""Galaxy-bank write throughput: prior sampling + HDF5 I/O, with a cheap stand-in photometry.

Measures, for ``write_bank`` with a trivial jitted ``magnitudes_fn`` (so the SPS cost is
excluded):

* the prior build time (tables) and the one-off compile time of a chunk;
* the sampling-only throughput (``sample_hosts`` + SFH bins, jitted, no I/O);
* the end-to-end write throughput and the extrapolated time for a 10^6-galaxy bank;
* the peak resident memory of the process (``resource.getrusage``) and the file size.

Usage::

    python benchmarks/bench_bank.py                 # 10^5 galaxies, chunks of 20,000
    python benchmarks/bench_bank.py --n 1000000     # the full bank size

Recorded results (2026-11-28; CPU, 2 cores shared with other jobs at load average ~8,
jax 0.10.2, float32, chunks of 20,000; ``--n 1000000``):

    prior build: 1.9 s; compile of a chunk: 16 s (one-off)
    sampling only: 46,000 galaxies/s (0.44 s per chunk)
    write_bank: 1,000,000 galaxies in 19.5 s = 51,000 galaxies/s (sampling + I/O)
    file: 137 MiB (144 bytes/galaxy, 6 bands); load_bank: 0.75 s; peak RSS: 777 MiB
"""

import argparse
import resource
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp

from cigars.hosts._bank import _draw_chunk, load_bank, write_bank
from cigars.hosts._priors import prospector_beta_prior

BANDS = ("u", "g", "r", "i", "z", "y")


@jax.jit
def fake_magnitudes(hosts, edges, log_masses):
    """Six cheap 'magnitudes' depending on mass, SFH, dust and redshift."""
    base = -2.5 * hosts.logmass + 5.0 + 0.3 * hosts.dust2
    slopes = jnp.linspace(-0.5, 0.5, len(BANDS))
    return base[:, None] + slopes * (log_masses[:, 0] - hosts.logmass + hosts.z)[:, None]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="galaxies to write")
    parser.add_argument("--chunk-size", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=None, help="directory for the bank file")
    args = parser.parse_args()

    print(f"jax {jax.__version__} backend={jax.default_backend()} devices={jax.devices()}")
    t0 = time.perf_counter()
    prior = prospector_beta_prior()
    jax.block_until_ready(prior)
    print(f"prior build: {time.perf_counter() - t0:.2f} s")

    size = min(args.chunk_size, args.n)
    key = jax.random.key(0)
    t0 = time.perf_counter()
    jax.block_until_ready(_draw_chunk(key, size, prior, 0))
    jax.block_until_ready(fake_magnitudes(*_draw_chunk(key, size, prior, 0)))
    print(f"compile (chunk of {size}): {time.perf_counter() - t0:.2f} s")

    reps = max(1, min(5, args.n // size))
    t0 = time.perf_counter()
    for i in range(reps):
        jax.block_until_ready(_draw_chunk(key, size, prior, i * size))
    dt = time.perf_counter() - t0
    print(f"sampling only: {reps * size / dt:,.0f} galaxies/s ({dt / reps:.3f} s per chunk)")

    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        path = Path(tmp) / "bench_bank.h5"
        t0 = time.perf_counter()
        write_bank(
            path,
            prior,
            fake_magnitudes,
            BANDS,
            n=args.n,
            chunk_size=args.chunk_size,
            seed=0,
            progress=False,
        )
        dt = time.perf_counter() - t0
        size_mib = path.stat().st_size / 2**20
        print(
            f"write_bank: {args.n:,} galaxies in {dt:.2f} s = {args.n / dt:,.0f} galaxies/s; "
            f"10^6 galaxies -> {1e6 / (args.n / dt):.0f} s (extrapolated)"
        )
        print(f"file size: {size_mib:.1f} MiB ({size_mib * 2**20 / args.n:.0f} bytes/galaxy)")
        t0 = time.perf_counter()
        bank = load_bank(path)
        jax.block_until_ready(bank)
        print(f"load_bank: {time.perf_counter() - t0:.2f} s")
    print(f"peak RSS: {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
