r"""The SN Ia likelihood with known redshifts and hosts: the simulator's SN model, marginalised.

This is the "second view" of the physics the simulator's stages draw from
(:class:`~cigars.sn.SampleIntrinsic`, :class:`~cigars.sn.ApplySNDust`,
:class:`~cigars.survey.ObserveRedshifts`, :class:`~cigars.survey.ObserveSupernovae`), written
as a density. Per supernova, with known redshifts :math:`z_\mathrm{cos}`, :math:`z_\mathrm{hel}`
and known host quantities (host mass, progenitor metallicity and age, host dust if the SN dust
is tied to it):

.. math::

    x &\sim N(\bar x, \sigma_x),\quad c \sim N(\alpha_c x, \sigma_c),\quad
    M_\mathrm{int} \sim N(M_0 + \delta M + \alpha x + \beta c, \sigma_0),\\
    m &= \mu + M_\mathrm{int} + k_m A_V,\quad c_\mathrm{ext} = c + k_c A_V,\quad
    k_m = 1 + 1/R_V,\ k_c = 1/R_V,\\
    y &= (m_\mathrm{obs}, x_\mathrm{obs}, c_\mathrm{obs}) \sim N((m, x, c_\mathrm{ext}), C),

with :math:`\mu = 5\log_{10}[(1+z_\mathrm{hel}) D_M(z_\mathrm{cos})/10\,\mathrm{pc}]` (the
``pantheon`` convention of :class:`~cigars.survey.ObserveRedshifts`) and :math:`\delta M`
from :func:`~cigars.sn.delta_m`. The latent :math:`(x, c, M_\mathrm{int})` are Gaussian and
linear, so for fixed dust :math:`y` is Gaussian with mean :math:`a + b A_V` and covariance
:math:`S = L L^\top + C` (:math:`L` the Cholesky-like loading of the population). The SN
extinction :math:`A_V = a_0 + \mathrm{Exp}(\tau)` (independent dust: :math:`a_0 = 0`; tied
dust: :math:`\tau = 0`, :math:`a_0` from the host) is integrated analytically (an exponentially
modified Gaussian):

.. math::

    \int_0^\infty N(r - bA; 0, S)\,\tfrac{1}{\tau} e^{-A/\tau} dA
    = N(r; 0, S)\,\tfrac{1}{\tau}\sqrt{2\pi/P}\; e^{P\hat A^2/2}\,\Phi(\hat A\sqrt P),\qquad
    P = b^\top S^{-1} b,\ \hat A = (b^\top S^{-1} r - 1/\tau)/P,

and :math:`R_V` (truncated normal) by Gauss-Hermite quadrature (:func:`rv_quadrature`).
When the data carry the measurement variance :math:`W_{mm}` and the survey draws it as
:math:`\ln W_{mm} \sim N(s(m - m_p), \sigma_W)` (:class:`~cigars.survey.ObserveSupernovae`),
that density depends on the latent :math:`m` too; it is Gaussian in :math:`m`, so it enters
exactly as a fourth observation :math:`\ln W_{mm}/s + m_p = m + N(0, \sigma_W/s)` (with the
Jacobian :math:`1/|s|`).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.scipy.special import log_ndtr, logsumexp

from cigars._types import Array, Float
from cigars.cosmology import (
    tabulate,
    tabulated_transverse_comoving_distance,
    transverse_comoving_distance,
)
from cigars.sn import (
    AV_PER_TAU,
    IndependentSNDust,
    SampleIntrinsic,
    TiedSNDust,
    delta_m,
    tripp_mean_magnitude,
)
from cigars.survey import ObserveSupernovae, cosmology_from_theta

__all__ = ["SNData", "SNModel", "distance_modulus_hel", "sn_log_likelihood"]

_LOG_2PI = math.log(2.0 * math.pi)


@struct.dataclass
class SNData:
    """Per-supernova known quantities and observations (n objects, no padding needed).

    Attributes:
        z_cos: cosmological redshift (sets D_M).
        z_hel: heliocentric redshift (the (1 + z) of the luminosity distance, and the selection).
        logmass: host log10 stellar mass [M_sun] (the mass step).
        logzsol: progenitor metallicity log10(Z/Z_sun) (0 if unknown: no metallicity term).
        age_gyr: progenitor age [Gyr] (0 if unknown: no age term).
        dust2: host diffuse-dust optical depth (only used by tied SN dust; 0 otherwise).
        y: (n, 3) observed (m_B, x1, c).
        cov: (n, 3, 3) their measurement covariance.
        ln_var_m: log of the reported m_B variance, used by the W_mm density term (NaN: none).
    """

    z_cos: Float[Array, " n_sn"]
    z_hel: Float[Array, " n_sn"]
    logmass: Float[Array, " n_sn"]
    logzsol: Float[Array, " n_sn"]
    age_gyr: Float[Array, " n_sn"]
    dust2: Float[Array, " n_sn"]
    y: Float[Array, "n_sn 3"]
    cov: Float[Array, "n_sn 3 3"]
    ln_var_m: Float[Array, " n_sn"]

    @property
    def n(self) -> int:
        """Number of supernovae."""
        return self.y.shape[0]

    @classmethod
    def from_arrays(cls, **columns) -> SNData:
        """Build from NumPy-like columns; missing host quantities default to 0 and NaN.

        Keys: ``z_cos``, ``z_hel`` (default ``z_cos``), ``logmass``, ``logzsol``, ``age_gyr``,
        ``dust2``, ``m``, ``x1``, ``c`` and either ``cov`` (n, 3, 3) or ``var_m``, ``var_x1``,
        ``var_c`` (diagonal); ``ln_var_m`` (default: log ``var_m`` when given, else NaN).

        Raises:
            ValueError: on a missing required column, mismatched lengths, non-finite values or a
                non-positive variance (naming the row).
        """
        for name in ("z_cos", "m", "x1", "c"):
            if name not in columns:
                raise ValueError(f"SNData: missing column {name!r}")
        z_cos = np.asarray(columns["z_cos"], float)
        n = z_cos.shape[0]

        def col(name, default):
            v = columns.get(name)
            v = np.full(n, default, float) if v is None else np.asarray(v, float)
            if v.shape != (n,):
                raise ValueError(f"SNData: column {name!r} has shape {v.shape}, expected ({n},)")
            return v

        y = np.stack([col("m", np.nan), col("x1", np.nan), col("c", np.nan)], axis=1)
        if columns.get("cov") is not None:
            cov = np.asarray(columns["cov"], float)
            if cov.shape != (n, 3, 3):
                raise ValueError(f"SNData: cov has shape {cov.shape}, expected ({n}, 3, 3)")
        else:
            var = [col(v, np.nan) for v in ("var_m", "var_x1", "var_c")]
            cov = np.zeros((n, 3, 3))
            for j in range(3):
                cov[:, j, j] = var[j]
        ln_var_m = columns.get("ln_var_m")
        if ln_var_m is None:
            ln_var_m = np.log(cov[:, 0, 0]) if "var_m" in columns else np.full(n, np.nan)
        out = {
            "z_cos": z_cos,
            "z_hel": col("z_hel", np.nan) if "z_hel" in columns else z_cos,
            "logmass": col("logmass", 0.0),
            "logzsol": col("logzsol", 0.0),
            "age_gyr": col("age_gyr", 0.0),
            "dust2": col("dust2", 0.0),
            "y": y,
            "cov": cov,
            "ln_var_m": np.asarray(ln_var_m, float),
        }
        for name, v in out.items():
            if name == "ln_var_m":
                continue
            bad = np.flatnonzero(~np.all(np.isfinite(v.reshape(n, -1)), axis=1))
            if bad.size:
                raise ValueError(f"SNData: row {bad[0]}, column {name!r} is not finite")
        bad = np.flatnonzero(~(out["z_cos"] > 0) | ~(out["z_hel"] > -1))
        if bad.size:
            raise ValueError(f"SNData: row {bad[0]}: redshift must be > 0")
        # Only the variances must be positive: published SALT covariances are sometimes
        # slightly indefinite by rounding (14 of Pantheon+'s 1590), and the likelihood needs
        # only their sum with the population covariance to be positive definite.
        var = np.diagonal(cov, axis1=1, axis2=2)
        bad = np.argwhere(~(var > 0))
        if bad.size:
            i, j = bad[0]
            name = ("m", "x1", "c")[j]
            raise ValueError(f"SNData: row {i}: the variance of {name} must be positive")
        if not np.allclose(cov, np.swapaxes(cov, 1, 2)):
            raise ValueError("SNData: the (m, x1, c) covariances must be symmetric")
        dtype = jnp.result_type(float)
        return cls(**{k: jnp.asarray(v, dtype) for k, v in out.items()})


class SNModel(struct.PyTreeNode):
    """The fixed (non-inferred) settings of the SN model; all fields static.

    Build it from the simulator's own components with :meth:`from_components`.

    Attributes:
        cosmology: cosmological model name (see :func:`~cigars.survey.cosmology_from_theta`).
        x1_mean, x1_sd, c_sd: intrinsic stretch/colour population (:class:`SampleIntrinsic`).
        tau_av: mean of the exponential part of A_V [mag] (0: none).
        av_per_dust2: A_V offset per unit host dust2 (tied dust; 0: none).
        rv_nodes, rv_weights: quadrature over R_V (one node when there is no dust).
        var_m_slope, var_m_pivot, var_m_sd: the ln W_mm model; ``var_m_sd = 0`` switches the
            W_mm density term off (real data, or a survey that does not model it).
    """

    cosmology: str = struct.field(pytree_node=False, default="lambdacdm")
    x1_mean: float = struct.field(pytree_node=False, default=0.0)
    x1_sd: float = struct.field(pytree_node=False, default=1.0)
    c_sd: float = struct.field(pytree_node=False, default=0.1)
    tau_av: float = struct.field(pytree_node=False, default=0.0)
    av_per_dust2: float = struct.field(pytree_node=False, default=0.0)
    rv_nodes: tuple[float, ...] = struct.field(pytree_node=False, default=(3.0,))
    rv_weights: tuple[float, ...] = struct.field(pytree_node=False, default=(1.0,))
    var_m_slope: float = struct.field(pytree_node=False, default=0.0)
    var_m_pivot: float = struct.field(pytree_node=False, default=0.0)
    var_m_sd: float = struct.field(pytree_node=False, default=0.0)

    @property
    def has_dust(self) -> bool:
        """Whether any SN extinction is modelled."""
        return self.tau_av > 0 or self.av_per_dust2 > 0

    @property
    def uses_var_m(self) -> bool:
        """Whether the W_mm density term is part of the likelihood."""
        return self.var_m_sd > 0 and self.var_m_slope != 0

    @classmethod
    def from_components(
        cls,
        population: SampleIntrinsic,
        sn_dust: Any = None,
        observe: ObserveSupernovae | None = None,
        cosmology: str = "lambdacdm",
        n_rv: int = 7,
    ) -> SNModel:
        """The model matching the simulator's components.

        Args:
            population: the intrinsic-population stage (x1/c population).
            sn_dust: :class:`~cigars.sn.IndependentSNDust`, :class:`~cigars.sn.TiedSNDust`, or
                ``None`` (no SN dust: the SALT colour carries it, as for real data).
            observe: the SN observation stage (its ln W_mm model), or ``None`` (no W_mm term).
            cosmology: the cosmological model name.
            n_rv: Gauss-Hermite nodes over R_V (:func:`rv_quadrature`).

        Raises:
            ValueError: for an unknown dust model, or an ``observe`` whose stretch or colour
                variances depend on the magnitude.
        """
        kw: dict[str, Any] = {
            "cosmology": cosmology,
            "x1_mean": float(population.x1_mean),
            "x1_sd": float(population.x1_sd),
            "c_sd": float(population.c_sd),
        }
        if sn_dust is not None:
            if isinstance(sn_dust, IndependentSNDust):
                kw["tau_av"] = float(sn_dust.tau_av)
            elif isinstance(sn_dust, TiedSNDust):
                kw["av_per_dust2"] = float(sn_dust.scale * AV_PER_TAU)
            else:
                raise ValueError(f"SNModel: unsupported SN dust model {type(sn_dust).__name__}")
            if kw.get("tau_av", 0.0) > 0 or kw.get("av_per_dust2", 0.0) > 0:
                kw["rv_nodes"], kw["rv_weights"] = rv_quadrature(
                    sn_dust.rv_mean, sn_dust.rv_sd, sn_dust.rv_min, n_rv
                )
        if observe is not None:
            if observe.var_x1_slope != 0 or observe.var_c_slope != 0:
                # Their ln W_xx and ln W_cc would be further observations of the magnitude.
                raise ValueError(
                    "SNModel: the likelihood models ln W_mm only; stretch and colour variances "
                    "that depend on the magnitude (survey.var_x1_slope, survey.var_c_slope "
                    f"= {observe.var_x1_slope}, {observe.var_c_slope}) are not supported"
                )
            kw.update(
                var_m_slope=float(observe.var_m_slope),
                var_m_pivot=float(observe.var_m_pivot),
                var_m_sd=float(observe.var_m_sd),
            )
        return cls(**kw)


def rv_quadrature(
    mean: float, sd: float, low: float, n: int
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Nodes and weights for expectations over R_V ~ N(mean, sd) truncated below at ``low``.

    Gauss-Hermite (probabilists') nodes of N(mean, sd); nodes at or below ``low`` are dropped and
    the weights renormalised. This treats the truncation only through the dropped nodes: for the
    reference's R_V ~ N(3, 0.5) > 1.2 the truncated mass is 1.6e-4, and 7 nodes reproduce a
    two-dimensional adaptive-quadrature likelihood to ~1e-4 in log density
    (``tests/likelihood``). (Gauss-Legendre in the truncated CDF converges far more slowly: its
    integrand has an infinite derivative at u -> 1.)

    Raises:
        ValueError: if no node lies above ``low``.
    """
    t, w = np.polynomial.hermite_e.hermegauss(n)
    nodes = mean + sd * t
    keep = nodes > low
    if not keep.any():
        raise ValueError(f"rv_quadrature: no node above rv_min = {low}")
    w = w[keep] / w[keep].sum()
    return tuple(float(x) for x in nodes[keep]), tuple(float(x) for x in w)


