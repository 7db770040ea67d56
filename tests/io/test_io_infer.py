"""`cigars infer` on files: --columns, --drop-invalid, exit status 2 for bad data, atomic output.

The posterior sampler is replaced by a stand-in of the right shapes where a test is about the
files around it (validation, the drop report, atomic writes), so no estimator is trained here;
the real train -> infer path is covered by tests/test_cli.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.table import Table
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cigars.cli import main
from cigars.config import load_experiment, to_dict

ROOT = Path(__file__).resolve().parents[2]
BANDS = ("u", "g", "r", "i", "z", "y")


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # the quickstart's selection table path is relative to the root


@pytest.fixture(scope="module")
def exp():
    return load_experiment(ROOT / "configs" / "quickstart.yaml")


@pytest.fixture
def run_dir(tmp_path, exp):
    """A training run's record without a checkpoint (validation comes before the model)."""
    run = tmp_path / "run"
    run.mkdir()
    record = {"bank": str(tmp_path / "bank.h5"), "experiment": to_dict(exp)}
    (run / "experiment.yaml").write_text(yaml.safe_dump(record, sort_keys=False))
    return run


@pytest.fixture
def fake_sampler(monkeypatch, exp):
    """Stand-in estimator and sampler: zeros of the shapes `sample_posterior` returns."""
    import cigars.inference as inference
    from cigars.experiment import experiment_truth

    n_theta = len(exp.prior.build(experiment_truth(exp)).names)
    calls = {}

    def sample_posterior(estimator, key, data, mask, context, num_samples=1000):
        calls["data"], calls["mask"], calls["context"] = data, mask, context
        local = np.where(mask[None, :, None], 0.5, np.nan) * np.ones((num_samples, len(mask), 7))
        return np.zeros((num_samples, n_theta)), local

    monkeypatch.setattr(inference, "load_estimator", lambda run_dir: object())
    monkeypatch.setattr(inference, "sample_posterior", sample_posterior)
    return calls


