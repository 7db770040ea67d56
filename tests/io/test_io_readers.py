"""Catalogue readers: every format round-trips, column maps convert units, files stay untouched."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from cigars._config import ConfigError
from cigars.io import (
    CatalogueError,
    ColumnMap,
    load_column_map,
    read_catalogue,
    read_snana,
    shipped_column_maps,
)

LN10 = np.log(10.0)


def cigars_table(n: int = 5) -> Table:
    rng = np.random.default_rng(1)
    t = Table()
    t["id"] = np.arange(n)
    for b in "gri":
        t[f"host_mag_{b}"] = rng.uniform(18, 24, n)
        t[f"host_mag_err_{b}"] = rng.uniform(0.01, 0.1, n)
    t["m_b"] = rng.uniform(18, 24, n)
    t["x1"] = rng.normal(size=n)
    t["c"] = rng.normal(0, 0.1, n)
    for c in ("var_m_b", "var_x1", "var_c"):
        t[c] = rng.uniform(1e-4, 1e-2, n)
    t["z_spec"] = np.where(np.arange(n) % 2 == 0, rng.uniform(0.1, 1.0, n), np.nan)
    return t


def write_snana(path: Path, table: Table, *, plain: bool = False) -> None:
    """SNANA FITRES-style text (or a plain whitespace table) written independently of the reader."""
    lines = ["# a comment", "DOCUMENTATION:", "  NOTES: free text: here", "DOCUMENTATION_END:"]
    lines += [] if plain else ["NVAR: " + str(len(table.colnames))]
    lines.append(("" if plain else "VARNAMES: ") + " ".join(table.colnames))
    lines = lines[4:] if plain else lines
    for row in table:
        cells = [repr(float(v)) if isinstance(v, float | np.floating) else str(v) for v in row]
        lines.append(("" if plain else "SN: ") + " ".join(cells))
        if not plain:
            lines.append("")
    text = "\n".join(lines) + "\n"
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)


def write(path: Path, table: Table) -> Path:
    name = path.name.lower()
    if ".fitres" in name or ".txt" in name:
        write_snana(path, table)
    elif ".dat" in name:
        write_snana(path, table, plain=True)
    elif name.endswith(".gz"):
        inner = path.with_name(path.name[:-3])
        write(inner, table)
        path.write_bytes(gzip.compress(inner.read_bytes()))
        inner.unlink()
    else:
        fmt = {".csv": "ascii.csv", ".ecsv": "ascii.ecsv", ".fits": "fits"}[path.suffix]
        table.write(path, format=fmt)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


NAMES = [
    "cat.csv",
    "cat.csv.gz",
    "cat.ecsv",
    "cat.ecsv.gz",
    "cat.fits",
    "cat.fits.gz",
    "cat.FITRES",
    "cat.fitres.gz",
    "cat.txt",
    "cat.dat",
    "cat.dat.gz",
]


@pytest.mark.parametrize("name", NAMES)
def test_every_format_round_trips(tmp_path, name):
    table = cigars_table()
    path = write(tmp_path / name, table)
    before = sha256(path)
    back = read_catalogue(path)
    assert back.meta["source"] == str(path)
    assert len(back) == len(table)
    for c in table.colnames:
        np.testing.assert_allclose(np.asarray(back[c], float), table[c], rtol=1e-12)
    assert sha256(path) == before


def test_cigars_mock_keeps_its_filters(tmp_path):
    from cigars.io import write_mock

    path = tmp_path / "mock.fits"
    table = cigars_table()
    config = {"bands": {"filters": ["lsst2023-g", "lsst2023-r", "lsst2023-i"]}}
    write_mock(path, table, truth={}, config=config, provenance={}, band_names=("g", "r", "i"))
    back = read_catalogue(path)
    assert back.meta["filters"] == config["bands"]["filters"]
    np.testing.assert_allclose(back["m_b"], table["m_b"])


FOREIGN_MAP = """
name: foreign
id: SNID
x0: {column: x0, err: x0ERR}
x1: {column: x1, var: x1VAR}
c: {column: c, err: cERR}
cov_x1_c: COV_x1_c
cov_x0_x1: COV_x0_x1
z_spec: {column: zHEL, err: zHELERR, missing: [-9]}
host_mags:
  lsst2023-g: {mag: MAG_g, err: MAGERR_g, ab_offset: -0.1, missing: [99]}
  lsst2023-r: {mag: MAG_r, err: MAGERR_r, ab_offset: 0.2, missing: [99]}
