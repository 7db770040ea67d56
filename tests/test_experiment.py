"""Experiment assembly: the cosmology section drives the simulator and the truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from cigars.config import Experiment, from_dict, load_experiment
from cigars.experiment import experiment_truth
from cigars.simulate import toy_host_table
from cigars.survey import ComputeDistances

ROOT = Path(__file__).resolve().parents[1]


def _experiment(cosmology):
    return from_dict(
        Experiment,
        {
            "cosmology": cosmology,
            "simulator": {
                "survey": {"type": "lsst", "n_max": 64},
                "selection": {"type": "logistic"},
            },
        },
    )


@pytest.mark.parametrize("model", ["lambdacdm", "flat_lambdacdm", "w0wacdm", "flat_w0wacdm"])
def test_cosmology_section_sets_the_simulated_model(model):
    exp = _experiment({"type": model, "Om0": 0.25})
    sim = exp.simulator.build(toy_host_table(200, seed=1), exp.cosmology)
    (distances,) = [s for s in sim.stages if isinstance(s, ComputeDistances)]
    assert distances.model == model
    assert experiment_truth(exp).Om0 == pytest.approx(0.25)


def test_truth_section_and_overrides_take_precedence():
    exp = from_dict(
        Experiment,
        {"cosmology": {"type": "lambdacdm", "Om0": 0.25}, "truth": {"values": {"Om0": 0.35}}},
    )
    assert experiment_truth(exp).Om0 == pytest.approx(0.35)
    theta = experiment_truth(exp, {"gamma_M_logzsol": -0.2, "M0": -19.3})
    assert theta.gamma_Z == pytest.approx(-0.2)
    assert theta.M0 == pytest.approx(-19.3)


def test_reference_configs_hold_the_reference_truth():
    exp = load_experiment(ROOT / "configs" / "cigars-i-16k.yaml")
    theta = experiment_truth(exp)
    assert (theta.Om0, theta.Ode0, theta.dtd_A, theta.gamma_Z) == pytest.approx(
        (0.3, 0.7, -12.15, -0.1)
    )
    assert exp.sps.type_name == "speculator"
