"""Config classes of the survey: ``survey``, ``selection``, ``host_noise``, ``spectroscopy`` kinds.

YAML example::

    survey:
      type: lsst
      n_max: 40000          # SN slots (all SNe in detected hosts, before the SN selection)
      counts: 10000         # survey-size label (reference: 1000 ~ 1.6k, 10000 ~ 16k detected)
      sigma_v_kms: 300
    selection: {type: table, path: data/cigars-reference/detprob.npz}
    host_noise: {type: fixed, sigma_mag: 0.01}
    spectroscopy: {type: mag_limit, m_lim: 21.5, fraction: 0.5, sigma_z: 1.0e-4}
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from cigars._config import Component, bounded
from cigars.survey._noise import LSST_DEPTHS, DepthHostNoise, FixedHostNoise
from cigars.survey._selection import LogisticSelection, TableSelection
from cigars.survey._spectroscopy import FractionSpectroscopy, MagLimitSpectroscopy
from cigars.survey._stages import CMB_DIPOLE_KMS, ObserveSupernovae

__all__ = [
    "DepthHostNoiseConfig",
    "FixedHostNoiseConfig",
    "FractionSpectroscopyConfig",
    "HostNoiseConfig",
    "LSSTSurveyConfig",
    "LogisticSelectionConfig",
    "MagLimitSpectroscopyConfig",
    "SelectionConfig",
    "SpectroscopyConfig",
    "SurveyConfig",
    "TableSelectionConfig",
]


class SurveyConfig(Component, kind="survey"):
    """Survey-wide settings (``type:`` picks the survey)."""


class LSSTSurveyConfig(SurveyConfig, name="lsst"):
    """An LSST-like survey of SNe Ia in bank galaxies (MODEL.md sections 3b, 4, 5).

    Attributes:
        n_max: SN slots per simulation (static array size): must exceed the number of SNe in
            detected hosts *before* the SN selection, or the simulation flags ``overflow``
            (required: it depends on the bank and ``counts``).
        counts: survey-size label (kappa = counts / 500 / (n_bank / 1e6)).
        depths: host-detection depths per band [mag] (LSST 10-yr coadd u g r i z y).
        sigma_v_kms: peculiar-velocity dispersion [km/s] (0 = the reference).
        dipole_kms: solar velocity relative to the CMB [km/s] (0: z_hel = z_cmb).
        mu_convention: ``pantheon`` or ``cosmological`` (see ``cigars.survey``).
        n_table: distance-table points per simulation.
        n_cheb: Chebyshev terms of D_M(z) / z for host detection over the bank.
        prune_dm_ratio: 0 (off) or f in (0, 1]: drop bank galaxies that stay undetected for
            every cosmology with D_M(z) >= f D_M(z) of the reference (Theta defaults); each
            simulation flags ``prune_violated`` if its cosmology breaks that bound. 0.7 covers
            the CIGaRS-I prior (Om0, Ode0 in [0, 1], H0 = 70) for z <= 1.5.
        var_m_slope, var_m_pivot, var_m_sd: ln W_mm ~ N(slope (m - pivot), sd).
        var_x1_mean, var_x1_sd, var_x1_slope: ln W_xx ~ N(mean + slope (m - var_slope_pivot), sd).
        var_c_mean, var_c_sd, var_c_slope: ln W_cc ~ N(mean + slope (m - var_slope_pivot), sd).
        var_slope_pivot: magnitude at which ln W_xx and ln W_cc have their means [mag].
        host_evolution: offset every host's magnitudes, in detection and photometry, by the
            host luminosity evolution of the parameters, ``host_dmag0 + host_dmag1 z +
            host_dmag2 z**2`` (:meth:`~cigars.simulate.Theta.host_mag_offset`; default off,
            as in the CIGaRS model, whose hosts are then calibrated distance indicators).
    """

    n_max: int = dataclasses.field(metadata={"bounds": {"ge": 1}})
    counts: float = bounded(1000.0, gt=0.0)
    depths: tuple[float, ...] = LSST_DEPTHS
    sigma_v_kms: float = bounded(300.0, ge=0.0, le=5000.0)
    dipole_kms: float = bounded(CMB_DIPOLE_KMS, ge=0.0, le=5000.0)
    mu_convention: Literal["pantheon", "cosmological"] = "pantheon"
    n_table: int = bounded(256, ge=16, le=100_000)
    n_cheb: int = bounded(24, ge=2, le=200)
    prune_dm_ratio: float = bounded(0.0, ge=0.0, le=1.0)
    var_m_slope: float = 0.2
    var_m_pivot: float = 56.0
    var_m_sd: float = bounded(1.2, gt=0.0)
    var_x1_mean: float = -3.0
    var_x1_sd: float = bounded(1.0, gt=0.0)
    var_c_mean: float = -7.0
    var_c_sd: float = bounded(0.6, gt=0.0)
    var_x1_slope: float = 0.0
    var_c_slope: float = 0.0
    var_slope_pivot: float = 22.0
    host_evolution: bool = False

    def validate(self) -> None:
        """Check the depths.

        Raises:
            ValueError: if no depth is given.
        """
        if len(self.depths) < 1:
            raise ValueError("survey.depths: need one depth per band")

    def build(self) -> ObserveSupernovae:
        """The SN-observation stage with this survey's measurement-variance model."""
        return ObserveSupernovae(
            var_m_slope=self.var_m_slope,
            var_m_pivot=self.var_m_pivot,
            var_m_sd=self.var_m_sd,
            var_x1_mean=self.var_x1_mean,
            var_x1_sd=self.var_x1_sd,
            var_c_mean=self.var_c_mean,
            var_c_sd=self.var_c_sd,
            var_x1_slope=self.var_x1_slope,
            var_c_slope=self.var_c_slope,
            var_slope_pivot=self.var_slope_pivot,
        )


