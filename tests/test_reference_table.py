"""benchmarks/reference_table.py: the reference-mock table and figure from paper_scale reports."""

import importlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def reftable(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("benchmarks.reference_table")


def _report(tmp_path, **mock):
    report = {
        "config": "configs/cigars-i-1.6k.yaml",
        "device": "cpu",
        "training": {"steps": 1200, "batch_size": 8, "seconds": 600.0},
        "reference_mock": {
            "n_sn": 1578,
            "draws": 1000,
            "seconds_steady": 1.5,
            "globals": {
                "Om0": {"mean": 0.36, "sd": 0.04, "truth": 0.3, "z": 1.5},
                "alpha": {"mean": -0.13, "sd": 0.005, "truth": -0.14, "z": 2.0},
            },
            "photoz": {
                "median_abs_dz": 0.012,
                "sigma_nmad": 0.011,
                "bias": -0.001,
                "eta_0.15": 0.0,
                "eta_0.05": 0.01,
            },
            "photoz_median_sd": 0.02,
            **mock,
        },
    }
    path = tmp_path / "paper_scale.json"
    path.write_text(json.dumps(report))
    return path


def test_table_rows_and_figure(tmp_path, reftable, monkeypatch):
    monkeypatch.chdir(ROOT)
    out, png = tmp_path / "t.md", tmp_path / "t.png"
    path = _report(tmp_path)
    assert reftable.main([str(path), "--label", "1.6k", "-o", str(out), "--figure", str(png)]) == 0
    text = out.read_text()
    # Ours, its distance from the truth, its sd over the prior's (uniform: 1/sqrt(12) of the
    # range), the reference's released posterior (MODEL.md), the truth.
    assert "| Om0 | 0.360 ± 0.040 | +1.50 | 0.14 | 0.27 ± 0.10 | 0.3 |" in text
    assert "| alpha | -0.1300 ± 0.0050 | +2.00 | 0.02 | -0.1446 ± 0.0062 | -0.14 |" in text
    assert "| median \\|Δz\\| | 0.0120 | 0.0094 |" in text
    assert "1,578 SNe; 1,200 steps × 8 surveys" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_refuses_reports_without_a_reference_mock(tmp_path, reftable):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"training": {}}))
    with pytest.raises(ValueError, match="no reference_mock"):
        reftable.main([str(path), "--label", "16k"])
    with pytest.raises(SystemExit):
        reftable.main([str(_report(tmp_path)), "--label", "16k", "--label", "1.6k"])
