r"""Stellar population synthesis: rest-frame spectra of galaxies from SSP grids or an emulator.

One interface, :class:`AbstractSPS`, whose one abstract method returns a galaxy's rest-frame
:math:`L_\lambda` [L_sun / Å] averaged over the provider's wavelength bins ``wave_edges``:

- :class:`SSPGridSPS`: a 7-bin non-parametric SFH over an :class:`~cigars.hosts._ssp.SSPGrid`, with
  Kriek & Conroy (2013) diffuse dust and birth-cloud dust on stars younger than 10^7 yr.
- :class:`SpeculatorSPS`: the Speculator (Alsing et al. 2020) emulator of Prospector-alpha spectra
  used by the CIGaRS reference (``speculator_alpha.npz``).

Both are written for one galaxy; batch with ``jax.vmap`` over the :class:`HostParams` (and SFH
arrays), keeping the provider unbatched (``in_axes=None``).
"""

from __future__ import annotations

import abc
import math
import os
from pathlib import Path
from typing import final

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from cigars._types import Array, Float
from cigars.dust import KriekConroy2013, PowerLawAttenuation
from cigars.hosts._params import N_SFH_BINS, HostParams
from cigars.hosts._ssp import SSPGrid

__all__ = [
    "L_SUN_ERG_S",
    "AbstractSPS",
    "SSPGridSPS",
    "SpeculatorSPS",
    "age_bin_weights",
    "metallicity_weights",
]

L_SUN_ERG_S = 3.828e33
"""Nominal solar luminosity [erg/s] (IAU 2015 Resolution B3), the unit of every L_lambda here."""
_PC_CM = 3.085_677_581_491_367_3e18  # parsec [cm]
_C_AA_S = 2.997_924_58e18  # speed of light [Angstrom / s]
_AB_FNU = 3631e-23  # AB reference flux density [erg / s / cm^2 / Hz]
_LN10 = math.log(10.0)
LOG_T_BIRTH_CLOUD = 7.0
"""log10 of the age [yr] below which stars sit in birth clouds (FSPS ``dust_tesc``)."""


class AbstractSPS(struct.PyTreeNode, abc.ABC):
    r"""A provider of galaxy rest-frame spectra on fixed wavelength bins.

    Attributes:
        wave: bin centres [Angstrom], shape (n_wave,).
        wave_edges: bin edges [Angstrom], strictly increasing, shape (n_wave + 1,).
    """

    wave: Float[Array, " n_wave"]
    wave_edges: Float[Array, " n_edge"]

    @abc.abstractmethod
    def rest_sed(
        self,
        host: HostParams,
        log_age_edges: Float[Array, " n_edge_sfh"] | None = None,
        bin_masses: Float[Array, " n_bin"] | None = None,
    ) -> Float[Array, " n_wave"]:
        r"""Rest-frame :math:`L_\lambda` [L_sun / Å] of one galaxy, averaged over each bin.

        Args:
            host: the galaxy's parameters (scalar fields, ``logsfr_ratios`` of shape (6,)).
            log_age_edges: log10 lookback-time edges [yr] of the SFH bins, youngest first,
                shape (8,) (from ``cigars.hosts`` SFH code); unused by emulators.
            bin_masses: stellar mass formed in each SFH bin [M_sun], shape (7,), summing to
                10**host.logmass; unused by emulators.
        """


# ------------------------------------------------------------------------------------------------
# SSP-grid provider.


def _ramp_integral(tau_a, tau_c):
    r"""J = ∫_{τa}^{τc} (τ' - τa) ln(10) 10^{τ'} dτ', in closed form.

    J = 10^{τa}/ln10 · [(x - 1) e^x + 1] with x = ln10 (τc - τa). For x < 0.1 the bracket
    uses its series x²/2 + x³/3 + x⁴/8 + x⁵/30 + x⁶/144 (no cancellation).
    """
    x = _LN10 * (tau_c - tau_a)
    xs = jnp.minimum(x, 0.1)
    series = xs * xs * (0.5 + xs * (1 / 3 + xs * (1 / 8 + xs * (1 / 30 + xs / 144))))
    direct = (x - 1.0) * jnp.expm1(x) + x
    return 10.0**tau_a / _LN10 * jnp.where(x < 0.1, series, direct)


