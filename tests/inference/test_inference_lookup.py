"""The reference-set lookup of the local posterior (`estimator.reference_lookup`).

Oracles: the chi-square against a numpy minimisation over the common offset written out per
reference; the lookup features against numpy softmax moments; identification of a reference
from its noisy, shifted values. Then the estimator's wiring: the lookup reaches the local
posterior, its arrays are fitted, checkpointed and reloaded, and misuse is refused.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
from inference_tiny import TINY

from cigars.inference import (
    NPEConfig,
    NumpyroPrior,
    ReferenceSet,
    Simulation,
    Statistic,
    TrainingConfig,
    load_estimator,
    lookup_chi2,
    lookup_features,
    sample_posterior,
    train,
)
from cigars.inference._lookup import SD_FLOOR

RNG = np.random.default_rng(7)
N_REF, N_COL, N_MAX = 40, 3, 12
REF_VALUES = RNG.normal(0.0, 1.0, (N_REF, N_COL))
REF_LOCALS = np.stack([RNG.uniform(0.1, 0.9, N_REF), RNG.normal(size=N_REF)], -1)
SIGMA = 0.05


def numpy_chi2(x, sigma, ref):
    """min over o of sum_b ((x_b - ref_b - o) / sigma_b)^2, one reference at a time."""
    w = 1.0 / sigma**2
    out = np.empty(ref.shape[0])
    for r in range(ref.shape[0]):
        d = x - ref[r]
        o = np.sum(w * d) / np.sum(w)
        out[r] = np.sum(w * (d - o) ** 2)
    return out


def test_chi2_fits_out_a_common_offset_and_weighs_each_column():
    x = RNG.normal(size=(5, N_COL)) + 20.0  # magnitudes far from the references' zero point
    sigma = RNG.uniform(0.02, 0.2, (5, N_COL))
    ref = REF_VALUES - REF_VALUES.mean(-1, keepdims=True)
    got = np.asarray(lookup_chi2(jnp.asarray(x), jnp.log(jnp.asarray(sigma)), jnp.asarray(ref)))
    want = np.stack([numpy_chi2(x[i], sigma[i], REF_VALUES) for i in range(5)])
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-2)


def test_expected_offsets_add_the_offsets_miss():
    x = RNG.normal(size=(5, N_COL)) + 20.0
    sigma = RNG.uniform(0.02, 0.2, (5, N_COL))
    offsets = RNG.uniform(19.0, 21.0, N_REF)
    reference = ReferenceSet(REF_VALUES, REF_LOCALS, (0, 1, 2), (3, 4, 5), offsets, 0.4)
    ref = REF_VALUES - REF_VALUES.mean(-1, keepdims=True)
    got = np.asarray(
        lookup_chi2(
            jnp.asarray(x),
            jnp.log(jnp.asarray(sigma)),
            jnp.asarray(ref),
            jnp.asarray(reference.targets()),
        )
    )
    for i in range(5):
        w = 1.0 / sigma[i] ** 2
        o = (w * (x[i] - REF_VALUES)).sum(-1) / w.sum()  # each reference's fitted offset
        want = numpy_chi2(x[i], sigma[i], REF_VALUES) + ((o - offsets) / 0.4) ** 2
        np.testing.assert_allclose(got[i], want, rtol=2e-3, atol=3e-2)
    with pytest.raises(ValueError, match="offsets must be 40 finite values"):
        ReferenceSet(REF_VALUES, REF_LOCALS, (0, 1, 2), (3, 4, 5), offsets[:3])


@pytest.mark.parametrize("n", [7, 150])  # one chunk; several, with padding
def test_features_are_the_softmax_moments_of_the_references(n):
    ref = REF_VALUES - REF_VALUES.mean(-1, keepdims=True)
    ref_z = RNG.normal(size=(N_REF, 2))
    pick = RNG.integers(0, N_REF, n)
    x = REF_VALUES[pick] + 3.0 + RNG.normal(0.0, 0.5, (n, N_COL))  # wide: real mixtures
    sigma = RNG.uniform(0.3, 0.6, (n, N_COL))
    got = np.asarray(
        lookup_features(
            jnp.asarray(x.reshape(1, n, N_COL)),
            jnp.log(jnp.asarray(sigma.reshape(1, n, N_COL))),
            jnp.asarray(ref),
            jnp.asarray(ref_z),
            chunk=64,
        )
    )[0]
    for i in range(n):
        chi2 = numpy_chi2(x[i], sigma[i], REF_VALUES)
        p = np.exp(-0.5 * (chi2 - chi2.min()))
        p /= p.sum()
        mean = p @ ref_z
        sd = np.sqrt(p @ ref_z[:, 0] ** 2 - mean[0] ** 2)
        want = np.concatenate([mean, [np.log(sd + SD_FLOOR), np.log1p(chi2.min())]])
        np.testing.assert_allclose(got[i], want, rtol=1e-3, atol=2e-3)


def test_a_shifted_noisy_reference_is_identified():
    """With errors much smaller than the references' separations, the lookup is a point."""
    ref = REF_VALUES - REF_VALUES.mean(-1, keepdims=True)
    pick = np.arange(N_REF)
    x = REF_VALUES[pick] + RNG.normal(0, 3, (N_REF, 1)) + RNG.normal(0, 0.01, (N_REF, N_COL))
    f = np.asarray(
        lookup_features(
            jnp.asarray(x),
            jnp.full((N_REF, N_COL), np.log(0.01)),
            jnp.asarray(ref),
            jnp.asarray(REF_LOCALS),
        )
    )
    np.testing.assert_allclose(f[:, :2], REF_LOCALS[pick], atol=1e-4)
    # No spread (one reference), up to float32 rounding of E[z^2] - E[z]^2 (~2e-4 here).
    assert np.all(f[:, 2] < np.log(SD_FLOOR + 3e-4))
    assert np.all(f[:, 3] < np.log1p(30.0))  # chi2 of the truth, ~chi2 with 2 dof


