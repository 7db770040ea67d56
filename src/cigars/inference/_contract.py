"""What the inference engine needs from a simulator and a prior (see the package docstring)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from numpyro import distributions as dist
from numpyro.distributions import constraints

from cigars._types import Array, Bool, Float, Key, Scalar

__all__ = [
    "NumpyroPrior",
    "Prior",
    "Simulation",
    "as_simulation",
    "check_simulator",
    "simulation_shapes",
    "support_bounds",
]


@struct.dataclass
class Simulation:
    """One simulated (or observed) survey, or a batch of them along extra leading axes.

    Attributes:
        theta: global parameters in physical units, shape ``(..., n_theta)``.
        locals: per-object latent parameters in physical units, ``(..., n_max, n_local)``
            (``n_local`` may be 0; padded rows may hold anything).
        data: per-object observations, ``(..., n_max, n_feat)`` (padded rows may hold anything).
        mask: True for valid (observed) objects, ``(..., n_max)``.
        context: per-object observed side information, ``(..., n_max, n_ctx)`` (``n_ctx`` may
            be 0), e.g. a spectroscopic redshift and a 0/1 "has spectrum" flag; it must be finite
            in valid rows (encode "missing" as a value plus a flag, not NaN).
    """

    theta: Float[Array, "... n_theta"]
    locals: Float[Array, "... n_sn n_local"]
    data: Float[Array, "... n_sn n_feat"]
    mask: Bool[Array, "... n_sn"]
    context: Float[Array, "... n_sn n_ctx"]

    @property
    def n_max(self) -> int:
        """Number of object slots."""
        return self.mask.shape[-1]


def as_simulation(out: Any) -> Simulation:
    """Turn a simulator's output into a :class:`Simulation`.

    Accepts a :class:`Simulation` or a tuple ``(theta, locals, data, mask[, context])``; a missing
    or ``None`` context becomes a zero-width array, ``locals=None`` a zero-width array too.

    Raises:
        ValueError: if the tuple has the wrong length.
    """
    if isinstance(out, Simulation):
        return out
    if not isinstance(out, tuple | list) or len(out) not in (4, 5):
        raise ValueError(
            "simulate(key, theta) must return a Simulation or a tuple "
            "(theta, locals, data, mask[, context]); got "
            f"{type(out).__name__} of length {len(out) if isinstance(out, tuple | list) else '?'}"
        )
    theta, local, data, mask = out[:4]
    context = out[4] if len(out) == 5 else None
    data = jnp.asarray(data)
    lead = data.shape[:-1]
    if local is None:
        local = jnp.zeros(lead + (0,), data.dtype)
    if context is None:
        context = jnp.zeros(lead + (0,), data.dtype)
    return Simulation(
        theta=jnp.asarray(theta),
        locals=jnp.asarray(local),
        data=data,
        mask=jnp.asarray(mask, bool),
        context=jnp.asarray(context),
    )


def simulation_shapes(sim: Simulation) -> dict[str, int]:
    """The dimensions ``n_theta, n_max, n_local, n_feat, n_ctx`` of one (unbatched) simulation.

    Raises:
        ValueError: naming the field whose shape is inconsistent.
    """
    shapes = {
        "n_theta": sim.theta.shape[-1] if sim.theta.ndim else -1,
        "n_max": sim.mask.shape[-1] if sim.mask.ndim else -1,
        "n_local": sim.locals.shape[-1] if sim.locals.ndim >= 2 else -1,
        "n_feat": sim.data.shape[-1] if sim.data.ndim >= 2 else -1,
        "n_ctx": sim.context.shape[-1] if sim.context.ndim >= 2 else -1,
    }
    if sim.theta.ndim != 1:
        raise ValueError(f"simulation: theta must have shape (n_theta,), got {sim.theta.shape}")
    if sim.mask.ndim != 1:
        raise ValueError(f"simulation: mask must have shape (n_max,), got {sim.mask.shape}")
    n = shapes["n_max"]
    for name in ("locals", "data", "context"):
        arr = getattr(sim, name)
        if arr.ndim != 2 or arr.shape[0] != n:
            raise ValueError(f"simulation: {name} must have shape (n_max={n}, k), got {arr.shape}")
    if sim.mask.dtype != jnp.bool_:
        raise ValueError(f"simulation: mask must be boolean, got {sim.mask.dtype}")
    if shapes["n_theta"] < 1 or shapes["n_feat"] < 1 or n < 1:
        raise ValueError(f"simulation: need n_theta, n_feat, n_max >= 1, got {shapes}")
    return shapes


@runtime_checkable
class Prior(Protocol):
    """A prior over the global parameters with box-shaped support.

    Attributes:
        lower: lower support bounds, shape ``(n_theta,)`` (``-inf`` allowed).
        upper: upper support bounds, shape ``(n_theta,)`` (``+inf`` allowed).
    """

    lower: Any
    upper: Any

    def sample(self, key: Key) -> Float[Array, " n_theta"]:
        """One draw of the global parameters (jit/vmap-able)."""
        ...

    def log_prob(self, theta: Float[Array, " n_theta"]) -> Scalar:
        """Log prior density."""
        ...


def support_bounds(constraint: constraints.Constraint, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension ``(lower, upper)`` bounds of a numpyro support constraint.

    Raises:
        ValueError: for a support that is not a box (e.g. a simplex).
    """
    while isinstance(constraint, constraints.independent):
        constraint = constraint.base_constraint
    lo, hi = -np.inf, np.inf
    if constraint is constraints.real:
        pass
    elif hasattr(constraint, "lower_bound") and hasattr(constraint, "upper_bound"):
        lo, hi = constraint.lower_bound, constraint.upper_bound
    elif hasattr(constraint, "lower_bound"):
        lo = constraint.lower_bound
    elif hasattr(constraint, "upper_bound"):
        hi = constraint.upper_bound
    else:
        raise ValueError(f"support_bounds: unsupported (non-box) support {constraint}")
    lo = np.broadcast_to(np.asarray(lo, float), (size,)).copy()
    hi = np.broadcast_to(np.asarray(hi, float), (size,)).copy()
    return lo, hi


