"""The `standardised` likelihood as an NPE problem: its simulator against the analytic Gaussian
the NUTS model uses (astropy distances as the oracle), `cigars train --data` / `cigars infer` on a
design sample end to end, and the errors for a wrong or missing design."""

import json
import shutil
from pathlib import Path

import arviz as az
import astropy.cosmology as apc
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from astropy.table import Table
from scipy import stats

from cigars.cli import main
from cigars.config import Experiment, from_dict, load_experiment
from cigars.experiment import train_experiment
from cigars.likelihood import (
    DESIGN_FILE,
    StandardisedData,
    read_standardised_sample,
    standardised_log_likelihood,
    standardised_problem,
)
from cigars.simulate import Theta

EXPERIMENT = {
    "name": "test-standardised-npe",
    "seed": 5,
    "cosmology": {"type": "flat_lambdacdm", "H0": 70.0, "Om0": 0.3},
    "prior": {"params": {"Om0": {"uniform": [0.0, 1.0]}, "M0": {"uniform": [-21.0, -18.0]}}},
    "likelihood": {"type": "standardised", "z_min": 0.02, "exclude_calibrators": True},
    "inference": {
        "estimator": {
            "embed_dim": 8,
            "summary_dim": 8,
            "hidden": 16,
            "flow_layers": 2,
            "local_flow_layers": 1,
            "flow_hidden": 16,
            "num_bins": 4,
        },
        "training": {
            "steps": 8,
            "batch_size": 4,
            "warmup_steps": 2,
            "n_pilot": 8,
            "n_val": 4,
            "val_every": 4,
            "log_every": 4,
            "checkpoint_every": 4,
        },
    },
}


def _design(rng, n):
    z = np.sort(rng.uniform(0.01, 1.5, n))
    return z, z * (1 + rng.normal(0, 1e-3, n)), rng.uniform(0.1, 0.2, n)


def _astropy_mean(theta, z, z_hel):
    cosmo = apc.FlatLambdaCDM(H0=theta.H0, Om0=theta.Om0, Tcmb0=0)
    dm = cosmo.comoving_transverse_distance(z).to_value("Mpc")
    return 5 * np.log10((1 + z_hel) * dm) + 25 + theta.M0


def _simulate(problem, key, theta_vector, n_sims):
    simulate_one, _, _ = problem
    keys = jax.random.split(key, n_sims)
    return jax.jit(jax.vmap(simulate_one, in_axes=(0, None)))(keys, theta_vector)


def test_simulator_is_the_nuts_likelihood(x64, key):
    """Moments of the simulated magnitudes = the Gaussian of standardised_log_likelihood."""
    from cigars.experiment import experiment_truth

    exp = from_dict(Experiment, EXPERIMENT)
    z, z_hel, sigma = _design(np.random.default_rng(1), 25)
    data = StandardisedData.from_arrays(z, z_hel, np.zeros_like(z), sigma=sigma)
    problem = standardised_problem(exp, data)
    assert problem[1].names == ("Om0", "M0") and problem[2] is None
    theta = Theta(H0=70.0, Om0=0.28, M0=-19.3)
    n_sims = 4000
    th, local, m, mask, context = _simulate(problem, key, jnp.array([0.28, -19.3]), n_sims)
    assert local is None and m.shape == (n_sims, 25, 3) and bool(jnp.all(mask))
    np.testing.assert_allclose(context[0], np.stack([z, z_hel, sigma], -1), rtol=1e-12)
    # the feature is the Hubble residual against the experiment's truth values (astropy here)
    m = np.asarray(m[..., 0]) + _astropy_mean(experiment_truth(exp), z, z_hel)
    mean = _astropy_mean(theta, z, z_hel)
    # each object's sample mean within 5 standard errors, sample sd within 5 of its errors
    assert np.all(np.abs(m.mean(0) - mean) < 5 * sigma / np.sqrt(n_sims))
    assert np.all(np.abs(m.std(0) / sigma - 1) < 5 / np.sqrt(2 * n_sims))
    # and the NUTS likelihood of a draw is that Gaussian's density
    draw = StandardisedData.from_arrays(z, z_hel, m[0], sigma=sigma)
    expected = stats.norm.logpdf(m[0], mean, sigma).sum()
    assert float(standardised_log_likelihood(theta, draw)) == pytest.approx(expected, rel=1e-9)


