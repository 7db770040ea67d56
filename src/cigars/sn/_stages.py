r"""Simulator stages of the SN Ia population: occurrence, progenitors, intrinsic properties, dust.

Occurrence (MODEL.md section 4a). With :math:`R_{gj}` the rest-frame rate of bin j of bank
galaxy g (:meth:`AbstractDTD.log_bin_rates`), :math:`w_g` its bank weight and :math:`d_g` its
host-detection flag, the observer-frame rate is
:math:`\tilde R_{gj} = d_g w_g R_{gj} / (1 + z_g)` and

.. math::

    N \sim \mathrm{Poisson}\Big(\kappa \sum_{gj} \tilde R_{gj}\Big), \qquad
    (g, j)_i \sim \mathrm{Categorical}(\tilde R_{gj}), \quad i < N,

with :math:`\kappa` the survey-size scale (:func:`survey_scale`). Each slot's (galaxy, bin)
pair is drawn from the joint categorical (:func:`~cigars.sn.sample_categorical_columns`): the
galaxy from the galaxy totals :math:`\sum_j \tilde R_{gj}` by a blocked inverse CDF, then the
bin from that galaxy's running sums over bins, computed once per simulation for every galaxy
(O(n_host n_bin) per simulation, O(log n_host) per slot).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from flax import struct

from cigars._prng import rekey
from cigars.sn._dtd import AbstractDTD, PreparedBins
from cigars.sn._dust import AbstractSNDust
from cigars.sn._population import delta_m, tripp_mean_magnitude
from cigars.sn._sampling import sample_categorical_columns
from cigars.survey._catalogue import AbstractStage, Catalogue
from cigars.survey._hosts import HostTable

__all__ = [
    "ApplySNDust",
    "AssignSupernovae",
    "SampleIntrinsic",
    "SampleProgenitors",
    "survey_scale",
]

_LN10 = math.log(10.0)


def _fold_rows(op, x: jax.Array) -> jax.Array:
    """``op`` folded over the (few, static) rows of a 2-d array, as one elementwise pass.

    Equivalent to ``jnp.sum(x, axis=0)`` / ``jnp.max(x, axis=0)`` for ``jnp.add`` /
    ``jnp.maximum``; XLA's CPU reductions over a short axis are several times slower.
    """
    out = x[0]
    for j in range(1, x.shape[0]):
        out = op(out, x[j])
    return out


def survey_scale(counts: float, n_host: int, ln_weight: Any = None) -> float:
    r"""The survey-size factor :math:`\kappa` multiplying the summed SN rate [yr].

    :math:`\kappa = (\mathrm{counts}/500) / (N_\mathrm{bank}/10^6) / \langle w \rangle`
    (MODEL.md section 4a); ``counts`` is the reference's survey-size label (1000 gives ~1,600
    detected SNe and 10000 ~16,000 with the reference bank).

    Args:
        counts: survey-size label (> 0).
        n_host: number of bank galaxies.
        ln_weight: optional (n_host,) natural-log bank weights.

    Returns:
        kappa as a Python float.

    Raises:
        ValueError: if ``counts`` or ``n_host`` is not positive.
    """
    if not counts > 0 or not n_host > 0:
        raise ValueError(f"survey_scale: counts and n_host must be > 0, got {counts}, {n_host}")
    mean_w = 1.0 if ln_weight is None else float(np.mean(np.exp(np.asarray(ln_weight))))
    return (counts / 500.0) / (n_host / 1e6) / mean_w


class AssignSupernovae(AbstractStage):
    """Draw the number of SNe Ia and assign each to a (host, SFH bin); gather host properties.

    Reads ``catalogue.host_detected`` (all galaxies eligible if ``None``). Writes ``valid``,
    ``mask``, ``host_index``, ``bank_index``, ``sfh_bin``, ``n_sn_total``, ``expected_n_sn``,
    ``overflow``, host columns (``z_cos``, ``logmass``, ``logzsol``, ``dust2``, ``dust_index``,
    ``dust_ratio``), and sets ``z_cmb = z_hel = z_cos`` (redshift stages refine them).
    If the Poisson count exceeds the number of slots, the surplus is dropped and ``overflow``
    is set (an error value for the caller to check).

    Build it with :meth:`from_hosts`, which runs :meth:`AbstractDTD.prepare` once over the bank
    (folding in time dilation and bank weights) and drops SFH bins that never host SNe Ia.

    Attributes:
        dtd: the delay-time distribution.
        hosts: the galaxy-bank columns.
        prepared: prepared bins stored bin-major, (n_active, n_host) arrays (so the
            per-simulation work runs along contiguous galaxy rows), ``log_mass`` including
            -log10(1 + z) + ln_weight / ln 10.
        active_bins: SFH-bin index of each prepared row (static).
        kappa: survey-size scale (:func:`survey_scale`) [yr].
        block_size: branching factor of the categorical sampler (static).
    """

    dtd: AbstractDTD
    hosts: HostTable
    prepared: PreparedBins
    active_bins: tuple[int, ...] = struct.field(pytree_node=False)
    kappa: float = struct.field(pytree_node=False, default=1.0)
    block_size: int = struct.field(pytree_node=False, default=64)

    def __post_init__(self):
        if not self.kappa > 0:
            raise ValueError(f"AssignSupernovae: kappa must be > 0, got {self.kappa!r}")
        if len(self.active_bins) < 1:
            raise ValueError("AssignSupernovae: no SFH bin can host SNe Ia (check the DTD)")

    @classmethod
    def from_hosts(
        cls, dtd: AbstractDTD, hosts: HostTable, kappa: float, block_size: int = 64
    ) -> AssignSupernovae:
        """Prepare the bank's bins for ``dtd`` and build the stage.

        Args:
            dtd: the delay-time distribution.
            hosts: the galaxy-bank columns.
            kappa: survey-size scale [yr].
            block_size: categorical-sampler branching factor.

        Returns:
            The stage.

        Raises:
            ValueError: if no bin of any galaxy can host a SN Ia.
        """
        prepared = jax.jit(jax.vmap(dtd.prepare))(hosts.log_age_edges, hosts.bin_logmass)
        log_host = -jnp.log10(1.0 + hosts.z)
        if hosts.ln_weight is not None:
            log_host = log_host + hosts.ln_weight / _LN10
        prepared = prepared.replace(log_mass=prepared.log_mass + log_host[:, None])
        used = np.asarray(jnp.any(jnp.isfinite(prepared.log_mass), axis=0))
        active = tuple(int(j) for j in np.flatnonzero(used))
        if not active:
            raise ValueError("AssignSupernovae: no SFH bin can host SNe Ia (check the DTD)")
        prepared = jax.tree_util.tree_map(lambda a: a[:, np.asarray(active)].T, prepared)
        return cls(
            dtd=dtd,
            hosts=hosts,
            prepared=prepared,
            active_bins=active,
            kappa=float(kappa),
            block_size=int(block_size),
        )

    def _log_rates(self, theta: Any, prepared: PreparedBins) -> jax.Array:
        """log10 bin rates (n_active, m) of bin-major prepared bins (n_active, m)."""
        return jax.vmap(self.dtd.log_prepared_rates, in_axes=(None, 1), out_axes=1)(theta, prepared)

    def host_rates(self, theta: Any, host_detected: Any = None) -> jax.Array:
        """Observer-frame SN Ia rate of every bank galaxy, summed over SFH bins [yr^-1].

        Args:
            theta: global parameters.
            host_detected: optional (n_host,) bool; undetected galaxies get rate 0.

        Returns:
            (n_host,) rates (including bank weights).
        """
        return _fold_rows(jnp.add, self.bin_rates(theta, host_detected))

    def bin_rates(self, theta: Any, host_detected: Any = None) -> jax.Array:
        """Observer-frame SN Ia rate of every (active bin, galaxy) pair [yr^-1].

        Args:
            theta: global parameters.
            host_detected: optional (n_host,) bool; undetected galaxies get rate 0.

        Returns:
            (n_active, n_host) rates (including bank weights); row j is ``active_bins[j]``.
        """
        rate = jnp.exp(_LN10 * self._log_rates(theta, self.prepared))
        if host_detected is not None:
            rate = jnp.where(host_detected[None, :], rate, 0.0)
        return rate

    def __call__(self, key, theta, catalogue: Catalogue) -> Catalogue:
        """Draw N, the slots' hosts and bins; see the class docstring."""
        k_n, k_pair = jax.random.split(key)
        h = self.hosts
        rate = self.bin_rates(theta, catalogue.host_detected)  # (n_active, n_host)
        expected = self.kappa * jnp.sum(rate)
        # jax.random.poisson needs a threefry key (the simulator's keys are Philox).
        k_n = rekey(k_n, "threefry2x32")
        n_total = dist.Poisson(expected).sample(k_n).astype(jnp.int32)
        n_slots = catalogue.n_slots
        valid = jnp.arange(n_slots) < n_total
        choice, host = sample_categorical_columns(k_pair, rate, n_slots, self.block_size)
        sfh_bin = jnp.asarray(self.active_bins, jnp.int32)[choice]
        z = h.z[host]
        return catalogue.replace(
            valid=valid,
            mask=valid & catalogue.detected,
            host_index=host,
            bank_index=h.bank_rows()[host],
            sfh_bin=sfh_bin,
            n_sn_total=n_total,
            expected_n_sn=expected.astype(catalogue.expected_n_sn.dtype),
            overflow=n_total > n_slots,
            z_cos=z,
            z_cmb=z,
            z_hel=z,
            logmass=h.logmass[host],
            logzsol=h.logzsol[host],
            dust2=h.dust2[host],
            dust_index=h.dust_index[host],
            dust_ratio=h.dust_ratio[host],
        )


