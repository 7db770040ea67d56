"""Selection tables, noise/selection configs, the Catalogue and the HostTable protocol."""

from pathlib import Path
from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
import pytest

from cigars._config import ConfigError, from_dict
from cigars.survey import (
    BANK_FIELDS,
    Catalogue,
    DepthHostNoise,
    FixedHostNoise,
    HostNoiseConfig,
    HostTable,
    LogisticSelection,
    LSSTSurveyConfig,
    SelectionConfig,
    SpectroscopyConfig,
    SurveyConfig,
    TableSelection,
)

_ROOT = Path(__file__).resolve().parents[2]
DETPROB = next(
    (
        p
        for p in (
            _ROOT / "shared/data/cigars-reference/detprob.npz",
            _ROOT / "data/cigars-reference/detprob.npz",
            _ROOT.parent / "shared/data/cigars-reference/detprob.npz",
        )
        if p.is_file()
    ),
    Path("detprob.npz"),
)
needs_table = pytest.mark.skipif(not DETPROB.is_file(), reason="reference detprob.npz missing")


def small_table():
    z = np.array([0.0, 0.5, 1.0])
    m = np.array([20.0, 21.0, 22.0, 23.0])
    p = np.array([[1.0, 0.9, 0.5, 0.1], [1.0, 0.8, 0.3, 0.0], [0.9, 0.5, 0.1, 0.0]])
    return z, m, p


def test_table_selection_bilinear_and_clamped():
    z, m, p = small_table()
    sel = TableSelection.from_arrays(z, m, p)
    zz, mm = np.meshgrid(z, m, indexing="ij")
    np.testing.assert_allclose(np.asarray(sel.detection_probability(zz, mm)), p, atol=1e-7)
    # cell centre: mean of the four corners; edge midpoint: mean of two
    got = float(sel.detection_probability(0.25, 21.5))
    assert got == pytest.approx(np.mean([0.9, 0.5, 0.8, 0.3]), abs=1e-6)
    assert float(sel.detection_probability(0.5, 22.25)) == pytest.approx(0.75 * 0.3, abs=1e-6)
    # clamping: outside the grid take the nearest edge value
    assert float(sel.detection_probability(-0.3, 10.0)) == pytest.approx(1.0)
    assert float(sel.detection_probability(2.0, 30.0)) == pytest.approx(0.0)
    assert float(sel.detection_probability(1.7, 21.0)) == pytest.approx(0.5)


def test_table_selection_validates():
    z, m, p = small_table()
    with pytest.raises(ValueError, match="shape"):
        TableSelection.from_arrays(z, m, p.T)
    with pytest.raises(ValueError, match="increasing"):
        TableSelection.from_arrays(z[::-1], m, p)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        TableSelection.from_arrays(z, m, p + 0.5)
    with pytest.raises(ValueError, match="not found"):
        TableSelection.from_npz("/nonexistent/detprob.npz")


@needs_table
def test_reference_table_edges_and_contours():
    sel = TableSelection.from_npz(DETPROB)
    assert sel.p.shape == (150, 140)
    z = np.linspace(0.0, 1.6, 17)
    assert np.allclose(np.asarray(sel.detection_probability(z, 11.0)), 1.0)  # brighter: 1
    assert np.all(np.asarray(sel.detection_probability(z, 27.0)) < 1e-6)  # fainter: ~0
    # MODEL.md section 6 contour: 50% completeness near m = 23.75 at z = 0.5
    m = np.linspace(22.0, 26.0, 4001)
    p = np.asarray(sel.detection_probability(np.full_like(m, 0.5), m))
    assert abs(m[np.argmin(np.abs(p - 0.5))] - 23.8) < 0.1


@needs_table
def test_logistic_default_approximates_reference_table():
    table = TableSelection.from_npz(DETPROB)
    logi = LogisticSelection()
    zz, mm = np.meshgrid(np.linspace(0.02, 1.4, 40), np.linspace(18, 26, 80), indexing="ij")
    diff = np.asarray(table.detection_probability(zz, mm) - logi.detection_probability(zz, mm))
    assert np.sqrt(np.mean(diff**2)) < 0.03
    assert float(logi.detection_probability(0.4, logi.threshold(0.4))) == pytest.approx(0.5)


