"""The prior over global parameters: independent numpyro distributions, some parameters fixed.

A prior is specified as a mapping ``name -> {family: arguments}``::

    Om0: {uniform: [0, 1]}
    dtd_A: {normal: [-12.15, 0.1]}
    sigma_res: {truncated_normal: [0.1, 0.05, 0.01, 0.2]}   # loc, scale, low, high
    H0: {fixed: 70}

Families: ``uniform [low, high]``, ``normal [loc, scale]``, ``truncated_normal [loc, scale,
low, high]``, ``loguniform [low, high]``, ``fixed value``. Parameters not named are fixed at
the ``fixed`` :class:`Theta` (by default the CIGaRS-I truth).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpyro.distributions as dist
from flax import struct

from cigars._config import Config
from cigars._types import Array, Float, Key
from cigars.simulate._theta import Theta

__all__ = ["CIGARS_I_PRIOR", "GlobalPrior", "PriorConfig", "TruthConfig", "parse_prior_spec"]

CIGARS_I_PRIOR: dict[str, dict[str, Any]] = {
    "Om0": {"uniform": (0.0, 1.0)},
    "Ode0": {"uniform": (0.0, 1.0)},
    "dtd_A": {"normal": (-12.15, 0.1)},
    "dtd_s": {"normal": (-1.34, 0.2)},
    "M0": {"uniform": (-20.0, -19.0)},
    "sigma_res": {"uniform": (0.01, 0.2)},
    "alpha": {"uniform": (-0.55, 0.25)},
    "beta": {"uniform": (0.0, 4.0)},
    "alpha_c": {"uniform": (-0.03, 0.03)},
    "gamma_Z": {"uniform": (-2.0, 2.0)},
    "gamma_age": {"uniform": (-0.1, 0.1)},
    "step_M": {"uniform": (-0.2, 0.2)},
    "step_loc": {"uniform": (9.0, 11.0)},
}
"""The CIGaRS-I prior (MODEL.md section 2a); H0, w0, wa are fixed (70, -1, 0)."""

_N_ARGS = {"uniform": 2, "normal": 2, "truncated_normal": 4, "loguniform": 2, "fixed": 1}


def _check_family(name: str, family: str, args: tuple[float, ...]) -> None:
    if family not in _N_ARGS:
        raise ValueError(
            f"prior.{name}: unknown distribution {family!r}; expected one of {sorted(_N_ARGS)}"
        )
    if len(args) != _N_ARGS[family]:
        raise ValueError(
            f"prior.{name}: {family} takes {_N_ARGS[family]} number(s), got {list(args)}"
        )
    if family in ("uniform", "loguniform") and not args[0] < args[1]:
        raise ValueError(f"prior.{name}: {family} needs low < high, got {list(args)}")
    if family == "loguniform" and not args[0] > 0:
        raise ValueError(f"prior.{name}: loguniform needs low > 0, got {list(args)}")
    if family in ("normal", "truncated_normal") and not args[1] > 0:
        raise ValueError(f"prior.{name}: {family} needs scale > 0, got {list(args)}")
    if family == "truncated_normal" and not args[2] < args[3]:
        raise ValueError(f"prior.{name}: truncated_normal needs low < high, got {list(args)}")


def parse_prior_spec(name: str, spec: Any) -> tuple[str, tuple[float, ...]]:
    """Parse one ``{family: arguments}`` entry.

    Args:
        name: the parameter (for error messages).
        spec: a one-key mapping, e.g. ``{"uniform": [0, 1]}`` or ``{"fixed": 70}``.

    Returns:
        ``(family, arguments)``.

    Raises:
        ValueError: naming the parameter and what is wrong.
    """
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise ValueError(
            f"prior.{name}: expected a one-key mapping like {{uniform: [0, 1]}}, got {spec!r}"
        )
    ((family, args),) = spec.items()
    if isinstance(args, int | float) and not isinstance(args, bool):
        args = (args,)
    try:
        args = tuple(float(a) for a in args)
    except (TypeError, ValueError):
        raise ValueError(f"prior.{name}: arguments must be numbers, got {args!r}") from None
    _check_family(name, family, args)
    return family, args


class GlobalPrior(struct.PyTreeNode):
    """Independent priors over (some of) the :class:`Theta` fields; the others fixed.

    Attributes:
        specs: ``((name, family, args), ...)`` of the inferred parameters, in :class:`Theta`
            field order (static).
        fixed: values of the parameters that are not inferred.
    """

    specs: tuple[tuple[str, str, tuple[float, ...]], ...] = struct.field(pytree_node=False)
    fixed: Theta = dataclasses.field(default_factory=Theta)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], fixed: Theta | None = None) -> GlobalPrior:
        """Build from ``name -> {family: args}`` (see the module docstring).

        Args:
            mapping: the prior specification (unnamed parameters are fixed).
            fixed: values of the fixed parameters (default: the CIGaRS-I truth); ``fixed:``
                entries in ``mapping`` override it.

        Returns:
            The prior.

        Raises:
            ValueError: for an unknown parameter or an invalid specification.
        """
        fixed = Theta() if fixed is None else fixed
        specs, fixed_values = {}, {}
        for name, spec in mapping.items():
            if name not in Theta.names():
                raise ValueError(
                    f"prior: unknown parameter {name!r}; expected one of {list(Theta.names())}"
                )
            family, args = parse_prior_spec(name, spec)
            if family == "fixed":
                fixed_values[name] = args[0]
            else:
                specs[name] = (family, args)
        ordered = tuple((n, *specs[n]) for n in Theta.names() if n in specs)
        return cls(specs=ordered, fixed=fixed.replace(**fixed_values))

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the inferred parameters (the order of :meth:`to_array`)."""
        return tuple(s[0] for s in self.specs)

    def distribution(self, name: str) -> dist.Distribution:
        """The numpyro distribution of one inferred parameter.

        Raises:
            ValueError: if ``name`` is not inferred.
        """
        for n, family, args in self.specs:
            if n == name:
                return _make_distribution(family, args)
        raise ValueError(f"GlobalPrior: {name!r} is not an inferred parameter ({self.names})")

    def sample(self, key: Key, sample_shape: tuple[int, ...] = ()) -> Theta:
        """Draw parameters (fixed ones broadcast to ``sample_shape``).

        Args:
            key: PRNG key.
            sample_shape: leading batch shape.

        Returns:
            A :class:`Theta` whose leaves have shape ``sample_shape``.
        """
        keys = jax.random.split(key, max(len(self.specs), 1))
        dtype = jnp.result_type(float)
        values = {
            name: _make_distribution(family, args).sample(k, sample_shape).astype(dtype)
            for k, (name, family, args) in zip(keys, self.specs, strict=False)
        }
        for name in Theta.names():
            if name not in values:
                v = jnp.asarray(getattr(self.fixed, name), dtype)
                values[name] = jnp.broadcast_to(v, sample_shape + v.shape)
        return Theta(**values)

    def log_prob(self, theta: Theta) -> Float[Array, "*batch"]:
        """Sum of the inferred parameters' log densities (-inf outside a bounded support).

        Args:
            theta: parameters (any batch shape).

        Returns:
            The joint log prior density, with the batch shape.
        """
        total = jnp.zeros(())
        for name, family, args in self.specs:
            d = _make_distribution(family, args)
            x = jnp.asarray(getattr(theta, name))
            inside = d.support(x)
            lp = d.log_prob(jnp.where(inside, x, _inside_point(family, args)))
            total = total + jnp.where(inside, lp, -jnp.inf)
        return total

    def to_array(self, theta: Theta) -> Float[Array, "*batch n_theta"]:
        """Stack the inferred parameters along a last axis (order :attr:`names`)."""
        return jnp.stack([jnp.asarray(getattr(theta, n)) for n in self.names], axis=-1)

    def from_array(self, x: Float[Array, "*batch n_theta"]) -> Theta:
        """The :class:`Theta` with inferred parameters from ``x[..., i]`` and the rest fixed.

        Raises:
            ValueError: if the last axis does not have one entry per inferred parameter.
        """
        x = jnp.asarray(x)
        if x.shape[-1:] != (len(self.specs),):
            raise ValueError(
                f"GlobalPrior.from_array: last axis must have {len(self.specs)} entries "
                f"({self.names}), got shape {x.shape}"
            )
        batch = x.shape[:-1]
        values = {n: x[..., i] for i, n in enumerate(self.names)}
        for name in Theta.names():
            if name not in values:
                v = jnp.asarray(getattr(self.fixed, name), x.dtype)
                values[name] = jnp.broadcast_to(v, batch + v.shape)
        return Theta(**values)


