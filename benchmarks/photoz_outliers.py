"""Are the photo-z outliers of a validation report ambiguous under the model's own host prior?

The quick-start simulator draws every host from a finite galaxy bank and observes its magnitudes
with a fixed error (0.01 mag). Its exact host-only redshift posterior is therefore a mixture over
the bank's galaxies. For each spec-z-less object of a ``cigars validate`` report, this finds the
bank galaxy it was drawn from (by its true redshift) and the smallest photometric distance

    D = min over bank galaxies k with |z_k - z| / (1 + z) > 0.15, and over a free offset d, of
        sum_b (m_b - m_kb - d)^2 / sigma^2

from its noiseless magnitudes ``m`` to any bank galaxy at a catastrophically different redshift.
The offset makes ``D`` independent of cosmology (distance) and of mass scaling: only the
photometric shape counts. The observed photometry of the true galaxy has chi^2 ~ chi^2_n_band,
so ``D`` of a few tens or more means no such galaxy explains the photometry, and the exact
posterior puts no mass at an outlier redshift.

    python benchmarks/photoz_outliers.py REPORT_DIR BANK.h5 [--sigma 0.01]

prints, over the spec-z-less objects, the quantiles of ``D``, the number with ``D < 20``, and
``D`` for each outlier of the neural posterior mean (|Δz|/(1+z) > 0.15).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from cigars.hosts import load_bank


def shape_distance(mags, bank_mags, bank_z, rows, *, sigma: float, far: float = 0.15):
    """``D`` (module docstring) for the bank galaxies ``rows``, in chunks of 256 rows."""
    a = jnp.asarray(bank_mags)
    z = jnp.asarray(bank_z)

    @jax.jit
    def chunk(m, zm):
        diff = m[:, None, :] - a[None, :, :]
        dev = diff - diff.mean(-1, keepdims=True)  # the best common offset removed
        chi2 = jnp.sum(dev**2, -1) / sigma**2
        far_z = jnp.abs(z[None, :] - zm[:, None]) / (1 + zm[:, None]) > far
        return jnp.min(jnp.where(far_z, chi2, jnp.inf), -1)

    out = [
        np.asarray(chunk(jnp.asarray(mags[i : i + 256]), jnp.asarray(bank_z[rows[i : i + 256]])))
        for i in range(0, len(rows), 256)
    ]
    return np.concatenate(out) if out else np.zeros(0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="a `cigars validate` report directory")
    parser.add_argument("bank", type=Path, help="the run's galaxy bank (HDF5)")
    parser.add_argument("--sigma", type=float, default=0.01, help="host magnitude error [mag]")
    args = parser.parse_args(argv)

    bank = load_bank(args.bank)
    bank_z = np.asarray(bank.hosts.z, float)
    mags = np.asarray(bank.abs_mag, float)
    draws = np.load(args.report / "draws.npz")
    iz = list(draws["local_names"]).index("z")
    z_true, z_mean = draws["local_true"][:, iz], draws["local_mean"][:, iz]
    photo = ~draws["has_spec"]

    order = np.argsort(bank_z)
    pos = np.clip(np.searchsorted(bank_z[order], z_true), 0, len(bank_z) - 1)
    member = order[pos]
    if not np.allclose(bank_z[member], z_true, atol=1e-6):
        raise SystemExit(f"{args.report}: some true redshifts are not bank redshifts")
    rows = np.unique(member[photo])
    d_rows = shape_distance(mags[rows], mags, bank_z, rows, sigma=args.sigma)
    d = d_rows[np.searchsorted(rows, member)]

    outlier = photo & (np.abs(z_mean - z_true) / (1 + z_true) > 0.15)
    q = np.percentile(d[photo], [0, 1, 5, 50])
    print(f"{args.report}: {photo.sum()} spec-z-less objects, {outlier.sum()} outliers")
    print("D over spec-z-less objects: min {:.0f}, 1% {:.0f}, 5% {:.0f}, median {:.0f}".format(*q))
    print(f"objects with D < 20: {int(np.sum(d[photo] < 20))}")
    print("outliers (true z, posterior mean, D):")
    for i in np.flatnonzero(outlier):
        print(f"  {z_true[i]:.3f}  {z_mean[i]:.3f}  {d[i]:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
