"""The CIGaRS-I reference model (Karchev, Trotta & Jimenez 2026) as a frozen assembly of stages.

MODEL.md sections 3-6: non-flat LambdaCDM (H0 = 70, no radiation), power-law DTD with a 100 Myr
minimum delay evaluated at the SFH-bin log-midpoints, Tripp population with metallicity, age and
host-mass-step dependence, SN dust independent of the host (A_V ~ Exp(0.1), R_V ~ N(3, 0.5) > 1.2),
hosts detected in all six LSST 10-yr coadd bands with 0.01 mag errors, the reference's toy-LSST
detection table, no peculiar velocities and no spectroscopic subsample.

Usage::

    from cigars.hosts import load_bank
    from simulators.cigars_i import CIGARS_I_TRUTH, cigars_i

    simulator = cigars_i(load_bank("bank.h5"), counts=10_000)   # the ~16k-SN survey

``configs/cigars-i-16k.yaml`` and ``configs/cigars-i-1.6k.yaml`` describe the same model for
the command line (``tests/test_simulators.py`` checks that both give the same surveys).
"""

from __future__ import annotations

from cigars.cosmology import LambdaCDMConfig
from cigars.simulate import CIGARS_I_PRIOR, CIGARS_I_TRUTH, SimulatorConfig
from cigars.sn import IndependentSNDustConfig, PowerLawDTDConfig, TrippPopulationConfig
from cigars.survey import FixedHostNoiseConfig, LSSTSurveyConfig, TableSelectionConfig

__all__ = ["CIGARS_I_PRIOR", "CIGARS_I_TRUTH", "DETPROB", "cigars_i", "cigars_i_config"]

DETPROB = "../shared/data/cigars-reference/detprob.npz"
"""The reference's selection table, relative to the project root."""

N_MAX = {1000.0: 8192, 10000.0: 65536}
"""SN slots that hold every SN in a detected host for the two reference survey sizes."""


def cigars_i_config(counts: float = 10_000.0, detprob: str = DETPROB) -> SimulatorConfig:
    """The reference simulator's components; ``counts`` 1000 gives ~1.6k SNe, 10000 ~16k."""
    return SimulatorConfig(
        survey=LSSTSurveyConfig(
            n_max=N_MAX.get(float(counts), int(8 * counts)),
            counts=float(counts),
            sigma_v_kms=0.0,
            dipole_kms=0.0,
            mu_convention="cosmological",
        ),
        selection=TableSelectionConfig(path=detprob),
        dtd=PowerLawDTDConfig(min_delay_myr=100.0, binning="midpoint"),
        sn_population=TrippPopulationConfig(),
        sn_dust=IndependentSNDustConfig(tau_av=0.1, rv_mean=3.0, rv_sd=0.5, rv_min=1.2),
        host_noise=FixedHostNoiseConfig(sigma_mag=0.01),
        spectroscopy=None,
    )


def cigars_i(bank, counts: float = 10_000.0, detprob: str = DETPROB):
    """The CIGaRS-I simulator over a galaxy bank (non-flat LambdaCDM, H0 = 70)."""
    return cigars_i_config(counts, detprob).build(bank, LambdaCDMConfig(H0=70.0))
