"""Config classes for the SN Ia population: ``dtd``, ``sn_dust`` and ``sn_population`` kinds.

YAML example::

    dtd: {type: powerlaw, min_delay_myr: 100, binning: midpoint}
    sn_dust: {type: independent, tau_av: 0.1, rv_mean: 3.0, rv_sd: 0.5, rv_min: 1.2}
    sn_population: {type: tripp, x1_mean: 0.0, x1_sd: 1.0, c_sd: 0.1}
"""

from __future__ import annotations

from typing import Literal

from cigars._config import Component, bounded
from cigars.sn._dtd import PowerLawDTD
from cigars.sn._dust import IndependentSNDust, TiedSNDust
from cigars.sn._stages import SampleIntrinsic

__all__ = [
    "DTDConfig",
    "IndependentSNDustConfig",
    "PowerLawDTDConfig",
    "SNDustConfig",
    "SNPopulationConfig",
    "TiedSNDustConfig",
    "TrippPopulationConfig",
]


class DTDConfig(Component, kind="dtd"):
    """A delay-time distribution (``type:`` picks it); its amplitude/slope are global parameters."""


class PowerLawDTDConfig(DTDConfig, name="powerlaw"):
    """Power-law DTD A (t/Gyr)^s above a minimum delay (:class:`~cigars.sn.PowerLawDTD`).

    Attributes:
        min_delay_myr: minimum delay [Myr] (reference 100: the two youngest bins give no SNe).
        binning: ``midpoint`` (reference: DTD at the bin's log-midpoint) or ``average``
            (exact bin average of the power law).
    """

    min_delay_myr: float = bounded(100.0, gt=0.0, le=1e4)
    binning: Literal["midpoint", "average"] = "midpoint"

    def build(self) -> PowerLawDTD:
        """The :class:`~cigars.sn.PowerLawDTD`."""
        return PowerLawDTD(min_delay_yr=self.min_delay_myr * 1e6, binning=self.binning)


class SNDustConfig(Component, kind="sn_dust"):
    """SN host-dust model (``type:`` picks it).

    Attributes:
        rv_mean: mean of R_V's normal distribution.
        rv_sd: its standard deviation.
        rv_min: lower truncation of R_V.
    """

    rv_mean: float = bounded(3.0, gt=0.0, le=10.0)
    rv_sd: float = bounded(0.5, gt=0.0, le=10.0)
    rv_min: float = bounded(1.2, ge=0.0, le=10.0)


class IndependentSNDustConfig(SNDustConfig, name="independent"):
    """A_V ~ Exponential(mean tau_av), independent of the host (reference ``dindep``).

    Attributes:
        tau_av: mean A_V [mag].
    """

    tau_av: float = bounded(0.1, gt=0.0, le=5.0)

    def build(self) -> IndependentSNDust:
        """The :class:`~cigars.sn.IndependentSNDust`."""
        return IndependentSNDust(
            tau_av=self.tau_av, rv_mean=self.rv_mean, rv_sd=self.rv_sd, rv_min=self.rv_min
        )


class TiedSNDustConfig(SNDustConfig, name="tied"):
    """A_V = scale * 1.0857 * host dust2 (the host's V-band extinction).

    Attributes:
        scale: fraction of the host's diffuse-dust extinction the SN suffers.
    """

    scale: float = bounded(1.0, ge=0.0, le=10.0)

    def build(self) -> TiedSNDust:
        """The :class:`~cigars.sn.TiedSNDust`."""
        return TiedSNDust(
            scale=self.scale, rv_mean=self.rv_mean, rv_sd=self.rv_sd, rv_min=self.rv_min
        )


class SNPopulationConfig(Component, kind="sn_population"):
    """The intrinsic SN Ia population model (``type:`` picks it)."""


class TrippPopulationConfig(SNPopulationConfig, name="tripp"):
    """Gaussian stretch/colour and a Tripp-form intrinsic magnitude (:class:`SampleIntrinsic`).

    Attributes:
        x1_mean: mean intrinsic stretch.
        x1_sd: its standard deviation.
        c_sd: intrinsic colour scatter about alpha_c x1.
    """

    x1_mean: float = bounded(0.0, ge=-5.0, le=5.0)
    x1_sd: float = bounded(1.0, gt=0.0, le=10.0)
    c_sd: float = bounded(0.1, gt=0.0, le=2.0)

    def build(self) -> SampleIntrinsic:
        """The :class:`~cigars.sn.SampleIntrinsic` stage."""
        return SampleIntrinsic(x1_mean=self.x1_mean, x1_sd=self.x1_sd, c_sd=self.c_sd)
