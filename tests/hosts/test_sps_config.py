"""Config classes of the SPS providers and bands: parsing, validation, build()."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from cigars._config import ConfigError, from_dict, to_dict
from cigars.hosts._filters import LSST_UGRIZY, Bands
from cigars.hosts._sps import SpeculatorSPS, SSPGridSPS
from cigars.hosts._sps_config import BandsConfig, SpeculatorSPSConfig, SPSConfig


def test_analytic_builds_with_custom_wave():
    cfg = from_dict(SPSConfig, {"type": "analytic", "wave": {"min": 1000.0, "max": 5000.0}})
    sps = cfg.build()
    assert isinstance(sps, SSPGridSPS) and sps.flux.dtype == jnp.float32
    assert float(sps.wave_edges[0]) == 1000.0 and float(sps.wave_edges[-1]) >= 5000.0
    assert to_dict(cfg)["type"] == "analytic"


def test_popstar_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("CIGARS_CACHE_DIR", str(tmp_path))
    cfg = from_dict(SPSConfig, {"type": "popstar"})
    assert cfg.imf == "cha" and cfg.nebular and cfg.wave.dlnlam == 0.002
    sps = cfg.build()
    assert sps.flux.shape[:2] == (6, 106)
    assert list(tmp_path.glob("ssp-popstar-*.npz"))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"type": "popstar", "imf": "xyz"}, "imf"),
        ({"type": "popstar", "wave": {"min": 5000.0, "max": 1000.0}}, "wave.min"),
        ({"type": "popstar", "wave": {"dlnlam": 0.0}}, "dlnlam"),
        ({"type": "speculator"}, "path"),
        ({"type": "speculator", "path": "x.npz", "n_sub": 4}, "n_sub"),
        ({"type": "fsps"}, "unknown sps type"),
        ({"type": "popstar", "precision": "float16"}, "precision"),
    ],
)
def test_invalid_configs(data, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(SPSConfig, data)


def test_float64_needs_x64():
    cfg = from_dict(SPSConfig, {"type": "analytic", "precision": "float64"})
    with pytest.raises(ValueError, match="jax_enable_x64"):
        cfg.build()


def test_speculator_builds(shared_file):
    npz = shared_file("cigars-reference/speculator_alpha.npz")
    cfg = from_dict(SPSConfig, {"type": "speculator", "path": str(npz)})
    assert isinstance(cfg, SpeculatorSPSConfig) and cfg.n_sub == 2
    sps = cfg.build()
    assert isinstance(sps, SpeculatorSPS) and len(sps.nets) == 2
    missing = from_dict(SPSConfig, {"type": "speculator", "path": "/nonexistent/x.npz"})
    with pytest.raises(ValueError, match="not found"):
        missing.build()


def test_bands_config():
    cfg = from_dict(BandsConfig, {})
    assert cfg.filters == LSST_UGRIZY
    bands = cfg.build()
    assert isinstance(bands, Bands) and bands.names == LSST_UGRIZY
    des = from_dict(BandsConfig, {"filters": ["decam2014-g", "decam2014-r"]}).build()
    assert des.names == ("decam2014-g", "decam2014-r") and np.all(np.isfinite(des.log_norm))


def test_unknown_filter_name_lists_valid_ones():
    with pytest.raises(ConfigError, match="unknown filter") as err:
        from_dict(BandsConfig, {"filters": ["lsst2023-u", "lsst-r"]})
    assert "lsst2023-r" in str(err.value) and "decam2014-g" in str(err.value)