def test_reference_set_checks_its_shapes():
    with pytest.raises(ValueError, match="must share n_ref"):
        ReferenceSet(REF_VALUES, REF_LOCALS[:-1], (0, 1, 2), (3, 4, 5))
    with pytest.raises(ValueError, match="as many data columns"):
        ReferenceSet(REF_VALUES, REF_LOCALS, (0, 1), (3, 4, 5))
    with pytest.raises(ValueError, match="finite"):
        ReferenceSet(np.full((3, 2), np.nan), np.zeros((3, 1)), (0, 1), (2, 3))


# -- the estimator ---------------------------------------------------------------------------

REFERENCE = ReferenceSet(
    REF_VALUES, REF_LOCALS[:, :1], (0, 1, 2), (3, 4, 5), np.zeros(N_REF), offset_sd=2.0
)
PRIOR = NumpyroPrior(dist.Normal(jnp.zeros(1), jnp.ones(1)))
LOCAL_BOUNDS = (np.array([0.0, -np.inf]), np.array([1.0, np.inf]))


def simulate(key, theta):
    """Objects are references seen through noise, shifted by a common offset theta * 2."""
    k_n, k_pick, k_x, k_e = jax.random.split(key, 4)
    n = jax.random.randint(k_n, (), 3, N_MAX + 1)
    mask = jnp.arange(N_MAX) < n
    pick = jax.random.randint(k_pick, (N_MAX,), 0, N_REF)
    local = jnp.stack(
        [jnp.asarray(REF_LOCALS[:, 0])[pick], jnp.asarray(REF_LOCALS[:, 1])[pick]], -1
    )
    x = jnp.asarray(REF_VALUES)[pick] + 2.0 * theta[0] + SIGMA * jax.random.normal(k_x, (N_MAX, 3))
    data = jnp.concatenate([x, jnp.full((N_MAX, 3), jnp.log(SIGMA))], -1)
    return Simulation(theta, local, data, mask, jnp.zeros((N_MAX, 0)))


def config(lookup=True):
    est = TINY.replace(reference_lookup=lookup)
    training = TrainingConfig(
        steps=10,
        batch_size=4,
        warmup_steps=2,
        n_pilot=8,
        n_val=8,
        val_every=5,
        log_every=5,
        checkpoint_every=5,
        local_subsample=6,
    )
    return NPEConfig(seed=1, estimator=est, training=training)


