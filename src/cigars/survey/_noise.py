r"""Host-galaxy photometric noise models: the 1-sigma magnitude error in each band.

The observed magnitude is :math:`m_\mathrm{obs} = m + \sigma(m)\,\epsilon`,
:math:`\epsilon \sim \mathcal{N}(0, 1)`; the errors :math:`\sigma` are reported with the data.
"""

from __future__ import annotations

import abc
import math

import jax.numpy as jnp
from flax import struct

from cigars._types import Array, Float

__all__ = ["LSST_DEPTHS", "AbstractHostNoise", "DepthHostNoise", "FixedHostNoise"]

LSST_DEPTHS = (25.73, 26.86, 26.88, 26.34, 25.63, 25.87)
"""LSST 10-year coadd 5-sigma point-source depths in u g r i z y [mag] (as used by the CIGaRS
reference; Bianco et al. 2022, ApJS 258, 1, doi:10.3847/1538-4365/ac3e72)."""

_MAG_PER_INVERSE_SNR = 2.5 / math.log(10.0)


class AbstractHostNoise(struct.PyTreeNode, abc.ABC):
    """Per-band magnitude error of a host galaxy as a function of its noiseless magnitudes."""

    @abc.abstractmethod
    def sigma(self, mag: Float[Array, "*batch n_band"]) -> Float[Array, "*batch n_band"]:
        """1-sigma magnitude errors [mag].

        Args:
            mag: noiseless apparent magnitudes [mag], last axis = bands.

        Returns:
            Errors with the same shape.
        """


class FixedHostNoise(AbstractHostNoise):
    """The same error in every band and for every galaxy (reference: 0.01 mag).

    Attributes:
        sigma_mag: the error [mag] (> 0).
    """

    sigma_mag: float = struct.field(pytree_node=False, default=0.01)

    def __post_init__(self):
        if not self.sigma_mag > 0:
            raise ValueError(f"FixedHostNoise: sigma_mag must be > 0, got {self.sigma_mag!r}")

    def sigma(self, mag):
        """``sigma_mag`` everywhere."""
        return jnp.full_like(mag, self.sigma_mag)


class DepthHostNoise(AbstractHostNoise):
    r"""Background-limited errors from the survey depth, plus a floor in quadrature.

    .. math::

        \mathrm{SNR} = \mathrm{SNR}_5\, 10^{-0.4 (m - m_5)},\qquad
        \sigma = \sqrt{\left(\frac{2.5}{\ln 10}\frac{1}{\mathrm{SNR}}\right)^2
                        + \sigma_\mathrm{floor}^2},

    with :math:`m_5` the limiting magnitude at which SNR = :math:`\mathrm{SNR}_5` (= 5).
    The default floor, 5 mmag, is the LSST photometric-repeatability requirement
    (Ivezic et al. 2019, ApJ 873, 111).

    Attributes:
        depths: per-band limiting magnitudes m5 [mag] (default LSST 10-yr coadd).
        snr_at_depth: SNR at the limiting magnitude (default 5).
        floor: error floor [mag] added in quadrature.
    """

    depths: tuple[float, ...] = struct.field(pytree_node=False, default=LSST_DEPTHS)
    snr_at_depth: float = struct.field(pytree_node=False, default=5.0)
    floor: float = struct.field(pytree_node=False, default=0.005)

    def __post_init__(self):
        if len(self.depths) < 1 or not self.snr_at_depth > 0 or not self.floor >= 0:
            raise ValueError(
                "DepthHostNoise: needs >= 1 depth, snr_at_depth > 0 and floor >= 0, got "
                f"{self.depths!r}, {self.snr_at_depth!r}, {self.floor!r}"
            )

    def sigma(self, mag):
        """Depth-dependent error with the floor in quadrature."""
        depths = jnp.asarray(self.depths, dtype=jnp.result_type(mag))
        if mag.shape[-1] != depths.shape[0]:
            raise ValueError(f"DepthHostNoise: {depths.shape[0]} depths for {mag.shape[-1]} bands")
        snr = self.snr_at_depth * 10.0 ** (-0.4 * (mag - depths))
        return jnp.sqrt((_MAG_PER_INVERSE_SNR / snr) ** 2 + self.floor**2)
