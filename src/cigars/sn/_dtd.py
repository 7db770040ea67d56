r"""Delay-time distributions (DTDs): SN Ia rates from a binned star-formation history.

A DTD :math:`\Psi(t)` is the SN Ia rate per unit stellar mass formed a time :math:`t` ago.
For a galaxy whose star-formation history is binned (mass :math:`m_j` formed uniformly in time
between look-back ages :math:`t_j` and :math:`t_{j+1}`), the rate contributed by bin :math:`j` is

.. math:: R_j = \frac{m_j}{t_{j+1} - t_j} \int_{t_j}^{t_{j+1}} \Psi(t)\, dt,

which the CIGaRS reference approximates by :math:`R_j = m_j \Psi(\sqrt{t_j t_{j+1}})`
(the DTD at the bin's log-midpoint; MODEL.md section 4a).

Simulations evaluate the rates of ~10^7 (galaxy, bin) pairs for every new parameter set, so a
DTD splits the work: :meth:`AbstractDTD.prepare` does the parameter-independent part once per
galaxy bank (bin geometry, minimum delay, mass fractions), and
:meth:`AbstractDTD.log_prepared_rates` the cheap parameter-dependent part per simulation.
"""

from __future__ import annotations

import abc
import math
from typing import Any, Literal

import jax.numpy as jnp
from flax import struct

from cigars._types import Array, Float

__all__ = ["AbstractDTD", "PowerLawDTD", "PreparedBins", "log_exprel"]

_LN10 = math.log(10.0)


@struct.dataclass
class PreparedBins:
    """Parameter-independent per-bin quantities of one galaxy (or a batch: leading axes).

    Attributes:
        log_mass: (..., n_bin) log10 of the mass that can produce SNe Ia [M_sun]; ``-inf`` for
            bins that never do (for any parameters). Rates are proportional to ``10**log_mass``,
            so a per-galaxy constant (weights, time dilation) may be added to it.
        aux: (..., n_bin) DTD-specific geometry (a dict of arrays).
    """

    log_mass: Float[Array, "*batch n_bin"]
    aux: dict[str, Float[Array, "*batch n_bin"]]


class AbstractDTD(struct.PyTreeNode, abc.ABC):
    """A delay-time distribution acting on binned star-formation histories.

    Three methods must agree: :meth:`prepare` (once per bank), :meth:`log_prepared_rates`
    (per simulation) and :meth:`age_quantile_yr` (the inverse CDF of a progenitor's age inside
    its bin, distributed as the rate within the bin). :meth:`log_bin_rates` composes the first
    two. All are pure functions of one galaxy (or bin); callers ``vmap`` them.
    """

    @abc.abstractmethod
    def prepare(
        self, log_age_edges: Float[Array, " n_edge"], bin_logmass: Float[Array, " n_bin"]
    ) -> PreparedBins:
        """Parameter-independent bin quantities of one galaxy.

        Args:
            log_age_edges: (n_bin + 1,) log10 bin edges in look-back age [yr], increasing.
            bin_logmass: (n_bin,) log10 stellar mass formed in each bin [M_sun].

        Returns:
            The :class:`PreparedBins`.
        """

    @abc.abstractmethod
    def log_prepared_rates(self, theta: Any, prepared: PreparedBins) -> Float[Array, " n_bin"]:
        """log10 rest-frame SN Ia rate of each bin [yr^-1] (``-inf`` where none).

        Args:
            theta: global parameters.
            prepared: from :meth:`prepare` (one galaxy; ``vmap`` for many).

        Returns:
            (n_bin,) log10 rates.
        """

    @abc.abstractmethod
    def age_quantile_yr(
        self,
        theta: Any,
        log_age_lo: Float[Array, ""],
        log_age_hi: Float[Array, ""],
        u: Float[Array, ""],
    ) -> Float[Array, ""]:
        """Inverse CDF of the age of a progenitor that exploded from the bin [lo, hi].

        Args:
            theta: global parameters.
            log_age_lo: log10 lower bin edge [yr].
            log_age_hi: log10 upper bin edge [yr].
            u: quantile in [0, 1) (a Uniform(0, 1) draw gives a sample).

        Returns:
            The progenitor age in years.
        """

    def log_bin_rates(
        self,
        theta: Any,
        log_age_edges: Float[Array, " n_edge"],
        bin_logmass: Float[Array, " n_bin"],
    ) -> Float[Array, " n_bin"]:
        """log10 rest-frame SN Ia rate from each SFH bin of one galaxy [yr^-1].

        Args:
            theta: global parameters.
            log_age_edges: (n_bin + 1,) log10 look-back age edges [yr].
            bin_logmass: (n_bin,) log10 mass formed per bin [M_sun].

        Returns:
            (n_bin,) log10 rates; ``-inf`` for bins that produce no SNe Ia.
        """
        return self.log_prepared_rates(theta, self.prepare(log_age_edges, bin_logmass))


