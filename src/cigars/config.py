"""The experiment configuration: one YAML file -> one frozen, typed :class:`Experiment`.

Each section is the config class of one component kind, defined next to the component it builds
(``cigars.cosmology``, ``cigars.hosts``, ...). Unknown keys, wrong types and out-of-range values are
errors naming the file and the dotted key. ``cigars config show FILE`` prints the resolved config.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from cigars._config import Component, Config, ConfigError, bounded, from_dict, load_yaml, to_dict
from cigars.cosmology import CosmologyConfig, LambdaCDMConfig
from cigars.hosts import (
    BandsConfig,
    BankConfig,
    HostPopulationConfig,
    PopStarSPSConfig,
    ProspectorBetaConfig,
    SPSConfig,
)
from cigars.inference import NPEConfig
from cigars.likelihood import LikelihoodConfig
from cigars.simulate import PriorConfig, SimulatorConfig, Theta, TruthConfig

__all__ = [
    "Component",
    "Config",
    "ConfigError",
    "Experiment",
    "bounded",
    "from_dict",
    "load_experiment",
    "to_dict",
]


class Experiment(Config):
    """One experiment: the model, the survey and (later) the inference settings.

    Attributes:
        name: a short label recorded in every output.
        seed: the master seed; every random stream is derived from it.
        cosmology: the cosmological model and its fiducial parameters.
        hosts: the host-galaxy population prior.
        sps: the stellar-population synthesis provider for host photometry.
        bands: the host photometric bands.
        bank: size and seed of the galaxy bank.
        simulator: the SN population, survey and selection (``None``: bank only).
        prior: the prior over the global parameters (inferred ones).
        truth: the true global parameters used by ``cigars simulate``.
        inference: the neural posterior estimator and its training schedule.
        likelihood: the likelihood model of ``cigars infer --method nuts`` (``None``: none).
    """

    name: str = "experiment"
    seed: int = bounded(0, ge=0)
    cosmology: CosmologyConfig = LambdaCDMConfig()
    hosts: HostPopulationConfig = ProspectorBetaConfig()
    sps: SPSConfig = PopStarSPSConfig()
    bands: BandsConfig = BandsConfig()
    bank: BankConfig = BankConfig()
    simulator: SimulatorConfig | None = None
    prior: PriorConfig = PriorConfig()
    truth: TruthConfig = TruthConfig()
    inference: NPEConfig = NPEConfig()
    likelihood: LikelihoodConfig | None = None

    def validate(self) -> None:
        """Check the sections against each other.

        Raises:
            ValueError: if the prior frees, or the truth sets, a ``host_dmag*`` parameter of a
                simulator without ``survey.host_evolution: true`` (it would be ignored); or if
                the estimator's ``global_frame: laplace`` has no Laplace features to read
                (``likelihood.sub_model.laplace``).
        """
        fixed = self.truth.build()
        self.check_host_evolution(
            [n for n in Theta.HOST_EVOLUTION if n in self.prior.build(fixed).names], "prior"
        )
        self.check_host_evolution(fixed.host_evolution_in_use(), "truth")
        sub = getattr(self.likelihood, "sub_model", None)
        if self.inference.estimator.global_frame == "laplace" and not (sub and sub.laplace):
            raise ValueError(
                "inference.estimator.global_frame: laplace reads each sample's Laplace "
                "features, which only the known-hosts sub-model makes: set "
                "likelihood.sub_model.laplace: true"
            )

    def check_host_evolution(self, used: list[str], where: str) -> None:
        """Refuse host luminosity evolution that this experiment's simulator would ignore.

        Args:
            used: the ``host_dmag*`` parameters that ``where`` frees or sets non-zero.
            where: what uses them (for the message).

        Raises:
            ValueError: naming ``where`` and the parameters.
        """
        if used and not (self.simulator is not None and self.simulator.survey.host_evolution):
            raise ValueError(
                f"{where} uses {used}, but the simulator has no host luminosity evolution: "
                "set simulator.survey.host_evolution: true"
            )


def load_experiment(path: str | Path) -> Experiment:
    """Parse and validate an experiment YAML file.

    Raises:
        ConfigError: naming the file and key for anything invalid.
    """
    return from_dict(Experiment, load_yaml(path), file=path)


def dump(cfg: Config) -> str:
    """The fully resolved config as YAML text."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