class SampleProgenitors(AbstractStage):
    """Progenitor age within the chosen SFH bin and progenitor metallicity = host ``logzsol``.

    The age is :meth:`AbstractDTD.age_quantile_yr` of a Uniform(0, 1) draw. Reads
    ``host_index``, ``sfh_bin``, ``logzsol``; writes ``age_gyr``, ``progenitor_logzsol``.

    Attributes:
        dtd: the delay-time distribution (decides the age distribution within a bin).
        hosts: the galaxy-bank columns (for the bin edges).
    """

    dtd: AbstractDTD
    hosts: HostTable

    def __call__(self, key, theta, catalogue: Catalogue) -> Catalogue:
        """Draw ages [Gyr]."""
        edges, host, j = self.hosts.log_age_edges, catalogue.host_index, catalogue.sfh_bin
        lo, hi = edges[host, j], edges[host, j + 1]
        u = dist.Uniform(jnp.zeros((), lo.dtype), 1.0).sample(key, lo.shape)
        age_yr = jax.vmap(self.dtd.age_quantile_yr, in_axes=(None, 0, 0, 0))(theta, lo, hi, u)
        return catalogue.replace(age_gyr=age_yr / 1e9, progenitor_logzsol=catalogue.logzsol)


class SampleIntrinsic(AbstractStage):
    r"""Intrinsic stretch, colour, host-dependent offset and absolute magnitude (Tripp form).

    :math:`x \sim N(\bar x, \sigma_x)`, :math:`c \sim N(\alpha_c x, \sigma_c)`,
    :math:`M_\mathrm{int} \sim N(M_0 + \delta M + \alpha x + \beta c, \sigma_0)` with
    :func:`~cigars.sn.delta_m` (MODEL.md section 4b). Reads ``progenitor_logzsol``,
    ``age_gyr``, ``logmass``; writes ``x1_int``, ``c_int``, ``delta_m``, ``M_int``.

    Attributes:
        x1_mean, x1_sd: stretch population (reference 0, 1).
        c_sd: colour scatter (reference 0.1).
    """

    x1_mean: float = struct.field(pytree_node=False, default=0.0)
    x1_sd: float = struct.field(pytree_node=False, default=1.0)
    c_sd: float = struct.field(pytree_node=False, default=0.1)

    def __post_init__(self):
        if not self.x1_sd > 0 or not self.c_sd > 0:
            raise ValueError(
                f"SampleIntrinsic: x1_sd and c_sd must be > 0, got {self.x1_sd}, {self.c_sd}"
            )

    def __call__(self, key, theta, catalogue: Catalogue) -> Catalogue:
        """Draw (x1_int, c_int) and M_int for every slot."""
        k_x, k_c, k_m = jax.random.split(key, 3)
        shape, dtype = catalogue.z_cos.shape, catalogue.z_cos.dtype
        x1 = dist.Normal(jnp.full((), self.x1_mean, dtype), self.x1_sd).sample(k_x, shape)
        c = dist.Normal(theta.alpha_c * x1, self.c_sd).sample(k_c)
        dm = delta_m(theta, catalogue.progenitor_logzsol, catalogue.age_gyr, catalogue.logmass)
        m_int = dist.Normal(tripp_mean_magnitude(theta, x1, c, dm), theta.sigma_res).sample(k_m)
        return catalogue.replace(x1_int=x1, c_int=c, delta_m=dm, M_int=m_int)


class ApplySNDust(AbstractStage):
    """SN host-dust extinction: A_V, R_V, E(B-V) = A_V / R_V, M = M_int + A_V + E, c_ext = c + E.

    Reads ``dust2``, ``M_int``, ``c_int``; writes ``A_V``, ``R_V``, ``E_BV``, ``M``, ``c_ext``.

    Attributes:
        dust: the (A_V, R_V) distribution.
    """

    dust: AbstractSNDust

    def __call__(self, key, theta, catalogue: Catalogue) -> Catalogue:
        """Draw (A_V, R_V) per slot and apply them."""
        a_v, r_v = self.dust.sample(key, catalogue.dust2)
        e_bv = a_v / r_v
        return catalogue.replace(
            A_V=a_v,
            R_V=r_v,
            E_BV=e_bv,
            M=catalogue.M_int + a_v + e_bv,
            c_ext=catalogue.c_int + e_bv,
        )
