r"""Selection normalisation: the detection probability of a SN with known redshift and host.

As a function of the global parameters. The simulator keeps a SN with probability
:math:`p_\mathrm{det}(z_\mathrm{hel}, m_\mathrm{obs})`
(:class:`~cigars.survey.ApplySelection`), where :math:`m_\mathrm{obs} = m + \sqrt{W}\epsilon`
with :math:`\ln W \sim N(s(m - m_p), \sigma_W)` (:class:`~cigars.survey.ObserveSupernovae`) and
:math:`m = m_0 + k_m(a_0 + A_V)`: the dust-free magnitude :math:`m_0` plus the SN dust
(:class:`~cigars.sn.ApplySNDust`). Neither the noise, its variance, nor the dust depends on the
global parameters, so the detection probability *as a function of the dust-free magnitude*,

.. math::

    \tilde P_i(m_0) = E_{R_V, A_V}\,E_{\ln W, \epsilon}\big[
        p_\mathrm{det}(z_i, m_0 + k_m(a_{0,i} + A_V) + \sqrt{W}\epsilon)\big],

is tabulated once per supernova (:func:`selection_grid`). Given the global parameters,
:math:`m_0 \sim N(\bar m_i(\theta), s(\theta))` (:func:`~cigars.likelihood.mean_magnitude`,
:math:`s^2 = L_m L_m^\top`), and the normalisation of each detected SN's likelihood is

.. math::

    p(\mathrm{det}\mid\theta) = \int \tilde P_i(m)\, N(m; \bar m_i, s)\,dm
    = \tilde P_i(m_K) + \sum_k \big(\tilde P_i(m_k) - \tilde P_i(m_{k+1})\big)\,
      \Phi\Big(\frac{m_{k+1/2} - \bar m_i}{s}\Big),

integrating by parts with :math:`\tilde P_i` piecewise linear on the grid
:math:`m_0 < \dots < m_K` (constant outside) and the Gaussian CDF at segment midpoints.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.scipy.special import ndtr

from cigars._types import Array, Float
from cigars.likelihood._sn import SNData, SNModel, mean_magnitude, population_loading
from cigars.survey import AbstractSelection

__all__ = [
    "SelectionGrid",
    "detection_probability",
    "log_detection_probability",
    "selection_grid",
]


class SelectionGrid(struct.PyTreeNode):
    """Each supernova's detection probability on a window of dust-free magnitudes.

    Attributes:
        m_start: (n,) first grid magnitude of each SN's window [mag].
        p: (n, K + 1) detection probability at ``m_start + k * step``.
        step: grid spacing [mag] (static).
    """

    m_start: Float[Array, " n_sn"]
    p: Float[Array, "n_sn n_grid"]
    step: float = struct.field(pytree_node=False, default=0.03)


def _effective_probability(
    selection: AbstractSelection,
    model: SNModel,
    z: Float[Array, ""],
    m: Float[Array, " n_m"],
    sd_obs: Float[Array, ""],
    n_gh: int,
) -> Float[Array, " n_m"]:
    """E over the measurement noise of p_det(z, m + noise) for one SN (GH quadrature)."""
    t, w = np.polynomial.hermite.hermgauss(n_gh)
    eps = jnp.asarray(math.sqrt(2.0) * t, m.dtype)
    wts = jnp.asarray(w / math.sqrt(math.pi), m.dtype)
    if model.uses_var_m:
        ln_w = model.var_m_slope * (m[:, None] - model.var_m_pivot) + model.var_m_sd * eps
        sd = jnp.exp(0.5 * ln_w)[:, :, None]  # (n_m, n_eta, 1)
        m_obs = m[:, None, None] + sd * eps
        p = selection.detection_probability(z, m_obs)
        return jnp.einsum("mab,a,b->m", p, wts, wts)
    m_obs = m[:, None] + sd_obs * eps
    return selection.detection_probability(z, m_obs) @ wts


def _interp_rows(values: Array, start: Array, step: float, m: Array) -> Array:
    """Linear interpolation of each row's values on ``start + k step`` at ``m`` (clamped)."""
    n = values.shape[-1]
    pos = jnp.clip((m - start[:, None]) / step, 0.0, n - 1.0)
    i = jnp.clip(jnp.floor(pos).astype(jnp.int32), 0, n - 2)
    t = pos - i
    lo = jnp.take_along_axis(values, i, axis=1)
    hi = jnp.take_along_axis(values, i + 1, axis=1)
    return lo + t * (hi - lo)


