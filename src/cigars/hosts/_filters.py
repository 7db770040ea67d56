r"""Photometric bands from speclite and AB magnitudes of redshifted rest-frame spectra.

The bank stores *redshifted absolute magnitudes* (MODEL.md §3b): the rest-frame spectrum is placed
at 10 pc and redshifted, :math:`\lambda \to \lambda(1+z)`,

.. math::

    f^{10}_\lambda(\lambda_o) = \frac{L_\lambda(\lambda_o/(1+z))}{4\pi\,(10\,{\rm pc})^2\,(1+z)^3},

and integrated through the bands (photon-counting AB magnitudes). Because the true observed flux
is :math:`f_\lambda = L_\lambda(\lambda_o/(1+z)) / [4\pi D_L^2 (1+z)]` with :math:`D_L = (1+z) D_M`,
:math:`f_\lambda = f^{10}_\lambda\,(10\,{\rm pc}/D_M)^2` exactly, so the apparent magnitude is
:math:`m_b = M_b + 5\log_{10}(D_M/10\,{\rm pc})` for any cosmology: one :math:`(1+z)` of the
luminosity-distance dimming is the bandwidth stretch of :math:`f_\lambda`, the other two are
in :math:`D_L^2 = (1+z)^2 D_M^2`.
"""

from __future__ import annotations

import glob
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from cigars._types import Array, Float
from cigars.hosts._params import HostParams
from cigars.hosts._sps import _AB_FNU, _C_AA_S, _PC_CM, L_SUN_ERG_S, AbstractSPS

__all__ = [
    "DES_GRIZ",
    "LSST_UGRIZY",
    "Bands",
    "GeneralPhotometry",
    "LogGridPhotometry",
    "available_filters",
    "band_coverage",
    "host_magnitudes",
    "load_bands",
    "make_photometry",
    "redshifted_absolute_magnitudes",
]

LSST_UGRIZY = tuple(f"lsst2023-{b}" for b in "ugrizy")
"""speclite names of the LSST u g r i z y total throughputs (airmass 1.2)."""
DES_GRIZ = tuple(f"decam2014-{b}" for b in "griz")
"""speclite names of the DECam g r i z throughputs used by DES."""


def available_filters() -> tuple[str, ...]:
    """Every filter name speclite ships (``group-band``), sorted."""
    import speclite.filters

    root = os.path.join(os.path.dirname(speclite.filters.__file__), "data", "filters")
    return tuple(sorted(os.path.basename(p)[: -len(".ecsv")] for p in glob.glob(f"{root}/*.ecsv")))


def _check_names(names) -> None:
    valid = available_filters()
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ValueError(f"unknown filter name(s) {unknown}; speclite provides: {', '.join(valid)}")
    if len(set(names)) != len(names):
        raise ValueError(f"filter names repeat: {list(names)}")
    if not names:
        raise ValueError("need at least one filter")


@struct.dataclass
class Bands:
    r"""Filter curves and precomputed tables for fast AB magnitudes.

    Attributes:
        names: speclite filter names (static).
        wave: filter wavelengths [Angstrom], padded to a common length with the last value,
            shape (n_band, n_max).
        response: filter responses (dimensionless), zero-padded, shape (n_band, n_max).
        cum_response: :math:`G_b(\lambda_k) = \int_0^{\lambda_k} T_b\,\lambda\,d\lambda\, /
            \int T_b\,\lambda\,d\lambda` on the observed-frame grid
            :math:`\ln\lambda_k = ` ``ln_wave0`` + k ``dln``, exact for linearly interpolated
            :math:`T_b`, shape (n_band, n_grid).
        log_norm: :math:`\ln[L_\odot \int T_b\lambda\,d\lambda / (4\pi(10\,{\rm pc})^2\,
            \int f^{AB}_\lambda T_b \lambda\,d\lambda)]` with :math:`f^{AB}_\lambda =
            3631\,{\rm Jy}\,c/\lambda^2` [ln of (maggies per L_sun/Å)], shape (n_band,).
        ln_wave0: ln of the first grid wavelength [Angstrom] (static).
        dln: grid step in ln(lambda) (static).
    """

    wave: Float[Array, "n_band n_max"]
    response: Float[Array, "n_band n_max"]
    cum_response: Float[Array, "n_band n_grid"]
    log_norm: Float[Array, " n_band"]
    names: tuple[str, ...] = struct.field(pytree_node=False, default=())
    ln_wave0: float = struct.field(pytree_node=False, default=0.0)
    dln: float = struct.field(pytree_node=False, default=1.0)

    @property
    def n_band(self) -> int:
        """Number of bands."""
        return len(self.names)


