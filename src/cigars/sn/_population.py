r"""Intrinsic SN Ia properties and their host dependence (MODEL.md section 4b).

.. math::

    x_\mathrm{int} &\sim \mathcal{N}(\bar x, \sigma_x), \qquad
    c_\mathrm{int} \sim \mathcal{N}(\alpha_c x_\mathrm{int}, \sigma_c),\\
    \delta M &= \gamma_{[Z]} [Z] + \gamma_\mathrm{age}\, t/\mathrm{Gyr}
               + \Delta M\, \mathbb{1}[\log M_\mathrm{host} > \mathcal{M}_\mathrm{step}],\\
    M_\mathrm{int} &\sim \mathcal{N}(M_0 + \delta M + \alpha x_\mathrm{int}
                     + \beta c_\mathrm{int}, \sigma_0).
"""

from __future__ import annotations

from typing import Any

from cigars._types import Array, Float

__all__ = ["delta_m", "tripp_mean_magnitude"]


def delta_m(
    theta: Any,
    logzsol: Float[Array, "*batch"],
    age_gyr: Float[Array, "*batch"],
    host_logmass: Float[Array, "*batch"],
) -> Float[Array, "*batch"]:
    r"""Host-dependent magnitude offset :math:`\delta M` [mag].

    :math:`\delta M = \gamma_{[Z]} [Z] + \gamma_\mathrm{age}\,t_\mathrm{Gyr}
    + \Delta M\,\mathbb{1}[\log M > \mathcal{M}_\mathrm{step}]`
    (reads ``theta.gamma_Z``, ``gamma_age``, ``step_M``, ``step_loc``).

    Args:
        theta: global parameters.
        logzsol: progenitor metallicity log10(Z / Z_sun).
        age_gyr: progenitor age [Gyr].
        host_logmass: host log10 stellar mass [M_sun].

    Returns:
        delta M, broadcast shape of the inputs.

    Example:
        >>> from types import SimpleNamespace
        >>> th = SimpleNamespace(gamma_Z=-0.1, gamma_age=-0.03, step_M=-0.05, step_loc=10.0)
        >>> round(float(delta_m(th, 0.0, 1.0, 10.5)), 6)
        -0.08
    """
    step = (host_logmass > theta.step_loc) * theta.step_M
    return theta.gamma_Z * logzsol + theta.gamma_age * age_gyr + step


def tripp_mean_magnitude(
    theta: Any,
    x1: Float[Array, "*batch"],
    c: Float[Array, "*batch"],
    delta: Float[Array, "*batch"],
) -> Float[Array, "*batch"]:
    r"""Mean intrinsic absolute magnitude :math:`M_0 + \delta M + \alpha x + \beta c` [mag].

    Args:
        theta: global parameters (``M0``, ``alpha``, ``beta``).
        x1: intrinsic stretch.
        c: intrinsic colour.
        delta: host-dependent offset from :func:`delta_m` [mag].

    Returns:
        The mean of :math:`M_\mathrm{int}` (its scatter is ``theta.sigma_res``).
    """
    return theta.M0 + delta + theta.alpha * x1 + theta.beta * c