def log_exprel(x: Float[Array, "*batch"]) -> Float[Array, "*batch"]:
    r"""Natural log of :math:`(e^x - 1)/x`, stable for all finite x (0 at x = 0).

    Args:
        x: any array.

    Returns:
        :math:`\ln[(e^x - 1)/x]`, elementwise.
    """
    small = jnp.abs(x) < 1e-3
    xp = jnp.where(x > 0, x, 1.0)
    xn = jnp.where(x < 0, x, -1.0)
    pos = xp + jnp.log(-jnp.expm1(-xp)) - jnp.log(xp)
    neg = jnp.log(-jnp.expm1(xn)) - jnp.log(-xn)
    return jnp.where(small, x / 2.0 + x * x / 24.0, jnp.where(x > 0, pos, neg))


class PowerLawDTD(AbstractDTD):
    r"""Power-law delay-time distribution with a minimum delay.

    :math:`\Psi(t) = A (t / 1\,\mathrm{Gyr})^s` per yr per M_sun formed for
    :math:`t \ge t_\mathrm{min}`, zero before.

    Reads ``theta.dtd_A`` (:math:`\log_{10} A`, A in yr^-1 M_sun^-1) and ``theta.dtd_s`` (s).

    Only the part of a bin older than :math:`t_\mathrm{min}` forms SNe Ia: with mass formed
    uniformly in time, that part holds the fraction
    :math:`f_j = (t_{j+1} - t'_j)/(t_{j+1} - t_j)` of the bin's mass,
    :math:`t'_j = \max(t_j, t_\mathrm{min})`. Two bin rates are available:

    * ``binning="midpoint"`` (the CIGaRS reference, MODEL.md section 4a):
      :math:`R_j = f_j m_j \Psi(\sqrt{t'_j t_{j+1}})`; the progenitor age is uniform (linear in
      age) on :math:`[t'_j, t_{j+1}]`. With the reference's bin edges (8.0 = log10 of 100 Myr is
      an edge) and :math:`t_\mathrm{min}` = 100 Myr this is exactly the reference: bins 0-30 Myr
      and 30-100 Myr give no SNe, the others their log-midpoint rate.
    * ``binning="average"`` (exact for a constant SFR within each bin):
      :math:`R_j = \frac{m_j}{t_{j+1}-t_j}\int_{t'_j}^{t_{j+1}} \Psi\,dt`, and the progenitor
      age follows :math:`\Psi` on :math:`[t'_j, t_{j+1}]` (inverse-CDF sampling). With
      :math:`u = \ln(t/\mathrm{Gyr})`:
      :math:`\int \Psi\,dt = A\,\mathrm{Gyr}\,e^{(s+1)u'}\,\Delta u\,
      \mathrm{exprel}((s+1)\Delta u)`.

    Attributes:
        min_delay_yr: minimum delay :math:`t_\mathrm{min}` [yr] (default 100 Myr).
        binning: ``"midpoint"`` or ``"average"``.

    Reference: Maoz & Mannucci 2012, PASA 29, 447 (power-law DTDs, s ~ -1);
    Karchev, Trotta & Jimenez 2026 (CIGaRS I), MODEL.md section 4a.
    """

    min_delay_yr: float = struct.field(pytree_node=False, default=1e8)
    binning: Literal["midpoint", "average"] = struct.field(pytree_node=False, default="midpoint")

    def __post_init__(self):
        if not (isinstance(self.min_delay_yr, int | float) and self.min_delay_yr > 0):
            raise ValueError(f"PowerLawDTD: min_delay_yr must be > 0, got {self.min_delay_yr!r}")
        if self.binning not in ("midpoint", "average"):
            raise ValueError(
                f"PowerLawDTD: binning must be 'midpoint' or 'average', got {self.binning!r}"
            )

    def log_rate(self, theta: Any, log_age_yr: Float[Array, "*batch"]) -> Float[Array, "*batch"]:
        r"""log10 :math:`\Psi(t)` [yr^-1 M_sun^-1] at log10 age; ``-inf`` below the minimum delay.

        Args:
            theta: global parameters (``dtd_A``, ``dtd_s``).
            log_age_yr: log10 age [yr], any shape.

        Returns:
            log10 DTD, shaped like ``log_age_yr``.
        """
        value = theta.dtd_A + theta.dtd_s * (log_age_yr - 9.0)
        return jnp.where(log_age_yr >= math.log10(self.min_delay_yr), value, -jnp.inf)

    def _effective_edges(self, lo, hi):
        """Lower edge clipped at the minimum delay and whether any of the bin is above it."""
        lo_eff = jnp.maximum(lo, math.log10(self.min_delay_yr))
        return lo_eff, hi > lo_eff

    def prepare(self, log_age_edges, bin_logmass):
        """Effective (above minimum delay) mass and geometry of each bin of one galaxy.

        ``log_mass = log10(f_j m_j)``; ``aux``: ``x`` = log10 midpoint age - 9 (midpoint), or
        ``u_lo`` (ln of the effective lower edge in Gyr), ``du`` (its ln width) and ``c0``
        (the parameter-free part of the log10 rate) for ``average``.
        """
        lo, hi = log_age_edges[:-1], log_age_edges[1:]
        lo_eff, active = self._effective_edges(lo, hi)
        # Keep every branch finite for inactive bins (their value is replaced by -inf).
        lo_eff = jnp.where(active, lo_eff, hi - 1.0)
        # log10 of the bin width 10^hi - 10^lo and of the active width 10^hi - 10^lo_eff.
        log_width = hi + jnp.log10(-jnp.expm1(_LN10 * (lo - hi)))
        log_width_eff = hi + jnp.log10(-jnp.expm1(_LN10 * (lo_eff - hi)))
        log_mass = jnp.where(active, bin_logmass + log_width_eff - log_width, -jnp.inf)
        if self.binning == "midpoint":
            return PreparedBins(log_mass=log_mass, aux={"x": 0.5 * (lo_eff + hi) - 9.0})
        u_lo = _LN10 * (lo_eff - 9.0)
        du = _LN10 * (hi - lo_eff)
        c0 = 9.0 - log_width_eff + jnp.log10(du)
        return PreparedBins(log_mass=log_mass, aux={"u_lo": u_lo, "du": du, "c0": c0})

    def log_prepared_rates(self, theta, prepared):
        """log10 rates: A + log_mass + s x (midpoint) or the exact bin average (average)."""
        aux = prepared.aux
        if self.binning == "midpoint":
            return theta.dtd_A + prepared.log_mass + theta.dtd_s * aux["x"]
        sp1 = theta.dtd_s + 1.0
        shape = (sp1 * aux["u_lo"] + log_exprel(sp1 * aux["du"])) / _LN10
        return theta.dtd_A + prepared.log_mass + aux["c0"] + shape

    def age_quantile_yr(self, theta, log_age_lo, log_age_hi, u):
        r"""Progenitor-age quantile [yr] in the bin above the minimum delay.

        ``"midpoint"``: uniform in linear age on :math:`[t'_j, t_{j+1}]` (the reference),
        :math:`t = t'_j + u (t_{j+1} - t'_j)`.
        ``"average"``: :math:`p(t) \propto t^s` there; in :math:`v = \ln t`:
        :math:`v = v' + \ln[1 + u(e^{(s+1)\Delta v} - 1)]/(s+1)`.

        Args:
            theta: global parameters (``dtd_s`` for ``"average"``).
            log_age_lo: log10 lower bin edge [yr].
            log_age_hi: log10 upper bin edge [yr].
            u: quantile in [0, 1).

        Returns:
            Age in years (for a bin entirely below the minimum delay, which has zero rate and
            is never chosen, a value inside the bin).
        """
        lo_eff, active = self._effective_edges(log_age_lo, log_age_hi)
        lo_eff = jnp.where(active, lo_eff, log_age_lo)
        if self.binning == "midpoint":
            # exp(ln 10 x), not 10**x: XLA's generic pow is several times slower on CPU.
            t_lo, t_hi = jnp.exp(_LN10 * lo_eff), jnp.exp(_LN10 * log_age_hi)
            return t_lo + u * (t_hi - t_lo)
        dv = _LN10 * (log_age_hi - lo_eff)
        x = (theta.dtd_s + 1.0) * dv
        small = jnp.abs(x) < 1e-6
        xs = jnp.where(small, 1.0, x)
        frac = jnp.where(small, u, jnp.log1p(u * jnp.expm1(xs)) / xs)
        return 10.0 ** (lo_eff + frac * (log_age_hi - lo_eff))
