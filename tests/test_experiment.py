"""Experiment assembly: the cosmology section drives the simulator and the truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from cigars._config import load_yaml, merge_mappings
from cigars.config import ConfigError, Experiment, from_dict, load_experiment
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


def test_host_evolution_parameters_need_the_simulator_switch():
    survey = {"type": "lsst", "n_max": 64}
    simulator = {"survey": survey, "selection": {"type": "logistic"}}
    prior = {"params": {"Om0": {"uniform": [0, 1]}, "host_dmag1": {"uniform": [-1, 1]}}}
    for section, value in (("prior", prior), ("truth", {"values": {"host_dmag0": 0.2}})):
        with pytest.raises(ConfigError, match="host_evolution: true"):
            from_dict(Experiment, {"simulator": simulator, section: value})
    on = {**simulator, "survey": {**survey, "host_evolution": True}}
    exp = from_dict(Experiment, {"simulator": on, "prior": prior})
    sim = exp.simulator.build(toy_host_table(200, seed=1), exp.cosmology)
    assert [s.evolution for s in sim.stages if hasattr(s, "evolution")] == [True, True]
    # A zero-offset truth without the switch is the plain CIGaRS model: accepted; a non-zero
    # override of it is not (cigars simulate --truth host_dmag1=0.3).
    plain = from_dict(Experiment, {"simulator": simulator, "truth": {"values": {"host_dmag2": 0}}})
    with pytest.raises(ValueError, match="host_evolution: true"):
        experiment_truth(plain, {"host_dmag1": 0.3})
    assert experiment_truth(exp, {"host_dmag1": 0.3}).host_mag_offset(2.0) == pytest.approx(0.6)


def test_laplace_frame_needs_the_sub_models_laplace_features():
    path = ROOT / "configs" / "quickstart-knownhosts.yaml"
    assert load_experiment(path).inference.estimator.global_frame == "laplace"
    off = {"likelihood": {"sub_model": {"laplace": False}}}
    with pytest.raises(ConfigError, match="set likelihood.sub_model.laplace: true"):
        from_dict(Experiment, merge_mappings(load_yaml(path), off))


def test_reference_configs_hold_the_reference_truth():
    exp = load_experiment(ROOT / "configs" / "cigars-i-16k.yaml")
    theta = experiment_truth(exp)
    assert (theta.Om0, theta.Ode0, theta.dtd_A, theta.gamma_Z) == pytest.approx(
        (0.3, 0.7, -12.15, -0.1)
    )
    assert exp.sps.type_name == "speculator"


def test_file_features_equal_simulated_features(monkeypatch):
    """`infer` reads a catalogue file into exactly the vectors training saw from the simulator."""
    import jax
    import numpy as np

    from cigars.experiment import catalogue_arrays, observed_features
    from cigars.io import band_labels, catalogue_table
    from cigars.simulate import simulate

    monkeypatch.chdir(ROOT)
    exp = load_experiment(ROOT / "configs" / "quickstart.yaml")
    sim = exp.simulator.build(toy_host_table(3000, seed=3), exp.cosmology)
    _, cat = simulate(sim, jax.random.key(11), experiment_truth(exp))
    data, context = observed_features(cat)
    keep = np.asarray(cat.mask)
    bands = band_labels(exp.bands.filters)
    table = catalogue_table(cat.to_numpy(), bands)
    file_data, file_context, file_mask = catalogue_arrays(table, exp)
    n = int(keep.sum())
    assert n > 0 and file_mask.sum() == n
    np.testing.assert_allclose(file_data[:n], np.asarray(data)[keep], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(file_context[:n], np.asarray(context)[keep], rtol=1e-6, atol=1e-6)


def test_bank_reference_expects_each_galaxy_at_its_distance_and_identifies_the_hosts(monkeypatch):
    """The bank lookup (`estimator.reference_lookup`) against the simulator's own hosts."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from cigars.experiment import bank_reference, observed_features
    from cigars.inference import lookup_features
    from cigars.simulate import simulate

    monkeypatch.chdir(ROOT)
    exp = load_experiment(ROOT / "configs" / "quickstart.yaml")
    bank = toy_host_table(3000, seed=3)
    sim = exp.simulator.build(bank, exp.cosmology)
    _, cat = simulate(sim, jax.random.key(11), experiment_truth(exp))
    keep = np.asarray(cat.mask)
    ref = bank_reference(exp, bank)
    # Expected offsets (astropy, the truth cosmology) are the simulator's host distance moduli.
    host = np.asarray(cat.host_index)[keep]
    dm = np.asarray(cat.host_mag)[keep] - np.asarray(bank.abs_mag)[host]
    np.testing.assert_allclose(dm, np.repeat(ref.offsets[host][:, None], dm.shape[1], 1), atol=2e-3)
    # Each host's lookup finds its own galaxy's redshift.
    data, _ = observed_features(cat)
    data = np.asarray(data)[keep]
    values = ref.centred_values()
    f = np.asarray(
        lookup_features(
            jnp.asarray(data[:, list(ref.columns)]),
            jnp.asarray(data[:, list(ref.log_err_columns)]),
            jnp.asarray(values, jnp.float32),
            jnp.asarray(ref.locals, jnp.float32),
            jnp.asarray(ref.targets(), jnp.float32),
        )
    )
    z = np.asarray(cat.z_cos)[keep]
    assert keep.sum() > 20
    assert np.mean(np.abs(f[:, 0] - z) < 1e-3) > 0.95
    np.testing.assert_allclose(f[:, 1:5], ref.locals[host, 1:], atol=0.05)
