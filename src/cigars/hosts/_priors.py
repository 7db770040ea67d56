r"""The Prospector-beta host-galaxy population prior of CIGaRS (MODEL.md §3a).

The joint prior of a host's intrinsic parameters (:class:`~cigars.hosts._params.HostParams`) is

.. math::

    p(z, \mathcal M)\; p([Z]\mid\mathcal M)\; \prod_{j=1}^{6} p(r_j\mid z, \mathcal M)\;
    p(\tau_2\mid \mathrm{SFR}_\mathrm{young})\; p(\delta\mid\tau_2)\; p(\tau_1/\tau_2)\;
    p(\log Z_\mathrm{gas})\; p(\ln f_\mathrm{AGN})\; p(\ln\tau_\mathrm{AGN}),

with

* :math:`p(z, \mathcal M)`: a 2-D histogram distribution (:class:`RedshiftMassPrior`) equal to
  the Prospector-beta redshift distribution (the ``pdf_of_z_l20`` table of Wang, Leja et al. 2023,
  linearly interpolated and integrated over each redshift cell) times the Leja et al. (2020)
  continuity-model stellar-mass function at that redshift, normalised over log M per cell;
* :math:`[Z]\mid\mathcal M`: normal truncated to [-1.98, 0.19], a smooth fit to Gallazzi+05;
* :math:`r_j`: Student-t (nu = 2, scale 0.3) around the Prospector-beta expectation (Behroozi+19
  cosmic star-formation history with a mass-dependent formation-time shift), clamped to +-5;
* dust (Kriek & Conroy 2013 law parameters) as truncated normals; nebular and AGN nuisances
  uniform.

Data tables (facts, transcribed with attribution; bd-j/prospector, MIT licence,
``prospect/models/prior_data``):

* ``pdf_of_z_l20.txt``: Prospector-beta p(z) on z = 0, 0.04, ..., (here up to z = 3);
* ``behroozi_19_sfrd.txt``: Behroozi et al. (2019, MNRAS 488, 3143) cosmic SFR density
  [M_sun / yr / Mpc^3] on z = 0, 0.06, ..., (here up to z = 15.12, 6 significant digits).

Lookback times and ages use the WMAP9 cosmology (:data:`cigars.cosmology.WMAP9`), as Prospector
(``astropy.cosmology.WMAP9``).
"""

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from flax import struct
from numpyro.distributions import constraints

from cigars._types import Array, Float, Key
from cigars.cosmology import WMAP9, age, efunc, transverse_comoving_distance
from cigars.hosts._hosts_config import ProspectorBetaConfig
from cigars.hosts._params import N_SFH_BINS, HostParams
from cigars.hosts._sfh import (
    log_sfr_per_bin,
    logsfr_ratios_to_log_masses,
    sfh_log_age_edges_from_t_univ,
)

__all__ = [
    "ClampedStudentT",
    "LEJA20_ALPHA1",
    "LEJA20_ALPHA2",
    "LEJA20_LOGMSTAR",
    "LEJA20_LOGPHI1",
    "LEJA20_LOGPHI2",
    "LEJA20_Z_ANCHORS",
    "ProspectorBetaPrior",
    "RedshiftMassPrior",
    "dust2_distribution",
    "dust_index_distribution",
    "expected_logsfr_ratios",
    "host_log_prob",
    "host_model",
    "leja20_log10_mass_function",
    "leja20_parameters",
    "logsfr_ratio_distribution",
    "logzsol_distribution",
    "mass_metallicity_loc",
    "mass_metallicity_scale",
    "prospector_beta_prior",
    "prospector_beta_redshift_pdf",
    "redshift_mass_distribution",
    "sample_host",
    "sample_hosts",
    "sfh_shift_dex",
]

# ---------------------------------------------------------------------------------------------
# Data tables
# ---------------------------------------------------------------------------------------------

PB_PZ_DZ = 0.04
"""Redshift step of the Prospector-beta p(z) table (nodes z = 0, 0.04, ..., 3.0)."""

PB_PZ = np.array([
    0.0, 1.77761e-03, 6.81993e-03, 1.46881e-02, 2.49491e-02, 3.71862e-02, 4.96407e-02,
    6.25718e-02, 7.56221e-02, 8.85042e-02, 1.00994e-01, 1.12923e-01, 1.24165e-01, 1.34631e-01,
    1.44267e-01, 1.53045e-01, 1.60956e-01, 1.68001e-01, 1.74190e-01, 1.79541e-01, 1.84079e-01,
    1.87833e-01, 1.90820e-01, 1.93056e-01, 1.94559e-01, 1.95346e-01, 1.95446e-01, 1.94919e-01,
    1.93834e-01, 1.92259e-01, 1.90260e-01, 1.87900e-01, 1.85243e-01, 1.82347e-01, 1.79265e-01,
    1.76050e-01, 1.72743e-01, 1.69373e-01, 1.65962e-01, 1.62528e-01, 1.59089e-01, 1.55659e-01,
    1.52251e-01, 1.48875e-01, 1.45538e-01, 1.42250e-01, 1.39014e-01, 1.35838e-01, 1.32725e-01,
    1.29678e-01, 1.26699e-01, 1.23792e-01, 1.20957e-01, 1.18196e-01, 1.15508e-01, 1.12894e-01,
    1.10355e-01, 1.07889e-01, 1.05496e-01, 1.03175e-01, 1.00926e-01, 9.87459e-02, 9.66351e-02,
    9.45917e-02, 9.26143e-02, 9.07014e-02, 8.88515e-02, 8.70630e-02, 8.53344e-02, 8.36641e-02,
    8.20505e-02, 8.04921e-02, 7.89871e-02, 7.75342e-02, 7.61317e-02, 7.47782e-02,
])  # fmt: skip
"""Prospector-beta p(z) (unnormalised; Wang, Leja et al. 2023, ApJL 944, L58; prospector
``prior_data/pdf_of_z_l20.txt``, the Leja+20-only ``const_phi`` variant) at z = 0.04 k."""

B19_DZ = 0.06
"""Redshift step of the Behroozi+19 cosmic SFRD table (nodes z = 0, 0.06, ..., 15.12)."""

