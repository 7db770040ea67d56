"""The :class:`Simulator`: a chain of stages run on an empty catalogue.

Like ``optax.chain``, a simulator applies its stages in order, each with its own PRNG key
(split once from the simulation key, never reused), and returns ``(theta, catalogue)``.
:func:`simulate` is the ``jit``-compiled entry point; :func:`simulate_batch` is one ``jit``
around one ``vmap`` over keys and parameters. The simulator is passed to ``jit`` as an argument,
so its arrays (the galaxy bank, tables) are not baked into the compiled program, and a second
call with the same simulator structure does not recompile.

Random numbers inside a simulation come from the counter-based Philox-4x32-10 generator
whatever the caller's key type: the simulation key is hashed once into a Philox key
(``Simulator.prng_impl``, :func:`cigars._prng.rekey`). On CPU, JAX's default threefry2x32 was
the largest single cost of a survey (see ``cigars._prng``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from cigars._prng import key_data_shape, rekey
from cigars._types import Key
from cigars.simulate._theta import Theta
from cigars.survey._catalogue import AbstractStage, Catalogue

__all__ = ["Simulator", "simulate", "simulate_batch"]


class Simulator(struct.PyTreeNode):
    """An ordered chain of :class:`~cigars.survey.AbstractStage` s over a fixed-size catalogue.

    Attributes:
        stages: the stages, applied in order.
        n_max: supernova slots of the catalogue (static).
        n_band: host photometric bands (static).
        keep_host_detected: keep the (n_host,) host-detection work array in the output
            (default ``False``: it is dropped to keep outputs small).
        prng_impl: PRNG implementation used inside the simulation (``jax.random.key``
            ``impl`` name; default ``"philox4x32"``), or ``None`` to use the caller's key as is.
    """

    stages: tuple[AbstractStage, ...]
    n_max: int = struct.field(pytree_node=False)
    n_band: int = struct.field(pytree_node=False)
    keep_host_detected: bool = struct.field(pytree_node=False, default=False)
    prng_impl: str | None = struct.field(pytree_node=False, default="philox4x32")

    @classmethod
    def chain(cls, stages: Sequence[AbstractStage], n_max: int, n_band: int, **kw) -> Simulator:
        """Build a simulator from a sequence of stages.

        Raises:
            ValueError: if a stage is not an :class:`~cigars.survey.AbstractStage`, the
                sizes are not positive ints, or ``prng_impl`` is unknown.
        """
        stages = tuple(stages)
        for i, s in enumerate(stages):
            if not isinstance(s, AbstractStage):
                raise ValueError(
                    f"Simulator: stage {i} ({type(s).__name__}) is not an AbstractStage"
                )
        for name, v in (("n_max", n_max), ("n_band", n_band)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"Simulator: {name} must be a positive int, got {v!r}")
        if kw.get("prng_impl") is not None:
            try:
                key_data_shape(kw["prng_impl"])
            except ValueError as err:
                raise ValueError(f"Simulator: prng_impl: {err}") from None
        return cls(stages=stages, n_max=n_max, n_band=n_band, **kw)

    def __call__(self, key: Key, theta: Theta) -> tuple[Theta, Catalogue]:
        """Run every stage (eagerly, or traced inside :func:`simulate`).

        Args:
            key: PRNG key of this simulation.
            theta: global parameters (scalar leaves).

        Returns:
            ``(theta, catalogue)``.
        """
        catalogue = Catalogue.empty(self.n_max, self.n_band)
        keys = jax.random.split(rekey(key, self.prng_impl), max(len(self.stages), 1))
        for k, stage in zip(keys, self.stages, strict=False):
            catalogue = stage(k, theta, catalogue)
        if not self.keep_host_detected:
            catalogue = catalogue.replace(host_detected=None)
        return theta, catalogue


def _as_theta(theta: Any) -> Theta:
    return jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.result_type(float)), theta)


@jax.jit
def _simulate(simulator: Simulator, key: Key, theta: Theta) -> tuple[Theta, Catalogue]:
    return simulator(key, theta)


@jax.jit
def _simulate_batch(simulator: Simulator, keys: Key, thetas: Theta) -> tuple[Theta, Catalogue]:
    return jax.vmap(simulator, in_axes=(0, 0))(keys, thetas)


def simulate(simulator: Simulator, key: Key, theta: Theta) -> tuple[Theta, Catalogue]:
    """One simulated survey, ``jit``-compiled (compiled once per simulator structure).

    Args:
        simulator: the :class:`Simulator`.
        key: PRNG key.
        theta: global parameters (Python floats or scalar arrays).

    Returns:
        ``(theta, catalogue)``; check ``catalogue.overflow`` (the slots were too few).
    """
    return _simulate(simulator, key, _as_theta(theta))


def simulate_batch(simulator: Simulator, keys: Key, thetas: Theta) -> tuple[Theta, Catalogue]:
    """A batch of surveys: one ``jit`` around one ``vmap`` over keys and parameters.

    Args:
        simulator: the :class:`Simulator`.
        keys: (n_sim,) PRNG keys.
        thetas: parameters whose leaves have leading axis n_sim (e.g. ``prior.sample(key,
            (n_sim,))``).

    Returns:
        ``(thetas, catalogues)`` with leading axis n_sim on every leaf.
    """
    return _simulate_batch(simulator, keys, _as_theta(thetas))
