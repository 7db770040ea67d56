"""The command line: config validation messages, exit codes, and bank -> simulate -> plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from cigars.cli import main
from cigars.config import load_experiment

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert "cigars" in capsys.readouterr().out


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_is_valid(path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["config", "check", str(path)]) == 0
    assert main(["config", "show", str(path)]) == 0
    shown = capsys.readouterr().out
    resolved = yaml.safe_load(shown[shown.index("name:") :])
    assert resolved["name"] == load_experiment(path).name


def _write(tmp_path, text):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("nmae: x\n", ["nmae", "unknown key"]),
        ("bank: {n_galaxeis: 10}\n", ["bank.n_galaxeis", "unknown key"]),
        ("bank: {n_galaxies: ten}\n", ["bank.n_galaxies", "expected an integer"]),
        ("bank: {n_galaxies: 0}\n", ["bank.n_galaxies", ">= 1"]),
        ("cosmology: {type: lambdacdm, Om0: -0.1}\n", ["cosmology.Om0"]),
        ("cosmology: {type: steady_state}\n", ["cosmology.type", "lambdacdm"]),
        ("bands: {filters: [lsst2023-q]}\n", ["bands", "lsst2023-q"]),
    ],
)
def test_config_check_names_file_and_key(tmp_path, capsys, text, fragments):
    path = _write(tmp_path, text)
    assert main(["config", "check", path]) == 2
    err = capsys.readouterr().err
    assert path in err
    for fragment in fragments:
        assert fragment in err


def test_missing_config_file_exits_2(tmp_path, capsys):
    assert main(["config", "check", str(tmp_path / "nope.yaml")]) == 2
    assert "file not found" in capsys.readouterr().err


@pytest.mark.long
def test_bank_simulate_plot_end_to_end(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    config = ROOT / "configs" / "quickstart.yaml"
    bank = tmp_path / "bank.h5"
    mock = tmp_path / "mock.fits"
    assert main(["bank", str(config), "-o", str(bank), "--n", "3000", "--quiet"]) == 0
    assert bank.is_file()
    # A complete bank is never overwritten silently.
    assert main(["bank", str(config), "-o", str(bank), "--n", "3000", "--quiet"]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["simulate", str(config), "--bank", str(bank), "-o", str(mock)]) == 0
    assert "mock written" in capsys.readouterr().out

    from cigars.io._mock import read_mock

    table, truth, meta, undetected = read_mock(mock)
    assert truth["Om0"] == pytest.approx(0.3)
    assert meta["config"]["name"] == "quickstart"
    assert len(table) > 0
    for col in ("m_b", "x1", "c", "var_m_b", "z_spec", "host_mag_u", "host_mag_err_y", "true_z"):
        assert col in table.colnames
    assert np.all(np.isfinite(table["m_b"]))
    assert np.all(table["var_m_b"] > 0)
    # z_spec is NaN exactly where no spectrum was taken, and near the true redshift elsewhere.
    spec = np.isfinite(table["z_spec"])
    assert np.all(np.abs(table["z_spec"][spec] - table["true_z_hel"][spec]) < 0.01)

    # --truth overrides are written to the file.
    mock2 = tmp_path / "mock2.fits"
    argv = ["simulate", str(config), "--bank", str(bank), "-o", str(mock2), "--truth", "M0=-19.0"]
    assert main(argv) == 0
    t2, truth2, _, _ = read_mock(mock2)
    assert truth2["M0"] == pytest.approx(-19.0)
    assert (
        main(["simulate", str(config), "--bank", str(bank), "-o", str(mock2), "--truth", "M0"]) == 2
    )

    png = tmp_path / "hubble.png"
    assert main(["plot", "hubble", str(mock), "-o", str(png), "--undetected"]) == 0
    assert png.stat().st_size > 10_000


@pytest.mark.long
def test_train_resume_and_infer_end_to_end(tmp_path, capsys, monkeypatch, tiny_experiment):
    """A tiny run through the real simulator: train, resume, joint posterior netCDF."""
    monkeypatch.chdir(ROOT)
    config, _ = tiny_experiment()
    bank, mock, run = tmp_path / "bank.h5", tmp_path / "mock.fits", tmp_path / "run"
    # 3,000 galaxies, as every CLI test's bank: one bank program, shared through the cache
    assert main(["bank", str(config), "-o", str(bank), "--n", "3000", "--quiet"]) == 0
    assert main(["simulate", str(config), "--bank", str(bank), "-o", str(mock)]) == 0
    assert main(["train", str(config), "--bank", str(bank), "-o", str(run), "--quiet"]) == 0
    for name in ("checkpoint.msgpack", "metrics.jsonl", "loss_curve.png", "experiment.yaml"):
        assert (run / name).is_file()
    # An existing run is never silently retrained (resuming needs --resume), nor touched.
    record = (run / "experiment.yaml").read_bytes()
    argv = ["train", str(config), "--bank", str(bank), "-o", str(run), "--steps", "13"]
    assert main([*argv, "--quiet"]) == 2
    assert (run / "experiment.yaml").read_bytes() == record
    # Fine-tuning from the run: a fresh schedule that starts at its parameters, recorded. (The
    # run's own 12 steps: the same step program, which the tests' compilation cache serves.)
    tuned = tmp_path / "tuned"
    argv = ["train", str(config), "--bank", str(bank), "-o", str(tuned), "--init-from", str(run)]
    assert main([*argv, "--steps", "12", "--quiet"]) == 0
    assert yaml.safe_load((tuned / "experiment.yaml").read_text())["init_from"] == str(run)
    # The two runs as a deep ensemble: a run folder of its own; nothing trains into it.
    ens = tmp_path / "ens"
    assert main(["ensemble", str(run), "-o", str(ens)]) == 2
    assert main(["ensemble", str(run), str(tmp_path), "-o", str(ens)]) == 2
    assert not ens.exists()
    assert main(["ensemble", str(run), str(tuned), "-o", str(ens)]) == 0
    assert main(["ensemble", str(run), str(tuned), "-o", str(ens)]) == 2  # exists
    assert main(["train", str(config), "--bank", str(bank), "-o", str(ens), "--quiet"]) == 2
    assert "is an ensemble" in capsys.readouterr().err
    ens_post = tmp_path / "ens.nc"
    argv = ["infer", str(ens), str(mock), "-o", str(ens_post), "--num-samples", "20"]
    assert main(argv) == 0
    capsys.readouterr()
    post = tmp_path / "post.nc"
    assert main(["infer", str(run), str(mock), "-o", str(post), "--num-samples", "20"]) == 0
    out = capsys.readouterr().out
    assert "Om0" in out and "posterior written" in out

    import arviz as az

    from cigars.io import read_mock

    idata = az.from_netcdf(post)
    n_obj = len(read_mock(mock)[0])
    assert idata.posterior["Om0"].shape == (1, 20)
    assert idata.posterior["z_obj"].shape == (1, 20, n_obj)
    z = idata.posterior["z_obj"].values
    assert np.all((z >= 0.02) & (z <= 1.5))
    ens_z = az.from_netcdf(ens_post).posterior["z_obj"].values
    assert ens_z.shape == (1, 20, n_obj) and np.all((ens_z >= 0.02) & (ens_z <= 1.5))
    figs = tmp_path / "figs"
    assert main(["plot", "posterior", str(post), "--mock", str(mock), "-o", str(figs)]) == 0
    assert (figs / "corner.png").stat().st_size > 10_000
    assert (figs / "photoz.png").stat().st_size > 10_000


def test_plot_posterior_without_per_object_redshifts(tmp_path, capsys):
    """A posterior of globals only (NUTS on a spec-z sample) gets its corner plot, and the
    photo-z figure is skipped with a reason instead of a traceback."""
    import arviz as az

    rng = np.random.default_rng(0)
    draws = {"Om0": rng.normal(0.3, 0.02, (2, 200)), "M0": rng.normal(-19.3, 0.01, (2, 200))}
    az.from_dict(posterior=draws).to_netcdf(str(tmp_path / "nuts.nc"))
    figs = tmp_path / "figs"
    assert main(["plot", "posterior", str(tmp_path / "nuts.nc"), "-o", str(figs)]) == 0
    out = capsys.readouterr().out
    assert "photo-z figure skipped: the posterior has no per-object redshifts" in out
    assert (figs / "corner.png").stat().st_size > 10_000
    assert not (figs / "photoz.png").exists()
    # per-object redshifts but nothing to compare them with: skipped, with the reason
    draws["z_obj"] = rng.uniform(0.1, 0.9, (2, 200, 5))
    observed = {"m_b": rng.normal(22.0, 1.0, 5), "z_spec": np.full(5, np.nan)}
    az.from_dict(posterior=draws, observed_data=observed).to_netcdf(str(tmp_path / "npe.nc"))
    assert main(["plot", "posterior", str(tmp_path / "npe.nc"), "-o", str(figs)]) == 0
    assert "photo-z figure skipped: no reference redshifts" in capsys.readouterr().out


def test_infer_rejects_bad_catalogues(tmp_path):
    from cigars.config import Experiment, from_dict
    from cigars.experiment import catalogue_arrays
    from cigars.io import read_mock

    exp = load_experiment(ROOT / "configs" / "quickstart.yaml")
    table = _tiny_table(exp)
    data, context, mask = catalogue_arrays(table, exp)
    assert mask.sum() == len(table) and data.shape[0] == exp.simulator.survey.n_max
    bad = table.copy()
    bad["m_b"][1] = np.nan
    with pytest.raises(ValueError, match=r"cat.fits: row 1, column 'm_b'"):
        catalogue_arrays(bad, exp, source="cat.fits")
    bad = table.copy()
    bad["var_x1"][0] = 0.0
    with pytest.raises(ValueError, match=r"row 0, column 'var_x1'.*positive"):
        catalogue_arrays(bad, exp, source="cat.fits")
    with pytest.raises(ValueError, match="missing column 'host_mag_u'"):
        catalogue_arrays(table[[c for c in table.colnames if c != "host_mag_u"]], exp)
    small = from_dict(
        Experiment,
        {
            **_as_dict(exp),
            "simulator": {**_as_dict(exp)["simulator"], "survey": {"type": "lsst", "n_max": 2}},
        },
    )
    with pytest.raises(ValueError, match="more than the model takes: simulator.survey.n_max = 2"):
        catalogue_arrays(table, small)
    # a run trained with max_objects takes at most that many objects, and pads to it
    fit = from_dict(
        Experiment,
        {
            **_as_dict(exp),
            "inference": {**_as_dict(exp)["inference"], "training": {"max_objects": 3}},
        },
    )
    assert len(table) > 3
    with pytest.raises(ValueError, match="model takes: inference.training.max_objects = 3"):
        catalogue_arrays(table, fit)
    data, _, mask = catalogue_arrays(table[:3], fit)
    assert data.shape[0] == 3 and mask.all()
    del read_mock


def _as_dict(exp):
    from cigars.config import to_dict

    return to_dict(exp)


def _tiny_table(exp):
    from astropy.table import Table

    rng = np.random.default_rng(0)
    n = 5
    t = Table()
    for f in exp.bands.filters:
        b = f.split("-")[-1]
        t[f"host_mag_{b}"] = rng.uniform(18, 24, n)
        t[f"host_mag_err_{b}"] = np.full(n, 0.01)
    t["m_b"] = rng.uniform(20.0, 24.0, n)
    for c in ("x1", "c"):
        t[c] = rng.normal(size=n)
    for c in ("var_m_b", "var_x1", "var_c"):
        t[c] = np.full(n, 0.01)
    t["z_spec"] = [0.3, np.nan, np.nan, 0.5, np.nan]
    return t