class SelectionConfig(Component, kind="selection"):
    """The SN detection probability p_det(z, m) (``type:`` picks it)."""


class TableSelectionConfig(SelectionConfig, name="table"):
    """Bilinear interpolation of a table in an ``.npz`` file (arrays z, m, p_det).

    Attributes:
        path: the file, e.g. the reference's ``data/cigars-reference/detprob.npz``.
    """

    path: str

    def build(self) -> TableSelection:
        """Load the :class:`~cigars.survey.TableSelection`."""
        return TableSelection.from_npz(self.path)


class LogisticSelectionConfig(SelectionConfig, name="logistic"):
    """Logistic in m with threshold m50(z) = a + b z + c z^2 (defaults fit the reference table).

    Attributes:
        a, b, c: threshold coefficients [mag].
        width: logistic scale [mag].
    """

    a: float = 24.32
    b: float = -0.344
    c: float = -1.295
    width: float = bounded(0.216, gt=0.0)

    def build(self) -> LogisticSelection:
        """The :class:`~cigars.survey.LogisticSelection`."""
        return LogisticSelection(a=self.a, b=self.b, c=self.c, width=self.width)


class HostNoiseConfig(Component, kind="host_noise"):
    """Host photometric-error model (``type:`` picks it)."""


class FixedHostNoiseConfig(HostNoiseConfig, name="fixed"):
    """The same error in every band (reference 0.01 mag).

    Attributes:
        sigma_mag: the error [mag].
    """

    sigma_mag: float = bounded(0.01, gt=0.0, le=5.0)

    def build(self) -> FixedHostNoise:
        """The :class:`~cigars.survey.FixedHostNoise`."""
        return FixedHostNoise(sigma_mag=self.sigma_mag)


class DepthHostNoiseConfig(HostNoiseConfig, name="depth"):
    """Errors from the 5-sigma depths plus a floor in quadrature.

    Attributes:
        depths: limiting magnitudes per band [mag] (LSST 10-yr coadd).
        snr_at_depth: SNR at the limiting magnitude.
        floor: error floor [mag].
    """

    depths: tuple[float, ...] = LSST_DEPTHS
    snr_at_depth: float = bounded(5.0, gt=0.0)
    floor: float = bounded(0.005, ge=0.0, le=5.0)

    def validate(self) -> None:
        """Check the depths.

        Raises:
            ValueError: if no depth is given.
        """
        if len(self.depths) < 1:
            raise ValueError("host_noise.depths: need one depth per band")

    def build(self) -> DepthHostNoise:
        """The :class:`~cigars.survey.DepthHostNoise`."""
        return DepthHostNoise(
            depths=tuple(self.depths), snr_at_depth=self.snr_at_depth, floor=self.floor
        )


class SpectroscopyConfig(Component, kind="spectroscopy"):
    """Spectroscopic follow-up of detected SNe (``type:`` picks it).

    Attributes:
        sigma_z: spectroscopic-redshift error per unit (1 + z).
    """

    sigma_z: float = bounded(1e-4, ge=0.0, le=0.1)


class FractionSpectroscopyConfig(SpectroscopyConfig, name="fraction"):
    """A random fraction of detected SNe.

    Attributes:
        fraction: follow-up probability (required).
    """

    fraction: float = dataclasses.field(metadata={"bounds": {"ge": 0.0, "le": 1.0}})

    def build(self) -> FractionSpectroscopy:
        """The :class:`~cigars.survey.FractionSpectroscopy`."""
        return FractionSpectroscopy(fraction=self.fraction)


class MagLimitSpectroscopyConfig(SpectroscopyConfig, name="mag_limit"):
    """Detected SNe with m_obs < m_lim, each with probability ``fraction``.

    Attributes:
        m_lim: magnitude limit [mag] (required).
        fraction: completeness below the limit.
    """

    m_lim: float
    fraction: float = bounded(1.0, ge=0.0, le=1.0)

    def build(self) -> MagLimitSpectroscopy:
        """The :class:`~cigars.survey.MagLimitSpectroscopy`."""
        return MagLimitSpectroscopy(m_lim=self.m_lim, fraction=self.fraction)
