"""Small building blocks shared by the embeddings and the flows."""

from __future__ import annotations

from collections.abc import Sequence

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

    def apply_parts(self, parts: Sequence[Float[Array, "... i_k"]]) -> Float[Array, "... o"]:
        """The network on the concatenation of ``parts`` (last axes), without forming it.

        Equal to ``self(concatenate(broadcast_arrays(*parts), -1))``: the first layer is the sum
        of each part times its rows of the weight matrix, so a part with fewer (broadcast)
        leading dimensions is multiplied once, not once per element of the broadcast batch
        (e.g. per-object features shared by every posterior draw).

        Raises:
            ValueError: if the parts' widths do not add up to ``in_dim``.
        """
        widths = [p.shape[-1] for p in parts]
        if sum(widths) != self.in_dim:
            raise ValueError(f"MLP: parts of widths {widths} do not add up to {self.in_dim}")
        if self.in_dim == 0:
            batch = jnp.broadcast_shapes(*(p.shape[:-1] for p in parts))
            return self(jnp.zeros(batch + (0,), parts[0].dtype))
        first = self.hidden[0] if len(self.hidden) else self.out
        kernel, bias = first.kernel[...], first.bias[...]
        h, start = bias, 0
        for part, width in zip(parts, widths, strict=True):
            if width:
                h = h + part @ kernel[start : start + width]
            start += width
        if not len(self.hidden):
            return h
        x = jax.nn.silu(h)
        for layer in list(self.hidden)[1:]:
            x = jax.nn.silu(layer(x))
        return self.out(x)
