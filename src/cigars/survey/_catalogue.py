"""The :class:`Catalogue` PyTree every simulator stage reads and writes, and the stage interface.

A catalogue holds one simulated survey as fixed-size arrays: every per-supernova field has the
leading axis ``n_sn`` (the padded number of slots, ``n_max``), and the boolean ``mask`` says
which slots are real, detected supernovae. Selection stages only ever *clear* mask entries; they
never shrink arrays, so every shape is static under ``jit``. Per-survey scalars (the Poisson
count, the overflow flag, ...) and the per-simulation distance table ride along.
"""

from __future__ import annotations

import abc
from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import struct

from cigars._types import Array, Bool, Float, Int, Key

__all__ = ["AbstractStage", "Catalogue"]

# Per-slot float fields with shape (n_sn,), in catalogue order (see the Catalogue docstring).
_SLOT_FLOATS = (
    "z_cos",
    "z_cmb",
    "z_hel",
    "v_pec_kms",
    "cos_dipole",
    "logmass",
    "logzsol",
    "dust2",
    "dust_index",
    "dust_ratio",
    "age_gyr",
    "progenitor_logzsol",
    "x1_int",
    "c_int",
    "delta_m",
    "M_int",
    "A_V",
    "R_V",
    "E_BV",
    "M",
    "c_ext",
    "mu",
    "m_true",
    "var_m",
    "var_x1",
    "var_c",
    "m_obs",
    "x1_obs",
    "c_obs",
    "p_det",
    "z_spec",
)
_SLOT_BOOLS = ("mask", "valid", "detected", "has_spec")
_SLOT_INTS = ("host_index", "bank_index", "sfh_bin")
_SLOT_BAND_FLOATS = ("host_mag", "host_mag_obs", "host_mag_err")

OBSERVED_FIELDS = (
    "host_mag_obs",
    "host_mag_err",
    "m_obs",
    "x1_obs",
    "c_obs",
    "var_m",
    "var_x1",
    "var_c",
    "z_spec",
    "has_spec",
)
"""The fields an observer has (the rest are latent truths)."""