def _hat_time_integrals(log_age: Float[Array, " n_age"], tau: Float[Array, ""]):
    r"""∫_0^t φ_k(log10 t') dt' for every node k, t = 10^τ [yr].

    φ_k are the piecewise-linear "hat" functions in log age of the grid nodes (φ_0 = 1 below the
    first node, φ_last = 1 above the last one): the SSP spectrum at age t is Σ_k φ_k S_k.
    """
    a, b = log_age[:-1], log_age[1:]
    c = jnp.clip(tau, a, b)
    rise = _ramp_integral(a, c) / (b - a)  # node k+1 on segment k
    span = 10.0**a * jnp.expm1(_LN10 * (c - a))  # ∫_a^c dt
    fall = span - rise  # node k on segment k
    t = 10.0**tau
    zero = jnp.zeros((1,), dtype=rise.dtype)
    first = jnp.minimum(t, 10.0 ** log_age[0])
    last = jnp.maximum(t - 10.0 ** log_age[-1], 0.0)
    return (
        jnp.concatenate([fall, zero])
        + jnp.concatenate([zero, rise])
        + jnp.concatenate([first[None], jnp.zeros_like(a)])
        + jnp.concatenate([jnp.zeros_like(a), last[None]])
    )


def age_bin_weights(
    log_age: Float[Array, " n_age"],
    log_age_edges: Float[Array, " n_edge_sfh"],
    log_t_split: float | Float[Array, ""] = LOG_T_BIRTH_CLOUD,
) -> tuple[Float[Array, "n_bin n_age"], Float[Array, "n_bin n_age"]]:
    r"""Weights of SSP age nodes giving each SFH bin's time-averaged spectrum per unit mass.

    For constant star formation within a bin :math:`[t_{lo}, t_{hi}]` (lookback time), the
    spectrum per unit mass formed is the time average of the SSP spectrum,

    .. math::

        \bar S = \frac{1}{t_{hi} - t_{lo}}\int_{t_{lo}}^{t_{hi}} S(t)\,dt
               = \sum_k w_k S_k,\qquad
        w_k = \frac{1}{t_{hi} - t_{lo}}\int_{t_{lo}}^{t_{hi}} \phi_k(\log_{10} t)\,dt,

    with :math:`S(t)` interpolated linearly in log age between the nodes (constant beyond the
    ends). The integrals are exact (closed form for linear-in-log-t on a linear-t measure).
    The second output is the part of each bin younger than :math:`10^{\rm log\_t\_split}` yr,
    normalised by the same full bin width (its row sums are the young mass fractions).

    Args:
        log_age: node ages log10(t/yr), strictly increasing, shape (n_age,).
        log_age_edges: SFH bin edges log10(t/yr), increasing, shape (n_bin + 1,).
        log_t_split: log10 of the birth-cloud age [yr].

    Returns:
        ``(w_total, w_young)``, each of shape (n_bin, n_age); rows of ``w_total`` sum to 1.
    """
    lo, hi = log_age_edges[:-1], log_age_edges[1:]
    split = jnp.clip(log_t_split, lo, hi)
    integ = jax.vmap(lambda tau: _hat_time_integrals(log_age, tau))
    i_edges = integ(log_age_edges)
    i_split = integ(split)
    width = (10.0**hi - 10.0**lo)[:, None]
    return (i_edges[1:] - i_edges[:-1]) / width, (i_split - i_edges[:-1]) / width


def metallicity_weights(nodes: Float[Array, " n"], value: Float[Array, ""]) -> Float[Array, " n"]:
    """Linear-interpolation weights of ``value`` on increasing ``nodes`` (clipped to the ends)."""
    n = nodes.shape[0]
    x = jnp.clip(value, nodes[0], nodes[-1])
    j = jnp.clip(jnp.searchsorted(nodes, x, side="right"), 1, n - 1)
    f = (x - nodes[j - 1]) / (nodes[j] - nodes[j - 1])
    idx = jnp.arange(n)
    return jnp.where(idx == j - 1, 1.0 - f, 0.0) + jnp.where(idx == j, f, 0.0)


