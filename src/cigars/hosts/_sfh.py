r"""The 7-bin non-parametric star-formation history (SFH): age bins and the continuity transform.

A host's SFH is piecewise constant in 7 bins of lookback age (age of the stars at the time the
galaxy is observed). The bin edges in :math:`\log_{10}(\mathrm{age}/\mathrm{yr})` depend only on
the age of the universe :math:`t_\mathrm{univ}(z)` at the host's redshift (MODEL.md §3a):

.. math::

    \ell = \bigl(0,\ \log_{10} 3\times10^7,\ 8 + (\log_{10}(0.85\,t_\mathrm{univ}) - 8)\,k/4
           \ (k = 0..4),\ \log_{10} t_\mathrm{univ}\bigr),

i.e. 2 + 5 + 1 = 8 edges and 7 bins: 0-30 Myr, 30-100 Myr, four bins log-spaced between 100 Myr
and 0.85 t_univ, and the oldest bin 0.85 t_univ - t_univ. The first edge is log10(age/yr) = 0
(1 yr), as in Prospector. Bins with index >= :data:`FIRST_SN_BIN` (ages >= 100 Myr) are the ones
that host SNe Ia (MODEL.md §4a: "bins j >= 3" counting from 1). The age of the universe is taken
from WMAP9 (``astropy.cosmology.WMAP9``), independently of the cosmology being inferred.

The SFH is parametrised by the 6 log-SFR ratios between adjacent bins, youngest first,
:math:`r_j = \log_{10}(\mathrm{SFR}_j / \mathrm{SFR}_{j+1})`, and the total mass formed
:math:`10^{\mathcal M}`; the mass formed in bin j follows from the "continuity" transform
(Leja et al. 2019, ApJ 876, 3, §2.2.3; Prospector ``logsfr_ratios_to_masses``):

.. math::

    \log_{10}\mathrm{SFR}_j = \log_{10}\mathrm{SFR}_0 - \sum_{k<j} r_k,\qquad
    M_j = 10^{\mathcal M}\,\frac{\mathrm{SFR}_j\,\Delta t_j}{\sum_i \mathrm{SFR}_i\,\Delta t_i}.

All functions broadcast over leading axes (written for one galaxy, batched by broadcasting or
``jax.vmap``).
"""

import math

import jax.numpy as jnp
from jax.scipy.special import logsumexp

from cigars._types import Array, Float
from cigars.cosmology import WMAP9, Cosmology, age
from cigars.hosts._params import N_SFH_BINS

__all__ = [
    "FIRST_SN_BIN",
    "N_SFH_EDGES",
    "SFH_OLD_FRACTION",
    "log_sfr_per_bin",
    "logsfr_ratios_to_log_masses",
    "sfh_bin_log_widths",
    "sfh_log_age_edges",
    "sfh_log_age_edges_from_t_univ",
    "sfh_log_mid_ages",
]

N_SFH_EDGES = N_SFH_BINS + 1
"""Number of SFH bin edges (8 edges, 7 bins)."""

FIRST_SN_BIN = 2
"""0-based index of the first SFH bin with ages >= 100 Myr; bins 0 (0-30 Myr) and 1 (30-100 Myr)
host no SNe Ia (MODEL.md §4a)."""

SFH_OLD_FRACTION = 0.85
"""The oldest bin spans [0.85 t_univ, t_univ] (Prospector-beta's own scheme uses 0.9)."""

_LOG_AGE_YOUNG = (0.0, math.log10(3e7))  # the first two edges [log10 yr]
_LOG_AGE_SPLIT = 8.0  # start of the log-spaced bins: 100 Myr [log10 yr]
_N_LOG_SPACED_EDGES = 5


def sfh_log_age_edges_from_t_univ(t_univ_gyr: Float[Array, "..."]) -> Float[Array, "... 8"]:
    r"""SFH bin edges in log10(age / yr) for a given age of the universe.

    .. math::

        \ell = (0,\ \log_{10}3\times10^7,\ 8 + (\log_{10}(0.85\,t_\mathrm{univ}) - 8)\,k/4
        \ (k=0..4),\ \log_{10}t_\mathrm{univ})

    Args:
        t_univ_gyr: age of the universe at the galaxy's redshift [Gyr], any shape ``...``;
            must exceed 0.1/0.85 Gyr (z below ~25) for the edges to increase.

    Returns:
        The 8 edges [log10 yr], shape ``(..., 8)``, increasing.

    Reference: MODEL.md §3a (CIGaRS reference ``PBSim.agebins``); Wang, Leja et al. 2023, ApJL
    944, L58 (Prospector-beta binning, with 0.9 instead of 0.85).
    """
    lg_t = jnp.log10(jnp.asarray(t_univ_gyr, dtype=jnp.result_type(t_univ_gyr, float))) + 9.0
    frac = jnp.linspace(0.0, 1.0, _N_LOG_SPACED_EDGES, dtype=lg_t.dtype)
    lg_old = jnp.log10(jnp.asarray(SFH_OLD_FRACTION, lg_t.dtype)) + lg_t
    log_spaced = _LOG_AGE_SPLIT + (lg_old[..., None] - _LOG_AGE_SPLIT) * frac
    young = jnp.broadcast_to(jnp.asarray(_LOG_AGE_YOUNG, lg_t.dtype), (*lg_t.shape, 2))
    return jnp.concatenate([young, log_spaced, lg_t[..., None]], axis=-1)


