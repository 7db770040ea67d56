"""The reference implementation's released mocks read into the cigars catalogue layout."""

from pathlib import Path

import numpy as np
import pytest

from cigars.config import load_experiment
from cigars.experiment import catalogue_arrays
from cigars.io import read_reference_mock

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT.parent / "shared" / "data" / "cigars-reference"
pytestmark = pytest.mark.skipif(not REF.is_dir(), reason="../shared/data not present")


def test_reads_the_1p6k_mock_with_its_truths():
    table, truth = read_reference_mock(REF / "mock-1.6k.npz")
    assert len(table) == 1578  # the README's count of detected SNe
    assert truth["Om0"] == pytest.approx(0.3)
    assert truth["gamma_Z"] == pytest.approx(-0.1)
    assert truth["step_loc"] == pytest.approx(10.0)
    raw = np.load(REF / "mock-1.6k.npz")
    np.testing.assert_array_equal(table["host_mag_r"], raw["gmags_obs"][:, 2])
    np.testing.assert_array_equal(table["var_c"], raw["snobs"][:, 5])
    np.testing.assert_array_equal(table["true_z"], raw["z"])
    assert np.all(np.isnan(table["z_spec"]))


def test_maps_onto_the_reference_experiment_inputs():
    exp = load_experiment(ROOT / "configs" / "cigars-i-1.6k.yaml")
    table, _ = read_reference_mock(REF / "mock-1.6k.npz")
    data, context, mask = catalogue_arrays(table, exp, source="mock-1.6k")
    assert mask.sum() == 1578
    assert np.all(context[mask, 1] == 0)  # photometric only
    np.testing.assert_allclose(data[mask, 6], table["m_b"])
    np.testing.assert_allclose(data[mask, -1], np.log(0.01))


def test_refuses_a_file_that_is_not_a_reference_mock(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, snobs=np.zeros((3, 6)))
    with pytest.raises(ValueError, match="missing array 'gmags_obs'"):
        read_reference_mock(bad)


def test_read_catalogue_dispatches_npz_to_the_reference_reader():
    from cigars.io import read_catalogue

    table = read_catalogue(REF / "mock-1.6k.npz")
    assert len(table) == 1578
    # Labelled with the curves the reference used, so the configs made for its mocks accept it.
    for name in ("cigars-i-1.6k", "cigars-i-16k"):
        exp = load_experiment(ROOT / "configs" / f"{name}.yaml")
        assert table.meta["filters"] == list(exp.bands.filters)
