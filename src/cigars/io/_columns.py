"""Column maps: which file column holds which cigars field, in which units.

A column map is a small YAML file parsed strictly (unknown keys are errors naming the file and
the key) into a frozen :class:`ColumnMap`. Shipped maps live in ``cigars/io/maps/`` and are
named without the extension (``pantheonplus``, ``des-sn5yr``). Example::

    name: my-survey
    id: SNID
    x0: {column: x0, err: x0ERR}        # SALT amplitude: m_b = -2.5 log10(x0) + x0_zero_point
    x1: {column: x1, err: x1ERR}
    c: {column: c, var: c_VAR}          # `var:` for a variance column, `err:` for a 1-sigma error
    cov_x1_c: COV_x1_c
    cov_x0_x1: COV_x1_x0                # converted to cov(m_b, x1) with dm/dx0 = -2.5/(ln 10 x0)
    z_spec: {column: zHEL, err: zHELERR, missing: [-9]}
    host_mags:                          # keyed by speclite filter name (the model's bands)
      decam2014-g: {mag: MAG_g, err: MAGERR_g, missing: [-999, 99]}
    host_mag_system: AB                 # or Vega, with `ab_offset` per band (AB = Vega + offset)
    host_mag_err_floor: 0.02            # added in quadrature to every host-magnitude error

The cigars fields a map produces are the columns :func:`cigars.io.write_mock` writes
(``id``, ``host_mag_<band>``, ``host_mag_err_<band>``, ``m_b``, ``x1``, ``c``, ``var_m_b``,
``var_x1``, ``var_c``, ``z_spec``) plus ``cov_m_b_x1``, ``cov_m_b_c``, ``cov_x1_c``,
``z_spec_err``, ``z_hel``, ``z_cmb``, ``z_hd`` (and ``*_err``), ``host_logmass`` and
``host_logmass_err``.
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path
from typing import Literal

from cigars._config import Config, ConfigError, bounded, from_dict, load_yaml

__all__ = [
    "SALT_X0_ZERO_POINT",
    "ColumnMap",
    "HostBandColumns",
    "JoinColumns",
    "QuantityColumns",
    "load_column_map",
    "shipped_column_maps",
]

SALT_X0_ZERO_POINT = 10.635
"""SNANA's SALT2/SALT3 convention m_B = -2.5 log10(x0) + 10.635 (Pantheon+ and DES-SN5YR use it)."""


class QuantityColumns(Config):
    """One measured quantity: its value column and its uncertainty (a 1-sigma error or a variance).

    Attributes:
        column: the file column of the value.
        err: the file column of its 1-sigma error (same units as the value).
        var: the file column of its variance (instead of ``err``).
        missing: values that mean "no measurement" in this file (e.g. -9, -999, 99); they are
            read as NaN in both the value and the uncertainty.
    """

    column: str
    err: str | None = None
    var: str | None = None
    missing: tuple[float, ...] = ()

    def validate(self) -> None:
        """Check that at most one of ``err`` and ``var`` is given.

        Raises:
            ValueError: if both are given.
        """
        if self.err is not None and self.var is not None:
            raise ValueError("give either 'err' (1-sigma error) or 'var' (variance), not both")


class HostBandColumns(Config):
    """Host-galaxy magnitude and error columns of one band.

    Attributes:
        mag: the file column of the magnitude.
        err: the file column of its 1-sigma error [mag].
        ab_offset: AB minus Vega magnitude of this band (required if the map's
            ``host_mag_system`` is ``Vega``; the magnitude read is ``mag + ab_offset``).
        missing: values that mean "no measurement" (read as NaN).
    """

    mag: str
    err: str
    ab_offset: float | None = None
    missing: tuple[float, ...] = ()


class JoinColumns(Config):
    """A second file joined row by row on an ID (e.g. a SNANA HEAD table holding host photometry).

    Attributes:
        file: the other file; a relative path is taken relative to the main file's folder.
        key: the ID column in the main file.
        other_key: the ID column in the other file (IDs are compared as stripped text).
        prefix: prepended to the other file's column names (so the map can tell them apart).
        hdu: FITS extension of the other file (default: its first table).
    """

    file: str
    key: str
    other_key: str
    prefix: str = ""
    hdu: int | str | None = None


