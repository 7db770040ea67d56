r"""The ``standardised`` likelihood as a neural-posterior problem over an observed sample's design.

:func:`~cigars.likelihood.standardised_model` (what ``cigars infer --method nuts`` samples for
Pantheon+ ``m_b_corr``) is the generative model

.. math::

    \theta \sim p(\theta), \qquad m \sim N(\mu(z_\mathrm{cos}, z_\mathrm{hel}; \theta) + M_0, C)

with the redshifts and the covariance :math:`C` of the observed sample held fixed (the
*design*). :func:`standardised_problem` is that model as a :mod:`cigars.inference` problem:
globals = the experiment's prior parameters; per object the observed features
(:func:`feature_map`) are the Hubble residual :math:`m_i - \bar m_\mathrm{fid}(z_i)` against
the experiment's fiducial parameters (its truth values; a fixed shift given the design, so
nothing is lost, while the feature spans tenths of a magnitude instead of the 13 mag of
:math:`m`) and the object's terms of the likelihood score at the fiducial point; the context is
:math:`(z_\mathrm{cos}, z_\mathrm{hel}, \sigma_i)`, :math:`\sigma_i^2 = C_{ii}`; no local
latents; every slot valid. The mean is :func:`~cigars.likelihood.standardised_mean`, the
same function the NUTS likelihood uses, so the neural posterior targets the NUTS posterior.

The estimator is trained for ONE design: ``cigars train CONFIG --data FILE`` records the file
(path, SHA-256) and its design (``design.npz`` in the run), and ``cigars infer RUN DATA``
(:func:`infer_standardised`) refuses a sample whose design differs.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from cigars.likelihood._models import StandardisedData, standardised_mean

__all__ = [
    "DESIGN_FILE",
    "StandardisedSample",
    "check_design",
    "infer_standardised",
    "read_standardised_sample",
    "standardised_problem",
]

DESIGN_FILE = "design.npz"
"""The design a ``standardised`` run was trained for, in its run folder."""
_DESIGN_FIELDS = ("z_cos", "z_hel", "sigma")


def file_sha256(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class StandardisedSample:
    """A spectroscopic sample read for the ``standardised`` likelihood.

    Attributes:
        source: the file it was read from.
        sha256: the file's SHA-256.
        columns: the column map it was read through (``None``: the file's own columns).
        rows: indices of the rows that passed the cuts.
        observed: the used rows' columns (``z``, ``z_hel``, ``m``, ``m_err``), float64.
        data: the :class:`StandardisedData` (float64) NUTS would use.
    """

    source: str
    sha256: str
    columns: str | None
    rows: np.ndarray
    observed: dict[str, np.ndarray]
    data: StandardisedData

    def design(self) -> dict[str, np.ndarray]:
        """The design arrays: ``z_cos``, ``z_hel`` and ``sigma`` (sqrt of C's diagonal), float64."""
        tril = np.asarray(self.data.scale_tril, np.float64)
        return {
            "z_cos": np.asarray(self.data.z_cos, np.float64),
            "z_hel": np.asarray(self.data.z_hel, np.float64),
            "sigma": np.sqrt(np.sum(tril**2, axis=1)),
        }

    def record(self) -> dict[str, Any]:
        """What a training run records about its design sample (plain YAML-able data)."""
        d = self.design()
        return {
            "data": str(Path(self.source).resolve()),
            "data_sha256": self.sha256,
            "columns": None if self.columns is None else str(self.columns),
            "design": {
                "file": DESIGN_FILE,
                "n_objects": int(d["z_cos"].size),
                "z_min": float(d["z_cos"].min()),
                "z_max": float(d["z_cos"].max()),
            },
        }

    def save_design(self, run_dir: str | Path) -> Path:
        """Write the design arrays and the used rows to ``run_dir/design.npz``."""
        from cigars.io import atomic_path

        path = Path(run_dir) / DESIGN_FILE
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, rows=self.rows, **self.design())
        return path


def read_standardised_sample(exp, path: str | Path, columns: Any = None) -> StandardisedSample:
    """Read a sample for the experiment's ``standardised`` likelihood (cuts and roles as NUTS).

    Args:
        exp: the experiment; ``likelihood`` must be a ``standardised`` section.
        path: the catalogue file (read with :func:`cigars.io.read_catalogue`).
        columns: a column map (shipped name, YAML file or mapping); ``None``: the config's
            ``likelihood.column_map``.

    Raises:
        ValueError: for another likelihood type, or as :func:`~cigars.likelihood.nuts_problem`
            (a missing column, a non-finite value, no row passing the cuts).
    """
    from cigars.io import read_catalogue
    from cigars.likelihood._config import StandardisedLikelihoodConfig
    from cigars.likelihood._infer import nuts_problem

    cfg = exp.likelihood
    if not isinstance(cfg, StandardisedLikelihoodConfig):
        kind = "no 'likelihood' section" if cfg is None else f"likelihood type {cfg.type_name!r}"
        raise ValueError(f"the experiment has {kind}; a design sample needs 'standardised'")
    cmap = cfg.column_map if columns is None else columns
    table = read_catalogue(path, cmap)
    with jax.enable_x64(True):
        _, (_, data, _), _, rows, observed = nuts_problem(exp, table, source=str(path))
        data = jax.tree.map(np.asarray, data)
    return StandardisedSample(
        source=str(path),
        sha256=file_sha256(path),
        columns=None if cmap is None else str(cmap),
        rows=np.asarray(rows),
        observed=observed,
        data=data,
    )


def _context(data: StandardisedData) -> tuple[jax.Array, jax.Array | None]:
    """Per-object context (z_cos, z_hel, sigma) and the Cholesky factor (``None`` if diagonal).

    Computed in float64, returned in JAX's default float dtype.
    """
    tril = np.asarray(data.scale_tril, np.float64)
    sigma = np.sqrt(np.sum(tril**2, axis=1))
    diagonal = not np.any(tril - np.diag(np.diagonal(tril)))
    z = (np.asarray(data.z_cos, np.float64), np.asarray(data.z_hel, np.float64))
    dtype = jnp.result_type(float)
    context = jnp.asarray(np.stack([*z, sigma], axis=-1), dtype)
    return context, None if diagonal else jnp.asarray(tril, dtype)


def feature_map(exp, data: StandardisedData):
    r"""The per-object features of a ``standardised`` run: Hubble residual and score terms.

    For magnitudes :math:`m` of the design ``data``, object :math:`i`'s features are its Hubble
    residual :math:`r_i = m_i - \bar m_\mathrm{fid}(z_i)` (:func:`standardised_mean` at the
    experiment's truth values) and its contributions
    :math:`w_i\,\partial\bar m_i/\partial\theta_j` to the score of the Gaussian likelihood at
    the fiducial parameters, :math:`w = C^{-1} r` (:math:`r_i/\sigma_i^2` for a diagonal
    :math:`C`). Their sum over objects is the score, the linear compression that is sufficient
    for :math:`\theta` near the fiducial point (Alsing & Wandelt 2018); with
    ``estimator.pool_inputs`` the summariser sees that sum exactly.

    Returns:
        ``(features, context)``: ``features(m)`` (n,) -> (n, 1 + n_theta) (jit-able), and the
        per-object context (n, 3) = ``z_cos, z_hel, sigma``.
    """
    from cigars.experiment import experiment_truth

    truth = experiment_truth(exp)
    global_prior = exp.prior.build(truth)
    cosmology = exp.cosmology.type_name
    context, tril = _context(data)
    dtype = context.dtype
    z_cos, z_hel, sigma = context[:, 0], context[:, 1], context[:, 2]
    theta_fid = global_prior.to_array(truth).astype(dtype)

    def mean(t):
        m = standardised_mean(global_prior.from_array(t), z_cos, z_hel, cosmology)
        return m, m

    # Jitted: run eagerly, each primitive of the distance tables compiles on its own (~190
    # compilations, 12 s on a 2-core CPU, against 2 s for the one program).
    at_fiducial = jax.jit(jax.jacfwd(mean, has_aux=True))
    grad, fiducial = at_fiducial(theta_fid)  # (n, n_theta), (n,)

    def features(m):
        r = jnp.asarray(m, dtype) - fiducial
        if tril is None:
            w = r / sigma**2
        else:
            w = jax.scipy.linalg.cho_solve((tril, True), r)
        return jnp.concatenate([r[:, None], w[:, None] * grad], axis=-1)

    return features, context


def standardised_problem(exp, data: StandardisedData):
    r"""The ``standardised`` likelihood over a fixed design as an NPE problem.

    See the module docstring. ``simulate(key, theta_vector)`` returns
    ``(theta, None, data, mask, context)`` with ``data`` (n, 1 + n_theta) the
    :func:`feature_map` of the magnitudes :math:`m = \bar m(\theta) + L\epsilon`
    (:math:`\bar m` of :func:`~cigars.likelihood.standardised_mean`, :math:`L` the Cholesky
    factor of the design's covariance; :math:`\sigma\epsilon` when it is diagonal), ``mask``
    all True and ``context`` (n, 3) = ``z_cos, z_hel, sigma``.

    Args:
        exp: the experiment (its ``prior``, ``cosmology`` type and truth for fixed parameters).
        data: the design: redshifts and covariance of the observed sample (its ``m`` is ignored).

    Returns:
        ``(simulate, prior, None)``: the simulator, the :class:`~cigars.experiment.ThetaPrior`
        over the inferred parameters, no local bounds.
    """
    from cigars.experiment import ThetaPrior, experiment_truth

    global_prior = exp.prior.build(experiment_truth(exp))
    prior = ThetaPrior(global_prior)
    cosmology = exp.cosmology.type_name
    features, context = feature_map(exp, data)
    _, tril = _context(data)
    z_cos, z_hel, sigma = context[:, 0], context[:, 1], context[:, 2]
    n = context.shape[0]
    mask = jnp.ones(n, bool)

    def simulate_one(key, theta_vector):
        theta = global_prior.from_array(theta_vector)
        mean = standardised_mean(theta, z_cos, z_hel, cosmology)
        eps = jax.random.normal(key, (n,), mean.dtype)
        m = mean + (sigma * eps if tril is None else tril @ eps)
        return theta_vector, None, features(m), mask, context

    return simulate_one, prior, None


def design_problem(run_dir: str | Path, exp):
    """:func:`standardised_problem` over the design a ``standardised`` run was trained for.

    Reads ``run_dir/design.npz`` (redshifts and per-object errors; diagonal covariance).

    Raises:
        ValueError: if the run folder has no design file.
    """
    path = Path(run_dir) / DESIGN_FILE
    if not path.is_file():
        raise ValueError(f"{run_dir}: no {DESIGN_FILE}: not a run of the 'standardised' likelihood")
    saved = np.load(path)
    z = saved["z_cos"]
    data = StandardisedData.from_arrays(z, saved["z_hel"], np.zeros_like(z), sigma=saved["sigma"])
    return standardised_problem(exp, data)


def check_design(run_dir: str | Path, record: dict[str, Any], sample: StandardisedSample) -> str:
    """Check that a sample has the design a ``standardised`` run was trained for.

    Args:
        run_dir: the run folder (holding ``design.npz``).
        record: the run's ``experiment.yaml`` record (``data``, ``data_sha256``, ``design``).
        sample: the sample to infer.

    Returns:
        ``"same file"`` (same SHA-256 as the training sample) or ``"same design"`` (another
        file, same redshifts and errors to 1e-6 relative).

    Raises:
        ValueError: naming both files, their sizes and redshift ranges, and the first
            differing object, if the designs differ.
    """
    saved = np.load(Path(run_dir) / DESIGN_FILE)
    if sample.sha256 == record.get("data_sha256"):
        return "same file"
    new = sample.design()
    old = {k: saved[k] for k in _DESIGN_FIELDS}
    n_new, n_old = new["z_cos"].size, old["z_cos"].size
    what = (
        f"{sample.source}: not the design run {run_dir} was trained for ({record.get('data')}): "
        f"{n_new} objects with z in [{new['z_cos'].min():.4g}, {new['z_cos'].max():.4g}] after "
        f"the cuts, against {n_old} in [{old['z_cos'].min():.4g}, {old['z_cos'].max():.4g}]"
    )
    hint = (
        ". The neural posterior of the 'standardised' likelihood is trained for one design "
        "(redshifts and errors): train a run for this sample with `cigars train CONFIG --data "
        "FILE`, or use `cigars infer --method nuts`"
    )
    if n_new != n_old:
        raise ValueError(what + hint)
    for name in _DESIGN_FIELDS:
        bad = ~np.isclose(new[name], old[name], rtol=1e-6, atol=1e-9)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{what}; first difference at object {i} (row {sample.rows[i]}): {name} "
                f"{new[name][i]:.8g} here, {old[name][i]:.8g} in training{hint}"
            )
    return "same design"


