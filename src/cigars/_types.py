"""Dimension names shared by every jaxtyping signature in cigars.

``n_sim`` simulated surveys in a batch, ``n_sn`` supernova slots (padded), ``n_host`` galaxies,
``n_band`` photometric bands, ``n_bin`` star-formation-history bins, ``n_wave`` wavelengths,
``n_theta`` global parameters, ``n_z`` redshift grid points.
"""

from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

__all__ = ["Array", "Bool", "Float", "Int", "Key", "Scalar"]

Key = PRNGKeyArray
Scalar = Float[Array, ""]