@final
class SSPGridSPS(AbstractSPS):
    r"""Galaxy spectra from an SSP grid, a binned SFH, metallicity and two-component dust.

    .. math::

        L_\lambda = e^{-\tau_2(\lambda)}\Bigl[\sum_b m_b \bar S_b(\lambda)
                    - \bigl(1 - e^{-\tau_1(\lambda)}\bigr)\sum_b m_b \bar S^{young}_b(\lambda)\Bigr]

    - :math:`\bar S_b` is the SSP spectrum averaged over the lookback-time span of SFH bin b
      (constant SFR within the bin; :func:`age_bin_weights`), interpolated linearly in logzsol
      between grid metallicities (clipped to the grid's range);
    - :math:`\bar S^{young}_b` is the same integral restricted to ages below
      :math:`10^7` yr (FSPS ``dust_tesc``): with the CIGaRS bins this is the first third of the
      0-30 Myr bin, split exactly (the birth-cloud dust acts on that fraction only);
    - :math:`\tau_2`: :class:`~cigars.dust.KriekConroy2013` (``dust2``, ``dust_index``);
      :math:`\tau_1 = {\rm dust1}\,(\lambda/5500)^{-1}` with dust1 = dust_ratio x dust2
      (Prospector-alpha's ``dust1_index = -1``), applied on top of :math:`\tau_2` to young stars.

    Nebular emission is whatever the grid contains (PopStar ``nebular=True``: gas at the
    stellar metallicity; ``gas_logz``, ``ln_fagn``, ``ln_agn_tau`` are ignored). There is no
    dust emission and no IGM absorption.

    Build with :meth:`from_grid`. Attributes are the grid's arrays; ``n_young`` (static) is the
    number of age nodes whose support reaches below the birth-cloud age.
    """

    log_age: Float[Array, " n_age"]
    logzsol: Float[Array, " n_Z"]
    flux: Float[Array, "n_Z n_age n_wave"]
    surviving: Float[Array, "n_Z n_age"]
    n_young: int = struct.field(pytree_node=False, default=1)
    log_t_bc: float = struct.field(pytree_node=False, default=LOG_T_BIRTH_CLOUD)

    @classmethod
    def from_grid(
        cls, grid: SSPGrid, dtype=jnp.float32, log_t_bc: float = LOG_T_BIRTH_CLOUD
    ) -> SSPGridSPS:
        """The provider for ``grid`` with arrays cast to ``dtype`` (float32 is ~2x faster)."""
        log_age = np.asarray(grid.log_age, float)
        # Nodes k with t_{k-1} < t_bc contribute to the young part; node 0 always does.
        n_young = int(min(np.searchsorted(log_age, log_t_bc, side="left") + 1, log_age.size))
        cast = lambda a: jnp.asarray(np.asarray(a), dtype=dtype)  # noqa: E731
        return cls(
            wave=cast(grid.wave),
            wave_edges=cast(grid.wave_edges),
            log_age=cast(grid.log_age),
            logzsol=cast(grid.logzsol),
            flux=cast(grid.flux),
            surviving=cast(grid.surviving),
            n_young=n_young,
            log_t_bc=float(log_t_bc),
        )

    def _weights(self, host, log_age_edges, bin_masses):
        if log_age_edges is None or bin_masses is None:
            raise ValueError(
                "SSPGridSPS needs the SFH bins: log_age_edges (8,) and bin_masses (7,)"
            )
        if log_age_edges.shape[-1] != bin_masses.shape[-1] + 1:
            raise ValueError(
                f"log_age_edges {log_age_edges.shape} must have one more entry than "
                f"bin_masses {bin_masses.shape} (n_bin = {N_SFH_BINS} in CIGaRS)"
            )
        dtype = self.flux.dtype
        w_tot, w_young = age_bin_weights(
            self.log_age, jnp.asarray(log_age_edges, dtype), self.log_t_bc
        )
        masses = jnp.asarray(bin_masses, dtype)
        zw = metallicity_weights(self.logzsol, jnp.asarray(host.logzsol, dtype))
        return masses @ w_tot, masses @ w_young[:, : self.n_young], zw

    def rest_sed(
        self,
        host: HostParams,
        log_age_edges: Float[Array, " n_edge_sfh"] | None = None,
        bin_masses: Float[Array, " n_bin"] | None = None,
    ) -> Float[Array, " n_wave"]:
        r"""Rest-frame :math:`L_\lambda` [L_sun / Å] of one galaxy (see the class docstring)."""
        a_tot, a_young, zw = self._weights(host, log_age_edges, bin_masses)
        n_z, n_age, n_wave = self.flux.shape
        ny = self.n_young
        l_tot = (zw[:, None] * a_tot[None, :]).reshape(-1) @ self.flux.reshape(-1, n_wave)
        l_young = (zw[:, None] * a_young[None, :]).reshape(-1) @ self.flux[:, :ny].reshape(
            -1, n_wave
        )
        dtype = self.flux.dtype
        dust2 = jnp.asarray(host.dust2, dtype)
        diffuse = KriekConroy2013(dust2=dust2, dust_index=jnp.asarray(host.dust_index, dtype))
        birth = PowerLawAttenuation(tau_v=jnp.asarray(host.dust_ratio, dtype) * dust2, index=-1.0)
        return diffuse.transmission(self.wave) * (
            l_tot - (1.0 - birth.transmission(self.wave)) * l_young
        )

    def surviving_logmass(
        self,
        host: HostParams,
        log_age_edges: Float[Array, " n_edge_sfh"],
        bin_masses: Float[Array, " n_bin"],
    ) -> Float[Array, ""]:
        r"""log10 of the present stellar mass (stars + remnants) [M_sun].

        :math:`\log_{10}\sum_b m_b \sum_k w_{bk} f_k([Z])`, with the same age weights and
        metallicity interpolation as the spectrum (surviving fractions of the grid).
        """
        a_tot, _, zw = self._weights(host, log_age_edges, bin_masses)
        return jnp.log10(zw @ self.surviving @ a_tot)


