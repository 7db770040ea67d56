"""Selection normalisation against Monte Carlo through the simulator's own stages."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cigars.likelihood import (
    SNData,
    SNModel,
    detection_probability,
    distance_modulus_hel,
    selection_grid,
)
from cigars.simulate import Theta
from cigars.sn import ApplySNDust, IndependentSNDust, SampleIntrinsic, TiedSNDust
from cigars.survey import Catalogue, LogisticSelection, ObserveSupernovae, TableSelection

THETA = Theta(alpha_c=0.01, Om0=0.32, Ode0=0.69)
N_BATCH, N_REPEAT = 200_000, 10


def _data():
    z = np.array([0.25, 0.62, 0.8, 1.0])
    return SNData.from_arrays(
        z_cos=z,
        z_hel=z + 0.001,
        logmass=[10.5, 9.5, 10.2, 11.0],
        logzsol=[0.1, -0.5, 0.0, -0.3],
        age_gyr=[1.0, 3.0, 0.5, 0.2],
        dust2=[0.2, 0.6, 0.1, 0.4],
        m=[22.0] * 4,
        x1=[0.0] * 4,
        c=[0.0] * 4,
        var_m=[0.05**2] * 4,
        var_x1=[0.1] * 4,
        var_c=[0.001] * 4,
    )


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _mc_batch(key, population, dust, observe, selection, theta, row, mu):
    """Mean p_det over N_BATCH SNe of one (z, host) drawn with the simulator's stages."""
    cat = Catalogue.empty(N_BATCH, 1)
    full = lambda v: jnp.full((N_BATCH,), v)  # noqa: E731
    cat = cat.replace(
        z_cos=full(row["z_cos"]),
        z_hel=full(row["z_hel"]),
        logmass=full(row["logmass"]),
        progenitor_logzsol=full(row["logzsol"]),
        age_gyr=full(row["age_gyr"]),
        dust2=full(row["dust2"]),
        mu=full(mu),
    )
    k = jax.random.split(key, 3)
    cat = population(k[0], theta, cat)
    cat = ApplySNDust(dust=dust)(k[1], theta, cat)
    cat = observe(k[2], theta, cat)
    return jnp.mean(selection.detection_probability(cat.z_hel, cat.m_obs))


def _monte_carlo(key, population, dust, observe, selection, data):
    mu = distance_modulus_hel(THETA, data.z_cos, data.z_hel)
    out = []
    for i in range(data.n):
        row = {
            f: getattr(data, f)[i]
            for f in ("z_cos", "z_hel", "logmass", "logzsol", "age_gyr", "dust2")
        }
        keys = jax.random.split(jax.random.fold_in(key, i), N_REPEAT)
        out.append(
            np.mean(
                [
                    float(_mc_batch(k, population, dust, observe, selection, THETA, row, mu[i]))
                    for k in keys
                ]
            )
        )
    return np.array(out)


@pytest.mark.parametrize("dust", [IndependentSNDust(), TiedSNDust(scale=0.7)], ids=["exp", "tied"])
def test_matches_monte_carlo_logistic(key, x64, dust):
    data = _data()
    population, observe, selection = SampleIntrinsic(), ObserveSupernovae(), LogisticSelection()
    model = SNModel.from_components(population, dust, observe, "lambdacdm")
    p = np.asarray(
        detection_probability(model, THETA, data, selection_grid(selection, model, data))
    )
    mc = _monte_carlo(key, population, dust, observe, selection, data)
    assert np.sum((p > 0.03) & (p < 0.97)) >= 2  # the cases span the selection's transition
    np.testing.assert_allclose(p, mc, atol=1e-3)


def test_matches_monte_carlo_reference_table(key, x64, shared_file):
    path = shared_file("cigars-reference/detprob.npz")
    data = _data()
    population, observe, dust = SampleIntrinsic(), ObserveSupernovae(), IndependentSNDust()
    selection = TableSelection.from_npz(path)
    model = SNModel.from_components(population, dust, observe, "lambdacdm")
    p = np.asarray(
        detection_probability(model, THETA, data, selection_grid(selection, model, data))
    )
    mc = _monte_carlo(key, population, dust, observe, selection, data)
    np.testing.assert_allclose(p, mc, atol=1e-3)


def test_no_selection_gives_one(x64):
    data = _data()
    model = SNModel.from_components(SampleIntrinsic(), IndependentSNDust(), ObserveSupernovae())
    always = LogisticSelection(a=60.0, b=0.0, c=0.0, width=0.2)
    p = detection_probability(model, THETA, data, selection_grid(always, model, data))
    np.testing.assert_allclose(np.asarray(p), 1.0, atol=1e-12)


def test_window_must_fit_the_range(x64):
    data = _data()
    model = SNModel.from_components(SampleIntrinsic(), None, ObserveSupernovae())
    with pytest.raises(ValueError, match="still changes at the ends of m_range"):
        selection_grid(LogisticSelection(width=5.0), model, data)
