"""Hierarchical neural posterior estimation: joint posteriors over globals and per-object latents.

The engine is generic: it needs a *simulator* and a *prior* that follow the contract below, and
knows nothing of supernovae.

Simulator contract
------------------
``simulate(key, theta) -> Simulation`` (or the tuple ``(theta, locals, data, mask[, context])``)
for ONE survey, written with ``jax.numpy`` so that it can be ``jit``-ed and ``vmap``-ed (the
training step vmaps it over a batch of keys and prior draws inside one XLA program). Shapes are
static: every survey has ``n_max`` object slots.

* ``theta`` ``(n_theta,)``: the global parameters being inferred, physical units, inside the
  prior's support (usually the input ``theta`` unchanged).
* ``locals`` ``(n_max, n_local)``: each object's latent parameters to infer, physical units,
  inside ``local_bounds`` (``n_local`` may be 0, or ``None`` in the tuple form).
* ``data`` ``(n_max, n_feat)``: what is observed per object (e.g. SN light-curve summaries and
  host magnitudes with their uncertainties).
* ``mask`` ``(n_max,)`` bool: True for objects that are observed (selected). Padded slots may
  hold anything, NaN included: they are zeroed before any network sees them, and the outputs
  do not depend on them (tested).
* ``context`` ``(n_max, n_ctx)`` (optional): observed per-object side information that is not
  modelled, e.g. a spectroscopic redshift and a 0/1 ``has_spec`` flag. It must be finite in
  valid rows; encode "missing" as a fill value plus a flag.

Prior contract (:class:`Prior`; :class:`NumpyroPrior` wraps any numpyro distribution)
----------------------------------------------------------------------------------------
``prior.sample(key) -> (n_theta,)`` (jit/vmap-able), ``prior.log_prob(theta) -> ()``, and support
bounds ``prior.lower``, ``prior.upper`` of shape ``(n_theta,)`` (``-inf``/``+inf`` allowed). The
flows act on the unconstrained image of the support (scaled logit for intervals, softplus for
half-lines, identity for the real line: :class:`SupportTransform`), so posterior draws respect
the bounds. Locals get per-dimension bounds the same way (``local_bounds=(lower, upper)``, e.g.
redshift in ``[0.02, 1.5]``).

Standardisation
---------------
Observations, context, the log object count and the unconstrained globals and locals are
standardised with fixed statistics from a pilot batch of ``n_pilot`` simulations
(:func:`fit_standardization`); they are stored in the estimator and in every checkpoint.

Main entry points
-----------------
:func:`train` (fresh simulations in each jitted step, or stored arrays; checkpoints, resume,
early stopping, data parallel over local devices), :func:`sample_posterior` (joint draws in
physical units), :func:`load_estimator` (a run, or an :class:`EnsembleNPE` of several: ``cigars
ensemble``); the pieces: :class:`ConditionalFlow`,
:class:`LinearThetaMixture` (cheap local posteriors for large surveys), :class:`SetEmbedding`,
:class:`HierarchicalNPE`; diagnostics on toys: :func:`c2st`,
:class:`LinearGaussianToy` (exact posterior known).
"""

from cigars.inference._bijections import SupportTransform
from cigars.inference._c2st import c2st
from cigars.inference._configs import EstimatorConfig, NPEConfig, TrainingConfig
from cigars.inference._contract import (
    NumpyroPrior,
    Prior,
    Simulation,
    as_simulation,
    check_simulator,
    simulation_shapes,
    support_bounds,
)
from cigars.inference._embedding import (
    AttentionPool,
    SetEmbedding,
    covariance_features,
    masked_mean,
)
from cigars.inference._flows import ConditionalFlow, RQSCoupling
from cigars.inference._lookup import ReferenceSet, lookup_chi2, lookup_features
from cigars.inference._mixture import LinearThetaMixture, MixtureParams
from cigars.inference._nets import MLP, Statistic
from cigars.inference._npe import HierarchicalNPE, fit_standardization
from cigars.inference._posterior import EnsembleNPE, posterior_log_prob, sample_posterior
from cigars.inference._splines import rational_quadratic_spline, spline_param_count
from cigars.inference._toy import LinearGaussianToy
from cigars.inference._train import (
    TrainResult,
    TrainState,
    fit_objects,
    load_estimator,
    make_optimizer,
    make_train_step,
    plot_loss_curve,
    simulate_batch,
    train,
)

__all__ = [
    "MLP",
    "AttentionPool",
    "ConditionalFlow",
    "EnsembleNPE",
    "EstimatorConfig",
    "HierarchicalNPE",
    "LinearGaussianToy",
    "LinearThetaMixture",
    "MixtureParams",
    "NPEConfig",
    "NumpyroPrior",
    "ReferenceSet",
    "Prior",
    "RQSCoupling",
    "SetEmbedding",
    "Simulation",
    "Statistic",
    "SupportTransform",
    "TrainResult",
    "TrainState",
    "TrainingConfig",
    "as_simulation",
    "c2st",
    "check_simulator",
    "covariance_features",
    "fit_objects",
    "fit_standardization",
    "load_estimator",
    "lookup_chi2",
    "lookup_features",
    "make_optimizer",
    "make_train_step",
    "masked_mean",
    "plot_loss_curve",
    "rational_quadratic_spline",
    "posterior_log_prob",
    "sample_posterior",
    "simulate_batch",
    "simulation_shapes",
    "spline_param_count",
    "support_bounds",
    "train",
]