# ------------------------------------------------------------------------------------------------
# Speculator emulator provider.


@struct.dataclass
class _SpeculatorNet:
    """One Speculator sub-emulator (one wavelength range): MLP -> PCA coefficients -> log L."""

    x_shift: Float[Array, " 14"]
    x_scale: Float[Array, " 14"]
    weights: tuple  # ((out, in) arrays)
    biases: tuple
    alphas: tuple  # gated-activation parameters, one per hidden layer
    betas: tuple
    pca_shift: Float[Array, " n_pca"]
    pca_scale: Float[Array, " n_pca"]
    pca_matrix: Float[Array, "n_pca n_pix"]
    log_scale: Float[Array, " n_pix"]
    log_shift: Float[Array, " n_pix"]

    def log_spectrum(self, x: Float[Array, " 14"]) -> Float[Array, " n_pix"]:
        """The emulated natural-log spectrum for one standardised-on-the-fly input vector."""
        h = (x - self.x_shift) / self.x_scale
        n_layers = len(self.weights)
        for i in range(n_layers):
            h = self.weights[i] @ h + self.biases[i]
            if i < n_layers - 1:
                h = (self.betas[i] + (1.0 - self.betas[i]) * jax.nn.sigmoid(self.alphas[i] * h)) * h
        coeff = h * self.pca_scale + self.pca_shift
        return (coeff @ self.pca_matrix) * self.log_scale + self.log_shift


def _load_net(arrays: dict, k: int, dtype, path) -> _SpeculatorNet:
    """Sub-emulator ``k`` from the arrays of ``speculator_alpha.npz``."""
    p = f"sub{k}_"
    n_layers = sum(1 for f in arrays if f.startswith(p + "layer") and f.endswith("_weight"))
    if n_layers == 0:
        raise ValueError(f"{path}: no layers for sub-emulator {k}")

    def get(name):
        if name not in arrays:
            raise ValueError(f"{path}: missing array {name!r}")
        return jnp.asarray(arrays[name], dtype)

    hidden = range(n_layers - 1)
    return _SpeculatorNet(
        x_shift=get(p + "parameters_shift"),
        x_scale=get(p + "parameters_scale"),
        weights=tuple(get(f"{p}layer{i}_weight") for i in range(n_layers)),
        biases=tuple(get(f"{p}layer{i}_bias") for i in range(n_layers)),
        alphas=tuple(get(f"{p}layer{i}_act_alpha") for i in hidden),
        betas=tuple(get(f"{p}layer{i}_act_beta") for i in hidden),
        pca_shift=get(p + "pca_shift"),
        pca_scale=get(p + "pca_scale"),
        pca_matrix=get(p + "pca_transform_matrix"),
        log_scale=get(p + "log_spectrum_scale"),
        log_shift=get(p + "log_spectrum_shift"),
    )


