r"""SN Ia selection functions: the probability :math:`p_\mathrm{det}(z, m)` that a SN is detected.

The simulator keeps each supernova with a Bernoulli draw of this probability (MODEL.md
section 6), evaluated at its observed (heliocentric) redshift and observed peak magnitude.
"""

from __future__ import annotations

import abc
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from flax import struct

from cigars._types import Array, Float

__all__ = ["AbstractSelection", "LogisticSelection", "TableSelection"]


class AbstractSelection(struct.PyTreeNode, abc.ABC):
    """A detection probability as a function of redshift and apparent magnitude."""

    @abc.abstractmethod
    def detection_probability(
        self, z: Float[Array, "*batch"], m: Float[Array, "*batch"]
    ) -> Float[Array, "*batch"]:
        """Probability in [0, 1] that a SN at redshift ``z`` with magnitude ``m`` is detected.

        Args:
            z: redshift, any shape.
            m: apparent magnitude [mag], broadcastable with ``z``.

        Returns:
            The probability, broadcast shape.
        """


def _grid_position(grid: Array, x: Array) -> tuple[Array, Array]:
    """Index i and weight t of x in a sorted grid, clamped to the edges (t in [0, 1])."""
    n = grid.shape[0]
    i = jnp.clip(jnp.searchsorted(grid, x, side="right") - 1, 0, n - 2)
    t = jnp.clip((x - grid[i]) / (grid[i + 1] - grid[i]), 0.0, 1.0)
    return i, t


class TableSelection(AbstractSelection):
    r"""Bilinear interpolation of a tabulated :math:`p_\mathrm{det}(z, m)`.

    Outside the grid the table is clamped: queries take the value at the nearest grid edge
    (constant extrapolation). For the reference's toy-LSST table (``detprob.npz``: z centres
    0.005-1.495, m centres 12.05-25.95) that means p = 1 brighter than m = 12.05 (the bright
    column is exactly 1 at every z), p <= 2e-7 fainter than 25.95, and the z = 0.005 (1.495)
    row below (above) the z range.

    Attributes:
        z: (n_z,) increasing redshift grid.
        m: (n_m,) increasing magnitude grid [mag].
        p: (n_z, n_m) detection probabilities in [0, 1].
    """

    z: Float[Array, " n_z"]
    m: Float[Array, " n_m"]
    p: Float[Array, "n_z n_m"]

    @classmethod
    def from_arrays(cls, z, m, p, dtype=None) -> TableSelection:
        """Build a checked table.

        Args:
            z: (n_z,) strictly increasing redshifts (n_z >= 2).
            m: (n_m,) strictly increasing magnitudes (n_m >= 2).
            p: (n_z, n_m) probabilities in [0, 1].
            dtype: float dtype (default: JAX's default float).

        Returns:
            The :class:`TableSelection`.

        Raises:
            ValueError: on wrong shapes, non-increasing grids or probabilities outside [0, 1].
        """
        z, m, p = (np.asarray(a, dtype=float) for a in (z, m, p))
        if z.ndim != 1 or m.ndim != 1 or z.size < 2 or m.size < 2:
            raise ValueError(
                f"TableSelection: z and m must be 1-d with >= 2 points, got {z.shape} and {m.shape}"
            )
        if p.shape != (z.size, m.size):
            raise ValueError(f"TableSelection: p must have shape {(z.size, m.size)}, got {p.shape}")
        if np.any(np.diff(z) <= 0) or np.any(np.diff(m) <= 0):
            raise ValueError("TableSelection: z and m grids must be strictly increasing")
        if not np.all((p >= 0) & (p <= 1)):
            raise ValueError("TableSelection: p must lie in [0, 1] (and be finite)")
        dtype = jnp.result_type(float) if dtype is None else dtype
        return cls(z=jnp.asarray(z, dtype), m=jnp.asarray(m, dtype), p=jnp.asarray(p, dtype))

    @classmethod
    def from_npz(cls, path: str | Path, dtype=None) -> TableSelection:
        """Load a table from an ``.npz`` file with arrays ``z``, ``m``, ``p_det``.

        Args:
            path: the file (e.g. ``data/cigars-reference/detprob.npz``).
            dtype: float dtype (default: JAX's default float).

        Returns:
            The :class:`TableSelection`.

        Raises:
            ValueError: if the file is missing or lacks one of the arrays.
        """
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"TableSelection: selection table {str(path)!r} not found")
        with np.load(path) as data:
            missing = [k for k in ("z", "m", "p_det") if k not in data]
            if missing:
                raise ValueError(f"TableSelection: {str(path)!r} lacks array(s) {missing}")
            return cls.from_arrays(data["z"], data["m"], data["p_det"], dtype=dtype)

    def detection_probability(self, z, m):
        """Bilinear interpolation in (z, m), clamped at the grid edges."""
        z, m = jnp.broadcast_arrays(jnp.asarray(z), jnp.asarray(m))
        i, tz = _grid_position(self.z, z)
        j, tm = _grid_position(self.m, m)
        p = self.p
        return (
            (1 - tz) * (1 - tm) * p[i, j]
            + (1 - tz) * tm * p[i, j + 1]
            + tz * (1 - tm) * p[i + 1, j]
            + tz * tm * p[i + 1, j + 1]
        )


class LogisticSelection(AbstractSelection):
    r"""Logistic magnitude limit with a redshift-dependent threshold.

    .. math::

        p_\mathrm{det} = \frac{1}{1 + \exp[(m - m_{50}(z))/w]},\qquad
        m_{50}(z) = a + b z + c z^2.

    The defaults are a least-squares fit of this form to the reference's toy-LSST table
    (``detprob.npz``, all 150 x 140 grid points): a = 24.32, b = -0.344, c = -1.295,
    w = 0.216 mag (rms residual 0.014 in p). The 90%-10% width is 2 w ln 9 = 0.95 mag.

    Attributes:
        a, b, c: threshold coefficients [mag].
        width: logistic scale w [mag] (> 0).
    """

    a: float = struct.field(pytree_node=False, default=24.32)
    b: float = struct.field(pytree_node=False, default=-0.344)
    c: float = struct.field(pytree_node=False, default=-1.295)
    width: float = struct.field(pytree_node=False, default=0.216)

    def __post_init__(self):
        if not self.width > 0:
            raise ValueError(f"LogisticSelection: width must be > 0, got {self.width!r}")

    def threshold(self, z: Float[Array, "*batch"]) -> Float[Array, "*batch"]:
        """The 50%-completeness magnitude m50(z) [mag]."""
        return self.a + z * (self.b + self.c * z)

    def detection_probability(self, z, m):
        """Logistic in (m - m50(z)) / width."""
        return jnp.asarray(1.0) / (1.0 + jnp.exp((m - self.threshold(z)) / self.width))
