"""The checks of a known-hosts network against NUTS: thresholds and direction of each."""

import math

import numpy as np

from cigars.likelihood import reference_checks
from cigars.validate import Thresholds


def _section(c2st=0.55, shift=0.1, ratio=1.1, pareto_k=None):
    section = {
        "summary": {
            "Om0": {"c2st_mean": 0.52, "abs_shift_mean": 0.05, "sd_ratio_median": 1.0},
            "M0": {"c2st_mean": c2st, "abs_shift_mean": shift, "sd_ratio_median": ratio},
        }
    }
    if pareto_k is not None:
        section["importance"] = {"pareto_k_max": pareto_k}
    return section


def _failed(section):
    return {(c.name, c.statistic) for c in reference_checks(section) if not c.passed}


def test_every_global_gets_three_checks_and_passes_inside_the_bands():
    checks = reference_checks(_section(pareto_k=0.5))
    assert len(checks) == 7 and all(c.passed for c in checks)
    assert {c.section for c in checks} == {"reference_nuts"}


def test_each_threshold_fails_on_its_own_side():
    assert _failed(_section(c2st=0.61)) == {("M0", "mean C2ST")}
    assert _failed(_section(shift=0.21)) == {("M0", "mean |shift| / NUTS sd")}
    assert _failed(_section(ratio=1.3)) == {("M0", "|ln(sd ratio)|")}
    assert _failed(_section(ratio=0.79)) == {("M0", "|ln(sd ratio)|")}  # too narrow fails too
    assert _failed(_section(ratio=0.81)) == set()
    assert _failed(_section(pareto_k=0.75)) == {("importance", "max Pareto k")}


def test_thresholds_are_configurable():
    strict = Thresholds(nuts_shift=0.05, nuts_sd_ratio=1.05)
    failed = {(c.name, c.statistic) for c in reference_checks(_section(), strict) if not c.passed}
    assert failed == {("M0", "mean |shift| / NUTS sd"), ("M0", "|ln(sd ratio)|")}
    ratio_check = [c for c in reference_checks(_section()) if c.statistic == "|ln(sd ratio)|"]
    assert ratio_check[1].threshold == math.log(1.25)


def _sn_data(n=5, shift=0.0):
    from cigars.likelihood import SNData

    rng = np.random.default_rng(0)
    return SNData.from_arrays(
        z_cos=rng.uniform(0.1, 1.0, n),
        z_hel=rng.uniform(0.1, 1.0, n),
        logmass=rng.uniform(8, 11, n),
        logzsol=rng.uniform(-1, 0, n),
        age_gyr=rng.uniform(1, 10, n),
        dust2=rng.uniform(0, 1, n),
        m=rng.normal(24, 1, n) + shift,
        x1=rng.normal(0, 1, n),
        c=rng.normal(0, 0.1, n),
        var_m=np.full(n, 0.01),
        var_x1=np.full(n, 0.04),
        var_c=np.full(n, 0.001),
    )


def test_nuts_fingerprint_changes_with_everything_the_draws_depend_on():
    import jax

    from cigars.likelihood._reference import _nuts_fingerprint

    key, data, fixed, setup = jax.random.key(1), _sn_data(), np.arange(3.0), {"a": 1}
    base = _nuts_fingerprint(key, data, fixed, 100, 200, setup)
    assert base == _nuts_fingerprint(
        jax.random.key(1), _sn_data(), np.arange(3.0), 100, 200, {"a": 1}
    )
    others = [
        _nuts_fingerprint(jax.random.key(2), data, fixed, 100, 200, setup),
        _nuts_fingerprint(key, _sn_data(shift=1e-3), fixed, 100, 200, setup),
        _nuts_fingerprint(key, data, fixed + 1e-9, 100, 200, setup),
        _nuts_fingerprint(key, data, fixed, 101, 200, setup),
        _nuts_fingerprint(key, data, fixed, 100, 201, setup),
        _nuts_fingerprint(key, data, fixed, 100, 200, {"a": 2}),
    ]
    assert len({base, *others}) == 7


def test_cached_nuts_runs_once_and_reads_back_the_same_draws(tmp_path):
    from cigars.likelihood._reference import _cached_nuts

    draws = {"Om0": np.linspace(0.1, 0.5, 7), "M0": np.linspace(-19.5, -19.0, 7)}
    calls = []

    def run():
        calls.append(1)
        return draws, 3

    (got, n_div, seconds), hit = _cached_nuts(tmp_path / "cache", "ab" * 32, run)
    assert not hit and len(calls) == 1 and n_div == 3 and seconds >= 0
    (again, n_div2, seconds2), hit2 = _cached_nuts(tmp_path / "cache", "ab" * 32, run)
    assert hit2 and len(calls) == 1 and n_div2 == 3 and seconds2 == seconds
    assert list(again) == ["Om0", "M0"]
    for name in draws:
        np.testing.assert_array_equal(again[name], draws[name])
    # another fingerprint runs again; no cache folder runs every time and writes nothing
    _cached_nuts(tmp_path / "cache", "cd" * 32, run)
    _cached_nuts(None, "ab" * 32, run)
    assert len(calls) == 3
    names = sorted(p.name[:9] for p in (tmp_path / "cache").iterdir())
    assert names == ["nuts-abab", "nuts-cdcd"]


def test_shift_mc_error_matches_the_spread_of_repeated_shifts():
    """Oracle: over many replicate pairs of draws of one and the same distribution (neural
    draws independent, NUTS's an AR(1) chain with rho = 0.8, i.e. about 9x fewer effective
    draws), the shifts' empirical sd equals the mean reported error (to 10%), and the
    summary's noise floor equals their mean absolute value; an error that ignored the
    autocorrelation would be ~2.2x too small."""
    from cigars.likelihood._reference import shift_mc_error, summarise_comparison

    rng = np.random.default_rng(5)
    n, rho, reps = 500, 0.8, 400
    shifts, ses, records = [], [], []
    for _ in range(reps):
        a = rng.normal(size=n)
        b = np.empty(n)
        b[0] = rng.normal()
        for t in range(1, n):
            b[t] = rho * b[t - 1] + math.sqrt(1 - rho**2) * rng.normal()
        se, ess = shift_mc_error(a, b)
        shift = (a.mean() - b.mean()) / b.std(ddof=1)
        shifts.append(shift)
        ses.append(se)
        records.append(
            {
                "parameters": {
                    "x": {"c2st": 0.5, "shift_in_nuts_sd": shift, "shift_mc_se": se, "sd_ratio": 1}
                }
            }
        )
    assert abs(np.std(shifts) / np.mean(ses) - 1) < 0.1
    naive = math.sqrt(2 / n)
    assert np.mean(ses) > 2 * naive
    summary = summarise_comparison(records, ["x"])["x"]
    assert abs(summary["abs_shift_noise"] / summary["abs_shift_mean"] - 1) < 0.1