def _segment_integrals(w, t, x):
    """∫_{w0}^{x} T λ dλ for piecewise-linear T on (w, t), exactly, at points x (float64)."""
    h = np.diff(w)
    s = np.diff(t) / h
    full = t[:-1] * w[:-1] * h + (t[:-1] + s * w[:-1]) * h**2 / 2 + s * h**3 / 3
    cum = np.concatenate([[0.0], np.cumsum(full)])
    xc = np.clip(x, w[0], w[-1])
    j = np.clip(np.searchsorted(w, xc, side="right") - 1, 0, w.size - 2)
    u = xc - w[j]
    part = t[j] * w[j] * u + (t[j] + s[j] * w[j]) * u**2 / 2 + s[j] * u**3 / 3
    return cum[j] + part, cum[-1]


def _inverse_lambda_integral(w, t):
    """∫ T / λ dλ for piecewise-linear T, exactly."""
    h = np.diff(w)
    s = np.diff(t) / h
    return float(np.sum((t[:-1] - s * w[:-1]) * np.log1p(h / w[:-1]) + s * h))


def load_bands(names: tuple[str, ...] = LSST_UGRIZY, dln: float = 2.5e-4) -> Bands:
    """Load speclite filters and tabulate what :func:`redshifted_absolute_magnitudes` needs.

    Args:
        names: speclite filter names, e.g. ``("lsst2023-u", ...)``; see :func:`available_filters`.
        dln: step of the observed-frame ln(lambda) grid of the cumulative responses
            (2.5e-4 ~ 1.5 A at 6000 A; linear interpolation of the smooth cumulative integral on
            it is accurate to ~1e-6 mag).

    Raises:
        ValueError: for unknown or repeated names (listing the valid ones) or a bad ``dln``.
    """
    import speclite.filters

    names = tuple(names)
    _check_names(names)
    if not 0 < dln <= 0.01:
        raise ValueError(f"dln must be in (0, 0.01], got {dln}")
    filters = [speclite.filters.load_filter(n) for n in names]
    waves = [np.asarray(f.wavelength, float) for f in filters]
    resps = [np.asarray(f.response, float) for f in filters]
    ln0 = math.log(min(w[0] for w in waves))
    n_grid = int(math.ceil((math.log(max(w[-1] for w in waves)) - ln0) / dln)) + 2
    grid = np.exp(ln0 + dln * np.arange(n_grid))
    cum, log_norm = [], []
    for w, t in zip(waves, resps, strict=True):
        g, total = _segment_integrals(w, t, grid)
        cum.append(g / total)
        ab = _AB_FNU * _C_AA_S * _inverse_lambda_integral(w, t)
        log_norm.append(math.log(L_SUN_ERG_S * total / (4 * math.pi * (10 * _PC_CM) ** 2 * ab)))
    n_max = max(w.size for w in waves)
    pad = lambda a, v: np.concatenate([a, np.full(n_max - a.size, v)])  # noqa: E731
    return Bands(
        wave=np.stack([pad(w, w[-1]) for w in waves]),
        response=np.stack([pad(t, 0.0) for t in resps]),
        cum_response=np.stack(cum),
        log_norm=np.array(log_norm),
        names=names,
        ln_wave0=ln0,
        dln=float(dln),
    )


def _observed_cumulative(bands: Bands, ln_wave_obs, dtype):
    """G_b at observed ln-wavelengths, shape (n, n_band) (linear interpolation; clipped ends).

    The table is gathered as rows of (G[k], G[k+1]) for all bands at once, which XLA's CPU
    gather handles ~2x faster than element-wise lookups.
    """
    cum = jnp.asarray(bands.cum_response, dtype)
    n_band, n_grid = cum.shape
    pairs = jnp.concatenate([cum[:, :-1].T, cum[:, 1:].T], axis=1)  # (n_grid - 1, 2 n_band)
    q = jnp.clip((ln_wave_obs - bands.ln_wave0) / bands.dln, 0.0, n_grid - 1.0)
    k = jnp.clip(jnp.floor(jax.lax.stop_gradient(q)).astype(jnp.int32), 0, n_grid - 2)
    f = (q - k)[..., None]
    rows = jnp.take(pairs, k, axis=0, mode="clip")
    return rows[..., :n_band] * (1.0 - f) + rows[..., n_band:] * f


