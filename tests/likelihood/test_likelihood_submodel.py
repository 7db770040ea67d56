"""The known-hosts sub-model problem: contract, rejection sampling, config checks, and (slow)
the NUTS reference comparison end to end on a tiny trained run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cigars._config import ConfigError, from_dict
from cigars.config import Experiment
from cigars.likelihood import (
    CONTEXT_FIELDS,
    known_hosts_problem,
    rejection_failure_rate,
    selection_grid,
    sn_data_from_simulation,
    sn_log_likelihood,
    sn_model_for,
)

EXPERIMENT = {
    "name": "kh",
    "cosmology": {"type": "flat_lambdacdm", "Om0": 0.3},
    "simulator": {
        "survey": {"type": "lsst", "n_max": 64, "counts": 10},
        "selection": {"type": "logistic"},
    },
    "prior": {
        "params": {
            "Om0": {"uniform": [0.1, 0.6]},
            "M0": {"uniform": [-19.7, -19.3]},
            "alpha": {"uniform": [-0.3, 0.0]},
            "dtd_A": {"normal": [-12.15, 0.1]},
        }
    },
    "likelihood": {
        "type": "tripp",
        "sn_dust": True,
        "var_m_model": True,
        "selection": True,
        "sub_model": {"n_objects": [20, 40], "n_tries": 64},
    },
}


def _pool(n=500, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.05, 0.6, n)
    return {
        "z_cos": z,
        "z_hel": z + 1e-3 * rng.normal(size=n),
        "logmass": rng.uniform(8.5, 11.5, n),
        "progenitor_logzsol": rng.uniform(-1.0, 0.2, n),
        "age_gyr": rng.uniform(0.1, 8.0, n),
        "dust2": rng.uniform(0.0, 1.0, n),
    }


def test_problem_contract_and_likelihood(key):
    exp = from_dict(Experiment, EXPERIMENT)
    simulate_one, prior, bounds = known_hosts_problem(exp, None, pool=_pool())
    assert bounds is None
    assert prior.names == ("Om0", "M0", "alpha")  # dtd_A is fixed by the sub-model
    k1, k2 = jax.random.split(key)
    theta = prior.sample(k1)
    out = jax.jit(simulate_one)(k2, theta)
    t, loc, data, mask, context = out
    assert loc is None and data.shape == (40, 6 + 3) and context.shape == (40, len(CONTEXT_FIELDS))
    assert 15 <= int(mask.sum()) <= 40
    assert np.all(np.isfinite(np.asarray(data)[np.asarray(mask)]))
    with jax.enable_x64(True):
        sn = sn_data_from_simulation(data, mask, context)
        model = sn_model_for(exp)
        grid = selection_grid(exp.simulator.selection.build(), model, sn)
        ll = sn_log_likelihood(model, prior.global_prior.from_array(theta), sn)
        assert sn.n == int(mask.sum()) and np.all(np.isfinite(np.asarray(ll)))
        assert grid.p.shape[0] == sn.n
        # the score columns sum to the gradient of the NUTS likelihood at the truth values
        # (central differences of the summed log likelihood on the NUTS data as the oracle)
        fixed = prior.global_prior.fixed
        t0 = np.asarray(prior.global_prior.to_array(fixed), np.float64)
        score = np.asarray(data, np.float64)[np.asarray(mask), 6:].sum(0)
        for j in range(3):
            h = 1e-4 * max(1.0, abs(t0[j]))
            step = np.eye(3)[j] * h

            def total(t):
                th = prior.global_prior.from_array(jnp.asarray(t))
                return float(jnp.sum(sn_log_likelihood(model, th, sn)))

            fd = (total(t0 + step) - total(t0 - step)) / (2 * h)
            assert score[j] == pytest.approx(fd, rel=2e-3, abs=1e-2)
    assert rejection_failure_rate(simulate_one, prior, key, n_sims=8) < 0.02


@pytest.mark.long
def test_laplace_features_are_the_mode_and_curvature(key):
    """laplace_features against scipy: the mode of the log posterior in the logit space of the
    uniform priors (written out here, Jacobian included) and the inverse of its
    finite-difference Hessian there; padded rows (NaN here) change nothing; in the simulation
    every valid row carries the same features."""
    from scipy.optimize import minimize

    from cigars.likelihood import laplace_features

    spec = {**EXPERIMENT, "likelihood": {**EXPERIMENT["likelihood"]}}
    spec["likelihood"]["sub_model"] = {**spec["likelihood"]["sub_model"], "laplace": True}
    exp = from_dict(Experiment, spec)
    simulate_one, prior, _ = known_hosts_problem(exp, None, pool=_pool())
    k1, k2 = jax.random.split(key)
    _, _, data, mask, context = jax.jit(simulate_one)(k2, prior.sample(k1))
    d = len(prior.names)
    valid = np.asarray(mask)
    lap32 = np.asarray(data)[valid, 6 + d :]
    assert lap32.shape[1] == 2 * d + d * (d - 1) // 2
    np.testing.assert_array_equal(lap32, np.broadcast_to(lap32[0], lap32.shape))

    gp = prior.global_prior
    lo, hi = prior.lower, prior.upper
    with jax.enable_x64(True):
        model = sn_model_for(exp)
        sn = sn_data_from_simulation(data, mask, context)
        rows = np.asarray(data, np.float64)[:, :6].copy()
        rows[~valid] = np.nan
        start = gp.to_array(gp.fixed)
        # jitted: run eagerly, every primitive of the Hessian compiles on its own (3x slower)
        features = jax.jit(lambda *a: laplace_features(model, gp, *a))
        feats = np.asarray(features(start, jnp.asarray(rows), jnp.asarray(context, float), mask))
        # from a start near a corner of the prior box the loop still reaches the same mode
        far = jnp.asarray(lo + (hi - lo) * np.where(np.arange(d) % 2, 0.002, 0.998))
        feats_far = np.asarray(features(far, jnp.asarray(rows), jnp.asarray(context, float), mask))

        total = jax.jit(lambda t: jnp.sum(sn_log_likelihood(model, gp.from_array(t), sn)))

        def log_post(u):
            s = 1.0 / (1.0 + np.exp(-u))
            ll = float(total(jnp.asarray(lo + (hi - lo) * s)))
            return ll + np.sum(np.log((hi - lo) * s * (1.0 - s))) - np.sum(np.log(hi - lo))

        s0 = (np.asarray(start) - lo) / (hi - lo)
        u_opt = minimize(
            lambda u: -log_post(u),
            np.log(s0 / (1 - s0)),
            method="Nelder-Mead",
            options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 20000},
        ).x
        h = 1e-3
        hess = np.empty((d, d))
        for i in range(d):
            for j in range(d):
                ei, ej = np.eye(d)[i] * h, np.eye(d)[j] * h
                hess[i, j] = (
                    log_post(u_opt + ei + ej)
                    - log_post(u_opt + ei - ej)
                    - log_post(u_opt - ei + ej)
                    + log_post(u_opt - ei - ej)
                ) / (4 * h * h)
        cov = np.linalg.inv(-hess)
        sd = np.sqrt(np.diag(cov))
        corr = (cov / np.outer(sd, sd))[np.triu_indices(d, 1)]
    assert np.all(np.abs(feats[:d] - u_opt) < 0.01 * sd)  # the mode, to 1% of its width
    assert np.all(np.abs(feats_far[:d] - u_opt) < 0.01 * sd)
    np.testing.assert_allclose(feats_far[d:], feats[d:], atol=1e-2)
    np.testing.assert_allclose(feats[d : 2 * d], np.log(sd), atol=1e-2)
    np.testing.assert_allclose(feats[2 * d :], corr, atol=1e-2)
    # the float32 features of the simulation are the same to float32's precision
    np.testing.assert_allclose(lap32[0], feats, atol=2e-2)


def test_laplace_reports_its_passes(key):
    """The fit's pass count (read by benchmarks/bench_knownhosts.py): a converged fit stops
    before the cap with laplace_features' features; capped at two passes it stops there, short
    of the mode."""
    from cigars.likelihood import laplace_features
    from cigars.likelihood._submodel import _laplace

    exp = from_dict(Experiment, EXPERIMENT)
    simulate_one, prior, _ = known_hosts_problem(exp, None, pool=_pool())
    k1, k2 = jax.random.split(key)
    _, _, data, mask, context = jax.jit(simulate_one)(k2, prior.sample(k1))
    model, gp = sn_model_for(exp), prior.global_prior
    start = gp.to_array(gp.fixed).astype(data.dtype)

    def fit(max_newton):
        f = jax.jit(lambda *a: _laplace(model, gp, start, *a, max_newton))
        feats, passes = f(data[:, :6], context, mask)
        return np.asarray(feats), int(passes)

    feats, passes = fit(60)
    assert 2 < passes < 60
    expected = jax.jit(lambda *a: laplace_features(model, gp, start, *a))(data, context, mask)
    np.testing.assert_allclose(feats, np.asarray(expected), rtol=1e-5, atol=1e-6)
    d = len(gp.names)
    short, short_passes = fit(2)
    assert short_passes == 2
    sd = np.exp(feats[d : 2 * d])
    assert np.max(np.abs(short[:d] - feats[:d]) / sd) > 0.1


def test_sub_model_needs_the_full_sn_model():
    bad = {**EXPERIMENT, "likelihood": {**EXPERIMENT["likelihood"], "selection": False}}
    with pytest.raises(ConfigError, match="sub_model: needs selection: true"):
        from_dict(Experiment, bad, file="x.yaml")
    bad = {
        **EXPERIMENT,
        "likelihood": {**EXPERIMENT["likelihood"], "sub_model": {"n_objects": [5, 2]}},
    }
    with pytest.raises(ConfigError, match="n_objects"):
        from_dict(Experiment, bad, file="x.yaml")


@pytest.mark.slow
def test_validate_reference_nuts_end_to_end(tmp_path, capsys):
    """Tiny bank, 60-step sub-model NPE, one survey compared with NUTS."""
    import json

    import yaml

    from cigars.cli import main

    cfg = {
        **EXPERIMENT,
        "cosmology": {"type": "flat_lambdacdm", "Om0": 0.3},
        "sps": {"type": "analytic"},
        "bands": {"filters": ["lsst2023-g", "lsst2023-r", "lsst2023-i"]},
        "bank": {"n_galaxies": 3000, "chunk_size": 3000, "seed": 0},
        "simulator": {
            "survey": {"type": "lsst", "n_max": 512, "counts": 300, "depths": [27.0, 27.0, 26.5]},
            "selection": {"type": "logistic"},
        },
        "likelihood": {
            **EXPERIMENT["likelihood"],
            "sub_model": {"n_pool_surveys": 4, "n_objects": [20, 40], "n_tries": 64},
            "sampler": {"num_warmup": 100, "num_samples": 150, "num_chains": 1},
        },
        "inference": {
            "estimator": {"embed_dim": 16, "summary_dim": 16, "hidden": 32, "flow_layers": 2},
            "training": {
                "steps": 60,
                "batch_size": 4,
                "warmup_steps": 10,
                "n_pilot": 16,
                "n_val": 8,
                "val_every": 30,
                "checkpoint_every": 30,
                "log_every": 10,
            },
        },
    }
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(cfg))
    bank, run, out = tmp_path / "bank.h5", tmp_path / "run", tmp_path / "val"
    assert main(["bank", str(tmp_path / "exp.yaml"), "-o", str(bank), "--quiet"]) == 0
    assert (
        main(["train", str(tmp_path / "exp.yaml"), "--bank", str(bank), "-o", str(run), "--quiet"])
        == 0
    )
    rc = main(
        [
            "validate",
            str(run),
            "-o",
            str(out),
            "--n-sims",
            "3",
            "--num-samples",
            "50",
            "--reference",
            "nuts",
            "--n-reference",
            "1",
            "--quiet",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "NUTS reference on 1 surveys (same posterior" in printed
    assert "NUTS checks (C2ST <= 0.6" in printed
    report = json.loads((out / "report.json").read_text())
    section = report["reference_nuts"]
    # 3 checks per global + the Pareto k, counted in the verdict with the validation's own
    nuts_checks = [c for c in report["checks"] if c["section"] == "reference_nuts"]
    assert len(nuts_checks) == 10
    assert report["verdict"]["n_checks"] == len(report["checks"]) > 10
    assert section["sub_model"] and section["parameters"] == ["Om0", "M0", "alpha"]
    p = section["surveys"][0]["parameters"]["M0"]
    assert 0.0 <= p["c2st"] <= 1.0 and p["nuts_sd"] > 0
    # the same neural posterior importance-sampled to the likelihood (8 x 150 proposals)
    weighted = section["surveys"][0]["importance"]
    assert weighted["n_draws"] == 1200 and 0 < weighted["efficiency"] <= 1
    assert set(weighted["parameters"]) == {"Om0", "M0", "alpha"}
    assert section["importance"]["proposals_per_draw"] == 8
    assert set(section["importance"]["summary"]) == {"Om0", "M0", "alpha"}