def selection_grid(
    selection: AbstractSelection,
    model: SNModel,
    data: SNData,
    *,
    step: float = 0.03,
    tol: float = 1e-5,
    m_range: tuple[float, float] = (5.0, 35.0),
    n_gh: int = 12,
    n_dust: int = 24,
) -> SelectionGrid:
    r"""Tabulate each SN's detection probability as a function of its dust-free magnitude.

    Computes :math:`\tilde P_i` of the module docstring: the noise average by Gauss-Hermite
    (``n_gh`` nodes per noise dimension), :math:`A_V` by Gauss-Legendre on
    :math:`[0, \tau\ln(1/\mathrm{tol})]` against its density (``n_dust`` nodes, linear
    interpolation of the noise-averaged table), :math:`R_V` on the model's nodes. A
    coarse pass (0.1 mag over ``m_range``) finds where the noise-averaged probability changes
    by more than ``tol``; the fine grid (``step``) covers that window widened by the largest
    dust shift, with the same number of points for every SN.

    Args:
        selection: the detection probability p_det(z, m).
        model: the SN model: its ln W_mm noise model (without one, each SN's own m_B variance
            ``data.cov[:, 0, 0]`` is the noise) and its SN dust.
        data: the supernovae (uses ``z_hel``, ``cov`` and ``dust2``).
        step: fine grid spacing [mag] (0.03: the normalisation is within ~2e-4 of a 0.005-mag
            grid for the reference's logistic selection; the cost per likelihood evaluation is
            proportional to the number of grid points).
        tol: flatness tolerance that defines the window (the error it causes is below 2 tol).
        m_range: magnitudes searched [mag].
        n_gh: Gauss-Hermite nodes per noise dimension.
        n_dust: Gauss-Legendre nodes over the exponential part of A_V.

    Returns:
        The :class:`SelectionGrid` of :math:`\tilde P_i`.

    Raises:
        ValueError: if a SN's probability still changes at the ends of ``m_range``.
    """
    dtype = data.y.dtype
    sd_obs = jnp.sqrt(data.cov[:, 0, 0])

    def noise_averaged(m_start, offsets):
        fn = jax.vmap(
            lambda z, m0, s: _effective_probability(selection, model, z, m0 + offsets, s, n_gh)
        )
        return jax.jit(fn)(data.z_hel, m_start, sd_obs)

    coarse_m = np.arange(m_range[0], m_range[1] + 1e-9, 0.1)
    coarse = np.asarray(
        noise_averaged(
            jnp.full(data.n, coarse_m[0], dtype), jnp.asarray(coarse_m - coarse_m[0], dtype)
        )
    )
    moving_lo = np.abs(coarse - coarse[:, :1]) > tol
    moving_hi = np.abs(coarse - coarse[:, -1:]) > tol
    at_edge = (np.abs(coarse[:, 1] - coarse[:, 0]) > tol) | (
        np.abs(coarse[:, -1] - coarse[:, -2]) > tol
    )
    if at_edge.any():
        i = int(np.flatnonzero(at_edge)[0])
        raise ValueError(
            f"selection_grid: the detection probability of SN {i} still changes at the ends "
            f"of m_range {m_range}"
        )
    n_c = coarse.shape[1]
    first = np.where(moving_lo.any(1), np.argmax(moving_lo, axis=1), 0)
    last = np.where(moving_hi.any(1), n_c - 1 - np.argmax(moving_hi[:, ::-1], axis=1), 0)
    lo = coarse_m[np.maximum(first - 1, 0)]
    hi = coarse_m[np.minimum(last + 1, n_c - 1)]

    # Dust shifts k_m (a0 + A_V) per SN, flattened over the (R_V, A_V) nodes, and their weights.
    a0 = np.asarray(model.av_per_dust2 * np.asarray(data.dust2), float)
    if model.has_dust:
        k_m = 1.0 + 1.0 / np.asarray(model.rv_nodes)
        w_rv = np.asarray(model.rv_weights)
    else:
        k_m, w_rv = np.ones(1), np.ones(1)
    if model.tau_av > 0:
        # Gauss-Legendre on [0, tau ln(1/tol)] against the exponential density (the mass beyond,
        # tol, is dropped and the weights renormalised).
        t, v = np.polynomial.legendre.leggauss(n_dust)
        a_max = model.tau_av * math.log(1.0 / tol)
        a_nodes = 0.5 * a_max * (t + 1.0)
        v = v * np.exp(-a_nodes / model.tau_av)
        v = v / v.sum()
    else:
        a_nodes, v = np.zeros(1), np.ones(1)
    shifts = (k_m[None, :, None] * (a0[:, None, None] + a_nodes[None, None, :])).reshape(data.n, -1)
    weights = (w_rv[:, None] * v[None, :]).ravel()
    # The noise-averaged table on [lo - max shift, hi]; the dust-averaged one on
    # [lo - max shift, hi - min shift], both from the same start with the same step.
    start = lo - shifts.max(1)
    n_raw = int(np.ceil(np.max(hi - start) / step)) + 1
    n_out = max(int(np.ceil(np.max(hi - shifts.min(1) - start) / step)) + 1, 2)
    start_j = jnp.asarray(start, dtype)
    raw = noise_averaged(start_j, jnp.asarray(np.arange(n_raw) * step, dtype))
    m_out = start_j[:, None] + jnp.asarray(np.arange(n_out) * step, dtype)[None, :]
    shifts_j = jnp.asarray(shifts, dtype)
    table = jnp.zeros_like(m_out)
    for j, w in enumerate(weights):
        table = table + w * _interp_rows(raw, start_j, step, m_out + shifts_j[:, j : j + 1])
    return SelectionGrid(m_start=start_j, p=table, step=float(step))


