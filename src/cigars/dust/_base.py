"""The attenuation/extinction-law interface shared by host-galaxy and supernova light."""

from __future__ import annotations

import abc
import math

import jax.numpy as jnp
from flax import struct

from cigars._types import Array, Float

__all__ = ["AbstractAttenuation", "MAG_PER_TAU"]

MAG_PER_TAU = 2.5 / math.log(10.0)
"""Magnitudes of attenuation per unit optical depth, 2.5 log10(e) ~ 1.0857."""


class AbstractAttenuation(struct.PyTreeNode, abc.ABC):
    r"""A dust attenuation (or extinction) law with its parameters as PyTree leaves.

    Implementations hold their parameters (optical depths, slopes, :math:`R_V`) as fields, so a
    law built inside a vmapped function from per-object parameters is a per-object law, and
    ``jax.grad`` differentiates through them. The one abstract method is
    :meth:`optical_depth`; the transmitted fraction and the attenuation in magnitudes follow:

    .. math::

        F_{\rm obs}(\lambda) = F_{\rm int}(\lambda)\, e^{-\tau(\lambda)}, \qquad
        A_\lambda = 2.5 \log_{10}(e)\, \tau(\lambda).
    """

    @abc.abstractmethod
    def optical_depth(self, wave: Float[Array, "*w"]) -> Float[Array, "*w"]:
        """Optical depth tau(lambda) at rest-frame wavelengths ``wave`` [Angstrom]."""

    def transmission(self, wave: Float[Array, "*w"]) -> Float[Array, "*w"]:
        """Transmitted fraction exp(-tau(lambda)) at ``wave`` [Angstrom]."""
        return jnp.exp(-self.optical_depth(wave))

    def attenuation_mag(self, wave: Float[Array, "*w"]) -> Float[Array, "*w"]:
        """Attenuation A_lambda = 1.0857 tau(lambda) [mag] at ``wave`` [Angstrom]."""
        return MAG_PER_TAU * self.optical_depth(wave)
