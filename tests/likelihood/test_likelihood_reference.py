"""The checks of a known-hosts network against NUTS: thresholds and direction of each."""

import math

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
