"""Conditional neural spline flow: rational-quadratic coupling layers in flax NNX.

``x -> z`` applies coupling layers ``T_1, ..., T_L``; each permutes the dimensions, keeps the
first ``floor(D / 2)`` ("identity" part) and transforms the rest with a rational-quadratic spline
whose parameters come from an MLP of ``[identity part, context]`` (Dinh et al. 2017, RealNVP;
Durkan et al. 2019, Neural Spline Flows). Consecutive layers alternate the split by reversing
the order; every other layer starts with a fixed random permutation, so every pair of
dimensions interacts. In one dimension the identity part is empty and each layer is a spline
conditioned on the context alone. The base density is a standard normal:

    log q(x | c) = log N(z; 0, I) + sum_l log|det dT_l / dx_l|.

The context may be given as a tuple of parts whose leading shapes broadcast against each other
(``c = concatenate(parts)``): the conditioners then multiply each part by its rows of their
first weight matrix before broadcasting (:meth:`MLP.apply_parts`), so per-object features
shared by many posterior draws are multiplied once instead of once per draw.

With ``affine=True`` a conditional elementwise affine map (:class:`ConditionalAffine`) comes
first, ``u = (x - shift(c)) exp(-log_scale(c))``, and the couplings act on ``u``: the network
then centres and scales the posterior before the splines shape it, which posteriors far
narrower than the spline interval (a sample's globals, tens to hundreds of times narrower than
their prior) need.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from cigars._types import Array, Float, Key
from cigars.inference._nets import MLP
from cigars.inference._splines import rational_quadratic_spline, spline_param_count

__all__ = ["ConditionalAffine", "ConditionalFlow", "RQSCoupling"]

Context = Float[Array, "... c"] | tuple[Float[Array, "... c_k"], ...]
"""A context array, or a tuple of parts concatenated along the last axis (broadcast shapes)."""


class RQSCoupling(nnx.Module):
    """One rational-quadratic spline coupling layer (with a fixed permutation in front).

    Args:
        dim: dimension ``D`` of the variable.
        context_dim: dimension of the conditioning vector (0 for none).
        permutation: the order applied to ``x`` before splitting (a permutation of ``range(D)``).
        hidden: width of the conditioner MLP.
        depth: number of hidden layers of the conditioner MLP.
        num_bins: spline bins ``K``.
        bound: spline interval half-width ``B`` (identity outside).
        rngs: parameter initialisation keys.
    """

    def __init__(
        self,
        dim: int,
        context_dim: int,
        permutation,
        *,
        hidden: int,
        depth: int,
        num_bins: int,
        bound: float,
        rngs: nnx.Rngs,
    ):
        perm = tuple(int(i) for i in permutation)
        if sorted(perm) != list(range(dim)):
            raise ValueError(f"RQSCoupling: {perm} is not a permutation of range({dim})")
        self.dim = dim
        self.perm = perm
        self.inv_perm = tuple(int(i) for i in np.argsort(perm))
        self.n_id = dim // 2
        self.n_tr = dim - self.n_id
        self.num_bins = num_bins
        self.bound = float(bound)
        self.conditioner = MLP(
            self.n_id + context_dim,
            self.n_tr * spline_param_count(num_bins),
            hidden=hidden,
            depth=depth,
            rngs=rngs,
            zero_last=True,
        )

    def _params(self, x_id, context):
        if isinstance(context, tuple):  # parts of the context (see ConditionalFlow)
            raw = self.conditioner.apply_parts((x_id, *context))
        else:
            raw = self.conditioner(jnp.concatenate([x_id, context], axis=-1))
        return raw.reshape(raw.shape[:-1] + (self.n_tr, spline_param_count(self.num_bins)))

    def __call__(
        self, x: Float[Array, "... d"], context: Float[Array, "... c"], *, inverse: bool = False
    ) -> tuple[Float[Array, "... d"], Float[Array, "*batch"]]:
        """Transform ``x`` (towards the base if ``inverse`` is False) and return the log-det."""
        if inverse:
            # x here is the layer's output; undo the spline then the permutation.
            x_id, y_tr = x[..., : self.n_id], x[..., self.n_id :]
            params = self._params(x_id, context)
            x_tr, ld = rational_quadratic_spline(y_tr, params, bound=self.bound, inverse=True)
            out = jnp.concatenate([x_id, x_tr], axis=-1)[..., jnp.array(self.inv_perm)]
            return out, ld.sum(-1)
        xp = x[..., jnp.array(self.perm)]
        x_id, x_tr = xp[..., : self.n_id], xp[..., self.n_id :]
        params = self._params(x_id, context)
        y_tr, ld = rational_quadratic_spline(x_tr, params, bound=self.bound)
        return jnp.concatenate([x_id, y_tr], axis=-1), ld.sum(-1)


_MAX_LOG_SCALE = 8.0


class ConditionalAffine(nnx.Module):
    """Elementwise affine map ``u = (x - shift(c)) * exp(-log_scale(c))`` from a context MLP.

    The MLP's output layer starts at zero, so the map starts as the identity.

    Args:
        dim: dimension ``D`` of the variable.
        context_dim: dimension of the conditioning vector.
        hidden: MLP width.
        depth: MLP hidden layers.
        rngs: parameter initialisation keys.
    """

    def __init__(self, dim: int, context_dim: int, *, hidden: int, depth: int, rngs: nnx.Rngs):
        self.dim = dim
        self.net = MLP(context_dim, 2 * dim, hidden=hidden, depth=depth, rngs=rngs, zero_last=True)

    def _shift_log_scale(self, context):
        if isinstance(context, tuple):
            out = self.net.apply_parts(context)
        else:
            out = self.net(context)
        return out[..., : self.dim], out[..., self.dim :]

    def __call__(self, x, context, *, inverse: bool = False):
        """``x -> u`` (or ``u -> x`` if ``inverse``) and ``log|det du/dx|`` over the batch."""
        shift, raw = self._shift_log_scale(context)
        log_scale = _MAX_LOG_SCALE * jnp.tanh(raw / _MAX_LOG_SCALE)  # |log scale| < 8, smooth
        if inverse:
            return x * jnp.exp(log_scale) + shift, jnp.sum(log_scale, -1)
        return (x - shift) * jnp.exp(-log_scale), -jnp.sum(log_scale, -1)


def _context_width(context) -> int:
    if isinstance(context, tuple):
        return sum(int(p.shape[-1]) for p in context)
    return int(context.shape[-1])


def _permutations(dim: int, num_layers: int, seed: int = 0) -> list[tuple[int, ...]]:
    rng = np.random.default_rng(seed)
    perms = []
    for layer in range(num_layers):
        if layer % 2 == 1:
            # Reverse so that the previously untouched half is transformed now.
            p = np.arange(dim)[::-1]
        elif layer == 0 or dim <= 2:
            p = np.arange(dim)
        else:
            p = rng.permutation(dim)
        perms.append(tuple(int(i) for i in p))
    return perms


class ConditionalFlow(nnx.Module):
    """A conditional density ``q(x | c)`` on ``R^D`` built from spline coupling layers.

    Args:
        dim: dimension ``D >= 1`` of ``x``.
        context_dim: dimension of the conditioning vector ``c`` (``>= 0``).
        num_layers: number of coupling layers.
        hidden: conditioner MLP width.
        depth: conditioner MLP hidden layers.
        num_bins: spline bins per dimension.
        bound: spline interval half-width (``x`` should be roughly standardised).
        affine: start with a conditional elementwise affine map (:class:`ConditionalAffine`).
        rngs: parameter initialisation keys.

    Example:
        >>> flow = ConditionalFlow(2, 3, num_layers=2, hidden=16, depth=1, rngs=nnx.Rngs(0))
        >>> flow.log_prob(jnp.zeros(2), jnp.zeros(3)).shape
        ()
        >>> flow.sample(jax.random.key(0), jnp.zeros(3), 5).shape
        (5, 2)
    """

    def __init__(
        self,
        dim: int,
        context_dim: int,
        *,
        num_layers: int = 4,
        hidden: int = 64,
        depth: int = 2,
        num_bins: int = 8,
        bound: float = 5.0,
        affine: bool = False,
        rngs: nnx.Rngs,
    ):
        if dim < 1:
            raise ValueError(f"ConditionalFlow: dim must be >= 1, got {dim}")
        if context_dim < 0:
            raise ValueError(f"ConditionalFlow: context_dim must be >= 0, got {context_dim}")
        if num_layers < 1:
            raise ValueError(f"ConditionalFlow: num_layers must be >= 1, got {num_layers}")
        if num_bins < 2:
            raise ValueError(f"ConditionalFlow: num_bins must be >= 2, got {num_bins}")
        if not bound > 0:
            raise ValueError(f"ConditionalFlow: bound must be > 0, got {bound}")
        self.dim = dim
        self.context_dim = context_dim
        self.layers = nnx.List(
            [
                RQSCoupling(
                    dim,
                    context_dim,
                    perm,
                    hidden=hidden,
                    depth=depth,
                    num_bins=num_bins,
                    bound=bound,
                    rngs=rngs,
                )
                for perm in _permutations(dim, num_layers)
            ]
        )
        self.affine = (
            ConditionalAffine(dim, context_dim, hidden=hidden, depth=depth, rngs=rngs)
            if affine
            else None
        )

    def _check(self, x_dim: int, context: Array | tuple[Array, ...]) -> None:
        if x_dim != self.dim:
            raise ValueError(f"ConditionalFlow: expected x with last axis {self.dim}, got {x_dim}")
        width = _context_width(context)
        if width != self.context_dim:
            raise ValueError(
                f"ConditionalFlow: expected context with last axis {self.context_dim}, got {width}"
            )

    def _broadcast(self, x, context):
        """``x`` and the context broadcast to their common batch shape.

        Context parts stay as they are: the conditioners multiply each before broadcasting.
        """
        self._check(x.shape[-1], context)
        parts = context if isinstance(context, tuple) else (context,)
        batch = jnp.broadcast_shapes(x.shape[:-1], *(p.shape[:-1] for p in parts))
        x = jnp.broadcast_to(x, batch + (self.dim,))
        if not isinstance(context, tuple):
            context = jnp.broadcast_to(context, batch + (self.context_dim,))
        return x, context, batch

    def to_base(
        self, x: Float[Array, "... d"], context: Context
    ) -> tuple[Float[Array, "... d"], Float[Array, "*batch"]]:
        """Map ``x`` to the base variable ``z``; returns ``(z, log|det dz/dx|)``."""
        x, context, batch = self._broadcast(x, context)
        total = jnp.zeros(batch, x.dtype)
        if self.affine is not None:
            x, total = self.affine(x, context)
            total = jnp.broadcast_to(total, batch)
        for layer in self.layers:
            x, ld = layer(x, context)
            total = total + ld
        return x, total

    def from_base(self, z: Float[Array, "... d"], context: Context) -> Float[Array, "... d"]:
        """Map base draws ``z`` to ``x`` (the inverse of :meth:`to_base`)."""
        z, context, _ = self._broadcast(z, context)
        for layer in reversed(self.layers):
            z, _ = layer(z, context, inverse=True)
        if self.affine is not None:
            z, _ = self.affine(z, context, inverse=True)
        return z

    def log_prob(self, x: Float[Array, "... d"], context: Context) -> Float[Array, "*batch"]:
        """Log density ``log q(x | c)``; leading axes of ``x`` and ``context`` broadcast."""
        z, ld = self.to_base(x, context)
        return -0.5 * jnp.sum(z**2, -1) - 0.5 * self.dim * math.log(2 * math.pi) + ld

    def sample(self, key: Key, context: Float[Array, "... c"], n: int) -> Float[Array, "n ... d"]:
        """Draw ``n`` samples per context: shape ``(n,) + context.shape[:-1] + (D,)``."""
        z = jax.random.normal(key, (n,) + context.shape[:-1] + (self.dim,), context.dtype)
        return self.from_base(z, context[None])