host_mag_system: Vega
host_mag_err_floor: 0.03
keep: [FIELD]
"""


def foreign_table() -> Table:
    t = Table()
    t["SNID"] = ["a1", "b2", "c3", "d4"]
    t["x0"] = [1e-4, 2e-5, 3e-6, -1e-5]
    t["x0ERR"] = [1e-6, 2e-7, 3e-8, 1e-7]
    t["x1"] = [0.1, -0.5, 1.0, 0.0]
    t["x1VAR"] = [0.01, 0.04, 0.09, 0.01]
    t["c"] = [0.01, -0.02, 0.1, 0.0]
    t["cERR"] = [0.03, 0.02, 0.05, 0.03]
    t["COV_x1_c"] = [1e-4, -2e-4, 3e-4, 0.0]
    t["COV_x0_x1"] = [1e-8, 2e-9, -3e-10, 0.0]
    t["zHEL"] = [0.1, -9.0, 0.5, 0.3]
    t["zHELERR"] = [1e-4, -9.0, 1e-3, 1e-4]
    t["MAG_g"] = [21.0, 22.0, 99.0, 20.0]
    t["MAGERR_g"] = [0.0, 0.04, 99.0, 0.02]
    t["MAG_r"] = [20.5, 21.0, 23.0, 19.0]
    t["MAGERR_r"] = [0.01, -0.02, 0.1, 0.05]
    t["FIELD"] = ["X1", "C3", "X2", "E1"]
    return t


@pytest.mark.parametrize("name", ["f.csv", "f.ecsv.gz", "f.fits", "f.fitres", "f.dat.gz"])
def test_column_map_converts_units(tmp_path, name):
    raw = foreign_table()
    path = write(tmp_path / name, raw)
    map_path = tmp_path / "map.yaml"
    map_path.write_text(FOREIGN_MAP)
    t = read_catalogue(path, map_path)
    assert list(t["id"]) == list(raw["SNID"])
    x0, s0 = np.asarray(raw["x0"]), np.asarray(raw["x0ERR"])
    # SALT: m_B = -2.5 log10 x0 + 10.635, sigma_m = 2.5/ln10 sigma_x0/x0; x0 <= 0 gives no m_B.
    np.testing.assert_allclose(t["m_b"][:3], -2.5 * np.log10(x0[:3]) + 10.635, rtol=1e-12)
    assert np.isnan(t["m_b"][3])
    assert "x0 must be positive" in t.meta["row_notes"]["m_b"][3]
    np.testing.assert_allclose(t["var_m_b"][:3], (2.5 / LN10 * s0[:3] / x0[:3]) ** 2)
    np.testing.assert_allclose(t["var_x1"], raw["x1VAR"])
    np.testing.assert_allclose(t["var_c"], np.asarray(raw["cERR"]) ** 2)
    np.testing.assert_allclose(t["cov_x1_c"], raw["COV_x1_c"])
    np.testing.assert_allclose(t["cov_m_b_x1"][:3], -2.5 / (LN10 * x0[:3]) * raw["COV_x0_x1"][:3])
    # Missing-value markers become NaN (z_spec NaN = no spectrum), Vega -> AB offsets, the error
    # floor in quadrature, negative errors kept negative (so validation flags them).
    assert np.isnan(t["z_spec"][1]) and np.isnan(t["z_spec_err"][1])
    np.testing.assert_allclose(t["host_mag_g"], [20.9, 21.9, np.nan, 19.9])
    np.testing.assert_allclose(t["host_mag_r"], [20.7, 21.2, 23.2, 19.2])
    np.testing.assert_allclose(t["host_mag_err_g"][[0, 1, 3]], np.hypot([0, 0.04, 0.02], 0.03))
    assert t["host_mag_err_r"][1] == -0.02
    assert t.meta["filters"] == ["lsst2023-g", "lsst2023-r"]
    assert t.meta["source_columns"]["var_m_b"] == "x0ERR"
    assert list(t["FIELD"]) == list(raw["FIELD"])


def test_join_by_id(tmp_path):
    main = Table({"CID": [1, 2, 3], "x1": [0.0, 0.1, 0.2], "MWEBV": [0.0, 0.0, 0.0]})
    other = Table(
        {
            "SNID": np.array([b"3 ", b"1 ", b"9 "]),
            "MAG": [23.0, 21.0, 20.0],
            "ERR": [0.1, 0.2, 0.3],
            "MWEBV": [1.0, 1.0, 1.0],
        }
    )
    main.write(tmp_path / "main.csv")
    other.write(tmp_path / "head.fits.gz")
    text = """