@pytest.mark.long
def test_the_lookup_reaches_the_local_posterior_and_is_checkpointed(tmp_path):
    res = train(
        config(),
        simulate,
        PRIOR,
        tmp_path,
        local_bounds=LOCAL_BOUNDS,
        reference=REFERENCE,
        progress=False,
    )
    est = res.estimator
    # The fitted arrays: centred reference values, standardised unconstrained latents.
    np.testing.assert_allclose(
        est.ref_values[...], REF_VALUES - REF_VALUES.mean(-1, keepdims=True), atol=1e-6
    )
    u = np.log(REF_LOCALS[:, 0] / (1 - REF_LOCALS[:, 0]))  # the (0, 1) support's logit
    want = (u - np.asarray(est.local_mean[...])[0]) / np.asarray(est.local_std[...])[0]
    np.testing.assert_allclose(np.asarray(est.ref_z[...])[:, 0], want, rtol=1e-4, atol=1e-4)
    # Each object's side input ends with its lookup, standardised: the mean latent of the
    # references weighted by how well each explains the object's data.
    sim = simulate(jax.random.key(5), jnp.array([0.3]))
    ctx = np.asarray(est.local_context(sim.data, jnp.zeros((N_MAX, 0))))
    assert ctx.shape == (N_MAX, 3)
    mean_z = ctx[:, 0] * np.asarray(est.lookup_std[...])[0] + np.asarray(est.lookup_mean[...])[0]
    ref_z = np.asarray(est.ref_z[...])[:, 0]
    for i, row in enumerate(np.asarray(sim.data)):
        w = np.exp(-2 * row[3:])
        o = (w * (row[:3] - REF_VALUES)).sum(-1) / w.sum()
        chi2 = numpy_chi2(row[:3], np.exp(row[3:]), REF_VALUES) + (o / 2.0) ** 2
        p = np.exp(-0.5 * (chi2 - chi2.min()))
        np.testing.assert_allclose(mean_z[i], p @ ref_z / p.sum(), atol=2e-3)
    # Reloaded from the checkpoint (no reference set needed), the draws are the same.
    again = load_estimator(tmp_path)
    a = sample_posterior(est, jax.random.key(2), sim.data, sim.mask, sim.context, 8)
    b = sample_posterior(again, jax.random.key(2), sim.data, sim.mask, sim.context, 8)
    np.testing.assert_array_equal(a[1], b[1])
    # A different lookup changes the local draws: the posterior reads it.
    other = load_estimator(tmp_path)
    other.ref_z = Statistic(jnp.asarray(other.ref_z[...]) + 1.0)
    c = sample_posterior(other, jax.random.key(2), sim.data, sim.mask, sim.context, 8)
    np.testing.assert_array_equal(a[0], c[0])
    assert not np.allclose(np.nan_to_num(a[1]), np.nan_to_num(c[1]))


def test_lookup_and_reference_set_must_come_together(tmp_path):
    with pytest.raises(ValueError, match="needs a reference set"):
        train(config(), simulate, PRIOR, tmp_path / "a", local_bounds=LOCAL_BOUNDS, progress=False)
    with pytest.raises(ValueError, match="reference_lookup is false"):
        train(
            config(False),
            simulate,
            PRIOR,
            tmp_path / "b",
            local_bounds=LOCAL_BOUNDS,
            reference=REFERENCE,
            progress=False,
        )
    wrong = ReferenceSet(REF_VALUES, REF_LOCALS, (0, 1, 2), (3, 4, 9))
    with pytest.raises(ValueError, match=r"log_err_columns \[9\] outside the 6 features"):
        train(
            config(),
            simulate,
            PRIOR,
            tmp_path / "c",
            local_bounds=LOCAL_BOUNDS,
            reference=wrong,
            progress=False,
        )


@pytest.mark.long
def test_the_sampled_flow_reads_the_encodings_without_training_them():
    """With a lookup, the encoder and summary are trained by the global flow and an auxiliary
    local flow without the lookup: the sampled local flow's parameters do not change their
    gradient (they would, were its loss backpropagated into them)."""
    from flax import nnx

    from cigars.inference import HierarchicalNPE, simulate_batch

    sims = simulate_batch(simulate, PRIOR, jax.random.key(0), 8)
    est = HierarchicalNPE(
        config().estimator,
        n_theta=1,
        n_local=2,
        n_feat=6,
        theta_bounds=(np.array([-np.inf]), np.array([np.inf])),
        local_bounds=LOCAL_BOUNDS,
        reference=REFERENCE.spec(),
        rngs=nnx.Rngs(params=0),
    )
    est.fit_statistics(sims, REFERENCE)
    assert est.local_flow_aux is not None
    # Away from the initialisation, where the flows start as the identity and so ignore
    # their context.
    params = nnx.state(est, nnx.Param)
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(3), len(leaves))
    noisy = [p + 0.1 * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys, strict=True)]
    nnx.update(est, jax.tree.unflatten(tree, noisy))

    @nnx.jit
    def embedding_grad(model):
        grads = nnx.grad(lambda m: m.loss(sims, jax.random.key(1), 6)[0])(model)
        return nnx.state(grads.embedding, nnx.Param)

    before = jax.tree.leaves(embedding_grad(est))
    params = nnx.state(est.local_flow, nnx.Param)
    nnx.update(est.local_flow, jax.tree.map(lambda p: p + 0.3, params))
    after = jax.tree.leaves(embedding_grad(est))
    assert any(np.abs(np.asarray(b)).max() > 0 for b in before)
    for b, a in zip(before, after, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="needs local_posterior: flow"):
        TINY.replace(reference_lookup=True, local_posterior="mixture").validate()
