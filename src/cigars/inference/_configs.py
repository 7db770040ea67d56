"""Typed configs of the hierarchical NPE: network architecture and training schedule."""

from __future__ import annotations

from typing import Literal

from cigars._config import Config, bounded

__all__ = ["EstimatorConfig", "NPEConfig", "TrainingConfig"]


class EstimatorConfig(Config):
    """Architecture of :class:`~cigars.inference.HierarchicalNPE`.

    Attributes:
        embed_dim: per-object encoding size.
        summary_dim: set-summary size (the global flow's context).
        hidden: hidden width of the encoder and summariser MLPs.
        depth: hidden layers of the encoder and summariser MLPs.
        pooling: ``mean`` (masked mean + log count) or ``attention`` (PMA, one query).
        num_heads: attention heads (``pooling: attention``); must divide ``embed_dim``.
        whiten_objects: PCA-whiten each object's standardised observations over the pilot set's
            objects (instead of standardising each feature alone). Galaxy magnitudes in several
            bands share a large common spread (distance, mass) and differ by colours some 20-70
            times smaller; whitening brings those colours, which carry the photometric
            redshift, to unit scale before the encoder sees them.
        pool_inputs: the summariser also sees the masked mean of the standardised per-object
            inputs (data and context), a linear path for per-object statistics whose sum over
            the set carries the information (e.g. likelihood-score features).
        pool_variance: the summariser also sees the masked variance over the set of each
            encoding dimension next to its mean: second moments of the per-object encodings (a
            Hubble residual's scatter, say) reach it without the encoder having to learn squares.
        pool_covariance: ``k`` > 0: the summariser also sees the masked covariance matrix over
            the set of a learned ``k``-dimensional projection of the encodings and each
            projected dimension's log variance conditional on the others (the residual
            variance of its least-squares regression on them: a Hubble residual's scatter
            after its survey-specific regression on stretch and colour, say); 0 for none.
        flow_layers: coupling layers of the global flow.
        local_posterior: ``flow`` (a spline flow conditioned on the object, the summary and the
            globals: its networks run once per draw and object) or ``mixture`` (a Gaussian
            mixture per object whose weights and means are linear in the globals:
            :class:`~cigars.inference.LinearThetaMixture`, networks once per object, so joint
            draws of large surveys are much cheaper).
        mixture_components: components of the ``mixture`` local posterior.
        local_flow_layers: coupling layers of the per-object (local) flow.
        flow_hidden: conditioner MLP width of both flows.
        flow_depth: conditioner MLP hidden layers.
        num_bins: rational-quadratic spline bins.
        spline_bound: spline interval half-width in standardised units (identity outside).
        affine: both flows start with a conditional elementwise affine map (shift and scale
            from the context) before the splines; helps posteriors much narrower than the prior.
        reference_lookup: the local posterior also sees each object's lookup against the
            problem's reference set (:class:`~cigars.inference.ReferenceSet`; for the CIGaRS
            experiments the galaxy bank: the mean latents of the bank galaxies weighted by how
            well each explains the host's photometry, the spread of their redshifts and the
            best chi-square). Costs one chi-square per object and reference in each step,
            and an auxiliary local flow without the lookup is trained beside the sampled one
            (so the encoder still learns the latents that the set summary needs). Needs
            ``local_posterior: flow``.
        global_frame: the frame in which the global flow models the unconstrained globals
            ``u``. ``pilot``: standardised by fixed means and sds from the pilot set.
            ``laplace``: centred and scaled by each survey's own Gaussian approximation of
            the posterior, ``w = asinh((u - mode) / (2 sd))``
            (:meth:`~cigars.inference.HierarchicalNPE.theta_to_w` says why so), read from the
            last ``2d + d(d-1)/2`` data columns (``d`` globals: mode, log sds, correlations, as
            the known-hosts sub-model's ``sub_model.laplace`` features are). The flow then
            learns the posterior's departure from that approximation (selection,
            non-Gaussianity) rather than its position and width across the whole prior. Any
            frame gives an exact density; the approximation only has to be good for the frame
            to help.
        frame_max_scale: with ``global_frame: laplace``, the frame's scales (twice the
            Laplace sds) are clipped to at most this many pilot sds (the pilot sds are the
            prior's spread). A degenerate fit (a nearly flat direction: log sds of 3-5 in a few
            percent of the quick-start sub-model's samples) otherwise makes the frame far
            wider than the prior there; 1 keeps it within the prior's width.
    """

    embed_dim: int = bounded(64, ge=1)
    summary_dim: int = bounded(64, ge=1)
    hidden: int = bounded(128, ge=1)
    depth: int = bounded(2, ge=1)
    pooling: Literal["mean", "attention"] = "mean"
    num_heads: int = bounded(4, ge=1)
    whiten_objects: bool = False
    pool_inputs: bool = False
    pool_variance: bool = False
    pool_covariance: int = bounded(0, ge=0)
    flow_layers: int = bounded(4, ge=1)
    local_posterior: Literal["flow", "mixture"] = "flow"
    mixture_components: int = bounded(8, ge=1)
    local_flow_layers: int = bounded(4, ge=1)
    flow_hidden: int = bounded(128, ge=1)
    flow_depth: int = bounded(2, ge=1)
    num_bins: int = bounded(8, ge=2)
    spline_bound: float = bounded(5.0, gt=0)
    affine: bool = False
    reference_lookup: bool = False
    global_frame: Literal["pilot", "laplace"] = "pilot"
    frame_max_scale: float = bounded(10.0, gt=0)

    def validate(self) -> None:
        """Check cross-field constraints."""
        if self.reference_lookup and self.local_posterior != "flow":
            raise ValueError("reference_lookup needs local_posterior: flow")
        if self.pooling == "attention" and self.embed_dim % self.num_heads:
            raise ValueError(
                f"embed_dim ({self.embed_dim}) must be divisible by num_heads ({self.num_heads})"
            )


