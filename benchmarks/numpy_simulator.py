"""Plain-NumPy implementation of the simulator stages, the speed baseline for bench_simulator.py.

Two modes, both idiomatic vectorised NumPy (float64, one simulation at a time), reference
LambdaCDM only:

* ``direct=False`` follows the same algorithmic shortcuts as the JAX stages (``cigars.survey``
  / ``cigars.sn``): per-bank precomputation (distance limits for host detection, the DTD's
  effective bin masses and log-midpoint ages), a tabulated distance-redshift relation per
  simulation, O(n_host) categorical sampling (``Generator.choice`` uses a cumulative sum and a
  binary search) and vectorised per-SN draws. Give it the same (pruned) host table.
* ``direct=True`` is the straight transcription of MODEL.md sections 3b-6: each simulation
  computes every galaxy's six apparent magnitudes, every (galaxy, SFH bin) rate from the bin
  edges, and draws (galaxy, bin) pairs from the flattened categorical.
"""

from __future__ import annotations

import math

import numpy as np

C_KM_S = 299_792.458
DIPOLE_KMS = 369.82
LSST_DEPTHS = np.array([25.73, 26.86, 26.88, 26.34, 25.63, 25.87])
_GL_T, _GL_W = np.polynomial.legendre.leggauss(6)


