"""Library functions behind the CLI: build an experiment's components and run its jobs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from cigars.config import Experiment, to_dict

__all__ = [
    "build_experiment_bank",
    "ensemble_runs",
    "experiment_truth",
    "reweight_bank",
    "simulate_mock",
    "simulate_training_set",
    "simulator_for",
    "train_experiment",
]


def experiment_truth(exp: Experiment, overrides: Mapping[str, float] | None = None):
    """The true global parameters: the cosmology section, then ``truth``, then ``overrides``."""
    from cigars.simulate import Theta

    cosmo = exp.cosmology.build()
    base = {
        "H0": float(cosmo.H0),
        "Om0": float(cosmo.Om0),
        "w0": float(cosmo.w0),
        "wa": float(cosmo.wa),
    }
    if cosmo.Ode0 is not None:
        base["Ode0"] = float(cosmo.Ode0)
    theta = Theta.from_mapping({**base, **exp.truth.values})
    theta = Theta.from_mapping(dict(overrides or {}), base=theta)
    exp.check_host_evolution(theta.host_evolution_in_use(), "the truth")
    return theta


def build_experiment_bank(
    exp: Experiment, path: str | Path, *, n_galaxies: int | None = None, **kwargs
) -> Path:
    """The experiment's galaxy bank, written to ``path``.

    :func:`cigars.hosts.build_bank` with the experiment's host, SPS, band and bank sections;
    ``n_galaxies`` overrides the bank's size and ``kwargs`` go to build_bank.
    """
    from cigars.hosts import build_bank

    bank_config = exp.bank if n_galaxies is None else exp.bank.replace(n_galaxies=n_galaxies)
    return build_bank(
        path,
        hosts_config=exp.hosts,
        sps_config=exp.sps,
        bands_config=exp.bands,
        bank_config=bank_config,
        **kwargs,
    )


def simulator_for(exp: Experiment, bank):
    """The experiment's simulator over a loaded galaxy bank.

    Raises:
        ValueError: if the experiment has no ``simulator`` section or the bank's bands differ.
    """
    if exp.simulator is None:
        raise ValueError("the experiment has no 'simulator' section")
    if tuple(bank.band_names) != tuple(exp.bands.filters):
        raise ValueError(
            f"the bank's bands {list(bank.band_names)} differ from the experiment's "
            f"bands.filters {list(exp.bands.filters)}"
        )
    return exp.simulator.build(bank, exp.cosmology)


def _simulate_checked(simulator, key, theta):
    """One survey's catalogue, or a RuntimeError if its SNe overflowed the slots."""
    from cigars.simulate import simulate

    _, cat = simulate(simulator, key, theta)
    if bool(cat.overflow):
        raise RuntimeError(
            f"a survey drew {int(cat.n_sn_total)} SNe, more than simulator.survey.n_max = "
            f"{cat.n_slots}: raise n_max (or lower survey.counts)"
        )
    return cat