class TrainingConfig(Config):
    """Training schedule of the hierarchical NPE.

    Attributes:
        steps: maximum optimiser steps.
        batch_size: simulated surveys per step (divisible by the number of devices).
        learning_rate: peak AdamW learning rate.
        warmup_steps: linear warm-up length; cosine decay to ``final_lr_fraction`` after.
        final_lr_fraction: final learning rate as a fraction of the peak.
        weight_decay: AdamW decoupled weight decay.
        clip_norm: global gradient-norm clip, a guard against rare spikes. Keep it above the
            norms of most steps (tens to several hundred for the shipped configurations): a
            clip below them rescales every step to the same norm, which weighs each batch by
            the inverse of its gradient norm and slowed the quick-start training
            (docs/checks.md, stop 19).
        local_subsample: objects per survey drawn (without replacement, among valid ones) for
            the local loss each step.
        max_objects: if set, each simulated survey's valid objects are gathered into this many
            rows before the networks see them (the simulator's ``n_max`` slots include every
            SN born, most of them undetected: at 16k SNe, 65,536 slots for ~16,000), and a
            survey with more valid objects is left out of the loss. Leaving out surveys by a
            function of the data leaves the posterior of every survey that fits unchanged, so
            the estimator is exact for, and only applies to, surveys of at most
            ``max_objects`` objects (``cigars infer`` refuses larger catalogues; ``cigars
            validate`` skips larger simulations).
        local_weight: weight of the mean local NLL in the loss.
        n_pilot: simulations used to fix the standardisation statistics.
        n_val: fixed validation simulations.
        val_every: steps between validations (early stopping is checked then).
        patience: validations without improvement before stopping early.
        log_every: steps between metric fetches (log lines and progress-bar updates).
        checkpoint_every: steps between checkpoints.
    """

    steps: int = bounded(20_000, ge=1)
    batch_size: int = bounded(64, ge=1)
    learning_rate: float = bounded(1e-3, gt=0)
    warmup_steps: int = bounded(500, ge=0)
    final_lr_fraction: float = bounded(0.01, ge=0, le=1)
    weight_decay: float = bounded(1e-4, ge=0)
    clip_norm: float = bounded(1000.0, gt=0)
    local_subsample: int = bounded(32, ge=1)
    max_objects: int | None = bounded(None, ge=1)
    local_weight: float = bounded(1.0, ge=0)
    n_pilot: int = bounded(512, ge=2)
    n_val: int = bounded(512, ge=1)
    val_every: int = bounded(500, ge=1)
    patience: int = bounded(10, ge=1)
    log_every: int = bounded(50, ge=1)
    checkpoint_every: int = bounded(1000, ge=1)

    def validate(self) -> None:
        """Check cross-field constraints."""
        if self.warmup_steps >= self.steps:
            raise ValueError(
                f"warmup_steps ({self.warmup_steps}) must be smaller than steps ({self.steps})"
            )


class NPEConfig(Config):
    """Everything that defines one NPE training run.

    Attributes:
        seed: master seed (initialisation, pilot, validation set and every training batch).
        estimator: the network architecture.
        training: the optimisation schedule.
    """

    seed: int = bounded(0, ge=0)
    estimator: EstimatorConfig = EstimatorConfig()
    training: TrainingConfig = TrainingConfig()
