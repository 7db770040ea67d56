"""The chained Simulator: contracts (jit == eager, vmap == loop, no recompilation, static
shapes, mask semantics) and an end-to-end check of the expected SN count against an
independent NumPy + astropy computation."""

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from astropy import cosmology as apc

from cigars._config import from_dict
from cigars.simulate import (
    GlobalPrior,
    Simulator,
    SimulatorConfig,
    Theta,
    simulate,
    simulate_batch,
    toy_host_table,
)
from cigars.simulate._simulator import _simulate, _simulate_batch
from cigars.survey import (
    LSST_DEPTHS,
    FractionSpectroscopy,
    LogisticSelectionConfig,
    LSSTSurveyConfig,
    ObserveSpectra,
)

N_MAX = 256


@pytest.fixture(scope="module")
def hosts():
    return toy_host_table(3000, seed=21)


@pytest.fixture(scope="module")
def simulator(hosts):
    cfg = SimulatorConfig(
        survey=LSSTSurveyConfig(n_max=N_MAX, counts=40_000.0),
        selection=LogisticSelectionConfig(),
    )
    sim = cfg.build(hosts)
    return sim.replace(
        stages=(*sim.stages, ObserveSpectra(spectroscopy=FractionSpectroscopy(fraction=0.3)))
    )


def leaves_equal(a, b, rtol=1e-5):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        x, y = np.asarray(x), np.asarray(y)
        assert x.shape == y.shape and x.dtype == y.dtype
        if np.issubdtype(x.dtype, np.floating):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-5)
        else:
            np.testing.assert_array_equal(x, y)


@pytest.mark.long
def test_jit_equals_eager(simulator):
    key, theta = jax.random.key(0), Theta()
    theta = jax.tree_util.tree_map(jnp.float32, theta)
    eager = simulator(key, theta)
    jitted = simulate(simulator, key, theta)
    leaves_equal(eager, jitted)


def test_vmap_over_theta_equals_loop_and_no_recompilation(simulator):
    prior = GlobalPrior.from_mapping(
        {"Om0": {"uniform": [0.2, 0.4]}, "M0": {"normal": [-19.5, 0.1]}}
    )
    thetas = prior.sample(jax.random.key(1), (3,))
    keys = jax.random.split(jax.random.key(2), 3)
    batch = simulate_batch(simulator, keys, thetas)
    for i in range(3):
        one = simulate(simulator, keys[i], jax.tree_util.tree_map(lambda x, i=i: x[i], thetas))
        leaves_equal(jax.tree_util.tree_map(lambda x, i=i: x[i], batch), one, rtol=1e-4)
    n_single, n_batch = _simulate._cache_size(), _simulate_batch._cache_size()
    simulate(simulator, jax.random.key(9), Theta(Om0=0.25, beta=3.0))
    simulate_batch(simulator, jax.random.split(jax.random.key(8), 3), prior.sample(keys[0], (3,)))
    assert _simulate._cache_size() == n_single
    assert _simulate_batch._cache_size() == n_batch


def test_shapes_are_static_and_mask_semantics_hold(simulator):
    shapes, overflowed = None, False
    thetas = [Theta(), Theta(Om0=0.9, Ode0=0.1), Theta(dtd_A=-11.0)]  # the last overflows
    for i, theta in enumerate(thetas):
        _, cat = simulate(simulator, jax.random.key(10 + i), theta)
        s = jax.tree_util.tree_map(np.shape, cat)
        shapes = s if shapes is None else shapes
        assert s == shapes
        assert cat.host_detected is None and cat.distances is not None
        n = min(int(cat.n_sn_total), N_MAX)
        valid, mask = np.asarray(cat.valid), np.asarray(cat.mask)
        np.testing.assert_array_equal(valid, np.arange(N_MAX) < n)
        np.testing.assert_array_equal(mask, valid & np.asarray(cat.detected))
        assert not np.any(np.asarray(cat.has_spec) & ~mask)
        rows = cat.to_numpy()
        assert len(rows["m_obs"]) == mask.sum()
        for name, col in rows.items():
            if name != "z_spec":
                assert np.all(np.isfinite(col)), name
        assert bool(cat.overflow) == (int(cat.n_sn_total) > N_MAX)
        overflowed |= bool(cat.overflow)
    assert overflowed, "the high-rate parameters should overflow the slots"