B19_SFRD = np.array([
    1.19349e-02, 1.26376e-02, 1.39273e-02, 1.56429e-02, 1.76521e-02, 1.98791e-02, 2.22917e-02,
    2.48773e-02, 2.76281e-02, 3.05318e-02, 3.35672e-02, 3.67028e-02, 3.99000e-02, 4.31159e-02,
    4.63041e-02, 4.94148e-02, 5.23964e-02, 5.51995e-02, 5.77808e-02, 6.01039e-02, 6.21363e-02,
    6.38516e-02, 6.52361e-02, 6.62943e-02, 6.70418e-02, 6.74930e-02, 6.76613e-02, 6.75669e-02,
    6.72397e-02, 6.67090e-02, 6.59945e-02, 6.51075e-02, 6.40616e-02, 6.28811e-02, 6.15997e-02,
    6.02539e-02, 5.88769e-02, 5.74942e-02, 5.61199e-02, 5.47560e-02, 5.33983e-02, 5.20473e-02,
    5.07115e-02, 4.94022e-02, 4.81264e-02, 4.68887e-02, 4.56970e-02, 4.45610e-02, 4.34862e-02,
    4.24682e-02, 4.14930e-02, 4.05439e-02, 3.96093e-02, 3.86879e-02, 3.77846e-02, 3.69033e-02,
    3.60446e-02, 3.52080e-02, 3.43920e-02, 3.35918e-02, 3.27996e-02, 3.20106e-02, 3.12299e-02,
    3.04717e-02, 2.97511e-02, 2.90727e-02, 2.84270e-02, 2.77969e-02, 2.71679e-02, 2.65357e-02,
    2.59048e-02, 2.52835e-02, 2.46782e-02, 2.40909e-02, 2.35196e-02, 2.29612e-02, 2.24128e-02,
    2.18732e-02, 2.13423e-02, 2.08201e-02, 2.03070e-02, 1.98037e-02, 1.93118e-02, 1.88327e-02,
    1.83673e-02, 1.79150e-02, 1.74744e-02, 1.70441e-02, 1.66237e-02, 1.62140e-02, 1.58160e-02,
    1.54305e-02, 1.50571e-02, 1.46947e-02, 1.43415e-02, 1.39959e-02, 1.36564e-02, 1.33219e-02,
    1.29918e-02, 1.26663e-02, 1.23458e-02, 1.20311e-02, 1.17230e-02, 1.14225e-02, 1.11302e-02,
    1.08464e-02, 1.05708e-02, 1.03025e-02, 1.00403e-02, 9.78320e-03, 9.53077e-03, 9.28318e-03,
    9.04092e-03, 8.80440e-03, 8.57378e-03, 8.34888e-03, 8.12941e-03, 7.91503e-03, 7.70551e-03,
    7.50067e-03, 7.30039e-03, 7.10459e-03, 6.91320e-03, 6.72612e-03, 6.54326e-03, 6.36450e-03,
    6.18970e-03, 6.01867e-03, 5.85123e-03, 5.68711e-03, 5.52599e-03, 5.36744e-03, 5.21092e-03,
    5.05579e-03, 4.90145e-03, 4.74752e-03, 4.59403e-03, 4.44151e-03, 4.29098e-03, 4.14368e-03,
    4.00074e-03, 3.86291e-03, 3.73034e-03, 3.60267e-03, 3.47921e-03, 3.35916e-03, 3.24187e-03,
    3.12698e-03, 3.01439e-03, 2.90423e-03, 2.79673e-03, 2.69212e-03, 2.59060e-03, 2.49226e-03,
    2.39713e-03, 2.30517e-03, 2.21633e-03, 2.13054e-03, 2.04773e-03, 1.96782e-03, 1.89073e-03,
    1.81640e-03, 1.74475e-03, 1.67573e-03, 1.60927e-03, 1.54534e-03, 1.48389e-03, 1.42491e-03,
    1.36835e-03, 1.31414e-03, 1.26217e-03, 1.21224e-03, 1.16412e-03, 1.11748e-03, 1.07198e-03,
    1.02729e-03, 9.83121e-04, 9.39314e-04, 8.95880e-04, 8.53035e-04, 8.11183e-04, 7.70859e-04,
    7.32659e-04, 6.97164e-04, 6.64851e-04, 6.35983e-04, 6.10522e-04, 5.88088e-04, 5.68007e-04,
    5.49442e-04, 5.31554e-04, 5.13654e-04, 4.95306e-04, 4.76355e-04, 4.56880e-04, 4.37101e-04,
    4.17293e-04, 3.97714e-04, 3.78570e-04, 3.60002e-04, 3.42094e-04, 3.24893e-04, 3.08421e-04,
    2.92687e-04, 2.77684e-04, 2.63393e-04, 2.49782e-04, 2.36815e-04, 2.24450e-04, 2.12644e-04,
    2.01357e-04, 1.90553e-04, 1.80196e-04, 1.70256e-04, 1.60705e-04, 1.51514e-04, 1.42660e-04,
    1.34121e-04, 1.25883e-04, 1.17935e-04, 1.10270e-04, 1.02887e-04, 9.57853e-05, 8.89639e-05,
    8.24245e-05, 7.61690e-05, 7.02006e-05, 6.45234e-05, 5.91424e-05, 5.40631e-05, 4.92906e-05,
    4.48291e-05, 4.06806e-05, 3.68432e-05, 3.33103e-05, 3.00707e-05, 2.71091e-05, 2.44077e-05,
    2.19479e-05, 1.97103e-05, 1.76762e-05, 1.58279e-05, 1.41488e-05, 1.26246e-05, 1.12423e-05,
    9.99021e-06, 8.85748e-06, 7.83360e-06, 6.90833e-06, 6.07182e-06, 5.31491e-06, 4.62957e-06,
    4.00920e-06,
])  # fmt: skip
"""Behroozi et al. 2019 (MNRAS 488, 3143) cosmic SFR density [M_sun / yr / Mpc^3] at z = 0.06 k
(prospector ``prior_data/behroozi_19_sfrd.txt``; the first node is z = 1e-8 there)."""

# ---------------------------------------------------------------------------------------------
# Leja+20 stellar-mass function
# ---------------------------------------------------------------------------------------------

