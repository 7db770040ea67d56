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
