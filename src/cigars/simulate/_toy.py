r"""A toy galaxy bank with physically plausible columns, for tests, benchmarks and examples.

It has the layout of the real bank (``cigars.hosts``) without its cost: no SPS. Redshifts
follow roughly the comoving volume, masses a Schechter function on [8.5, 12.5], the
metallicity the reference's smoothed Gallazzi+05 mass-metallicity mean, SFH bins the reference
layout (edges 0, log10 3e7, 8.0, four more log-spaced up to log10 0.85 t_univ(z), and
log10 t_univ(z) for flat WMAP9 matter + Lambda), and magnitudes a mass-to-light relation
(:math:`M_r = -20.5 - 2.5(\log M - 10)`) with fixed rest-frame colours, a
:math:`2.5\log_{10}(1+z)` bandwidth term and a linear toy K-correction. Do not use it for
science.
"""

from __future__ import annotations

import math

import numpy as np

from cigars.survey._hosts import HostTable

__all__ = ["toy_host_table"]

# Rest-frame colours relative to r and toy K-correction slopes [mag per unit z], u g r i z y.
_COLOURS = np.array([1.8, 0.6, 0.0, -0.35, -0.6, -0.7])
_K_SLOPES = np.array([2.0, 1.2, 0.8, 0.5, 0.3, 0.2])

# Flat WMAP9 (astropy) matter + Lambda: t(z) = 2 / (3 H0 sqrt(OL)) asinh(sqrt(OL/Om) (1+z)^-1.5).
_H0, _OM = 69.32, 0.2865
_HUBBLE_TIME_YR = 977.792221e9 / _H0


def _age_universe_yr(z: np.ndarray) -> np.ndarray:
    ol = 1.0 - _OM
    return (
        2.0
        / (3.0 * math.sqrt(ol))
        * _HUBBLE_TIME_YR
        * np.arcsinh(math.sqrt(ol / _OM) * (1.0 + z) ** -1.5)
    )


def toy_host_table(n_host: int, seed: int = 0, n_band: int = 6, dtype=None) -> HostTable:
    """A random toy bank of ``n_host`` galaxies (see the module docstring).

    Args:
        n_host: number of galaxies.
        seed: NumPy random seed.
        n_band: number of bands (<= 6: u g r i z y, in order).
        dtype: float dtype of the table (default: JAX's default float).

    Returns:
        The :class:`~cigars.survey.HostTable`.

    Raises:
        ValueError: if ``n_host`` < 1 or ``n_band`` not in 1..6.
    """
    if n_host < 1 or not 1 <= n_band <= 6:
        raise ValueError(
            f"toy_host_table: need n_host >= 1 and 1 <= n_band <= 6, got {n_host}, {n_band}"
        )
    rng = np.random.default_rng(seed)
    z = 0.02 + (1.5 - 0.02) * rng.uniform(size=n_host) ** (1.0 / 2.2)
    # Schechter mass function (alpha = -1.3, log M* = 10.9 in formed mass) on [8.5, 12.5].
    grid = np.linspace(8.5, 12.5, 4001)
    x = 10.0 ** (grid - 10.9)
    cdf = np.cumsum(x ** (1.0 - 1.3) * np.exp(-x))
    logmass = np.interp(rng.uniform(size=n_host) * cdf[-1], cdf, grid)
    sig = 1.0 / (1.0 + np.exp(-(logmass - 10.1) / 0.3))
    logzsol = np.clip(-0.65 + 0.8 * sig + 0.2 * rng.standard_normal(n_host), -1.98, 0.19)

    t_univ = _age_universe_yr(z)
    inner = np.linspace(0.0, 1.0, 5)[None, :] * (np.log10(0.85 * t_univ)[:, None] - 8.0) + 8.0
    edges = np.concatenate(
        [
            np.zeros((n_host, 1)),
            np.full((n_host, 1), math.log10(3e7)),
            inner,
            np.log10(t_univ)[:, None],
        ],
        axis=1,
    )
    width = np.diff(10.0**edges, axis=1)
    # SFR per bin: massive galaxies formed earlier (rising towards old bins), with scatter.
    ages = 10.0 ** (0.5 * (edges[:, 1:] + edges[:, :-1]))
    tilt = 0.3 * (logmass[:, None] - 10.0) * np.log10(ages / 1e9)
    log_sfr = tilt + 0.4 * rng.standard_normal((n_host, 7))
    frac = 10.0**log_sfr * width
    frac /= frac.sum(axis=1, keepdims=True)
    bin_logmass = logmass[:, None] + np.log10(frac)

    dust2 = np.clip(np.abs(0.3 + 0.3 * rng.standard_normal(n_host)), 0.0, 4.0)
    dust_index = np.clip(-0.1 + 0.3 * rng.standard_normal(n_host), -1.0, 0.4)
    dust_ratio = np.clip(1.0 + 0.3 * rng.standard_normal(n_host), 0.0, 2.0)

    m_r = -20.5 - 2.5 * (logmass - 10.0) + 0.3 * rng.standard_normal(n_host)
    colours = _COLOURS[None, :n_band] + 0.1 * rng.standard_normal((n_host, n_band))
    abs_mag = (
        m_r[:, None]
        + colours
        + 2.5 * np.log10(1.0 + z)[:, None]
        + _K_SLOPES[None, :n_band] * z[:, None]
        + 0.5 * dust2[:, None] * np.linspace(1.5, 0.5, n_band)[None, :]
    )
    return HostTable.from_arrays(
        z=z,
        logmass=logmass,
        logzsol=logzsol,
        dust2=dust2,
        dust_index=dust_index,
        dust_ratio=dust_ratio,
        log_age_edges=edges,
        bin_logmass=bin_logmass,
        abs_mag=abs_mag,
        dtype=dtype,
    )