LEJA20_Z_ANCHORS = (0.2, 1.6, 3.0)
"""Redshifts at which the Leja+20 continuity-model parameters are given."""
LEJA20_LOGPHI1 = (-2.44, -3.08, -4.14)
"""log10 phi_1* [Mpc^-3 dex^-1] at the anchors (Leja et al. 2020, ApJ 893, 111, median)."""
LEJA20_LOGPHI2 = (-2.89, -3.29, -3.51)
"""log10 phi_2* [Mpc^-3 dex^-1] at the anchors."""
LEJA20_LOGMSTAR = (10.79, 10.88, 10.84)
"""log10 M* [M_sun] at the anchors (shared by both components)."""
LEJA20_ALPHA1 = -0.28
"""Low-mass slope of the first Schechter component."""
LEJA20_ALPHA2 = -1.48
"""Low-mass slope of the second Schechter component."""


def _quadratic_through_anchors(values: tuple[float, float, float], z: Array) -> Array:
    """The quadratic in z through (z_k, values_k) at the three Leja+20 anchors (Lagrange form)."""
    z1, z2, z3 = LEJA20_Z_ANCHORS
    y1, y2, y3 = values
    return (
        y1 * (z - z2) * (z - z3) / ((z1 - z2) * (z1 - z3))
        + y2 * (z - z1) * (z - z3) / ((z2 - z1) * (z2 - z3))
        + y3 * (z - z1) * (z - z2) / ((z3 - z1) * (z3 - z2))
    )


def leja20_parameters(
    z: Float[Array, "..."],
) -> tuple[Float[Array, "..."], Float[Array, "..."], Float[Array, "..."]]:
    """Leja+20 continuity-model parameters (log phi1*, log phi2*, log M*) at redshift z.

    Each is the quadratic in z through the values at z = 0.2, 1.6, 3.0; z is clamped to
    [0.2, 3.0], the range where the model was fitted (as Prospector-beta ``draw_at_z``).

    Args:
        z: redshift, any shape.

    Returns:
        ``(logphi1, logphi2, logmstar)``, each shaped like ``z``.

    Reference: Leja et al. 2020, ApJ 893, 111, §5 and Appendix B.
    """
    zc = jnp.clip(jnp.asarray(z, dtype=jnp.result_type(z, float)), *LEJA20_Z_ANCHORS[::2])
    return (
        _quadratic_through_anchors(LEJA20_LOGPHI1, zc),
        _quadratic_through_anchors(LEJA20_LOGPHI2, zc),
        _quadratic_through_anchors(LEJA20_LOGMSTAR, zc),
    )


def leja20_log10_mass_function(
    logm: Float[Array, "..."], z: Float[Array, "..."]
) -> Float[Array, "..."]:
    r"""log10 of the Leja+20 stellar-mass function, a sum of two Schechter functions.

    .. math::

        \phi(\mathcal M, z) = \ln 10\, e^{-x}\sum_{i=1}^2 \phi_i^*(z)\, x^{\alpha_i + 1},
        \qquad x = 10^{\mathcal M - \log M^*(z)}

    Args:
        logm: log10(M / M_sun), any shape broadcasting with ``z``.
        z: redshift (parameters clamped to 0.2 <= z <= 3).

    Returns:
        log10 phi [Mpc^-3 dex^-1].

    Reference: Leja et al. 2020, ApJ 893, 111, eq. 14 (median parameters, Table 2 / Appendix B).
    """
    logphi1, logphi2, logmstar = leja20_parameters(z)
    dm = jnp.asarray(logm) - logmstar
    ln10 = math.log(10.0)
    term1 = ln10 * (logphi1 + dm * (LEJA20_ALPHA1 + 1.0))
    term2 = ln10 * (logphi2 + dm * (LEJA20_ALPHA2 + 1.0))
    ln_phi = math.log(ln10) + jnp.logaddexp(term1, term2) - jnp.exp(ln10 * dm)
    return ln_phi / ln10


def prospector_beta_redshift_pdf(z: Float[Array, "..."]) -> Float[Array, "..."]:
    """The Prospector-beta p(z) table, linearly interpolated (unnormalised; 0 outside [0, 3]).

    Args:
        z: redshift, any shape.

    Returns:
        p(z) up to a constant, shaped like ``z``.

    Reference: Wang, Leja et al. 2023, ApJL 944, L58 (prospector ``pdf_of_z_l20.txt``).
    """
    nodes = PB_PZ_DZ * np.arange(PB_PZ.size)
    return jnp.interp(jnp.asarray(z), nodes, PB_PZ, left=0.0, right=0.0)


# ---------------------------------------------------------------------------------------------
# Mass-metallicity relation and SFH expectation
# ---------------------------------------------------------------------------------------------


def mass_metallicity_loc(logmass: Float[Array, "..."]) -> Float[Array, "..."]:
    r"""Mean stellar metallicity, :math:`-0.65 + 0.8\,\sigma((\mathcal M - 10.1)/0.3)`.

    Args:
        logmass: log10 of the total mass formed [M_sun].

    Returns:
        Mean of log10(Z / Z_sun) before truncation.

    Reference: MODEL.md §3a (a smooth fit to the Gallazzi et al. 2005 median relation).
    """
    return -0.65 + 0.8 * jax.nn.sigmoid((jnp.asarray(logmass) - 10.1) / 0.3)


def mass_metallicity_scale(logmass: Float[Array, "..."]) -> Float[Array, "..."]:
    r"""S.d. of stellar metallicity, :math:`0.52 - 0.36\,\sigma((\mathcal M - 10.4)/0.2)`.

    Args:
        logmass: log10 of the total mass formed [M_sun].

    Returns:
        S.d. of log10(Z / Z_sun) before truncation (about half the Gallazzi+05 16-84 % width).

    Reference: MODEL.md §3a.
    """
    return 0.52 - 0.36 * jax.nn.sigmoid((jnp.asarray(logmass) - 10.4) / 0.2)


def sfh_shift_dex(logmass: Float[Array, "..."]) -> Float[Array, "..."]:
    r"""Prospector-beta formation-time shift, :math:`-0.2 + (\min(\max(\mathcal M, 9), 12) - 9)/3`.

    The expected SFH of a galaxy of mass M at redshift z is the cosmic SFH of a universe of age
    :math:`t_\mathrm{univ}(z)\,10^{\Delta}`: massive galaxies formed earlier.

    Args:
        logmass: log10 of the total mass formed [M_sun].

    Returns:
        Delta log10 t [dex], from -0.2 (M <= 1e9) to 0.8 (M >= 1e12).

    Reference: Wang, Leja et al. 2023, ApJL 944, L58, §2.3 (prospector ``delta_t_dex``).
    """
    return -0.2 + (jnp.clip(jnp.asarray(logmass), 9.0, 12.0) - 9.0) / 3.0


