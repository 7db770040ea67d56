"""Hierarchical NPE: joint posteriors over global parameters and every object's latents.

For a survey ``X = {x_i, c_i}`` (observations and per-object context of the valid objects)
the estimator factorises the joint posterior as

    q(theta, l_1..l_n | X) = q_g(theta | s(X)) prod_i q_l(l_i | e_i, theta, s(X), c_i),

where ``s`` is a permutation-invariant set summary and ``e_i`` the object's own encoding
(:class:`~cigars.inference.SetEmbedding`). This is exact for hierarchical models whose objects
are conditionally independent given the globals. Both factors are conditional spline flows
(:class:`~cigars.inference.ConditionalFlow`), or, for the local factor with
``local_posterior: mixture``, a Gaussian mixture per object whose weights and means are linear
in the globals (:class:`~cigars.inference.LinearThetaMixture`: its network runs once per object,
not once per draw and object), acting on standardised unconstrained variables

    z = (u - m) / sd,   u = T^{-1}(theta)

with ``T`` the bijection onto the support (:class:`~cigars.inference.SupportTransform`) and
``m, sd`` fixed statistics from a pilot set of simulations (or, for the globals with
``global_frame: laplace``, ``w = asinh((u - mode) / (2 sd))`` from each survey's own Gaussian
approximation carried by its data; see :class:`~cigars.inference.EstimatorConfig`). Training
minimises (Papamakarios & Murray 2016; Greenberg et al. 2019, amortised NPE) the simulation
average of

    -log q_g(z_theta | s) + w * mean_{i in K} [-log q_l(z_{l_i} | e_i, z_theta, s, c_i)],

with ``K`` a uniformly random subset of the valid objects, drawn without replacement by
Gumbel top-k on the mask (Kool et al. 2019). Teacher forcing (the true ``theta`` conditions the
local flow) makes the local term an unbiased estimate of the per-object conditional NLL.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from cigars._prng import rekey
from cigars._types import Array, Bool, Float, Key
from cigars.inference._bijections import SupportTransform
from cigars.inference._configs import EstimatorConfig
from cigars.inference._contract import Simulation
from cigars.inference._embedding import SetEmbedding
from cigars.inference._flows import ConditionalFlow
from cigars.inference._lookup import (
    ReferenceSet,
    lookup_features,
    lookup_features_np,
    n_lookup_features,
)
from cigars.inference._mixture import LinearThetaMixture
from cigars.inference._nets import Statistic

__all__ = ["HierarchicalNPE", "fit_standardization"]

_STAT_NAMES = (
    "data_mean",
    "data_std",
    "context_mean",
    "context_std",
    "theta_mean",
    "theta_std",
    "local_mean",
    "local_std",
    "count_mean",
    "count_std",
)
_POOLED_NAMES = ("pooled_mean", "pooled_whiten")
_REFERENCE_NAMES = ("ref_values", "ref_z", "ref_targets", "lookup_mean", "lookup_std")
_WHITEN_NAMES = ("object_whiten",)


def _masked_moments(x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over valid rows of ``x`` (..., n, k); std of a constant feature becomes 1."""
    k = x.shape[-1]
    rows = x.reshape(mask.size, k)[mask.reshape(-1)]
    if rows.shape[0] < 2:
        raise ValueError(
            f"standardisation: need at least 2 valid objects in the pilot set, got {rows.shape[0]}"
        )
    if not np.all(np.isfinite(rows)):
        raise ValueError("standardisation: non-finite values in valid rows of the pilot set")
    mean = rows.mean(0)
    std = rows.std(0)
    std = np.where(std > 1e-6 * np.maximum(np.abs(mean), 1.0), std, 1.0)
    return mean, std


def _whitening(x: np.ndarray, rtol: float = 1e-9) -> np.ndarray:
    """PCA whitening matrix ``W`` (k, k) of centred rows ``x``.

    ``cov(x @ W.T) = I`` on the directions with variance above ``rtol`` times the largest; the
    others map to 0.
    """
    if x.shape[0] < 2:
        raise ValueError("standardisation: need at least 2 non-empty pilot simulations")
    lam, vec = np.linalg.eigh(np.atleast_2d(np.cov(x, rowvar=False)))
    keep = lam > rtol * max(lam.max(), np.finfo(float).tiny)
    scale = np.where(keep, 1.0 / np.sqrt(np.where(keep, lam, 1.0)), 0.0)
    return scale[:, None] * vec.T


