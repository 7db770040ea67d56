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

It also asks how often the exact host posterior is a point. At each survey's true cosmology
(``Om0``, ``Ode0``, ``w0``, ``wa`` from the report's true globals; the config's values when
fixed, flat ΛCDM otherwise) the host's noiseless magnitudes are ``M + 5 log10(D_M / 10 pc)``
(:class:`cigars.survey.ObserveHosts`); with a fresh 0.01-mag noise draw, the host-only
posterior over the bank is ``softmax(-chi^2 / 2)`` (uniform prior over galaxies, every bank
galaxy a candidate host: both can only widen it). ``P_true`` is its mass on the galaxy the host
was drawn from, and ``D_any`` the noiseless ``chi^2`` to the nearest other bank galaxy (no free
offset). Where ``P_true`` is ~1 the exact posterior of all five host latents is a point, which
no continuous density reaches: its 68% interval holds the truth every time, not 68% of the time.

    python benchmarks/photoz_outliers.py REPORT_DIR BANK.h5 [--sigma 0.01] [--run RUN_DIR]

prints, over the spec-z-less objects, the quantiles of ``D``, the number with ``D < 20``, ``D``
for each outlier of the neural posterior mean (|Δz|/(1+z) > 0.15), the quantiles of ``D_any``,
and the number of hosts with ``P_true`` above and below 0.99 with the neural posterior's 68%
coverage of each latent in both groups. ``RUN_DIR`` (for the cosmology) defaults to the
report's run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from cigars.cosmology import transverse_comoving_distance
from cigars.experiment import experiment_truth, load_run
from cigars.hosts import load_bank
from cigars.survey import cosmology_from_theta

_CHUNK = 256


def _by_chunks(fn, n_out: int, *arrays):
    """``fn`` over chunks of 256 rows of ``arrays``; its ``n_out`` outputs concatenated."""
    parts = [
        fn(*(jnp.asarray(a[i : i + _CHUNK]) for a in arrays))
        for i in range(0, len(arrays[0]), _CHUNK)
    ]
    return tuple(
        np.concatenate([np.asarray(p[k]) for p in parts]) if parts else np.zeros(0)
        for k in range(n_out)
    )


@jax.jit
def _far_chi2(m, zm, bank_mags, bank_z, sigma, far):
    diff = m[:, None, :] - bank_mags[None, :, :]
    dev = diff - diff.mean(-1, keepdims=True)  # the best common offset removed
    chi2 = jnp.sum(dev**2, -1) / sigma**2
    far_z = jnp.abs(bank_z[None, :] - zm[:, None]) / (1 + zm[:, None]) > far
    return (jnp.min(jnp.where(far_z, chi2, jnp.inf), -1),)


@jax.jit
def _identify(m_true, m_obs, g, model, sigma):
    own = jnp.arange(model.shape[0])[None, :] == g[:, None]
    chi2 = jnp.sum((m_true[:, None, :] - model[None]) ** 2, -1) / sigma**2
    weights = jax.nn.softmax(
        -0.5 * jnp.sum((m_obs[:, None, :] - model[None]) ** 2, -1) / sigma**2, axis=-1
    )
    return jnp.min(jnp.where(own, jnp.inf, chi2), -1), jnp.sum(jnp.where(own, weights, 0), -1)


def shape_distance(mags, bank_mags, bank_z, rows, *, sigma: float, far: float = 0.15):
    """``D`` (module docstring) for the bank galaxies ``rows``."""
    a, z = jnp.asarray(bank_mags), jnp.asarray(bank_z)
    (d,) = _by_chunks(lambda m, zm: _far_chi2(m, zm, a, z, sigma, far), 1, mags, bank_z[rows])
    return d


def identification(mags, member, dist_mod, *, sigma: float, seed: int = 0):
    """``(D_any, P_true)`` (module docstring) of hosts ``member`` of one survey.

    Args:
        mags: (n_bank, n_band) bank magnitudes without distance (``abs_mag``).
        member: (n,) bank index of each host.
        dist_mod: (n_bank,) ``5 log10(D_M / 10 pc)`` of every bank galaxy at the survey's
            cosmology.
        sigma: host magnitude error [mag].
        seed: seed of the noise draw.

    Returns:
        Two (n,) arrays.
    """
    model = np.asarray(mags) + np.asarray(dist_mod)[:, None]
    true = model[member]
    observed = true + sigma * np.random.default_rng(seed).standard_normal(true.shape)
    model = jnp.asarray(model)
    return _by_chunks(lambda t, o, g: _identify(t, o, g, model, sigma), 2, true, observed, member)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="a `cigars validate` report directory")
    parser.add_argument("bank", type=Path, help="the run's galaxy bank (HDF5)")
    parser.add_argument("--sigma", type=float, default=0.01, help="host magnitude error [mag]")
    parser.add_argument("--run", help="the run directory (default: the report's run_dir)")
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

    exp, _ = load_run(args.run or draws_run(args.report))
    names = [str(n) for n in draws["names"]]
    model = exp.cosmology.type_name
    d_any, p_true = np.full(len(z_true), np.nan), np.full(len(z_true), np.nan)
    for s in np.unique(draws["survey"]):
        idx = np.flatnonzero((draws["survey"] == s) & photo)
        true_globals = dict(zip(names, map(float, draws["theta_true"][s]), strict=True))
        theta = experiment_truth(exp, true_globals)
        cosmo = cosmology_from_theta(theta, model, exp.cosmology.Tcmb0, exp.cosmology.Neff)
        dist_mod = 5 * np.log10(np.asarray(transverse_comoving_distance(cosmo, bank_z))) + 25
        d_any[idx], p_true[idx] = identification(
            mags, member[idx], dist_mod, sigma=args.sigma, seed=int(s)
        )
    q = np.percentile(d_any[photo], [1, 5, 50])
    print(
        "D_any (nearest other bank galaxy, no offset): 1% {:.0f}, 5% {:.0f}, median {:.0f}".format(
            *q
        )
    )
    ranks = (draws["local_ranks"] + 0.5) / (int(draws["num_samples"]) + 1)
    inside = (ranks > 0.16) & (ranks < 0.84)
    local = [str(n) for n in draws["local_names"]]
    print("68% coverage of the neural posterior by P_true: group, n, " + ", ".join(local))
    for label, sel in (("P_true > 0.99", p_true > 0.99), ("P_true <= 0.99", p_true <= 0.99)):
        sel = sel & photo
        cov = ", ".join(f"{c:.3f}" for c in inside[sel].mean(0)) if sel.any() else "-"
        print(f"  {label}: {sel.sum()} ({sel.sum() / photo.sum():.1%}), {cov}")
    return 0


def draws_run(report: Path) -> str:
    """The run directory a ``cigars validate`` report was made from."""
    import json

    return json.loads((report / "report.json").read_text())["run_dir"]


if __name__ == "__main__":
    raise SystemExit(main())