def _merge_plan(edges: np.ndarray, min_dlnlam: float):
    """Runs of (near-)equal pixels merged k at a time so bins reach ~``min_dlnlam`` in ln(lambda).

    Returns:
        ``(plan, weights, merged_edges)``: static ``(start, stop, k)`` pixel runs covering all
        pixels in order, per-pixel weights (width / merged-bin width; 1 for unmerged pixels),
        and the merged bin edges.
    """
    widths = np.diff(edges)
    n = widths.size
    plan = []
    i = 0
    while i < n:
        j = i + 1
        while j < n and abs(widths[j] / widths[i] - 1.0) < 0.01:
            j += 1
        k = int(min_dlnlam * edges[i] / widths[i]) if min_dlnlam > 0 else 1
        if k > 1 and j - i >= k:
            m = i + (j - i) // k * k
            plan.append((i, m, k))
            if m < j:
                plan.append((m, j, 1))
        else:
            plan.append((i, j, 1))
        i = j
    merged = []  # join neighbouring unmerged runs
    for a, b, k in plan:
        if merged and k == 1 and merged[-1][2] == 1:
            merged[-1] = (merged[-1][0], b, 1)
        else:
            merged.append((a, b, k))
    weights = np.ones(n)
    new_edges = [edges[0]]
    for a, b, k in merged:
        if k == 1:
            new_edges.extend(edges[a + 1 : b + 1])
        else:
            group = widths[a:b].reshape(-1, k)
            weights[a:b] = (group / group.sum(axis=1, keepdims=True)).ravel()
            new_edges.extend(edges[a + k : b + 1 : k])
    return tuple(merged), weights, np.asarray(new_edges)


def _pixel_edges(centres: np.ndarray) -> np.ndarray:
    mid = 0.5 * (centres[1:] + centres[:-1])
    return np.concatenate([[centres[0] - (mid[0] - centres[0])], mid,
                           [centres[-1] + (centres[-1] - mid[-1])]])  # fmt: skip