def infer_standardised(
    run_dir: str | Path,
    data_path: str | Path,
    output: str | Path,
    *,
    num_samples: int = 1000,
    seed: int = 0,
    columns: Any = None,
    importance: int = 0,
):
    """Neural posterior of a ``standardised`` run for a sample of its design, as ArviZ netCDF.

    The sample is read as :func:`read_standardised_sample` does (through ``columns``, default:
    the map the run was trained with) and checked by :func:`check_design`. The netCDF holds the
    globals on (chain, draw), the used rows' columns as ``observed_data`` (as ``cigars infer
    --method nuts`` writes them), the resolved experiment and provenance as attributes.

    With ``importance`` > 0 the draws are the neural posterior importance-sampled to the
    run's exact likelihood (:func:`~cigars.likelihood.importance_weights`, float64):
    ``importance * num_samples`` neural proposals, resampled to ``num_samples``; the attributes
    hold the effective sample size, efficiency and PSIS Pareto k (``method`` ``npe-is``).

    Returns:
        ``(idata, names)``: the InferenceData written and the global parameter names.

    Raises:
        ValueError: if the run is not a ``standardised`` run or the design differs.
    """
    import arviz as az
    import yaml

    from cigars.config import to_dict
    from cigars.experiment import RUN_FILE, experiment_truth, load_run, yaml_dump
    from cigars.inference import load_estimator, sample_posterior
    from cigars.io import atomic_path, provenance

    exp, _ = load_run(run_dir)
    record = yaml.safe_load((Path(run_dir) / RUN_FILE).read_text())
    if "design" not in record:
        raise ValueError(f"{run_dir}: not a run of the 'standardised' likelihood (no design)")
    sample = read_standardised_sample(
        exp, data_path, record.get("columns") if columns is None else columns
    )
    match = check_design(run_dir, record, sample)
    features, context = feature_map(exp, sample.data)
    m = features(sample.observed["m"])
    mask = np.ones(m.shape[0], bool)
    estimator = load_estimator(run_dir)
    names = tuple(exp.prior.build(experiment_truth(exp)).names)
    key = jax.random.key(seed)
    theta, _ = sample_posterior(
        estimator, key, m, mask, context, num_samples=num_samples * max(importance, 1)
    )
    weighted = {}
    if importance > 0:
        theta, weighted = _importance_sample(
            exp, estimator, sample, theta, (m, mask, context), names, key, num_samples
        )
    theta = np.asarray(theta)
    observed = {"row": sample.rows, **sample.observed}
    idata = az.from_dict(
        posterior={name: theta[None, :, j] for j, name in enumerate(names)},
        observed_data=observed,
        dims={c: ["object"] for c in observed},
        coords={"object": np.arange(m.shape[0])},
        attrs={
            "method": "npe-is" if weighted else "npe",
            **weighted,
            "likelihood": "standardised",
            "experiment": yaml_dump(to_dict(exp)),
            "run_dir": str(run_dir),
            "data": str(data_path),
            "data_sha256": sample.sha256,
            "design_match": match,
            "n_objects": int(m.shape[0]),
            **{k: str(v) for k, v in provenance().items()},
        },
    )
    with atomic_path(output) as tmp:
        idata.to_netcdf(str(tmp), engine="h5netcdf")
    return idata, names


def _importance_sample(exp, estimator, sample, proposals, inputs, names, key, num_samples):
    """Neural proposals reweighted to the standardised likelihood: ``(draws, attributes)``."""
    from cigars.experiment import experiment_truth
    from cigars.inference import posterior_log_prob
    from cigars.likelihood._importance import importance_resample, importance_weights, log_joint
    from cigars.likelihood._models import standardised_model

    log_q = np.asarray(posterior_log_prob(estimator, proposals, *inputs), np.float64)
    with jax.enable_x64(True):
        prior = exp.prior.build(experiment_truth(exp))
        args = (prior, sample.data, exp.cosmology.type_name)
        target = log_joint(standardised_model, args, prior, names)(np.asarray(proposals))
    weights = importance_weights(target, log_q)
    draws = importance_resample(jax.random.fold_in(key, 1), proposals, weights, num_samples)
    attrs = {f"importance_{k}": v for k, v in weights.summary().items()}
    attrs["importance_reliable"] = int(weights.reliable)  # netCDF attributes: no booleans
    return draws, attrs
