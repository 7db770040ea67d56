"""The registry of cosmology functions and the fixtures shared by the contract tests."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import pytest

from cigars import cosmology as cc


def _tabulated(fn):
    def wrapped(cosmo, z):
        return fn(cc.tabulate(cosmo, z_max=3.0, n=64), z)

    wrapped.__name__ = fn.__name__
    return wrapped


REGISTRY = {
    "efunc": cc.efunc,
    "inv_efunc": cc.inv_efunc,
    "de_density_scale": cc.de_density_scale,
    "comoving_distance": cc.comoving_distance,
    "transverse_comoving_distance": cc.transverse_comoving_distance,
    "angular_diameter_distance": cc.angular_diameter_distance,
    "luminosity_distance": cc.luminosity_distance,
    "distance_modulus": cc.distance_modulus,
    "lookback_time": cc.lookback_time,
    "age": cc.age,
    "tabulated_comoving_distance": _tabulated(cc.tabulated_comoving_distance),
    "tabulated_transverse_comoving_distance": _tabulated(cc.tabulated_transverse_comoving_distance),
    "tabulated_luminosity_distance": _tabulated(cc.tabulated_luminosity_distance),
    "tabulated_distance_modulus": _tabulated(cc.tabulated_distance_modulus),
}
NAMES = list(REGISTRY)
FIELDS = [f.name for f in dataclasses.fields(cc.Cosmology)]

# Non-flat with radiation and evolving dark energy: every field influences every output.
COSMO = cc.Cosmology(H0=68.0, Om0=0.32, Ode0=0.75, w0=-0.95, wa=0.2, Tcmb0=2.7255, Neff=3.046)
FLAT = cc.Cosmology(H0=68.0, Om0=0.32, Ode0=None, w0=-0.95, wa=0.2, Tcmb0=2.7255, Neff=3.046)
Z = jnp.array([[0.01, 0.3, 1.0, 2.5], [0.05, 0.6, 1.5, 3.0]])


def batch_of(cosmo: cc.Cosmology, n: int = 3) -> cc.Cosmology:
    """A batch of n cosmologies around ``cosmo`` (every leaf gets a leading axis)."""
    scale = jnp.linspace(0.97, 1.03, n)
    return jax.tree.map(lambda leaf: leaf * scale, cosmo)


ZERO_CURVATURE = COSMO.replace(Ode0=1.0 - 0.32, Tcmb0=0.0)  # non-flat type, Ok0 == 0 exactly
# Every function runs for the non-flat cosmology; for the other variants the fast set keeps the
# functions that contain the flat / curvature code paths (distance_modulus goes through
# transverse_comoving_distance, the tabulated one through tabulate's curvature columns) and the
# full cross product is marked slow (every gradient compile costs ~1 s of CPU).
VARIANT_NAMES = ["distance_modulus", "age", "tabulated_distance_modulus"]


def cases(variants):
    return [
        pytest.param(
            name,
            cosmo,
            id=f"{label}-{name}",
            marks=() if label == "nonflat" or name in VARIANT_NAMES else pytest.mark.slow,
        )
        for label, cosmo in variants
        for name in NAMES
    ]


STRUCTURE_CASES = cases([("nonflat", COSMO), ("flat", FLAT)])
GRAD_CASES = cases([("nonflat", COSMO), ("flat", FLAT), ("Ok0_exactly_0", ZERO_CURVATURE)])