class ColumnMap(Config):
    """Which file columns hold the cigars catalogue fields, and their units.

    Attributes:
        name: a label recorded with the data.
        description: free text (where the file comes from, caveats).
        format: ``auto`` (from the file extension) or one of ``csv``, ``ecsv``, ``fits``,
            ``snana`` (``VARNAMES:``/``SN:`` text, also a plain whitespace table with one
            header line).
        hdu: FITS extension of the main file (default: the first table, or ``CATALOGUE`` of a
            cigars mock).
        join: an optional second file joined on an ID.
        id: the object ID column (default: the row number).
        m_b: SALT peak magnitude m_B [mag] and its error or variance.
        x0: SALT amplitude x0 (dimensionless flux scale); gives ``m_b`` when ``m_b`` is not
            mapped, and converts ``cov_x0_*`` into magnitude covariances in any case.
        x0_zero_point: Z in m_B = -2.5 log10(x0) + Z.
        x1, c: SALT stretch and colour and their errors or variances.
        cov_x1_c: cov(x1, c) column.
        cov_m_b_x1, cov_m_b_c: covariances of m_B with x1 and c [mag].
        cov_x0_x1, cov_x0_c: covariances of x0 with x1 and c (converted to magnitudes; need
            ``x0``).
        z_spec: the spectroscopic (heliocentric) redshift the model conditions on; NaN or a
            ``missing`` value means "no spectrum".
        z_hel, z_cmb, z_hd: heliocentric, CMB-frame and Hubble-diagram redshifts (carried along).
        host_logmass: host log10 stellar mass [M_sun] (carried along; not used by the model).
        host_mags: host magnitudes per band, keyed by speclite filter name (``decam2014-g``).
        host_mag_system: ``AB`` or ``Vega`` (then every band needs ``ab_offset``).
        host_mag_err_floor: added in quadrature to every non-negative host-magnitude error
            [mag] (e.g. for errors rounded to 0).
        keep: other file columns copied unchanged into the catalogue (e.g. ``IDSURVEY``).
    """

    name: str = "custom"
    description: str = ""
    format: Literal["auto", "csv", "ecsv", "fits", "snana"] = "auto"
    hdu: int | str | None = None
    join: JoinColumns | None = None
    id: str | None = None
    m_b: QuantityColumns | None = None
    x0: QuantityColumns | None = None
    x0_zero_point: float = SALT_X0_ZERO_POINT
    x1: QuantityColumns | None = None
    c: QuantityColumns | None = None
    cov_x1_c: str | None = None
    cov_m_b_x1: str | None = None
    cov_m_b_c: str | None = None
    cov_x0_x1: str | None = None
    cov_x0_c: str | None = None
    z_spec: QuantityColumns | None = None
    z_hel: QuantityColumns | None = None
    z_cmb: QuantityColumns | None = None
    z_hd: QuantityColumns | None = None
    host_logmass: QuantityColumns | None = None
    host_mags: dict[str, HostBandColumns] = dataclasses.field(default_factory=dict)
    host_mag_system: Literal["AB", "Vega"] = "AB"
    host_mag_err_floor: float = bounded(0.0, ge=0.0, le=5.0)
    keep: tuple[str, ...] = ()

    def validate(self) -> None:
        """Check the map's internal consistency.

        Raises:
            ValueError: if x0 covariances are mapped without ``x0``, a Vega band lacks its
                ``ab_offset``, or a band is not a known speclite filter name.
        """
        if (self.cov_x0_x1 or self.cov_x0_c) and self.x0 is None:
            raise ValueError("cov_x0_x1/cov_x0_c need the 'x0' column to convert to magnitudes")
        labels = [band.split("-")[-1] for band in self.host_mags]
        for label in labels:
            if labels.count(label) > 1:
                raise ValueError(f"host_mags: two filters share the band label {label!r}")
        for band, cols in self.host_mags.items():
            if "-" not in band:
                raise ValueError(
                    f"host_mags: {band!r} is not a speclite filter name like 'decam2014-g'"
                )
            if self.host_mag_system == "Vega" and cols.ab_offset is None:
                raise ValueError(
                    f"host_mags.{band}: host_mag_system is Vega, so 'ab_offset' (AB - Vega) "
                    "is required"
                )

    @property
    def filters(self) -> tuple[str, ...]:
        """The host bands' speclite filter names, in map order."""
        return tuple(self.host_mags)


def shipped_column_maps() -> tuple[str, ...]:
    """Names of the column maps shipped with cigars (``cigars/io/maps/*.yaml``)."""
    folder = resources.files("cigars.io") / "maps"
    return tuple(
        sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))
    )


def load_column_map(name_or_path: str | Path | ColumnMap) -> ColumnMap:
    """A column map from a YAML file, or a shipped map by name (``pantheonplus``, ``des-sn5yr``).

    Args:
        name_or_path: a path to a YAML file, a shipped map's name, or a :class:`ColumnMap`.

    Returns:
        The parsed, validated :class:`ColumnMap`.

    Raises:
        ConfigError: naming the file and key of anything invalid, or the unknown map name.

    Example:
        >>> load_column_map("pantheonplus").m_b.column
        'mB'
    """
    if isinstance(name_or_path, ColumnMap):
        return name_or_path
    path = Path(name_or_path)
    if not path.is_file():
        name = str(name_or_path)
        if name in shipped_column_maps():
            ref = resources.files("cigars.io") / "maps" / f"{name}.yaml"
            with resources.as_file(ref) as shipped:
                return from_dict(ColumnMap, load_yaml(shipped), file=shipped)
        raise ConfigError(
            f"no such file or shipped column map; shipped maps: {list(shipped_column_maps())}",
            file=path,
        )
    return from_dict(ColumnMap, load_yaml(path), file=path)
