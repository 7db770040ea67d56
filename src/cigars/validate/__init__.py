"""Posterior validation: calibration and accuracy of a posterior estimator on simulations.

Pure functions over posterior draws and true values (numpy):

* simulation-based calibration (Talts et al. 2018): :func:`sbc_ranks`, :func:`rank_uniformity`
  (chi-square and Kolmogorov-Smirnov p-values against the discrete uniform);
* expected coverage of central 1-D credible intervals: :func:`central_coverage`,
  :func:`coverage_deviation`, :func:`coverage_tolerance`, the three together:
  :func:`coverage_summary`; per group of posterior width: :func:`coverage_by_width`;
* TARP expected coverage of the joint posterior (Lemos et al. 2023): :func:`tarp_coverage`;
* posterior-mean recovery and z-scores: :func:`posterior_recovery`, :func:`recovery_summary`;
* photo-z metrics (bias, sigma_NMAD, outlier fractions): :func:`photoz_metrics`,
  :func:`photoz_metrics_binned`;

and the report over them (:func:`diagnose`, :class:`Check`, :class:`Thresholds`,
:func:`add_report_section`). :func:`validate_run` (``cigars validate``) runs it all on fresh
simulations for a trained run.
"""

from cigars.validate._coverage import (
    central_coverage,
    coverage_by_width,
    coverage_deviation,
    coverage_summary,
    coverage_tolerance,
    credibility_levels,
    tarp_coverage,
)
from cigars.validate._photoz import DEFAULT_Z_EDGES, photoz_metrics, photoz_metrics_binned
from cigars.validate._ranks import default_rank_bins, rank_uniformity, sbc_ranks
from cigars.validate._recovery import posterior_recovery, recovery_summary
from cigars.validate._report import (
    REPORT_NAME,
    Check,
    Thresholds,
    ValidationDraws,
    add_report_section,
    diagnose,
    read_report,
    to_json,
    verdict,
    write_report,
)
from cigars.validate._run import (
    DRAWS_NAME,
    collect_draws,
    fitting_surveys,
    survey_keys,
    validate_run,
)

__all__ = [
    "DEFAULT_Z_EDGES",
    "DRAWS_NAME",
    "REPORT_NAME",
    "Check",
    "Thresholds",
    "ValidationDraws",
    "add_report_section",
    "central_coverage",
    "coverage_by_width",
    "collect_draws",
    "coverage_deviation",
    "coverage_summary",
    "coverage_tolerance",
    "credibility_levels",
    "default_rank_bins",
    "diagnose",
    "fitting_surveys",
    "photoz_metrics",
    "photoz_metrics_binned",
    "posterior_recovery",
    "rank_uniformity",
    "read_report",
    "recovery_summary",
    "sbc_ranks",
    "survey_keys",
    "tarp_coverage",
    "to_json",
    "validate_run",
    "verdict",
    "write_report",
]
