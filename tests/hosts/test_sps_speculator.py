"""The Speculator emulator provider against a numpy re-implementation of its four steps."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cigars.hosts._filters import load_bands, make_photometry
from cigars.hosts._params import HostParams
from cigars.hosts._sps import AbstractSPS, SpeculatorSPS


@pytest.fixture(scope="module")
def npz_path(shared_file):
    return shared_file("cigars-reference/speculator_alpha.npz")


def make_host(**kw) -> HostParams:
    base = dict(
        z=0.5, logmass=10.5, logzsol=-0.3, logsfr_ratios=np.array([0.1, -0.2, 0.0, 0.3, 0.1, 0.0]),
        dust2=0.3, dust_index=-0.2, dust_ratio=1.0, gas_logz=-0.3, ln_fagn=math.log(1e-3),
        ln_agn_tau=math.log(20.0),
    )  # fmt: skip
    base.update(kw)
    return HostParams(**{k: jnp.asarray(v) for k, v in base.items()})


def host_batch(name, values) -> HostParams:
    """Hosts equal to make_host() except ``name`` = each of ``values`` (float32, same signature)."""
    one = make_host()
    n = len(values)
    fields = {}
    for k in one.__dataclass_fields__:
        value = np.asarray(getattr(one, k), np.float32)
        fields[k] = np.broadcast_to(value, (n,) + value.shape)
    fields[name] = np.asarray(values, np.float32)
    return HostParams(**{k: jnp.asarray(v) for k, v in fields.items()})


def numpy_log_spectrum(data, k, x):
    """Steps 1-4 of the reference-data README for sub-emulator k, in float64 numpy."""
    p = f"sub{k}_"
    h = (x - data[p + "parameters_shift"]) / data[p + "parameters_scale"]
    i = 0
    while f"{p}layer{i}_weight" in data:
        h = data[f"{p}layer{i}_weight"].astype(float) @ h + data[f"{p}layer{i}_bias"]
        if f"{p}layer{i}_act_alpha" in data:
            a, b = data[f"{p}layer{i}_act_alpha"], data[f"{p}layer{i}_act_beta"]
            h = (b + (1 - b) / (1 + np.exp(-a * h))) * h
        i += 1
    c = h * data[p + "pca_scale"] + data[p + "pca_shift"]
    return (c @ data[p + "pca_transform_matrix"]) * data[p + "log_spectrum_scale"] + data[
        p + "log_spectrum_shift"
    ]


def numpy_l_lambda(data, host, n_sub=2):
    x = np.concatenate(
        [[float(host.logzsol)], np.asarray(host.logsfr_ratios, float),
         [math.sqrt(float(host.dust2)), float(host.dust_index), float(host.dust_ratio),
          float(host.ln_fagn), float(host.ln_agn_tau), float(host.gas_logz), float(host.z)]]
    )  # fmt: skip
    s = np.concatenate([numpy_log_spectrum(data, k, x) for k in range(n_sub)])
    wave = np.concatenate([data[f"sub{k}_wavelengths"].astype(float) for k in range(n_sub)])
    # README: F_lambda = exp(s + ln10 logmass - 2 ln lambda) in 3631 Jy 4 pi (10 pc)^2 c / A^2.
    unit = 3631e-23 * 4 * math.pi * (10 * 3.085_677_581_491_367_3e18) ** 2 * 2.99792458e18
    return wave, np.exp(s + math.log(10) * float(host.logmass) - 2 * np.log(wave)) * unit / 3.828e33


@pytest.mark.parametrize("n_sub", [1, 2, 3])
def test_matches_numpy_reimplementation_float64(x64, npz_path, n_sub):
    sps = SpeculatorSPS.from_npz(npz_path, n_sub=n_sub, dtype=jnp.float64, min_dlnlam=0.0)
    host = make_host()
    with np.load(npz_path) as data:
        wave, expect = numpy_l_lambda({k: data[k].astype(float) for k in data.files}, host, n_sub)
    np.testing.assert_allclose(np.asarray(sps.wave), wave)
    got = np.asarray(jax.jit(lambda s, h: s.rest_sed(h))(sps, host))
    np.testing.assert_allclose(got, expect, rtol=1e-10)


def test_merged_pixels_are_flux_conserving_averages(x64, npz_path):
    native = SpeculatorSPS.from_npz(npz_path, dtype=jnp.float64, min_dlnlam=0.0)
    merged = SpeculatorSPS.from_npz(npz_path, dtype=jnp.float64)
    assert merged.wave.size < native.wave.size / 4
    host = make_host()
    fine = np.asarray(native.rest_sed(host))
    coarse = np.asarray(merged.rest_sed(host))
    e_fine, e_coarse = np.asarray(native.wave_edges), np.asarray(merged.wave_edges)
    assert set(np.round(e_coarse, 6)) <= set(np.round(e_fine, 6))  # merged edges are pixel edges
    # Integral of L over each merged bin equals the sum over its native pixels.
    cum = np.concatenate([[0.0], np.cumsum(fine * np.diff(e_fine))])
    expect = np.diff(np.interp(e_coarse, e_fine, cum)) / np.diff(e_coarse)
    np.testing.assert_allclose(coarse, expect, rtol=1e-9)
    # Broad-band magnitudes barely notice the merging.
    bands = load_bands()
    for z in (0.05, 0.5, 1.2):
        m_fine = make_photometry(bands, e_fine).magnitudes(jnp.asarray(fine), z)
        m_coarse = make_photometry(bands, e_coarse).magnitudes(jnp.asarray(coarse), z)
        np.testing.assert_allclose(m_coarse, m_fine, atol=1e-3)


def test_float32_close_to_float64_oracle(npz_path):
    sps = SpeculatorSPS.from_npz(npz_path, min_dlnlam=0.0)
    assert isinstance(sps, AbstractSPS) and sps.wave.size == 673 + 3929
    host = make_host(logzsol=0.1, dust2=1.1)
    with np.load(npz_path) as data:
        _, expect = numpy_l_lambda({k: data[k].astype(float) for k in data.files}, host)
    got = np.asarray(jax.jit(lambda s, h: s.rest_sed(h))(sps, host))
    assert got.dtype == np.float32 and np.all(np.isfinite(got))
    np.testing.assert_allclose(np.log(got), np.log(expect), atol=2e-4)


def test_finite_and_smooth_in_every_input(npz_path):
    sps = SpeculatorSPS.from_npz(npz_path)
    phot = make_photometry(load_bands(), sps.wave_edges)
    mags = jax.jit(jax.vmap(lambda h: phot.magnitudes(sps.rest_sed(h), h.z)))
    grid = np.linspace(0.0, 1.0, 41)
    ranges = {
        "logzsol": (-1.9, 0.19), "dust2": (0.0, 2.0), "dust_index": (-1.0, 0.4),
        "dust_ratio": (0.0, 2.0), "z": (0.05, 1.4), "gas_logz": (-2.0, 0.5),
        "ln_fagn": (math.log(1e-5), math.log(3.0)), "ln_agn_tau": (math.log(5), math.log(150)),
    }  # fmt: skip
    for name, (lo, hi) in ranges.items():
        m = np.asarray(mags(host_batch(name, lo + (hi - lo) * grid)))
        assert np.all(np.isfinite(m)), name
        # Smooth: second differences are small compared with first differences' scale.
        d2 = np.abs(np.diff(m, 2, axis=0)).max()
        assert d2 < 0.05, (name, d2)
    # Mass only rescales: 1 dex -> -2.5 mag in every band.
    m = np.asarray(mags(host_batch("logmass", np.array([10.0, 11.0]))))
    np.testing.assert_allclose(m[1] - m[0], -2.5, atol=1e-4)


def test_reference_sanity_magnitude(npz_path):
    # A 10^10.5 M_sun galaxy at z = 0.5 has apparent r ~ 21-22 (MODEL.md 3b: detected hosts
    # have median r = 20.7 at median z 0.47, median log M 10.78).
    from astropy.cosmology import FlatLambdaCDM

    sps = SpeculatorSPS.from_npz(npz_path)
    phot = make_photometry(load_bands(), sps.wave_edges)
    host = make_host(logsfr_ratios=np.zeros(6))
    absolute = np.asarray(jax.jit(lambda h: phot.magnitudes(sps.rest_sed(h), h.z))(host))
    d_m = FlatLambdaCDM(H0=70, Om0=0.3).comoving_transverse_distance(0.5).to("pc").value
    r = absolute[2] + 5 * np.log10(d_m / 10)
    assert 20.5 < r < 22.5


def test_gradients_finite(npz_path):
    sps = SpeculatorSPS.from_npz(npz_path)
    phot = make_photometry(load_bands(), sps.wave_edges)

    def mags(x):
        logzsol, dust2, dust_index, dust_ratio, z, logmass = x
        host = make_host(logzsol=logzsol, dust2=dust2, dust_index=dust_index,
                         dust_ratio=dust_ratio, z=z, logmass=logmass)  # fmt: skip
        return phot.magnitudes(sps.rest_sed(host), host.z)

    jac = np.asarray(jax.jit(jax.jacfwd(mags))(jnp.array([-0.3, 0.3, -0.2, 1.0, 0.5, 10.5])))
    assert np.all(np.isfinite(jac)) and np.all(np.abs(jac).sum(axis=0) > 0)
    np.testing.assert_allclose(jac[:, 5], -2.5, atol=1e-4)


def test_bad_inputs(tmp_path, npz_path):
    with pytest.raises(ValueError, match="not found"):
        SpeculatorSPS.from_npz(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="n_sub"):
        SpeculatorSPS.from_npz(npz_path, n_sub=4)
