"""Re-weighting the host population to an observed sample's host photometry, at each redshift.

The bank's galaxies carry log weights (MODEL.md section 3a, ``_lnweight``: a galaxy of weight w
stands for w galaxies of the population, in its SN rate and in the survey's count). Where the
model's SN hosts do not look like a real sample's (DES-SN5YR's are fainter and redder at a
given redshift than the Prospector-beta population gives, docs/checks.md), the weights can
carry the difference: ``w(x, z) = p_data(x | z) / p_model(x | z)`` for host photometry x at
redshift z, estimated by a classifier between the data's hosts and the model's SN hosts
(probabilistic classification, e.g. Sugiyama et al. 2012). Because the SN rate is a property
of each galaxy, multiplying a galaxy's weight by w multiplies the density of SN hosts at its
photometry by w, so the re-weighted model's SN hosts follow the data's host photometry at each
redshift, while the redshift distribution stays the model's (cosmology and selection).

The classifier is a logistic regression on polynomial features (cubic by default) of ``[z, mean
magnitude, adjacent colours]``: smooth and convex, fitted to its optimum by Newton steps (trust
region) in well under a second.
The data class is re-weighted to the model's redshift distribution (histogram in quantile bins
of the data's redshifts), so the classifier sees only how the photometry differs at a given
redshift.

A caution: in this model the host magnitudes at a given redshift measure distance (the bank's
luminosity function does not depend on cosmology), and the weights are fitted at one
cosmology's distances. What they leave of the data's host magnitude-redshift relation (0.1-0.3
mag for DES-SN5YR with the cubic classifier) reaches a network's cosmology (docs/checks.md).
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
from scipy.optimize import minimize

__all__ = ["PhotometryRatio", "host_features"]


def host_features(mag: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``[z, mean magnitude, m_1 - m_2, m_2 - m_3, ...]`` of hosts, magnitudes ``(n, n_band)``."""
    mag = np.asarray(mag, np.float64)
    z = np.asarray(z, np.float64)
    if mag.ndim != 2 or mag.shape[1] < 2 or z.shape != mag.shape[:1]:
        raise ValueError(
            f"host_features: need magnitudes (n, n_band >= 2) and redshifts (n,), got "
            f"{mag.shape} and {z.shape}"
        )
    return np.column_stack([z, mag.mean(1), -np.diff(mag, axis=1)])


def _polynomial(u: np.ndarray, degree: int) -> np.ndarray:
    terms = [np.ones(len(u))]
    for d in range(1, degree + 1):
        for idx in itertools.combinations_with_replacement(range(u.shape[1]), d):
            terms.append(np.prod(u[:, list(idx)], axis=1))
    return np.column_stack(terms)


