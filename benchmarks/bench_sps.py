"""Speed of host photometry: 6-band redshifted absolute magnitudes for many galaxies on CPU.

Times ``jit(vmap(host_magnitudes))`` in chunks for the PopStar SSP-grid provider and the
Speculator emulator, reports the cost per galaxy and the extrapolated time for 10^6 galaxies
(target: <= 10 minutes on 2 cores, i.e. <= ~0.5 ms per galaxy), then compares the two providers
for the same galaxies.

    python benchmarks/bench_sps.py [--n 100000] [--chunk 8192]

Galaxy parameters are drawn uniformly over the CIGaRS prior ranges (MODEL.md §3a); the SFH bins
follow the CIGaRS scheme (edges 0, 30 Myr, 100 Myr.. 0.85 t_univ in 5 log steps, t_univ with
WMAP9), computed here in numpy so the benchmark does not depend on the SFH module.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from astropy.cosmology import WMAP9, FlatLambdaCDM

from cigars.hosts._filters import host_magnitudes, load_bands, make_photometry
from cigars.hosts._params import HostParams
from cigars.hosts._sps import SpeculatorSPS, SSPGridSPS
from cigars.hosts._ssp import load_popstar

NPZ = (
    Path(__file__).resolve().parents[1].parent / "shared/data/cigars-reference/speculator_alpha.npz"
)


def draw_galaxies(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.02, 1.5, n)
    logmass = rng.uniform(8.5, 12.0, n)
    ratios = np.clip(rng.standard_t(2, (n, 6)) * 0.3, -5, 5)
    host = dict(
        z=z, logmass=logmass, logzsol=rng.uniform(-1.98, 0.19, n), logsfr_ratios=ratios,
        dust2=rng.uniform(0.0, 1.5, n), dust_index=rng.uniform(-1.0, 0.4, n),
        dust_ratio=rng.uniform(0.0, 2.0, n), gas_logz=rng.uniform(-2.0, 0.5, n),
        ln_fagn=rng.uniform(math.log(1e-5), math.log(3.0), n),
        ln_agn_tau=rng.uniform(math.log(5.0), math.log(150.0), n),
    )  # fmt: skip
    # SFH bins (CIGaRS / Prospector-beta-like), youngest first, WMAP9 age of the universe.
    zg = np.linspace(0.0, 1.6, 1601)
    t_univ = np.interp(z, zg, WMAP9.age(zg).to("yr").value)
    edges = np.empty((n, 8))
    edges[:, 0], edges[:, 1] = 0.0, math.log10(3e7)
    edges[:, 2:7] = np.linspace(8.0, np.log10(0.85 * t_univ), 5).T
    edges[:, 7] = np.log10(t_univ)
    # Continuity: log SFR_{i+1} = log SFR_i - ratio_i; mass_i = SFR_i * dt_i, sum = 10^logmass.
    logsfr = np.concatenate([np.zeros((n, 1)), -np.cumsum(ratios, axis=1)], axis=1)
    masses = 10.0**logsfr * np.diff(10.0**edges, axis=1)
    masses *= (10.0**logmass / masses.sum(axis=1))[:, None]
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    return HostParams(**{k: f32(v) for k, v in host.items()}), f32(edges), f32(masses)


def run(name, sps, phot, hosts, edges, masses, chunk):
    fn = jax.jit(jax.vmap(lambda s, p, h, e, m: host_magnitudes(s, p, h, e, m),
                          in_axes=(None, None, 0, 0, 0)))  # fmt: skip
    n = hosts.z.shape[0]
    take = lambda a, i: jax.tree.map(lambda x: jnp.asarray(x[i : i + chunk]), a)  # noqa: E731
    t0 = time.perf_counter()
    fn(sps, phot, take(hosts, 0), take(edges, 0), take(masses, 0)).block_until_ready()
    compile_s = time.perf_counter() - t0
    out = []
    c0 = time.process_time()
    t0 = time.perf_counter()
    for i in range(0, n - n % chunk, chunk):  # full chunks only (one compiled shape)
        out.append(np.asarray(fn(sps, phot, take(hosts, i), take(edges, i), take(masses, i))))
    run_s = time.perf_counter() - t0
    cpu_s = time.process_time() - c0
    mags = np.concatenate(out)
    per = run_s / mags.shape[0]
    print(
        f"{name:>9}: {mags.shape[0]} galaxies x {mags.shape[1]} bands in {run_s:.1f} s wall, "
        f"{cpu_s:.1f} s CPU (compile {compile_s:.1f} s): {per * 1e6:.1f} us/galaxy wall, "
        f"{cpu_s / mags.shape[0] * 1e6:.1f} us/galaxy CPU -> 10^6 galaxies in "
        f"{per * 1e6 / 60:.1f} min wall; finite {np.isfinite(mags).mean():.4f}"
    )
    return mags


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=8192)
    args = parser.parse_args()
    print(f"jax {jax.__version__}, devices {jax.devices()}, cpus {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip

    hosts, edges, masses = draw_galaxies(args.n)
    bands = load_bands()
    popstar = SSPGridSPS.from_grid(load_popstar())
    phot_p = make_photometry(bands, np.asarray(popstar.wave_edges), z_max=2.0)
    mags_p = run("popstar", popstar, phot_p, hosts, edges, masses, args.chunk)
    if not NPZ.is_file():
        print(f"emulator weights not found at {NPZ}; skipping the emulator")
        return
    emulator = SpeculatorSPS.from_npz(NPZ)
    phot_e = make_photometry(bands, np.asarray(emulator.wave_edges), z_max=2.0)
    mags_e = run("emulator", emulator, phot_e, hosts, edges, masses, args.chunk)

    # Same galaxies, two SPS models: PopStar (Padova, nebular at stellar Z, no dust emission or
    # AGN) vs the Prospector-alpha (FSPS/MIST) emulator.
    diff = mags_p - mags_e
    pct = np.percentile(diff, [1, 16, 50, 84, 99], axis=0)
    print("PopStar - emulator [mag], same galaxies: percentiles 1 / 16 / 50 / 84 / 99")
    for b, band in enumerate(bands.names):
        print(f"  {band:>11}: " + " ".join(f"{v:+.3f}" for v in pct[:, b]))

    # Sanity: a 10^10.5 M_sun galaxy with a flat SFH at z = 0.5, apparent magnitudes.
    one = {k: np.asarray(v)[:1].copy() for k, v in vars(hosts).items()}
    one.update(z=np.float32([0.5]), logmass=np.float32([10.5]), logzsol=np.float32([-0.3]),
               logsfr_ratios=np.zeros((1, 6), np.float32), dust2=np.float32([0.3]),
               dust_index=np.float32([-0.2]), dust_ratio=np.float32([1.0]))  # fmt: skip
    h1 = HostParams(**one)
    t_univ = WMAP9.age(0.5).to("yr").value
    e1 = np.float32([[0.0, math.log10(3e7), *np.linspace(8.0, math.log10(0.85 * t_univ), 5),
                      math.log10(t_univ)]])  # fmt: skip
    m1 = np.diff(10.0 ** e1.astype(float), axis=1)
    m1 = np.float32(m1 / m1.sum() * 10**10.5)
    dm = 5 * np.log10(
        FlatLambdaCDM(H0=70, Om0=0.3).comoving_transverse_distance(0.5).to("pc").value / 10
    )
    for name, sps, phot in (("popstar", popstar, phot_p), ("emulator", emulator, phot_e)):
        mags = jax.vmap(lambda h, e, m, s=sps, p=phot: host_magnitudes(s, p, h, e, m))(
            h1, jnp.asarray(e1), jnp.asarray(m1)
        )
        print(f"{name:>9}: logM 10.5, z 0.5, flat SFH, apparent ugrizy (h=0.7, Om=0.3):",
              np.round(np.asarray(mags[0]) + dm, 2))  # fmt: skip


if __name__ == "__main__":
    main()