def fit_standardization(
    sims: Simulation,
    theta_transform: SupportTransform,
    local_transform: SupportTransform,
    *,
    whiten_objects: bool = False,
) -> dict[str, np.ndarray]:
    """Fixed standardisation statistics from a batch of pilot simulations.

    Observations and context are standardised per feature over the valid objects, and the
    standardised observations PCA-whitened over the same objects (``object_whiten``, used by
    ``estimator.whiten_objects``); globals and locals are standardised in the unconstrained
    space of their support transforms; the set size as
    ``log(1 + n)``; the per-set masked means of the standardised inputs (``pooled_*``, used by
    ``estimator.pool_inputs``) are centred and PCA-whitened over the simulations (directions
    without variance are dropped). Whitening matters: the informative combination of pooled
    features is often a small difference of large, correlated ones (e.g. the score in Om0
    against the mean Hubble residual, both dominated by M0), which it brings to unit scale.

    Args:
        sims: a batch of simulations (leading axis ``n_pilot``).
        theta_transform: the globals' support bijection.
        local_transform: the locals' support bijection.
        whiten_objects: whether the estimator whitens the observations (the pooled statistics
            are then those of the whitened observations).

    Returns:
        A dict of float32 numpy arrays named as the estimator's statistics.

    Raises:
        ValueError: if the pilot set has fewer than 2 valid objects or non-finite valid values.
    """
    mask = np.asarray(sims.mask)
    out = {}
    out["data_mean"], out["data_std"] = _masked_moments(np.asarray(sims.data, float), mask)
    out["context_mean"], out["context_std"] = _masked_moments(np.asarray(sims.context, float), mask)
    u, _ = jax.jit(theta_transform.inverse)(jnp.asarray(sims.theta, jnp.float32))
    out["theta_mean"], out["theta_std"] = _masked_moments(
        np.asarray(u, float)[:, None, :], np.ones(u.shape[0], bool)[:, None]
    )
    ul, _ = jax.jit(local_transform.inverse)(jnp.asarray(sims.locals, jnp.float32))
    ul = np.where(mask[..., None], np.asarray(ul, float), 0.0)
    out["local_mean"], out["local_std"] = _masked_moments(ul, mask)
    counts = np.log1p(mask.sum(-1)).astype(float)
    out["count_mean"] = np.asarray(counts.mean())
    std = counts.std()
    out["count_std"] = np.asarray(std if std > 1e-6 else 1.0)
    d = (np.asarray(sims.data, float) - out["data_mean"]) / out["data_std"]
    out["object_whiten"] = _whitening(d[mask])
    if whiten_objects:
        d = d @ out["object_whiten"].T
    x = np.concatenate(
        [d, (np.asarray(sims.context, float) - out["context_mean"]) / out["context_std"]],
        axis=-1,
    )
    x = np.where(mask[..., None], x, 0.0)
    pooled = x.sum(-2) / np.maximum(mask.sum(-1), 1)[..., None]
    pooled = pooled.reshape(-1, x.shape[-1])[mask.reshape(-1, mask.shape[-1]).any(-1)]
    out["pooled_mean"] = pooled.mean(0)
    out["pooled_whiten"] = _whitening(pooled - out["pooled_mean"])
    return {k: np.asarray(v, np.float32) for k, v in out.items()}


