r"""numpyro models over the likelihoods: the global prior as sample sites, the data as factors.

* :func:`sn_model` - the SN Ia model with known redshifts and hosts
  (:func:`~cigars.likelihood.sn_log_likelihood`), each detected SN divided by its selection
  probability (:func:`~cigars.likelihood.detection_probability`) when a selection grid is given.
* :func:`standardised_model` - standardised magnitudes (Pantheon+ ``m_b_corr``):
  :math:`m_\mathrm{corr} \sim N(\mu(z) + M_0, C)` with a diagonal or full covariance.

The prior is a :class:`~cigars.simulate.GlobalPrior`: each inferred parameter is a numpyro
sample site named like the :class:`~cigars.simulate.Theta` field, the others are fixed.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import jax.scipy.linalg
import numpy as np
import numpyro
from flax import struct

from cigars._types import Array, Float
from cigars.likelihood._selection import SelectionGrid, log_detection_probability
from cigars.likelihood._sn import SNData, SNModel, distance_modulus_hel, sn_log_likelihood

__all__ = [
    "StandardisedData",
    "sample_theta",
    "sn_model",
    "standardised_log_likelihood",
    "standardised_mean",
    "standardised_model",
]


def sample_theta(prior: Any) -> Any:
    """Sample sites for the prior's inferred parameters; returns the full :class:`Theta`."""
    values = {name: numpyro.sample(name, prior.distribution(name)) for name in prior.names}
    return prior.fixed.replace(**values)


def sn_model(model: SNModel, prior: Any, data: SNData, grid: SelectionGrid | None = None) -> None:
    """A numpyro model: the global prior, then every SN's marginal likelihood (selection-corrected).

    Args:
        model: the SN model's fixed settings.
        prior: the :class:`~cigars.simulate.GlobalPrior`.
        data: the detected supernovae.
        grid: selection grid (:func:`~cigars.likelihood.selection_grid`) or ``None`` (no
            selection).
    """
    theta = sample_theta(prior)
    ll = sn_log_likelihood(model, theta, data)
    if grid is not None:
        ll = ll - log_detection_probability(model, theta, data, grid)
    numpyro.factor("sn_loglike", jnp.sum(ll))


@struct.dataclass
class StandardisedData:
    """Standardised SN magnitudes with their covariance.

    Attributes:
        z_cos: redshift for the comoving distance (Pantheon+ ``zHD``).
        z_hel: heliocentric redshift (Pantheon+ ``zHEL``).
        m: standardised magnitudes (Pantheon+ ``m_b_corr``).
        scale_tril: (n, n) lower Cholesky factor of the covariance.
    """

    z_cos: Float[Array, " n_sn"]
    z_hel: Float[Array, " n_sn"]
    m: Float[Array, " n_sn"]
    scale_tril: Float[Array, "n_sn n_sn"]

    @classmethod
    def from_arrays(cls, z_cos, z_hel, m, cov=None, sigma=None) -> StandardisedData:
        """Build from columns and either a full covariance ``cov`` or errors ``sigma``.

        Raises:
            ValueError: for mismatched shapes, non-finite values, or a covariance that is not
                positive definite.
        """
        z_cos, z_hel, m = (np.asarray(v, float) for v in (z_cos, z_hel, m))
        n = m.shape[0]
        if (cov is None) == (sigma is None):
            raise ValueError("StandardisedData: give exactly one of cov and sigma")
        cov = np.diag(np.asarray(sigma, float) ** 2) if cov is None else np.asarray(cov, float)
        if z_cos.shape != (n,) or z_hel.shape != (n,) or cov.shape != (n, n):
            raise ValueError(
                f"StandardisedData: shapes z {z_cos.shape}, z_hel {z_hel.shape}, m {m.shape}, "
                f"cov {cov.shape} do not match"
            )
        for name, v in (("z", z_cos), ("z_hel", z_hel), ("m", m), ("cov", cov)):
            if not np.all(np.isfinite(v)):
                raise ValueError(f"StandardisedData: {name} has non-finite values")
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise ValueError("StandardisedData: the covariance is not positive definite") from None
        dtype = jnp.result_type(float)
        return cls(*(jnp.asarray(v, dtype) for v in (z_cos, z_hel, m, chol)))


def standardised_mean(
    theta: Any,
    z_cos: Float[Array, " n_sn"],
    z_hel: Float[Array, " n_sn"],
    cosmology: str = "flat_lambdacdm",
) -> Float[Array, " n_sn"]:
    r"""Mean standardised magnitude :math:`\mu(z_\mathrm{cos}, z_\mathrm{hel}) + M_0` [mag].

    :func:`~cigars.likelihood.distance_modulus_hel` plus ``theta.M0`` (the standardised
    absolute magnitude at the fixed ``theta.H0``): the mean of
    :func:`standardised_log_likelihood` and of the simulator of
    :func:`~cigars.likelihood.standardised_problem`.
    """
    return distance_modulus_hel(theta, z_cos, z_hel, cosmology) + theta.M0


# Jitted for numpyro's eager model runs at NUTS initialisation (see distance_modulus_hel).
@functools.partial(jax.jit, static_argnames="cosmology")
def standardised_log_likelihood(
    theta: Any, data: StandardisedData, cosmology: str = "flat_lambdacdm"
) -> Float[Array, ""]:
    r"""Gaussian log likelihood of standardised magnitudes.

    :math:`\ln N(m; \mu(z_\mathrm{cos}, z_\mathrm{hel}) + M_0, C)` with the mean
    :func:`standardised_mean`.
    """
    r = data.m - standardised_mean(theta, data.z_cos, data.z_hel, cosmology)
    white = jax.scipy.linalg.solve_triangular(data.scale_tril, r, lower=True)
    logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(data.scale_tril)))
    n = data.m.shape[0]
    ll = -0.5 * (jnp.sum(white**2) + logdet + n * math.log(2.0 * math.pi))
    return jnp.where(jnp.isfinite(ll), ll, -jnp.inf)


def standardised_model(prior: Any, data: StandardisedData, cosmology: str = "flat_lambdacdm"):
    """A numpyro model: the global prior, then :func:`standardised_log_likelihood`."""
    theta = sample_theta(prior)
    numpyro.factor("sn_loglike", standardised_log_likelihood(theta, data, cosmology))
