"""The host-galaxy parameter PyTree shared by priors, SPS photometry and the bank."""

from __future__ import annotations

from flax import struct

from cigars._types import Array, Float

__all__ = ["HostParams", "N_SFH_BINS"]

N_SFH_BINS = 7


@struct.dataclass
class HostParams:
    """Intrinsic parameters of one galaxy (or a batch: every field shares leading axes ``...``).

    Attributes:
        z: cosmological redshift.
        logmass: log10 of the total stellar mass formed [M_sun].
        logzsol: stellar metallicity log10(Z / Z_sun).
        logsfr_ratios: log10 SFR ratios between adjacent SFH bins, youngest first, shape (..., 6).
        dust2: diffuse-dust optical depth at 5500 A (Kriek & Conroy 2013).
        dust_index: power-law slope offset of the Kriek & Conroy attenuation curve.
        dust_ratio: birth-cloud to diffuse optical-depth ratio (dust1 / dust2).
        gas_logz: gas-phase metallicity log10(Z / Z_sun) (nebular emission; emulator only).
        ln_fagn: natural log of the AGN torus luminosity fraction (emulator only).
        ln_agn_tau: natural log of the AGN torus optical depth (emulator only).
    """

    z: Float[Array, "..."]
    logmass: Float[Array, "..."]
    logzsol: Float[Array, "..."]
    logsfr_ratios: Float[Array, "... 6"]
    dust2: Float[Array, "..."]
    dust_index: Float[Array, "..."]
    dust_ratio: Float[Array, "..."]
    gas_logz: Float[Array, "..."]
    ln_fagn: Float[Array, "..."]
    ln_agn_tau: Float[Array, "..."]