# Jitted: the likelihoods are traced inside jitted programs anyway, but numpyro runs its models
# eagerly a few times while initialising NUTS, where each primitive of the distance table would
# compile on its own (~200 compilations, 10 s on a 2-core CPU).
@functools.partial(jax.jit, static_argnames=("cosmology", "n_table"))
def distance_modulus_hel(
    theta: Any,
    z_cos: Float[Array, " n_sn"],
    z_hel: Float[Array, " n_sn"],
    cosmology: str = "lambdacdm",
    n_table: int | None = 256,
) -> Float[Array, " n_sn"]:
    r""":math:`\mu = 5\log_{10}[(1 + z_\mathrm{hel}) D_M(z_\mathrm{cos}) / 10\,\mathrm{pc}]` [mag].

    The ``pantheon`` convention of :class:`~cigars.survey.ObserveRedshifts` (Carr et al. 2022),
    with :math:`D_M` of :func:`~cigars.survey.cosmology_from_theta` computed as the simulator's
    :class:`~cigars.survey.ComputeDistances` does: a :func:`~cigars.cosmology.tabulate` table of
    ``n_table`` points up to just beyond the largest redshift (relative error ~1e-10 in float64
    for 256 points), or, with ``n_table=None``, by direct quadrature at every redshift
    (:func:`~cigars.cosmology.transverse_comoving_distance`).
    """
    cosmo = cosmology_from_theta(theta, cosmology)
    if n_table is None:
        dm = transverse_comoving_distance(cosmo, z_cos)
    else:
        table = tabulate(cosmo, 1.001 * jnp.max(z_cos) + 1e-3, n_table)
        dm = tabulated_transverse_comoving_distance(table, z_cos)
    return 5.0 * jnp.log10((1.0 + z_hel) * dm) + 25.0