def simulate_mock(
    exp: Experiment,
    bank_path: str | Path,
    output: str | Path,
    *,
    seed: int | None = None,
    truth: Mapping[str, float] | None = None,
    include_undetected: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Simulate one survey at the true parameters and write it as a mock catalogue (FITS).

    Args:
        exp: the experiment.
        bank_path: the galaxy bank (``cigars bank``).
        output: the FITS file to write.
        seed: PRNG seed (default: the experiment's).
        truth: parameter overrides (``Theta`` or reference names).
        include_undetected: also store the SNe that failed the selection (for plots).
        overwrite: replace an existing file.

    Returns:
        A summary: number of detected SNe, Poisson total, spectroscopic count, overflow flag.

    Raises:
        RuntimeError: if the simulation overflowed its ``n_max`` slots.
    """
    from cigars.hosts import load_bank
    from cigars.io import provenance
    from cigars.io._mock import band_labels, catalogue_table, write_mock

    bank = load_bank(bank_path)
    simulator = simulator_for(exp, bank)
    theta = experiment_truth(exp, truth)
    key = jax.random.key(exp.seed if seed is None else seed)
    cat = _simulate_checked(simulator, key, theta)
    bands = band_labels(bank.band_names)
    table = catalogue_table(cat.to_numpy(), bands)
    undetected = None
    if include_undetected:
        lost = cat.replace(mask=cat.valid & ~cat.detected)
        rows = lost.to_numpy()
        undetected = catalogue_table(
            {k: v for k, v in rows.items() if k in ("z_cos", "m_true", "logmass", "mu")}, bands
        )
    write_mock(
        output,
        table,
        truth=theta.to_dict(),
        config=to_dict(exp),
        provenance=provenance(),
        band_names=bands,
        undetected=undetected,
        overwrite=overwrite,
    )
    return {
        "n_detected": len(table),
        "n_total": int(cat.n_sn_total),
        "n_spec": int(np.isfinite(np.asarray(table["z_spec"])).sum()),
        "n_hosts_detected": int(cat.n_hosts_detected),
    }


LOCAL_NAMES = ("z", "logmass", "logzsol", "dust2", "dust_index", "x1_int", "c_int")
"""The per-object latents inferred by the neural posterior (MODEL.md section 7a local groups)."""
_LOCAL_FIELDS = ("z_cos", "logmass", "logzsol", "dust2", "dust_index", "x1_int", "c_int")
CONTEXT_NAMES = ("z_spec", "has_spec")


class ThetaPrior:
    """The :class:`~cigars.inference.Prior` contract over a :class:`~cigars.simulate.GlobalPrior`.

    Draws and densities are over the vector of *inferred* parameters (``global_prior.names``),
    in physical units; the support bounds come from each parameter's numpyro distribution.
    """

    def __init__(self, global_prior):
        from cigars.inference import support_bounds

        self.global_prior = global_prior
        self.names = tuple(global_prior.names)
        bounds = [support_bounds(global_prior.distribution(n).support, 1) for n in self.names]
        self.lower = np.array([lo[0] for lo, _ in bounds])
        self.upper = np.array([hi[0] for _, hi in bounds])

    def sample(self, key):
        """One draw, shape (n_theta,)."""
        return self.global_prior.to_array(self.global_prior.sample(key))

    def log_prob(self, theta):
        """Log prior density of a vector (n_theta,)."""
        return self.global_prior.log_prob(self.global_prior.from_array(theta))


_SN_COLUMNS = ("m_b", "x1", "c", "var_m_b", "var_x1", "var_c")
"""The SN columns of a catalogue file, in the order of the data vector's SN part."""


def observed_features(cat) -> tuple[jax.Array, jax.Array]:
    """The per-object data and context vectors the estimator sees, from a catalogue.

    Data: host magnitudes per band, ``m_b``, ``x1``, ``c`` and the logs of their three measurement
    variances (MODEL.md section 4d), then the log host-magnitude errors. Context: the
    spectroscopic redshift (0 without one) and a 0/1 flag.
    """
    import jax.numpy as jnp

    sn = jnp.stack(
        [
            cat.m_obs,
            cat.x1_obs,
            cat.c_obs,
            jnp.log(cat.var_m),
            jnp.log(cat.var_x1),
            jnp.log(cat.var_c),
        ],
        axis=-1,
    )
    data = jnp.concatenate([cat.host_mag_obs, sn, jnp.log(cat.host_mag_err)], axis=-1)
    has = cat.has_spec.astype(data.dtype)
    context = jnp.stack([jnp.where(cat.has_spec, cat.z_spec, 0.0), has], axis=-1)
    return data, context


def npe_problem(exp: Experiment, bank):
    """The experiment as an inference problem: ``(simulate, prior, local_bounds)``.

    ``simulate(key, theta_vector)`` runs the full simulator at the inferred parameters (the
    others fixed at the experiment's truth) and returns the :class:`~cigars.inference.Simulation`
    tuple ``(theta, locals, data, mask, context)``; it is jit/vmap-able.

    With a ``likelihood.sub_model`` section the problem is the known-hosts sub-model instead
    (:func:`cigars.likelihood.known_hosts_problem`: spectroscopic redshifts and host
    quantities as context, no locals), the posterior NUTS gives with that likelihood.
    """
    import jax.numpy as jnp

    if getattr(exp.likelihood, "sub_model", None) is not None:
        from cigars.likelihood import known_hosts_problem

        return known_hosts_problem(exp, bank)
    simulator = simulator_for(exp, bank)
    global_prior = exp.prior.build(experiment_truth(exp))
    prior = ThetaPrior(global_prior)
    hosts_cfg = exp.hosts
    local_lower = np.array(
        [
            hosts_cfg.z_min,
            hosts_cfg.logm_min,
            hosts_cfg.logzsol_min,
            0.0,
            hosts_cfg.dust_index_min,
            -np.inf,
            -np.inf,
        ]
    )
    local_upper = np.array(
        [
            hosts_cfg.z_max,
            hosts_cfg.logm_max,
            hosts_cfg.logzsol_max,
            hosts_cfg.dust2_max,
            hosts_cfg.dust_index_max,
            np.inf,
            np.inf,
        ]
    )

    def simulate_one(key, theta_vector):
        theta = global_prior.from_array(theta_vector)
        _, cat = simulator(key, theta)
        data, context = observed_features(cat)
        local = jnp.stack([getattr(cat, f) for f in _LOCAL_FIELDS], axis=-1)
        return theta_vector, local, data, cat.mask, context

    return simulate_one, prior, (local_lower, local_upper)


def bank_reference(exp: Experiment, bank):
    """The galaxy bank as the reference set of ``estimator.reference_lookup``.

    Each object's host magnitudes (the first ``n_band`` columns of :func:`observed_features`,
    with their log errors in the last ``n_band``) are compared with every bank galaxy's
    redshifted 10-pc magnitudes, the distance modulus fitted out and then compared with the
    one of the galaxy's redshift in the experiment's true cosmology (0.3 mag allowed); the
    references' latents are the bank galaxies' host latents (the first five of
    :data:`LOCAL_NAMES`).
    """
    from cigars.inference import ReferenceSet

    n_band = len(exp.bands.filters)
    hosts = getattr(bank, "hosts", bank)  # a Bank, or a HostTable (e.g. toy_host_table)
    local = np.stack([np.asarray(getattr(hosts, f), np.float64) for f in _BANK_LOCALS], -1)
    # A bank galaxy's magnitudes are fixed up to its distance: m_b = M_b + 5 log10(D_M / 10 pc)
    # (MODEL.md section 3b), so it is expected at the distance of its redshift (fiducial
    # cosmology: the experiment's truth; the prior's cosmologies move it by a few 0.1 mag).
    return ReferenceSet(
        values=np.asarray(bank.abs_mag, np.float64),
        locals=local,
        columns=tuple(range(n_band)),
        log_err_columns=tuple(range(n_band + len(_SN_COLUMNS), 2 * n_band + len(_SN_COLUMNS))),
        offsets=_fiducial_dm(exp, local[:, 0]),
    )


def _fiducial_dm(exp: Experiment, z) -> np.ndarray:
    """``5 log10(D_M(z) / 10 pc)`` in the experiment's true cosmology (astropy).

    What turns a bank galaxy's redshifted 10-pc magnitudes into apparent ones (MODEL.md
    section 3b), with the truth's host luminosity evolution (zero unless the simulator has
    it: :func:`experiment_truth` refuses it otherwise).
    """
    from astropy.cosmology import w0waCDM

    t = experiment_truth(exp)
    cosmo = w0waCDM(H0=t.H0, Om0=t.Om0, Ode0=t.Ode0, w0=t.w0, wa=t.wa)
    z = np.asarray(z, np.float64)
    d_m = cosmo.comoving_transverse_distance(z).to_value("Mpc")
    return 5.0 * np.log10(d_m) + 25.0 + np.asarray(t.host_mag_offset(z), np.float64)


def reweight_bank(
    exp: Experiment,
    bank_path: str | Path,
    data_path: str | Path,
    output: str | Path,
    *,
    columns: Any = None,
    where: Sequence[Any] | str = (),
    n_surveys: int = 16,
    seed: int = 0,
    max_weight: float = 100.0,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """A copy of the bank whose weights make the model's SN hosts look like a sample's hosts.

    Simulates ``n_surveys`` surveys at the experiment's true parameters, fits
    :class:`~cigars.hosts.PhotometryRatio` between the data's hosts (host magnitudes and
    ``z_spec`` of the rows that pass :func:`~cigars.io.validate_catalogue`) and the simulated
    detected SNe's hosts (observed magnitudes and heliocentric redshifts), and writes the bank
    with ``ln_weight`` += the log ratio at each galaxy's noiseless photometry in the true
    cosmology (:func:`cigars.hosts.write_weighted_bank`).
    The model's redshift distribution is kept; only the host photometry at each redshift
    follows the data. Use it as a calibration of the host population to the sample analysed
    (the data enter twice: document it with the result).

    Args:
        exp: the experiment (its simulator, bands and truth).
        bank_path: the galaxy bank (not modified).
        data_path: the observed catalogue (read as by ``cigars infer``).
        output: the weighted bank to write.
        columns: column map of the catalogue (None: cigars columns).
        where: row cuts on the catalogue's columns.
        n_surveys: simulated surveys for the model's hosts.
        seed: PRNG seed of those surveys.
        max_weight: the clip of the weights (:meth:`~cigars.hosts.PhotometryRatio.fit`).
        overwrite: replace an existing ``output``.
        progress: show a progress bar over the surveys.

    Returns:
        A summary: rows used, the effective sample size of the weights over the simulated
        hosts, the features' medians (data, model, re-weighted model) and those of the same
        surveys simulated with the new weights at the old size (``new_medians``),
        ``count_factor`` (a survey's expected number of SNe with the new weights over the old:
        scale ``survey.counts`` by its inverse to keep the survey's size), ``features`` (the
        data's, the model's and the re-weighted model's feature rows, named by
        ``feature_names``) and ``ratio`` (the fitted :class:`~cigars.hosts.PhotometryRatio`).

    Raises:
        FileExistsError: if ``output`` exists and ``overwrite`` is False.
        CatalogueError: for a catalogue the experiment cannot read (table-level problems).
        ValueError: if fewer than 200 valid rows have z_spec, or the fit fails.
    """
    from tqdm import tqdm

    from cigars.hosts import PhotometryRatio, host_features, load_bank, write_weighted_bank
    from cigars.io import provenance, read_catalogue, validate_catalogue
    from cigars.io._mock import band_labels
    from cigars.simulate import simulate

    if Path(output).exists() and not overwrite:  # before the work, not after it
        raise FileExistsError(f"a file already exists at {output}; pass overwrite=True")
    bank = load_bank(bank_path)
    bands = band_labels(exp.bands.filters)
    # The rows `cigars infer --drop-invalid` would analyse (e.g. no hosts fainter than the
    # model's host depths, which no bank galaxy can stand for), with a z_spec.
    table = read_catalogue(data_path, columns, where=where)
    n_rows, where_text = len(table), table.meta.get("where", [])
    table = validate_catalogue(table, exp, source=str(data_path), drop_invalid=True).table
    if "z_spec" not in table.colnames:
        raise ValueError(f"{data_path}: no z_spec column (the host re-weighting needs redshifts)")
    need = [f"host_mag_{b}" for b in bands] + ["z_spec"]
    values = np.column_stack([np.asarray(table[c], np.float64) for c in need])
    ok = np.all(np.isfinite(values), axis=1)
    if ok.sum() < 200:
        raise ValueError(
            f"{data_path}: {ok.sum()} valid rows have z_spec; the host re-weighting needs at "
            "least 200"
        )
    data_x = host_features(values[ok, :-1], values[ok, -1])

    theta = experiment_truth(exp)
    keys = jax.random.split(jax.random.key(seed), n_surveys)

    def hosts_of_surveys(simulator, what):
        features, expected = [], []
        for key in tqdm(keys, desc=what, unit="survey", disable=not progress):
            cat = _simulate_checked(simulator, key, theta)
            rows = cat.to_numpy()
            features.append(host_features(rows["host_mag_obs"], rows["z_hel"]))
            expected.append(float(cat.expected_n_sn))
        return np.concatenate(features), np.mean(expected)

    model_x, expected = hosts_of_surveys(simulator_for(exp, bank), "simulating surveys")
    ratio = PhotometryRatio.fit(data_x, model_x, max_weight=max_weight)
    z = np.asarray(bank.hosts.z, np.float64)
    mags = np.asarray(bank.abs_mag, np.float64) + _fiducial_dm(exp, z)[:, None]
    old = 0.0 if bank.ln_weight is None else np.asarray(bank.ln_weight, np.float64)
    ln_weight = old + ratio.log_ratio(host_features(mags, z))
    ln_weight -= ln_weight.max()  # only ratios matter; keep exp() in range
    # The weights change how many SNe a survey has (the count is normalised by the bank's
    # mean weight, MODEL.md section 3a): the Poisson mean's ratio. The check surveys are
    # simulated at the old size, so that they compare like with like.
    weighted = bank.replace(ln_weight=ln_weight)
    _, cat = simulate(simulator_for(exp, weighted), keys[0], theta)
    factor = float(cat.expected_n_sn) / expected
    survey = exp.simulator.survey
    check = exp.replace(
        simulator=exp.simulator.replace(survey=survey.replace(counts=survey.counts / factor))
    )
    new_x, _ = hosts_of_surveys(simulator_for(check, weighted), "checking the weights")

    w = np.exp(ratio.log_ratio(model_x))
    names = ["z", "mean_mag"] + [f"{a}-{b}" for a, b in zip(bands[:-1], bands[1:], strict=True)]
    medians = {
        name: {
            "data": float(np.median(data_x[:, i])),
            "model": float(np.median(model_x[:, i])),
            "reweighted": _weighted_median(model_x[:, i], w),
        }
        for i, name in enumerate(names)
    }
    write_weighted_bank(
        bank_path,
        output,
        ln_weight,
        metadata={
            "method": "cigars.experiment.reweight_bank",
            "data": str(data_path),
            "where": list(where_text),
            "n_data": int(ok.sum()),
            "n_model": len(model_x),
            "n_surveys": n_surveys,
            "seed": seed,
            "max_weight": max_weight,
            **provenance(),
        },
        overwrite=overwrite,
    )
    return {
        "n_data": int(ok.sum()),
        "n_data_rows": n_rows,
        "n_model": len(model_x),
        "ess_fraction": float(w.sum() ** 2 / (w * w).sum() / len(w)),
        "weight_range": (float(np.exp(ln_weight.min())), 1.0),
        "count_factor": factor,
        "new_medians": {name: float(np.median(new_x[:, i])) for i, name in enumerate(names)},
        "medians": medians,
        "feature_names": names,
        "features": {"data": data_x, "model": model_x, "re-weighted model": new_x},
        "ratio": ratio,
        "output": str(output),
    }


def _weighted_median(x: np.ndarray, w: np.ndarray) -> float:
    order = np.argsort(x)
    cum = np.cumsum(w[order])
    return float(x[order][np.searchsorted(cum, 0.5 * cum[-1])])


_BANK_LOCALS = ("z", "logmass", "logzsol", "dust2", "dust_index")
"""The bank's fields that are the first latents of :data:`LOCAL_NAMES` (``z`` is ``z_cos``)."""

RUN_FILE = "experiment.yaml"


def _simulated_part(exp: Experiment) -> dict[str, Any]:
    """The sections of an experiment that define its simulations (not the estimator)."""
    return {k: v for k, v in to_dict(exp).items() if k not in ("name", "inference")}


def simulate_training_set(
    exp: Experiment,
    bank_path: str | Path,
    output: str | Path,
    n: int,
    *,
    seed: int | None = None,
    chunk_size: int = 64,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Simulate ``n`` surveys from the prior into a training-set file (resumable).

    Each chunk of ``chunk_size`` surveys is one jitted, vmapped call of the same simulator
    that :func:`train_experiment` runs on the fly; chunk i uses ``fold_in(key(seed), i)``.
    """
    from cigars.hosts import load_bank
    from cigars.inference import simulate_batch
    from cigars.io import provenance
    from cigars.io._simulations import write_simulations

    seed = exp.seed if seed is None else seed
    simulate_one, prior, _ = npe_problem(exp, load_bank(bank_path))
    draw = jax.jit(lambda k: simulate_batch(simulate_one, prior, k, chunk_size))
    key = jax.random.key(seed)
    return write_simulations(
        output,
        lambda i: jax.device_get(draw(jax.random.fold_in(key, i))),
        n=n,
        chunk_size=chunk_size,
        config={"seed": seed, "experiment": _simulated_part(exp)},
        metadata={**provenance(), "bank": str(Path(bank_path).resolve())},
        overwrite=overwrite,
        progress=progress,
    )


def train_experiment(
    exp: Experiment,
    bank_path: str | Path | None,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    simulations: str | Path | Sequence[str | Path] | None = None,
    data: str | Path | None = None,
    columns=None,
    init_from: str | Path | None = None,
):
    """Train the experiment's neural posterior with simulations drawn inside each jitted step.

    Records the resolved experiment and the bank's path in ``run_dir/experiment.yaml`` (the
    estimator's own config, checkpoints, metrics and loss curve are written by
    :func:`cigars.inference.train`). With ``simulations`` (one or several
    :func:`simulate_training_set` files of the same experiment, drawn with different seeds),
    trains from those stored surveys instead; the last ``n_val`` surveys of the last file are
    the validation set.

    With a ``standardised`` likelihood the problem is that likelihood over the design of the
    sample ``data`` (read through the column map ``columns``), not the simulator over a bank
    (:func:`cigars.likelihood.standardised_problem`); the file's path, SHA-256 and design
    (``design.npz``) are recorded instead of a bank.

    With ``init_from`` (another run of the same architecture and problem shapes) training
    starts from that run's best parameters and statistics, with a fresh optimiser and schedule.

    Raises:
        ValueError: if the stored simulations come from a different experiment or two files
            share a seed (their surveys would repeat), or for a
            bank with a ``standardised`` likelihood, a missing ``data`` with it, or ``data``
            without it.

    Returns:
        The :class:`~cigars.inference.TrainResult`.
    """
    import yaml

    from cigars.inference import train
    from cigars.inference._train import CHECKPOINT_NAME, ENSEMBLE_NAME
    from cigars.io import atomic_write_text

    run_dir = Path(run_dir)
    # Refused before anything is written: an existing run is never half-overwritten.
    if (run_dir / ENSEMBLE_NAME).exists():
        raise ValueError(
            f"{run_dir} is an ensemble (cigars ensemble); train each member in its own folder"
        )
    if (run_dir / CHECKPOINT_NAME).exists() and not resume:
        raise ValueError(
            f"{run_dir / CHECKPOINT_NAME} exists; pass --resume or choose a new run folder"
        )
    sample = _design_sample(exp, bank_path, simulations, data, columns)
    reference = None
    if sample is None:
        from cigars.hosts import load_bank

        bank = load_bank(bank_path)
        simulate_one, prior, local_bounds = npe_problem(exp, bank)
        if exp.inference.estimator.reference_lookup:
            if getattr(exp.likelihood, "sub_model", None) is not None:
                raise ValueError(
                    "estimator.reference_lookup applies to the photometric model, not to the "
                    "known-hosts sub-model (its hosts are given)"
                )
            reference = bank_reference(exp, bank)
        record = {"bank": str(Path(bank_path).resolve())}
    else:
        from cigars.likelihood import standardised_problem

        simulate_one, prior, local_bounds = standardised_problem(exp, sample.data)
        record = sample.record()
    # Held in a list so that the call below hands train() the only reference: it frees the host
    # copy once the set is on the devices.
    stored = [] if simulations is None else [_stored_training_set(exp, simulations)]
    record["experiment"] = to_dict(exp)
    if init_from is not None:
        record["init_from"] = str(Path(init_from).resolve())
    run_file = run_dir / RUN_FILE
    if resume and run_file.exists():
        old = yaml.safe_load(run_file.read_text())
        for part in ("experiment", "design"):
            if old.get(part) != record.get(part):
                raise ValueError(f"{run_file}: the {part} differs from the run being resumed")
    run_dir.mkdir(parents=True, exist_ok=True)
    if sample is not None:
        sample.save_design(run_dir)
    atomic_write_text(run_file, yaml.safe_dump(record, sort_keys=False))
    return train(
        exp.inference,
        None if stored else simulate_one,
        prior,
        run_dir,
        local_bounds=local_bounds,
        dataset=stored.pop() if stored else None,
        resume=resume,
        init_from=init_from,
        progress=progress,
        reference=reference,
    )


def _stored_training_set(exp: Experiment, paths):
    """The surveys of one or several stored simulation files of ``exp``, as one set."""
    from cigars.io._simulations import read_simulation_files

    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    seeds = {}

    def check(path, stored):
        if stored.get("experiment") != _simulated_part(exp):
            raise ValueError(
                f"{path}: simulated with a different experiment than {exp.name!r} "
                "(compare `cigars config show` with the file's config attribute)"
            )
        seed = stored.get("seed")
        if seed in seeds:
            raise ValueError(
                f"{path} and {seeds[seed]} were simulated with the same seed ({seed}): their "
                "surveys repeat; simulate the extra set with another --seed"
            )
        seeds[seed] = path

    return read_simulation_files(paths, check)[0]


def _design_sample(exp: Experiment, bank_path, simulations, data, columns):
    """The design sample of a ``standardised`` experiment (``None`` for a bank-based one).

    Raises:
        ValueError: for a bank or stored simulations with a ``standardised`` likelihood, no
            ``data`` with it, or ``data`` / ``columns`` without it.
    """
    from cigars.likelihood import StandardisedLikelihoodConfig, read_standardised_sample

    if not isinstance(exp.likelihood, StandardisedLikelihoodConfig):
        if data is not None or columns is not None:
            raise ValueError(
                "--data/--columns apply to a 'standardised' likelihood; this experiment "
                "trains on simulations over a galaxy bank: give --bank"
            )
        if bank_path is None:
            raise ValueError("training this experiment needs a galaxy bank (--bank)")
        return None
    if bank_path is not None or simulations is not None:
        raise ValueError(
            "the 'standardised' likelihood trains over the design of an observed sample, not "
            "a galaxy bank: give --data FILE [--columns MAP] instead of "
            + ("--bank" if bank_path is not None else "--simulations")
        )
    if data is None:
        raise ValueError(
            "the 'standardised' likelihood needs the sample that fixes the design: --data FILE"
        )
    return read_standardised_sample(exp, data, columns)


def ensemble_runs(runs: Sequence[str | Path], output: str | Path) -> Path:
    """Combine training runs of one problem into an ensemble folder (a deep ensemble).

    The folder is a run folder for ``cigars infer`` and ``cigars validate`` whose posterior is
    the equal-weight mixture of the runs' (:class:`~cigars.inference.EnsembleNPE`). It holds a
    copy of each run's checkpoint (``member-<i>/``), the first run's experiment record (and
    design, for the 'standardised' likelihood) and ``ensemble.json`` naming the sources and
    their checkpoints' SHA-256. The runs may differ in their ``inference`` sections (seed,
    schedule, architecture) and names, in nothing that defines the simulations. The folder
    appears whole or not at all; the runs are only read.

    Raises:
        ValueError: for fewer than two runs, an existing ``output``, a folder that is not a
            trained run (or is an ensemble), or runs of different simulations, bank, design or
            data shapes.
    """
    import hashlib
    import json
    import shutil

    import yaml

    from cigars.inference._train import CHECKPOINT_NAME, ENSEMBLE_NAME, _check_same_problem
    from cigars.io import provenance, read_checkpoint_metadata
    from cigars.likelihood import DESIGN_FILE

    runs = [Path(r) for r in runs]
    output = Path(output)
    if len(runs) < 2:
        raise ValueError(f"an ensemble needs at least 2 runs, got {len(runs)}")
    if output.exists():
        raise ValueError(f"{output} exists; choose a new folder for the ensemble")
    records = []
    for run in runs:
        if (run / ENSEMBLE_NAME).is_file():
            raise ValueError(f"{run} is an ensemble; list its member runs instead")
        exp, _ = load_run(run)  # refuses a folder that is not a run
        if not (run / CHECKPOINT_NAME).is_file():
            raise ValueError(f"{run}: no {CHECKPOINT_NAME} (has its training started?)")
        record = yaml.safe_load((run / RUN_FILE).read_text())
        design = run / DESIGN_FILE
        records.append(
            (
                {
                    k: v
                    for k, v in record.items()
                    if k not in ("experiment", "init_from", "data", "columns")
                },
                _simulated_part(exp),
                design.read_bytes() if design.is_file() else None,
            )
        )
    what = (
        "record (bank or design sample)",
        "simulations (experiment outside inference)",
        DESIGN_FILE,
    )
    for run, rec in zip(runs[1:], records[1:], strict=True):
        for name, a, b in zip(what, records[0], rec, strict=True):
            if a != b:
                raise ValueError(f"{run} and {runs[0]} differ in their {name}: not one problem")
    first = read_checkpoint_metadata(runs[0] / CHECKPOINT_NAME)
    for run in runs[1:]:  # the data shapes and supports (as --init-from checks them)
        _check_same_problem(read_checkpoint_metadata(run / CHECKPOINT_NAME), first, str(run))

    partial = output.with_name(output.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # a crashed earlier attempt
    partial.mkdir(parents=True)
    members, sources = [], []
    for i, run in enumerate(runs, 1):
        member = f"member-{i}"
        (partial / member).mkdir()
        copy = partial / member / CHECKPOINT_NAME
        shutil.copy2(run / CHECKPOINT_NAME, copy)
        digest = hashlib.sha256(copy.read_bytes()).hexdigest()
        members.append(member)
        sources.append({"run": str(run.resolve()), "checkpoint_sha256": digest})
    shutil.copy2(runs[0] / RUN_FILE, partial / RUN_FILE)
    if (runs[0] / DESIGN_FILE).is_file():
        shutil.copy2(runs[0] / DESIGN_FILE, partial / DESIGN_FILE)
    record = {"members": members, "sources": sources, "provenance": provenance()}
    (partial / ENSEMBLE_NAME).write_text(json.dumps(record, indent=1) + "\n")
    partial.rename(output)
    return output


def load_run(run_dir: str | Path) -> tuple[Experiment, str | None]:
    """The experiment and bank path (``None`` for a design-sample run) a run was made with.

    Raises:
        ValueError: if ``run_dir`` is not a cigars training run.
    """
    import yaml

    from cigars.config import from_dict

    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        raise ValueError(f"{run_dir}: not a cigars training run (no {RUN_FILE})")
    record = yaml.safe_load(path.read_text())
    return from_dict(Experiment, record["experiment"], file=path), record.get("bank")


def catalogue_arrays(table, exp: Experiment, *, source: str = "catalogue"):
    """Data, context and mask arrays (padded to the run's ``n_max``) from a catalogue table.

    The columns are those :func:`cigars.io.write_mock` writes (``host_mag_<band>``,
    ``host_mag_err_<band>``, ``m_b``, ``x1``, ``c``, ``var_m_b``, ``var_x1``, ``var_c``,
    ``z_spec``); :func:`cigars.io.read_catalogue` turns other files into them. The table is
    first checked by :func:`cigars.io.validate_catalogue` (every row must be valid).

    Raises:
        CatalogueError: (a ``ValueError``) naming the file, row and column of every problem:
            a missing column or band, a non-finite value, a non-positive variance or error, a
            value outside the physical or trained range, a duplicate ID, or a survey larger
            than the model's ``n_max``.
    """
    from cigars.io import CatalogueLimits, band_labels, validate_catalogue
    from cigars.io._validate import as_float

    limits = CatalogueLimits.from_experiment(exp)
    validate_catalogue(table, limits, source=source)
    bands = list(band_labels(exp.bands.filters))
    n_max = limits.n_max
    n = len(table)
    needed = (
        [f"host_mag_{b}" for b in bands] + list(_SN_COLUMNS) + [f"host_mag_err_{b}" for b in bands]
    )
    data = np.zeros((n_max, len(needed)))
    for j, c in enumerate(needed):
        v = as_float(table[c])[0]
        data[:n, j] = np.log(v) if c.startswith(("var_", "host_mag_err_")) else v
    z_spec = as_float(table["z_spec"])[0]
    has = np.isfinite(z_spec)
    context = np.zeros((n_max, 2))
    context[:n, 0] = np.where(has, z_spec, 0.0)
    context[:n, 1] = has
    mask = np.zeros(n_max, bool)
    mask[:n] = True
    return data, context, mask


def infer_catalogue(
    run_dir: str | Path,
    data_path: str | Path,
    output: str | Path,
    *,
    num_samples: int = 1000,
    seed: int = 0,
    columns=None,
    drop_invalid: bool = False,
    photo_z: bool = False,
    importance: int = 0,
    where=(),
):
    """Joint posterior draws for an observed (or mock) catalogue, written as ArviZ netCDF.

    The catalogue is read with :func:`cigars.io.read_catalogue` (through the column map
    ``columns``, if given) and validated against the run's model before anything is computed.
    With ``drop_invalid``, invalid rows are skipped and listed in ``OUTPUT.dropped.json``
    (``post.nc`` -> ``post.dropped.json``); the posterior's ``source_row`` observed variable
    gives each object's row in the file. Both files are written atomically.

    Args:
        run_dir: the training run.
        data_path: the catalogue file.
        output: the netCDF file to write.
        num_samples: joint posterior draws.
        seed: PRNG seed.
        columns: a column map, its YAML path or a shipped map's name; None for cigars columns.
        drop_invalid: skip invalid rows instead of failing.
        photo_z: ignore the catalogue's spectroscopic redshifts (every host's redshift is then
            inferred from its photometry and SN; ``z_spec`` stays in the observed data).
        importance: neural proposals per draw for importance sampling to the exact likelihood
            (``standardised`` runs only; 0: the neural draws as they are).
        where: row cuts on the file's own columns (:class:`~cigars.io.RowCut`, ``--where``):
            only the rows that pass are read; ``source_row`` and the drop report still give
            each row's place in the file.

    A run of the ``standardised`` likelihood (trained on a design sample, no bank) goes to
    :func:`cigars.likelihood.infer_standardised`, which checks that the sample has its design.

    Returns:
        ``(idata, names)``: the InferenceData written and the global parameter names.

    Raises:
        CatalogueError: (a ``ValueError``) naming file, row and column of invalid data.
    """
    import arviz as az

    from cigars.inference import load_estimator, sample_posterior
    from cigars.io import (
        atomic_path,
        provenance,
        read_catalogue,
        validate_catalogue,
        write_drop_report,
    )

    if importance < 0:
        raise ValueError(f"--importance must be >= 0, got {importance}")
    exp, bank_path = load_run(run_dir)
    if bank_path is None:  # a design-sample run of the 'standardised' likelihood
        from cigars.likelihood import infer_standardised

        if drop_invalid or photo_z or where:
            raise ValueError(
                "--drop-invalid, --photo-z and --where do not apply to a 'standardised' run "
                "(its network is trained for the design of one sample, all of its rows)"
            )
        return infer_standardised(
            run_dir,
            data_path,
            output,
            num_samples=num_samples,
            seed=seed,
            columns=columns,
            importance=importance,
        )
    if importance:
        raise ValueError(
            "--importance needs a tractable likelihood: it applies to runs of the "
            "'standardised' likelihood (cigars train CONFIG --data FILE)"
        )
    read = read_catalogue(data_path, columns, where=where)
    checked = validate_catalogue(read, exp, source=str(data_path), drop_invalid=drop_invalid)
    table = checked.table
    data, context, mask = catalogue_arrays(table, exp, source=str(data_path))
    if photo_z:
        context = np.zeros_like(context)
    estimator = load_estimator(run_dir)
    names = tuple(exp.prior.build(experiment_truth(exp)).names)
    theta, local = sample_posterior(
        estimator, jax.random.key(seed), data, mask, context, num_samples=num_samples
    )
    n = int(mask.sum())
    theta = np.asarray(theta)
    local = np.asarray(local)[:, :n]
    posterior = {name: theta[None, :, j] for j, name in enumerate(names)}
    posterior.update({f"{name}_obj": local[None, :, :, k] for k, name in enumerate(LOCAL_NAMES)})
    dims = {f"{name}_obj": ["object"] for name in LOCAL_NAMES}
    observed = {
        c: _netcdf_column(table[c])
        for c in table.colnames
        if not c.startswith("true_") and table[c].ndim == 1
    }
    observed["source_row"] = checked.rows
    idata = az.from_dict(
        posterior=posterior,
        observed_data=observed,
        dims={**dims, **{c: ["object"] for c in observed}},
        coords={"object": np.arange(n)},
        attrs={
            "experiment": yaml_dump(to_dict(exp)),
            "run_dir": str(run_dir),
            "data": str(data_path),
            "n_read": checked.n_read,
            "n_dropped": len(checked.dropped_rows),
            "photo_z": int(photo_z),
            "where": " ".join(map(str, where)),
            "n_file_rows": int(read.meta.get("n_file_rows", len(read))),
            **{k: str(v) for k, v in provenance().items()},
        },
    )
    with atomic_path(output) as tmp:
        idata.to_netcdf(str(tmp), engine="h5netcdf")
    if drop_invalid:
        write_drop_report(drop_report_path(output), checked, read)
    return idata, names


def drop_report_path(output: str | Path) -> Path:
    """Where ``infer --drop-invalid`` lists skipped rows (``post.nc`` -> ``post.dropped.json``)."""
    return Path(output).with_suffix(".dropped.json")


def _netcdf_column(column) -> np.ndarray:
    """A table column as a plain array netCDF can store (text as str, masked as NaN)."""
    values = np.asarray(getattr(column, "data", column))
    if values.dtype.kind == "S":
        return np.char.decode(values, "utf-8", errors="replace").astype(str)
    if values.dtype.kind == "O":
        return values.astype(str)
    mask = np.ma.getmaskarray(column)
    if mask.any():
        values = values.astype(np.float64) if values.dtype.kind in "biuf" else values.astype(str)
        if values.dtype.kind == "f":
            values[mask] = np.nan
    return values


def yaml_dump(data) -> str:
    """YAML text of plain data (for file attributes)."""
    import yaml

    return yaml.safe_dump(data, sort_keys=False)