# Prospector-beta expectation: bins in lookback time of the shifted universe.
_PB_Z_SHIFT_MIN = 0.15  # the shifted redshift is clamped to [0.15, 10] "for stability"
_PB_Z_SHIFT_MAX = 10.0
_PB_Z_BRANCH = 3.0  # above it the first bin is 10^7.1295 yr wide and there is no 100 Myr bin
_PB_Z_ONSET = 15.0  # onset of star formation
_PB_LOG_AMIN = 7.1295
_PB_TBINMAX_FRACTION = 0.10  # oldest bin: the last 10 % of the time since the shifted epoch
_N_EXPECTATION_NODES = 512


@jax.jit
def _wmap9_age(z):
    return age(WMAP9, z)


@jax.jit
def _wmap9_dvdz_over_dh3(z):
    """Comoving volume element dV_c / dz / dOmega in units of D_H^3 (WMAP9): D_M^2 / (D_H^2 E)."""
    return (transverse_comoving_distance(WMAP9, z) / WMAP9.hubble_distance) ** 2 / efunc(WMAP9, z)


def _pb_expectation_tables(clip: float) -> tuple[np.ndarray, np.ndarray]:
    """Tabulate the Prospector-beta expected log-SFR ratios against log10 shifted age [Gyr].

    Returns ``(log_age, ratios)`` of shapes (2, n) and (2, n, 6); row 0 is the branch with the
    shifted redshift <= 3 (ascending log ages from t(3) to t(0.15)), row 1 the branch above 3
    (from t(10) to t(3)). Built in float64 with a not-a-knot cubic spline of the Behroozi+19
    SFRD in lookback time and its exact antiderivative (Prospector: ``UnivariateSpline(s=0)``).
    """
    from scipy.interpolate import CubicSpline

    def ages_gyr(z):
        return np.asarray(_wmap9_age(jnp.asarray(z)), dtype=np.float64)

    a0, a_min, a_branch, a_max, a_onset = ages_gyr(
        [0.0, _PB_Z_SHIFT_MIN, _PB_Z_BRANCH, _PB_Z_SHIFT_MAX, _PB_Z_ONSET]
    )
    z_nodes = B19_DZ * np.arange(B19_SFRD.size)
    tl_nodes = (a0 - ages_gyr(z_nodes)) * 1e9
    tl_nodes[0] = 0.0
    cumulative = CubicSpline(tl_nodes, B19_SFRD).antiderivative()
    t_onset = (a0 - a_onset) * 1e9

    def ratios(log_age_shifted, young_bins):
        t0 = (a0 - 10.0**log_age_shifted) * 1e9  # lookback time of the shifted epoch [yr]
        tbinmax = t_onset - (t_onset - t0) * _PB_TBINMAX_FRACTION
        col = t0[:, None]
        if young_bins:
            spaced = np.geomspace(t0 + 3e7 + 1e8, tbinmax, 5, axis=-1)
            edges = np.concatenate([col, col + 3e7, spaced], axis=-1)
        else:
            spaced = np.geomspace(t0 + 10.0**_PB_LOG_AMIN, tbinmax, 6, axis=-1)
            edges = np.concatenate([col, spaced], axis=-1)
        edges = np.concatenate([edges, np.full_like(col, t_onset)], axis=-1)
        mean_sfrd = np.diff(cumulative(edges), axis=-1) / np.diff(edges, axis=-1)
        return np.clip(np.log10(mean_sfrd[:, :-1] / mean_sfrd[:, 1:]), -clip, clip)

    grid_low_z = np.linspace(np.log10(a_branch), np.log10(a_min), _N_EXPECTATION_NODES)
    grid_high_z = np.linspace(np.log10(a_max), np.log10(a_branch), _N_EXPECTATION_NODES)
    log_age = np.stack([grid_low_z, grid_high_z])
    table = np.stack([ratios(grid_low_z, True), ratios(grid_high_z, False)])
    return log_age, table


# ---------------------------------------------------------------------------------------------
# Distributions
# ---------------------------------------------------------------------------------------------


