"""Hierarchical inverse-CDF categorical sampling: frequencies, zero weights, edge cases."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from cigars.sn import (
    sample_categorical_blocked,
    sample_categorical_columns,
    sample_categorical_rows,
)


def chi2_pvalue(counts, probs):
    expected = probs * counts.sum()
    keep = expected > 0
    chi2 = np.sum((counts[keep] - expected[keep]) ** 2 / expected[keep])
    return stats.chi2.sf(chi2, keep.sum() - 1)


sample = jax.jit(sample_categorical_blocked, static_argnums=(2, 3))


@pytest.mark.parametrize("n,block", [(1000, 32), (777, 8), (5, 32), (40000, 32), (40000, 64)])
def test_frequencies_match_weights(n, block):
    rng = np.random.default_rng(n)
    w = rng.lognormal(0.0, 1.5, n)
    w[rng.uniform(size=n) < 0.3] = 0.0  # undetected hosts
    n_samples = 200_000
    idx = np.asarray(sample(jax.random.key(n), jnp.asarray(w, jnp.float32), n_samples, block))
    assert idx.min() >= 0 and idx.max() < n
    assert np.all(w[idx] > 0), "a zero-weight outcome was drawn"
    counts = np.bincount(idx, minlength=n).astype(float)
    if n > 2000:  # group outcomes so every cell has a healthy expectation
        order = np.argsort(w)
        groups = np.array_split(order, 200)
        counts = np.array([counts[g].sum() for g in groups])
        w = np.array([w[g].sum() for g in groups])
    assert chi2_pvalue(counts, w / w.sum()) > 1e-4


def test_rare_heavy_outcomes_in_huge_array_keep_their_probability():
    """A float32 single-level cumsum over 10^6 weights distorts them; the tree must not."""
    n = 1_000_000
    w = np.full(n, 1e-3, np.float32)
    special = np.arange(0, n, 1000)
    w[special] = 1.0
    idx = np.asarray(sample(jax.random.key(2), jnp.asarray(w), 100_000, 32))
    p = 1000 / w.sum(dtype=np.float64)
    hits = np.isin(idx, special).sum()
    assert abs(hits - 100_000 * p) < 5 * np.sqrt(100_000 * p * (1 - p))


def test_all_zero_weights_give_in_range_indices():
    idx = sample(jax.random.key(0), jnp.zeros(100), 50, 32)
    assert idx.shape == (50,) and idx.dtype == jnp.int32
    assert int(idx.min()) >= 0 and int(idx.max()) < 100


def test_single_positive_weight_is_always_drawn():
    w = jnp.zeros(1000).at[432].set(2.5)
    idx = sample(jax.random.key(7), w, 1000, 32)
    assert np.all(np.asarray(idx) == 432)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="block_size"):
        sample_categorical_blocked(jax.random.key(0), jnp.ones(10), 3, block_size=1)
    with pytest.raises(ValueError, match="1-d"):
        sample_categorical_blocked(jax.random.key(0), jnp.ones((2, 3)), 3)


def test_row_categorical_frequencies_and_zero_columns():
    w = np.array([[0.0, 1.0, 0.0, 3.0, 0.5], [2.0, 0.0, 0.0, 0.0, 0.0], [0.2, 0.2, 0.2, 0.2, 0.2]])
    n = 60_000
    rows = np.repeat(w, n, axis=0)
    idx = np.asarray(jax.jit(sample_categorical_rows)(jax.random.key(4), jnp.asarray(rows)))
    assert np.all(rows[np.arange(len(rows)), idx] > 0)
    for i in range(3):
        counts = np.bincount(idx[i * n : (i + 1) * n], minlength=5).astype(float)
        if np.count_nonzero(w[i]) == 1:
            assert counts[np.argmax(w[i])] == n
        else:
            assert chi2_pvalue(counts, w[i] / w[i].sum()) > 1e-4


def test_column_categorical_joint_frequencies_and_zero_weights():
    """(row, col) pairs drawn with probability w[row, col] / sum(w); zero cells never drawn."""
    rng = np.random.default_rng(5)
    w = rng.lognormal(0.0, 1.0, (5, 40))
    w[rng.uniform(size=w.shape) < 0.3] = 0.0
    w[:, 7] = 0.0  # a column (galaxy) with no weight at all
    n = 400_000
    fn = jax.jit(sample_categorical_columns, static_argnums=(2, 3))
    row, col = (np.asarray(a) for a in fn(jax.random.key(9), jnp.asarray(w, jnp.float32), n, 8))
    assert row.dtype == np.int32 and col.dtype == np.int32
    assert np.all(w[row, col] > 0)
    counts = np.zeros_like(w)
    np.add.at(counts, (row, col), 1)
    assert chi2_pvalue(counts.ravel(), (w / w.sum()).ravel()) > 1e-4


@pytest.mark.parametrize("b", [1, 2, 3, 5, 7, 45, 64, 100])
def test_search_is_numpys_searchsorted(b):
    """The per-sample bisection finds the first running sum above r (ties included)."""
    from cigars.sn._sampling import _first_above

    rng = np.random.default_rng(b)
    m = 13
    w = rng.integers(0, 3, (b, m)).astype(np.float32)  # zeros make equal running sums
    cum = np.cumsum(w, axis=0)
    col = rng.integers(0, m, 500)
    # r on running sums exactly (ties), between them, below the first and above the last
    r = np.concatenate(
        [cum[rng.integers(0, b, 200), col[:200]], rng.uniform(-1, cum.max() + 1, 300)]
    )
    got = jax.jit(_first_above)(
        jnp.asarray(cum), jnp.asarray(col, jnp.int32), jnp.asarray(r, jnp.float32)
    )
    want = [
        min(np.searchsorted(cum[:, c], x, side="right"), b - 1) for c, x in zip(col, r, strict=True)
    ]
    np.testing.assert_array_equal(np.asarray(got), want)
