"""Classifier two-sample test (C2ST) with a small JAX MLP and k-fold cross-validation.

Lopez-Paz & Oquab (2017), "Revisiting classifier two-sample tests", ICLR: train a classifier to
tell samples of ``P`` from samples of ``Q``; held-out accuracy near 0.5 means the classifier
cannot distinguish them, 1.0 means they are disjoint. Used in SBI benchmarks (Lueckmann et al.
2021, "Benchmarking simulation-based inference", AISTATS) as a posterior-accuracy metric.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from cigars._types import Array, Float, Key

__all__ = ["c2st"]


def _init(key, sizes):
    params = []
    for k, (a, b) in zip(
        jax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:], strict=True), strict=True
    ):
        params.append((jax.random.normal(k, (a, b)) * jnp.sqrt(2.0 / a), jnp.zeros(b)))
    return params


def _logits(params, x):
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    w, b = params[-1]
    return (x @ w + b)[..., 0]


@functools.partial(jax.jit, static_argnums=(5, 6, 7))
@functools.partial(jax.vmap, in_axes=(0, 0, 0, 0, 0, None, None, None))
def _fit_and_score(key, x_train, y_train, x_test, y_test, hidden, steps, lr):
    """Train the classifier on one split and return its held-out accuracy (vmapped over folds)."""
    params = _init(key, [x_train.shape[-1], hidden, hidden, 1])
    tx = optax.adam(lr)

    def loss_fn(p):
        return optax.sigmoid_binary_cross_entropy(_logits(p, x_train), y_train).mean()

    def body(carry, _):
        p, s = carry
        g = jax.grad(loss_fn)(p)
        u, s = tx.update(g, s, p)
        return (optax.apply_updates(p, u), s), None

    (params, _), _ = jax.lax.scan(body, (params, tx.init(params)), None, length=steps)
    pred = _logits(params, x_test) > 0
    return jnp.mean(pred == (y_test > 0.5))


def c2st(
    key: Key,
    x: Float[Array, "n d"],
    y: Float[Array, "m d"],
    *,
    n_folds: int = 5,
    hidden: int | None = None,
    steps: int = 1000,
    learning_rate: float = 1e-2,
) -> float:
    """Cross-validated accuracy of an MLP classifier separating samples ``x`` from ``y``.

    Both sets are truncated to the same size ``n`` (rounded down to a multiple of ``n_folds``),
    z-scored with the pooled statistics of the training folds, and a two-hidden-layer ReLU MLP
    (width ``max(64, 10 d)`` by default) is trained full-batch with Adam for ``steps`` steps on
    each training split; the held-out accuracies are averaged.

    Args:
        key: PRNG key (shuffling and initialisation).
        x: samples from the first distribution.
        y: samples from the second distribution (same dimension).
        n_folds: cross-validation folds (>= 2).
        hidden: MLP width.
        steps: Adam steps per fold.
        learning_rate: Adam learning rate.

    Returns:
        Mean held-out accuracy in [0, 1]; 0.5 is chance.

    Raises:
        ValueError: for mismatched dimensions, non-finite values or too few samples.

    Example:
        >>> k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
        >>> a = jax.random.normal(k1, (500, 2))
        >>> b = jax.random.normal(k2, (500, 2)) + 3.0
        >>> c2st(k3, a, b, steps=200) > 0.95
        True
    """
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.float32)
    if x.ndim == 1:
        x = x[:, None]
    if y.ndim == 1:
        y = y[:, None]
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"c2st: need samples of equal dimension, got {x.shape} and {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("c2st: samples must be finite")
    if n_folds < 2:
        raise ValueError(f"c2st: n_folds must be >= 2, got {n_folds}")
    n = (min(len(x), len(y)) // n_folds) * n_folds
    if n < 2 * n_folds:
        raise ValueError(
            f"c2st: need at least {2 * n_folds} samples per set, got {min(len(x), len(y))}"
        )
    d = x.shape[1]
    hidden = hidden or max(64, 10 * d)
    k_perm, k_fit = jax.random.split(key)
    kx, ky = jax.random.split(k_perm)
    x = x[np.asarray(jax.random.permutation(kx, len(x)))[:n]]
    y = y[np.asarray(jax.random.permutation(ky, len(y)))[:n]]
    data = np.concatenate([x, y])
    labels = np.concatenate([np.zeros(n), np.ones(n)]).astype(np.float32)
    fold = np.concatenate([np.arange(n) % n_folds, np.arange(n) % n_folds])
    splits = []
    for f in range(n_folds):
        tr, te = fold != f, fold == f
        mu, sd = data[tr].mean(0), data[tr].std(0)
        sd = np.where(sd > 0, sd, 1.0)
        z = (data - mu) / sd
        splits.append((z[tr], labels[tr], z[te], labels[te]))
    x_tr, y_tr, x_te, y_te = (np.stack(a) for a in zip(*splits, strict=True))
    keys = jax.random.split(k_fit, n_folds)
    scores = _fit_and_score(keys, x_tr, y_tr, x_te, y_te, hidden, steps, learning_rate)
    return float(np.mean(np.asarray(scores)))
