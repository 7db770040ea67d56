"""The named assemblies in simulators/ agree with the shipped configs."""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from cigars.config import load_experiment
from cigars.simulate import CIGARS_I_TRUTH, simulate, toy_host_table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulators.cigars_i import cigars_i, cigars_i_config  # noqa: E402


@pytest.mark.parametrize(("name", "counts"), [("cigars-i-1.6k", 1000.0), ("cigars-i-16k", 10000.0)])
def test_reference_configs_describe_the_cigars_i_assembly(name, counts, monkeypatch, shared_data):
    monkeypatch.chdir(ROOT)
    exp = load_experiment(ROOT / "configs" / f"{name}.yaml")
    assert exp.simulator == cigars_i_config(counts)
    assert exp.cosmology.type_name == "lambdacdm"


def test_cigars_i_simulates_the_same_survey_as_the_config(monkeypatch, shared_data):
    monkeypatch.chdir(ROOT)
    exp = load_experiment(ROOT / "configs" / "cigars-i-1.6k.yaml")
    hosts = toy_host_table(3000, seed=2)
    small = exp.simulator.replace(survey=exp.simulator.survey.replace(n_max=2048))
    a = small.build(hosts, exp.cosmology)
    b = cigars_i_config(1000.0).replace(survey=small.survey).build(hosts, exp.cosmology)
    key = jax.random.key(5)
    _, ca = simulate(a, key, CIGARS_I_TRUTH)
    _, cb = simulate(b, key, CIGARS_I_TRUTH)
    assert int(ca.n_detected) > 0
    np.testing.assert_array_equal(np.asarray(ca.mask), np.asarray(cb.mask))
    np.testing.assert_array_equal(np.asarray(ca.m_obs), np.asarray(cb.m_obs))
    assert cigars_i(hosts, counts=1000.0).n_max == 8192
