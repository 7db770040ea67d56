"""The shipped column maps read the real Pantheon+ and DES-SN5YR files (../shared/data)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from cigars.config import load_experiment
from cigars.io import CatalogueError, parse_cuts, read_catalogue, validate_catalogue

ROOT = Path(__file__).resolve().parents[2]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def pantheon(shared_data):
    return shared_data / "pantheonplus" / "Pantheon+SH0ES.dat"


@pytest.fixture
def des(shared_data):
    return shared_data / "des-sn5yr" / "DES-SN5YR_HD+MetaData.csv"


def test_pantheonplus(pantheon):
    before = sha256(pantheon)
    t = read_catalogue(pantheon, "pantheonplus")
    raw = Table.read(pantheon, format="ascii.basic")  # astropy's own reader as the oracle
    assert len(t) == len(raw) == 1701  # README: 1701 light curves
    assert list(t["id"]) == [str(c) for c in raw["CID"]]
    np.testing.assert_array_equal(t["m_b"], raw["mB"])
    np.testing.assert_allclose(t["var_m_b"], np.asarray(raw["mBERR"]) ** 2)
    np.testing.assert_array_equal(t["z_spec"], raw["zHEL"])
    np.testing.assert_array_equal(t["z_hd"], raw["zHD"])
    # The release's own x0 agrees with mB through m_B = -2.5 log10 x0 + 10.635 (SALT2, SNANA).
    m_from_x0 = -2.5 * np.log10(np.asarray(raw["x0"], float)) + 10.635
    assert np.max(np.abs(m_from_x0 - raw["mB"])) < 1e-3
    # cov(m_B, x1) from COV_x1_x0 with dm/dx0 = -2.5/(ln10 x0).
    expect = -2.5 / (np.log(10) * np.asarray(raw["x0"])) * np.asarray(raw["COV_x1_x0"])
    np.testing.assert_allclose(t["cov_m_b_x1"], expect)
    # Host-mass markers -9, 0 and 99 are missing values.
    mass = np.asarray(raw["HOST_LOGMASS"], float)
    assert np.array_equal(np.isnan(t["host_logmass"]), np.isin(mass, [-9, 0, 99]))
    assert sha256(pantheon) == before


def test_pantheonplus_cannot_feed_a_host_photometry_model(pantheon, monkeypatch):
    monkeypatch.chdir(ROOT)
    exp = load_experiment(ROOT / "configs" / "quickstart.yaml")
    t = read_catalogue(pantheon, "pantheonplus")
    for drop in (False, True):
        with pytest.raises(
            CatalogueError, match=r"Pantheon\+SH0ES.dat: missing column 'host_mag_u'"
        ):
            validate_catalogue(t, exp, drop_invalid=drop)
    # The same SN observed by several surveys shares a CID: 1701 rows, 1543 distinct CIDs.
    assert len(set(t["id"])) == 1543


def test_des_sn5yr(des):
    head = des.parent / "DES-SN5YR_DES_HEAD.FITS.gz"
    before = (sha256(des), sha256(head))
    t = read_catalogue(des, "des-sn5yr")
    raw = Table.read(des, format="ascii.csv")
    assert len(t) == len(raw) == 1829  # README: 1635 DES + 194 low-z
    assert t.meta["join"]["matched"] == 1635 and t.meta["join"]["unmatched"] == 194
    is_des = np.asarray(t["IDSURVEY"]) == 10
    assert is_des.sum() == 1635
    mags = np.stack([t[f"host_mag_{b}"] for b in "griz"], axis=1)
    # README: 1623 of the 1635 DES SNe have valid griz host magnitudes; low-z ones have none.
    assert np.isfinite(mags).all(axis=1).sum() == 1623
    assert not np.isfinite(mags[~is_des]).any()
    assert 22.0 < np.median(t["host_mag_r"][np.isfinite(t["host_mag_r"])]) < 22.6
    # The 0.02 mag floor in quadrature lifts the errors rounded to 0.
    err = np.stack([t[f"host_mag_err_{b}"] for b in "griz"])
    assert np.nanmin(err) == pytest.approx(0.02)
    np.testing.assert_allclose(t["m_b"], raw["mB"], atol=2e-4)  # from x0, vs the release's mB
    assert sha256(des) == before[0] and sha256(head) == before[1]


def test_des_sn5yr_against_its_experiment(des, tmp_path):
    exp = load_experiment(ROOT / "configs" / "des-sn5yr.yaml")
    t = read_catalogue(des, "des-sn5yr")
    with pytest.raises(CatalogueError, match="pass --drop-invalid"):
        validate_catalogue(t, exp)
    result = validate_catalogue(t, exp, drop_invalid=True)
    dropped = set(result.dropped_rows)
    # Every low-z SN lacks DES host photometry and is dropped; every kept row is a DES SN with
    # four finite host magnitudes inside the experiment's host depths.
    low_z = set(np.flatnonzero(np.asarray(t["IDSURVEY"]) != 10))
    assert low_z <= dropped
    kept = result.table
    assert np.all(np.asarray(kept["IDSURVEY"]) == 10)
    for b, depth in zip("griz", exp.simulator.survey.depths, strict=True):
        m = np.asarray(kept[f"host_mag_{b}"])
        assert np.all(m <= depth + 5 * np.asarray(kept[f"host_mag_err_{b}"]))
    assert len(kept) + len(dropped) == 1829
    # Regression pin (our own count, 2026-11): 299 rows dropped, 1530 kept.
    assert len(dropped) == 299


def test_des_sn5yr_where(des):
    """--where cuts on the release's own columns: the photometric classification and survey."""
    cuts = parse_cuts(["PROBCC_BEAMS<0.5", "IDSURVEY==10"])
    t = read_catalogue(des, "des-sn5yr", where=cuts)
    raw = Table.read(des, format="ascii.csv")  # astropy's own reader as the oracle
    keep = (np.asarray(raw["PROBCC_BEAMS"]) < 0.5) & (np.asarray(raw["IDSURVEY"]) == 10)
    assert 1000 < keep.sum() < 1635
    np.testing.assert_array_equal(t.meta["file_rows"], np.flatnonzero(keep))
    assert list(t["id"]) == [str(c) for c in raw["CID"][keep]]
    np.testing.assert_array_equal(t["IDSURVEY"], 10)
    assert t.meta["join"]["matched"] == 1635  # the join saw every row; the cut came after it
    # The library takes the cuts' text as well (one text or several).
    same = read_catalogue(des, "des-sn5yr", where=["PROBCC_BEAMS<0.5", "IDSURVEY==10"])
    np.testing.assert_array_equal(same.meta["file_rows"], t.meta["file_rows"])
    one = read_catalogue(des, "des-sn5yr", where="IDSURVEY==10")
    assert len(one) == np.count_nonzero(np.asarray(raw["IDSURVEY"]) == 10)