def population_loading(model: SNModel, theta: Any) -> Float[Array, "3 3"]:
    r"""Loading :math:`L` of the true (m, x1, c) on three standard normals.

    :math:`LL^\top` is their population covariance. Rows m, x, c:
    :math:`[(\alpha + \beta\alpha_c)\sigma_x, \beta\sigma_c, \sigma_0]`,
    :math:`[\sigma_x, 0, 0]`, :math:`[\alpha_c\sigma_x, \sigma_c, 0]`.
    """
    sx, sc = model.x1_sd, model.c_sd
    a, b, ac, s0 = theta.alpha, theta.beta, theta.alpha_c, theta.sigma_res
    zero = jnp.zeros_like(jnp.asarray(a, jnp.result_type(float)))
    return jnp.stack(
        [
            jnp.stack([(a + b * ac) * sx, b * sc + zero, s0 + zero]),
            jnp.stack([sx + zero, zero, zero]),
            jnp.stack([ac * sx, sc + zero, zero]),
        ]
    )


def mean_magnitude(model: SNModel, theta: Any, data: SNData) -> Float[Array, " n_sn"]:
    """Population mean of the dust-free apparent magnitude, mu + E[M_int] [mag]."""
    x_mean = model.x1_mean
    c_mean = theta.alpha_c * x_mean
    dm = delta_m(theta, data.logzsol, data.age_gyr, data.logmass)
    mu = distance_modulus_hel(theta, data.z_cos, data.z_hel, model.cosmology)
    return mu + tripp_mean_magnitude(theta, x_mean, c_mean, dm)


