"""Gradients of every registered cosmology function: finite with respect to every Cosmology field
and z (also flat and at Ok0 = 0 exactly), equal to finite differences; the curvature functions
sinn_ratio / cosn smooth through zero.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cosmology_registry import FIELDS, GRAD_CASES, REGISTRY, Z
from jax.test_util import check_grads

from cigars import cosmology as cc


@pytest.mark.parametrize(("name", "cosmo"), GRAD_CASES)
def test_gradients_finite_every_field_and_z(name, cosmo):
    fn = REGISTRY[name]

    def loss(c, z):
        return jnp.sum(fn(c, z))

    g_cosmo, g_z = jax.jit(jax.grad(loss, argnums=(0, 1)))(cosmo, Z)
    for field in FIELDS:
        value = getattr(g_cosmo, field)
        if getattr(cosmo, field) is None:
            assert value is None
            continue
        assert bool(jnp.all(jnp.isfinite(value))), f"d{name}/d{field} = {value}"
    assert bool(jnp.all(jnp.isfinite(g_z)))
    if name != "de_density_scale":
        assert float(g_cosmo.Om0) != 0.0  # gradients actually flow through the parameters


@pytest.mark.parametrize(
    ("name", "ode0"),
    [
        ("distance_modulus", 0.5),  # open
        ("distance_modulus", 0.68),  # Ok0 == 0 exactly: the series branch of sinn_ratio
        ("distance_modulus", 0.9),  # closed
        ("tabulated_distance_modulus", 0.68),
        ("age", 0.5),
    ],
)
def test_gradients_match_finite_differences(x64, name, ode0):
    fn = REGISTRY[name]
    cosmo = cc.Cosmology(H0=68.0, Om0=0.32, Ode0=ode0, w0=-0.95, wa=0.2)
    z = jnp.array([0.1, 0.8, 2.0])

    def f(h0, om0, ode0, w0, wa, zz):
        c = cc.Cosmology(H0=h0, Om0=om0, Ode0=ode0, w0=w0, wa=wa, Tcmb0=0.0)
        return fn(c, zz)

    args = (cosmo.H0, cosmo.Om0, cosmo.Ode0, cosmo.w0, cosmo.wa, z)
    args = tuple(jnp.asarray(a, jnp.float64) for a in args)
    check_grads(jax.jit(f), args, order=1, modes=("rev",), eps=1e-5, atol=1e-6, rtol=1e-6)


def test_sinn_ratio_smooth_through_zero(x64):
    y = jnp.array([-1e-2 - 1e-12, -1e-2 + 1e-12, -1e-9, 0.0, 1e-9, 1e-2 - 1e-12, 1e-2 + 1e-12])
    a = np.sqrt(np.abs(np.asarray(y)))
    safe = np.where(a > 0, a, 1.0)
    closed_form = np.where(np.asarray(y) > 0, np.sinh(safe) / safe, np.sin(safe) / safe)
    closed_form[3] = 1.0
    np.testing.assert_allclose(cc.sinn_ratio(y), closed_form, rtol=1e-15)
    grads = jax.jit(jax.vmap(jax.grad(cc.sinn_ratio)))(y)
    # d/dy [sinh(sqrt y)/sqrt y] -> 1/6 at y = 0, continuous across the series threshold.
    np.testing.assert_allclose(grads[3], 1.0 / 6.0, rtol=1e-12)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-8)
    np.testing.assert_allclose(grads[5], grads[6], rtol=1e-8)
    assert bool(jnp.all(jnp.isfinite(jax.vmap(jax.grad(jax.grad(cc.sinn_ratio)))(y))))


def test_cosn_smooth_through_zero_and_derivative_of_sinn(x64):
    y = jnp.array([-2.0, -1e-2 - 1e-12, -1e-2 + 1e-12, -1e-9, 0.0, 1e-9, 1e-2 + 1e-12, 2.0])
    a = np.sqrt(np.abs(np.asarray(y)))
    want = np.where(np.asarray(y) > 0, np.cosh(a), np.cos(a))
    np.testing.assert_allclose(cc.cosn(y), want, rtol=1e-15)
    # d/dx [x S(k x^2)] = C(k x^2): D_M's derivative with respect to D_C.
    for k in (-0.7, 0.0, 0.4):
        x = jnp.linspace(0.01, 1.5, 7)
        dmdx = jax.vmap(jax.grad(lambda x, k=k: x * cc.sinn_ratio(k * x**2)))(x)
        np.testing.assert_allclose(dmdx, cc.cosn(k * x**2), rtol=1e-13)
    grads = jax.jit(jax.vmap(jax.grad(cc.cosn)))(y)
    np.testing.assert_allclose(grads[4], 0.5, rtol=1e-12)
    np.testing.assert_allclose(grads[1], grads[2], rtol=1e-8)
