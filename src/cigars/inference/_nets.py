"""Small building blocks shared by the embeddings and the flows."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from cigars._types import Array, Float

__all__ = ["MLP", "Statistic"]


class Statistic(nnx.Variable):
    """A fixed (non-trained) array stored in a module: standardisation means and scales."""


class MLP(nnx.Module):
    """A multilayer perceptron ``in -> hidden x depth -> out`` with SiLU activations.

    Works on any leading batch shape. ``zero_last=True`` initialises the output layer to zero,
    so a conditioner starts as the identity transform.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        *,
        hidden: int,
        depth: int,
        rngs: nnx.Rngs,
        zero_last: bool = False,
    ):
        if in_dim < 0 or out_dim < 1 or hidden < 1 or depth < 0:
            raise ValueError(
                f"MLP: need in_dim >= 0, out_dim >= 1, hidden >= 1, depth >= 0; "
                f"got {in_dim}, {out_dim}, {hidden}, {depth}"
            )
        # A network with no inputs still needs a (constant) input to produce its bias.
        self.in_dim = in_dim
        widths = [max(in_dim, 1)] + [hidden] * depth
        self.hidden = nnx.List(
            [nnx.Linear(a, b, rngs=rngs) for a, b in zip(widths[:-1], widths[1:], strict=True)]
        )
        init = nnx.initializers.zeros_init() if zero_last else nnx.initializers.lecun_normal()
        self.out = nnx.Linear(widths[-1], out_dim, kernel_init=init, rngs=rngs)

    def __call__(self, x: Float[Array, "... i"]) -> Float[Array, "... o"]:
        """Apply the network to the last axis of ``x``."""
        if self.in_dim == 0:
            x = jnp.ones(x.shape[:-1] + (1,), x.dtype)
        for layer in self.hidden:
            x = jax.nn.silu(layer(x))
        return self.out(x)
