"""`cigars infer --method nuts` end to end, the covariance reader, and the Pantheon+ regression
against the data README's diagonal-error value (Om0 = 0.351 +- 0.019, chi2 = 697, N = 1590)."""

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from astropy.table import Table

from cigars.cli import main
from cigars.config import load_experiment
from cigars.io import parse_cuts, read_catalogue
from cigars.likelihood import (
    distance_modulus_hel,
    file_problem,
    nuts_problem,
    read_covariance,
    standardised_log_likelihood,
)
from cigars.simulate import Theta

CONFIG = """
name: test-nuts
seed: 3
cosmology: {{type: flat_lambdacdm, H0: 70.0, Om0: 0.3}}
prior:
  params:
    Om0: {{uniform: [0.0, 1.0]}}
    M0: {{uniform: [-21.0, -18.0]}}{extra}
likelihood:
  type: {type}
  z_min: 0.02
  exclude_calibrators: true
  sampler: {{num_warmup: 100, num_samples: 150, num_chains: 2}}
"""


@pytest.fixture
def standardised_file(tmp_path):
    rng = np.random.default_rng(0)
    n = 40
    z = np.sort(rng.uniform(0.01, 1.0, n))
    err = rng.uniform(0.1, 0.2, n)
    with jax.enable_x64(True):
        mu = np.asarray(distance_modulus_hel(Theta(Om0=0.3), z, z, "flat_lambdacdm"))
    t = Table(
        {
            "zHD": z,
            "zHEL": z,
            "m_b_corr": mu - 19.3 + err * rng.normal(size=n),
            "m_b_corr_err_DIAG": err,
            "IS_CALIBRATOR": (np.arange(n) % 10 == 0).astype(int),
        }
    )
    path = tmp_path / "sample.dat"
    t.write(path, format="ascii.basic")
    cov = np.diag(err**2) + 0.01**2  # a common offset term
    with open(tmp_path / "sample.cov", "w") as f:
        f.write(f"{n}\n" + "\n".join(f"{v:.10e}" for v in cov.ravel()) + "\n")
    (tmp_path / "exp.yaml").write_text(CONFIG.format(type="standardised", extra=""))
    return tmp_path, t


