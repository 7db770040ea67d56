"""The global parameters of the CIGaRS forward model as one PyTree."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from flax import struct

from cigars._types import Array, Float

__all__ = ["CIGARS_I_TRUTH", "REFERENCE_NAMES", "Theta"]

REFERENCE_NAMES = {
    "Om0": "Om0",
    "Ode0": "Ode0",
    "dtd_A": "dtd_A",
    "dtd_s": "dtd_s",
    "M0": "M0",
    "sigma_res": "sigma_res",
    "alpha": "alpha",
    "beta": "beta",
    "alpha_c": "alpha_c",
    "gamma_M_logzsol": "gamma_Z",
    "gamma_M_age": "gamma_age",
    "step_M_logmass": "step_M",
    "step_M_logmass_loc": "step_loc",
}
"""Reference-implementation parameter name -> :class:`Theta` field (MODEL.md section 2a)."""


@struct.dataclass
class Theta:
    r"""Global (survey-level) parameters; every field is a leaf (scalar, or batched with ``vmap``).

    Defaults are the truth of the CIGaRS-I mock surveys (MODEL.md section 2a) with H0 = 70,
    w0 = -1, wa = 0.

    Attributes:
        Om0: matter density today :math:`\Omega_{m,0}`.
        Ode0: dark-energy density today :math:`\Omega_{\Lambda,0}` (ignored by flat models).
        w0: dark-energy equation of state today (used by w0wa models only).
        wa: its CPL evolution (w0wa models only).
        H0: Hubble constant [km/s/Mpc] (degenerate with M0; fixed in the reference).
        dtd_A: :math:`\log_{10} A`, DTD amplitude at 1 Gyr [yr^-1 M_sun^-1]
            (reference ``dtd_A``).
        dtd_s: DTD power-law slope s.
        M0: SN Ia absolute-magnitude zero point :math:`M_0` [mag].
        sigma_res: residual intrinsic scatter :math:`\sigma_0` [mag].
        alpha: stretch-luminosity coefficient :math:`\alpha` [mag].
        beta: colour-luminosity coefficient :math:`\beta` [mag].
        alpha_c: stretch-colour correlation :math:`\alpha_c`.
        gamma_Z: :math:`\gamma_{[Z]}`, mag per dex of progenitor metallicity
            (reference ``gamma_M_logzsol``).
        gamma_age: :math:`\gamma_\mathrm{age}`, mag per Gyr of progenitor age
            (reference ``gamma_M_age``).
        step_M: host-mass step amplitude :math:`\Delta M` [mag] (reference ``step_M_logmass``).
        step_loc: mass-step location :math:`\mathcal{M}_\mathrm{step}` [log10 M_sun]
            (reference ``step_M_logmass_loc``).
        host_dmag0, host_dmag1, host_dmag2: host luminosity evolution [mag]: every band of
            every host galaxy is brighter or fainter than the bank says by
            :math:`\delta(z) = d_0 + d_1 z + d_2 z^2` (:meth:`host_mag_offset`), in its
            detection as in its photometry; used only by simulators built with
            ``survey.host_evolution: true``. Not in the CIGaRS model (0 there): a nuisance
            that stops the host population from being a calibrated distance indicator.
    """

    Om0: Float[Array, "*batch"] | float = 0.3
    Ode0: Float[Array, "*batch"] | float = 0.7
    w0: Float[Array, "*batch"] | float = -1.0
    wa: Float[Array, "*batch"] | float = 0.0
    H0: Float[Array, "*batch"] | float = 70.0
    dtd_A: Float[Array, "*batch"] | float = -12.15
    dtd_s: Float[Array, "*batch"] | float = -1.34
    M0: Float[Array, "*batch"] | float = -19.5
    sigma_res: Float[Array, "*batch"] | float = 0.1
    alpha: Float[Array, "*batch"] | float = -0.14
    beta: Float[Array, "*batch"] | float = 2.2
    alpha_c: Float[Array, "*batch"] | float = 0.0
    gamma_Z: Float[Array, "*batch"] | float = -0.1
    gamma_age: Float[Array, "*batch"] | float = -0.03
    step_M: Float[Array, "*batch"] | float = -0.05
    step_loc: Float[Array, "*batch"] | float = 10.0
    host_dmag0: Float[Array, "*batch"] | float = 0.0
    host_dmag1: Float[Array, "*batch"] | float = 0.0
    host_dmag2: Float[Array, "*batch"] | float = 0.0

    #: The host luminosity evolution parameters (:meth:`host_mag_offset`).
    HOST_EVOLUTION: ClassVar[tuple[str, ...]] = ("host_dmag0", "host_dmag1", "host_dmag2")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """All field names, in order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: Theta | None = None) -> Theta:
        """A :class:`Theta` from a mapping of field (or reference) names to values.

        Args:
            values: name -> value; reference names (:data:`REFERENCE_NAMES`) are accepted.
            base: values for the fields not given (default: :class:`Theta` defaults).

        Returns:
            The parameters.

        Raises:
            ValueError: for an unknown name or a name given twice (once per spelling).
        """
        out: dict[str, Any] = {}
        for name, value in values.items():
            field = REFERENCE_NAMES.get(name, name)
            if field not in cls.names():
                raise ValueError(
                    f"Theta: unknown parameter {name!r}; expected one of {list(cls.names())}"
                )
            if field in out:
                raise ValueError(f"Theta: parameter {field!r} given twice")
            out[field] = value
        return (cls() if base is None else base).replace(**out)

    def host_mag_offset(self, z: Float[Array, "*n"]) -> Float[Array, "*n"]:
        r"""Host luminosity evolution :math:`\delta(z) = d_0 + d_1 z + d_2 z^2` [mag] at ``z``.

        Args:
            z: redshifts (scalar parameters; for a batched :class:`Theta`, broadcastable).

        Returns:
            The magnitude offset added to the bank's magnitudes of a galaxy at ``z``.
        """
        return self.host_dmag0 + z * (self.host_dmag1 + z * self.host_dmag2)

    def host_evolution_in_use(self) -> list[str]:
        """The host luminosity evolution parameters set to non-zero values (concrete values)."""
        return [name for name in self.HOST_EVOLUTION if getattr(self, name) != 0]

    def to_dict(self) -> dict[str, Any]:
        """Field name -> value."""
        return {name: getattr(self, name) for name in self.names()}


CIGARS_I_TRUTH = Theta()
"""The parameters of the CIGaRS-I mock surveys (``mock-1.6k.npz``, ``mock-16k.npz``)."""