def _make_distribution(family: str, args: tuple[float, ...]) -> dist.Distribution:
    if family == "uniform":
        return dist.Uniform(*args)
    if family == "normal":
        return dist.Normal(*args)
    if family == "truncated_normal":
        loc, scale, low, high = args
        return dist.TruncatedNormal(loc, scale, low=low, high=high)
    if family == "loguniform":
        return dist.LogUniform(*args)
    raise ValueError(f"unknown prior family {family!r}")


def _inside_point(family: str, args: tuple[float, ...]) -> float:
    """A point inside the support (to keep log_prob's untaken branch finite)."""
    if family in ("uniform", "loguniform"):
        return 0.5 * (args[0] + args[1])
    if family == "truncated_normal":
        return 0.5 * (args[2] + args[3])
    return args[0]


class PriorConfig(Config):
    """YAML form of a :class:`GlobalPrior`: ``params: {name: {family: args}}``.

    Attributes:
        params: the specification (default :data:`CIGARS_I_PRIOR`); parameters not named are
            fixed at the truth.
    """

    params: dict[str, dict[str, float | tuple[float, ...]]] = dataclasses.field(
        default_factory=lambda: {k: dict(v) for k, v in CIGARS_I_PRIOR.items()}
    )

    def validate(self) -> None:
        """Parse every entry.

        Raises:
            ValueError: for an unknown parameter or an invalid entry.
        """
        GlobalPrior.from_mapping(self.params)

    def build(self, fixed: Theta | None = None) -> GlobalPrior:
        """The :class:`GlobalPrior` (``fixed``: values of the non-inferred parameters)."""
        return GlobalPrior.from_mapping(self.params, fixed)


class TruthConfig(Config):
    """YAML form of a :class:`Theta`: ``values: {name: value}`` over the CIGaRS-I defaults.

    Attributes:
        values: parameter values (Theta or reference names); others keep their defaults.
    """

    values: dict[str, float] = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        """Check the names.

        Raises:
            ValueError: for an unknown parameter.
        """
        Theta.from_mapping(self.values)

    def build(self) -> Theta:
        """The :class:`Theta`."""
        return Theta.from_mapping(self.values)
