"""Hierarchical NPE: loss bookkeeping, joint sampling, supports, densities in physical units."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
from flax import nnx
from scipy import stats

from cigars.inference import (
    EstimatorConfig,
    HierarchicalNPE,
    LinearGaussianToy,
    NumpyroPrior,
    Simulation,
    fit_standardization,
    sample_posterior,
    simulate_batch,
)

SMALL = EstimatorConfig(
    embed_dim=8,
    summary_dim=8,
    hidden=16,
    depth=1,
    flow_layers=2,
    local_flow_layers=2,
    flow_hidden=16,
    flow_depth=1,
    num_bins=4,
)


LOCAL_POSTERIORS = pytest.mark.parametrize("local_posterior", ["flow", "mixture"])


def _model(
    n_theta=2,
    n_local=1,
    n_feat=2,
    n_ctx=1,
    theta_bounds=None,
    local_bounds=None,
    seed=0,
    local_posterior="flow",
):
    return nnx.jit(
        lambda: HierarchicalNPE(
            SMALL.replace(local_posterior=local_posterior, mixture_components=3),
            n_theta=n_theta,
            n_local=n_local,
            n_feat=n_feat,
            n_ctx=n_ctx,
            theta_bounds=theta_bounds,
            local_bounds=local_bounds,
            rngs=nnx.Rngs(seed),
        )
    )()


def _randomise(model, key, scale=0.3):
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    leaves = [scale * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves, strict=True)]
    return nnx.merge(graphdef, jax.tree.unflatten(treedef, leaves), rest)


def _loss(model, sims, key, k):
    return nnx.jit(lambda m, s, kk: m.loss(s, kk, k))(model, sims, key)


@LOCAL_POSTERIORS
def test_local_loss_is_mean_over_valid_objects_when_k_covers_all(key, local_posterior):
    """With K = n_max every valid object is picked once: the local NLL is the exact mean."""
    toy = LinearGaussianToy(n_max=6, n_min=0)
    sims = jax.jit(lambda k: simulate_batch(toy.simulate, toy.prior, k, 5))(key)
    sims = sims.replace(mask=sims.mask.at[0].set(False))  # one empty survey
    model = _randomise(_model(local_posterior=local_posterior), jax.random.key(3))
    _, aux = _loss(model, sims, jax.random.key(0), 6)

    @nnx.jit
    def reference(m, sims):
        s, e, c = m.embed(sims.data, sims.mask, sims.context)
        z_t, _ = m.theta_to_z(sims.theta)
        z_l, _ = m.local_to_z(sims.locals)
        lp = m._local_log_prob(z_l, e, z_t, s, c)
        return lp, m.global_flow.log_prob(z_t, s)

    lp, lp_global = reference(model, sims)
    per = [
        np.mean(-np.asarray(lp[b])[np.asarray(sims.mask[b])])
        for b in range(1, 5)
        if np.any(np.asarray(sims.mask[b]))
    ]
    np.testing.assert_allclose(aux["local_nll"], np.mean(per), rtol=1e-5)
    np.testing.assert_allclose(aux["global_nll"], -np.mean(lp_global), rtol=1e-5)


@pytest.mark.long
def test_local_subsample_never_picks_padding_and_is_unbiased(key):
    """Objects in padded slots carry NaN locals: the loss stays finite; E[subsample] = mean."""
    toy = LinearGaussianToy(n_max=8, n_min=3)
    sims = jax.jit(lambda k: simulate_batch(toy.simulate, toy.prior, k, 4))(key)
    sims = sims.replace(locals=jnp.where(sims.mask[..., None], sims.locals, jnp.nan))
    model = _randomise(_model(), jax.random.key(4))
    full = _loss(model, sims, jax.random.key(0), 8)[1]["local_nll"]
    sub = jax.jit(jax.vmap(lambda kk: model.loss(sims, kk, 2)[1]["local_nll"]))(
        jax.random.split(jax.random.key(1), 4000)
    )
    assert np.all(np.isfinite(sub))
    np.testing.assert_allclose(np.mean(sub), full, rtol=0.02)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    grads = jax.jit(
        jax.grad(lambda p: nnx.merge(graphdef, p, rest).loss(sims, jax.random.key(2), 3)[0])
    )(params)
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))


@LOCAL_POSTERIORS
def test_samples_respect_supports_and_mask(key, local_posterior):
    model = _randomise(
        _model(
            theta_bounds=([0.0, -np.inf], [1.0, np.inf]),
            local_bounds=([0.02], [1.5]),
            local_posterior=local_posterior,
        ),
        key,
        # Random weights of scale 1 put the mixture's means ~100 standard units out (nothing
        # bounds them as the spline interval bounds a flow), where float32 rounds the bounded
        # support's edge onto the edge itself.
        scale=1.0 if local_posterior == "flow" else 0.2,
    )
    data = jax.random.normal(key, (7, 2))
    mask = jnp.array([1, 1, 0, 1, 0, 0, 1], bool)
    context = jnp.ones((7, 1))
    theta, local = sample_posterior(
        model, jax.random.key(1), data, mask, context, 300, chunk_size=64
    )
    assert theta.shape == (300, 2) and local.shape == (300, 7, 1)
    assert np.all((theta[:, 0] > 0) & (theta[:, 0] < 1))
    valid = np.asarray(local)[:, np.asarray(mask), 0]
    assert np.all((valid > 0.02) & (valid < 1.5))
    assert np.all(np.isnan(np.asarray(local)[:, ~np.asarray(mask)]))
    # Same key, same draws; chunking does not change the result.
    theta2, local2 = sample_posterior(
        model, jax.random.key(1), data, mask, context, 300, chunk_size=300
    )
    np.testing.assert_allclose(theta2, theta, rtol=1e-6)
    np.testing.assert_allclose(local2, local, rtol=1e-5, equal_nan=True)


def test_physical_global_density_integrates_to_one(key, x64):
    """log_prob_theta includes the bijection and standardisation Jacobians."""
    model = _randomise(_model(n_theta=1, theta_bounds=([0.0], [2.0])), key, scale=0.5)
    model.set_statistics(
        {**model.statistics(), "theta_mean": jnp.array([0.3]), "theta_std": jnp.array([1.7])}
    )
    data, mask, context = jnp.ones((4, 2)), jnp.array([1, 1, 0, 1], bool), jnp.zeros((4, 1))
    # Integrate over theta on a grid that resolves both bounds: theta = 2 sigmoid(g), with
    # d theta / d g from autodiff (independent of the library's bijection code).
    g = jnp.linspace(-25.0, 25.0, 200001)
    theta = 2 * jax.nn.sigmoid(g)
    dtheta = jax.vmap(jax.grad(lambda v: 2 * jax.nn.sigmoid(v)))(g)
    lp = nnx.jit(lambda m, t: m.log_prob_theta(t, data, mask, context))(model, theta[:, None])
    np.testing.assert_allclose(jnp.trapezoid(jnp.exp(lp) * dtheta, g), 1.0, atol=1e-4)


@pytest.mark.long
def test_posterior_log_prob_is_the_global_density_of_the_draws(key):
    """The jitted entry point gives log_prob_theta; wrong shapes are refused by name."""
    from cigars.inference import posterior_log_prob, sample_posterior

    model = _randomise(_model(n_theta=2, theta_bounds=([0.0, -1.0], [2.0, 1.0])), key)
    data = jax.random.normal(key, (6, 2))
    mask, context = jnp.array([1, 1, 0, 1, 1, 0], bool), jnp.zeros((6, 1))
    theta, _ = sample_posterior(model, key, data, mask, context, num_samples=64)
    got = posterior_log_prob(model, theta, data, mask, context)
    expected = model.log_prob_theta(theta, data, mask, context)
    assert got.shape == (64,) and bool(jnp.all(jnp.isfinite(got)))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # the data matter: another survey gives another density at the same draws
    other = posterior_log_prob(model, theta, data + 1.0, mask, context)
    assert float(jnp.max(jnp.abs(other - got))) > 1e-3
    with pytest.raises(ValueError, match=r"theta must be \(S, 2\)"):
        posterior_log_prob(model, theta[:, :1], data, mask, context)


@LOCAL_POSTERIORS
def test_physical_local_density_integrates_to_one(key, x64, local_posterior):
    """log_prob_locals includes the softplus and standardisation Jacobians; padding gives 0."""
    model = _randomise(
        _model(local_bounds=([0.0], [np.inf]), local_posterior=local_posterior), key, scale=0.5
    )
    model.set_statistics(
        {**model.statistics(), "local_mean": jnp.array([-0.4]), "local_std": jnp.array([0.6])}
    )
    data = jax.random.normal(key, (5, 2))
    mask = jnp.array([1, 0, 1, 1, 1], bool)
    context = jnp.zeros((5, 1))
    theta = jnp.array([0.2, -0.3])
    # l = softplus(g) with d l / d g from autodiff.
    g = jnp.linspace(-30.0, 30.0, 200001)
    dl = jax.vmap(jax.grad(jax.nn.softplus))(g)
    loc = jnp.zeros((g.size, 5, 1)).at[:, 2, 0].set(jax.nn.softplus(g))
    lp = nnx.jit(lambda m, l: m.log_prob_locals(l, theta, data, mask, context))(model, loc)
    assert lp.shape == (g.size, 5)
    assert np.all(np.asarray(lp)[:, 1] == 0)  # padded slot
    np.testing.assert_allclose(jnp.trapezoid(jnp.exp(lp[:, 2]) * dl, g), 1.0, atol=1e-4)


def test_standardisation_statistics(key):
    toy = LinearGaussianToy()
    sims = jax.jit(lambda k: simulate_batch(toy.simulate, toy.prior, k, 256))(key)
    model = _model()
    stats = fit_standardization(sims, model.theta_transform, model.local_transform)
    valid = np.asarray(sims.mask)
    x = np.asarray(sims.data)[valid]
    np.testing.assert_allclose(stats["data_mean"], x.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats["data_std"], x.std(0), rtol=1e-4)
    np.testing.assert_allclose(stats["theta_mean"], np.asarray(sims.theta).mean(0), atol=1e-5)
    model.set_statistics(stats)
    with pytest.raises(ValueError, match="shape"):
        model.set_statistics({**stats, "data_mean": np.zeros(3)})
    bad = sims.replace(mask=jnp.zeros_like(sims.mask))
    with pytest.raises(ValueError, match="at least 2"):
        fit_standardization(bad, model.theta_transform, model.local_transform)
    # pooled_*: each simulation's mean of its standardised valid rows, centred and whitened
    c = np.asarray(sims.context)[valid]
    means = np.stack(
        [
            np.concatenate(
                [
                    (np.asarray(sims.data)[i][valid[i]] - x.mean(0)) / x.std(0),
                    (np.asarray(sims.context)[i][valid[i]] - c.mean(0)) / c.std(0),
                ],
                axis=-1,
            ).mean(0)
            for i in range(valid.shape[0])
        ]
    )
    np.testing.assert_allclose(stats["pooled_mean"], means.mean(0), atol=1e-5)
    white = (means - means.mean(0)) @ stats["pooled_whiten"].T
    np.testing.assert_allclose(np.cov(white, rowvar=False), np.eye(3), atol=1e-4)
    assert "pooled_mean" not in model.statistics()  # only with pool_inputs


def test_pool_inputs_model_standardises_the_pooled_inputs(key):
    """With pool_inputs the summary sees the whitened pooled inputs."""
    toy = LinearGaussianToy()
    sims = jax.jit(lambda k: simulate_batch(toy.simulate, toy.prior, k, 64))(key)
    model = nnx.jit(
        lambda: HierarchicalNPE(
            SMALL.replace(pool_inputs=True),
            n_theta=2,
            n_local=1,
            n_feat=2,
            n_ctx=1,
            rngs=nnx.Rngs(0),
        )
    )()
    stats = fit_standardization(sims, model.theta_transform, model.local_transform)
    model.set_statistics(stats)
    assert set(model.statistics()) >= {"pooled_mean", "pooled_whiten"}
    one = jax.tree.map(lambda a: a[0], sims)
    s, _, _ = model.embed(one.data, one.mask, one.context)
    d = (one.data - stats["data_mean"]) / stats["data_std"]
    c = (one.context - stats["context_mean"]) / stats["context_std"]
    x = jnp.where(one.mask[:, None], jnp.concatenate([d, c], -1), 0.0)
    n = jnp.sum(one.mask)
    count = ((jnp.log1p(n) - stats["count_mean"]) / stats["count_std"])[None]
    s0, _ = model.embedding(x, one.mask, count)  # unscaled pooled inputs
    s1, _ = model.embedding(x, one.mask, count, (stats["pooled_mean"], stats["pooled_whiten"]))
    np.testing.assert_allclose(s, s1, rtol=1e-5, atol=1e-6)
    assert not np.allclose(s, s0)


def test_whiten_objects_brings_small_differences_of_large_features_to_unit_scale(key):
    """With whiten_objects each valid object's standardised observations are PCA-whitened."""
    k1, k2, k3 = jax.random.split(key, 3)
    level = 3.0 * jax.random.normal(k1, (64, 20, 1))  # e.g. a magnitude's distance + mass part
    colour = 0.01 * jax.random.normal(k2, (64, 20, 1))  # a colour 300 times smaller
    data = jnp.concatenate([level, level + colour, jnp.ones_like(level)], -1)  # + a constant
    mask = jax.random.bernoulli(k3, 0.7, (64, 20))
    sims = Simulation(
        theta=jax.random.uniform(k1, (64, 2)),
        locals=jax.random.uniform(k2, (64, 20, 1)) + 0.5,
        data=jnp.where(mask[..., None], data, 1e6),  # padded rows must not count
        mask=mask,
        context=jnp.zeros((64, 20, 1)),
    )
    model = nnx.jit(
        lambda: HierarchicalNPE(
            SMALL.replace(whiten_objects=True, pool_inputs=True),
            n_theta=2,
            n_local=1,
            n_feat=3,
            n_ctx=1,
            rngs=nnx.Rngs(0),
        )
    )()
    stats = fit_standardization(
        sims, model.theta_transform, model.local_transform, whiten_objects=True
    )
    model.set_statistics(stats)
    assert "object_whiten" in model.statistics()
    before = model.statistics()
    model.fit_statistics(sims)  # the estimator's own fit passes its whiten_objects
    for name, value in model.statistics().items():
        np.testing.assert_allclose(value, before[name], rtol=1e-6, err_msg=name)
    valid = np.asarray(mask)
    d = (np.asarray(data, float)[valid] - stats["data_mean"]) / stats["data_std"]
    white = d @ stats["object_whiten"].T
    cov = np.cov(white, rowvar=False)
    # two directions at unit variance (one of them the colour), the constant feature dropped
    np.testing.assert_allclose(np.sort(np.diag(cov)), [0.0, 1.0, 1.0], atol=1e-3)
    np.testing.assert_allclose(cov - np.diag(np.diag(cov)), 0.0, atol=1e-3)
    # the colour is carried at unit scale: it is a linear function of the whitened rows with
    # coefficients of order one, where the standardised rows need ~300
    sd_colour = np.std(np.asarray(colour)[valid])
    coef, *_ = np.linalg.lstsq(white, np.asarray(colour)[valid][:, 0] / sd_colour, rcond=None)
    assert np.max(np.abs(coef)) < 1.5
    coef_std, *_ = np.linalg.lstsq(d, np.asarray(colour)[valid][:, 0] / sd_colour, rcond=None)
    assert np.max(np.abs(coef_std)) > 100
    # the encoder and the pooled path see the whitened rows
    one = jax.tree.map(lambda a: a[0], sims)
    s, e, _ = model.embed(one.data, one.mask, one.context)
    dd = (one.data - stats["data_mean"]) / stats["data_std"] @ stats["object_whiten"].T
    c = (one.context - stats["context_mean"]) / stats["context_std"]
    x = jnp.where(one.mask[:, None], jnp.concatenate([dd, c], -1), 0.0)
    count = ((jnp.log1p(jnp.sum(one.mask)) - stats["count_mean"]) / stats["count_std"])[None]
    s1, e1 = model.embedding(x, one.mask, count, (stats["pooled_mean"], stats["pooled_whiten"]))
    np.testing.assert_allclose(s, s1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(e, e1, rtol=1e-5, atol=1e-5)
    # the pooled statistics are those of the whitened rows
    rows = np.zeros(valid.shape + (3,))
    rows[valid] = white
    per_set = rows.sum(1)[valid.any(1)] / valid.sum(1)[valid.any(1), None]
    np.testing.assert_allclose(stats["pooled_mean"][:3], per_set.mean(0), atol=1e-4)
    plain = fit_standardization(sims, model.theta_transform, model.local_transform)
    np.testing.assert_allclose(plain["object_whiten"], stats["object_whiten"], atol=1e-6)


def test_globals_only_model_and_wrong_shapes(key):
    prior = NumpyroPrior(dist.Uniform(jnp.zeros(1), jnp.ones(1)))
    model = _model(n_theta=1, n_local=0, n_feat=3, n_ctx=0, theta_bounds=(prior.lower, prior.upper))
    sims = Simulation(
        theta=jnp.full((3, 1), 0.5),
        locals=jnp.zeros((3, 4, 0)),
        data=jnp.ones((3, 4, 3)),
        mask=jnp.ones((3, 4), bool),
        context=jnp.zeros((3, 4, 0)),
    )
    stats = fit_standardization(sims, model.theta_transform, model.local_transform)
    assert stats["context_mean"].shape == (0,) and stats["local_std"].shape == (0,)
    model.set_statistics(stats)
    loss, aux = _loss(model, sims, key, 2)
    assert np.isfinite(loss) and aux["local_nll"] == 0
    theta, local = sample_posterior(model, key, jnp.ones((4, 3)), jnp.ones(4, bool), None, 10)
    assert theta.shape == (10, 1) and local.shape == (10, 4, 0)
    with pytest.raises(ValueError, match="data must be"):
        sample_posterior(model, key, jnp.ones((4, 2)), jnp.ones(4, bool), None, 10)
    with pytest.raises(ValueError, match="n_theta"):
        HierarchicalNPE(SMALL, n_theta=0, n_local=0, n_feat=1, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="theta_bounds"):
        HierarchicalNPE(
            SMALL, n_theta=2, n_local=0, n_feat=1, theta_bounds=([0.0], [1.0]), rngs=nnx.Rngs(0)
        )


@pytest.mark.long
@LOCAL_POSTERIORS
def test_local_draws_do_not_depend_on_how_many_slots_the_flows_run_on(key, local_posterior):
    """sample_posterior runs the per-object flows on the valid objects only (n_active < n_max);
    the draws must equal those of the flows over every slot."""
    model = _randomise(
        _model(local_bounds=([0.02], [1.5]), local_posterior=local_posterior), key, scale=1.0
    )
    data = jax.random.normal(key, (40, 2))
    mask = jnp.zeros(40, bool).at[jnp.array([3, 7, 8, 21, 39])].set(True)
    context = jnp.ones((40, 1))
    theta, local = sample_posterior(model, jax.random.key(2), data, mask, context, 50)
    full = nnx.jit(lambda m: m.sample(jax.random.key(2), data, mask, context, 50))(model)
    np.testing.assert_allclose(theta, full[0], rtol=1e-6)
    np.testing.assert_allclose(local, full[1], rtol=1e-5, atol=1e-6, equal_nan=True)
    assert np.isfinite(np.asarray(local)[:, np.asarray(mask)]).all()
    # Too few slots (3 for 5 valid objects): the objects left out are NaN, not another's draws.
    _, short = nnx.jit(lambda m: m.sample(jax.random.key(2), data, mask, context, 50, n_active=3))(
        model
    )
    short = np.asarray(short)
    np.testing.assert_allclose(short[:, [3, 7, 8]], full[1][:, [3, 7, 8]], rtol=1e-5, atol=1e-6)
    assert np.isnan(short[:, [21, 39]]).all()


def test_active_slots_hold_every_valid_object_with_little_padding():
    from cigars.inference._posterior import active_slots

    sizes = list(range(1, 3000)) + [16_427, 100_003, 160_000]
    slots = np.array([active_slots(n, 10**7) for n in sizes])
    n = np.array(sizes)
    assert np.all(slots >= n)
    assert np.all(slots[n >= 512] <= 1.125 * n[n >= 512])
    assert len(set(slots[(n > 1024) & (n <= 2048)])) == 8  # eight size classes per octave
    assert active_slots(300, 200) == 200  # capped at n_max


@pytest.mark.long
@LOCAL_POSTERIORS
def test_local_draws_follow_the_local_density_given_each_draws_globals(key, x64, local_posterior):
    """Probability integral transform: each local draw's CDF under log_prob_locals at the
    same draw's globals (numerical integration) is uniform; the sampler and the density agree.

    Weights of scale 0.2: at 0.5 some draws' splines have bins narrower than the grid."""
    model = _randomise(
        _model(local_bounds=([0.0], [np.inf]), local_posterior=local_posterior), key, scale=0.2
    )
    data = jax.random.normal(key, (3, 2))
    mask = jnp.array([1, 0, 1], bool)
    context = jnp.ones((3, 1))
    theta, local = sample_posterior(model, jax.random.key(5), data, mask, context, 400)
    g = jnp.linspace(-25.0, 25.0, 4001)  # l = softplus(g)
    dl = jax.vmap(jax.grad(jax.nn.softplus))(g)
    grid = jnp.broadcast_to(jax.nn.softplus(g)[:, None, None, None], (g.size, 400, 3, 1))
    lp = nnx.jit(lambda m, l, t: m.log_prob_locals(l, t, data, mask, context))(model, grid, theta)
    dens = np.asarray(jnp.exp(lp) * dl[:, None, None])  # (grid, draw, object) in g
    cdf = np.cumsum(dens, 0) * float(g[1] - g[0])
    np.testing.assert_allclose(cdf[-1][:, [0, 2]], 1.0, atol=1e-3)  # the grid resolves q
    for i in (0, 2):
        g_draw = np.log(np.expm1(np.asarray(local[:, i, 0], float)))
        pit = np.array([np.interp(v, np.asarray(g), cdf[:, s, i]) for s, v in enumerate(g_draw)])
        assert stats.kstest(pit, "uniform").pvalue > 1e-3


def _laplace_columns(mode, cov):
    """A sample's Laplace features as ``sub_model.laplace`` writes them."""
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    return np.concatenate([mode, np.log(sd), corr[np.triu_indices(len(mode), 1)]])


@pytest.mark.long
def test_laplace_frame_centres_and_scales_by_the_surveys_gaussian(key, x64):
    """``global_frame: laplace``: for globals drawn from the Gaussian that a survey's trailing
    columns describe (in the unconstrained space), the flow's variables before their asinh have
    mean 0 and covariance corr / 4 (twice the marginal sds), and the change of variables'
    density is the Gaussian's (scipy, with du/dtheta written out); a non-finite entry falls
    back to the pilot standardisation."""
    rng = np.random.default_rng(1)
    lo, hi = np.array([0.0, -np.inf, -1.0]), np.array([2.0, np.inf, 1.0])
    a = rng.normal(size=(3, 3))
    cov = a @ a.T + 0.1 * np.eye(3)
    sd = np.sqrt(np.diag(cov))
    mode = np.array([0.4, -1.0, 0.2])
    cols = _laplace_columns(mode, cov)
    data = np.tile(np.concatenate([[5.0, -3.0], cols]), (5, 1))
    data[0, 2:] = rng.normal(size=9)  # an invalid slot's values: the frame is read elsewhere
    data, mask = jnp.asarray(data), jnp.array([0, 1, 1, 0, 1], bool)
    config = SMALL.replace(global_frame="laplace")
    model = HierarchicalNPE(
        config, n_theta=3, n_local=0, n_feat=11, theta_bounds=(lo, hi), rngs=nnx.Rngs(0)
    )
    assert model.frame_start == 2

    u = rng.multivariate_normal(mode, cov, size=20_000)
    theta = u.copy()
    for j in (0, 2):
        theta[:, j] = lo[j] + (hi[j] - lo[j]) / (1 + np.exp(-u[:, j]))
    log_du_dtheta = sum(
        np.log(1 / (theta[:, j] - lo[j]) + 1 / (hi[j] - theta[:, j])) for j in (0, 2)
    )
    w, ld = model.theta_to_w(jnp.asarray(theta), data, mask)
    w = np.asarray(w)
    x = np.sinh(w)  # the frame's offsets before the asinh
    np.testing.assert_allclose(x.mean(0), 0.0, atol=0.02)
    np.testing.assert_allclose(np.cov(x, rowvar=False), cov / np.outer(sd, sd) / 4, atol=0.01)
    # the density of x under N(0, corr / 4), times |dx/dw| = cosh(w), is the Gaussian's of u
    got = stats.multivariate_normal(np.zeros(3), cov / np.outer(sd, sd) / 4).logpdf(x)
    got += np.log(np.cosh(w)).sum(1)
    expected = stats.multivariate_normal(mode, cov).logpdf(u) + log_du_dtheta
    np.testing.assert_allclose(got + np.asarray(ld), expected, rtol=1e-6, atol=1e-6)
    back = model.w_to_theta(jnp.asarray(w), data, mask)
    np.testing.assert_allclose(back, theta, rtol=1e-6, atol=1e-8)

    # The loss reports the global NLL in the pilot-standardised units of both frames.
    sims = Simulation(
        theta=jnp.asarray(theta[:4]),
        locals=jnp.zeros((4, 5, 0)),
        data=jnp.broadcast_to(data, (4, 5, 11)),
        mask=jnp.broadcast_to(mask, (4, 5)),
        context=jnp.zeros((4, 5, 0)),
    )
    _, aux = model.loss(sims, key, 2)
    lp = model.log_prob_theta(sims.theta, data, mask)
    _, ld_z = model.theta_to_z(sims.theta)
    np.testing.assert_allclose(aux["global_nll"], -jnp.mean(lp - ld_z), rtol=1e-5)

    nan = data.at[:, 2].set(jnp.nan)  # the first global's mode
    w_nan, _ = model.theta_to_w(jnp.asarray(theta[:10]), nan, mask)
    z_pilot = model.theta_to_z(jnp.asarray(theta[:10]))[0]
    np.testing.assert_allclose(w_nan[:, 0], np.arcsinh(z_pilot[:, 0]), rtol=1e-6)
    np.testing.assert_allclose(w_nan[:, 1:], w[:10, 1:], rtol=1e-6)
    with pytest.raises(ValueError, match="global_frame: laplace reads the last 9"):
        HierarchicalNPE(config, n_theta=3, n_local=0, n_feat=8, rngs=nnx.Rngs(0))


def test_laplace_frame_scale_is_capped_in_pilot_sds(x64):
    """A degenerate fit's huge sd is clipped to ``frame_max_scale`` pilot sds; others pass."""
    mode, sd = np.array([0.3, -0.2]), np.array([np.exp(4.0), 0.4])
    data = jnp.asarray(np.tile(_laplace_columns(mode, np.diag(sd**2)), (3, 1)))
    mask = jnp.ones(3, bool)
    for cap in (10.0, 1.0):
        model = HierarchicalNPE(
            SMALL.replace(global_frame="laplace", frame_max_scale=cap),
            n_theta=2,
            n_local=0,
            n_feat=5,
            rngs=nnx.Rngs(0),
        )
        model.set_statistics({**model.statistics(), "theta_std": jnp.array([1.8, 1.0])})
        u = jnp.asarray([[1.3, 0.1]])
        w, _ = model.theta_to_w(u, data, mask)  # unbounded globals: u is theta
        np.testing.assert_allclose(np.sinh(w[0]), (u[0] - mode) / np.array([cap * 1.8, 0.8]))
