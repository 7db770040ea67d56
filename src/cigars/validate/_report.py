"""All diagnostics of a set of simulated surveys and their posteriors, as one JSON-ready report.

A report is a dict of named sections (``sbc``, ``coverage``, ``tarp``, ``recovery``,
``photoz``, and any added later, e.g. a comparison with reference posteriors), a flat list of
``checks`` (each a number, a threshold and pass/fail) and a ``verdict`` over all checks.
:func:`add_report_section` adds a section with its checks to a written report.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cigars.validate._coverage import (
    coverage_by_width,
    coverage_deviation,
    coverage_summary,
    coverage_tolerance,
    credibility_levels,
    tarp_coverage,
)
from cigars.validate._photoz import DEFAULT_Z_EDGES, photoz_metrics, photoz_metrics_binned
from cigars.validate._ranks import rank_uniformity, sbc_ranks
from cigars.validate._recovery import recovery_summary

__all__ = [
    "REPORT_NAME",
    "Check",
    "Thresholds",
    "ValidationDraws",
    "add_report_section",
    "diagnose",
    "read_report",
    "to_json",
    "verdict",
    "write_report",
]

REPORT_NAME = "report.json"


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """Pass/fail thresholds of the checks.

    Attributes:
        sbc_p: minimum chi-square p-value of every global parameter's SBC rank histogram.
        coverage: allowed deviation of a coverage curve from the diagonal, widened to the 99%
            Kolmogorov-Smirnov band of the number of simulations when that is larger
            (:func:`~cigars.validate.coverage_tolerance`).
        tarp: the same for the TARP curve of the joint global posterior.
        band_p: the false-alarm probability of that band.
        photoz_sigma_nmad: maximum sigma_NMAD of the photo-z of objects without spec-z.
        photoz_eta_015: maximum fraction of photo-z outliers with ``|dz|/(1+z) > 0.15``.
        nuts_c2st: maximum mean C2ST of each global against NUTS (known-hosts runs,
            ``--reference nuts``).
        nuts_shift: maximum mean |shift| of each global's posterior mean, in NUTS sd.
        nuts_sd_ratio: the neural/NUTS sd ratio (median over surveys) must lie in
            [1/nuts_sd_ratio, nuts_sd_ratio].
        pareto_k: maximum PSIS Pareto k of the importance weights (the network covers the
            exact posterior).
    """

    sbc_p: float = 0.01
    coverage: float = 0.05
    tarp: float = 0.05
    band_p: float = 0.01
    photoz_sigma_nmad: float = 0.02
    photoz_eta_015: float = 0.0
    nuts_c2st: float = 0.6
    nuts_shift: float = 0.2
    nuts_sd_ratio: float = 1.25
    pareto_k: float = 0.7


@dataclasses.dataclass(frozen=True)
class Check:
    """One pass/fail check: ``value <op> threshold``."""

    section: str
    name: str
    statistic: str
    value: float
    op: Literal[">=", "<="]
    threshold: float

    @property
    def passed(self) -> bool:
        """Whether the value satisfies the threshold (a NaN value fails)."""
        if not math.isfinite(self.value):
            return False
        return self.value >= self.threshold if self.op == ">=" else self.value <= self.threshold

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON, with ``passed``."""
        return {**dataclasses.asdict(self), "passed": self.passed}


