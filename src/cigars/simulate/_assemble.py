"""Assemble the CIGaRS simulator (bank -> SNe -> observations -> selection) from components.

Stage order (MODEL.md sections 3b-6)::

    ComputeDistances -> DetectHosts -> AssignSupernovae -> SampleProgenitors ->
    SampleIntrinsic -> ApplySNDust -> ObserveRedshifts -> ObserveHosts ->
    ObserveSupernovae -> ApplySelection [-> ObserveSpectra]
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from cigars._config import Config
from cigars.cosmology import CosmologyConfig, LambdaCDMConfig
from cigars.simulate._simulator import Simulator
from cigars.simulate._theta import Theta
from cigars.sn import (
    AbstractDTD,
    AbstractSNDust,
    ApplySNDust,
    AssignSupernovae,
    DTDConfig,
    IndependentSNDustConfig,
    PowerLawDTDConfig,
    SampleIntrinsic,
    SampleProgenitors,
    SNDustConfig,
    SNPopulationConfig,
    TrippPopulationConfig,
    survey_scale,
)
from cigars.survey import (
    AbstractHostNoise,
    AbstractSelection,
    AbstractSpectroscopy,
    ApplySelection,
    ComputeDistances,
    DetectHosts,
    FixedHostNoiseConfig,
    HostNoiseConfig,
    HostTable,
    LSSTSurveyConfig,
    ObserveHosts,
    ObserveRedshifts,
    ObserveSpectra,
    SelectionConfig,
    SpectroscopyConfig,
    cosmology_from_theta,
)

__all__ = ["SimulatorConfig", "build_simulator"]


def build_simulator(
    hosts: HostTable,
    *,
    survey: LSSTSurveyConfig,
    dtd: AbstractDTD,
    population: SampleIntrinsic,
    sn_dust: AbstractSNDust,
    selection: AbstractSelection,
    host_noise: AbstractHostNoise,
    spectroscopy: AbstractSpectroscopy | None = None,
    sigma_z: float = 1e-4,
    block_size: int = 64,
    cosmology: CosmologyConfig | None = None,
) -> Simulator:
    """The full CIGaRS simulator over a galaxy bank.

    Args:
        hosts: the bank columns (:meth:`~cigars.survey.HostTable.from_bank`).
        survey: survey settings (slots, size, depths, velocities).
        dtd: delay-time distribution.
        population: the intrinsic-population stage.
        sn_dust: SN dust model.
        selection: SN detection probability.
        host_noise: host photometric errors.
        spectroscopy: optional follow-up model (no ``ObserveSpectra`` stage if ``None``).
        sigma_z: spectroscopic redshift error per unit (1 + z).
        block_size: categorical-sampler branching factor.
        cosmology: the cosmological model (its ``type``) and radiation settings
            (default: non-flat LambdaCDM without radiation).

    Returns:
        The :class:`~cigars.simulate.Simulator`.

    With ``survey.prune_dm_ratio > 0`` galaxies that no allowed cosmology can detect are
    dropped first (:meth:`~cigars.survey.DetectHosts.pruned`, reference cosmology = the
    :class:`Theta` defaults); check ``catalogue.prune_violated`` as well as ``overflow``.

    Raises:
        ValueError: if the survey's depths do not match the bank's bands.
    """
    cosmology = LambdaCDMConfig() if cosmology is None else cosmology
    model, Tcmb0, Neff = cosmology.type_name, cosmology.Tcmb0, cosmology.Neff
    z_bank_max = float(np.max(np.asarray(hosts.z)))
    # Distance table slightly beyond the bank (grid ends must not round past the table).
    z_table = 1.001 * z_bank_max + 1e-3
    kappa = survey_scale(survey.counts, hosts.n_host, hosts.ln_weight)  # the full bank
    depths = tuple(survey.depths)
    if survey.prune_dm_ratio > 0:
        reference = cosmology_from_theta(Theta(), model, Tcmb0, Neff)
        detect, hosts = DetectHosts.pruned(
            hosts, depths, survey.prune_dm_ratio, reference, z_bank_max, survey.n_cheb
        )
    else:
        detect = DetectHosts.from_hosts(hosts, depths, z_bank_max, survey.n_cheb)
    detect = detect.replace(evolution=survey.host_evolution)
    stages = [
        ComputeDistances(
            z_max=z_table,
            n_table=survey.n_table,
            model=model,
            Tcmb0=Tcmb0,
            Neff=Neff,
        ),
        detect,
        AssignSupernovae.from_hosts(dtd, hosts, kappa=kappa, block_size=block_size),
        SampleProgenitors(dtd=dtd, hosts=hosts),
        population,
        ApplySNDust(dust=sn_dust),
        ObserveRedshifts(
            sigma_v_kms=survey.sigma_v_kms,
            dipole_kms=survey.dipole_kms,
            mu_convention=survey.mu_convention,
            n_host=hosts.n_host,
        ),
        ObserveHosts(abs_mag=hosts.abs_mag, noise=host_noise, evolution=survey.host_evolution),
        survey.build(),
        ApplySelection(selection=selection),
    ]
    if spectroscopy is not None:
        stages.append(ObserveSpectra(spectroscopy=spectroscopy, sigma_z=sigma_z))
    return Simulator.chain(stages, n_max=survey.n_max, n_band=hosts.n_band)


class SimulatorConfig(Config):
    """All component configs of the CIGaRS simulator (``build(bank)`` gives the simulator).

    YAML example::

        survey: {type: lsst, n_max: 40000, counts: 10000}
        dtd: {type: powerlaw}
        sn_population: {type: tripp}
        sn_dust: {type: independent}
        selection: {type: table, path: data/cigars-reference/detprob.npz}
        host_noise: {type: fixed}
        spectroscopy: null

    Attributes:
        survey: survey settings (required: ``n_max``).
        selection: SN detection probability (required).
        dtd: delay-time distribution (power law, reference settings).
        sn_population: intrinsic population (Tripp, reference settings).
        sn_dust: SN dust (independent, reference settings).
        host_noise: host photometric errors (fixed 0.01 mag).
        spectroscopy: optional spectroscopic follow-up (none by default, as the reference).
    """

    survey: LSSTSurveyConfig
    selection: SelectionConfig
    dtd: DTDConfig = dataclasses.field(default_factory=PowerLawDTDConfig)
    sn_population: SNPopulationConfig = dataclasses.field(default_factory=TrippPopulationConfig)
    sn_dust: SNDustConfig = dataclasses.field(default_factory=IndependentSNDustConfig)
    host_noise: HostNoiseConfig = dataclasses.field(default_factory=FixedHostNoiseConfig)
    spectroscopy: SpectroscopyConfig | None = None

    def build(self, bank: Any, cosmology: CosmologyConfig | None = None) -> Simulator:
        """The simulator over ``bank`` (a bank object or a :class:`~cigars.survey.HostTable`).

        ``cosmology`` picks the cosmological model (its ``type``) and the fixed radiation
        parameters (``Tcmb0``, ``Neff``); the default is non-flat LambdaCDM without radiation.
        """
        hosts = bank if isinstance(bank, HostTable) else HostTable.from_bank(bank)
        spec = self.spectroscopy
        return build_simulator(
            hosts,
            survey=self.survey,
            dtd=self.dtd.build(),
            population=self.sn_population.build(),
            sn_dust=self.sn_dust.build(),
            selection=self.selection.build(),
            host_noise=self.host_noise.build(),
            spectroscopy=None if spec is None else spec.build(),
            sigma_z=1e-4 if spec is None else spec.sigma_z,
            cosmology=cosmology,
        )
