"""A linear-Gaussian hierarchical toy with an exact joint posterior, for tests and benchmarks.

Globals ``theta = (mu, delta) ~ N(0, I_2)``. Each survey has ``n ~ U{n_min..n_max}`` valid
objects in random slots of ``n_max``; object ``i`` has a known covariate ``c_i ~ U(-1, 1)``
(passed as per-object *context*) and noise level ``sigma_i ~ U(sigma_lo, sigma_hi)`` (observed),

    l_i | theta ~ N(mu + delta c_i, tau^2),        x_i | l_i ~ N(l_i, sigma_i^2),

with data ``(x_i, sigma_i)`` per object. Marginally ``x_i | theta ~ N(a_i . theta, tau^2 +
sigma_i^2)`` with ``a_i = (1, c_i)``, so (Bishop 2006, PRML eqs. 2.116-2.117)

    theta | X ~ N(m, P^{-1}),  P = I + sum_i a_i a_i^T / (tau^2 + sigma_i^2),
                               m = P^{-1} sum_i a_i x_i / (tau^2 + sigma_i^2),

and the locals are conditionally independent given theta:

    l_i | theta, x_i ~ N(v_i [(a_i . theta) / tau^2 + x_i / sigma_i^2], v_i),
    v_i = (1 / tau^2 + 1 / sigma_i^2)^{-1}.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpyro.distributions as dist

from cigars._types import Array, Float, Key
from cigars.inference._contract import NumpyroPrior, Simulation

__all__ = ["LinearGaussianToy"]


@dataclasses.dataclass(frozen=True)
class LinearGaussianToy:
    """The linear-Gaussian hierarchical toy (see the module docstring).

    Attributes:
        n_max: object slots per survey.
        n_min: fewest valid objects in a survey.
        tau: population scatter of the locals.
        sigma_lo: smallest per-object noise level.
        sigma_hi: largest per-object noise level.
    """

    n_max: int = 32
    n_min: int = 4
    tau: float = 0.5
    sigma_lo: float = 0.2
    sigma_hi: float = 1.0

    def __post_init__(self):
        if not 0 <= self.n_min <= self.n_max or self.n_max < 1:
            raise ValueError(
                f"need 0 <= n_min <= n_max, n_max >= 1; got {self.n_min}, {self.n_max}"
            )
        if not (self.tau > 0 and 0 < self.sigma_lo <= self.sigma_hi):
            raise ValueError("need tau > 0 and 0 < sigma_lo <= sigma_hi")

    @functools.cached_property
    def prior(self) -> NumpyroPrior:
        """The standard-normal prior over ``(mu, delta)`` (one object per toy instance).

        Built with concrete arrays even when first accessed inside a ``jit`` trace.
        """
        with jax.ensure_compile_time_eval():
            return NumpyroPrior(dist.Normal(jnp.zeros(2), jnp.ones(2)))

    def simulate(self, key: Key, theta: Float[Array, " 2"]) -> Simulation:
        """One survey: data ``(x_i, sigma_i)``, locals ``l_i``, context ``c_i`` and the mask."""
        k_n, k_slot, k_c, k_s, k_l, k_x = jax.random.split(key, 6)
        n = jax.random.randint(k_n, (), self.n_min, self.n_max + 1)
        rank = jnp.argsort(jax.random.uniform(k_slot, (self.n_max,)))
        mask = jnp.zeros(self.n_max, bool).at[rank].set(jnp.arange(self.n_max) < n)
        c = jax.random.uniform(k_c, (self.n_max,), minval=-1.0, maxval=1.0)
        sigma = jax.random.uniform(k_s, (self.n_max,), minval=self.sigma_lo, maxval=self.sigma_hi)
        loc = theta[0] + theta[1] * c + self.tau * jax.random.normal(k_l, (self.n_max,))
        x = loc + sigma * jax.random.normal(k_x, (self.n_max,))
        return Simulation(
            theta=theta,
            locals=loc[:, None],
            data=jnp.stack([x, sigma], -1),
            mask=mask,
            context=c[:, None],
        )

    def posterior_theta(self, sim: Simulation) -> tuple[Float[Array, " 2"], Float[Array, "2 2"]]:
        """Exact posterior mean and covariance of ``theta`` for one survey."""
        x, sigma = sim.data[:, 0], sim.data[:, 1]
        a = jnp.stack([jnp.ones_like(sim.context[:, 0]), sim.context[:, 0]], -1)
        w = jnp.where(sim.mask, 1.0 / (self.tau**2 + sigma**2), 0.0)
        precision = jnp.eye(2) + jnp.einsum("i,ij,ik->jk", w, a, a)
        cov = jnp.linalg.inv(precision)
        mean = cov @ jnp.einsum("i,ij,i->j", w, a, jnp.where(sim.mask, x, 0.0))
        return mean, cov

    def sample_posterior(
        self, key: Key, sim: Simulation, num_samples: int
    ) -> tuple[Float[Array, "s 2"], Float[Array, "s n_sn 1"]]:
        """Exact joint posterior draws ``(theta, locals)``; padded slots of locals are NaN."""
        k_t, k_l = jax.random.split(key)
        mean, cov = self.posterior_theta(sim)
        theta = jax.random.multivariate_normal(k_t, mean, cov, (num_samples,))
        x, sigma, c = sim.data[:, 0], sim.data[:, 1], sim.context[:, 0]
        v = 1.0 / (1.0 / self.tau**2 + 1.0 / sigma**2)
        m = v * ((theta[:, :1] + theta[:, 1:] * c) / self.tau**2 + x / sigma**2)
        loc = m + jnp.sqrt(v) * jax.random.normal(k_l, m.shape)
        return theta, jnp.where(sim.mask, loc, jnp.nan)[..., None]