def test_expected_count_matches_independent_computation(hosts, simulator):
    """kappa * sum over detected hosts of the reference-rule rates, detection via astropy."""
    theta = Theta(Om0=0.35, Ode0=0.6, dtd_A=-12.1, dtd_s=-1.1)
    _, cat = simulate(simulator, jax.random.key(4), theta)
    z = np.asarray(hosts.z, float)
    dm = apc.LambdaCDM(70, 0.35, 0.6, Tcmb0=0).comoving_transverse_distance(z).value
    mags = np.asarray(hosts.abs_mag, float) + 5 * np.log10(dm)[:, None] + 25
    detected = np.all(mags < np.asarray(LSST_DEPTHS), axis=1)
    edges = np.asarray(hosts.log_age_edges, float)
    mid = 0.5 * (edges[:, 1:] + edges[:, :-1])
    rate = 10 ** np.asarray(hosts.bin_logmass, float) * 10**-12.1 * (10**mid / 1e9) ** -1.1
    rate = np.where(edges[:, :-1] >= 8.0 - 1e-9, rate, 0.0).sum(1) / (1 + z)
    kappa = (40_000 / 500) / (hosts.n_host / 1e6)
    lam = kappa * rate[detected].sum()
    assert float(cat.expected_n_sn) == pytest.approx(lam, rel=1e-3)
    assert int(cat.n_hosts_detected) == detected.sum()
    assert abs(int(cat.n_sn_total) - lam) < 5 * math.sqrt(lam)


def test_simulator_config_from_yaml_dict(hosts, tmp_path: Path):
    cfg = from_dict(
        SimulatorConfig,
        {
            "survey": {"type": "lsst", "n_max": 64, "counts": 5000, "sigma_v_kms": 0},
            "selection": {"type": "logistic"},
            "dtd": {"type": "powerlaw", "binning": "average"},
            "sn_dust": {"type": "tied", "scale": 0.3},
            "host_noise": {"type": "depth"},
            "spectroscopy": {"type": "mag_limit", "m_lim": 22.0},
        },
    )
    sim = cfg.build(hosts)
    assert isinstance(sim, Simulator) and len(sim.stages) == 11
    _, cat = simulate(sim, jax.random.key(5), Theta())
    valid = np.asarray(cat.valid)
    np.testing.assert_array_equal(np.asarray(cat.v_pec_kms)[valid], 0.0)
    assert np.all(np.asarray(cat.host_mag_err)[valid] > 0.005)


def test_simulator_chain_validates():
    with pytest.raises(ValueError, match="not an AbstractStage"):
        Simulator.chain([lambda k, t, c: c], n_max=4, n_band=6)
    with pytest.raises(ValueError, match="n_max"):
        Simulator.chain([], n_max=0, n_band=6)


def test_pruned_bank_gives_the_same_survey_and_flags_violations(hosts, simulator):
    """Pruning never-detectable galaxies changes nothing inside the bound; outside it, flags."""
    full = simulator
    pruned = SimulatorConfig(
        survey=LSSTSurveyConfig(n_max=N_MAX, counts=40_000.0, prune_dm_ratio=0.7),
        selection=LogisticSelectionConfig(),
    ).build(hosts)
    kept = pruned.stages[2].hosts
    assert kept.n_host < hosts.n_host
    for theta in (Theta(), Theta(Om0=1.0, Ode0=0.0), Theta(Om0=0.0, Ode0=1.0)):
        _, a = simulate(full, jax.random.key(6), theta)
        _, b = simulate(pruned, jax.random.key(6), theta)
        assert not bool(b.prune_violated)
        assert int(a.n_hosts_detected) == int(b.n_hosts_detected)
        assert float(b.expected_n_sn) == pytest.approx(float(a.expected_n_sn), rel=1e-4)
        valid = np.asarray(b.valid)
        rows = np.asarray(b.bank_index)[valid]
        np.testing.assert_array_equal(
            np.asarray(kept.bank_index)[np.asarray(b.host_index)[valid]], rows
        )
        np.testing.assert_allclose(np.asarray(b.z_cos)[valid], np.asarray(hosts.z)[rows])
    _, c = simulate(pruned, jax.random.key(7), Theta(H0=110.0))  # D_M shrinks by 0.64 < 0.7
    assert bool(c.prune_violated)