def test_selection_and_noise_configs():
    sel = from_dict(SelectionConfig, {"type": "logistic", "a": 24.0, "width": 0.3}).build()
    assert isinstance(sel, LogisticSelection) and sel.a == 24.0 and sel.width == 0.3
    if DETPROB.is_file():
        sel = from_dict(SelectionConfig, {"type": "table", "path": str(DETPROB)}).build()
        assert isinstance(sel, TableSelection)
    with pytest.raises(ConfigError, match="path"):
        from_dict(SelectionConfig, {"type": "table"})
    noise = from_dict(HostNoiseConfig, {"type": "depth", "floor": 0.02}).build()
    assert isinstance(noise, DepthHostNoise) and noise.floor == 0.02 and len(noise.depths) == 6
    assert isinstance(from_dict(HostNoiseConfig, {"type": "fixed"}).build(), FixedHostNoise)
    with pytest.raises(ConfigError, match="sigma_mag"):
        from_dict(HostNoiseConfig, {"type": "fixed", "sigma_mag": 0})
    spec = from_dict(SpectroscopyConfig, {"type": "mag_limit", "m_lim": 21.5})
    assert spec.build().m_lim == 21.5 and spec.sigma_z == 1e-4
    with pytest.raises(ConfigError, match="fraction"):
        from_dict(SpectroscopyConfig, {"type": "fraction"})
    survey = from_dict(SurveyConfig, {"type": "lsst", "n_max": 1000})
    assert isinstance(survey, LSSTSurveyConfig) and survey.sigma_v_kms == 300.0
    with pytest.raises(ConfigError, match="n_max"):
        from_dict(SurveyConfig, {"type": "lsst"})
    with pytest.raises(ConfigError, match="unknown key 'cosmology'"):
        # The model comes from the experiment's cosmology section, not the survey.
        from_dict(SurveyConfig, {"type": "lsst", "n_max": 10, "cosmology": "w0wacdm"})
    with pytest.raises(ConfigError, match="unknown key 'sigmav'"):
        from_dict(SurveyConfig, {"type": "lsst", "n_max": 10, "sigmav": 1.0})


def test_catalogue_empty_and_to_numpy():
    cat = Catalogue.empty(5, 3)
    assert cat.n_slots == 5 and cat.host_mag.shape == (5, 3) and cat.mask.dtype == jnp.bool_
    assert int(cat.n_detected) == 0
    cat = cat.replace(
        mask=jnp.array([True, False, True, False, False]),
        has_spec=jnp.array([True, False, False, False, False]),
        z_spec=jnp.arange(5.0),
        m_obs=jnp.arange(5.0) + 20,
    )
    rows = cat.to_numpy(("m_obs", "z_spec", "host_mag"))
    np.testing.assert_array_equal(rows["m_obs"], [20.0, 22.0])
    np.testing.assert_array_equal(rows["z_spec"], [0.0, np.nan])
    assert rows["host_mag"].shape == (2, 3)
    with pytest.raises(ValueError, match="unknown field"):
        cat.to_numpy(("colour",))
    with pytest.raises(ValueError, match="positive int"):
        Catalogue.empty(0, 3)


def fake_bank(n=4, nested=False):
    rng = np.random.default_rng(0)
    cols = {
        "z": rng.uniform(0.1, 1, n),
        "logmass": rng.uniform(9, 11, n),
        "logzsol": rng.uniform(-1, 0, n),
        "dust2": rng.uniform(0, 1, n),
        "dust_index": rng.uniform(-0.5, 0, n),
        "dust_ratio": rng.uniform(0.5, 1.5, n),
        "log_age_edges": np.tile(np.arange(8.0), (n, 1)),
        "bin_logmass": rng.uniform(7, 9, (n, 7)),
        "abs_mag": rng.uniform(-20, -18, (n, 6)),
    }
    if nested:
        params = SimpleNamespace(**{k: cols.pop(k) for k in ("z", "logmass", "logzsol", "dust2")})
        return SimpleNamespace(params=params, **cols)
    return SimpleNamespace(**cols)


@pytest.mark.parametrize("nested", [False, True])
def test_host_table_from_bank(nested):
    table = HostTable.from_bank(fake_bank(nested=nested))
    assert table.n_host == 4 and table.n_bin == 7 and table.n_band == 6
    assert table.ln_weight is None
    assert set(BANK_FIELDS) <= set(vars(table))


def test_host_table_reads_the_hosts_bank_layout():
    hosts_mod = pytest.importorskip("cigars.hosts")
    src = fake_bank()
    n = len(src.z)
    params = hosts_mod.HostParams(
        z=src.z,
        logmass=src.logmass,
        logzsol=src.logzsol,
        logsfr_ratios=np.zeros((n, 6)),
        dust2=src.dust2,
        dust_index=src.dust_index,
        dust_ratio=src.dust_ratio,
        gas_logz=np.zeros(n),
        ln_fagn=np.zeros(n),
        ln_agn_tau=np.zeros(n),
    )
    bank = hosts_mod.Bank(
        hosts=params,
        sfh_log_age_edges=src.log_age_edges,
        sfh_log_mass=src.bin_logmass,
        abs_mag=src.abs_mag,
        logmass_surviving=None,
        band_names=tuple("ugrizy"),
    )
    table = HostTable.from_bank(bank)
    np.testing.assert_allclose(np.asarray(table.bin_logmass), src.bin_logmass, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(table.dust_ratio), src.dust_ratio, rtol=1e-6)


def test_host_table_rejects_bad_banks():
    bank = fake_bank()
    del bank.dust2
    with pytest.raises(ValueError, match="dust2"):
        HostTable.from_bank(bank)
    bank = fake_bank()
    bank.log_age_edges = bank.log_age_edges[:, :7]
    with pytest.raises(ValueError, match="n_bin \\+ 1"):
        HostTable.from_bank(bank)
    bank = fake_bank()
    bank.z = bank.z.copy()
    bank.z[1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        HostTable.from_bank(bank)
    bank = fake_bank()
    bank.log_age_edges = bank.log_age_edges[:, ::-1]
    with pytest.raises(ValueError, match="increase"):
        HostTable.from_bank(bank)