join: {file: head.fits.gz, key: CID, other_key: SNID, prefix: "H."}
id: CID
x1: {column: x1}
host_mags: {sdss2010-u: {mag: H.MAG, err: H.ERR}}
"""
    (tmp_path / "map.yaml").write_text(text)
    t = read_catalogue(tmp_path / "main.csv", tmp_path / "map.yaml")
    np.testing.assert_allclose(t["host_mag_u"], [21.0, np.nan, 23.0])
    np.testing.assert_allclose(t["host_mag_err_u"], [0.2, np.nan, 0.1])
    assert t.meta["join"]["matched"] == 2 and t.meta["join"]["unmatched"] == 1
    # Without a prefix the shared column MWEBV is ambiguous.
    (tmp_path / "map.yaml").write_text(text.replace('prefix: "H."', 'prefix: ""'))
    with pytest.raises(CatalogueError, match="joined column 'MWEBV' is also in the main file"):
        read_catalogue(tmp_path / "main.csv", tmp_path / "map.yaml")
    other["SNID"][2] = b"1"
    other.write(tmp_path / "head.fits.gz", overwrite=True)
    (tmp_path / "map.yaml").write_text(text)
    with pytest.raises(CatalogueError, match=r"head.fits.gz: row 2, column 'SNID': duplicate join"):
        read_catalogue(tmp_path / "main.csv", tmp_path / "map.yaml")


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("m_b: {column: mB}\nbogus: 1\n", ["map.yaml: bogus", "unknown key 'bogus'"]),
        ("m_b: {colunm: mB}\n", ["map.yaml: m_b.colunm", "unknown key"]),
        ("join: {file: f, on: A, other_key: B}\n", ["join.True", "on/off/yes/no"]),
        ("x1: {column: x1, err: e, var: v}\n", ["map.yaml: x1", "not both"]),
        ("host_mags: {lsst2023-g: {mag: g, err: e}}\nhost_mag_system: Vega\n", ["ab_offset"]),
        ("host_mags: {g: {mag: g, err: e}}\n", ["speclite filter name"]),
        ("host_mag_system: ST\n", ["host_mag_system", "'AB'"]),
        ("host_mag_err_floor: -1\n", ["host_mag_err_floor", ">= 0.0"]),
        ("cov_x0_x1: C\n", ["need the 'x0' column"]),
        ("format: votable\n", ["format"]),
    ],
)
def test_bad_column_maps_name_file_and_key(tmp_path, text, fragments):
    path = tmp_path / "map.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_column_map(path)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_unknown_map_name_lists_the_shipped_ones():
    assert shipped_column_maps() == ("des-sn5yr", "pantheonplus")
    with pytest.raises(ConfigError, match="shipped maps: \\['des-sn5yr', 'pantheonplus'\\]"):
        load_column_map("pantheon")
    assert isinstance(load_column_map("des-sn5yr"), ColumnMap)


def test_map_naming_a_missing_column(tmp_path):
    path = write(tmp_path / "f.csv", foreign_table())
    with pytest.raises(CatalogueError, match=r"f.csv: column 'mB' named by the column map"):
        read_catalogue(path, ColumnMap(m_b=load_column_map("pantheonplus").m_b))


def test_unit_mismatch(tmp_path):
    t = foreign_table()
    t["MAG_g"].unit = "Jy"
    t.write(tmp_path / "f.ecsv")
    (tmp_path / "map.yaml").write_text(FOREIGN_MAP)
    with pytest.raises(CatalogueError, match=r"f.ecsv: column 'MAG_g': the file gives unit 'Jy'"):
        read_catalogue(tmp_path / "f.ecsv", tmp_path / "map.yaml")


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("a.fitres", "VARNAMES: A B\nSN: 1 2\nSN: 1 2 3\n", "line 3: 3 values for 2 columns"),
        ("a.fitres", "VARNAMES: A B\nVARNAMES: A B\n", "line 2: a second header"),
        ("a.fitres", "VARNAMES: A B\nXYZ 1 2\n", "line 2: expected a 'SN:' row"),
        ("a.fitres", "VARNAMES: A A\n", "column 'A' appears twice"),
        ("a.dat", "# only a comment\n", "no header"),
        ("a.dat", "A B\n1\n", "line 2: 1 values for 2 columns"),
        ("a.dat", b"\xff\xfe\x00garbage", "cannot read as a text table"),
        ("a.dat.gz", b"not gzip at all", "cannot read as a text table"),
        ("a.fits", b"SIMPLE  = nonsense", "cannot read as FITS"),
        ("a.csv", "a,b\n1,2,3\n", "cannot read as CSV"),
        ("a.ecsv", "# %ECSV 1.0\n# ---\n# broken: [\n", "cannot read as ECSV"),
        ("a.parquet", "x", "unknown catalogue format '.parquet'"),
    ],
)
def test_malformed_files_give_a_catalogue_error(tmp_path, name, content, fragment):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(CatalogueError) as info:
        read_catalogue(path)
    assert str(info.value).startswith(str(path))
    assert fragment in str(info.value)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="nope.csv: no such file"):
        read_catalogue("nope.csv")


def test_snana_types(tmp_path):
    path = tmp_path / "t.fitres"
    path.write_text("VARNAMES: CID IDSURVEY zHD\nSN: 2011fe 51 0.00122\nSN: 1246275 10 0.3\n")
    t = read_snana(path)
    assert t["CID"].dtype.kind == "U" and list(t["CID"]) == ["2011fe", "1246275"]
    assert t["IDSURVEY"].dtype.kind == "i" and t["zHD"].dtype.kind == "f"