def _magnitudes_from_flux(flux, log_norm, zp1):
    return -2.5 / math.log(10.0) * (jnp.log(flux) + log_norm - 3.0 * jnp.log(zp1))


def redshifted_absolute_magnitudes(
    bands: Bands,
    wave_edges: Float[Array, " n_edge"],
    l_lambda: Float[Array, " n_wave"],
    z: Float[Array, ""] | float,
) -> Float[Array, " n_band"]:
    r"""AB magnitudes of a rest-frame spectrum placed at 10 pc and redshifted to ``z``.

    With :math:`L_\lambda` constant within each rest bin :math:`[e_i, e_{i+1}]` (bin averages),

    .. math::

        M_b = -2.5\log_{10}\frac{\int f^{10}_\lambda T_b \lambda\,d\lambda}
                                {\int f^{AB}_\lambda T_b \lambda\,d\lambda}, \qquad
        \int f^{10}_\lambda T_b\lambda\,d\lambda = \frac{\sum_i L_i\,[G_b((1+z)e_{i+1}) -
        G_b((1+z)e_i)]}{4\pi(10\,{\rm pc})^2\,(1+z)^3}

    (see the module docstring). Add :math:`5\log_{10}(D_M/10\,{\rm pc})` for apparent
    magnitudes. The spectrum is zero outside ``wave_edges``; check coverage with
    :func:`band_coverage`. A band with no flux gives ``+inf``. Works for any bin edges; for
    log-uniform edges :class:`LogGridPhotometry` is several times faster.

    Args:
        bands: from :func:`load_bands`.
        wave_edges: rest-frame bin edges [Angstrom], shape (n_wave + 1,).
        l_lambda: bin-averaged rest-frame L_lambda [L_sun / Angstrom], shape (n_wave,).
        z: redshift (> -1).

    Returns:
        Redshifted absolute AB magnitudes, shape (n_band,).
    """
    dtype = jnp.result_type(l_lambda, jnp.float32)
    zp1 = 1.0 + jnp.asarray(z, dtype)
    ln_obs = jnp.log(jnp.asarray(wave_edges, dtype)) + jnp.log(zp1)
    g = _observed_cumulative(bands, ln_obs, dtype)
    flux = jnp.asarray(l_lambda, dtype) @ (g[1:] - g[:-1])
    return _magnitudes_from_flux(flux, jnp.asarray(bands.log_norm, dtype), zp1)