class RedshiftMassPrior(dist.Distribution):
    r"""Joint p(z, log M) as a 2-D histogram: piecewise constant on a regular grid of cells.

    .. math::

        p(z, \mathcal M) = \frac{P_i\,P_{j\mid i}}{\Delta z\,\Delta\mathcal M}
        \quad\text{for } (z, \mathcal M) \text{ in cell } (i, j),

    with :math:`\sum_i P_i = 1` and :math:`\sum_j P_{j\mid i} = 1`. Samples by inverse CDF, first
    in z (the marginal, piecewise linear CDF), then in log M given the z cell; so samples and
    :meth:`log_prob` describe exactly the same distribution.

    Args:
        log_pz: log P_i, the log probability of each redshift cell, shape (n_z,).
        log_pm_given_z: log P_{j|i}, shape (n_z, n_m), normalised over j.
        z_range: (z_min, z_max), divided into n_z equal cells.
        logm_range: (logm_min, logm_max), divided into n_m equal cells.

    The event is ``[z, logM]`` (event shape (2,)).
    """

    pytree_data_fields = ("log_pz", "log_pm_given_z")
    pytree_aux_fields = ("z_range", "logm_range")

    def __init__(
        self,
        log_pz: Float[Array, " n_z"],
        log_pm_given_z: Float[Array, "n_z n_m"],
        z_range: tuple[float, float],
        logm_range: tuple[float, float],
        *,
        validate_args: bool | None = None,
    ):
        self.log_pz = jnp.asarray(log_pz)
        self.log_pm_given_z = jnp.asarray(log_pm_given_z)
        if self.log_pz.ndim != 1 or self.log_pm_given_z.shape[:1] != self.log_pz.shape:
            raise ValueError(
                "log_pz must have shape (n_z,) and log_pm_given_z (n_z, n_m); got "
                f"{self.log_pz.shape} and {self.log_pm_given_z.shape}"
            )
        self.z_range = (float(z_range[0]), float(z_range[1]))
        self.logm_range = (float(logm_range[0]), float(logm_range[1]))
        if not (self.z_range[0] < self.z_range[1] and self.logm_range[0] < self.logm_range[1]):
            raise ValueError(f"empty range: z_range={z_range}, logm_range={logm_range}")
        super().__init__(batch_shape=(), event_shape=(2,), validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=1)
    def support(self):  # noqa: D102
        low = jnp.asarray([self.z_range[0], self.logm_range[0]])
        high = jnp.asarray([self.z_range[1], self.logm_range[1]])
        return constraints.independent(constraints.interval(low, high), 1)

    @property
    def cell_sizes(self) -> tuple[float, float]:
        """(dz, dlogM) of the grid cells."""
        n_z, n_m = self.log_pm_given_z.shape
        return (
            (self.z_range[1] - self.z_range[0]) / n_z,
            (self.logm_range[1] - self.logm_range[0]) / n_m,
        )

    @staticmethod
    def _invert(cum: Array, p: Array, v: Array) -> tuple[Array, Array]:
        """Cell index and position in the cell of ``v`` under the inclusive cumulative ``cum``."""
        n = cum.shape[-1]
        idx = jnp.sum(cum[..., :-1] <= v[..., None], axis=-1)
        p_idx = jnp.take_along_axis(p, idx[..., None], axis=-1)[..., 0]
        lower = jnp.take_along_axis(cum, idx[..., None], axis=-1)[..., 0] - p_idx
        frac = jnp.where(p_idx > 0, (v - lower) / jnp.where(p_idx > 0, p_idx, 1.0), 0.5)
        return jnp.clip(idx, 0, n - 1), jnp.clip(frac, 0.0, 1.0)

    def sample(self, key: Key, sample_shape: tuple[int, ...] = ()) -> Float[Array, "... 2"]:
        """Draw ``sample_shape`` values ``[z, logM]`` by inverse CDF."""
        dz, dm = self.cell_sizes
        u = jax.random.uniform(key, (*sample_shape, 2), dtype=self.log_pz.dtype)
        pz = jnp.exp(self.log_pz)
        cz = jnp.cumsum(pz)
        i, fz = self._invert(
            jnp.broadcast_to(cz, (*sample_shape, cz.size)),
            jnp.broadcast_to(pz, (*sample_shape, pz.size)),
            u[..., 0] * cz[-1],
        )
        pm = jnp.exp(self.log_pm_given_z[i])  # (..., n_m): the row of the sampled z cell
        cm = jnp.cumsum(pm, axis=-1)
        j, fm = self._invert(cm, pm, u[..., 1] * cm[..., -1])
        z = self.z_range[0] + (i + fz) * dz
        logm = self.logm_range[0] + (j + fm) * dm
        return jnp.stack([z, logm], axis=-1)

    def cell_index(self, value: Float[Array, "... 2"]) -> tuple[Array, Array]:
        """Indices (i, j) of the cells holding ``value`` (clipped to the grid)."""
        dz, dm = self.cell_sizes
        n_z, n_m = self.log_pm_given_z.shape
        i = jnp.floor((value[..., 0] - self.z_range[0]) / dz).astype(jnp.int32)
        j = jnp.floor((value[..., 1] - self.logm_range[0]) / dm).astype(jnp.int32)
        return jnp.clip(i, 0, n_z - 1), jnp.clip(j, 0, n_m - 1)

    def log_prob(self, value: Float[Array, "... 2"]) -> Float[Array, "..."]:
        """Log density p(z, logM) [per unit z per dex]; -inf outside the ranges."""
        value = jnp.asarray(value)
        dz, dm = self.cell_sizes
        i, j = self.cell_index(value)
        lp = self.log_pz[i] + self.log_pm_given_z[i, j] - math.log(dz * dm)
        return jnp.where(self.support(value), lp, -jnp.inf)

    def marginal_z_log_prob(self, z: Float[Array, "..."]) -> Float[Array, "..."]:
        """Log density of the redshift marginal [per unit z]; -inf outside the range."""
        z = jnp.asarray(z)
        dz, _ = self.cell_sizes
        i = jnp.clip(
            jnp.floor((z - self.z_range[0]) / dz).astype(jnp.int32), 0, self.log_pz.size - 1
        )
        inside = (z >= self.z_range[0]) & (z <= self.z_range[1])
        return jnp.where(inside, self.log_pz[i] - math.log(dz), -jnp.inf)