@dataclasses.dataclass(frozen=True)
class ValidationDraws:
    """Posterior draws for ``n`` simulated surveys, reduced to what the diagnostics need.

    Attributes:
        names: the global parameters (``d``).
        local_names: the per-object parameters (``k``, may be empty).
        num_samples: ``L``, joint posterior draws per survey.
        theta_true: true globals ``(n, d)``.
        theta_draws: posterior draws of the globals ``(n, L, d)``.
        local_true: true per-object parameters of every valid object of every survey ``(m, k)``.
        local_ranks: SBC rank of each among its ``L`` draws ``(m, k)``.
        local_mean: posterior mean ``(m, k)``.
        local_sd: posterior standard deviation ``(m, k)``.
        has_spec: whether the object had a spectroscopic redshift ``(m,)``.
        survey: index of the survey each object belongs to ``(m,)`` (a row of ``theta_true``).
        survey_key: each survey's index ``i`` of :func:`~cigars.validate.survey_keys` ``(n,)``
            (``0..n-1`` unless surveys were skipped).
    """

    names: tuple[str, ...]
    local_names: tuple[str, ...]
    num_samples: int
    theta_true: np.ndarray
    theta_draws: np.ndarray
    local_true: np.ndarray
    local_ranks: np.ndarray
    local_mean: np.ndarray
    local_sd: np.ndarray
    has_spec: np.ndarray
    survey: np.ndarray
    survey_key: np.ndarray | None = None

    def __post_init__(self):
        if self.survey_key is None:  # files written before skipping existed
            n = np.asarray(self.theta_true).shape[0]
            object.__setattr__(self, "survey_key", np.arange(n))

    _ARRAYS = (
        "theta_true",
        "theta_draws",
        "local_true",
        "local_ranks",
        "local_mean",
        "local_sd",
        "has_spec",
        "survey",
        "survey_key",
    )

    def save(self, path: str | Path) -> Path:
        """Write as ``.npz`` (atomically; no pickled objects)."""
        from cigars.io import atomic_path

        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                names=np.array(self.names, dtype=str),
                local_names=np.array(self.local_names, dtype=str),
                num_samples=np.array(self.num_samples),
                **{k: getattr(self, k) for k in self._ARRAYS},
            )
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> ValidationDraws:
        """Read a file written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as f:
            return cls(
                names=tuple(str(s) for s in f["names"]),
                local_names=tuple(str(s) for s in f["local_names"]),
                num_samples=int(f["num_samples"]),
                **{k: f[k] for k in cls._ARRAYS if k in f},
            )


_WIDTH_GROUPS = 4  # per-object coverage by quartile of posterior sd


def _param_section(values: Mapping[str, np.ndarray], names: Sequence[str]) -> dict:
    """``{name: {key: value[j]}}`` from ``{key: array (d,)}``."""
    return {n: {k: v[j] for k, v in values.items()} for j, n in enumerate(names)}


def diagnose(
    draws: ValidationDraws,
    *,
    thresholds: Thresholds | None = None,
    seed: int = 0,
    redshift: str = "z",
    z_edges: Sequence[float] = DEFAULT_Z_EDGES,
) -> dict[str, Any]:
    """Every diagnostic of :class:`ValidationDraws`, with checks and a verdict.

    Sections:

    * ``sbc``: per global, the rank histogram and its chi-square and KS p-values
      (:func:`~cigars.validate.rank_uniformity`); per local parameter the same for the ranks
      pooled over all objects (informative only: objects of one survey share the globals, so
      these p-values are not exact).
    * ``coverage``: expected coverage of central credible intervals
      (:func:`~cigars.validate.central_coverage`) per global and per local parameter pooled over
      objects; the curve, its coverage at 68% and 95%, and its largest deviation; for the
      local parameters also the same per quartile of posterior sd
      (:func:`~cigars.validate.coverage_by_width`).
    * ``tarp``: the TARP curve of the joint global posterior.
    * ``recovery``: posterior-mean recovery and z-scores per global
      (:func:`~cigars.validate.recovery_summary`).
    * ``photoz``: metrics of the posterior-mean ``redshift`` of objects without spec-z, overall
      and binned in true redshift.

    Checks: SBC chi-square p >= ``thresholds.sbc_p`` per global; coverage deviation within
    :func:`~cigars.validate.coverage_tolerance` per global and per local parameter; TARP
    deviation likewise; photo-z sigma_NMAD and 0.15-outlier fraction.
    """
    th = Thresholds() if thresholds is None else thresholds
    L = draws.num_samples
    n = draws.theta_true.shape[0]
    levels = credibility_levels()
    checks: list[Check] = []
    report: dict[str, Any] = {"n_sims": n, "num_samples": L, "thresholds": dataclasses.asdict(th)}

    # Simulation-based calibration.
    ranks = sbc_ranks(draws.theta_draws, draws.theta_true)
    uni = rank_uniformity(ranks, L, seed=seed)
    sbc = {
        "n_bins": uni["n_bins"],
        "expected_per_bin": uni["expected"],
        "globals": _param_section(
            {k: uni[k] for k in ("chi2", "chi2_p", "ks", "ks_p")} | {"counts": uni["counts"].T},
            draws.names,
        ),
        "note": "p-values per parameter; with d parameters a calibrated estimator fails at least "
        "one p >= sbc_p check with probability about 1 - (1 - sbc_p)^d; the chi-square "
        "approximation wants about 5 expected ranks per bin (n_sims >= 40 or so)",
    }
    for j, name in enumerate(draws.names):
        checks.append(
            Check("sbc", name, "chi-square p-value", float(uni["chi2_p"][j]), ">=", th.sbc_p)
        )
    m = draws.local_ranks.shape[0]
    if draws.local_names and m:
        luni = rank_uniformity(draws.local_ranks, L, seed=seed + 1)
        sbc["locals_pooled"] = _param_section(
            {k: luni[k] for k in ("chi2", "chi2_p", "ks", "ks_p")} | {"counts": luni["counts"].T},
            draws.local_names,
        )
        sbc["locals_pooled_n_bins"] = luni["n_bins"]
        sbc["locals_pooled_expected_per_bin"] = luni["expected"]
    report["sbc"] = sbc

    # Expected coverage of central intervals.
    tol_n = coverage_tolerance(n, th.coverage, th.band_p)
    gcov = coverage_summary(ranks, L, levels)
    dev = gcov["max_deviation"]
    coverage = {
        "interval": "central (equal-tailed) 1-D credible intervals",
        "levels": levels,
        "globals": _param_section(gcov, draws.names),
        "tolerance_globals": tol_n,
    }
    for j, name in enumerate(draws.names):
        checks.append(
            Check("coverage", name, "max |coverage - credibility|", float(dev[j]), "<=", tol_n)
        )
    if draws.local_names and m:
        tol_m = coverage_tolerance(m, th.coverage, th.band_p)
        lcov = coverage_summary(draws.local_ranks, L, levels)
        ldev = lcov["max_deviation"]
        coverage["locals_pooled"] = _param_section(lcov, draws.local_names)
        coverage["n_objects"] = m
        coverage["tolerance_locals"] = tol_m
        if m >= _WIDTH_GROUPS:
            by_width = coverage_by_width(draws.local_ranks, L, draws.local_sd, _WIDTH_GROUPS)
            coverage["locals_by_width"] = {
                "groups": "quartiles of each parameter's posterior sd, narrowest first "
                "(informative: a miscalibration that only sharp or only broad posteriors carry)",
                "n": by_width.pop("n"),
                **_param_section({k: v.T for k, v in by_width.items()}, draws.local_names),
            }
        for k, name in enumerate(draws.local_names):
            checks.append(
                Check(
                    "coverage",
                    f"{name} (per object)",
                    "max |coverage - credibility|",
                    float(ldev[k]),
                    "<=",
                    tol_m,
                )
            )
    report["coverage"] = coverage

    # TARP on the joint global posterior.
    tarp = tarp_coverage(draws.theta_draws, draws.theta_true, seed=seed, levels=levels)
    tdev = float(coverage_deviation(levels, tarp["coverage"]))
    report["tarp"] = {
        "levels": levels,
        "coverage": tarp["coverage"],
        "max_deviation": tdev,
        "ks_p": float(rank_uniformity(tarp["rank"], L, seed=seed + 2)["ks_p"]),
        "references": "uniform in the box spanned by the true values (parameters scaled to [0, 1])",
        "tolerance": coverage_tolerance(n, th.tarp, th.band_p),
    }
    checks.append(
        Check(
            "tarp",
            "joint globals",
            "max |ECP - credibility|",
            tdev,
            "<=",
            report["tarp"]["tolerance"],
        )
    )

    # Recovery.
    report["recovery"] = _param_section(
        recovery_summary(draws.theta_draws, draws.theta_true), draws.names
    )

    # Photo-z of objects without a spectroscopic redshift.
    if redshift in draws.local_names:
        k = draws.local_names.index(redshift)
        photo = ~np.asarray(draws.has_spec, bool)
        z_mean = draws.local_mean[photo, k]
        z_true = draws.local_true[photo, k]
        overall = photoz_metrics(z_mean, z_true)
        overall["median_posterior_sd"] = (
            float(np.median(draws.local_sd[photo, k])) if photo.any() else None
        )
        report["photoz"] = {
            "parameter": redshift,
            "estimate": "posterior mean",
            "objects": "valid objects without a spectroscopic redshift",
            "overall": overall,
            "binned": photoz_metrics_binned(z_mean, z_true, z_edges),
        }
        if overall["n"]:
            checks.append(
                Check(
                    "photoz",
                    "sigma_nmad",
                    "sigma_NMAD",
                    overall["sigma_nmad"],
                    "<=",
                    th.photoz_sigma_nmad,
                )
            )
            checks.append(
                Check(
                    "photoz",
                    "eta_0.15",
                    "fraction |dz|/(1+z) > 0.15",
                    overall["eta_0.15"],
                    "<=",
                    th.photoz_eta_015,
                )
            )
    report["checks"] = [c.to_dict() for c in checks]
    report["verdict"] = verdict(report["checks"])
    return report


def verdict(checks: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Overall verdict of a list of check dicts: passed when every check passed."""
    checks = list(checks)
    failed = [f"{c['section']}: {c['name']}" for c in checks if not c["passed"]]
    return {
        "passed": not failed,
        "n_checks": len(checks),
        "n_failed": len(failed),
        "failed": failed,
    }