@final
class SpeculatorSPS(AbstractSPS):
    r"""The Speculator emulator of Prospector-alpha rest-frame spectra (CIGaRS reference SPS).

    Each sub-emulator maps the 14-vector
    x = (logzsol, logsfr_ratios[0:6], sqrt(dust2), dust_index, dust_ratio, ln_fagn, ln_agn_tau,
    gas_logz, z) through: standardisation :math:`h = (x - {\rm shift})/{\rm scale}`; dense layers
    with the gated activation :math:`a(y) = [\beta + (1-\beta)\sigma(\alpha y)]\,y` on all but the
    last; PCA coefficients :math:`c = h\,s_{pca} + \mu_{pca}`; log spectrum
    :math:`s = (c\,P)\,s_{log} + \mu_{log}` (Alsing et al. 2020, ApJS 249, 5). Then

    .. math::

        L_\lambda = e^{s(\lambda)}\,10^{\rm logmass}\;\frac{3631\,{\rm Jy}\cdot 4\pi(10\,{\rm pc})^2
                    \cdot c}{\lambda^2\,L_\odot}\quad[L_\odot/Å],

    i.e. :math:`e^s` is the maggies-at-10-pc spectrum per solar mass formed (README of the
    reference data). ``z`` only sets the age of the universe for the SFH inside the emulator;
    the output is rest-frame. Pixels are treated as bins between midpoints of adjacent pixels.

    By default runs of equal-width pixels narrower than ``min_dlnlam`` (the 0.9 Å MILES pixels,
    3600-7400 Å) are merged k at a time into flux-conserving bins (width-weighted means), which
    cuts the photometry cost ~5x and changes broad-band magnitudes by < 1e-3 mag; ``wave`` and
    ``wave_edges`` describe the merged bins.

    Build with :meth:`from_npz`. Attributes: ``nets`` (the sub-emulators used), ``log_offset``
    (per-pixel unit conversion, ln of the fraction above without e^s and mass),
    ``merge_weights`` (per-pixel weight within its merged bin) and ``merge_plan`` (static
    ``(start, stop, k)`` pixel runs merged k at a time).
    """

    nets: tuple
    log_offset: Float[Array, " n_pix"]
    merge_weights: Float[Array, " n_pix"]
    merge_plan: tuple = struct.field(pytree_node=False, default=())

    @classmethod
    def from_npz(
        cls,
        path: str | os.PathLike,
        n_sub: int = 2,
        dtype=jnp.float32,
        min_dlnlam: float = 0.002,
    ) -> SpeculatorSPS:
        """Load ``speculator_alpha.npz`` (layout in the reference data README).

        Args:
            path: the ``.npz`` file.
            n_sub: number of sub-emulators to use, from the blue end: 1 (1005-4000 A),
                2 (to 10975 A; the reference's choice), 3 (to 29.9 micron).
            dtype: array dtype.
            min_dlnlam: merge runs of equal pixels up to about this width in ln(lambda);
                0 keeps the native pixels.

        Raises:
            ValueError: for a missing file, a bad ``n_sub`` or missing arrays.
        """
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"Speculator emulator file not found: {path}")
        if n_sub not in (1, 2, 3):
            raise ValueError(f"n_sub must be 1, 2 or 3, got {n_sub}")
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: np.asarray(data[name], np.float64) for name in data.files}
        nets = tuple(_load_net(arrays, k, dtype, path) for k in range(n_sub))
        waves = [arrays[f"sub{k}_wavelengths"] for k in range(n_sub)]
        wave = np.concatenate(waves)
        if not np.all(np.diff(wave) > 0):
            raise ValueError(f"{path}: sub-emulator wavelengths are not increasing")
        const = _AB_FNU * 4 * math.pi * (10 * _PC_CM) ** 2 * _C_AA_S / L_SUN_ERG_S
        log_offset = math.log(const) - 2.0 * np.log(wave)
        edges = _pixel_edges(wave)
        plan, weights, merged_edges = _merge_plan(edges, min_dlnlam)
        centres = np.concatenate(
            [
                wave[a:b] if k == 1 else (wave * weights)[a:b].reshape(-1, k).sum(1)
                for a, b, k in plan
            ]
        )
        return cls(
            wave=jnp.asarray(centres, dtype),
            wave_edges=jnp.asarray(merged_edges, dtype),
            nets=nets,
            log_offset=jnp.asarray(log_offset, dtype),
            merge_weights=jnp.asarray(weights, dtype),
            merge_plan=plan,
        )

    @staticmethod
    def input_vector(host: HostParams, dtype=jnp.float32) -> Float[Array, " 14"]:
        """The emulator's 14 inputs in order (sqrt(dust2) with dust2 floored at 1e-12)."""
        scalars = lambda *v: [jnp.reshape(jnp.asarray(a, dtype), (1,)) for a in v]  # noqa: E731
        return jnp.concatenate(
            scalars(host.logzsol)
            + [jnp.asarray(host.logsfr_ratios, dtype).reshape(6)]
            + scalars(
                jnp.sqrt(jnp.maximum(host.dust2, 1e-12)),
                host.dust_index,
                host.dust_ratio,
                host.ln_fagn,
                host.ln_agn_tau,
                host.gas_logz,
                host.z,
            )
        )

    def rest_sed(
        self,
        host: HostParams,
        log_age_edges: Float[Array, " n_edge_sfh"] | None = None,
        bin_masses: Float[Array, " n_bin"] | None = None,
    ) -> Float[Array, " n_wave"]:
        r"""Rest-frame :math:`L_\lambda` [L_sun / Å] of one galaxy; the SFH arrays are ignored."""
        dtype = self.log_offset.dtype
        x = self.input_vector(host, dtype)
        log_l = jnp.concatenate([net.log_spectrum(x) for net in self.nets])
        pixels = jnp.exp(log_l + self.log_offset + _LN10 * jnp.asarray(host.logmass, dtype))
        weighted = pixels * self.merge_weights
        return jnp.concatenate(
            [
                pixels[a:b] if k == 1 else weighted[a:b].reshape(-1, k).sum(axis=1)
                for a, b, k in self.merge_plan
            ]
        )
