"""Likelihood-based reference posteriors: numpyro models over the simulator's own physics.

* :class:`SNModel`, :class:`SNData`, :func:`sn_log_likelihood` - the SN Ia model with known
  redshifts and hosts (Tripp + host terms, x1/c population and SN dust marginalised).
* :class:`SelectionGrid`, :func:`selection_grid`, :func:`detection_probability` - the
  selection normalisation of each detected supernova.
* numpyro models :func:`sn_model`, :func:`standardised_model` (:class:`StandardisedData`);
  :func:`run_nuts`, :func:`nuts_idata`.
* The known-hosts sub-model (:func:`known_hosts_problem`, :class:`SubModelConfig`): the
  generative model whose exact posterior :func:`sn_model` gives, as a neural-estimator problem.
* The ``standardised`` likelihood over an observed sample's design as a neural-estimator
  problem (:func:`standardised_problem`; ``cigars train CONFIG --data FILE``, then
  :func:`infer_standardised` for ``cigars infer RUN FILE``), the posterior NUTS gives with it.
* ``cigars validate RUN --reference nuts``: :func:`nuts_reference` (C2ST, mean shift, sd
  ratio of the neural posteriors against NUTS on the same validation surveys).
* Neural importance sampling: :func:`log_joint`, :func:`importance_weights` (PSIS weights,
  ESS, efficiency, Pareto k), :func:`importance_resample` - the neural posterior reweighted to
  the exact likelihood where there is one (``cigars validate --reference nuts`` reports it).
* ``cigars infer --method nuts``: :func:`infer_nuts` over the experiment's ``likelihood`` section
  (:class:`LikelihoodConfig`: ``standardised``, ``tripp``); :func:`read_covariance` reads a
  Pantheon+ ``.cov`` file.
"""

from cigars.likelihood._config import (
    LikelihoodConfig,
    SamplerConfig,
    StandardisedLikelihoodConfig,
    SubModelConfig,
    TrippLikelihoodConfig,
)
from cigars.likelihood._importance import (
    ImportanceWeights,
    importance_resample,
    importance_weights,
    log_joint,
)
from cigars.likelihood._infer import (
    file_problem,
    infer_nuts,
    nuts_problem,
    read_covariance,
    summary_rows,
)
from cigars.likelihood._models import (
    StandardisedData,
    sample_theta,
    sn_model,
    standardised_log_likelihood,
    standardised_mean,
    standardised_model,
)
from cigars.likelihood._nuts import nuts_idata, run_nuts
from cigars.likelihood._reference import nuts_reference, reference_checks
from cigars.likelihood._selection import (
    SelectionGrid,
    detection_probability,
    log_detection_probability,
    selection_grid,
)
from cigars.likelihood._sn import (
    SNData,
    SNModel,
    distance_modulus_hel,
    mean_magnitude,
    population_loading,
    rv_quadrature,
    sn_log_likelihood,
)
from cigars.likelihood._standardised_npe import (
    DESIGN_FILE,
    StandardisedSample,
    check_design,
    design_problem,
    infer_standardised,
    read_standardised_sample,
    standardised_problem,
)
from cigars.likelihood._submodel import (
    CONTEXT_FIELDS,
    covariate_pool,
    known_hosts_problem,
    laplace_features,
    rejection_failure_rate,
    sn_data_from_catalogue,
    sn_data_from_simulation,
    sn_model_for,
    submodel_prior,
)

__all__ = [
    "DESIGN_FILE",
    "StandardisedSample",
    "check_design",
    "design_problem",
    "infer_standardised",
    "read_standardised_sample",
    "standardised_mean",
    "standardised_problem",
    "CONTEXT_FIELDS",
    "SubModelConfig",
    "covariate_pool",
    "known_hosts_problem",
    "laplace_features",
    "rejection_failure_rate",
    "sn_data_from_catalogue",
    "sn_data_from_simulation",
    "sn_model_for",
    "submodel_prior",
    "ImportanceWeights",
    "importance_resample",
    "importance_weights",
    "log_joint",
    "LikelihoodConfig",
    "SamplerConfig",
    "StandardisedLikelihoodConfig",
    "TrippLikelihoodConfig",
    "file_problem",
    "infer_nuts",
    "nuts_problem",
    "nuts_reference",
    "reference_checks",
    "read_covariance",
    "summary_rows",
    "SNData",
    "StandardisedData",
    "nuts_idata",
    "run_nuts",
    "sample_theta",
    "sn_model",
    "standardised_log_likelihood",
    "standardised_model",
    "SNModel",
    "SelectionGrid",
    "detection_probability",
    "distance_modulus_hel",
    "log_detection_probability",
    "mean_magnitude",
    "population_loading",
    "rv_quadrature",
    "selection_grid",
    "sn_log_likelihood",
]