@struct.dataclass
class Catalogue:
    r"""One simulated survey: padded per-supernova arrays, a mask, and per-survey scalars.

    Slots ``i < min(n_sn_total, n_sn)`` hold supernovae (``valid``); ``mask = valid & detected``
    marks the ones in the observed data set. Values in slots with ``mask = False`` are finite
    but meaningless.

    Redshifts: ``z_cos`` is the host's cosmological redshift (the bank's ``z``; host photometry,
    host detection and the SN's comoving distance use it). With a line-of-sight peculiar velocity
    ``v_pec_kms`` (host and SN share it), the CMB-frame redshift is
    :math:`1 + z_\mathrm{cmb} = (1 + z_\mathrm{cos})(1 + v/c)`, and the heliocentric redshift is
    :math:`1 + z_\mathrm{hel} = (1 + z_\mathrm{cmb}) / (1 + v_\odot \cos\theta / c)` with
    ``cos_dipole`` the cosine of the angle to the CMB dipole. ``z_hel`` is the observed
    (spectroscopic, light-curve) redshift, used by the SN selection function.

    Attributes:
        mask: (n_sn,) bool, the slot is a supernova in the observed set.
        valid: (n_sn,) bool, the slot holds a supernova (``i < n_sn_total``, clipped).
        detected: (n_sn,) bool, the supernova passed the SN selection (``True`` before it).
        has_spec: (n_sn,) bool, the supernova has a spectroscopic redshift.
        host_index: (n_sn,) int32, row of the host in the simulator's
            :class:`~cigars.survey.HostTable` (what the stages index).
        bank_index: (n_sn,) int32, row of the host in the original galaxy bank (differs from
            ``host_index`` when the simulator prunes never-detectable galaxies).
        sfh_bin: (n_sn,) int32, star-formation-history bin of the progenitor (0 = youngest).
        z_cos, z_cmb, z_hel: (n_sn,) cosmological, CMB-frame and heliocentric redshifts.
        v_pec_kms: (n_sn,) host line-of-sight peculiar velocity [km/s] (positive = receding).
        cos_dipole: (n_sn,) cosine of the angle between the host and the CMB-dipole direction.
        logmass: (n_sn,) host log10 total formed stellar mass [M_sun].
        logzsol, dust2, dust_index, dust_ratio: (n_sn,) host metallicity and dust parameters.
        age_gyr: (n_sn,) progenitor age [Gyr] (time since its stars formed).
        progenitor_logzsol: (n_sn,) progenitor metallicity log10(Z / Z_sun).
        x1_int, c_int: (n_sn,) intrinsic SALT-like stretch and colour.
        delta_m: (n_sn,) host-dependent magnitude offset [mag].
        M_int: (n_sn,) intrinsic absolute magnitude [mag].
        A_V, R_V, E_BV: (n_sn,) SN host-dust extinction [mag], ratio, reddening [mag].
        M: (n_sn,) extinguished absolute magnitude, M_int + A_V + E_BV [mag].
        c_ext: (n_sn,) reddened colour, c_int + E_BV.
        mu: (n_sn,) distance modulus [mag].
        m_true: (n_sn,) noiseless apparent magnitude, M + mu [mag].
        var_m, var_x1, var_c: (n_sn,) measurement variances W_mm, W_xx, W_cc.
        m_obs, x1_obs, c_obs: (n_sn,) observed light-curve summaries.
        p_det: (n_sn,) SN detection probability used by the selection.
        z_spec: (n_sn,) spectroscopic redshift value (meaningful only where ``has_spec``).
        host_mag: (n_sn, n_band) noiseless host apparent magnitudes [mag].
        host_mag_obs: (n_sn, n_band) observed host magnitudes [mag].
        host_mag_err: (n_sn, n_band) their 1-sigma errors [mag].
        n_sn_total: () int32, the Poisson number of supernovae before clipping to ``n_sn``.
        expected_n_sn: () expected number of supernovae (the Poisson mean).
        overflow: () bool, ``n_sn_total > n_sn`` (the surplus supernovae were dropped): an error.
        n_hosts_detected: () int32, bank galaxies detected in every band.
        prune_violated: () bool, the cosmology makes some pruned (assumed never-detectable)
            galaxy detectable, so the simulation is wrong: an error (see
            :class:`~cigars.survey.DetectHosts`).
        distances: the per-simulation :class:`~cigars.cosmology.DistanceTable` (or ``None``).
        host_detected: (n_host,) bool work array of the host-detection stage; the
            :class:`~cigars.simulate.Simulator` drops it (``None``) from its output.
    """

    mask: Bool[Array, " n_sn"]
    valid: Bool[Array, " n_sn"]
    detected: Bool[Array, " n_sn"]
    has_spec: Bool[Array, " n_sn"]
    host_index: Int[Array, " n_sn"]
    bank_index: Int[Array, " n_sn"]
    sfh_bin: Int[Array, " n_sn"]
    z_cos: Float[Array, " n_sn"]
    z_cmb: Float[Array, " n_sn"]
    z_hel: Float[Array, " n_sn"]
    v_pec_kms: Float[Array, " n_sn"]
    cos_dipole: Float[Array, " n_sn"]
    logmass: Float[Array, " n_sn"]
    logzsol: Float[Array, " n_sn"]
    dust2: Float[Array, " n_sn"]
    dust_index: Float[Array, " n_sn"]
    dust_ratio: Float[Array, " n_sn"]
    age_gyr: Float[Array, " n_sn"]
    progenitor_logzsol: Float[Array, " n_sn"]
    x1_int: Float[Array, " n_sn"]
    c_int: Float[Array, " n_sn"]
    delta_m: Float[Array, " n_sn"]
    M_int: Float[Array, " n_sn"]
    A_V: Float[Array, " n_sn"]
    R_V: Float[Array, " n_sn"]
    E_BV: Float[Array, " n_sn"]
    M: Float[Array, " n_sn"]
    c_ext: Float[Array, " n_sn"]
    mu: Float[Array, " n_sn"]
    m_true: Float[Array, " n_sn"]
    var_m: Float[Array, " n_sn"]
    var_x1: Float[Array, " n_sn"]
    var_c: Float[Array, " n_sn"]
    m_obs: Float[Array, " n_sn"]
    x1_obs: Float[Array, " n_sn"]
    c_obs: Float[Array, " n_sn"]
    p_det: Float[Array, " n_sn"]
    z_spec: Float[Array, " n_sn"]
    host_mag: Float[Array, "n_sn n_band"]
    host_mag_obs: Float[Array, "n_sn n_band"]
    host_mag_err: Float[Array, "n_sn n_band"]
    n_sn_total: Int[Array, ""]
    expected_n_sn: Float[Array, ""]
    overflow: Bool[Array, ""]
    n_hosts_detected: Int[Array, ""]
    prune_violated: Bool[Array, ""]
    distances: Any = None
    host_detected: Bool[Array, " n_host"] | None = None

    @classmethod
    def empty(cls, n_sn: int, n_band: int, dtype: Any = None) -> Catalogue:
        """An all-invalid catalogue with ``n_sn`` slots and ``n_band`` host bands.

        Args:
            n_sn: number of supernova slots (static).
            n_band: number of host photometric bands (static).
            dtype: float dtype (default: JAX's default float, float32 unless x64 is on).

        Returns:
            The catalogue with zero floats, ``False`` masks and zero counts.

        Raises:
            ValueError: if ``n_sn`` or ``n_band`` is not a positive int.
        """
        for name, v in (("n_sn", n_sn), ("n_band", n_band)):
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise ValueError(f"Catalogue.empty: {name} must be a positive int, got {v!r}")
        dtype = jnp.result_type(float) if dtype is None else dtype
        fields: dict[str, Any] = {}
        fields.update({k: jnp.zeros((n_sn,), dtype) for k in _SLOT_FLOATS})
        fields.update({k: jnp.zeros((n_sn, n_band), dtype) for k in _SLOT_BAND_FLOATS})
        fields.update({k: jnp.zeros((n_sn,), bool) for k in _SLOT_BOOLS})
        fields["detected"] = jnp.ones((n_sn,), bool)
        fields.update({k: jnp.zeros((n_sn,), jnp.int32) for k in _SLOT_INTS})
        return cls(
            **fields,
            n_sn_total=jnp.zeros((), jnp.int32),
            expected_n_sn=jnp.zeros((), dtype),
            overflow=jnp.zeros((), bool),
            n_hosts_detected=jnp.zeros((), jnp.int32),
            prune_violated=jnp.zeros((), bool),
        )

    @property
    def n_slots(self) -> int:
        """The static number of supernova slots (``n_max``)."""
        return self.mask.shape[-1]

    @property
    def n_detected(self) -> Int[Array, "*batch"]:
        """Number of supernovae in the observed set, ``mask.sum()``."""
        return jnp.sum(self.mask, axis=-1)

    def to_numpy(self, fields: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
        """The observed set as NumPy arrays: only ``mask`` rows, ``z_spec`` NaN without a spectrum.

        Host-side (not for ``jit``): boolean indexing with the concrete mask.

        Args:
            fields: which per-supernova fields to return (default: all of them).

        Returns:
            A mapping of field name to an array whose first axis is the detected supernovae.

        Raises:
            ValueError: if the catalogue is batched or a field name is unknown.
        """
        if self.mask.ndim != 1:
            raise ValueError(
                f"Catalogue.to_numpy: expects one survey, got mask of shape {self.mask.shape}; "
                "index the batch first"
            )
        names = _SLOT_FLOATS + _SLOT_BOOLS + _SLOT_INTS + _SLOT_BAND_FLOATS
        fields = names if fields is None else fields
        unknown = [f for f in fields if f not in names]
        if unknown:
            raise ValueError(f"Catalogue.to_numpy: unknown field {unknown[0]!r}")
        keep = np.asarray(self.mask)
        out = {f: np.asarray(getattr(self, f))[keep] for f in fields}
        if "z_spec" in out:
            has = np.asarray(self.has_spec)[keep]
            out["z_spec"] = np.where(has, out["z_spec"], np.nan)
        return out


class AbstractStage(struct.PyTreeNode, abc.ABC):
    """One step of the forward model: ``stage(key, theta, catalogue) -> catalogue``.

    Stages are immutable PyTrees: arrays they need (bank columns, tables) are leaves, so a
    :class:`~cigars.simulate.Simulator` passes them to ``jit`` as arguments rather than baking
    them in as constants; structural choices are static fields. Stages are pure: the same key,
    parameters and catalogue give the same result.
    """

    @abc.abstractmethod
    def __call__(self, key: Key, theta: Any, catalogue: Catalogue) -> Catalogue:
        """Apply the stage.

        Args:
            key: PRNG key for this stage (split it; never reuse it).
            theta: the global parameters (a :class:`~cigars.simulate.Theta`).
            catalogue: the survey so far.

        Returns:
            The updated catalogue (same shapes).
        """