def sfh_log_age_edges(z: Float[Array, "..."], cosmo: Cosmology = WMAP9) -> Float[Array, "... 8"]:
    """SFH bin edges in log10(age / yr) at redshift ``z``, with t_univ from ``cosmo`` (WMAP9).

    Args:
        z: cosmological redshift of the galaxy, any shape ``...``.
        cosmo: cosmology giving the age of the universe; the model fixes WMAP9 (MODEL.md §3a).

    Returns:
        The 8 edges [log10 yr], shape ``(..., 8)``.

    Example:
        >>> import jax.numpy as jnp
        >>> from cigars.hosts._sfh import sfh_log_age_edges
        >>> [round(float(e), 3) for e in sfh_log_age_edges(jnp.asarray(0.0))]
        [0.0, 7.477, 8.0, 8.517, 9.034, 9.551, 10.068, 10.139]
    """
    return sfh_log_age_edges_from_t_univ(age(cosmo, z))


def sfh_bin_log_widths(log_age_edges: Float[Array, "... 8"]) -> Float[Array, "... 7"]:
    r"""log10 of the bin durations, :math:`\log_{10}(10^{\ell_{j+1}} - 10^{\ell_j})` [log10 yr].

    Args:
        log_age_edges: SFH bin edges [log10 yr], shape ``(..., 8)``.

    Returns:
        log10 of each bin's width in years, shape ``(..., 7)``.
    """
    lo, hi = log_age_edges[..., :-1], log_age_edges[..., 1:]
    # log10(10^hi - 10^lo) = hi + log10(1 - 10^(lo - hi)), stable for narrow bins.
    return hi + jnp.log10(-jnp.expm1((lo - hi) * jnp.log(10.0)))


def sfh_log_mid_ages(log_age_edges: Float[Array, "... 8"]) -> Float[Array, "... 7"]:
    """Log-midpoint age of each bin, (l_j + l_{j+1}) / 2 [log10 yr] (the DTD evaluation point).

    Args:
        log_age_edges: SFH bin edges [log10 yr], shape ``(..., 8)``.

    Returns:
        Log-midpoint ages [log10 yr], shape ``(..., 7)``.

    Reference: MODEL.md §4a.
    """
    return 0.5 * (log_age_edges[..., :-1] + log_age_edges[..., 1:])


def logsfr_ratios_to_log_masses(
    logmass: Float[Array, "..."],
    logsfr_ratios: Float[Array, "... 6"],
    log_age_edges: Float[Array, "... 8"],
) -> Float[Array, "... 7"]:
    r"""log10 of the stellar mass formed in each SFH bin (continuity transform).

    .. math::

        \log_{10} M_j = \mathcal M + s_j + \log_{10}\Delta t_j
            - \log_{10}\sum_i 10^{s_i + \log_{10}\Delta t_i},\qquad
        s_j = -\sum_{k<j} r_k,

    so that :math:`\sum_j M_j = 10^{\mathcal M}` exactly.

    Args:
        logmass: log10 of the total mass formed [M_sun], shape ``...``.
        logsfr_ratios: log10(SFR_j / SFR_{j+1}), youngest first, shape ``(..., 6)``.
        log_age_edges: SFH bin edges [log10 yr], shape ``(..., 8)``.

    Returns:
        log10 of the mass formed per bin [M_sun], youngest first, shape ``(..., 7)``.

    Reference: Leja et al. 2019, ApJ 876, 3, eq. 4-6; Prospector ``logsfr_ratios_to_masses``.
    """
    logsfr_ratios = jnp.asarray(logsfr_ratios)
    zero = jnp.zeros_like(logsfr_ratios[..., :1])
    rel_log_sfr = jnp.concatenate([zero, -jnp.cumsum(logsfr_ratios, axis=-1)], axis=-1)
    rel_log_mass = rel_log_sfr + sfh_bin_log_widths(log_age_edges)
    ln10 = math.log(10.0)
    log_norm = logsumexp(rel_log_mass * ln10, axis=-1, keepdims=True) / ln10
    return jnp.asarray(logmass)[..., None] + rel_log_mass - log_norm


def log_sfr_per_bin(
    log_masses: Float[Array, "... 7"], log_age_edges: Float[Array, "... 8"]
) -> Float[Array, "... 7"]:
    """log10 of the mean star-formation rate in each bin [M_sun / yr].

    Args:
        log_masses: log10 of the mass formed per bin [M_sun], shape ``(..., 7)``.
        log_age_edges: SFH bin edges [log10 yr], shape ``(..., 8)``.

    Returns:
        log10 SFR_j = log10 M_j - log10 Delta t_j, shape ``(..., 7)``.
    """
    return log_masses - sfh_bin_log_widths(log_age_edges)
