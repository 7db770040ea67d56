"""``cigars infer --method nuts``: NUTS posteriors of a spectroscopic SN sample from a config.

The experiment's ``likelihood`` section picks the model (``standardised`` or ``tripp``), the
columns and the redshift cut; its ``cosmology`` type the cosmological model (e.g.
``flat_lambdacdm``, ``flat_w0wacdm`` with ``wa`` fixed: flat wCDM); its ``prior`` the inferred
parameters (the others fixed at the ``cosmology`` and ``truth`` values). The draws are written
as ArviZ netCDF like the neural ``cigars infer``: globals on (chain, draw), the used rows'
columns as ``observed_data``, the resolved experiment and provenance as attributes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cigars.io._validate import file_row_numbers

if TYPE_CHECKING:
    from cigars.io import RowCut

__all__ = ["file_problem", "infer_nuts", "nuts_problem", "read_covariance"]


def read_covariance(path: str | Path, n: int | None = None) -> np.ndarray:
    """Read a covariance in the Pantheon+ ``.cov`` text format: N, then the N^2 values.

    Args:
        path: the file (whitespace-separated numbers, row-major).
        n: the expected N (the catalogue's row count), or ``None``.

    Returns:
        (N, N) symmetric float64 matrix.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: naming the file, for a wrong count, a non-integer N, a mismatch with ``n``,
            non-finite values or an asymmetric matrix.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        values = np.array(path.read_text().split(), dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"{path}: not a covariance file (numbers only): {err}") from None
    if values.size == 0 or values[0] != int(values[0]) or values[0] < 1:
        raise ValueError(f"{path}: the first value must be the matrix size N (a positive int)")
    size = int(values[0])
    if values.size != 1 + size * size:
        raise ValueError(
            f"{path}: N = {size} needs {size * size} values after it, found {values.size - 1}"
        )
    if n is not None and size != n:
        raise ValueError(f"{path}: the covariance is {size} x {size}, the catalogue has {n} rows")
    cov = values[1:].reshape(size, size)
    if not np.all(np.isfinite(cov)):
        i, j = np.argwhere(~np.isfinite(cov))[0]
        raise ValueError(f"{path}: element ({i}, {j}) is not finite")
    scale = np.sqrt(np.abs(np.diag(cov)))
    asym = np.abs(cov - cov.T) > 1e-6 * np.outer(scale, scale) + 1e-12
    if asym.any():
        i, j = np.argwhere(asym)[0]
        raise ValueError(f"{path}: not symmetric at ({i}, {j}): {cov[i, j]} vs {cov[j, i]}")
    return 0.5 * (cov + cov.T)


def _column(table, name: str, role: str, source: str) -> np.ndarray:
    if name not in table.colnames:
        raise ValueError(
            f"{source}: no column {name!r} (likelihood.columns role {role!r}); the table has "
            f"{', '.join(table.colnames[:30])}{' ...' if len(table.colnames) > 30 else ''}"
        )
    col = table[name]
    return np.asarray(np.ma.filled(col, np.nan) if np.ma.isMaskedArray(col) else col, float)


def _rows(table, cfg, cols: dict[str, str], source: str) -> np.ndarray:
    """Indices of the rows that pass the redshift cut (and the calibrator cut)."""
    z = _column(table, cols["z"], "z", source)
    keep = (z > cfg.z_min) & (z <= cfg.z_max)
    if cfg.exclude_calibrators:
        keep &= _column(table, cols["calibrator"], "calibrator", source) != 1
    rows = np.flatnonzero(keep)
    if rows.size == 0:
        raise ValueError(
            f"{source}: no row passes z in ({cfg.z_min}, {cfg.z_max}]"
            + (" without calibrators" if cfg.exclude_calibrators else "")
        )
    return rows


def _finite(values: dict[str, np.ndarray], rows: np.ndarray, source: str) -> None:
    for name, v in values.items():
        bad = np.flatnonzero(~np.isfinite(v))
        if bad.size:
            raise ValueError(
                f"{source}: row {rows[bad[0]]}, column {name!r}: value {v[bad[0]]} is not finite"
            )


def nuts_problem(exp, table, *, cov: np.ndarray | None = None, source: str = "catalogue"):
    """The numpyro model and its arguments for a catalogue table under an experiment.

    Args:
        exp: the :class:`~cigars.config.Experiment` (needs a ``likelihood`` section).
        table: the catalogue (an astropy Table, e.g. from :func:`cigars.io.read_catalogue`).
        cov: optional full covariance of the ``standardised`` magnitudes over ALL rows of
            ``table`` (cut like the rows).
        source: the file name for error messages.

    Returns:
        ``(model, args, names, rows, observed)``: the numpyro model and its positional
        arguments, the inferred parameter names, the indices of the rows used and their
        columns.

    Raises:
        ValueError: for a missing section, column or value, or a covariance with ``tripp``.
    """
    from cigars.experiment import experiment_truth
    from cigars.likelihood._config import StandardisedLikelihoodConfig, TrippLikelihoodConfig
    from cigars.likelihood._models import StandardisedData, sn_model, standardised_model
    from cigars.likelihood._selection import selection_grid
    from cigars.likelihood._sn import SNData, SNModel
    from cigars.sn import TrippPopulationConfig

    cfg = exp.likelihood
    if cfg is None:
        raise ValueError("the experiment has no 'likelihood' section (needed by --method nuts)")
    prior = exp.prior.build(experiment_truth(exp))
    cosmology = exp.cosmology.type_name
    cols = cfg.column_names()
    rows = _rows(table, cfg, cols, source)
    if isinstance(cfg, StandardisedLikelihoodConfig):
        z = _column(table, cols["z"], "z", source)[rows]
        z_hel = _column(table, cols["z_hel"], "z_hel", source)[rows]
        m = _column(table, cols["m"], "m", source)[rows]
        observed = {"z": z, "z_hel": z_hel, "m": m}
        if cov is None:
            observed["m_err"] = _column(table, cols["m_err"], "m_err", source)[rows]
        _finite(observed, file_row_numbers(table, rows), source)
        if cov is None:
            data = StandardisedData.from_arrays(z, z_hel, m, sigma=observed["m_err"])
        else:
            if cov.shape != (len(table), len(table)):
                raise ValueError(
                    f"the covariance is {cov.shape[0]} x {cov.shape[1]}, {source} has "
                    f"{len(table)} rows"
                )
            data = StandardisedData.from_arrays(z, z_hel, m, cov=cov[np.ix_(rows, rows)])
        return standardised_model, (prior, data, cosmology), prior.names, rows, observed
    if not isinstance(cfg, TrippLikelihoodConfig):
        raise ValueError(f"likelihood type {cfg.type_name!r} is not supported by --method nuts")
    if cov is not None:
        raise ValueError("--cov applies to the 'standardised' likelihood only")
    sim = exp.simulator
    needs_sim = [k for k in ("sn_dust", "var_m_model", "selection") if getattr(cfg, k)]
    if needs_sim and sim is None:
        raise ValueError(f"likelihood.{needs_sim[0]} needs the experiment's simulator section")
    population = (sim.sn_population if sim is not None else TrippPopulationConfig()).build()
    model = SNModel.from_components(
        population,
        sim.sn_dust.build() if cfg.sn_dust else None,
        sim.survey.build() if cfg.var_m_model else None,
        cosmology,
    )
    get = {}
    for name in ("m_b", "x1", "c", "var_m_b", "var_x1", "var_c"):
        get[name] = _column(table, name, name, source)[rows]
    for name in ("cov_m_b_x1", "cov_m_b_c", "cov_x1_c"):
        get[name] = (
            _column(table, name, name, source)[rows]
            if name in table.colnames
            else np.zeros(rows.size)
        )
    known = {}
    for role in ("z", "z_hel", "logmass", "logzsol", "age_gyr", "dust2"):
        if role in cols:
            known[role] = _column(table, cols[role], role, source)[rows]
    if "logmass" in known:  # no host mass: below the mass step
        known["logmass"] = np.where(np.isfinite(known["logmass"]), known["logmass"], 0.0)
    _finite({**get, **known}, file_row_numbers(table, rows), source)
    cov3 = np.zeros((rows.size, 3, 3))
    for (i, j), name in {
        (0, 0): "var_m_b",
        (1, 1): "var_x1",
        (2, 2): "var_c",
        (0, 1): "cov_m_b_x1",
        (0, 2): "cov_m_b_c",
        (1, 2): "cov_x1_c",
    }.items():
        cov3[:, i, j] = cov3[:, j, i] = get[name]
    data = SNData.from_arrays(
        z_cos=known.pop("z"),
        **known,
        m=get["m_b"],
        x1=get["x1"],
        c=get["c"],
        cov=cov3,
        ln_var_m=np.log(get["var_m_b"]),
    )
    grid = selection_grid(sim.selection.build(), model, data) if cfg.selection else None
    observed = {**get, **{k: np.asarray(getattr(data, k)) for k in ("z_cos", "z_hel", "logmass")}}
    return sn_model, (model, prior, data, grid), prior.names, rows, observed


def file_problem(
    exp, data_path: str | Path, cov_path=None, where: Sequence[RowCut | str] | str = ()
):
    """:func:`nuts_problem` of a file: ``(table, (model, args, names, rows, observed))``.

    The file is read through ``likelihood.column_map``, keeping the rows that pass ``where``;
    a covariance file (over all the file's rows) is cut to the same rows, and ``rows`` are the
    used rows' places in the file. Call inside ``jax.enable_x64``.
    """
    from cigars.io import read_catalogue

    if exp.likelihood is None:
        raise ValueError("the experiment has no 'likelihood' section (needed by --method nuts)")
    table = read_catalogue(data_path, exp.likelihood.column_map, where=where)
    cov = None
    if cov_path is not None:
        cov = read_covariance(cov_path, table.meta.get("n_file_rows", len(table)))
        file_rows = table.meta.get("file_rows")
        if file_rows is not None:
            cov = cov[np.ix_(file_rows, file_rows)]
    model, args, names, rows, observed = nuts_problem(exp, table, cov=cov, source=str(data_path))
    return table, (model, args, names, file_row_numbers(table, rows), observed)


def infer_nuts(
    exp,
    data_path: str | Path,
    output: str | Path,
    *,
    cov_path: str | Path | None = None,
    seed: int | None = None,
    num_samples: int | None = None,
    progress: bool = True,
    where: Sequence[RowCut | str] | str = (),
):
    """NUTS posterior of a catalogue under the experiment's likelihood, written as netCDF.

    Runs in float64 (inside ``jax.enable_x64``). The catalogue is read with
    :func:`cigars.io.read_catalogue` through ``likelihood.column_map``, keeping the rows that
    pass the cuts ``where`` (a covariance over the file's rows is cut to the same rows).

    Args:
        exp: the experiment (with a ``likelihood`` section).
        data_path: the catalogue file.
        output: the netCDF file to write (atomically).
        cov_path: optional covariance (Pantheon+ ``.cov`` format) over all rows of the file.
        seed: PRNG seed (default: the experiment's).
        num_samples: draws per chain (default: ``likelihood.sampler.num_samples``).
        progress: show numpyro's progress bar.
        where: row cuts on the file's columns (:class:`~cigars.io.RowCut` s or their text).

    Returns:
        ``(idata, names)``.
    """
    import jax

    from cigars.config import to_dict
    from cigars.experiment import yaml_dump
    from cigars.io import atomic_path, provenance
    from cigars.likelihood._nuts import nuts_idata, run_nuts

    source = str(data_path)
    with jax.enable_x64(True):
        table, (model, args, names, rows, observed) = file_problem(exp, data_path, cov_path, where)
        s = exp.likelihood.sampler
        key = jax.random.key(exp.seed if seed is None else seed)
        mcmc = run_nuts(
            key,
            model,
            *args,
            num_warmup=s.num_warmup,
            num_samples=s.num_samples if num_samples is None else num_samples,
            num_chains=s.num_chains,
            target_accept=s.target_accept,
            max_tree_depth=s.max_tree_depth,
            dense_mass=s.dense_mass,
            progress=progress,
        )
        idata = nuts_idata(
            mcmc,
            names,
            observed={"row": rows, **observed},
            attrs={
                "method": "nuts",
                "likelihood": exp.likelihood.type_name,
                "experiment": yaml_dump(to_dict(exp)),
                "data": source,
                "covariance": "" if cov_path is None else str(cov_path),
                "where": " ".join(map(str, where)),
                "n_read": len(table),
                "n_file_rows": int(table.meta.get("n_file_rows", len(table))),
                "n_objects": len(rows),
                **provenance(),
            },
        )
    with atomic_path(output) as tmp:
        idata.to_netcdf(str(tmp), engine="h5netcdf")
    return idata, tuple(names)


def summary_rows(idata, names) -> list[dict[str, Any]]:
    """Per parameter: mean, sd, 3% and 97% quantiles, split R-hat and bulk ESS."""
    import arviz as az

    post = idata.posterior
    rhat = az.rhat(idata, var_names=list(names))
    ess = az.ess(idata, var_names=list(names))
    out = []
    for name in names:
        v = np.asarray(post[name]).ravel()
        lo, hi = np.quantile(v, [0.03, 0.97])
        out.append(
            {
                "name": name,
                "mean": float(v.mean()),
                "sd": float(v.std()),
                "q03": float(lo),
                "q97": float(hi),
                "r_hat": float(rhat[name]),
                "ess": float(ess[name]),
            }
        )
    return out