@dataclasses.dataclass(frozen=True)
class PhotometryRatio:
    """``log p_data(x | z) - log p_model(x | z)`` as a polynomial logistic regression.

    Build with :meth:`fit`; the features are :func:`host_features` (redshift first).

    The classifier's log odds are normalised at each redshift, so that the model's hosts keep
    their redshift distribution: the weights average to 1 over the model's hosts in each
    redshift bin (each bin's log normaliser interpolated linearly in redshift between bin
    centres); before that, the normalised log odds are clipped to ``[-log max_weight,
    log max_weight]``. Outside the data's redshift range the ratio is 1: the data say nothing
    there.

    Attributes:
        coef: regression coefficients on the polynomial features of the standardised inputs.
        centre: the inputs' standardisation centre.
        scale: the inputs' standardisation scale.
        max_log_ratio: the clip of the normalised log odds.
        degree: the polynomial degree of the classifier's features.
        z_range: the data's redshift range.
        z_nodes: the redshift bins' centres (the model's median redshift in each).
        shift: the log odds' normaliser before the clip, at each of ``z_nodes``.
        log_norm: the final log normaliser at each of ``z_nodes``.
    """

    coef: np.ndarray
    centre: np.ndarray
    scale: np.ndarray
    max_log_ratio: float
    degree: int
    z_range: tuple[float, float]
    z_nodes: np.ndarray
    shift: np.ndarray
    log_norm: np.ndarray

    @classmethod
    def fit(
        cls,
        data: np.ndarray,
        model: np.ndarray,
        *,
        n_z_bins: int = 20,
        ridge: float = 1e-5,
        max_weight: float = 100.0,
        degree: int = 3,
    ) -> PhotometryRatio:
        """Fit the ratio between ``data`` and ``model`` feature rows (:func:`host_features`).

        Args:
            data: ``(n_data, n_feat)`` the observed sample's hosts.
            model: ``(n_model, n_feat)`` the model's SN hosts (e.g. simulated surveys).
            n_z_bins: quantile bins of the data's redshifts in which the data class is
                re-weighted to the model's redshift distribution; model rows outside the data's
                redshift range are left out of the fit.
            ridge: L2 penalty per coefficient (on the mean log loss), for stability.
            max_weight: the normalised odds are clipped to ``[1 / max_weight, max_weight]``.
            degree: the classifier's polynomial degree in the standardised features.

        Raises:
            ValueError: for mismatched or non-finite rows, too few rows, or a bad setting.
        """
        data = np.asarray(data, np.float64)
        model = np.asarray(model, np.float64)
        if data.ndim != 2 or model.ndim != 2 or data.shape[1] != model.shape[1]:
            raise ValueError(
                f"PhotometryRatio.fit: data and model need the same feature columns, got "
                f"{data.shape} and {model.shape}"
            )
        for name, a in (("data", data), ("model", model)):
            if not np.isfinite(a).all():
                raise ValueError(f"PhotometryRatio.fit: {name} has non-finite features")
        if not (isinstance(n_z_bins, int) and n_z_bins >= 1) or not ridge >= 0:
            raise ValueError("PhotometryRatio.fit: n_z_bins must be >= 1 and ridge >= 0")
        if not (isinstance(degree, int) and degree >= 1):
            raise ValueError(f"PhotometryRatio.fit: degree must be an int >= 1, got {degree!r}")
        if not max_weight > 1:
            raise ValueError(f"PhotometryRatio.fit: max_weight must be > 1, got {max_weight}")
        if len(data) < 10 * n_z_bins:
            raise ValueError(
                f"PhotometryRatio.fit: {len(data)} data rows are too few for {n_z_bins} redshift "
                f"bins (need >= {10 * n_z_bins})"
            )
        edges = np.quantile(data[:, 0], np.linspace(0.0, 1.0, n_z_bins + 1))
        model = model[(model[:, 0] >= edges[0]) & (model[:, 0] <= edges[-1])]
        bins_d = np.clip(np.searchsorted(edges, data[:, 0], "right") - 1, 0, n_z_bins - 1)
        bins_m = np.clip(np.searchsorted(edges, model[:, 0], "right") - 1, 0, n_z_bins - 1)
        count_d = np.bincount(bins_d, minlength=n_z_bins)
        count_m = np.bincount(bins_m, minlength=n_z_bins)
        if len(model) < 10 * n_z_bins or np.any(count_m == 0):
            raise ValueError(
                f"PhotometryRatio.fit: the model's hosts cover the data's redshifts too thinly "
                f"({len(model)} in range, {np.count_nonzero(count_m == 0)} empty bins of "
                f"{n_z_bins}): simulate more surveys"
            )
        w_data = (count_m / len(model))[bins_d] / (count_d / len(data))[bins_d]
        x = np.concatenate([data, model])
        centre, scale = x.mean(0), x.std(0)
        scale = np.where(scale > 0, scale, 1.0)
        phi = _polynomial((x - centre) / scale, degree)
        y = np.concatenate([np.ones(len(data)), np.zeros(len(model))])
        w = np.concatenate([w_data, np.ones(len(model))])
        w = w / w.mean()

        def loss(beta):
            t = phi @ beta
            # Weighted mean log loss, log(1 + exp(-s t)) with s = +-1, and its gradient.
            s = 2.0 * y - 1.0
            value = np.mean(w * np.logaddexp(0.0, -s * t)) + ridge * beta[1:] @ beta[1:]
            sig = 0.5 * (1.0 + np.tanh(0.5 * t))  # the logistic function, overflow-free
            grad = phi.T @ (w * (sig - y)) / len(y)
            grad[1:] += 2.0 * ridge * beta[1:]
            return value, grad

        def hessian(beta):
            t = phi @ beta
            curvature = w * 0.25 * (1.0 - np.tanh(0.5 * t) ** 2)  # w sig (1 - sig)
            h = (phi.T * (curvature / len(y))) @ phi
            h[1:, 1:] += 2.0 * ridge * np.eye(len(beta) - 1)
            return h

        # Convex: Newton steps in a trust region converge in under ten iterations, where
        # L-BFGS-B took ~1,400 on the quick-start model's hosts (28 s per fit; now well under 1).
        res = minimize(loss, np.zeros(phi.shape[1]), jac=True, hess=hessian, method="trust-exact")
        if not np.all(np.isfinite(res.x)):
            raise ValueError(f"PhotometryRatio.fit: the fit failed ({res.message})")
        t = phi[len(data) :] @ res.x  # the model rows' log odds
        # Each bin's log odds normaliser, then the clip, then the clip's own normaliser.
        shift = np.array([_log_mean_exp(t[bins_m == k]) for k in range(n_z_bins)])
        clip = float(np.log(max_weight))
        t = np.clip(t - shift[bins_m], -clip, clip)
        log_norm = shift + np.array([_log_mean_exp(t[bins_m == k]) for k in range(n_z_bins)])
        return cls(
            coef=res.x,
            centre=centre,
            scale=scale,
            max_log_ratio=clip,
            degree=degree,
            z_range=(float(edges[0]), float(edges[-1])),
            z_nodes=np.array([np.median(model[bins_m == k, 0]) for k in range(n_z_bins)]),
            shift=shift,
            log_norm=log_norm,
        )

    def log_ratio(self, x: np.ndarray) -> np.ndarray:
        """``log w`` at feature rows ``x`` (:func:`host_features`)."""
        x = np.asarray(x, np.float64)
        z = x[:, 0]
        t = _polynomial((x - self.centre) / self.scale, self.degree) @ self.coef
        shift = np.interp(z, self.z_nodes, self.shift)
        t = np.clip(t - shift, -self.max_log_ratio, self.max_log_ratio)
        out = t + shift - np.interp(z, self.z_nodes, self.log_norm)
        inside = (z >= self.z_range[0]) & (z <= self.z_range[1])
        return np.where(inside, out, 0.0)


def _log_mean_exp(t: np.ndarray) -> float:
    top = np.max(t)
    return float(top + np.log(np.mean(np.exp(t - top))))
