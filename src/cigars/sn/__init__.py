"""SN Ia population: delay-time distributions, rates, progenitors, intrinsic properties, dust.

* DTDs: :class:`AbstractDTD`, :class:`PowerLawDTD` (config kind ``dtd``: ``powerlaw``).
* SN dust: :class:`AbstractSNDust`, :class:`IndependentSNDust`, :class:`TiedSNDust`
  (config kind ``sn_dust``: ``independent``, ``tied``).
* Physics: :func:`delta_m`, :func:`tripp_mean_magnitude`; sampling helpers
  :func:`sample_categorical_blocked`, :func:`sample_categorical_columns`; survey size
  :func:`survey_scale`.
* Stages (``stage(key, theta, catalogue) -> catalogue``): :class:`AssignSupernovae`,
  :class:`SampleProgenitors`, :class:`SampleIntrinsic` (config kind ``sn_population``:
  ``tripp``), :class:`ApplySNDust`.
"""

from cigars.sn._config import (
    DTDConfig,
    IndependentSNDustConfig,
    PowerLawDTDConfig,
    SNDustConfig,
    SNPopulationConfig,
    TiedSNDustConfig,
    TrippPopulationConfig,
)
from cigars.sn._dtd import AbstractDTD, PowerLawDTD, PreparedBins, log_exprel
from cigars.sn._dust import AV_PER_TAU, AbstractSNDust, IndependentSNDust, TiedSNDust
from cigars.sn._population import delta_m, tripp_mean_magnitude
from cigars.sn._sampling import (
    sample_categorical_blocked,
    sample_categorical_columns,
    sample_categorical_rows,
)
from cigars.sn._stages import (
    ApplySNDust,
    AssignSupernovae,
    SampleIntrinsic,
    SampleProgenitors,
    survey_scale,
)

__all__ = [
    "AV_PER_TAU",
    "AbstractDTD",
    "AbstractSNDust",
    "ApplySNDust",
    "AssignSupernovae",
    "DTDConfig",
    "IndependentSNDust",
    "IndependentSNDustConfig",
    "PowerLawDTD",
    "PowerLawDTDConfig",
    "PreparedBins",
    "SNDustConfig",
    "SNPopulationConfig",
    "SampleIntrinsic",
    "SampleProgenitors",
    "TiedSNDust",
    "TiedSNDustConfig",
    "TrippPopulationConfig",
    "delta_m",
    "log_exprel",
    "sample_categorical_blocked",
    "sample_categorical_columns",
    "sample_categorical_rows",
    "survey_scale",
    "tripp_mean_magnitude",
]
