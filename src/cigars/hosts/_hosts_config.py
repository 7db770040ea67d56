"""Configs of the host-galaxy population prior (kind ``hosts``) and of the galaxy bank."""

import math
from typing import Literal

from cigars._config import Component, Config, bounded

__all__ = ["BankConfig", "HostPopulationConfig", "ProspectorBetaConfig"]

# The Prospector-beta p(z) table shipped with cigars covers z in [0, 3]; Leja+20 is fitted on
# 0.2 <= z <= 3 (clamped outside).
_Z_TABLE_MAX = 3.0


class HostPopulationConfig(Component, kind="hosts"):
    """A host-galaxy population prior; ``type:`` picks the implementation."""


class ProspectorBetaConfig(HostPopulationConfig, name="prospector_beta"):
    """The CIGaRS host prior built on Prospector-beta (MODEL.md §3a); numbers are the model's.

    ``build()`` returns a :class:`~cigars.hosts._priors.ProspectorBetaPrior`.

    Attributes:
        z_min, z_max: redshift range of the population (bank: 0.02-1.5).
        logm_min, logm_max: range of log10(total mass formed / M_sun) (bank: 8.5-12.5).
        dz, dlogm: cell size of the 2-D histogram of p(z, logM); must divide the ranges.
        redshift_pdf: ``"prospector_beta"`` (the Prospector-beta ``pdf_of_z_l20`` table, as the
            reference) or ``"comoving_volume"`` (dV_c/dz x number density in the mass range
            from the Leja+20 mass function, WMAP9: a volume-complete population).
        logsfr_ratio_df, logsfr_ratio_scale: Student-t degrees of freedom and scale of the
            log-SFR ratios around the Prospector-beta expectation.
        logsfr_ratio_clip: the log-SFR ratios (and their expectation) are clamped to +-clip.
        logzsol_min, logzsol_max: truncation of the mass-metallicity normal.
        dust2_scale, dust2_max: s.d. and upper truncation of dust2 (lower truncation 0).
        dust_index_scale, dust_index_min, dust_index_max: s.d. and truncation of dust_index.
        dust_ratio_loc, dust_ratio_scale, dust_ratio_max: dust1/dust2 normal (truncated to
            [0, max]).
        gas_logz_min, gas_logz_max: uniform range of the gas-phase metallicity.
        fagn_min, fagn_max: ln f_AGN is uniform in [ln fagn_min, ln fagn_max].
        agn_tau_min, agn_tau_max: ln tau_AGN is uniform in [ln agn_tau_min, ln agn_tau_max].
    """

    z_min: float = bounded(0.02, ge=0.0, lt=_Z_TABLE_MAX)
    z_max: float = bounded(1.5, gt=0.0, le=_Z_TABLE_MAX)
    logm_min: float = bounded(8.5, ge=6.0, le=13.0)
    logm_max: float = bounded(12.5, ge=6.0, le=13.0)
    dz: float = bounded(0.002, gt=0.0, le=0.1)
    dlogm: float = bounded(0.01, gt=0.0, le=0.1)
    redshift_pdf: Literal["prospector_beta", "comoving_volume"] = "prospector_beta"
    logsfr_ratio_df: float = bounded(2.0, gt=0.0)
    logsfr_ratio_scale: float = bounded(0.3, gt=0.0)
    logsfr_ratio_clip: float = bounded(5.0, gt=0.0)
    logzsol_min: float = -1.98
    logzsol_max: float = 0.19
    dust2_scale: float = bounded(0.2, gt=0.0)
    dust2_max: float = bounded(4.0, gt=0.0)
    dust_index_scale: float = bounded(0.4, gt=0.0)
    dust_index_min: float = -1.0
    dust_index_max: float = 0.4
    dust_ratio_loc: float = 1.0
    dust_ratio_scale: float = bounded(0.3, gt=0.0)
    dust_ratio_max: float = bounded(2.0, gt=0.0)
    gas_logz_min: float = -2.0
    gas_logz_max: float = 0.5
    fagn_min: float = bounded(1e-5, gt=0.0)
    fagn_max: float = bounded(3.0, gt=0.0)
    agn_tau_min: float = bounded(5.0, gt=0.0)
    agn_tau_max: float = bounded(150.0, gt=0.0)

    @property
    def n_z(self) -> int:
        """Number of redshift cells of the (z, logM) histogram."""
        return round((self.z_max - self.z_min) / self.dz)

    @property
    def n_logm(self) -> int:
        """Number of log-mass cells of the (z, logM) histogram."""
        return round((self.logm_max - self.logm_min) / self.dlogm)

    def validate(self) -> None:
        """Check that ranges are ordered and that the cell sizes divide them."""
        for lo, hi in [
            ("z_min", "z_max"),
            ("logm_min", "logm_max"),
            ("logzsol_min", "logzsol_max"),
            ("dust_index_min", "dust_index_max"),
            ("gas_logz_min", "gas_logz_max"),
            ("fagn_min", "fagn_max"),
            ("agn_tau_min", "agn_tau_max"),
        ]:
            if not getattr(self, lo) < getattr(self, hi):
                raise ValueError(
                    f"{lo} must be below {hi}, got {getattr(self, lo)!r} >= {getattr(self, hi)!r}"
                )
        for step, lo, hi in [("dz", "z_min", "z_max"), ("dlogm", "logm_min", "logm_max")]:
            span = getattr(self, hi) - getattr(self, lo)
            n = span / getattr(self, step)
            if round(n) < 1 or not math.isclose(n, round(n), rel_tol=0.0, abs_tol=1e-6):
                raise ValueError(
                    f"{step}={getattr(self, step)!r} must divide {hi} - {lo} = {span!r} "
                    "into a whole number of cells"
                )
        if not 0.0 < self.dust_ratio_loc < self.dust_ratio_max:
            raise ValueError(
                f"dust_ratio_loc must lie in (0, dust_ratio_max), got {self.dust_ratio_loc!r}"
            )

    def build(self):
        """The :class:`~cigars.hosts._priors.ProspectorBetaPrior` (tables precomputed)."""
        from cigars.hosts._priors import prospector_beta_prior

        return prospector_beta_prior(self)


class BankConfig(Config):
    """Size and seed of the galaxy bank written by :func:`~cigars.hosts._bank.write_bank`.

    Attributes:
        n_galaxies: number of galaxies (the reference bank has 10^6).
        chunk_size: galaxies sampled, photometered and written per chunk (sets peak memory;
            the bank's contents do not depend on it).
        seed: integer seed of the bank's PRNG key.
    """

    n_galaxies: int = bounded(1_000_000, ge=1)
    chunk_size: int = bounded(20_000, ge=1)
    seed: int = bounded(0, ge=0)
