"""Speed of cigars.cosmology distance moduli next to astropy's vectorised ``distmod``.

Work items (all in one run, so the ratios share the machine state):

1. mu for 10^6 redshifts of one cosmology: the Gauss-Legendre quadrature path
   (``distance_modulus``), the tabulated fast path (``tabulate`` + ``tabulated_distance_modulus``,
   table build included), and astropy ``distmod``.
2. A batch of 1024 cosmologies x 16,000 redshifts with the fast path (one ``jit`` around one
   ``vmap``; tables built inside), next to astropy ``distmod`` looped over cosmologies. astropy is
   timed on a subset of the cosmologies and scaled linearly to 1024 (stated in the output).

Two models: non-flat LambdaCDM without radiation (the CIGaRS reference; astropy uses its
elliptic-integral closed form) and flat w0waCDM (astropy integrates each redshift with
``scipy.integrate.quad``, so it is timed on a subset of redshifts as well and scaled).
cigars runs in float32 (the simulator dtype); times exclude compilation, which is reported
separately. Each time is the median of ``repeats`` runs after one warm-up call.

Usage: ``python benchmarks/bench_cosmology.py [--repeats N] [--quick]``.
"""

from __future__ import annotations

import argparse
import time

import astropy.cosmology as apc
import jax
import jax.numpy as jnp
import numpy as np

from cigars import cosmology as cc

N_Z_SINGLE = 1_000_000
N_COSMO = 1024
N_Z_BATCH = 16_000
Z_MAX = 3.0


def _median_time(fn, repeats: int, warmup: bool = True) -> float:
    if warmup:
        fn()  # compile caches, first-touch allocations (not timed)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _timed_compile(jitted, *args):
    t0 = time.perf_counter()
    compiled = jitted.lower(*args).compile()
    return compiled, time.perf_counter() - t0


def _models(rng: np.random.Generator, n: int):
    """(label, batch of cigars cosmologies, astropy factory for cosmology i) per model."""
    om0 = rng.uniform(0.1, 0.5, n)
    ode0 = rng.uniform(0.4, 0.9, n)
    w0 = rng.uniform(-1.3, -0.7, n)
    wa = rng.uniform(-1.0, 0.5, n)
    ones = np.ones(n)
    lcdm = cc.Cosmology(
        H0=jnp.asarray(70.0 * ones, jnp.float32),
        Om0=jnp.asarray(om0, jnp.float32),
        Ode0=jnp.asarray(ode0, jnp.float32),
        w0=jnp.asarray(-ones, jnp.float32),
        wa=jnp.asarray(0.0 * ones, jnp.float32),
        Tcmb0=jnp.asarray(0.0 * ones, jnp.float32),
        Neff=jnp.asarray(3.046 * ones, jnp.float32),
    )
    cpl = lcdm.replace(Ode0=None, w0=jnp.asarray(w0, jnp.float32), wa=jnp.asarray(wa, jnp.float32))
    return [
        ("LambdaCDM (non-flat)", lcdm, lambda i: apc.LambdaCDM(H0=70.0, Om0=om0[i], Ode0=ode0[i])),
        (
            "w0waCDM (flat)",
            cpl,
            lambda i: apc.Flatw0waCDM(H0=70.0, Om0=om0[i], w0=w0[i], wa=wa[i]),
        ),
    ]