class NumpyroPrior:
    """A :class:`Prior` from a numpyro distribution over a vector of ``n_theta`` parameters.

    A distribution with batch shape ``(n_theta,)`` and no event shape is treated as independent
    (``to_event(1)``). Support bounds are read from the distribution's support constraint.

    Example:
        >>> import numpyro.distributions as dist
        >>> prior = NumpyroPrior(dist.Uniform(jnp.zeros(2), jnp.array([1.0, 4.0])))
        >>> prior.upper.tolist()
        [1.0, 4.0]
    """

    def __init__(self, distribution: dist.Distribution):
        d = distribution
        if d.event_shape == () and len(d.batch_shape) == 1:
            d = d.to_event(1)
        if len(d.event_shape) != 1 or d.batch_shape != ():
            raise ValueError(
                "NumpyroPrior: need a distribution over a vector (event shape (n,), batch ()),"
                f" got event {d.event_shape}, batch {d.batch_shape}"
            )
        self.distribution = d
        self.n_theta = d.event_shape[0]
        self.lower, self.upper = support_bounds(d.support, self.n_theta)

    def sample(self, key: Key) -> Float[Array, " n_theta"]:
        """One draw from the prior."""
        return self.distribution.sample(key)

    def log_prob(self, theta: Float[Array, " n_theta"]) -> Scalar:
        """Log prior density."""
        return self.distribution.log_prob(theta)


SimulateFn = Callable[[Key, Array], Any]


def check_simulator(simulate: SimulateFn, prior: Prior) -> dict[str, int]:
    """Trace one simulation abstractly and return its dimensions (no FLOPs spent).

    Raises:
        ValueError: if the output violates the contract or the prior's bounds disagree in size.
    """
    key = jax.random.key(0)
    theta = jax.eval_shape(prior.sample, key)
    if theta.ndim != 1:
        raise ValueError(f"prior.sample(key) must return shape (n_theta,), got {theta.shape}")
    out = jax.eval_shape(lambda k, t: as_simulation(simulate(k, t)), key, theta)
    shapes = simulation_shapes(out)
    if shapes["n_theta"] != theta.shape[0]:
        raise ValueError(
            f"simulate returned theta of size {shapes['n_theta']}, prior has {theta.shape[0]}"
        )
    for name in ("lower", "upper"):
        b = np.asarray(getattr(prior, name), float).reshape(-1)
        if b.size != theta.shape[0]:
            raise ValueError(f"prior.{name} has {b.size} entries, expected {theta.shape[0]}")
    return shapes