def valid_table(n: int, seed: int = 0) -> Table:
    rng = np.random.default_rng(seed)
    t = Table()
    t["id"] = [f"sn{i:03d}" for i in range(n)]
    for b in BANDS:
        t[f"host_mag_{b}"] = rng.uniform(19.0, 24.0, n)
        t[f"host_mag_err_{b}"] = np.full(n, 0.01)
    t["m_b"] = rng.uniform(19.0, 24.0, n)
    t["x1"] = rng.normal(size=n)
    t["c"] = rng.normal(0, 0.1, n)
    for c in ("var_m_b", "var_x1", "var_c"):
        t[c] = np.full(n, 1e-3)
    t["z_spec"] = np.where(np.arange(n) % 3 == 0, rng.uniform(0.1, 1.0, n), np.nan)
    return t


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_bad_data_exits_2_before_any_computation(tmp_path, run_dir, capsys):
    t = valid_table(8)
    t["m_b"][2] = np.nan
    t["var_c"][5] = -1e-3
    data = tmp_path / "data.csv"
    t.write(data)
    before = sha256(data)
    out = tmp_path / "post.nc"
    assert main(["infer", str(run_dir), str(data), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cigars: error: ")
    assert f"{data}: row 2, column 'm_b': missing value (nan)" in err
    assert f"{data}: row 5, column 'var_c': variance must be positive (-0.001)" in err
    assert "Traceback" not in err
    assert not out.exists() and not (tmp_path / "post.dropped.json").exists()
    assert sha256(data) == before


def test_table_problems_exit_2_even_with_drop_invalid(tmp_path, run_dir, capsys):
    t = valid_table(4)
    t.remove_column("host_mag_y")
    data = tmp_path / "data.ecsv"
    t.write(data)
    argv = ["infer", str(run_dir), str(data), "-o", str(tmp_path / "p.nc"), "--drop-invalid"]
    assert main(argv) == 2
    assert "missing column 'host_mag_y'" in capsys.readouterr().err


def test_drop_invalid_skips_exactly_the_bad_rows(tmp_path, run_dir, fake_sampler, capsys):
    import arviz as az

    t = valid_table(10)
    t["m_b"][3] = 99.0
    t["z_spec"][7] = 3.0
    t["id"][8] = t["id"][1]
    data = tmp_path / "data.fits"
    t.write(data)
    before = sha256(data)
    out = tmp_path / "post.nc"
    argv = [
        "infer",
        str(run_dir),
        str(data),
        "-o",
        str(out),
        "--num-samples",
        "4",
        "--drop-invalid",
    ]
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    report_path = tmp_path / "post.dropped.json"
    assert f"skipped 3 invalid rows of 10: listed in {report_path}" in stdout
    report = json.loads(report_path.read_text())
    assert [d["row"] for d in report["dropped"]] == [3, 7, 8]
    assert [d["id"] for d in report["dropped"]] == ["sn003", "sn007", "sn001"]
    kept = [0, 1, 2, 4, 5, 6, 9]
    assert fake_sampler["mask"].sum() == len(kept)
    np.testing.assert_allclose(fake_sampler["data"][: len(kept), 6], np.asarray(t["m_b"])[kept])
    idata = az.from_netcdf(out)
    assert list(idata.observed_data["source_row"].values) == kept
    assert list(idata.observed_data["id"].values) == [t["id"][r] for r in kept]
    assert idata.posterior["z_obj"].shape == (1, 4, len(kept))
    assert idata.attrs["n_dropped"] == 3 and idata.attrs["n_read"] == 10
    assert sha256(data) == before


def test_column_map_on_the_command_line(tmp_path, run_dir, fake_sampler):
    t = valid_table(5)
    foreign = Table()
    foreign["CID"] = t["id"]
    for b in BANDS:
        foreign[f"MAG_{b}"] = t[f"host_mag_{b}"]
        foreign[f"MAGERR_{b}"] = t[f"host_mag_err_{b}"]
    foreign["x0"] = 10 ** (-0.4 * (np.asarray(t["m_b"]) - 10.635))
    foreign["x0ERR"] = foreign["x0"] * 0.01
    for c in ("x1", "c"):
        foreign[c] = t[c]
        foreign[c + "ERR"] = np.sqrt(t["var_" + c])
    foreign["zHEL"] = np.where(np.isfinite(t["z_spec"]), t["z_spec"], -9.0)
    data = tmp_path / "foreign.txt.gz"
    import gzip

    lines = ["VARNAMES: " + " ".join(foreign.colnames)]
    lines += ["SN: " + " ".join(str(v) for v in row) for row in foreign]
    data.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    cmap = {
        "name": "test",
        "id": "CID",
        "x0": {"column": "x0", "err": "x0ERR"},
        "x1": {"column": "x1", "err": "x1ERR"},
        "c": {"column": "c", "err": "cERR"},
        "z_spec": {"column": "zHEL", "missing": [-9]},
        "host_mags": {f"lsst2023-{b}": {"mag": f"MAG_{b}", "err": f"MAGERR_{b}"} for b in BANDS},
    }
    (tmp_path / "map.yaml").write_text(yaml.safe_dump(cmap))
    out = tmp_path / "post.nc"
    argv = ["infer", str(run_dir), str(data), "-o", str(out), "--num-samples", "2"]
    assert main([*argv, "--columns", str(tmp_path / "map.yaml")]) == 0
    np.testing.assert_allclose(fake_sampler["data"][:5, 6], t["m_b"], rtol=1e-9)
    np.testing.assert_allclose(fake_sampler["context"][:5, 1], np.isfinite(t["z_spec"]))
    # A shipped map whose columns are not in this file: exit 2 naming the column.
    assert main([*argv, "--columns", "pantheonplus"]) == 2
    assert main([*argv, "--columns", "no-such-map"]) == 2


def test_importance_sampling_needs_a_tractable_likelihood(tmp_path, run_dir, capsys):
    data = tmp_path / "data.csv"
    valid_table(6).write(data)
    out = tmp_path / "post.nc"
    argv = ["infer", str(run_dir), str(data), "-o", str(out), "--importance", "4"]
    assert main(argv) == 2
    assert "--importance needs a tractable likelihood" in capsys.readouterr().err
    assert main([*argv[:-1], "-1"]) == 2
    assert "--importance must be >= 0, got -1" in capsys.readouterr().err
    assert not out.exists()


def test_a_crash_while_writing_leaves_no_partial_file(tmp_path, run_dir, fake_sampler):
    import arviz as az

    from cigars.experiment import infer_catalogue

    data = tmp_path / "data.csv"
    valid_table(6).write(data)
    out = tmp_path / "post.nc"
    out.write_bytes(b"previous posterior")

    def crash(self, filename, **kwargs):
        Path(filename).write_bytes(b"half a netCDF file")
        raise OSError("disk full")

    real = az.InferenceData.to_netcdf
    az.InferenceData.to_netcdf = crash
    try:
        with pytest.raises(OSError, match="disk full"):
            infer_catalogue(run_dir, data, out, num_samples=3, drop_invalid=True)
    finally:
        az.InferenceData.to_netcdf = real
    assert out.read_bytes() == b"previous posterior"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "post.nc", "run"]
    fresh = tmp_path / "fresh.nc"
    az.InferenceData.to_netcdf = crash
    try:
        with pytest.raises(OSError):
            infer_catalogue(run_dir, data, fresh, num_samples=3)
    finally:
        az.InferenceData.to_netcdf = real
    assert not fresh.exists()


FAULTS = ("nan", "inf", "neg_err", "sentinel", "text", "z_high", "dup", "drop_col", "band", "rows")


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    fault=st.sampled_from(FAULTS),
    fmt=st.sampled_from([".csv", ".ecsv", ".fits", ".fitres"]),
    row=st.integers(0, 5),
    column=st.sampled_from(["m_b", "x1", "var_x1", "host_mag_g", "host_mag_err_y", "z_spec"]),
)
def test_malformed_files_always_exit_2_with_a_clear_message(
    tmp_path_factory, run_dir, capsys, fault, fmt, row, column
):
    t = valid_table(6)
    if fault == "nan":
        t[column if column != "z_spec" else "c"][row] = np.nan
    elif fault == "inf":
        t[column][row] = np.inf
    elif fault == "neg_err":
        t["host_mag_err_r"][row] = -0.1
    elif fault == "sentinel":
        t["host_mag_i"][row] = -999.0
    elif fault == "text":
        t[column] = t[column].astype("U32")
        t[column][row] = "n/a"
    elif fault == "z_high":
        t["z_spec"][row] = 12.0
    elif fault == "dup":
        t["id"][row] = t["id"][(row + 1) % 6]
    elif fault == "drop_col":
        t.remove_column(column)
    elif fault == "band":
        t.rename_column("host_mag_u", "host_mag_w")
    else:
        t = valid_table(1600)  # more than the quickstart's n_max = 1536
    folder = tmp_path_factory.mktemp("cli")
    data = folder / f"data{fmt}"
    if fmt == ".fitres":
        lines = ["VARNAMES: " + " ".join(t.colnames)]
        lines += ["SN: " + " ".join(str(v) for v in r) for r in t]
        data.write_text("\n".join(lines) + "\n")
    else:
        t.write(data)
    before = sha256(data)
    out = folder / "post.nc"
    for extra in ([], ["--drop-invalid"]):
        code = main(["infer", str(run_dir), str(data), "-o", str(out), *extra])
        err = capsys.readouterr().err
        if extra and fault not in ("drop_col", "band", "rows"):
            continue  # a row problem with --drop-invalid goes on to the (absent) model
        assert code == 2
        assert err.startswith(f"cigars: error: {data}: ")
        assert not out.exists()
    assert sha256(data) == before


