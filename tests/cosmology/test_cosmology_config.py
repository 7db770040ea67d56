"""Config parsing, validation and build() of the cosmology component kind."""

from __future__ import annotations

import dataclasses

import pytest

from cigars import cosmology as cc
from cigars._config import ConfigError, from_dict, to_dict


def test_default_is_the_cigars_reference_lambdacdm():
    cfg = from_dict(cc.CosmologyConfig, {"type": "lambdacdm"})
    assert isinstance(cfg, cc.LambdaCDMConfig)
    assert (cfg.H0, cfg.Om0, cfg.Ode0, cfg.Tcmb0, cfg.Neff) == (70.0, 0.3, 0.7, 0.0, 3.046)
    cosmo = cfg.build()
    assert isinstance(cosmo, cc.Cosmology)
    assert cosmo == cc.Cosmology(H0=70.0, Om0=0.3, Ode0=0.7, w0=-1.0, wa=0.0, Tcmb0=0.0, Neff=3.046)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"type": "flat_lambdacdm", "Om0": 0.25}, cc.Cosmology(Om0=0.25, Ode0=None)),
        (
            {"type": "w0wacdm", "Ode0": 0.6, "w0": -0.9, "wa": 0.3, "Tcmb0": 2.7},
            cc.Cosmology(Ode0=0.6, w0=-0.9, wa=0.3, Tcmb0=2.7),
        ),
        (
            {"type": "flat_w0wacdm", "H0": 67, "w0": -1.1, "wa": -0.5, "Neff": 3},
            cc.Cosmology(H0=67.0, w0=-1.1, wa=-0.5, Neff=3.0),
        ),
    ],
)
def test_parse_and_build(data, expected):
    cfg = from_dict(cc.CosmologyConfig, data)
    assert cfg.build() == expected
    assert from_dict(cc.CosmologyConfig, to_dict(cfg)) == cfg  # round trip


def test_registry_names():
    assert set(cc.CosmologyConfig.registry) == {
        "lambdacdm",
        "flat_lambdacdm",
        "w0wacdm",
        "flat_w0wacdm",
    }
    flat_fields = {f.name for f in dataclasses.fields(cc.FlatLambdaCDMConfig)}
    assert "Ode0" not in flat_fields


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [
        ({"type": "lambdacdm", "H0": 0.0}, "H0", "> 0.0"),
        ({"type": "lambdacdm", "Om0": -0.1}, "Om0", ">= 0.0"),
        ({"type": "lambdacdm", "Om0": 2.5}, "Om0", "<= 2.0"),
        ({"type": "lambdacdm", "Tcmb0": -1.0}, "Tcmb0", ">= 0.0"),
        ({"type": "flat_lambdacdm", "Ode0": 0.7}, "Ode0", "unknown key"),
        ({"type": "lambdacdm", "w0": -0.9}, "w0", "unknown key"),
        ({"type": "w0wacdm", "w0": "minus one"}, "w0", "expected a number"),
        ({"type": "wcdm"}, "type", "unknown cosmology type"),
    ],
)
def test_bad_values_name_the_key(data, key, message):
    with pytest.raises(ConfigError, match=message) as err:
        from_dict(cc.CosmologyConfig, data, file="exp.yaml", prefix="cosmology")
    assert err.value.key == f"cosmology.{key}"
    assert "exp.yaml" in str(err.value)


def test_no_expansion_history_is_rejected():
    # Om0 = 0, Ode0 = 2.5: E^2 = 2.5 - 1.5 (1+z)^2 turns negative at z ~ 0.29 (a bounce).
    with pytest.raises(ConfigError, match=r"E\(z\)\^2 .* <= 0 at z = 0.3"):
        from_dict(cc.CosmologyConfig, {"type": "lambdacdm", "Om0": 0.0, "Ode0": 2.5})
    with pytest.raises(ConfigError, match="no expansion history"):
        cc.LambdaCDMConfig(Om0=0.0, Ode0=2.5).replace()


def test_configs_are_frozen():
    cfg = cc.LambdaCDMConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.Om0 = 0.5