def detection_probability(
    model: SNModel, theta: Any, data: SNData, grid: SelectionGrid
) -> Float[Array, " n_sn"]:
    """Probability that each SN, with its redshift and host, passes the selection given theta.

    The integration-by-parts sum of the module docstring over the table of
    :func:`selection_grid` (dust and measurement noise folded in).

    Args:
        model: the SN model.
        theta: global parameters.
        data: the supernovae.
        grid: from :func:`selection_grid` (for the same data and model).

    Returns:
        (n,) probabilities.
    """
    dtype = grid.p.dtype
    sd = jnp.sqrt(jnp.sum(population_loading(model, theta)[0] ** 2)).astype(dtype)
    m_mean = mean_magnitude(model, theta, data)
    k = jnp.arange(grid.p.shape[1] - 1, dtype=dtype)
    mids = grid.m_start[:, None] + (k + 0.5) * grid.step
    drop = grid.p[:, :-1] - grid.p[:, 1:]
    cdf = ndtr((mids - m_mean[:, None]) / sd)
    return grid.p[:, -1] + jnp.sum(drop * cdf, axis=1)


def log_detection_probability(
    model: SNModel, theta: Any, data: SNData, grid: SelectionGrid
) -> Float[Array, " n_sn"]:
    """Log of :func:`detection_probability`, floored at the dtype's smallest normal number."""
    p = detection_probability(model, theta, data, grid)
    return jnp.log(jnp.maximum(p, jnp.finfo(p.dtype).tiny))
