"""Re-weighting the bank: PhotometryRatio against the exact density ratio of Gaussian
populations, and `cigars reweight-bank` end to end on the quick-start model."""

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from cigars.cli import main
from cigars.hosts import PhotometryRatio, host_features

ROOT = Path(__file__).resolve().parents[2]

RNG = np.random.default_rng(11)


def _populations(n_data=4000, n_model=20000):
    """Features [z, m, c]: the data's hosts 0.5 mag fainter and 0.3 redder than the model's at
    each redshift, with other spreads, and another redshift distribution."""
    z_d = RNG.triangular(0.2, 0.5, 0.8, n_data)
    z_m = RNG.uniform(0.0, 1.0, n_model)
    data = np.column_stack(
        [z_d, RNG.normal(20 + 3 * z_d + 0.5, 0.5), RNG.normal(1 + z_d + 0.3, 0.2)]
    )
    model = np.column_stack([z_m, RNG.normal(20 + 3 * z_m, 0.6), RNG.normal(1 + z_m, 0.25)])
    return data, model


def _exact(x):
    """log p_data(m, c | z) - log p_model(m, c | z)."""
    z, m, c = x.T
    return (
        stats.norm.logpdf(m, 20 + 3 * z + 0.5, 0.5)
        - stats.norm.logpdf(m, 20 + 3 * z, 0.6)
        + stats.norm.logpdf(c, 1 + z + 0.3, 0.2)
        - stats.norm.logpdf(c, 1 + z, 0.25)
    )


@pytest.fixture(scope="module")
def fitted():
    data, model = _populations()
    return PhotometryRatio.fit(data, model, degree=2), data, model


def test_log_ratio_is_the_exact_one_where_the_data_have_hosts(fitted):
    """At the data's hosts (where the weights matter); where the data have almost no hosts
    (exact ratio below ~1/20) a few thousand of them cannot resolve how small it is."""
    ratio, data, model = fitted
    x = data[(data[:, 0] > 0.25) & (data[:, 0] < 0.75)]
    err = ratio.log_ratio(x) - _exact(x)
    assert np.sqrt(np.mean(err**2)) < 0.15
    # The exact ratio has no constant left to fit: the normalisation is right too.
    assert abs(np.mean(err)) < 0.06


def test_reweighted_model_has_the_data_photometry_and_its_own_redshifts(fitted):
    ratio, data, model = fitted
    inside = (model[:, 0] >= ratio.z_range[0]) & (model[:, 0] <= ratio.z_range[1])
    x, w = model[inside], np.exp(ratio.log_ratio(model[inside]))
    resid = x[:, 1:] - np.column_stack([20 + 3 * x[:, 0], 1 + x[:, 0]])
    mean = np.average(resid, axis=0, weights=w)
    sd = np.sqrt(np.average((resid - mean) ** 2, axis=0, weights=w))
    np.testing.assert_allclose(mean, [0.5, 0.3], atol=0.03)
    np.testing.assert_allclose(sd, [0.5, 0.2], atol=0.03)
    # The weights average to 1 in every redshift slice: the model keeps its n(z), not the data's
    # triangular one.
    edges = np.linspace(*ratio.z_range, 7)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        s = (x[:, 0] >= lo) & (x[:, 0] < hi)
        assert abs(w[s].mean() - 1.0) < 0.1, (lo, hi, w[s].mean())
    # Outside the data's redshifts the data say nothing: weight 1.
    outside = model[~inside]
    assert outside.size and np.all(ratio.log_ratio(outside) == 0.0)


def test_same_photometry_other_redshifts_gives_no_weights():
    """Only the redshift distributions differ: the ratio at fixed z is 1."""
    z_d, z_m = RNG.triangular(0.2, 0.3, 0.9, 3000), RNG.uniform(0, 1, 15000)
    data = np.column_stack([z_d, RNG.normal(20 + 3 * z_d, 0.5)])
    model = np.column_stack([z_m, RNG.normal(20 + 3 * z_m, 0.5)])
    ratio = PhotometryRatio.fit(data, model)
    inside = (model[:, 0] > 0.25) & (model[:, 0] < 0.85)
    assert np.sqrt(np.mean(ratio.log_ratio(model[inside]) ** 2)) < 0.1