class ClampedStudentT(dist.Distribution):
    r"""Student-t variable clamped to [low, high]: ``clip(X, low, high)``, X ~ t(df, loc, scale).

    The law has a density on (low, high) and point masses at the ends; :meth:`log_prob` is the
    log density w.r.t. Lebesgue measure inside plus counting measure at ``low`` and ``high``:

    .. math::

        \log p(x) = \begin{cases}
            \log F(\mathrm{low}) & x \le \mathrm{low}\\
            \log f(x) & \mathrm{low} < x < \mathrm{high}\\
            \log(1 - F(\mathrm{high})) & x \ge \mathrm{high}
        \end{cases}

    (for gradient-based samplers, which never land on the ends, it is the t density).

    For ``df == 2`` (the model's value) the CDF and quantile are closed-form,
    :math:`F(t) = \tfrac12 + t/(2\sqrt{2 + t^2})` and
    :math:`F^{-1}(p) = (2p - 1)/\sqrt{2p(1-p)}` (standardised t), and sampling is by inverse CDF;
    other ``df`` use numpyro's :class:`~numpyro.distributions.StudentT`.

    Args:
        df: degrees of freedom (a Python float, static).
        loc: location.
        scale: scale (> 0).
        low: lower clamp (a Python float).
        high: upper clamp (a Python float).
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    pytree_aux_fields = ("df", "low", "high")

    def __init__(self, df: float, loc, scale, low: float, high: float, *, validate_args=None):
        self.loc, self.scale = jnp.asarray(loc), jnp.asarray(scale)
        self.df, self.low, self.high = float(df), float(low), float(high)
        if not self.df > 0:
            raise ValueError(f"ClampedStudentT needs df > 0, got {df}")
        if not self.low < self.high:
            raise ValueError(f"ClampedStudentT needs low < high, got {low} >= {high}")
        batch_shape = jnp.broadcast_shapes(self.loc.shape, self.scale.shape)
        super().__init__(batch_shape=batch_shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):  # noqa: D102
        return constraints.interval(self.low, self.high)

    def _base(self) -> dist.StudentT:
        return dist.StudentT(self.df, self.loc, self.scale)

    def _unclamped_cdf(self, value: Array) -> Array:
        if self.df != 2.0:
            return self._base().cdf(value)
        t = (value - self.loc) / self.scale
        s = jnp.sqrt(2.0 + t**2)
        # 1 / (s (s + |t|)) is the tail mass beyond |t|, free of cancellation.
        tail = 1.0 / (s * (s + jnp.abs(t)))
        return jnp.where(t < 0, tail, 1.0 - tail)

    def sample(self, key: Key, sample_shape: tuple[int, ...] = ()) -> Array:
        """Draw from the t distribution and clamp to [low, high]."""
        shape = (*sample_shape, *self.batch_shape)
        if self.df != 2.0:
            x = self._base().expand(self.batch_shape).sample(key, sample_shape)
        else:
            p = jax.random.uniform(key, shape, dtype=jnp.result_type(self.loc, float))
            t = (2.0 * p - 1.0) / jnp.sqrt(2.0 * p * (1.0 - p))
            x = self.loc + self.scale * t
        return jnp.clip(x, self.low, self.high)

    def log_prob(self, value: Array) -> Array:
        """Log density inside, log tail mass at the clamps (see the class docstring)."""
        inner = self._base().log_prob(value)
        log_lower = jnp.log(self._unclamped_cdf(jnp.asarray(self.low, inner.dtype)))
        # P(X >= high) = P(X <= 2 loc - high) by symmetry (accurate in the far tail).
        log_upper = jnp.log(self._unclamped_cdf(2.0 * self.loc - self.high))
        return jnp.where(
            value <= self.low, log_lower, jnp.where(value >= self.high, log_upper, inner)
        )

    def cdf(self, value: Array) -> Array:
        """P(clip(X) <= value)."""
        c = self._unclamped_cdf(value)
        return jnp.where(value < self.low, 0.0, jnp.where(value >= self.high, 1.0, c))


# ---------------------------------------------------------------------------------------------
# The prior PyTree
# ---------------------------------------------------------------------------------------------


@struct.dataclass
class ProspectorBetaPrior:
    """Precomputed tables of the Prospector-beta host prior (see :func:`prospector_beta_prior`).

    Attributes:
        log_pz: log probability of each redshift cell, shape (n_z,).
        log_pm_given_z: log probability of each log-mass cell given the redshift cell,
            shape (n_z, n_m).
        sfh_expect_log_age: log10 of the shifted age of the universe [Gyr] at the nodes of the
            SFH-expectation tables, shape (2, n_t) (row 0: shifted z <= 3; row 1: above).
        sfh_expect_ratios: expected log-SFR ratios at those nodes, shape (2, n_t, 6).
        config: the resolved :class:`ProspectorBetaConfig` (static).
    """

    log_pz: Float[Array, " n_z"]
    log_pm_given_z: Float[Array, "n_z n_m"]
    sfh_expect_log_age: Float[Array, "2 n_t"]
    sfh_expect_ratios: Float[Array, "2 n_t 6"]
    config: ProspectorBetaConfig = struct.field(pytree_node=False)


def _cell_integrals_of_linear_table(
    nodes: np.ndarray, values: np.ndarray, edges: np.ndarray
) -> np.ndarray:
    """Exact integrals of the piecewise-linear interpolant of (nodes, values) over each cell."""
    cum_nodes = np.concatenate(
        [[0.0], np.cumsum(np.diff(nodes) * 0.5 * (values[1:] + values[:-1]))]
    )
    k = np.clip(np.searchsorted(nodes, edges, side="right") - 1, 0, nodes.size - 2)
    slope = (values[k + 1] - values[k]) / (nodes[k + 1] - nodes[k])
    dx = edges - nodes[k]
    cum = cum_nodes[k] + values[k] * dx + 0.5 * slope * dx**2
    return np.diff(cum)


def prospector_beta_prior(config: ProspectorBetaConfig | None = None) -> ProspectorBetaPrior:
    """Build the Prospector-beta host prior: the (z, log M) histogram and the SFH tables.

    The redshift-cell probabilities are exact integrals of the linearly interpolated
    Prospector-beta p(z) table (``redshift_pdf="prospector_beta"``), or dV_c/dz (WMAP9) times the
    Leja+20 number density in [logm_min, logm_max] at the cell centre
    (``"comoving_volume"``). The log-mass cells get the Leja+20 mass function at the cell centres
    (redshift clamped to >= 0.2), normalised over the mass range per redshift cell. The
    reference bank instead keeps only the table's own 0.04-wide redshift bins that fall inside
    the range (so z in [0.04, 1.48] for a [0.02, 1.5] request); we integrate the interpolant over
    the full requested range.

    Args:
        config: the prior's configuration (default: the CIGaRS bank's).

    Returns:
        The prior, a PyTree of tables with ``config`` as static metadata.
    """
    cfg = ProspectorBetaConfig() if config is None else config
    n_z, n_m = cfg.n_z, cfg.n_logm
    z_edges = np.linspace(cfg.z_min, cfg.z_max, n_z + 1)
    z_mid = 0.5 * (z_edges[1:] + z_edges[:-1])
    m_edges = np.linspace(cfg.logm_min, cfg.logm_max, n_m + 1)
    m_mid = 0.5 * (m_edges[1:] + m_edges[:-1])

    with jax.default_device(jax.devices("cpu")[0]):
        log10_phi = np.asarray(
            jax.jit(leja20_log10_mass_function)(
                jnp.asarray(m_mid)[None, :], jnp.asarray(z_mid)[:, None]
            ),
            dtype=np.float64,
        )
        ln_phi = log10_phi * math.log(10.0)
        log_norm = np.logaddexp.reduce(ln_phi, axis=1, keepdims=True)
        log_pm_given_z = ln_phi - log_norm
        if cfg.redshift_pdf == "prospector_beta":
            nodes = PB_PZ_DZ * np.arange(PB_PZ.size)
            pz = _cell_integrals_of_linear_table(nodes, PB_PZ, z_edges)
            with np.errstate(divide="ignore"):
                log_pz = np.log(np.maximum(pz, 0.0))
        else:
            zj = jnp.asarray(z_mid)
            dvdz = np.asarray(_wmap9_dvdz_over_dh3(zj), dtype=np.float64)
            log_pz = np.log(dvdz) + log_norm[:, 0] + math.log(cfg.dlogm * cfg.dz)
        log_pz = log_pz - np.logaddexp.reduce(log_pz)
        log_age, ratios = _pb_expectation_tables(cfg.logsfr_ratio_clip)
    return ProspectorBetaPrior(
        log_pz=jnp.asarray(log_pz),
        log_pm_given_z=jnp.asarray(log_pm_given_z),
        sfh_expect_log_age=jnp.asarray(log_age),
        sfh_expect_ratios=jnp.asarray(ratios),
        config=cfg,
    )


def _expected_logsfr_ratios_from_t_univ(
    prior: ProspectorBetaPrior, t_univ_gyr: Array, logmass: Array
) -> Array:
    log_age = jnp.log10(t_univ_gyr) + sfh_shift_dex(logmass)
    nodes, table = prior.sfh_expect_log_age, prior.sfh_expect_ratios
    log_age = jnp.clip(log_age, nodes[1, 0], nodes[0, -1])

    def interp(branch):
        return jnp.stack(
            [
                jnp.interp(log_age, nodes[branch], table[branch, :, k])
                for k in range(N_SFH_BINS - 1)
            ],
            axis=-1,
        )

    return jnp.where((log_age >= nodes[0, 0])[..., None], interp(0), interp(1))


def expected_logsfr_ratios(
    prior: ProspectorBetaPrior, z: Float[Array, "..."], logmass: Float[Array, "..."]
) -> Float[Array, "... 6"]:
    r"""Prospector-beta expectation of the log-SFR ratios of a galaxy at (z, log M).

    The universe's age is shifted, :math:`t_s = t_\mathrm{univ}(z)\,10^{\Delta(\mathcal M)}`
    (:func:`sfh_shift_dex`; clamped to the ages at z = 10 and 0.15); the expected SFR in each
    of 7 lookback-time bins starting at :math:`t_L(z_s)` (widths 30 Myr, 100 Myr, then four
    log-spaced up to 90 % of the way to z = 15, and the last 10 %; for :math:`z_s > 3`, a
    10^7.1295 yr bin and five log-spaced ones) is the mean Behroozi+19 cosmic SFRD over the bin,
    and :math:`r_j = \log_{10}(\overline{\mathrm{SFRD}}_j/\overline{\mathrm{SFRD}}_{j+1})`,
    clamped to +-``logsfr_ratio_clip``. Linear interpolation in :math:`\log_{10} t_s` of
    512-node float64 tables (error < 1e-4 dex).

    Args:
        prior: the prior (holds the tables).
        z: redshift, any shape ``...``.
        logmass: log10 of the total mass formed [M_sun], broadcasting with ``z``.

    Returns:
        Expected log10(SFR_j / SFR_{j+1}), youngest first, shape ``(..., 6)``.

    Reference: Wang, Leja et al. 2023, ApJL 944, L58, §2.3 (prospector ``expe_logsfr_ratios``,
    ``z_to_agebins_rescale``); Behroozi et al. 2019, MNRAS 488, 3143.
    """
    return _expected_logsfr_ratios_from_t_univ(prior, age(WMAP9, z), logmass)


def redshift_mass_distribution(prior: ProspectorBetaPrior) -> RedshiftMassPrior:
    """The joint (z, log M) distribution of the prior, event ``[z, logM]``."""
    cfg = prior.config
    return RedshiftMassPrior(
        prior.log_pz, prior.log_pm_given_z, (cfg.z_min, cfg.z_max), (cfg.logm_min, cfg.logm_max)
    )


def logzsol_distribution(prior: ProspectorBetaPrior, logmass: Float[Array, "..."]):
    """[Z] | log M: normal truncated to [logzsol_min, logzsol_max] (MODEL.md §3a).

    Mean :func:`mass_metallicity_loc`, s.d. :func:`mass_metallicity_scale`.
    """
    cfg = prior.config
    return dist.TruncatedNormal(
        mass_metallicity_loc(logmass),
        mass_metallicity_scale(logmass),
        low=cfg.logzsol_min,
        high=cfg.logzsol_max,
    )


def logsfr_ratio_distribution(
    prior: ProspectorBetaPrior, z: Float[Array, "..."], logmass: Float[Array, "..."]
) -> ClampedStudentT:
    """The 6 log-SFR ratios | (z, log M): clamped Student-t around the expectation."""
    return _logsfr_ratio_distribution(prior, age(WMAP9, z), logmass)


def _logsfr_ratio_distribution(prior, t_univ_gyr, logmass) -> ClampedStudentT:
    cfg = prior.config
    return ClampedStudentT(
        cfg.logsfr_ratio_df,
        _expected_logsfr_ratios_from_t_univ(prior, t_univ_gyr, logmass),
        cfg.logsfr_ratio_scale,
        -cfg.logsfr_ratio_clip,
        cfg.logsfr_ratio_clip,
    )


def dust2_distribution(prior: ProspectorBetaPrior, log_sfr_young: Float[Array, "..."]):
    r"""dust2 | SFR_young: normal(0.2 + 0.5 max(0, log10 SFR_young), 0.2) truncated to [0, 4].

    Args:
        prior: the prior.
        log_sfr_young: log10 of the SFR in the youngest (0-30 Myr) bin [M_sun / yr].

    Reference: MODEL.md §3a (CIGaRS reference; cf. Nagaraj et al. 2022).
    """
    cfg = prior.config
    loc = 0.2 + 0.5 * jnp.maximum(jnp.asarray(log_sfr_young), 0.0)
    return dist.TruncatedNormal(loc, cfg.dust2_scale, low=0.0, high=cfg.dust2_max)


def dust_index_distribution(prior: ProspectorBetaPrior, dust2: Float[Array, "..."]):
    r"""dust_index | dust2: normal(-0.095 + 0.111 d - 0.0066 d^2, 0.4) truncated to [-1, 0.4].

    Reference: MODEL.md §3a (CIGaRS reference; cf. Nagaraj et al. 2022).
    """
    cfg = prior.config
    d = jnp.asarray(dust2)
    loc = -0.095 + 0.111 * d - 0.0066 * d**2
    return dist.TruncatedNormal(
        loc, cfg.dust_index_scale, low=cfg.dust_index_min, high=cfg.dust_index_max
    )


def _walk(prior: ProspectorBetaPrior, site) -> HostParams:
    """Traverse the prior's hierarchy; ``site(name, distribution)`` returns each site's value.

    Sampling, scoring and the numpyro model all go through here, so they cannot disagree.
    """
    cfg = prior.config
    zm = site("zm", redshift_mass_distribution(prior))
    z, logmass = zm[..., 0], zm[..., 1]
    logzsol = site("logzsol", logzsol_distribution(prior, logmass))
    t_univ = age(WMAP9, z)
    ratios = site("logsfr_ratios", _logsfr_ratio_distribution(prior, t_univ, logmass).to_event(1))
    edges = sfh_log_age_edges_from_t_univ(t_univ)
    log_masses = logsfr_ratios_to_log_masses(logmass, ratios, edges)
    log_sfr_young = log_sfr_per_bin(log_masses, edges)[..., 0]
    dust2 = site("dust2", dust2_distribution(prior, log_sfr_young))
    dust_index = site("dust_index", dust_index_distribution(prior, dust2))
    dust_ratio = site(
        "dust_ratio",
        dist.TruncatedNormal(
            cfg.dust_ratio_loc, cfg.dust_ratio_scale, low=0.0, high=cfg.dust_ratio_max
        ),
    )
    gas_logz = site("gas_logz", dist.Uniform(cfg.gas_logz_min, cfg.gas_logz_max))
    ln_fagn = site("ln_fagn", dist.Uniform(math.log(cfg.fagn_min), math.log(cfg.fagn_max)))
    ln_agn_tau = site(
        "ln_agn_tau", dist.Uniform(math.log(cfg.agn_tau_min), math.log(cfg.agn_tau_max))
    )
    return HostParams(
        z=z,
        logmass=logmass,
        logzsol=logzsol,
        logsfr_ratios=ratios,
        dust2=dust2,
        dust_index=dust_index,
        dust_ratio=dust_ratio,
        gas_logz=gas_logz,
        ln_fagn=ln_fagn,
        ln_agn_tau=ln_agn_tau,
    )


_SITES = (
    "zm",
    "logzsol",
    "logsfr_ratios",
    "dust2",
    "dust_index",
    "dust_ratio",
    "gas_logz",
    "ln_fagn",
    "ln_agn_tau",
)


def sample_host(key: Key, prior: ProspectorBetaPrior) -> HostParams:
    """Draw one galaxy from the prior (scalar fields; ``logsfr_ratios`` of shape (6,)).

    Args:
        key: PRNG key (split into one key per prior site).
        prior: the prior.

    Returns:
        One galaxy's :class:`HostParams`.
    """
    keys = dict(zip(_SITES, jax.random.split(key, len(_SITES)), strict=True))
    return _walk(prior, lambda name, d: d.sample(keys[name]))


def sample_hosts(
    key: Key, n: int, prior: ProspectorBetaPrior, offset: int | Array = 0
) -> HostParams:
    """Draw ``n`` galaxies; galaxy ``offset + k`` uses the key ``fold_in(key, offset + k)``.

    Galaxy g's parameters therefore depend only on ``(key, g)``: drawing the galaxies in chunks
    of any size (``offset`` = first index of the chunk) gives the same values.

    Args:
        key: PRNG key.
        n: number of galaxies (static).
        prior: the prior.
        offset: global index of the first galaxy (may be traced).

    Returns:
        :class:`HostParams` with leading axis ``n``.

    Example:
        >>> import jax
        >>> from cigars.hosts._priors import prospector_beta_prior, sample_hosts
        >>> hosts = sample_hosts(jax.random.key(0), 3, prospector_beta_prior())
        >>> hosts.logsfr_ratios.shape
        (3, 6)
    """
    return _sample_hosts(key, n, prior, offset)


@jax.jit(static_argnames=("n",))
def _sample_hosts(key, n, prior, offset):
    index = jnp.asarray(offset, dtype=jnp.uint32) + jnp.arange(n, dtype=jnp.uint32)
    keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, index)
    return jax.vmap(sample_host, in_axes=(0, None))(keys, prior)


def host_log_prob(prior: ProspectorBetaPrior, hosts: HostParams) -> Float[Array, "..."]:
    """Log prior density of galaxies; -inf outside the support.

    The density is w.r.t. Lebesgue measure in every parameter, except that a log-SFR ratio at
    exactly +-clip carries the clamped tail mass (see :class:`ClampedStudentT`).

    Args:
        prior: the prior.
        hosts: galaxies with any leading shape ``...``.

    Returns:
        log p(hosts), shape ``...``.
    """
    values = {
        "zm": jnp.stack([hosts.z, hosts.logmass], axis=-1),
        "logzsol": hosts.logzsol,
        "logsfr_ratios": hosts.logsfr_ratios,
        "dust2": hosts.dust2,
        "dust_index": hosts.dust_index,
        "dust_ratio": hosts.dust_ratio,
        "gas_logz": hosts.gas_logz,
        "ln_fagn": hosts.ln_fagn,
        "ln_agn_tau": hosts.ln_agn_tau,
    }
    total: list[Any] = []

    def score(name, d):
        v = jnp.asarray(values[name])
        ok = d.support(v)
        if d.event_dim == 0:
            # Score a feasible stand-in where v is outside the support (numpyro warns otherwise).
            v_safe = jnp.where(ok, v, d.support.feasible_like(v))
        else:
            v_safe = v  # RedshiftMassPrior and clamped ratios handle any value themselves
        total.append(jnp.where(ok, d.log_prob(v_safe), -jnp.inf))
        return v

    _walk(prior, score)
    return sum(total[1:], total[0])


def host_model(prior: ProspectorBetaPrior, n: int | None = None) -> HostParams:
    """The numpyro model of the host prior (one galaxy, or ``n`` in a plate named ``"hosts"``).

    Sample sites: ``zm`` (event ``[z, logM]``), ``logzsol``, ``logsfr_ratios`` (event 6),
    ``dust2``, ``dust_index``, ``dust_ratio``, ``gas_logz``, ``ln_fagn``, ``ln_agn_tau``;
    deterministic sites ``z`` and ``logmass``. Its log density equals :func:`host_log_prob`.

    Args:
        prior: the prior.
        n: number of galaxies, or None for a single galaxy without a plate.

    Returns:
        The sampled :class:`HostParams`.
    """

    def site(name, d):
        return numpyro.sample(name, d)

    if n is None:
        hosts = _walk(prior, site)
    else:
        with numpyro.plate("hosts", n):
            hosts = _walk(prior, site)
    numpyro.deterministic("z", hosts.z)
    numpyro.deterministic("logmass", hosts.logmass)
    return hosts
