"""Figures: Hubble diagrams, corner plots, coverage and photo-z figures."""

from cigars.plots._hubble import plot_hubble
from cigars.plots._posterior import plot_corner, plot_photoz

__all__ = ["plot_corner", "plot_hubble", "plot_photoz"]