class HierarchicalNPE(nnx.Module):
    """Joint neural posterior over global parameters and every object's latent parameters.

    Args:
        config: the architecture.
        n_theta: number of global parameters.
        n_local: number of latent parameters per object (0 for none).
        n_feat: observed features per object.
        n_ctx: per-object context features (0 for none).
        theta_bounds: ``(lower, upper)`` support of the globals, ``(n_theta,)`` each.
        local_bounds: ``(lower, upper)`` support of the locals, ``(n_local,)`` each.
        reference: the static part of a :class:`~cigars.inference.ReferenceSet`
            (:meth:`~cigars.inference.ReferenceSet.spec`) whose lookup the local posterior
            also sees, or None; its arrays are set by :meth:`fit_statistics`.
        rngs: parameter initialisation keys.

    The standardisation statistics start at zero mean / unit scale; set them with
    :meth:`set_statistics` (the training loop does this from a pilot set).
    """

    def __init__(
        self,
        config: EstimatorConfig,
        *,
        n_theta: int,
        n_local: int,
        n_feat: int,
        n_ctx: int = 0,
        theta_bounds: tuple[Any, Any] | None = None,
        local_bounds: tuple[Any, Any] | None = None,
        reference: dict[str, Any] | None = None,
        rngs: nnx.Rngs,
    ):
        if n_theta < 1 or n_feat < 1 or n_local < 0 or n_ctx < 0:
            raise ValueError(
                "HierarchicalNPE: need n_theta >= 1, n_feat >= 1, n_local >= 0, n_ctx >= 0; got "
                f"{n_theta}, {n_feat}, {n_local}, {n_ctx}"
            )
        if theta_bounds is None:
            theta_bounds = (np.full(n_theta, -np.inf), np.full(n_theta, np.inf))
        if local_bounds is None:
            local_bounds = (np.full(n_local, -np.inf), np.full(n_local, np.inf))
        tt = SupportTransform.create(*theta_bounds)
        lt = SupportTransform.create(*local_bounds)
        if tt.dim != n_theta:
            raise ValueError(f"theta_bounds have {tt.dim} entries, expected n_theta={n_theta}")
        if lt.dim != n_local:
            raise ValueError(f"local_bounds have {lt.dim} entries, expected n_local={n_local}")
        self.config = config
        self.n_theta, self.n_local, self.n_feat, self.n_ctx = n_theta, n_local, n_feat, n_ctx
        self.theta_lower, self.theta_upper = tt.lower, tt.upper
        # The Laplace frame's columns: the last 2d + d(d-1)/2 features (EstimatorConfig).
        self.frame_start = None
        if config.global_frame == "laplace":
            n_frame = n_theta * (n_theta + 3) // 2
            if n_feat < n_frame:
                raise ValueError(
                    f"estimator.global_frame: laplace reads the last {n_frame} data columns "
                    f"(mode, log sds, correlations of {n_theta} globals), but the data have "
                    f"{n_feat}"
                )
            self.frame_start = n_feat - n_frame
        self.local_lower, self.local_upper = lt.lower, lt.upper

        f32 = jnp.float32
        self.data_mean = Statistic(jnp.zeros(n_feat, f32))
        self.data_std = Statistic(jnp.ones(n_feat, f32))
        self.context_mean = Statistic(jnp.zeros(n_ctx, f32))
        self.context_std = Statistic(jnp.ones(n_ctx, f32))
        self.theta_mean = Statistic(jnp.zeros(n_theta, f32))
        self.theta_std = Statistic(jnp.ones(n_theta, f32))
        self.local_mean = Statistic(jnp.zeros(n_local, f32))
        self.local_std = Statistic(jnp.ones(n_local, f32))
        self.count_mean = Statistic(jnp.zeros((), f32))
        self.count_std = Statistic(jnp.ones((), f32))
        if config.whiten_objects:
            self.object_whiten = Statistic(jnp.eye(n_feat, dtype=f32))
        if config.pool_inputs:
            self.pooled_mean = Statistic(jnp.zeros(n_feat + n_ctx, f32))
            self.pooled_whiten = Statistic(jnp.eye(n_feat + n_ctx, dtype=f32))
        # The reference lookup: static column indices, its arrays as statistics.
        self.ref_columns: tuple[int, ...] = ()
        self.ref_log_err_columns: tuple[int, ...] = ()
        n_hint = 0
        if reference is not None:
            if not n_local or reference["n_ref_local"] > n_local:
                raise ValueError(
                    f"reference: {reference['n_ref_local']} reference latents for an estimator "
                    f"with {n_local} local parameters"
                )
            for name in ("columns", "log_err_columns"):
                bad = [i for i in reference[name] if not 0 <= i < n_feat]
                if bad:
                    raise ValueError(f"reference: {name} {bad} outside the {n_feat} features")
            self.ref_columns = tuple(int(i) for i in reference["columns"])
            self.ref_log_err_columns = tuple(int(i) for i in reference["log_err_columns"])
            n_hint = n_lookup_features(reference["n_ref_local"])
            n_col, n_ref = len(self.ref_columns), reference["n_ref"]
            self.ref_values = Statistic(jnp.zeros((n_ref, n_col), f32))
            self.ref_z = Statistic(jnp.zeros((n_ref, reference["n_ref_local"]), f32))
            # Expected offsets and their inverse spread (ReferenceSet.targets; zeros: none).
            self.ref_targets = Statistic(jnp.zeros((n_ref, 2), f32))
            self.lookup_mean = Statistic(jnp.zeros(n_hint, f32))
            self.lookup_std = Statistic(jnp.ones(n_hint, f32))

        c = config
        self.embedding = SetEmbedding(
            n_feat + n_ctx,
            1,
            embed_dim=c.embed_dim,
            summary_dim=c.summary_dim,
            hidden=c.hidden,
            depth=c.depth,
            pooling=c.pooling,
            num_heads=c.num_heads,
            pool_inputs=c.pool_inputs,
            pool_variance=c.pool_variance,
            pool_covariance=c.pool_covariance,
            rngs=rngs,
        )
        flow_kw = dict(
            hidden=c.flow_hidden,
            depth=c.flow_depth,
            num_bins=c.num_bins,
            bound=c.spline_bound,
            affine=c.affine,
        )
        self.global_flow = ConditionalFlow(
            n_theta, c.summary_dim, num_layers=c.flow_layers, rngs=rngs, **flow_kw
        )
        mixture = n_local > 0 and c.local_posterior == "mixture"
        self.local_flow = (
            ConditionalFlow(
                n_local,
                c.embed_dim + n_theta + c.summary_dim + n_ctx + n_hint,
                num_layers=c.local_flow_layers,
                rngs=rngs,
                **flow_kw,
            )
            if n_local and not mixture
            else None
        )
        # With a reference lookup the local flow learns the latents from the lookup; trained
        # through the encoder and summary, it left the globals' posterior 1.1-2.6x wider at
        # equal training (docs/checks.md). So it sees the encodings without training them,
        # and an auxiliary local flow without the lookup trains them as the local flow does
        # without one (trained, never sampled).
        self.local_flow_aux = (
            ConditionalFlow(
                n_local,
                c.embed_dim + n_theta + c.summary_dim + n_ctx,
                num_layers=c.local_flow_layers,
                rngs=rngs,
                **flow_kw,
            )
            if n_hint and self.local_flow is not None
            else None
        )
        self.local_mixture = (
            LinearThetaMixture(
                n_local,
                c.embed_dim + c.summary_dim + n_ctx + n_hint,
                n_theta,
                components=c.mixture_components,
                hidden=c.flow_hidden,
                depth=c.flow_depth,
                rngs=rngs,
            )
            if mixture
            else None
        )

    @classmethod
    def for_shapes(
        cls,
        config: EstimatorConfig,
        shapes: dict[str, int],
        *,
        theta_bounds: tuple[Any, Any] | None = None,
        local_bounds: tuple[Any, Any] | None = None,
        rngs: nnx.Rngs,
    ) -> HierarchicalNPE:
        """The estimator for a problem's dimensions (:func:`~cigars.inference.check_simulator`).

        ``shapes["reference"]``, if present, is a reference set's spec.
        """
        return cls(
            config,
            n_theta=shapes["n_theta"],
            n_local=shapes["n_local"],
            n_feat=shapes["n_feat"],
            n_ctx=shapes["n_ctx"],
            theta_bounds=theta_bounds,
            local_bounds=local_bounds,
            reference=shapes.get("reference"),
            rngs=rngs,
        )

    # -- fixed transforms -------------------------------------------------------------------

    @property
    def theta_transform(self) -> SupportTransform:
        """Bijection from unconstrained space onto the globals' support."""
        return SupportTransform(lower=self.theta_lower, upper=self.theta_upper)

    @property
    def local_transform(self) -> SupportTransform:
        """Bijection from unconstrained space onto the locals' support."""
        return SupportTransform(lower=self.local_lower, upper=self.local_upper)

    def set_statistics(self, stats: dict[str, Any]) -> None:
        """Set the fixed standardisation statistics (e.g. from :func:`fit_standardization`).

        Raises:
            ValueError: if a statistic is missing or has the wrong shape.
        """
        for name in self._stat_names:
            if name not in stats:
                raise ValueError(f"set_statistics: missing {name!r}")
            var = getattr(self, name)
            value = jnp.asarray(stats[name], var[...].dtype)
            if value.shape != var[...].shape:
                raise ValueError(
                    f"set_statistics: {name} has shape {value.shape}, expected {var[...].shape}"
                )
            var[...] = value

    def fit_statistics(self, pilot: Simulation, reference: ReferenceSet | None = None) -> None:
        """Set the standardisation statistics from a batch of pilot simulations.

        :func:`fit_standardization` with this estimator's transforms and ``whiten_objects``;
        with a reference lookup, also the reference set's arrays (``reference``, which it
        needs) and the standardisation of the lookup over the pilot's valid objects.

        Raises:
            ValueError: for a missing reference set, or one of another spec than the
                estimator was built for.
        """
        stats = fit_standardization(
            pilot,
            self.theta_transform,
            self.local_transform,
            whiten_objects=self.config.whiten_objects,
        )
        if self.ref_columns:
            if reference is None:
                raise ValueError("fit_statistics: this estimator needs its reference set")
            stats.update(self._reference_statistics(pilot, reference, stats))
        self.set_statistics(stats)

    def _reference_statistics(self, pilot: Simulation, reference: ReferenceSet, stats):
        spec = reference.spec()
        if (
            tuple(spec["columns"]) != self.ref_columns
            or tuple(spec["log_err_columns"]) != self.ref_log_err_columns
            or (spec["n_ref"], spec["n_ref_local"]) != self.ref_z[...].shape
        ):
            raise ValueError(f"fit_statistics: the reference set {spec} is not this estimator's")
        lo, hi = np.asarray(self.local_lower, float), np.asarray(self.local_upper, float)
        n_ref, n_z = self.ref_z[...].shape
        local = np.zeros((n_ref, self.n_local))
        local[:, :n_z] = reference.locals
        # Inside the support: a reference on a bound would map to infinity.
        span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
        local = np.clip(local, lo + 1e-6 * span, hi - 1e-6 * span)
        u, _ = jax.jit(self.local_transform.inverse)(jnp.asarray(local, jnp.float32))
        ref_z = ((np.asarray(u) - stats["local_mean"]) / stats["local_std"])[:, :n_z]
        ref_values = reference.centred_values()
        mask = np.asarray(pilot.mask)
        data = np.asarray(pilot.data)[mask]
        targets = reference.targets()
        hints = lookup_features_np(
            data[:, list(self.ref_columns)].astype(np.float32),
            data[:, list(self.ref_log_err_columns)].astype(np.float32),
            jnp.asarray(ref_values, jnp.float32),
            jnp.asarray(ref_z, jnp.float32),
            jnp.asarray(targets, jnp.float32),
        )
        mean, std = _masked_moments(hints[None], np.ones((1, hints.shape[0]), bool))
        return {
            "ref_values": np.asarray(ref_values, np.float32),
            "ref_z": np.asarray(ref_z, np.float32),
            "ref_targets": np.asarray(targets, np.float32),
            "lookup_mean": np.asarray(mean, np.float32),
            "lookup_std": np.asarray(std, np.float32),
        }

    def statistics(self) -> dict[str, Array]:
        """The standardisation statistics as a dict of arrays."""
        return {name: getattr(self, name)[...] for name in self._stat_names}

    @property
    def _stat_names(self) -> tuple[str, ...]:
        c = self.config
        return (
            _STAT_NAMES
            + (_WHITEN_NAMES if c.whiten_objects else ())
            + (_POOLED_NAMES if c.pool_inputs else ())
            + (_REFERENCE_NAMES if self.ref_columns else ())
        )

    def theta_to_z(self, theta: Float[Array, "... n_theta"]):
        """Physical globals -> standardised unconstrained ``z``; returns ``(z, log|dz/dtheta|)``."""
        u, ld = self.theta_transform.inverse(theta)
        sd = self.theta_std[...]
        return (u - self.theta_mean[...]) / sd, ld - jnp.sum(jnp.log(sd))

    def z_to_theta(self, z: Float[Array, "... n_theta"]) -> Float[Array, "... n_theta"]:
        """Standardised unconstrained ``z`` -> physical globals."""
        return self.theta_transform.forward(z * self.theta_std[...] + self.theta_mean[...])[0]

    def _frame(self, data, mask):
        """The survey's Laplace frame ``(loc, scale)`` (see :meth:`theta_to_w`).

        ``loc`` is the Laplace mode and ``scale`` twice its marginal sds, read from the first
        valid object's last columns (every valid object carries the same sample-level
        features). The scales are kept within [1e-3, ``frame_max_scale``] times the pilot sds;
        a non-finite entry falls back to the pilot frame's.
        """
        d = self.n_theta
        first = jnp.argmax(mask, axis=-1)
        row = jnp.take_along_axis(data, first[..., None, None], axis=-2)[..., 0, self.frame_start :]
        mean, sd = self.theta_mean[...], self.theta_std[...]
        loc = row[..., :d]
        log_scale = row[..., d : 2 * d] + np.log(2.0)
        log_max = np.log(self.config.frame_max_scale)
        scale = jnp.exp(jnp.clip(log_scale, np.log(1e-3) + jnp.log(sd), log_max + jnp.log(sd)))
        ok = jnp.isfinite(loc) & jnp.isfinite(scale)
        return jnp.where(ok, loc, mean), jnp.where(ok, scale, sd)

    def _u_to_w(self, u, data, mask):
        """Unconstrained globals -> the global flow's variables; ``(w, log|dw/du|)``."""
        loc, scale = self._frame(data, mask)
        x = (u - loc) / scale
        return jnp.arcsinh(x), -jnp.sum(jnp.log(scale) + 0.5 * jnp.log1p(x * x), -1)

    def theta_to_w(self, theta, data, mask):
        """Physical globals -> the global flow's variables ``w`` for the survey ``(data, mask)``.

        ``w`` is the pilot-standardised ``z`` (:meth:`theta_to_z`) with ``global_frame:
        pilot``. In the Laplace frame it is ``asinh((u - mode) / (2 sd))`` with the mode and
        marginal sds of the survey's Laplace approximation. Twice the sds: the approximation
        leaves out the selection and is over-confident (on the quick-start sub-model the
        truths' offsets from the mode have 1.4-1.6 Laplace sds of spread). The asinh: those
        offsets have long tails (about 1% of the samples have a truth more than 10 sds out,
        up to 170), which the flow's splines, the identity beyond their bound, would leave in
        the Gaussian base's tails, where one survey can outweigh a thousand in the loss; the
        asinh brings them inside and is nearly the identity within a unit. Whitening by the
        Laplace correlations was worse still (tens of units out along the least constrained
        directions), so they are not used. Any frame gives an exact density; these choices
        only decide how much the flow has left to learn.

        Returns:
            ``(w, log|dw/dtheta|)``.
        """
        if self.frame_start is None:
            return self.theta_to_z(theta)
        u, ld = self.theta_transform.inverse(theta)
        w, ld_w = self._u_to_w(u, data, mask)
        return w, ld + ld_w

    def w_to_theta(self, w, data, mask):
        """The global flow's variables -> physical globals (inverse of :meth:`theta_to_w`)."""
        if self.frame_start is None:
            return self.z_to_theta(w)
        loc, scale = self._frame(data, mask)
        return self.theta_transform.forward(loc + scale * jnp.sinh(w))[0]

    def local_to_z(self, local: Float[Array, "... n_local"]):
        """Physical locals -> standardised unconstrained ``z``; returns ``(z, log|dz/dl|)``."""
        u, ld = self.local_transform.inverse(local)
        sd = self.local_std[...]
        return (u - self.local_mean[...]) / sd, ld - jnp.sum(jnp.log(sd))

    def z_to_local(self, z: Float[Array, "... n_local"]) -> Float[Array, "... n_local"]:
        """Standardised unconstrained ``z`` -> physical locals."""
        return self.local_transform.forward(z * self.local_std[...] + self.local_mean[...])[0]

    # -- networks ---------------------------------------------------------------------------

    def embed(
        self,
        data: Float[Array, "... n_sn n_feat"],
        mask: Bool[Array, "... n_sn"],
        context: Float[Array, "... n_sn n_ctx"],
    ):
        """Standardise the inputs and embed the set.

        Returns:
            ``(s, e, c)``: the set summary ``(..., summary_dim)``, the per-object encodings
            ``(..., n_sn, embed_dim)`` and the standardised context ``(..., n_sn, n_ctx)`` (zero
            in padded slots).
        """
        mask = jnp.asarray(mask, bool)
        valid = mask[..., None]
        d = (data - self.data_mean[...]) / self.data_std[...]
        if self.config.whiten_objects:
            d = d @ self.object_whiten[...].T
        d = jnp.where(valid, d, 0.0)
        c = jnp.where(valid, (context - self.context_mean[...]) / self.context_std[...], 0.0)
        n = jnp.sum(mask, axis=-1).astype(d.dtype)
        count = ((jnp.log1p(n) - self.count_mean[...]) / self.count_std[...])[..., None]
        pooled_scale = (
            (self.pooled_mean[...], self.pooled_whiten[...]) if self.config.pool_inputs else None
        )
        s, e = self.embedding(jnp.concatenate([d, c], -1), mask, count, pooled_scale)
        return s, e, c

    def local_context(
        self, data: Float[Array, "... n_sn n_feat"], c: Float[Array, "... n_sn n_ctx"]
    ) -> Float[Array, "... n_sn n_local_ctx"]:
        """The per-object side input of the local posterior.

        The standardised context ``c``, then, with a reference set, the standardised lookup of
        the object's ``data``.
        """
        if not self.ref_columns:
            return c
        hint = lookup_features(
            data[..., list(self.ref_columns)],
            data[..., list(self.ref_log_err_columns)],
            self.ref_values[...],
            self.ref_z[...],
            self.ref_targets[...],
        )
        hint = (hint - self.lookup_mean[...]) / self.lookup_std[...]
        return jnp.concatenate([c, hint.astype(c.dtype)], -1)

    def _local_log_prob(self, z_local, e, z_theta, s, c, flow=None):
        """``log q_l(z_local | e_i, z_theta, s, c_i)`` in standardised units.

        ``e``, ``c`` and ``z_local`` have an object axis (``(..., n, .)``); ``z_theta`` and ``s``
        do not; leading axes broadcast. ``flow``: another local flow than the sampled one.
        """
        if self.local_mixture is not None:
            p = self.local_mixture.params((e, s[..., None, :], c))
            return self.local_mixture.log_prob(z_local, p, z_theta[..., None, :])
        n = e.shape[-2]
        lead = jnp.broadcast_shapes(e.shape[:-2], z_theta.shape[:-1], s.shape[:-1], c.shape[:-2])
        e = jnp.broadcast_to(e, lead + e.shape[-2:])
        c = jnp.broadcast_to(c, lead + c.shape[-2:])
        zt = jnp.broadcast_to(z_theta[..., None, :], lead + (n, z_theta.shape[-1]))
        ss = jnp.broadcast_to(s[..., None, :], lead + (n, s.shape[-1]))
        flow = self.local_flow if flow is None else flow
        return flow.log_prob(z_local, jnp.concatenate([e, zt, ss, c], -1))

    def loss(
        self,
        sims: Simulation,
        key: Key,
        num_local: int,
        local_weight: float = 1.0,
        weight: Array | None = None,
    ):
        """Training loss on a batch of simulations (leading axis = batch).

        Args:
            sims: batch of simulations (physical units).
            key: PRNG key for the local subsample.
            num_local: objects per survey in the local term (at most ``n_max``).
            local_weight: weight ``w`` of the local term.
            weight: per-survey weights ``(batch,)`` of both terms (e.g. 0 for a survey left
                out), or None for equal weights.

        Returns:
            ``(loss, aux)`` with aux holding ``global_nll`` and ``local_nll`` (standardised units).
        """
        s, e, c = self.embed(sims.data, sims.mask, sims.context)
        z_theta, _ = self.theta_to_z(sims.theta)
        if self.frame_start is None:
            lp = self.global_flow.log_prob(z_theta, s)
        else:
            u, _ = self.theta_transform.inverse(sims.theta)
            w_theta, ld_w = self._u_to_w(u, sims.data, sims.mask)
            # The density of z (log|dw/dz| added), so that both frames' losses compare.
            lp = (
                self.global_flow.log_prob(w_theta, s) + ld_w + jnp.sum(jnp.log(self.theta_std[...]))
            )
        w = jnp.ones_like(lp) if weight is None else jnp.asarray(weight, lp.dtype)
        global_nll = -jnp.sum(w * lp) / jnp.maximum(jnp.sum(w), 1e-12)
        if not self.n_local:
            return global_nll, {"global_nll": global_nll, "local_nll": jnp.zeros_like(global_nll)}
        k = min(int(num_local), sims.mask.shape[-1])
        mask = sims.mask
        scores = jnp.where(mask, jax.random.gumbel(key, mask.shape, s.dtype), -jnp.inf)
        _, idx = jax.lax.top_k(scores, k)
        valid = jnp.take_along_axis(mask, idx, -1)
        pick = lambda a: jnp.take_along_axis(a, idx[..., None], -2)  # noqa: E731
        z_local, _ = self.local_to_z(pick(sims.locals))
        z_local = jnp.where(valid[..., None], z_local, 0.0)
        n_valid = jnp.sum(valid, -1)
        has = (n_valid > 0).astype(z_local.dtype) * w

        def mean_nll(lp):
            per_survey = jnp.sum(jnp.where(valid, -lp, 0.0), -1) / jnp.maximum(n_valid, 1)
            return jnp.sum(per_survey * has) / jnp.maximum(jnp.sum(has), 1e-12)

        c_local = self.local_context(pick(sims.data), pick(c))
        e_local, s_local = pick(e), s
        if self.local_flow_aux is not None:
            # The sampled flow reads the lookup on top of the encodings, but does not train
            # them: they are the auxiliary flow's and the global flow's to shape.
            e_local, s_local = jax.lax.stop_gradient((e_local, s_local))
        local_nll = mean_nll(self._local_log_prob(z_local, e_local, z_theta, s_local, c_local))
        loss = global_nll + local_weight * local_nll
        if self.local_flow_aux is not None:
            aux = self._local_log_prob(z_local, pick(e), z_theta, s, pick(c), self.local_flow_aux)
            loss = loss + local_weight * mean_nll(aux)
        return loss, {"global_nll": global_nll, "local_nll": local_nll}

    # -- posterior evaluation ---------------------------------------------------------------

    def log_prob_theta(
        self,
        theta: Float[Array, "... n_theta"],
        data: Float[Array, "n_sn n_feat"],
        mask: Bool[Array, " n_sn"],
        context: Float[Array, "n_sn n_ctx"] | None = None,
    ) -> Float[Array, "*batch"]:
        """Log posterior density of the globals in physical units, ``log q(theta | X)``."""
        context = self.resolve_context(data, context)
        s, _, _ = self.embed(data, mask, context)
        w, ld = self.theta_to_w(theta, data, mask)
        return self.global_flow.log_prob(w, s) + ld

    def log_prob_locals(
        self,
        local: Float[Array, "... n_sn n_local"],
        theta: Float[Array, "... n_theta"],
        data: Float[Array, "n_sn n_feat"],
        mask: Bool[Array, " n_sn"],
        context: Float[Array, "n_sn n_ctx"] | None = None,
    ) -> Float[Array, "... n_sn"]:
        """Per-object conditional log density ``log q(l_i | X, theta)`` in physical units.

        Padded slots return 0 (so a sum over the object axis is the joint local term).
        """
        if not self.n_local:
            raise ValueError("log_prob_locals: this estimator has no local parameters")
        context = self.resolve_context(data, context)
        s, e, c = self.embed(data, mask, context)
        z_theta, _ = self.theta_to_z(theta)
        z, ld = self.local_to_z(
            jnp.where(mask[..., None], local, self.z_to_local(jnp.zeros_like(local)))
        )
        lp = self._local_log_prob(z, e, z_theta, s, self.local_context(data, c)) + ld
        return jnp.where(mask, lp, 0.0)

    def resolve_context(self, data, context):
        """``context``, or a zero-width context if None and the estimator takes none.

        Raises:
            ValueError: if ``context`` is None but the estimator needs one.
        """
        if context is None:
            if self.n_ctx:
                raise ValueError(f"this estimator needs a context with {self.n_ctx} features")
            return jnp.zeros(data.shape[:-1] + (0,), data.dtype)
        return context

    def sample(
        self,
        key: Key,
        data: Float[Array, "n_sn n_feat"],
        mask: Bool[Array, " n_sn"],
        context: Float[Array, "n_sn n_ctx"] | None,
        num_samples: int,
        *,
        chunk_size: int = 256,
        n_active: int | None = None,
    ) -> tuple[Float[Array, "s n_theta"], Float[Array, "s n_sn n_local"]]:
        """Joint posterior draws for one survey (see :func:`~cigars.inference.sample_posterior`).

        ``n_active`` (static, at least the number of valid objects): the per-object flows run on
        the valid objects gathered into that many slots instead of all ``n_max``.
        """
        context = self.resolve_context(data, context)
        if data.ndim != 2 or data.shape[-1] != self.n_feat:
            raise ValueError(f"sample: data must be (n_max, {self.n_feat}), got {data.shape}")
        if mask.shape != data.shape[:1]:
            raise ValueError(f"sample: mask must be ({data.shape[0]},), got {mask.shape}")
        if context.shape != data.shape[:1] + (self.n_ctx,):
            raise ValueError(
                f"sample: context must be ({data.shape[0]}, {self.n_ctx}), got {context.shape}"
            )
        mask = jnp.asarray(mask, bool)
        k_g, k_l = jax.random.split(key)
        s, e, c = self.embed(data, mask, context)
        w = self.global_flow.sample(k_g, s, num_samples)
        theta = self.w_to_theta(w, data, mask)
        z_theta = w if self.frame_start is None else self.theta_to_z(theta)[0]
        if not self.n_local:
            return theta, jnp.zeros((num_samples, data.shape[0], 0), theta.dtype)

        n_max = data.shape[0]
        m = n_max if n_active is None else min(int(n_active), n_max)
        # Valid objects first (stable), so the first m slots hold every valid object.
        order = jnp.argsort(~mask, stable=True)[:m]
        e_act, c_act = e[order], self.local_context(data[order], c[order])
        mixture = self.local_mixture
        # The mixture's per-object coefficients, once for all draws.
        coeffs = None if mixture is None else mixture.params((e_act, s[None, :], c_act))
        width = self.n_local + (mixture is not None)  # the mixture also picks a component

        def noise(keys):
            # Each object's noise from its own key (the draw's key folded with the object's
            # slot): draws do not depend on ``n_active`` or on the chunks, and no noise is
            # drawn for the n_max - m slots left out (at 16k SNe, n_max is 4x the survey).
            def one(k, i):
                return jax.random.normal(jax.random.fold_in(k, i), (width,), e_act.dtype)

            return jax.vmap(lambda k: jax.vmap(lambda i: one(k, i))(order))(keys)

        def transform(z, zt):  # a chunk's noise (B, m, width) and globals (B, T)
            if mixture is not None:
                return self.z_to_local(mixture.sample_draws(z, coeffs, zt))
            # The context [e_i, z_theta, s, c_i] in parts: the conditioners multiply the
            # per-object parts once for all draws (ConditionalFlow with a tuple context).
            flow = lambda zi, ti: self.local_flow.from_base(  # noqa: E731
                zi, (e_act, ti[None, :], s[None, :], c_act)
            )
            return self.z_to_local(jax.vmap(flow)(z, zt))

        # Back to the slots (each slot's position in ``order``, -1 if absent; NaN if not drawn).
        position = jnp.full(n_max, -1, jnp.int32).at[order].set(jnp.arange(m, dtype=jnp.int32))
        drawn = (mask & (position >= 0))[None, :, None]

        def to_slots(x):
            return jnp.where(drawn, x[:, jnp.maximum(position, 0)], jnp.nan)

        # Chunks of ``size`` draws starting at ``starts`` (the last one overlaps the one before
        # when ``size`` does not divide ``num_samples``: a few draws are made twice, equal).
        n_chunks = -(-num_samples // max(1, chunk_size))
        size = -(-num_samples // n_chunks)
        starts = jnp.minimum(jnp.arange(n_chunks, dtype=jnp.int32) * size, num_samples - size)
        rows = starts[:, None] + jnp.arange(size)
        # Philox, not the caller's threefry: two hashes per object and draw, the largest cost of
        # a large survey's draws on CPU (see cigars._prng).
        keys = jax.random.split(rekey(k_l, "philox4x32"), num_samples)[rows]

        def step(carry, args):
            # A chunk's noise and its draws pass through the loop's carry, one step apart, so
            # that XLA:CPU computes each in a fusion of its own: noise drawn where it is used
            # would be fused into each use, its random bits computed again for every one, and
            # draws computed where they are written into the result would be fused into that
            # in-place write, which runs on one thread (docs/checks.md, stop 28: 1.9x at 16k).
            z, previous, out = carry
            zt, k_next, at = args
            out = jax.lax.dynamic_update_slice_in_dim(out, previous, at, axis=0)
            return (noise(k_next), to_slots(transform(z, zt)), out), None

        # Step i draws chunk i and the noise of chunk i + 1 (the last step's is not used) and
        # writes chunk i - 1 where it starts (step 0 writes zeros that chunk 0 overwrites).
        blank = jnp.zeros((size, n_max, self.n_local), theta.dtype)
        out = jnp.zeros((num_samples, n_max, self.n_local), theta.dtype)
        written_at = jnp.concatenate([jnp.zeros(1, jnp.int32), starts[:-1]])
        args = (z_theta[rows], jnp.roll(keys, -1, axis=0), written_at)
        (_, last, out), _ = jax.lax.scan(step, (noise(keys[0]), blank, out), args)
        return theta, jax.lax.dynamic_update_slice_in_dim(out, last, starts[-1], axis=0)
