"""NUTS over the likelihood models: agreement with a grid posterior, recovery of the truth on
data from the matching simulator (selection included), and the MAP/Laplace fast variant."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
from likelihood_cases import standardised_case

from cigars.cosmology import FlatLambdaCDMConfig
from cigars.likelihood import (
    SNData,
    SNModel,
    distance_modulus_hel,
    log_detection_probability,
    run_nuts,
    selection_grid,
    sn_log_likelihood,
    sn_model,
    standardised_log_likelihood,
    standardised_model,
)
from cigars.simulate import GlobalPrior, SimulatorConfig, Theta, simulate, toy_host_table
from cigars.survey import LogisticSelectionConfig, LSSTSurveyConfig

INFERRED = {
    "Om0": {"uniform": [0.0, 1.0]},
    "M0": {"uniform": [-20.0, -19.0]},
    "sigma_res": {"uniform": [0.01, 0.3]},
    "alpha": {"uniform": [-0.55, 0.25]},
    "beta": {"uniform": [0.0, 4.0]},
    "gamma_Z": {"uniform": [-2.0, 2.0]},
    "step_M": {"uniform": [-0.3, 0.3]},
}


def test_nuts_matches_grid_posterior(x64):
    truth, data, prior = standardised_case({"uniform": [-20.0, -18.5]})
    mcmc = run_nuts(
        jax.random.key(0),
        standardised_model,
        prior,
        data,
        "flat_lambdacdm",
        num_warmup=200,
        num_samples=1000,
        progress=False,
    )
    s = mcmc.get_samples()
    # the same posterior on a grid
    om = np.linspace(0.0005, 0.9995, 400)
    m0 = np.linspace(-19.6, -19.0, 300)
    ll = jax.jit(
        jax.vmap(
            jax.vmap(
                lambda a, b: standardised_log_likelihood(truth.replace(Om0=a, M0=b), data),
                in_axes=(None, 0),
            ),
            in_axes=(0, None),
        )
    )(om, m0)
    p = np.exp(np.asarray(ll) - np.max(ll))
    p /= p.sum()
    for name, axis, grid in (("Om0", 1, om), ("M0", 0, m0)):
        marg = p.sum(axis=axis)
        mean = np.sum(marg * grid)
        sd = np.sqrt(np.sum(marg * (grid - mean) ** 2))
        v = np.asarray(s[name])
        assert abs(v.mean() - mean) < 0.15 * sd, name
        assert v.std() == pytest.approx(sd, rel=0.1), name


@pytest.fixture(scope="module")
def survey():
    """Detected SNe (~190) of one survey from the full simulator on a toy bank, flat LambdaCDM
    (float64)."""
    # Simulated under float64, then the context is left (a context held open across the
    # module's tests would leak float64 into every later test).
    with jax.enable_x64(True):
        data = _simulated_survey(5, counts=300.0)
    return data


def _simulated_survey(seed, counts=450.0):
    cfg = SimulatorConfig(
        survey=LSSTSurveyConfig(n_max=4096, counts=counts), selection=LogisticSelectionConfig()
    )
    sim = cfg.build(toy_host_table(3000, seed=21), FlatLambdaCDMConfig())
    truth = Theta()
    _, cat = simulate(sim, jax.random.key(seed), truth)
    assert not bool(cat.overflow)
    r = cat.to_numpy()
    data = SNData.from_arrays(
        z_cos=r["z_cos"],
        z_hel=r["z_hel"],
        logmass=r["logmass"],
        logzsol=r["progenitor_logzsol"],
        age_gyr=r["age_gyr"],
        dust2=r["dust2"],
        m=r["m_obs"],
        x1=r["x1_obs"],
        c=r["c_obs"],
        var_m=r["var_m"],
        var_x1=r["var_x1"],
        var_c=r["var_c"],
    )
    model = SNModel.from_components(
        cfg.sn_population.build(), cfg.sn_dust.build(), cfg.survey.build(), "flat_lambdacdm"
    )
    grid = selection_grid(cfg.selection.build(), model, data)
    return truth, r, model, data, grid


def test_distance_modulus_is_the_simulators(x64, survey):
    truth, r, _, data, _ = survey
    mu = distance_modulus_hel(truth, data.z_cos, data.z_hel, "flat_lambdacdm")
    np.testing.assert_allclose(np.asarray(mu), r["mu"], atol=1e-8)


def test_map_recovers_truth_with_selection(x64, survey):
    """Fast variant of the NUTS recovery: MAP and Laplace errors (flat priors inside)."""
    truth, _, model, data, grid = survey
    names = list(INFERRED)

    def neg_log_post(x):
        theta = truth.replace(**{n: x[i] for i, n in enumerate(names)})
        ll = sn_log_likelihood(model, theta, data) - log_detection_probability(
            model, theta, data, grid
        )
        return -jnp.sum(ll)

    fun = jax.jit(jax.value_and_grad(neg_log_post))
    x0 = np.array([0.5, -19.4, 0.15, -0.1, 2.5, 0.0, 0.0])
    res = scipy.optimize.minimize(
        lambda x: tuple(np.asarray(v, float) for v in fun(jnp.asarray(x))),
        x0,
        jac=True,
        method="BFGS",
        options={"gtol": 1e-6},
    )
    # Hessian by central differences of the (already compiled) gradient
    step = 1e-4 * np.maximum(np.abs(res.x), 0.1)
    hess = np.stack(
        [
            (
                np.asarray(fun(jnp.asarray(res.x + e))[1])
                - np.asarray(fun(jnp.asarray(res.x - e))[1])
            )
            / (2 * h)
            for e, h in zip(np.diag(step), step, strict=True)
        ]
    )
    hess = 0.5 * (hess + hess.T)
    sd = np.sqrt(np.diag(np.linalg.inv(hess)))
    zscores = {n: (res.x[i] - getattr(truth, n)) / sd[i] for i, n in enumerate(names)}
    assert data.n > 150
    assert all(abs(v) < 3 for v in zscores.values()), zscores


@pytest.mark.slow
def test_nuts_recovers_truth_with_selection(x64, survey):
    truth, _, model, data, grid = survey
    prior = GlobalPrior.from_mapping(INFERRED, fixed=truth)
    mcmc = run_nuts(
        jax.random.key(1),
        sn_model,
        model,
        prior,
        data,
        grid,
        num_warmup=300,
        num_samples=500,
        progress=False,
    )
    s = mcmc.get_samples()
    assert int(mcmc.get_extra_fields()["diverging"].sum()) == 0
    for name in INFERRED:
        v = np.asarray(s[name])
        assert abs(v.mean() - getattr(truth, name)) < 3 * v.std(), name