def to_json(obj: Any) -> Any:
    """Plain JSON data: arrays to lists, numpy scalars to Python numbers, NaN/inf to None."""
    if isinstance(obj, Mapping):
        return {str(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_json(obj.tolist())
    if isinstance(obj, np.bool_ | bool):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    return obj


def write_report(report_dir: str | Path, report: Mapping[str, Any]) -> Path:
    """Write ``report_dir/report.json`` atomically."""
    from cigars.io import atomic_write_text

    path = Path(report_dir) / REPORT_NAME
    atomic_write_text(path, json.dumps(to_json(report), indent=1, allow_nan=False) + "\n")
    return path


def read_report(report_dir: str | Path) -> dict[str, Any]:
    """Read ``report_dir/report.json``.

    Raises:
        ValueError: if the folder has no report.
    """
    path = Path(report_dir) / REPORT_NAME
    if not path.is_file():
        raise ValueError(f"{report_dir}: no {REPORT_NAME} (run `cigars validate` first)")
    return json.loads(path.read_text())


def add_report_section(
    report_dir: str | Path,
    name: str,
    section: Mapping[str, Any],
    checks: Sequence[Check] = (),
) -> dict[str, Any]:
    """Add (or replace) a section and its checks in a written report; recompute the verdict.

    E.g. a comparison of the neural posteriors with reference (NUTS) posteriors of the same
    simulated surveys: ``add_report_section(dir, "reference", {...}, [Check("reference", ...)])``.
    Checks of a replaced section are replaced too.

    Returns:
        The updated report (also written to ``report_dir/report.json``).
    """
    reserved = {"checks", "verdict", "n_sims", "num_samples", "thresholds"}
    if name in reserved:
        raise ValueError(f"add_report_section: {name!r} is a reserved report key")
    bad = [c for c in checks if c.section != name]
    if bad:
        raise ValueError(
            f"add_report_section: check {bad[0].name!r} belongs to section {bad[0].section!r}, "
            f"not {name!r}"
        )
    report = read_report(report_dir)
    report[name] = to_json(section)
    kept = [c for c in report.get("checks", []) if c["section"] != name]
    report["checks"] = kept + [c.to_dict() for c in checks]
    report["verdict"] = verdict(report["checks"])
    write_report(report_dir, report)
    return report
