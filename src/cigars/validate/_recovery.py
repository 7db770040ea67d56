"""Posterior-mean recovery of the true parameters and standardised errors (z-scores)."""

from __future__ import annotations

import numpy as np

__all__ = ["posterior_recovery", "recovery_summary"]


def posterior_recovery(draws: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    """Posterior mean, standard deviation and z-score ``(mean - truth) / sd`` per simulation.

    Args:
        draws: posterior draws ``(n, L, d)``.
        truth: true values ``(n, d)``.

    Returns:
        ``mean``, ``sd`` and ``z``, each ``(n, d)``.
    """
    draws = np.asarray(draws, dtype=float)
    truth = np.asarray(truth, dtype=float)
    mean = draws.mean(axis=1)
    sd = draws.std(axis=1, ddof=1)
    return {"mean": mean, "sd": sd, "z": (mean - truth) / sd}


def recovery_summary(draws: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    """Per-parameter summaries of posterior-mean recovery over ``n`` simulations.

    For a calibrated Gaussian-like posterior the z-scores have mean 0 and standard deviation 1,
    and 68% / 95% of them lie within 1 / 2.

    Returns:
        Arrays of shape ``(d,)``: ``bias`` (mean of mean - truth), ``rmse``, ``mean_sd`` (average
        posterior sd), ``prior_sd`` (sd of the truths), ``contraction`` (1 - mean posterior
        variance / variance of the truths), ``corr`` (truth vs posterior mean), ``z_mean``,
        ``z_sd``, ``frac_z_lt_1``, ``frac_z_lt_2``.
    """
    rec = posterior_recovery(draws, truth)
    truth = np.asarray(truth, dtype=float)
    err = rec["mean"] - truth
    prior_var = truth.var(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.array(
            [np.corrcoef(truth[:, j], rec["mean"][:, j])[0, 1] for j in range(truth.shape[1])]
        )
        contraction = 1.0 - np.mean(rec["sd"] ** 2, axis=0) / prior_var
    z = rec["z"]
    return {
        "bias": err.mean(axis=0),
        "rmse": np.sqrt(np.mean(err**2, axis=0)),
        "mean_sd": rec["sd"].mean(axis=0),
        "prior_sd": np.sqrt(prior_var),
        "contraction": contraction,
        "corr": corr,
        "z_mean": z.mean(axis=0),
        "z_sd": z.std(axis=0, ddof=1),
        "frac_z_lt_1": np.mean(np.abs(z) < 1, axis=0),
        "frac_z_lt_2": np.mean(np.abs(z) < 2, axis=0),
    }