def test_host_features():
    mag = np.array([[22.0, 21.0, 20.5], [20.0, 20.0, 20.0]])
    np.testing.assert_allclose(
        host_features(mag, np.array([0.3, 0.5])),
        [[0.3, 63.5 / 3, 1.0, 0.5], [0.5, 20.0, 0.0, 0.0]],
    )
    with pytest.raises(ValueError, match="host_features"):
        host_features(mag[:, :1], np.array([0.3, 0.5]))


def test_bad_input_is_named():
    data, model = _populations(400, 2000)
    with pytest.raises(ValueError, match="same feature columns"):
        PhotometryRatio.fit(data, model[:, :2])
    bad = data.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="data has non-finite"):
        PhotometryRatio.fit(bad, model)
    with pytest.raises(ValueError, match="too few"):
        PhotometryRatio.fit(data[:100], model)
    with pytest.raises(ValueError, match="simulate more surveys"):
        PhotometryRatio.fit(data, model[model[:, 0] < 0.4])
    with pytest.raises(ValueError, match="max_weight"):
        PhotometryRatio.fit(data, model, max_weight=1.0)
    with pytest.raises(ValueError, match="degree"):
        PhotometryRatio.fit(data, model, degree=0)


@pytest.mark.long
def test_reweight_bank_moves_the_simulated_hosts_to_the_data(tmp_path, capsys, monkeypatch):
    """`cigars reweight-bank`: "data" = SN hosts of mocks kept with a probability that rises with
    their faintness at their redshift (a re-selection inside the model's support); surveys
    simulated with the weighted bank have the data's median host magnitude, and the model's
    redshifts."""
    from astropy.table import Table, vstack

    from cigars.config import load_experiment
    from cigars.experiment import reweight_bank
    from cigars.hosts import load_bank
    from cigars.io._mock import read_mock

    monkeypatch.chdir(ROOT)
    config = ROOT / "configs" / "quickstart.yaml"
    bank = tmp_path / "bank.h5"
    assert main(["bank", str(config), "-o", str(bank), "--n", "20000", "--quiet"]) == 0
    parts = []
    for seed in (1, 2, 3, 4, 5):
        mock = tmp_path / f"mock{seed}.fits"
        argv = ["simulate", str(config), "--bank", str(bank), "-o", str(mock)]
        assert main([*argv, "--seed", str(seed)]) == 0
        parts.append(read_mock(mock)[0])
    data = vstack(parts)
    mean_mag = np.mean([np.asarray(data[f"host_mag_{b}"]) for b in "ugrizy"], axis=0)
    z = np.asarray(data["true_z_hel"])
    trend = np.polyval(np.polyfit(z, mean_mag, 2), z)
    keep = np.random.default_rng(0).uniform(size=len(data)) < 1 / (
        1 + np.exp(-2.0 * (mean_mag - trend))
    )
    data = data[keep]
    data["z_spec"] = data["true_z_hel"]
    data["id"] = np.arange(len(data))
    path = tmp_path / "data.ecsv"
    data.write(path)
    before = bank.read_bytes()

    out = reweight_bank(
        load_experiment(config), bank, path, tmp_path / "w.h5", n_surveys=16, progress=False
    )
    m = out["medians"]
    assert m["mean_mag"]["data"] - m["mean_mag"]["model"] > 0.3
    # Fresh surveys with the new weights (not the classifier's own weighting of its inputs).
    new = out["new_medians"]
    assert abs(new["mean_mag"] - m["mean_mag"]["data"]) < 0.15, (m, new)
    assert abs(new["z"] - m["z"]["model"]) < 0.03, (m, new)
    assert load_bank(tmp_path / "w.h5").ln_weight.shape == (20000,)
    assert bank.read_bytes() == before

    argv = ["reweight-bank", str(config), str(path), "--bank", str(bank)]
    argv += ["-o", str(tmp_path / "w.h5"), "--n-surveys", "4", "--quiet"]
    assert main(argv) == 2  # the output exists
    assert "exists" in capsys.readouterr().err
    png = tmp_path / "hosts.png"
    assert main([*argv, "--overwrite", "--figure", str(png)]) == 0
    text = capsys.readouterr().out
    assert "weighted bank written" in text and "simulator.survey.counts" in text
    assert png.stat().st_size > 10_000
    assert len(Table.read(path)) == len(data)  # the data file is untouched
