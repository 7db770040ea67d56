"""Simulation: the stage interface, the chained :class:`Simulator`, global parameters and priors.

* :class:`AbstractStage` (defined with the catalogue in :mod:`cigars.survey`), :class:`Simulator`,
  :func:`simulate` (jit), :func:`simulate_batch` (jit of vmap).
* :class:`Theta` - the global parameters (:data:`REFERENCE_NAMES` maps the reference's names);
  :data:`CIGARS_I_TRUTH`.
* :class:`GlobalPrior` (``sample``, ``log_prob``, ``to_array``, ``from_array``),
  :data:`CIGARS_I_PRIOR`, :class:`PriorConfig`, :class:`TruthConfig`.
* Assembly: :func:`build_simulator`, :class:`SimulatorConfig`; a toy bank for tests and
  benchmarks: :func:`toy_host_table`.
"""

from cigars.simulate._assemble import SimulatorConfig, build_simulator
from cigars.simulate._prior import (
    CIGARS_I_PRIOR,
    GlobalPrior,
    PriorConfig,
    TruthConfig,
    parse_prior_spec,
)
from cigars.simulate._simulator import Simulator, simulate, simulate_batch
from cigars.simulate._theta import CIGARS_I_TRUTH, REFERENCE_NAMES, Theta
from cigars.simulate._toy import toy_host_table
from cigars.survey._catalogue import AbstractStage, Catalogue

__all__ = [
    "CIGARS_I_PRIOR",
    "CIGARS_I_TRUTH",
    "REFERENCE_NAMES",
    "AbstractStage",
    "Catalogue",
    "GlobalPrior",
    "PriorConfig",
    "Simulator",
    "SimulatorConfig",
    "Theta",
    "TruthConfig",
    "build_simulator",
    "parse_prior_spec",
    "simulate",
    "simulate_batch",
    "toy_host_table",
]
