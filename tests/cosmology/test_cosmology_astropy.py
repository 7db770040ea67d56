"""Comparison to astropy.cosmology (independent oracle), kept apart from regression pins.

Float64 quadrature functions must agree with astropy to 1e-6 relative (observed ~1e-10 or better)
for LambdaCDM, wCDM and w0waCDM, Ok0 in {-0.3, 0, +0.3}, with and without radiation, z in
[1e-3, 3]. The float32 tabulated fast path must give |delta mu| <= 1e-4 mag.
"""

from __future__ import annotations

import astropy.cosmology as apc
import jax.numpy as jnp
import numpy as np
import pytest

from cigars import cosmology as cc

REL_TOL = 1e-6
MU_TOL_F32 = 1e-4  # mag

Z = np.concatenate([[1e-3, 2e-3, 5e-3], np.geomspace(1e-2, 3.0, 60), [3.0]])

# name -> (w0, wa); astropy class families (non-flat, flat).
MODELS = {
    "LambdaCDM": (-1.0, 0.0, apc.LambdaCDM, apc.FlatLambdaCDM),
    "wCDM": (-0.85, 0.0, apc.wCDM, apc.FlatwCDM),
    "w0waCDM": (-0.9, -0.6, apc.w0waCDM, apc.Flatw0waCDM),
}
CURVATURE = {"closed": -0.3, "flat": None, "nonflat_zero": 0.0, "open": 0.3}
RADIATION = {"norad": 0.0, "rad": 2.7255}


def _pair(model: str, curvature: str, radiation: str, H0=67.0, Om0=0.31, Neff=3.046):
    """Matching (astropy, cigars) cosmologies; cigars Ode0 is chosen to give the target Ok0."""
    w0, wa, nonflat_cls, flat_cls = MODELS[model]
    ok0 = CURVATURE[curvature]
    tcmb = RADIATION[radiation]
    extra = {"w0": w0} if model != "LambdaCDM" else {}
    if model == "w0waCDM":
        extra["wa"] = wa
    common = dict(H0=H0, Om0=Om0, Tcmb0=tcmb, Neff=Neff, m_nu=0.0, **extra)
    if ok0 is None:
        ref = flat_cls(**common)
        ours = cc.Cosmology(H0=H0, Om0=Om0, Ode0=None, w0=w0, wa=wa, Tcmb0=tcmb, Neff=Neff)
    else:
        probe = flat_cls(**common)
        ode0 = 1.0 - Om0 - ok0 - probe.Ogamma0 - probe.Onu0
        ref = nonflat_cls(Ode0=ode0, **common)
        ours = cc.Cosmology(H0=H0, Om0=Om0, Ode0=ode0, w0=w0, wa=wa, Tcmb0=tcmb, Neff=Neff)
    return ref, ours


FUNCTIONS = {
    "efunc": (cc.efunc, lambda ref, z: ref.efunc(z)),
    "comoving_distance": (cc.comoving_distance, lambda ref, z: ref.comoving_distance(z).value),
    "transverse_comoving_distance": (
        cc.transverse_comoving_distance,
        lambda ref, z: ref.comoving_transverse_distance(z).value,
    ),
    "angular_diameter_distance": (
        cc.angular_diameter_distance,
        lambda ref, z: ref.angular_diameter_distance(z).value,
    ),
    "luminosity_distance": (
        cc.luminosity_distance,
        lambda ref, z: ref.luminosity_distance(z).value,
    ),
    "distance_modulus": (cc.distance_modulus, lambda ref, z: ref.distmod(z).value),
    "lookback_time": (cc.lookback_time, lambda ref, z: ref.lookback_time(z).value),
    "age": (cc.age, lambda ref, z: ref.age(z).value),
}

CASES = [
    pytest.param(m, k, r, id=f"{m}-{k}-{r}") for m in MODELS for k in CURVATURE for r in RADIATION
]


