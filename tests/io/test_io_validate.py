"""Catalogue validation: every problem names file, row and column; --drop-invalid drops exactly
the bad rows; malformed tables (hypothesis) always end in a CatalogueError, never anything else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table
from hypothesis import given, settings
from hypothesis import strategies as st

from cigars.config import load_experiment
from cigars.io import CatalogueError, CatalogueLimits, validate_catalogue, write_drop_report

ROOT = Path(__file__).resolve().parents[2]
FILTERS = ("lsst2023-g", "lsst2023-r", "lsst2023-i")
BANDS = ("g", "r", "i")
LIMITS = CatalogueLimits(
    filters=FILTERS,
    n_max=12,
    z_spec_range=(0.02, 1.5),
    host_mag_max=(26.0, 26.0, 26.0),
    m_b_max=26.0,
)
ERRORS = [f"host_mag_err_{b}" for b in BANDS] + ["var_m_b", "var_x1", "var_c"]
MAGS = [f"host_mag_{b}" for b in BANDS] + ["m_b"]
VALUES = MAGS + ["x1", "c"]
REQUIRED = VALUES + ERRORS + ["z_spec"]


def valid_table(n: int, seed: int = 0) -> Table:
    """A catalogue that passes LIMITS: realistic magnitudes, positive errors, some spec-z."""
    rng = np.random.default_rng(seed)
    t = Table()
    t["id"] = np.arange(100, 100 + n)
    for b in BANDS:
        t[f"host_mag_{b}"] = rng.uniform(18.0, 24.0, n)
        t[f"host_mag_err_{b}"] = rng.uniform(0.01, 0.1, n)
    t["m_b"] = rng.uniform(18.0, 24.0, n)
    t["x1"] = rng.normal(0.0, 1.0, n)
    t["c"] = rng.normal(0.0, 0.1, n)
    for c in ("var_m_b", "var_x1", "var_c"):
        t[c] = rng.uniform(1e-4, 1e-2, n)
    t["z_spec"] = np.where(rng.uniform(size=n) < 0.5, rng.uniform(0.05, 1.2, n), np.nan)
    return t


# --- messages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "fragment"),
    [
        ("m_b", np.nan, "missing value (nan)"),
        ("x1", np.inf, "not finite (inf)"),
        ("z_spec", -np.inf, "not finite (-inf)"),
        ("var_c", 0.0, "variance must be positive (0)"),
        ("host_mag_err_r", -0.05, "error must be positive (-0.05)"),
        ("host_mag_g", -9.0, "outside the physical range [0, 40] mag (-9)"),
        ("m_b", 99.0, "outside the physical range [0, 40] mag (99)"),
        ("z_spec", 2.5, "outside the trained redshift range [0.0200, 1.5000] (2.5)"),
        ("z_spec", 0.005, "outside the trained redshift range"),
        ("z_spec", -0.1, "outside the physical range (0, 10] (-0.1)"),
        ("m_b", 26.5, "fainter than any SN the model's selection keeps"),
        ("host_mag_i", 27.0, "fainter than the model's host detection depth 26 mag"),
    ],
)
def test_each_row_problem_names_file_row_column_and_value(column, value, fragment):
    t = valid_table(6)
    t[column][4] = value
    with pytest.raises(CatalogueError) as info:
        validate_catalogue(t, LIMITS, source="obs.csv")
    message = str(info.value)
    assert message.startswith(f"obs.csv: row 4, column '{column}': ")
    assert fragment in message
    assert [(p.row, p.column) for p in info.value.problems] == [(4, column)]


def test_non_numeric_entry_and_duplicate_id():
    t = valid_table(5)
    t["x1"] = t["x1"].astype(str)
    t["x1"][2] = "abc"
    t["id"][3] = t["id"][1]
    with pytest.raises(CatalogueError) as info:
        validate_catalogue(t, LIMITS, source="obs.csv")
    msg = str(info.value)
    assert "obs.csv: row 2, column 'x1': not a number ('abc')" in msg
    assert "obs.csv: row 3, column 'id': duplicate ID (first in row 1) ('101')" in msg
    assert "2 problems in 2 rows (pass --drop-invalid" in msg


def test_mapped_columns_are_named_as_in_the_file():
    t = valid_table(3)
    t.meta["source_columns"] = {"var_m_b": "mBERR"}
    t["var_m_b"][0] = -1e-4
    with pytest.raises(CatalogueError, match=r"row 0, column 'mBERR' \(var_m_b\): variance"):
        validate_catalogue(t, LIMITS, source="x.dat")


def test_nan_z_spec_means_no_spectrum():
    t = valid_table(4)
    t["z_spec"] = np.nan
    assert len(validate_catalogue(t, LIMITS).table) == 4


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda t: t.remove_column("host_mag_r"), "missing column 'host_mag_r' (the model was"),
        (lambda t: t.remove_column("var_x1"), "missing column 'var_x1'"),
        (lambda t: t.remove_column("z_spec"), "missing column 'z_spec'"),
        (lambda t: t.rename_column("host_mag_i", "host_mag_y"), "band 'y' is not one of"),
        (lambda t: t.add_column(t["host_mag_g"], name="host_mag_u"), "band 'u' is not one of"),
        (lambda t: t.meta.update(filters=["decam2014-g"]), "filter 'decam2014-g' differs"),
        (lambda t: t.remove_rows(slice(None)), "the catalogue has no rows"),
    ],
)
@pytest.mark.parametrize("drop", [False, True])
def test_table_problems_are_errors_even_with_drop_invalid(edit, fragment, drop):
    t = valid_table(5)
    edit(t)
    with pytest.raises(CatalogueError, match="obs.fits: ") as info:
        validate_catalogue(t, LIMITS, source="obs.fits", drop_invalid=drop)
    assert fragment in str(info.value)


def test_more_rows_than_n_max():
    t = valid_table(LIMITS.n_max + 3)
    with pytest.raises(
        CatalogueError, match="15 objects, more than the model takes: simulator.survey.n_max = 12"
    ):
        validate_catalogue(t, LIMITS)
    # Dropping invalid rows can bring a survey under n_max; too many valid rows stays an error.
    t["m_b"][:3] = np.nan
    assert len(validate_catalogue(t, LIMITS, drop_invalid=True).table) == LIMITS.n_max
    t = valid_table(LIMITS.n_max + 1)
    with pytest.raises(CatalogueError, match="13 valid objects, more than"):
        validate_catalogue(t, LIMITS, drop_invalid=True)


def test_drop_invalid_report(tmp_path):
    import json

    t = valid_table(6)
    t["m_b"][1] = np.nan
    t["var_x1"][1] = 0.0
    t["host_mag_g"][4] = 99.0
    result = validate_catalogue(t, LIMITS, source="obs.csv", drop_invalid=True)
    assert result.dropped_rows == (1, 4)
    assert list(result.rows) == [0, 2, 3, 5]
    assert list(result.table["id"]) == [100, 102, 103, 105]
    report = json.loads(write_drop_report(tmp_path / "r.json", result, t).read_text())
    assert report["n_read"] == 6 and report["n_kept"] == 4 and report["n_dropped"] == 2
    assert [d["row"] for d in report["dropped"]] == [1, 4]
    assert [d["id"] for d in report["dropped"]] == ["101", "104"]
    assert {p["column"] for p in report["dropped"][0]["problems"]} == {"m_b", "var_x1"}
    assert report["dropped"][0]["problems"][0]["value"] == "nan"


def test_all_rows_invalid():
    t = valid_table(3)
    t["c"] = np.nan
    with pytest.raises(CatalogueError, match="no valid rows left of 3 read"):
        validate_catalogue(t, LIMITS, drop_invalid=True)


def test_long_problem_lists_are_truncated():
    t = valid_table(12)
    for c in ("m_b", "x1", "c"):
        t[c] = np.nan
    with pytest.raises(CatalogueError) as info:
        validate_catalogue(t, LIMITS)
    lines = str(info.value).splitlines()
    assert lines[0] == "catalogue: 36 problems in 12 rows (pass --drop-invalid to skip these rows)"
    assert lines[-1] == "... and 16 more problems"
    assert len(info.value.problems) == 36


# --- limits from an experiment --------------------------------------------------------------


def test_limits_from_quickstart(monkeypatch):
    monkeypatch.chdir(ROOT)
    exp = load_experiment(ROOT / "configs" / "quickstart.yaml")
    lim = CatalogueLimits.from_experiment(exp)
    assert lim.filters == tuple(exp.bands.filters) and lim.n_max == 1536
    # z_min/z_max of the hosts widened only by peculiar velocities, the dipole and sigma_z.
    lo, hi = lim.z_spec_range
    assert 0.013 < lo < 0.02 and 1.5 < hi < 1.52
    assert lim.host_mag_max == tuple(exp.simulator.survey.depths)
    # The faintest grid magnitude of the selection table where some redshift has p > 1e-6.
    with np.load(ROOT.parent / "shared/data/cigars-reference/detprob.npz") as table:
        seen = (table["p_det"] > 1e-6).any(axis=0)
        faintest = float(table["m"][seen].max())
    assert abs(lim.m_b_max - faintest) <= 0.1


def test_limits_from_logistic_selection():
    exp = load_experiment(ROOT / "configs" / "des-sn5yr.yaml")
    lim = CatalogueLimits.from_experiment(exp)
    # p = 1e-6 at m50 + w ln(1e6 - 1); m50 = 23.6 at every z, w = 0.25.
    expected = 23.6 + 0.25 * np.log(1e6 - 1)
    assert abs(lim.m_b_max - expected) <= 0.1
    assert lim.bands == ("g", "r", "i", "z")


def test_limits_skip_selection_that_cannot_be_built(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the quickstart's relative table path does not resolve here
    exp = load_experiment(ROOT / "configs" / "quickstart.yaml")
    assert CatalogueLimits.from_experiment(exp).m_b_max is None


# --- property tests -------------------------------------------------------------------------

ROW_FAULTS = (
    "nan",
    "inf",
    "neg_inf",
    "neg_err",
    "zero_err",
    "sentinel",
    "text",
    "z_high",
    "z_neg",
    "host_faint",
    "sn_faint",
    "dup_id",
)


@st.composite
def corrupted_tables(draw):
    """A valid table with 1-4 row faults; returns (table, rows that must be flagged)."""
    n = draw(st.integers(2, 10))
    t = valid_table(n, seed=draw(st.integers(0, 2**16)))
    for c in REQUIRED:
        if draw(st.booleans()):
            t[c] = t[c].astype(str)  # text columns must parse the same
    bad: set[int] = set()
    for _ in range(draw(st.integers(1, 4))):
        fault = draw(st.sampled_from(ROW_FAULTS))
        r = draw(st.integers(0, n - 1))
        if fault == "dup_id":
            other = draw(st.integers(0, n - 2))
            t["id"][r] = t["id"][other + (other >= r)]
            continue
        if fault in ("nan", "inf", "neg_inf"):
            col = draw(st.sampled_from(REQUIRED if fault != "nan" else REQUIRED[:-1]))
            value = {"nan": np.nan, "inf": np.inf, "neg_inf": -np.inf}[fault]
        elif fault in ("neg_err", "zero_err"):
            col = draw(st.sampled_from(ERRORS))
            value = -draw(st.floats(1e-6, 10.0)) if fault == "neg_err" else 0.0
        elif fault == "sentinel":
            col = draw(st.sampled_from(MAGS))
            value = draw(st.sampled_from([-999.0, -9.0, 99.0, 999.0]))
        elif fault == "text":
            col = draw(st.sampled_from(REQUIRED))
            value = draw(st.sampled_from(["abc", "--", "1.2.3", "N/A"]))
        elif fault in ("z_high", "z_neg"):
            col = "z_spec"
            value = draw(st.floats(1.6, 1e6)) if fault == "z_high" else -draw(st.floats(0, 5))
        elif fault == "host_faint":
            b = draw(st.sampled_from(BANDS))
            col = f"host_mag_{b}"
            try:  # an earlier fault may have made the error NaN, infinite or text
                err = float(t[f"host_mag_err_{b}"][r])
            except ValueError:
                err = np.nan
            value = 26.0 + 5 * err + draw(st.floats(0.01, 10.0)) if np.isfinite(err) else 30.0
        else:
            col = "m_b"
            value = draw(st.floats(26.01, 39.9))
        if isinstance(value, str) and t[col].dtype.kind != "U":
            t[col] = t[col].astype(str)
        if t[col].dtype.kind == "U" and not isinstance(value, str):
            value = repr(float(value))
        if t[col].dtype.kind == "U" and len(value) > t[col].dtype.itemsize // 4:
            t[col] = t[col].astype(f"U{len(value)}")
        t[col][r] = value
        bad.add(r)
    first: dict = {}
    for r, key in enumerate(str(x) for x in t["id"]):
        if key in first:
            bad.add(r)
        else:
            first[key] = r
    return t, bad


@settings(max_examples=150, deadline=None)
@given(corrupted_tables())
def test_malformed_rows_always_give_a_catalogue_error(case):
    table, bad = case
    with pytest.raises(CatalogueError) as info:
        validate_catalogue(table, LIMITS, source="obs.ecsv")
    flagged = {p.row for p in info.value.problems}
    assert flagged == bad
    message = str(info.value)
    for p in info.value.problems[:20]:
        assert f"obs.ecsv: row {p.row}, column '{p.column}': " in message


@settings(max_examples=150, deadline=None)
@given(corrupted_tables())
def test_drop_invalid_drops_exactly_the_bad_rows(case):
    table, bad = case
    n = len(table)
    if len(bad) == n:
        with pytest.raises(CatalogueError, match="no valid rows left"):
            validate_catalogue(table, LIMITS, drop_invalid=True)
        return
    result = validate_catalogue(table, LIMITS, drop_invalid=True)
    assert set(result.dropped_rows) == bad
    assert list(result.rows) == [r for r in range(n) if r not in bad]
    kept = result.table
    for c in REQUIRED:
        v = np.asarray(kept[c], dtype=np.float64)
        assert np.all(np.isfinite(v) | ((c == "z_spec") & np.isnan(v)))
    for c in ERRORS:
        assert np.all(np.asarray(kept[c], dtype=np.float64) > 0)
    # What passes validation gives finite estimator inputs (never a silent NaN posterior).
    assert validate_catalogue(kept, LIMITS).rows.size == len(kept)


TABLE_FAULTS = ("drop_column", "rename_band", "extra_band", "too_many", "empty", "filters")


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(TABLE_FAULTS), st.sampled_from(REQUIRED), st.booleans(), st.data())
def test_malformed_tables_always_give_a_catalogue_error(fault, column, drop, data):
    t = valid_table(data.draw(st.integers(1, LIMITS.n_max)))
    if fault == "drop_column":
        t.remove_column(column)
    elif fault == "rename_band":
        t.rename_column("host_mag_g", "host_mag_" + data.draw(st.sampled_from(["u", "z", "y"])))
    elif fault == "extra_band":
        t["host_mag_z"] = t["host_mag_g"]
        t["host_mag_err_z"] = t["host_mag_err_g"]
    elif fault == "too_many":
        t = valid_table(LIMITS.n_max + data.draw(st.integers(1, 20)))
    elif fault == "empty":
        t = t[:0]
    else:
        t.meta["filters"] = ["sdss2010-g", "lsst2023-r", "lsst2023-i"]
    with pytest.raises(CatalogueError, match=r"^obs\.fits: "):
        validate_catalogue(t, LIMITS, source="obs.fits", drop_invalid=drop)
