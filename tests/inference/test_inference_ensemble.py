"""Deep ensembles: the mixture's density and draws against its members, computed apart."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from inference_tiny import TINY
from scipy import stats

from cigars.inference import EnsembleNPE, HierarchicalNPE, posterior_log_prob, sample_posterior

BOUNDS = ([0.0, -1.0], [2.0, 1.0])


def _member(key, seed, n_theta=2, scale=0.5, shift=0.0):
    """A randomly parameterised estimator; ``shift`` moves its globals' standardised centre."""
    model = nnx.jit(
        lambda: HierarchicalNPE(
            TINY,
            n_theta=n_theta,
            n_local=1,
            n_feat=2,
            n_ctx=1,
            theta_bounds=BOUNDS if n_theta == 2 else None,
            local_bounds=([0.0], [np.inf]),
            rngs=nnx.Rngs(seed),
        )
    )()
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    leaves = [scale * jax.random.normal(k, x.shape) for k, x in zip(keys, leaves, strict=True)]
    model = nnx.merge(graphdef, jax.tree.unflatten(treedef, leaves), rest)
    stats_ = model.statistics()
    model.set_statistics({**stats_, "theta_mean": stats_["theta_mean"] + shift})
    return model


def _survey(key):
    data = jax.random.normal(key, (6, 2))
    return data, jnp.array([1, 1, 0, 1, 1, 0], bool), jnp.zeros((6, 1))


def test_ensemble_density_is_the_equal_weight_mixture(key):
    k1, k2, k3 = jax.random.split(key, 3)
    members = (_member(k1, 0), _member(k2, 1))
    survey = _survey(k3)
    theta, _ = sample_posterior(members[0], k3, *survey, num_samples=50)
    got = posterior_log_prob(EnsembleNPE(members), theta, *survey)
    each = np.stack(
        [np.asarray(posterior_log_prob(m, theta, *survey), np.float64) for m in members]
    )
    expected = np.log(0.5 * np.exp(each[0]) + 0.5 * np.exp(each[1]))
    assert np.max(np.abs(each[0] - each[1])) > 0.1  # the members differ: the test can fail
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.long
def test_ensemble_draws_follow_the_mixture(key):
    """Globals match the members' pooled draws (half each); locals respect mask and support."""
    k1, k2, k3, k4 = jax.random.split(key, 4)
    members = (_member(k1, 0, shift=-1.0), _member(k2, 1, shift=1.0))
    survey = _survey(k3)
    n = 3000
    theta, local = sample_posterior(EnsembleNPE(members), k4, *survey, num_samples=n)
    assert theta.shape == (n, 2) and local.shape == (n, 6, 1)
    mask = np.asarray(survey[1])
    assert np.all(np.isnan(np.asarray(local)[:, ~mask])) and np.all(np.asarray(local)[:, mask] > 0)
    pooled = [
        np.asarray(sample_posterior(m, k, *survey, num_samples=n)[0])
        for m, k in zip(members, jax.random.split(k4, 2), strict=True)
    ]
    # the members' globals differ, so drawing from one member only would fail this
    assert stats.ks_2samp(pooled[0][:, 0], pooled[1][:, 0]).pvalue < 1e-6
    mixture = np.concatenate([p[: n // 2] for p in pooled])
    for j in range(2):
        assert stats.ks_2samp(np.asarray(theta)[:, j], mixture[:, j]).pvalue > 1e-3

    # about as many draws sit where member 0's density is the higher one as in the pool
    def share(draws):
        log_q = [np.asarray(posterior_log_prob(m, draws, *survey)) for m in members]
        return float(np.mean(log_q[0] > log_q[1]))

    assert abs(share(np.asarray(theta)) - share(mixture)) < 0.05


def test_ensemble_refuses_mismatched_members(key):
    k1, k2 = jax.random.split(key)
    with pytest.raises(ValueError, match="at least 2 members"):
        EnsembleNPE((_member(k1, 0),))
    with pytest.raises(ValueError, match="member 1 has n_theta=1"):
        EnsembleNPE((_member(k1, 0), _member(k2, 1, n_theta=1)))
