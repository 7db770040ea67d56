"""Figures: Hubble diagrams, corner plots, coverage and photo-z figures, host photometry."""

from cigars.plots._hosts import plot_host_features
from cigars.plots._hubble import plot_hubble
from cigars.plots._posterior import plot_corner, plot_photoz
from cigars.plots._validation import (
    plot_coverage,
    plot_photoz_validation,
    plot_rank_histograms,
    plot_recovery,
    plot_tarp,
    plot_validation,
    plot_zscores,
)

__all__ = [
    "plot_corner",
    "plot_coverage",
    "plot_host_features",
    "plot_hubble",
    "plot_photoz",
    "plot_photoz_validation",
    "plot_rank_histograms",
    "plot_recovery",
    "plot_tarp",
    "plot_validation",
    "plot_zscores",
]
