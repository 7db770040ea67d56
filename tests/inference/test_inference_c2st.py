"""The classifier two-sample test on distributions with known separability."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from scipy.stats import norm

from cigars.inference import c2st


def test_same_distribution_is_near_chance(key):
    k1, k2, k3 = jax.random.split(key, 3)
    a = jax.random.normal(k1, (2000, 3))
    b = jax.random.normal(k2, (2000, 3))
    assert 0.45 <= c2st(k3, a, b, steps=300) <= 0.55


def test_shifted_gaussians_match_bayes_accuracy(key):
    """Oracle: the best accuracy separating N(0, 1) from N(d, 1) is Phi(d / 2)."""
    k1, k2, k3 = jax.random.split(key, 3)
    d = 1.0
    a = jax.random.normal(k1, (4000, 1))
    b = jax.random.normal(k2, (4000, 1)) + d
    acc = c2st(k3, a, b, steps=300)
    assert abs(acc - norm.cdf(d / 2)) < 0.03
    far = c2st(k3, a, b + 5.0, steps=300)
    assert far > 0.99


def test_bad_input_raises(key):
    with pytest.raises(ValueError, match="dimension"):
        c2st(key, np.zeros((20, 2)), np.zeros((20, 3)))
    with pytest.raises(ValueError, match="finite"):
        c2st(key, np.full((20, 2), np.nan), np.zeros((20, 2)))
    with pytest.raises(ValueError, match="at least"):
        c2st(key, np.zeros((5, 2)), np.zeros((5, 2)))