@struct.dataclass
class LogGridPhotometry:
    r"""Band tables aligned with one log-uniform rest-frame grid, for fast magnitudes.

    For rest edges :math:`e_i = e_0 e^{i\delta}`, redshifting shifts every
    :math:`\ln e_i` by the same :math:`\ln(1+z)`. With :math:`G_b` tabulated at
    :math:`\ln e_0 + m\,\delta/r` (r an integer oversampling), all
    :math:`G_b((1+z)e_i)` are two contiguous strided slices of the table (offset
    :math:`\lfloor \ln(1+z) r/\delta \rfloor`) mixed with one common weight, so no per-edge
    lookups are needed. Same result as :func:`redshifted_absolute_magnitudes` (up to the
    interpolation of :math:`G_b` on a grid of step :math:`\delta/r` instead of ``bands.dln``).

    Build with :meth:`create`. Redshifts outside ``[0, z_max]`` give NaN magnitudes.

    Attributes:
        table: :math:`G_b` in phase-major layout, shape (r, n_rows, n_band).
        log_norm: as :attr:`Bands.log_norm`.
        n_wave: number of rest bins (static).
        oversample: r (static).
        dln_table: :math:`\delta / r` (static).
        z_max: largest redshift covered (static).
        names: band names (static).
    """

    table: Float[Array, "r n_rows n_band"]
    log_norm: Float[Array, " n_band"]
    n_wave: int = struct.field(pytree_node=False, default=0)
    oversample: int = struct.field(pytree_node=False, default=1)
    dln_table: float = struct.field(pytree_node=False, default=1.0)
    z_max: float = struct.field(pytree_node=False, default=0.0)
    names: tuple[str, ...] = struct.field(pytree_node=False, default=())

    @classmethod
    def create(
        cls,
        names: tuple[str, ...] | Bands,
        wave_edges,
        z_max: float = 3.0,
        max_dln: float = 2.5e-4,
    ) -> LogGridPhotometry:
        """Tabulate the bands for rest-frame edges ``wave_edges`` (must be log-uniform).

        Args:
            names: speclite filter names, or a :class:`Bands` (its names are reloaded).
            wave_edges: log-uniform rest-frame bin edges [Angstrom] (relative tolerance 1e-3
                on the ln spacing, so float32 copies pass; the table assumes the ideal edges
                ``e_0 exp(i delta)``).
            z_max: largest redshift to support.
            max_dln: largest table step in ln(lambda).

        Raises:
            ValueError: if the edges are not log-uniform or ``z_max`` is negative.
        """
        import speclite.filters

        if isinstance(names, Bands):
            names = names.names
        names = tuple(names)
        _check_names(names)
        edges = np.asarray(wave_edges, np.float64)
        steps = np.diff(np.log(edges))
        if edges.ndim != 1 or edges.size < 2 or steps.min() <= 0:
            raise ValueError("wave_edges must be 1-D and strictly increasing")
        delta = float(np.log(edges[-1] / edges[0]) / (edges.size - 1))
        if np.max(np.abs(steps / delta - 1.0)) > 1e-3:
            raise ValueError(
                "wave_edges are not log-uniform; use redshifted_absolute_magnitudes instead"
            )
        if not z_max >= 0:
            raise ValueError(f"z_max must be >= 0, got {z_max}")
        r = int(math.ceil(delta / max_dln - 1e-9))
        h = delta / r
        n_wave = edges.size - 1
        n_rows = n_wave + 1 + int(math.ceil(math.log1p(z_max) / delta)) + 2
        u = math.log(edges[0]) + h * np.arange(n_rows * r)
        cum = []
        log_norm = []
        for name in names:
            f = speclite.filters.load_filter(name)
            w, t = np.asarray(f.wavelength, float), np.asarray(f.response, float)
            g, total = _segment_integrals(w, t, np.exp(u))
            cum.append(g / total)
            ab = _AB_FNU * _C_AA_S * _inverse_lambda_integral(w, t)
            log_norm.append(math.log(L_SUN_ERG_S * total / (4 * math.pi * (10 * _PC_CM) ** 2 * ab)))
        table = np.stack(cum, axis=-1).reshape(n_rows, r, len(names)).transpose(1, 0, 2)
        return cls(
            table=table,
            log_norm=np.array(log_norm),
            n_wave=n_wave,
            oversample=r,
            dln_table=h,
            z_max=float(z_max),
            names=names,
        )

    def magnitudes(
        self, l_lambda: Float[Array, " n_wave"], z: Float[Array, ""] | float
    ) -> Float[Array, " n_band"]:
        """Redshifted absolute AB magnitudes (as :func:`redshifted_absolute_magnitudes`)."""
        dtype = jnp.result_type(l_lambda, jnp.float32)
        table = jnp.asarray(self.table, dtype)
        r, n_rows, n_band = table.shape
        zp1 = 1.0 + jnp.asarray(z, dtype)
        s = jnp.log(zp1) / self.dln_table
        j = jnp.clip(jnp.floor(jax.lax.stop_gradient(s)).astype(jnp.int32), 0, r * n_rows)
        f = s - j
        size = (1, self.n_wave + 1, n_band)
        zero = jnp.zeros((), jnp.int32)
        g0 = jax.lax.dynamic_slice(table, (j % r, j // r, zero), size)[0]
        g1 = jax.lax.dynamic_slice(table, ((j + 1) % r, (j + 1) // r, zero), size)[0]
        g = g0 + f * (g1 - g0)
        flux = jnp.asarray(l_lambda, dtype) @ (g[1:] - g[:-1])
        mags = _magnitudes_from_flux(flux, jnp.asarray(self.log_norm, dtype), zp1)
        ok = (z >= 0) & (z <= self.z_max)
        return jnp.where(ok, mags, jnp.nan)


def band_coverage(
    bands: Bands, wave_edges: Float[Array, " n_edge"], z: np.ndarray | float
) -> np.ndarray:
    r"""Fraction of each band's :math:`\int T\lambda\,d\lambda` covered by the redshifted bins.

    Args:
        bands: from :func:`load_bands`.
        wave_edges: rest-frame bin edges [Angstrom].
        z: redshift(s), any shape.

    Returns:
        Covered fractions, shape ``z.shape + (n_band,)`` (1 = fully covered).
    """
    z = np.asarray(z, float)
    edges = np.asarray(wave_edges, float)[[0, -1]]
    ln_obs = np.log(edges)[None, :] + np.log1p(z.reshape(-1))[:, None]
    g = np.stack([np.asarray(_observed_cumulative(bands, jnp.asarray(e), jnp.float32))
                  for e in ln_obs])  # fmt: skip
    return (g[:, 1] - g[:, 0]).reshape(z.shape + (bands.n_band,))


@struct.dataclass
class GeneralPhotometry:
    """Band magnitudes for arbitrary rest-frame bins (wraps :func:`redshifted_absolute_magnitudes`).

    Attributes:
        bands: the filter tables.
        wave_edges: rest-frame bin edges [Angstrom].
    """

    bands: Bands
    wave_edges: Float[Array, " n_edge"]

    @property
    def names(self) -> tuple[str, ...]:
        """Band names."""
        return self.bands.names

    def magnitudes(
        self, l_lambda: Float[Array, " n_wave"], z: Float[Array, ""] | float
    ) -> Float[Array, " n_band"]:
        """Redshifted absolute AB magnitudes of bin-averaged ``l_lambda`` [L_sun/A] at ``z``."""
        return redshifted_absolute_magnitudes(self.bands, self.wave_edges, l_lambda, z)


def make_photometry(
    bands: Bands, wave_edges, z_max: float = 3.0
) -> LogGridPhotometry | GeneralPhotometry:
    """The fastest photometry for rest-frame ``wave_edges``: aligned tables if log-uniform.

    Args:
        bands: from :func:`load_bands`.
        wave_edges: the SPS provider's rest-frame bin edges [Angstrom] (``sps.wave_edges``).
        z_max: largest redshift for :class:`LogGridPhotometry` (NaN above).

    Returns:
        An object with ``magnitudes(l_lambda, z) -> (n_band,)`` and ``names``.
    """
    edges = np.asarray(wave_edges, np.float64)
    steps = np.diff(np.log(edges))
    if steps.size and steps.min() > 0 and np.max(np.abs(steps / steps.mean() - 1.0)) < 1e-3:
        return LogGridPhotometry.create(bands, edges, z_max=z_max)
    return GeneralPhotometry(bands=bands, wave_edges=edges)


def host_magnitudes(
    sps: AbstractSPS,
    photometry: LogGridPhotometry | GeneralPhotometry,
    host: HostParams,
    log_age_edges: Float[Array, " n_edge_sfh"] | None = None,
    bin_masses: Float[Array, " n_bin"] | None = None,
) -> Float[Array, " n_band"]:
    """Redshifted absolute magnitudes of one galaxy: ``sps.rest_sed`` through ``photometry``.

    Written for one galaxy; for a bank, ``jax.jit(jax.vmap(...))`` over ``host`` (and the SFH
    arrays) with ``sps`` and ``photometry`` closed over, in chunks.

    Args:
        sps: the SPS provider (its ``wave_edges`` must be those ``photometry`` was built for).
        photometry: from :func:`make_photometry`.
        host: the galaxy.
        log_age_edges: SFH bin edges log10(t/yr), shape (8,) (SSP-grid providers only).
        bin_masses: mass formed per SFH bin [M_sun], shape (7,) (SSP-grid providers only).

    Returns:
        Magnitudes M_b with m_b = M_b + 5 log10(D_M / 10 pc), shape (n_band,).
    """
    return photometry.magnitudes(sps.rest_sed(host, log_age_edges, bin_masses), host.z)
