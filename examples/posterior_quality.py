"""Posterior quality of a trained run on fresh mocks from its prior: coverage and host photo-z.

Usage::

    cigars train configs/quickstart.yaml --bank bank.h5 -o run
    python examples/posterior_quality.py run --n-mocks 50

For each held-out mock (parameters drawn from the prior, a seed the training never used), draws
joint posterior samples and records, per global parameter, whether the central 68% and 95%
intervals contain the truth, and for objects without a spectroscopic redshift the photo-z
error of the posterior-mean host redshift. Prints the coverage table and photo-z metrics
(bias, sigma_NMAD, outlier fractions) and writes them to ``RUN/quality.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
import numpy as np

from cigars.experiment import npe_problem
from cigars.hosts import load_bank
from cigars.inference import load_estimator, sample_posterior


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--n-mocks", type=int, default=50)
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args(argv)

    from cigars.experiment import load_run

    exp, bank_path = load_run(args.run_dir)
    simulate_one, prior, _ = npe_problem(exp, load_bank(bank_path))
    estimator = load_estimator(args.run_dir)
    simulate = jax.jit(simulate_one)
    key = jax.random.key(args.seed)
    inside = {68: [], 95: []}
    dz = []
    ztrue = []
    for i in range(args.n_mocks):
        k_theta, k_sim, k_post = jax.random.split(jax.random.fold_in(key, i), 3)
        theta = prior.sample(k_theta)
        _, local, data, mask, context = simulate(k_sim, theta)
        draws, local_draws = sample_posterior(
            estimator, k_post, data, mask, context, num_samples=args.num_samples
        )
        draws = np.asarray(draws)
        for level in inside:
            lo, hi = np.quantile(draws, [(1 - level / 100) / 2, (1 + level / 100) / 2], axis=0)
            inside[level].append((lo <= np.asarray(theta)) & (np.asarray(theta) <= hi))
        m = np.asarray(mask) & (np.asarray(context)[:, 1] == 0)
        zmean = np.asarray(local_draws)[:, m, 0].mean(axis=0)
        dz.append(zmean - np.asarray(local)[m, 0])
        ztrue.append(np.asarray(local)[m, 0])
        print(f"mock {i + 1}/{args.n_mocks}: {int(np.asarray(mask).sum())} SNe", flush=True)
    cover = {level: np.mean(v, axis=0) for level, v in inside.items()}
    dz, ztrue = np.concatenate(dz), np.concatenate(ztrue)
    rel = dz / (1 + ztrue)
    photoz = {
        "n_objects": int(dz.size),
        "bias": float(np.median(rel)),
        "sigma_nmad": float(1.4826 * np.median(np.abs(rel - np.median(rel)))),
        "median_abs_dz": float(np.median(np.abs(dz))),
        "outliers_0.15": float(np.mean(np.abs(rel) > 0.15)),
        "outliers_0.05": float(np.mean(np.abs(rel) > 0.05)),
    }
    print("\n| parameter | 68% coverage | 95% coverage |\n|---|---|---|")
    for j, name in enumerate(prior.names):
        print(f"| {name} | {cover[68][j]:.2f} | {cover[95][j]:.2f} |")
    print("\nphoto-z (objects without spec-z):", json.dumps(photoz, indent=1))
    out = {
        "n_mocks": args.n_mocks,
        "coverage_68": dict(zip(prior.names, cover[68].tolist(), strict=True)),
        "coverage_95": dict(zip(prior.names, cover[95].tolist(), strict=True)),
        "photoz": photoz,
    }
    (args.run_dir / "quality.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