def test_simulator_draws_a_full_covariance(x64, key):
    exp = from_dict(Experiment, EXPERIMENT)
    z, z_hel, sigma = _design(np.random.default_rng(2), 4)
    cov = np.diag(sigma**2) + 0.05**2  # a common offset: correlated objects
    data = StandardisedData.from_arrays(z, z_hel, np.zeros_like(z), cov=cov)
    problem = standardised_problem(exp, data)
    n_sims = 20000
    _, _, m, _, context = _simulate(problem, key, jnp.array([0.3, -19.0]), n_sims)
    np.testing.assert_allclose(context[0, :, 2], np.sqrt(np.diag(cov)), rtol=1e-12)
    # sample covariance within 5 standard errors, sqrt((C_ii C_jj + C_ij^2) / N)
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n_sims)
    assert np.all(np.abs(np.cov(np.asarray(m[..., 0]).T) - cov) < 5 * se)


@pytest.mark.parametrize("full", [False, True])
def test_score_features_sum_to_the_likelihood_gradient(x64, full):
    """Summed over objects, the score features are d log L / d theta at the fiducial point
    (autodiff of the NUTS likelihood as the oracle), for diagonal and full covariances."""
    from cigars.experiment import experiment_truth
    from cigars.likelihood._standardised_npe import feature_map

    exp = from_dict(Experiment, EXPERIMENT)
    rng = np.random.default_rng(4)
    z, z_hel, sigma = _design(rng, 30)
    cov = np.diag(sigma**2) + (0.04**2 if full else 0.0)
    m = _astropy_mean(Theta(H0=70.0, Om0=0.35, M0=-19.4), z, z_hel) + rng.normal(0, sigma)
    data = StandardisedData.from_arrays(z, z_hel, m, cov=cov)
    features, _ = feature_map(exp, data)
    f = np.asarray(features(m))
    truth = experiment_truth(exp)
    np.testing.assert_allclose(f[:, 0], m - _astropy_mean(truth, z, z_hel), atol=1e-9)

    def log_l(t):
        return standardised_log_likelihood(truth.replace(Om0=t[0], M0=t[1]), data)

    score = jax.grad(log_l)(jnp.array([truth.Om0, truth.M0]))
    np.testing.assert_allclose(f[:, 1:].sum(0), score, rtol=1e-8)


def _write_sample(path, rng, n=40, design=None, m=None):
    z, z_hel, err = design if design is not None else _design(rng, n)
    if m is None:
        mean = _astropy_mean(Theta(H0=70.0, Om0=0.3, M0=-19.3), z, z_hel)
        m = mean + err * rng.normal(size=z.size)
    t = Table(
        {
            "zHD": z,
            "zHEL": z_hel,
            "m_b_corr": m,
            "m_b_corr_err_DIAG": err,
            "IS_CALIBRATOR": (np.arange(z.size) % 10 == 0).astype(int),
        }
    )
    t.write(path, format="ascii.basic", overwrite=True)
    return (z, z_hel, err)


def _setup(tmp):
    design = _write_sample(tmp / "sample.dat", np.random.default_rng(3))
    (tmp / "exp.yaml").write_text(yaml.safe_dump(EXPERIMENT))
    return design


@pytest.fixture(scope="module")
def design_run(tmp_path_factory):
    """A run folder as `cigars train CONFIG --data sample.dat` writes it, without the training.

    ``train_experiment`` runs for real up to :func:`cigars.inference.train`, which is replaced
    by a recorder of its arguments (the infer-side design checks come before the estimator is
    loaded).
    """
    tmp = tmp_path_factory.mktemp("standardised-design")
    design = _setup(tmp)
    calls = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("cigars.inference.train", lambda *args, **kw: calls.append((args, kw)))
        train_experiment(
            load_experiment(tmp / "exp.yaml"), None, tmp / "run", data=tmp / "sample.dat"
        )
    return tmp, tmp / "run", design, calls