def sn_log_likelihood(model: SNModel, theta: Any, data: SNData) -> Float[Array, " n_sn"]:
    """Log density of each supernova's observations given theta (latents marginalised).

    See the module docstring for the model. Without selection this is the full likelihood;
    with selection divide by :func:`~cigars.likelihood.detection_probability`.

    Args:
        model: fixed settings (:class:`SNModel`).
        theta: global parameters (a :class:`~cigars.simulate.Theta`).
        data: the supernovae.

    Returns:
        (n,) log densities (-inf where the cosmology has no distance).
    """
    dtype = data.y.dtype
    loading = population_loading(model, theta).astype(dtype)
    m_mean = mean_magnitude(model, theta, data)
    x_mean = jnp.full_like(m_mean, model.x1_mean)
    c_mean = theta.alpha_c * x_mean
    resid = data.y - jnp.stack([m_mean, x_mean, c_mean], axis=-1)
    cov = data.cov + loading @ loading.T
    e_m = jnp.array([1.0, 0.0, 0.0], dtype)
    e_c = jnp.array([0.0, 0.0, 1.0], dtype)
    const = 0.0
    if model.uses_var_m:
        # Fourth observation of m from ln W_mm ~ N(s (m - p), sd): (ln W / s + p) ~ N(m, sd/|s|).
        s = model.var_m_slope
        y_w = data.ln_var_m / s + model.var_m_pivot
        resid = jnp.concatenate([resid, (y_w - m_mean)[:, None]], axis=-1)
        row = loading[0]
        pop_w = loading @ row  # covariance of the W-row with (m, x, c)
        top = jnp.concatenate([cov, jnp.broadcast_to(pop_w[:, None], cov.shape[:-1] + (1,))], -1)
        var_w = row @ row + (model.var_m_sd / s) ** 2
        bottom = jnp.concatenate([pop_w, var_w[None]])
        cov = jnp.concatenate([top, jnp.broadcast_to(bottom, cov.shape[:-2] + (1, 4))], axis=-2)
        e_m = jnp.array([1.0, 0.0, 0.0, 1.0], dtype)
        e_c = jnp.array([0.0, 0.0, 1.0, 0.0], dtype)
        const = -math.log(abs(s))
    k = resid.shape[-1]
    chol = jnp.linalg.cholesky(cov)
    logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    rhs = jnp.stack([resid, jnp.broadcast_to(e_m, resid.shape), jnp.broadcast_to(e_c, resid.shape)])
    white = jax.vmap(lambda r: jax.scipy.linalg.solve_triangular(chol, r[..., None], lower=True))(
        rhs
    )[..., 0]  # (3, n, k): L^-1 r, L^-1 e_m, L^-1 e_c
    r_w, u_w, v_w = white[0], white[1], white[2]
    rr = jnp.sum(r_w * r_w, -1)
    gauss0 = -0.5 * (logdet + k * _LOG_2PI) + const
    if not model.has_dust:
        ll = gauss0 - 0.5 * rr
    else:
        ur, vr = jnp.sum(u_w * r_w, -1), jnp.sum(v_w * r_w, -1)
        uu, uv, vv = jnp.sum(u_w * u_w, -1), jnp.sum(u_w * v_w, -1), jnp.sum(v_w * v_w, -1)
        a0 = model.av_per_dust2 * data.dust2
        terms = []
        for rv, w in zip(model.rv_nodes, model.rv_weights, strict=True):
            km, kc = 1.0 + 1.0 / rv, 1.0 / rv
            p = km * km * uu + 2.0 * km * kc * uv + kc * kc * vv
            bq = km * ur + kc * vr
            rr_j = rr - 2.0 * a0 * bq + a0 * a0 * p
            q = bq - a0 * p
            ll_j = gauss0 - 0.5 * rr_j
            if model.tau_av > 0:
                tau = model.tau_av
                a_hat = (q - 1.0 / tau) / p
                ll_j = (
                    ll_j
                    - math.log(tau)
                    + 0.5 * p * a_hat**2
                    + 0.5 * (_LOG_2PI - jnp.log(p))
                    + log_ndtr(a_hat * jnp.sqrt(p))
                )
            terms.append(ll_j + math.log(w))
        ll = logsumexp(jnp.stack(terms), axis=0)
    return jnp.where(jnp.isfinite(ll), ll, -jnp.inf)
