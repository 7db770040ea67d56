"""cigars: simulation-based inference for type Ia supernova cosmology with host galaxies."""

__version__ = "0.1.0"

__all__ = ["__version__"]