def main(repeats: int = 5, quick: bool = False) -> dict:
    """Run the benchmark, print a table and return the numbers.

    Args:
        repeats: timed repetitions per measurement (the median is reported).
        quick: shrink the work 10x (for a smoke run; ratios are then less meaningful).

    Returns:
        A dict keyed by ``"<model> | <work item>"`` with times in seconds, compile times and
        speed-up ratios (astropy time / cigars time).
    """
    n_single = N_Z_SINGLE // 10 if quick else N_Z_SINGLE
    n_cosmo = N_COSMO // 8 if quick else N_COSMO
    n_batch = N_Z_BATCH // 10 if quick else N_Z_BATCH
    rng = np.random.default_rng(1)
    z_single = rng.uniform(1e-3, Z_MAX, n_single)
    z_batch = rng.uniform(1e-3, Z_MAX, (n_cosmo, n_batch))
    z_single_j = jnp.asarray(z_single, jnp.float32)
    z_batch_j = jnp.asarray(z_batch, jnp.float32)

    quad_mu = jax.jit(cc.distance_modulus)

    def table_mu_fn(cosmo, z):
        return cc.tabulated_distance_modulus(cc.tabulate(cosmo, Z_MAX), z)

    table_mu = jax.jit(table_mu_fn)
    batch_mu = jax.jit(jax.vmap(table_mu_fn))

    results: dict = {
        "device": str(jax.devices()[0]),
        "dtype": "float32",
        "n_z_single": n_single,
        "n_cosmo": n_cosmo,
        "n_z_batch": n_batch,
    }
    rows = []
    for label, batch, make_astropy in _models(rng, n_cosmo):
        one = jax.tree.map(lambda leaf: leaf[0], batch)
        ref = make_astropy(0)
        # astropy's quad path is ~10^4 times slower per redshift: time it on a subset and scale.
        uses_quad = "w0wa" in label
        n_ap = min(n_single, 20_000) if uses_quad else n_single
        t_ap = _median_time(
            lambda ref=ref, n=n_ap: ref.distmod(z_single[:n]), 1 if uses_quad else repeats, False
        )
        t_ap *= n_single / n_ap

        c_quad, compile_quad = _timed_compile(quad_mu, one, z_single_j)
        t_quad = _median_time(
            lambda c=c_quad, one=one: c(one, z_single_j).block_until_ready(), repeats
        )
        c_tab, compile_tab = _timed_compile(table_mu, one, z_single_j)
        t_tab = _median_time(
            lambda c=c_tab, one=one: c(one, z_single_j).block_until_ready(), repeats
        )
        mu_ref = ref.distmod(z_single[:n_ap]).value
        err_quad = float(np.max(np.abs(np.asarray(c_quad(one, z_single_j))[:n_ap] - mu_ref)))
        err_tab = float(np.max(np.abs(np.asarray(c_tab(one, z_single_j))[:n_ap] - mu_ref)))
        key = f"{label} | mu, {n_single:,} z"
        results[key] = {
            "astropy_s": t_ap,
            "astropy_scaled_from_n_z": n_ap,
            "quadrature_s": t_quad,
            "quadrature_compile_s": compile_quad,
            "table_s": t_tab,
            "table_compile_s": compile_tab,
            "speedup_quadrature": t_ap / t_quad,
            "speedup_table": t_ap / t_tab,
            "max_abs_dmu_quadrature": err_quad,
            "max_abs_dmu_table": err_tab,
        }
        note = f" (astropy on {n_ap:,} z, scaled)" if n_ap < n_single else ""
        rows.append((key + " [quadrature]" + note, t_ap, t_quad, compile_quad, err_quad))
        rows.append((key + " [table]" + note, t_ap, t_tab, compile_tab, err_tab))

        # Batch: 1024 cosmologies x 16,000 redshifts, fast path.
        c_batch, compile_batch = _timed_compile(batch_mu, batch, z_batch_j)
        t_batch = _median_time(
            lambda c=c_batch, b=batch: c(b, z_batch_j).block_until_ready(), repeats
        )
        n_sub = 2 if uses_quad else min(n_cosmo, 32)
        n_zsub = min(n_batch, 2_000) if uses_quad else n_batch

        def run_astropy(n_sub=n_sub, n_zsub=n_zsub, make=make_astropy):
            return [make(i).distmod(z_batch[i, :n_zsub]) for i in range(n_sub)]

        t_ap_batch = _median_time(run_astropy, 1 if uses_quad else min(repeats, 2), False)
        t_ap_batch *= (n_cosmo / n_sub) * (n_batch / n_zsub)
        mu_batch = np.asarray(c_batch(batch, z_batch_j))
        err_batch = max(
            float(
                np.max(
                    np.abs(
                        mu_batch[i, :n_zsub] - make_astropy(i).distmod(z_batch[i, :n_zsub]).value
                    )
                )
            )
            for i in range(n_sub)
        )
        key = f"{label} | batch {n_cosmo} x {n_batch:,} z"
        results[key] = {
            "astropy_s": t_ap_batch,
            "astropy_scaled_from": f"{n_sub} cosmologies x {n_zsub} z",
            "table_s": t_batch,
            "table_compile_s": compile_batch,
            "speedup_table": t_ap_batch / t_batch,
            "max_abs_dmu_table": err_batch,
        }
        rows.append(
            (
                key + f" [table] (astropy on {n_sub} cosmologies x {n_zsub:,} z, scaled)",
                t_ap_batch,
                t_batch,
                compile_batch,
                err_batch,
            )
        )

    print(
        f"cigars.cosmology vs astropy distmod -- {results['device']}, cigars in float32, "
        f"median of {repeats} runs, compile excluded"
    )
    cols = ("astropy s", "cigars s", "ratio", "compile s", "max|dmu|")
    header = f"{'work':<92} " + " ".join(f"{c:>10}" for c in cols)
    print(header)
    print("-" * len(header))
    for name, t_ap, t_ours, t_compile, err in rows:
        print(
            f"{name:<92} {t_ap:>10.4f} {t_ours:>10.4f} {t_ap / t_ours:>10.1f} "
            f"{t_compile:>10.2f} {err:>10.1e}"
        )
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    main(repeats=args.repeats, quick=args.quick)
