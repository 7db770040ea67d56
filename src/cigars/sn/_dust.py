r"""Dust extinction of the supernova by its host: A_V and R_V per supernova.

The extinguished B-band absolute magnitude and colour follow MODEL.md section 4c:
:math:`E(B-V) = A_V / R_V`, :math:`M = M_\mathrm{int} + A_V + E(B-V) = M_\mathrm{int} + (R_V+1)
E(B-V)` (i.e. :math:`A_B = R_B E(B-V)` with :math:`R_B = R_V + 1`), :math:`c = c_\mathrm{int} +
E(B-V)`.
"""

from __future__ import annotations

import abc
import math

import jax
import jax.numpy as jnp
import numpyro.distributions as dist
from flax import struct

from cigars._types import Array, Float, Key

__all__ = ["AbstractSNDust", "IndependentSNDust", "TiedSNDust", "AV_PER_TAU"]

AV_PER_TAU = 2.5 / math.log(10.0)
"""Magnitudes of extinction per unit optical depth, 2.5 log10(e) = 1.0857."""


class AbstractSNDust(struct.PyTreeNode, abc.ABC):
    """The distribution of (A_V, R_V) for one supernova given its host's dust."""

    @abc.abstractmethod
    def sample(
        self, key: Key, host_dust2: Float[Array, "*batch"]
    ) -> tuple[Float[Array, "*batch"], Float[Array, "*batch"]]:
        """Draw the SNe's V-band extinctions and total-to-selective extinction ratios.

        Args:
            key: PRNG key.
            host_dust2: the hosts' diffuse dust optical depths at 5500 A (one per SN; any
                shape: one independent draw per element).

        Returns:
            ``(A_V [mag], R_V)``, shaped like ``host_dust2``.
        """


def _sample_rv(key: Key, shape, dtype, mean: float, sd: float, low: float) -> Array:
    loc = jnp.full((), mean, dtype)
    return dist.TruncatedNormal(loc, sd, low=low).sample(key, shape)


class IndependentSNDust(AbstractSNDust):
    r"""SN dust independent of the host's dust (the reference's ``dindep`` variant).

    :math:`A_V \sim \mathrm{Exponential}(\text{mean } \tau)`,
    :math:`R_V \sim \mathcal{N}(\bar R, \sigma_R)` truncated to :math:`R_V > R_\mathrm{min}`.

    Attributes:
        tau_av: mean A_V [mag] (reference 0.1).
        rv_mean, rv_sd, rv_min: R_V distribution (reference 3, 0.5, 1.2).
    """

    tau_av: float = struct.field(pytree_node=False, default=0.1)
    rv_mean: float = struct.field(pytree_node=False, default=3.0)
    rv_sd: float = struct.field(pytree_node=False, default=0.5)
    rv_min: float = struct.field(pytree_node=False, default=1.2)

    def __post_init__(self):
        if not self.tau_av > 0 or not self.rv_sd > 0:
            raise ValueError(
                f"IndependentSNDust: tau_av and rv_sd must be > 0, got {self.tau_av}, {self.rv_sd}"
            )

    def sample(self, key, host_dust2):
        """A_V ~ Exponential(1/tau_av), R_V ~ truncated normal; ignores the host dust."""
        k_av, k_rv = jax.random.split(key)
        shape, dtype = jnp.shape(host_dust2), jnp.result_type(host_dust2)
        a_v = dist.Exponential(jnp.full((), 1.0 / self.tau_av, dtype)).sample(k_av, shape)
        return a_v, _sample_rv(k_rv, shape, dtype, self.rv_mean, self.rv_sd, self.rv_min)


class TiedSNDust(AbstractSNDust):
    r"""SN extinction set by the host's diffuse dust (like the reference's ``dglob`` variant).

    :math:`A_V = f \cdot 1.0857\,\tau_2` (``dust2`` is an optical depth at 5500 A),
    :math:`R_V` as in :class:`IndependentSNDust`.

    Attributes:
        scale: factor f applied to the host's V-band extinction (1 = the full host column).
        rv_mean, rv_sd, rv_min: R_V distribution.
    """

    scale: float = struct.field(pytree_node=False, default=1.0)
    rv_mean: float = struct.field(pytree_node=False, default=3.0)
    rv_sd: float = struct.field(pytree_node=False, default=0.5)
    rv_min: float = struct.field(pytree_node=False, default=1.2)

    def __post_init__(self):
        if not self.scale >= 0 or not self.rv_sd > 0:
            raise ValueError(
                f"TiedSNDust: scale must be >= 0 and rv_sd > 0, got {self.scale}, {self.rv_sd}"
            )

    def sample(self, key, host_dust2):
        """A_V = scale * 1.0857 * dust2 (deterministic), R_V ~ truncated normal."""
        a_v = self.scale * AV_PER_TAU * host_dust2
        shape, dtype = jnp.shape(host_dust2), jnp.result_type(host_dust2)
        return a_v, _sample_rv(key, shape, dtype, self.rv_mean, self.rv_sd, self.rv_min)