def test_train_records_the_design(design_run, key):
    tmp, run, design, calls = design_run
    (config, simulate_one, prior, run_dir), kw = calls[0]
    assert kw["local_bounds"] is None and prior.names == ("Om0", "M0")
    record = yaml.safe_load((run / "experiment.yaml").read_text())
    assert "bank" not in record and record["data"].endswith("sample.dat")
    assert len(record["data_sha256"]) == 64
    # zHD > 0.02 without the 4 calibrators
    keep = (design[0] > 0.02) & (np.arange(40) % 10 != 0)
    assert record["design"]["n_objects"] == keep.sum()
    saved = np.load(run / DESIGN_FILE)
    np.testing.assert_array_equal(saved["rows"], np.flatnonzero(keep))
    np.testing.assert_allclose(saved["z_cos"], design[0][keep])
    np.testing.assert_allclose(saved["sigma"], design[2][keep])
    _, _, m, mask, context = jax.jit(simulate_one)(key, jnp.array([0.3, -19.3]))
    assert m.shape == (keep.sum(), 3) and bool(jnp.all(mask))
    np.testing.assert_allclose(context[:, 1], design[1][keep], rtol=1e-6)


@pytest.mark.slow
def test_train_and_infer_end_to_end(tmp_path, capsys):
    """`cigars train CONFIG --data` (8 steps, tiny network), then `cigars infer` (~30 s)."""
    design = _setup(tmp_path)
    run = tmp_path / "run"
    argv = ["train", str(tmp_path / "exp.yaml"), "--data", str(tmp_path / "sample.dat")]
    assert main([*argv, "-o", str(run), "--quiet"]) == 0
    out = tmp_path / "post.nc"
    assert main(["infer", str(run), str(tmp_path / "sample.dat"), "-o", str(out)]) == 0
    assert "Om0" in capsys.readouterr().out
    idata = az.from_netcdf(out)
    assert set(idata.posterior.data_vars) == {"Om0", "M0"}
    assert idata.posterior["Om0"].shape == (1, 1000)
    om = np.asarray(idata.posterior["Om0"])
    assert np.all((om > 0) & (om < 1))
    assert idata.attrs["method"] == "npe" and idata.attrs["design_match"] == "same file"
    keep = (design[0] > 0.02) & (np.arange(40) % 10 != 0)
    np.testing.assert_array_equal(np.asarray(idata.observed_data["row"]), np.flatnonzero(keep))
    np.testing.assert_allclose(np.asarray(idata.observed_data["z"]), design[0][keep])

    # importance-sampled to the exact likelihood: 4 proposals per draw, diagnostics recorded
    out_is = tmp_path / "post-is.nc"
    argv = ["infer", str(run), str(tmp_path / "sample.dat"), "-o", str(out_is)]
    assert main([*argv, "--importance", "4", "--num-samples", "500"]) == 0
    printed = capsys.readouterr().out
    assert "importance-sampled from 2000 neural draws" in printed
    assert "NOT reliable: do not use" in printed
    weighted = az.from_netcdf(out_is)
    a = weighted.attrs
    assert a["method"] == "npe-is" and a["importance_n_draws"] == 2000
    assert 0 < a["importance_efficiency"] <= 1
    assert a["importance_ess"] == pytest.approx(2000 * a["importance_efficiency"])
    assert weighted.posterior["Om0"].shape == (1, 500)
    # An 8-step network is a poor proposal (sd of M0 ~0.9 mag, the likelihood's ~0.03): the
    # weights are far from uniform and PSIS says so.
    assert a["importance_efficiency"] < 0.05 and a["importance_pareto_k"] > 0.7
    assert a["importance_reliable"] == 0
    m0_sd = float(weighted.posterior["M0"].std())
    assert m0_sd < 0.3 * float(idata.posterior["M0"].std())

    # another file with the same design (new magnitudes, so a new checksum) is accepted
    _write_sample(tmp_path / "other.dat", np.random.default_rng(9), design=design)
    out2 = tmp_path / "post2.nc"
    argv = ["infer", str(run), str(tmp_path / "other.dat"), "-o", str(out2), "--seed", "1"]
    assert main(argv) == 0
    assert az.from_netcdf(out2).attrs["design_match"] == "same design"

    # `cigars validate` simulates samples over the run's design (no bank, no locals)
    report_dir = tmp_path / "val"
    argv = ["validate", str(run), "-o", str(report_dir), "--n-sims", "8", "--num-samples", "50"]
    main([*argv, "--quiet"])
    report = json.loads((report_dir / "report.json").read_text())
    assert report["n_sims"] == 8 and set(report["sbc"]["globals"]) == {"Om0", "M0"}


