"""Figures: Hubble diagrams, corner plots, coverage and photo-z figures."""

from cigars.plots._hubble import plot_hubble

__all__ = ["plot_hubble"]