class NumpySimulator:
    """One CIGaRS survey per call of :meth:`simulate` (the stages of ``cigars.simulate``).

    Args:
        hosts: a ``cigars.survey.HostTable`` (converted to float64 NumPy arrays).
        kappa: survey-size scale [yr].
        n_max: SN slots (the Poisson count is clipped to it, as in the JAX simulator).
        selection: (z_grid, m_grid, p) detection table, or None for the logistic default.
        min_delay_yr: DTD minimum delay.
        n_table: distance-grid points.
        direct: the straight transcription (see the module docstring).
    """

    def __init__(
        self, hosts, kappa, n_max, selection=None, min_delay_yr=1e8, n_table=2048, direct=False
    ):
        self.direct = direct
        self.min_delay_log = math.log10(min_delay_yr)
        self.bin_logmass = np.asarray(hosts.bin_logmass, float)
        self.z = np.asarray(hosts.z, float)
        self.logmass = np.asarray(hosts.logmass, float)
        self.logzsol = np.asarray(hosts.logzsol, float)
        self.dust2 = np.asarray(hosts.dust2, float)
        self.abs_mag = np.asarray(hosts.abs_mag, float)
        self.edges = np.asarray(hosts.log_age_edges, float)
        self.kappa, self.n_max = float(kappa), int(n_max)
        self.selection = selection
        self.z_max = 1.001 * self.z.max() + 1e-3
        self.z_grid = np.linspace(0.0, self.z_max, n_table)
        # host detection: D_M(z) < 10 pc * 10^(-max_b(M_b - depth_b) / 5)
        margin = np.max(self.abs_mag - LSST_DEPTHS[: self.abs_mag.shape[1]], axis=1)
        self.dm_limit = 1e-5 * 10.0 ** (-margin / 5.0)
        # DTD preparation (midpoint rule above the minimum delay), time dilation folded in
        lo, hi = self.edges[:, :-1], self.edges[:, 1:]
        lo_eff = np.maximum(lo, math.log10(min_delay_yr))
        active = hi > lo_eff
        lo_eff = np.where(active, lo_eff, hi - 1.0)
        frac = (10.0**hi - 10.0**lo_eff) / (10.0**hi - 10.0**lo)
        log_mass = (
            np.where(active, np.asarray(hosts.bin_logmass, float) + np.log10(frac), -np.inf)
            - np.log10(1.0 + self.z)[:, None]
        )
        keep = np.any(np.isfinite(log_mass), axis=0)
        self.active_bins = np.flatnonzero(keep)
        self.mass_eff = 10.0 ** log_mass[:, keep]
        self.log_mid = (0.5 * (lo_eff + hi) - 9.0)[:, keep]

    def comoving_transverse(self, om0, ode0, h0=70.0):
        """D_M [Mpc] on the z grid (Gauss-Legendre per interval, cumulative sum)."""
        ok0 = 1.0 - om0 - ode0
        step = self.z_grid[1] - self.z_grid[0]
        nodes = self.z_grid[:-1, None] + 0.5 * step * (_GL_T + 1.0)
        zp1 = 1.0 + nodes
        inv_e = 1.0 / np.sqrt(om0 * zp1**3 + ok0 * zp1**2 + ode0)
        dc = np.concatenate([[0.0], np.cumsum(0.5 * step * (inv_e @ _GL_W))])
        dh = C_KM_S / h0
        if abs(ok0) < 1e-8:
            dm = dc
        elif ok0 > 0:
            dm = np.sinh(math.sqrt(ok0) * dc) / math.sqrt(ok0)
        else:
            dm = np.sin(math.sqrt(-ok0) * dc) / math.sqrt(-ok0)
        return dh * dm

    def _assign(self, rng, theta, dm_grid):
        """Host detection, rates, Poisson count and (host, bin) draws with the shortcuts."""
        detected = np.interp(self.z, self.z_grid, dm_grid) < self.dm_limit
        bin_rate = self.mass_eff * 10.0 ** (theta.dtd_A + theta.dtd_s * self.log_mid)
        host_rate = np.where(detected, bin_rate.sum(axis=1), 0.0)
        total = host_rate.sum()
        n_total = rng.poisson(self.kappa * total)
        n = min(n_total, self.n_max)
        host = rng.choice(len(host_rate), size=n, p=host_rate / total)
        r = bin_rate[host]
        u = rng.uniform(size=n)[:, None] * r.sum(axis=1, keepdims=True)
        pick = np.minimum((np.cumsum(r, axis=1) < u).sum(axis=1), r.shape[1] - 1)
        return host, self.active_bins[pick], n_total

    def _assign_direct(self, rng, theta, dm_grid):
        """The same draws computed directly from the bank columns, every simulation."""
        dm = np.interp(self.z, self.z_grid, dm_grid)
        mags = self.abs_mag + (5.0 * np.log10(dm) + 25.0)[:, None]
        detected = np.all(mags < LSST_DEPTHS[: mags.shape[1]], axis=1)
        lo, hi = self.edges[:, :-1], self.edges[:, 1:]
        mid = 0.5 * (lo + hi)
        log_rate = (
            theta.dtd_A
            + self.bin_logmass
            + theta.dtd_s * (mid - 9.0)
            - np.log10(1.0 + self.z)[:, None]
        )
        rate = np.where((lo >= self.min_delay_log) & detected[:, None], 10.0**log_rate, 0.0)
        total = rate.sum()
        n_total = rng.poisson(self.kappa * total)
        n = min(n_total, self.n_max)
        flat = rng.choice(rate.size, size=n, p=rate.ravel() / total)
        return flat // rate.shape[1], flat % rate.shape[1], n_total

    def p_det(self, z, m):
        if self.selection is None:
            m50 = 24.32 + z * (-0.344 - 1.295 * z)
            return 1.0 / (1.0 + np.exp((m - m50) / 0.216))
        zg, mg, p = self.selection
        i = np.clip(np.searchsorted(zg, z, side="right") - 1, 0, len(zg) - 2)
        j = np.clip(np.searchsorted(mg, m, side="right") - 1, 0, len(mg) - 2)
        tz = np.clip((z - zg[i]) / (zg[i + 1] - zg[i]), 0, 1)
        tm = np.clip((m - mg[j]) / (mg[j + 1] - mg[j]), 0, 1)
        return (
            (1 - tz) * (1 - tm) * p[i, j]
            + (1 - tz) * tm * p[i, j + 1]
            + tz * (1 - tm) * p[i + 1, j]
            + tz * tm * p[i + 1, j + 1]
        )

    def simulate(self, rng: np.random.Generator, theta) -> dict[str, np.ndarray]:
        """One survey; returns the detected SNe's observables and a few latents."""
        dm_grid = self.comoving_transverse(theta.Om0, theta.Ode0, theta.H0)
        if self.direct:
            host, sfh_bin, n_total = self._assign_direct(rng, theta, dm_grid)
        else:
            host, sfh_bin, n_total = self._assign(rng, theta, dm_grid)
        n = len(host)
        # progenitors
        lo = np.maximum(self.edges[host, sfh_bin], 8.0)
        hi = self.edges[host, sfh_bin + 1]
        age_gyr = (10.0**lo + rng.uniform(size=n) * (10.0**hi - 10.0**lo)) / 1e9
        logzsol = self.logzsol[host]
        # intrinsic population
        x1 = rng.normal(0.0, 1.0, n)
        c = rng.normal(theta.alpha_c * x1, 0.1)
        dm_host = (
            theta.gamma_Z * logzsol
            + theta.gamma_age * age_gyr
            + np.where(self.logmass[host] > theta.step_loc, theta.step_M, 0.0)
        )
        m_int = rng.normal(theta.M0 + dm_host + theta.alpha * x1 + theta.beta * c, theta.sigma_res)
        # SN dust
        a_v = rng.exponential(0.1, n)
        r_v = np.empty(n)
        todo = np.arange(n)
        while todo.size:  # truncated normal by rejection
            draw = rng.normal(3.0, 0.5, todo.size)
            ok = draw > 1.2
            r_v[todo[ok]] = draw[ok]
            todo = todo[~ok]
        e_bv = a_v / r_v
        abs_m = m_int + a_v + e_bv
        c_ext = c + e_bv
        # redshifts and distance modulus (per-host velocities and dipole angles)
        uniq, inverse = np.unique(host, return_inverse=True)
        v = rng.normal(0.0, 300.0, uniq.size)[inverse]
        cosd = rng.uniform(-1.0, 1.0, uniq.size)[inverse]
        z_cos = self.z[host]
        z_cmb = z_cos + (1.0 + z_cos) * v / C_KM_S
        b = DIPOLE_KMS * cosd / C_KM_S
        z_hel = (z_cmb - b) / (1.0 + b)
        dm = np.interp(z_cos, self.z_grid, dm_grid)
        mu = 5.0 * np.log10((1.0 + z_hel) * dm) + 25.0
        # host photometry (per-host noise)
        host_mag = self.abs_mag[host] + (5.0 * np.log10(dm) + 25.0)[:, None]
        noise = rng.normal(0.0, 0.01, (uniq.size, host_mag.shape[1]))[inverse]
        host_mag_obs = host_mag + noise
        # SN observables
        m = abs_m + mu
        var_m = np.exp(rng.normal(0.2 * (m - 56.0), 1.2))
        var_x1 = np.exp(rng.normal(-3.0, 1.0, n))
        var_c = np.exp(rng.normal(-7.0, 0.6, n))
        m_obs = rng.normal(m, np.sqrt(var_m))
        x1_obs = rng.normal(x1, np.sqrt(var_x1))
        c_obs = rng.normal(c_ext, np.sqrt(var_c))
        # selection
        keep = rng.uniform(size=n) < self.p_det(z_hel, m_obs)
        return {
            "n_total": n_total,
            "host_mag_obs": host_mag_obs[keep],
            "m_obs": m_obs[keep],
            "x1_obs": x1_obs[keep],
            "c_obs": c_obs[keep],
            "var_m": var_m[keep],
            "var_x1": var_x1[keep],
            "var_c": var_c[keep],
            "z_hel": z_hel[keep],
        }
