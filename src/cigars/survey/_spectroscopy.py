"""Spectroscopic follow-up: which detected supernovae get a spectroscopic redshift.

The CIGaRS reference has no spectroscopic subsample in its simulator (MODEL.md section 6: its
comparison analysis uses "the small fraction of objects with spectroscopic follow-up", whose
size and selection are unknown). These models make that subsample explicit.
"""

from __future__ import annotations

import abc

import jax.numpy as jnp
from flax import struct

from cigars._types import Array, Float

__all__ = ["AbstractSpectroscopy", "FractionSpectroscopy", "MagLimitSpectroscopy"]


class AbstractSpectroscopy(struct.PyTreeNode, abc.ABC):
    """Probability that a detected supernova is followed up spectroscopically."""

    @abc.abstractmethod
    def probability(
        self, z: Float[Array, "*batch"], m_obs: Float[Array, "*batch"]
    ) -> Float[Array, "*batch"]:
        """Follow-up probability in [0, 1].

        Args:
            z: observed (heliocentric) redshift.
            m_obs: observed SN peak magnitude [mag].

        Returns:
            The probability, broadcast shape.
        """


class FractionSpectroscopy(AbstractSpectroscopy):
    """A random fraction of the detected supernovae, whatever their brightness.

    Attributes:
        fraction: follow-up probability in [0, 1].
    """

    fraction: float = struct.field(pytree_node=False)

    def __post_init__(self):
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(
                f"FractionSpectroscopy: fraction must be in [0, 1], got {self.fraction!r}"
            )

    def probability(self, z, m_obs):
        """``fraction`` everywhere."""
        return jnp.full(jnp.broadcast_shapes(jnp.shape(z), jnp.shape(m_obs)), self.fraction)


class MagLimitSpectroscopy(AbstractSpectroscopy):
    """Supernovae brighter than a magnitude limit, each kept with probability ``fraction``.

    Attributes:
        m_lim: follow-up magnitude limit [mag] (``m_obs < m_lim``).
        fraction: completeness below the limit, in [0, 1].
    """

    m_lim: float = struct.field(pytree_node=False)
    fraction: float = struct.field(pytree_node=False, default=1.0)

    def __post_init__(self):
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(
                f"MagLimitSpectroscopy: fraction must be in [0, 1], got {self.fraction!r}"
            )

    def probability(self, z, m_obs):
        """``fraction`` where ``m_obs < m_lim``, else 0."""
        return jnp.where(jnp.asarray(m_obs) < self.m_lim, self.fraction, 0.0) + 0.0 * z