def test_infer_refuses_another_design(design_run, capsys):
    tmp, run, design, _ = design_run
    out = tmp / "bad.nc"
    z, z_hel, err = design
    _write_sample(tmp / "shifted.dat", np.random.default_rng(4), design=(z, z_hel, err * 1.1))
    assert main(["infer", str(run), str(tmp / "shifted.dat"), "-o", str(out)]) == 2
    err_text = capsys.readouterr().err
    assert "not the design run" in err_text and "first difference at object 0" in err_text
    assert "sigma" in err_text
    _write_sample(tmp / "smaller.dat", np.random.default_rng(4), n=30)
    assert main(["infer", str(run), str(tmp / "smaller.dat"), "-o", str(out)]) == 2
    n_trained = yaml.safe_load((run / "experiment.yaml").read_text())["design"]["n_objects"]
    assert f"after the cuts, against {n_trained} in" in capsys.readouterr().err
    assert main(["infer", str(run), str(tmp / "missing.dat"), "-o", str(out)]) == 2
    assert "missing.dat" in capsys.readouterr().err
    assert main(["infer", str(run), str(tmp / "sample.dat"), "-o", str(out), "--photo-z"]) == 2
    assert "do not apply to a 'standardised' run" in capsys.readouterr().err
    assert not out.exists()


def test_train_errors_for_a_wrong_or_missing_design(design_run, tmp_path, capsys):
    tmp, _, _, _ = design_run
    exp = str(tmp / "exp.yaml")
    run = str(tmp_path / "run")
    assert main(["train", exp, "-o", run, "--quiet"]) == 2
    assert "needs the sample that fixes the design: --data FILE" in capsys.readouterr().err
    assert main(["train", exp, "--bank", "bank.h5", "-o", run, "--quiet"]) == 2
    assert "instead of --bank" in capsys.readouterr().err
    assert main(["train", exp, "--data", str(tmp / "nope.dat"), "-o", run, "--quiet"]) == 2
    assert "nope.dat" in capsys.readouterr().err
    photometric = str(tmp.parent / "quickstart.yaml")
    shutil.copy(Path(__file__).parents[2] / "configs" / "quickstart.yaml", photometric)
    argv = ["train", photometric, "--data", str(tmp / "sample.dat"), "-o", run, "--quiet"]
    assert main(argv) == 2
    assert "apply to a 'standardised' likelihood" in capsys.readouterr().err
    assert main(["train", photometric, "-o", run, "--quiet"]) == 2
    assert "needs a galaxy bank (--bank)" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_read_sample_needs_the_standardised_likelihood(tmp_path):
    _write_sample(tmp_path / "s.dat", np.random.default_rng(0))
    exp = from_dict(Experiment, {**EXPERIMENT, "likelihood": {"type": "tripp"}})
    with pytest.raises(ValueError, match="likelihood type 'tripp'; a design sample needs"):
        read_standardised_sample(exp, tmp_path / "s.dat")