@pytest.mark.long
def test_cli_nuts_standardised(standardised_file, capsys):
    tmp, t = standardised_file
    out = tmp / "post.nc"
    rc = main(
        [
            "infer",
            "--method",
            "nuts",
            str(tmp / "exp.yaml"),
            str(tmp / "sample.dat"),
            "-o",
            str(out),
            "--cov",
            str(tmp / "sample.cov"),
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "NUTS, 2 chains x 150 draws" in text and "Om0" in text and "r_hat" in text
    idata = az.from_netcdf(out)
    assert set(idata.posterior.data_vars) == {"Om0", "M0"}
    rows = np.asarray(idata.observed_data["row"])
    expected = np.flatnonzero((np.asarray(t["zHD"]) > 0.02) & (np.asarray(t["IS_CALIBRATOR"]) != 1))
    np.testing.assert_array_equal(rows, expected)
    assert idata.attrs["method"] == "nuts" and idata.attrs["covariance"].endswith("sample.cov")
    om = np.asarray(idata.posterior["Om0"]).ravel()
    assert 0.0 < om.mean() < 1.0 and om.std() > 0.01


def test_where_cuts_the_rows_and_the_covariance_alike(standardised_file):
    tmp, t = standardised_file
    exp = load_experiment(tmp / "exp.yaml")
    z = np.asarray(t["zHD"])
    full = read_covariance(tmp / "sample.cov")
    with jax.enable_x64(True):
        table, (_, args, _, rows, observed) = file_problem(
            exp, tmp / "sample.dat", tmp / "sample.cov", parse_cuts(["zHD>=0.4"])
        )
        data = args[1]
        cov = np.asarray(data.scale_tril @ data.scale_tril.T)
    # The z and calibrator cuts of the likelihood come on top of --where; rows are file rows.
    expected = np.flatnonzero((z >= 0.4) & (np.asarray(t["IS_CALIBRATOR"]) != 1))
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_array_equal(table.meta["file_rows"], np.flatnonzero(z >= 0.4))
    np.testing.assert_allclose(np.asarray(data.m), np.asarray(t["m_b_corr"])[expected])
    np.testing.assert_allclose(cov, full[np.ix_(expected, expected)], rtol=1e-10, atol=1e-14)
    assert table.meta["n_file_rows"] == len(t) and table.meta["where"] == ["zHD>=0.4"]


def test_cli_nuts_errors(standardised_file, capsys):
    tmp, _ = standardised_file
    bad = tmp / "bad.cov"
    bad.write_text("3\n1 0 0\n0 1 0\n0 0 1\n")
    args = [
        "infer",
        "--method",
        "nuts",
        str(tmp / "exp.yaml"),
        str(tmp / "sample.dat"),
        "-o",
        str(tmp / "x.nc"),
    ]
    assert main([*args, "--cov", str(bad)]) == 2
    assert "the covariance is 3 x 3, the catalogue has 40 rows" in capsys.readouterr().err
    assert main([*args, "--columns", "pantheonplus"]) == 2
    assert "--columns applies to --method npe" in capsys.readouterr().err
    (tmp / "nolik.yaml").write_text("name: x\n")
    assert (
        main(
            [
                "infer",
                "--method",
                "nuts",
                str(tmp / "nolik.yaml"),
                str(tmp / "sample.dat"),
                "-o",
                str(tmp / "x.nc"),
            ]
        )
        == 2
    )
    assert "no 'likelihood' section" in capsys.readouterr().err
    assert not (tmp / "x.nc").exists()


def test_read_covariance_checks(tmp_path):
    p = tmp_path / "c.cov"
    p.write_text("2\n1 0.5\n0.5 2\n")
    np.testing.assert_array_equal(read_covariance(p), [[1, 0.5], [0.5, 2]])
    p.write_text("2\n1 0.5\n0.4 2\n")
    with pytest.raises(ValueError, match="not symmetric at"):
        read_covariance(p)
    p.write_text("2\n1 0.5 0.5\n")
    with pytest.raises(ValueError, match="needs 4 values after it, found 3"):
        read_covariance(p)


def _salt_table(n=60, seed=1):
    rng = np.random.default_rng(seed)
    z = np.sort(rng.uniform(0.03, 0.8, n))
    x1 = rng.normal(size=n)
    c = 0.1 * rng.normal(size=n)
    with jax.enable_x64(True):
        mu = np.asarray(distance_modulus_hel(Theta(Om0=0.3), z, z, "flat_lambdacdm"))
    m = mu - 19.5 - 0.14 * x1 + 2.2 * c + 0.1 * rng.normal(size=n) + 0.03 * rng.normal(size=n)
    return Table(
        {
            "z_hd": z,
            "z_hel": z,
            "m_b": m,
            "x1": x1,
            "c": c,
            "var_m_b": np.full(n, 0.03**2),
            "var_x1": np.full(n, 1e-6),
            "var_c": np.full(n, 1e-6),
            "cov_x1_c": np.full(n, 1e-7),
            "host_logmass": np.where(np.arange(n) % 7 == 0, np.nan, rng.uniform(9, 11.5, n)),
            "IS_CALIBRATOR": np.zeros(n, int),
        }
    )


TRIPP_EXTRA = (
    "\n    alpha: {uniform: [-0.5, 0.2]}\n    beta: {uniform: [0.0, 4.0]}"
    "\n    sigma_res: {uniform: [0.01, 0.3]}"
)


def test_tripp_problem_from_a_table(tmp_path, x64):
    """The tripp reader path: roles, missing host masses, covariances, a finite density."""
    import numpyro.infer.util

    (tmp_path / "exp.yaml").write_text(CONFIG.format(type="tripp", extra=TRIPP_EXTRA))
    exp = load_experiment(tmp_path / "exp.yaml")
    table = _salt_table()
    model, args, names, rows, observed = nuts_problem(exp, table, source="salt.csv")
    assert names == ("Om0", "M0", "sigma_res", "alpha", "beta")
    np.testing.assert_array_equal(rows, np.flatnonzero(np.asarray(table["z_hd"]) > 0.02))
    sn = args[2]
    assert float(sn.cov[0, 1, 2]) == pytest.approx(1e-7)
    assert np.all(np.asarray(sn.logmass)[np.isnan(np.asarray(table["host_logmass"])[rows])] == 0)
    params = {"Om0": 0.3, "M0": -19.5, "sigma_res": 0.1, "alpha": -0.14, "beta": 2.2}
    lp, _ = numpyro.infer.util.log_density(model, args, {}, params)
    assert np.isfinite(float(lp))
    with pytest.raises(ValueError, match="--cov applies to the 'standardised' likelihood only"):
        nuts_problem(exp, table, cov=np.eye(len(table)))
    table.remove_column("var_c")
    with pytest.raises(ValueError, match="salt.csv: no column 'var_c'"):
        nuts_problem(exp, table, source="salt.csv")


@pytest.mark.slow
def test_cli_nuts_tripp(tmp_path, capsys):
    _salt_table().write(tmp_path / "salt.csv", format="ascii.csv")
    (tmp_path / "exp.yaml").write_text(CONFIG.format(type="tripp", extra=TRIPP_EXTRA))
    exp = load_experiment(tmp_path / "exp.yaml")
    assert set(exp.prior.params) == {"Om0", "M0", "alpha", "beta", "sigma_res"}
    argv = ["infer", "--method", "nuts", str(tmp_path / "exp.yaml"), str(tmp_path / "salt.csv")]
    assert main([*argv, "-o", str(tmp_path / "p.nc"), "--num-samples", "150"]) == 0
    post = az.from_netcdf(tmp_path / "p.nc").posterior
    beta = np.asarray(post["beta"]).ravel()
    assert abs(beta.mean() - 2.2) < 4 * beta.std()


PANTHEON_OM0, PANTHEON_SD, PANTHEON_CHI2 = 0.351, 0.019, 697.0


# (config, file under ../shared/data, rows kept, M0 grid, the data README's regression values:
# Om0 mean, sd, minimum chi^2). Pantheon+: zHD > 0.01, m_b_corr_err_DIAG. DES-SN5YR: all rows,
# MU with MUERR_FINAL, "M0" the offset of MU.
DIAGONAL_REGRESSIONS = {
    "pantheonplus": (
        "configs/pantheonplus-flatlcdm.yaml",
        "pantheonplus/Pantheon+SH0ES.dat",
        1590,
        (-19.45, -19.25),
        (PANTHEON_OM0, PANTHEON_SD, PANTHEON_CHI2),
    ),
    "des-sn5yr": (
        "configs/des-sn5yr-flatlcdm.yaml",
        "des-sn5yr/DES-SN5YR_HD.csv",
        1829,
        (-0.05, 0.11),
        (0.363, 0.012, 1688.0),
    ),
}


@pytest.mark.parametrize("survey", sorted(DIAGONAL_REGRESSIONS))
def test_diagonal_regression_on_a_grid(survey, shared_file, x64):
    """The data READMEs' own procedure: flat LCDM, diagonal errors, M marginalised (here
    numerically, flat prior) on an Om0 grid; the config and the model used by `cigars infer
    --method nuts` give the data and the likelihood."""
    config, file, n_rows, m0_range, (om0, om0_sd, chi2) = DIAGONAL_REGRESSIONS[survey]
    path = shared_file(file)
    exp = load_experiment(config)
    _, (prior, data, cosmology), names, rows, _ = nuts_problem(
        exp, read_catalogue(path), source=str(path)
    )
    assert rows.size == n_rows and names == ("Om0", "M0")
    om = np.linspace(0.2, 0.5, 301)
    m0 = np.linspace(*m0_range, 201)
    theta = prior.fixed
    ll = jax.jit(
        jax.vmap(
            jax.vmap(
                lambda a, b: standardised_log_likelihood(
                    theta.replace(Om0=a, M0=b), data, cosmology
                ),
                in_axes=(None, 0),
            ),
            in_axes=(0, None),
        )
    )(jnp.asarray(om), jnp.asarray(m0))
    ll = np.asarray(ll)
    sigma = np.asarray(jnp.diagonal(data.scale_tril))
    norm = -np.sum(np.log(sigma)) - 0.5 * rows.size * np.log(2 * np.pi)
    chi2_min = -2 * (ll.max() - norm)
    p = np.exp(ll - ll.max()).sum(axis=1)
    p /= p.sum()
    mean = np.sum(p * om)
    sd = np.sqrt(np.sum(p * (om - mean) ** 2))
    assert mean == pytest.approx(om0, abs=0.005)
    assert sd == pytest.approx(om0_sd, abs=0.002)
    assert chi2_min == pytest.approx(chi2, abs=1.0)


@pytest.mark.slow
def test_pantheonplus_diagonal_regression_nuts(shared_file, tmp_path, capsys):
    path = shared_file("pantheonplus/Pantheon+SH0ES.dat")
    out = tmp_path / "pp.nc"
    rc = main(
        [
            "infer",
            "--method",
            "nuts",
            "configs/pantheonplus-flatlcdm.yaml",
            str(path),
            "-o",
            str(out),
            "--num-samples",
            "1000",
        ]
    )
    assert rc == 0
    om = np.asarray(az.from_netcdf(out).posterior["Om0"]).ravel()
    assert om.mean() == pytest.approx(PANTHEON_OM0, abs=0.005)
    assert om.std() == pytest.approx(PANTHEON_SD, abs=0.003)
