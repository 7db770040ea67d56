"""The survey: catalogue, host detection and photometry, SN observables, selection, spectra.

* :class:`Catalogue` - the fixed-size, masked PyTree a simulation fills; :class:`AbstractStage`
  - the ``stage(key, theta, catalogue) -> catalogue`` interface; :class:`HostTable` - the bank
  columns the stages read (:data:`BANK_FIELDS`).
* Selection: :class:`AbstractSelection`, :class:`TableSelection`, :class:`LogisticSelection`
  (config kind ``selection``: ``table``, ``logistic``).
* Host noise: :class:`AbstractHostNoise`, :class:`FixedHostNoise`, :class:`DepthHostNoise`
  (kind ``host_noise``: ``fixed``, ``depth``); :data:`LSST_DEPTHS`.
* Spectroscopy: :class:`AbstractSpectroscopy`, :class:`FractionSpectroscopy`,
  :class:`MagLimitSpectroscopy` (kind ``spectroscopy``: ``fraction``, ``mag_limit``).
* Stages: :class:`ComputeDistances`, :class:`DetectHosts`, :class:`ObserveRedshifts`,
  :class:`ObserveHosts`, :class:`ObserveSupernovae`, :class:`ApplySelection`,
  :class:`ObserveSpectra`; :func:`cosmology_from_theta`. Survey settings: kind ``survey``
  (``lsst``).
"""

from cigars.survey._catalogue import OBSERVED_FIELDS, AbstractStage, Catalogue
from cigars.survey._config import (
    DepthHostNoiseConfig,
    FixedHostNoiseConfig,
    FractionSpectroscopyConfig,
    HostNoiseConfig,
    LogisticSelectionConfig,
    LSSTSurveyConfig,
    MagLimitSpectroscopyConfig,
    SelectionConfig,
    SpectroscopyConfig,
    SurveyConfig,
    TableSelectionConfig,
)
from cigars.survey._hosts import BANK_ALIASES, BANK_FIELDS, HostTable
from cigars.survey._noise import LSST_DEPTHS, AbstractHostNoise, DepthHostNoise, FixedHostNoise
from cigars.survey._selection import AbstractSelection, LogisticSelection, TableSelection
from cigars.survey._spectroscopy import (
    AbstractSpectroscopy,
    FractionSpectroscopy,
    MagLimitSpectroscopy,
)
from cigars.survey._stages import (
    C_KM_S,
    CMB_DIPOLE_KMS,
    ApplySelection,
    ComputeDistances,
    DetectHosts,
    ObserveHosts,
    ObserveRedshifts,
    ObserveSpectra,
    ObserveSupernovae,
    cosmology_from_theta,
    detection_distance_limit,
    per_host_sample,
    per_host_standard_normal,
)

__all__ = [
    "BANK_ALIASES",
    "BANK_FIELDS",
    "CMB_DIPOLE_KMS",
    "C_KM_S",
    "LSST_DEPTHS",
    "OBSERVED_FIELDS",
    "AbstractHostNoise",
    "AbstractSelection",
    "AbstractSpectroscopy",
    "AbstractStage",
    "ApplySelection",
    "Catalogue",
    "ComputeDistances",
    "DepthHostNoise",
    "DepthHostNoiseConfig",
    "DetectHosts",
    "FixedHostNoise",
    "FixedHostNoiseConfig",
    "FractionSpectroscopy",
    "FractionSpectroscopyConfig",
    "HostNoiseConfig",
    "HostTable",
    "LSSTSurveyConfig",
    "LogisticSelection",
    "LogisticSelectionConfig",
    "MagLimitSpectroscopy",
    "MagLimitSpectroscopyConfig",
    "ObserveHosts",
    "ObserveRedshifts",
    "ObserveSpectra",
    "ObserveSupernovae",
    "SelectionConfig",
    "SpectroscopyConfig",
    "SurveyConfig",
    "TableSelection",
    "TableSelectionConfig",
    "cosmology_from_theta",
    "detection_distance_limit",
    "per_host_sample",
    "per_host_standard_normal",
]
