"""Delay-time distributions: bin rates and progenitor ages against independent oracles."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from cigars._config import ConfigError, from_dict
from cigars.simulate import Theta
from cigars.sn import DTDConfig, PowerLawDTD, PowerLawDTDConfig, log_exprel

# Reference-style SFH bin edges (log10 yr) for one galaxy: 0, log10 3e7, 8.0, ..., log10 t_univ.
EDGES = np.array([0.0, math.log10(3e7), 8.0, 8.4, 8.8, 9.2, 9.6, 10.1])
LOGMASS = np.array([7.0, 8.0, 9.0, 9.3, 9.6, 9.9, 10.2])


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def theta(a=-12.15, s=-1.34):
    return Theta(dtd_A=a, dtd_s=s)


# --- Oracle: bin rates by direct numerical integration / the reference formula ------------


def oracle_rate(lo, hi, logmass, a, s, t_min, binning):
    """Rate of one bin from first principles (scipy quadrature, linear time)."""
    t_lo, t_hi = 10.0**lo, 10.0**hi
    t_eff = max(t_lo, t_min)
    if t_hi <= t_eff:
        return 0.0
    mass = 10.0**logmass
    if binning == "midpoint":
        frac = (t_hi - t_eff) / (t_hi - t_lo)
        mid = math.sqrt(t_eff * t_hi)
        return frac * mass * 10.0**a * (mid / 1e9) ** s
    # average: m / (t_hi - t_lo) * int_{t_eff}^{t_hi} A (t/Gyr)^s dt, integrated in ln t
    val, _ = integrate.quad(
        lambda lnt: math.exp(lnt) * (math.exp(lnt) / 1e9) ** s, math.log(t_eff), math.log(t_hi)
    )
    return mass / (t_hi - t_lo) * 10.0**a * val


@pytest.mark.parametrize("binning", ["midpoint", "average"])
@pytest.mark.parametrize("s", [-1.34, -1.0, -0.5, 0.3])
@pytest.mark.parametrize("t_min", [1e8, 4e8, 5e6])
def test_bin_rates_match_quadrature_oracle(binning, s, t_min):
    dtd = PowerLawDTD(min_delay_yr=t_min, binning=binning)
    got = np.asarray(dtd.log_bin_rates(theta(s=s), jnp.asarray(EDGES), jnp.asarray(LOGMASS)))
    for j in range(7):
        want = oracle_rate(EDGES[j], EDGES[j + 1], LOGMASS[j], -12.15, s, t_min, binning)
        if want == 0.0:
            assert got[j] == -np.inf
        else:
            np.testing.assert_allclose(10.0 ** got[j], want, rtol=1e-9)


def test_reference_midpoint_rule_excludes_two_youngest_bins():
    """MODEL.md 4a: bins j >= 2 only; log10 R = log10 A + M_j + s (log10 t_mid - 9)."""
    dtd = PowerLawDTD()
    got = np.asarray(dtd.log_bin_rates(theta(), jnp.asarray(EDGES), jnp.asarray(LOGMASS)))
    assert np.all(got[:2] == -np.inf)
    mid = 0.5 * (EDGES[2:-1] + EDGES[3:])
    np.testing.assert_allclose(got[2:], -12.15 + LOGMASS[2:] - 1.34 * (mid - 9.0), rtol=1e-12)


def test_log_rate_pointwise():
    dtd = PowerLawDTD()
    got = dtd.log_rate(theta(), jnp.array([7.5, 8.0, 9.0, 10.0]))
    np.testing.assert_allclose(np.asarray(got)[1:], [-12.15 + 1.34, -12.15, -12.15 - 1.34])
    assert got[0] == -np.inf


def test_log_exprel_matches_direct_formula():
    x = np.array([-30.0, -5.0, -0.3, -1e-4, 0.0, 1e-5, 2e-3, 0.7, 8.0, 40.0])
    xs = np.where(x == 0, 1.0, x)
    want = np.where(x == 0, 0.0, np.log(np.expm1(xs) / xs))
    np.testing.assert_allclose(np.asarray(log_exprel(jnp.asarray(x))), want, rtol=1e-9, atol=1e-12)


def test_rates_gradient_finite():
    dtd = PowerLawDTD(binning="average")

    def f(s):
        r = dtd.log_bin_rates(theta(s=s), jnp.asarray(EDGES), jnp.asarray(LOGMASS))
        return jnp.sum(jnp.exp(r[2:]))

    for s in (-1.0, -1.34, 0.0):
        assert np.isfinite(float(jax.grad(f)(s)))


# --- Progenitor ages: KS tests against the analytic within-bin distributions --------------


@pytest.mark.parametrize("binning", ["midpoint", "average"])
def test_age_quantile_distribution(binning):
    dtd = PowerLawDTD(min_delay_yr=2e8, binning=binning)
    lo, hi, s = 8.0, 9.3, -1.34  # straddles the minimum delay
    u = jax.random.uniform(jax.random.key(3), (20000,))
    ages = np.asarray(
        jax.vmap(dtd.age_quantile_yr, in_axes=(None, None, None, 0))(theta(s=s), lo, hi, u)
    )
    t0, t1 = 2e8, 10.0**hi
    assert ages.min() >= t0 * (1 - 1e-12) and ages.max() <= t1 * (1 + 1e-12)
    if binning == "midpoint":

        def cdf(t):
            return np.clip((t - t0) / (t1 - t0), 0, 1)
    else:

        def cdf(t):
            t = np.clip(t, t0, t1)
            return (t ** (s + 1) - t0 ** (s + 1)) / (t1 ** (s + 1) - t0 ** (s + 1))

    assert stats.kstest(ages, cdf).pvalue > 1e-3


def test_age_quantile_s_minus_one_is_log_uniform():
    dtd = PowerLawDTD(binning="average")
    u = jnp.linspace(0.0, 0.999, 7)
    got = jax.vmap(dtd.age_quantile_yr, in_axes=(None, None, None, 0))(theta(s=-1.0), 8.5, 9.5, u)
    np.testing.assert_allclose(np.log10(np.asarray(got)), 8.5 + np.asarray(u), rtol=1e-9)


# --- Construction and config --------------------------------------------------------------


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match="min_delay_yr"):
        PowerLawDTD(min_delay_yr=-1.0)
    with pytest.raises(ValueError, match="binning"):
        PowerLawDTD(binning="nearest")


def test_config_builds_dtd_and_rejects_bad_values():
    dtd = from_dict(DTDConfig, {"type": "powerlaw", "min_delay_myr": 40, "binning": "average"})
    assert isinstance(dtd, PowerLawDTDConfig)
    built = dtd.build()
    assert built.min_delay_yr == pytest.approx(4e7) and built.binning == "average"
    with pytest.raises(ConfigError, match="binning"):
        from_dict(DTDConfig, {"type": "powerlaw", "binning": "cubic"})
    with pytest.raises(ConfigError, match="min_delay_myr"):
        from_dict(DTDConfig, {"type": "powerlaw", "min_delay_myr": -3})