@pytest.mark.parametrize(("model", "curvature", "radiation"), CASES)
def test_comparison_to_astropy_float64(x64, model, curvature, radiation):
    ref, ours = _pair(model, curvature, radiation)
    assert float(ours.Ok0) == pytest.approx(ref.Ok0, abs=1e-12)
    assert float(ours.Ode0_value) == pytest.approx(ref.Ode0, rel=1e-12)
    assert float(ours.Or0) == pytest.approx(ref.Ogamma0 + ref.Onu0, rel=1e-10, abs=0)
    z = jnp.asarray(Z)
    for name, (fn, oracle) in FUNCTIONS.items():
        got = np.asarray(fn(ours, z))
        assert got.dtype == np.float64
        want = oracle(ref, Z)
        rel = np.max(np.abs(got / want - 1.0))
        assert rel <= REL_TOL, f"{name}: max relative error {rel:.2e}"


@pytest.mark.parametrize(("model", "curvature", "radiation"), CASES)
def test_comparison_to_astropy_tabulated_float32(model, curvature, radiation):
    ref, ours = _pair(model, curvature, radiation)
    ours = cc.Cosmology(**{k: (None if v is None else float(v)) for k, v in vars(ours).items()})
    table = cc.tabulate(ours, z_max=3.0)
    z = jnp.asarray(Z, dtype=jnp.float32)
    mu = np.asarray(cc.tabulated_distance_modulus(table, z))
    assert mu.dtype == np.float32
    err = np.max(np.abs(mu - ref.distmod(np.asarray(z, np.float64)).value))
    assert err <= MU_TOL_F32, f"max |delta mu| = {err:.2e} mag"
    dm = np.asarray(cc.tabulated_transverse_comoving_distance(table, z))
    rel = np.max(np.abs(dm / ref.comoving_transverse_distance(np.asarray(z, np.float64)).value - 1))
    assert rel <= 1e-5


@pytest.mark.parametrize(("model", "curvature", "radiation"), CASES[::3])
def test_comparison_to_astropy_tabulated_float64(x64, model, curvature, radiation):
    ref, ours = _pair(model, curvature, radiation)
    table = cc.tabulate(ours, z_max=3.0)
    z = jnp.asarray(Z)
    got = np.asarray(cc.tabulated_luminosity_distance(table, z))
    rel = np.max(np.abs(got / ref.luminosity_distance(Z).value - 1.0))
    assert rel <= REL_TOL
    got = np.asarray(cc.tabulated_comoving_distance(table, z))
    assert np.max(np.abs(got / ref.comoving_distance(Z).value - 1.0)) <= REL_TOL


def test_comparison_to_astropy_wmap9(x64):
    ref = apc.WMAP9
    ours = cc.WMAP9
    assert ours.H0 == ref.H0.value
    assert ours.Om0 == ref.Om0
    assert ours.Tcmb0 == ref.Tcmb0.value
    assert ours.Neff == ref.Neff
    assert not ref.has_massive_nu and ours.is_flat
    assert float(ours.Ogamma0) == pytest.approx(ref.Ogamma0, rel=1e-10)
    assert float(ours.Onu0) == pytest.approx(ref.Onu0, rel=1e-10)
    assert float(ours.Ode0_value) == pytest.approx(ref.Ode0, rel=1e-12)
    z = np.concatenate([[0.0], Z, [5.0, 10.0]])
    got = np.asarray(cc.age(ours, jnp.asarray(z)))
    want = ref.age(z).value
    assert np.max(np.abs(got / want - 1.0)) <= REL_TOL
    assert float(cc.age(ours, jnp.inf)) == 0.0


def test_comparison_to_astropy_wide_parameters(x64):
    """Extreme but physical parameters (strong curvature, phantom and evolving w, low H0)."""
    params = [
        dict(H0=50.0, Om0=0.05, Ode0=0.6, w0=-1.5, wa=0.5),
        dict(H0=90.0, Om0=1.0, Ode0=0.5, w0=-0.5, wa=-1.0),
        dict(H0=70.0, Om0=0.2, Ode0=1.0, w0=-1.0, wa=0.0),
    ]
    for p in params:
        ref = apc.w0waCDM(**p, Tcmb0=2.0, Neff=2.0)
        ours = cc.Cosmology(**p, Tcmb0=2.0, Neff=2.0)
        for name, (fn, oracle) in FUNCTIONS.items():
            rel = np.max(np.abs(np.asarray(fn(ours, jnp.asarray(Z))) / oracle(ref, Z) - 1.0))
            assert rel <= REL_TOL, f"{p} {name}: {rel:.2e}"