def test_where_keeps_the_rows_that_pass_and_names_rows_by_their_place_in_the_file(
    tmp_path, run_dir, fake_sampler, capsys
):
    import arviz as az

    t = valid_table(10)
    t["prob"] = [0.1, 0.9, 0.2, np.nan, 0.4, 0.3, 0.8, 0.0, 0.45, 0.5]
    t["m_b"][1] = np.nan  # invalid but cut (prob 0.9): never seen
    t["m_b"][5] = 99.0  # invalid and kept: dropped, reported as file row 5
    data = tmp_path / "data.csv"
    t.write(data)
    before = sha256(data)
    out = tmp_path / "post.nc"
    argv = ["infer", str(run_dir), str(data), "-o", str(out), "--num-samples", "4"]
    assert main([*argv, "--where", "prob < 0.5", "--drop-invalid"]) == 0
    stdout = capsys.readouterr().out
    assert "--where prob<0.5: 6 of 10 rows kept" in stdout  # row 3 (NaN) fails the cut
    report = json.loads((tmp_path / "post.dropped.json").read_text())
    assert [(d["row"], d["id"]) for d in report["dropped"]] == [(5, "sn005")]
    kept = [0, 2, 4, 7, 8]
    idata = az.from_netcdf(out)
    assert list(idata.observed_data["source_row"].values) == kept
    assert list(idata.observed_data["id"].values) == [t["id"][r] for r in kept]
    np.testing.assert_allclose(fake_sampler["data"][: len(kept), 6], np.asarray(t["m_b"])[kept])
    assert idata.attrs["where"] == "prob<0.5" and idata.attrs["n_file_rows"] == 10
    # Without --drop-invalid the kept invalid row is an error at its row in the file.
    assert main([*argv, "--where", "prob<0.5", "--where", "id!=sn000"]) == 2
    assert f"{data}: row 5, column 'm_b'" in capsys.readouterr().err
    assert sha256(data) == before


@pytest.mark.parametrize(
    "cut, message",
    [
        ("prob<<0.5", "expected COLUMN OP VALUE"),
        ("prob", "expected COLUMN OP VALUE"),
        ("prob < high", "< needs a number, got 'high'"),
        ("PROB<0.5", "no column 'PROB' in the file"),
        ("id<3", "the column holds text, not numbers"),
        ("prob>2", "no row passes --where prob>2.0"),
    ],
)
def test_bad_where_exits_2_naming_the_cut(tmp_path, run_dir, capsys, cut, message):
    t = valid_table(4)
    t["prob"] = [0.1, 0.2, 0.3, 0.4]
    data = tmp_path / "data.ecsv"
    t.write(data)
    assert (
        main(["infer", str(run_dir), str(data), "-o", str(tmp_path / "p.nc"), "--where", cut]) == 2
    )
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
