"""Config of the ``likelihood`` section: which likelihood model, which columns, the sampler.

YAML examples::

    # Pantheon+ standardised magnitudes: m_b_corr = mu(zHD, zHEL) + M0, diagonal errors or --cov
    likelihood:
      type: standardised
      z_min: 0.01
      sampler: {num_warmup: 1000, num_samples: 2000, num_chains: 2}

    # SALT summaries with the CIGaRS SN model (latent x1/c population, Tripp + host terms)
    likelihood:
      type: tripp
      column_map: pantheonplus
      z_min: 0.01

Columns are read with :func:`cigars.io.read_catalogue` (through ``column_map`` when given, else
the file's own columns, or a ``cigars simulate`` mock's), then picked by role with ``columns``
(role -> column; the defaults are the Pantheon+ names).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from cigars._config import Component, Config, bounded

__all__ = [
    "LikelihoodConfig",
    "SamplerConfig",
    "StandardisedLikelihoodConfig",
    "SubModelConfig",
    "TrippLikelihoodConfig",
]


class SamplerConfig(Config):
    """NUTS settings (numpyro).

    Attributes:
        num_warmup: adaptation steps per chain.
        num_samples: kept draws per chain.
        num_chains: chains (run one after another).
        target_accept: target acceptance probability.
        max_tree_depth: maximum tree depth.
        dense_mass: adapt a dense mass matrix.
    """

    num_warmup: int = bounded(1000, ge=1)
    num_samples: int = bounded(1000, ge=1)
    num_chains: int = bounded(2, ge=1)
    target_accept: float = bounded(0.8, gt=0.0, lt=1.0)
    max_tree_depth: int = bounded(10, ge=1, le=15)
    dense_mass: bool = True


class SubModelConfig(Config):
    """The known-hosts sub-model as the neural estimator's training problem.

    With this section, ``cigars train`` / ``cigars validate`` use
    :func:`cigars.likelihood.known_hosts_problem` instead of the photometric model: every SN's
    redshift and host quantities are known (the NPE's context), and its data are drawn given
    them conditioned on detection, so the NPE targets the posterior NUTS samples with the
    ``tripp`` likelihood (the reference for ``cigars validate --reference nuts``).

    Attributes:
        n_pool_surveys: full-simulator surveys (at prior draws) whose detected SNe form the
            covariate pool.
        pool_seed: their PRNG seed.
        pool_theta: parameter values that override the prior draws of the pool surveys (e.g.
            ``{M0: -19.0}``, the faint end of the prior, so that every pooled SN can be
            detected at any prior draw and the rejection sampling rarely gives up).
        pool_min_p_det: keep only pooled SNe detected with at least this probability in their
            pool survey (drops lucky detections that are rarely detected at other parameters).
        n_objects: (lowest, highest) number of SNe per simulated sample (uniform).
        n_tries: draws per SN to find a detected one (rejection sampling).
        fixed: inferred parameters of the experiment that the sub-model fixes at the truth.
        score: append each SN's terms of the likelihood score at the truth values
            (:func:`~cigars.likelihood.sn_log_likelihood` differentiated in the inferred
            parameters) to its data; with ``estimator.pool_inputs`` the set summary sees their
            sum, the score compression of the data (Alsing & Wandelt 2018).
        laplace: append the sample's Laplace approximation (mode, log sds, correlations in
            the prior's unconstrained space; :func:`~cigars.likelihood.laplace_features`,
            selection left out) to every SN's data: with ``estimator.pool_inputs`` the set
            summary sees it directly.
    """

    n_pool_surveys: int = bounded(64, ge=1)
    pool_seed: int = bounded(7919, ge=0)
    pool_theta: dict[str, float] = dataclasses.field(default_factory=dict)
    pool_min_p_det: float = bounded(0.0, ge=0.0, le=1.0)
    n_objects: tuple[int, int] = (100, 300)
    n_tries: int = bounded(64, ge=1)
    fixed: tuple[str, ...] = ("dtd_A", "dtd_s", "step_loc")
    score: bool = True
    laplace: bool = False

    def validate(self) -> None:
        """Check the object range.

        Raises:
            ValueError: if the range is empty or starts below 1.
        """
        lo, hi = self.n_objects
        if not 1 <= lo <= hi:
            raise ValueError(f"n_objects: need 1 <= lowest <= highest, got {[lo, hi]}")


class LikelihoodConfig(Component, kind="likelihood"):
    """A likelihood model for a spectroscopic SN sample (``type:`` picks it).

    Attributes:
        column_map: a :func:`cigars.io.read_catalogue` column map (shipped name such as
            ``pantheonplus``, or a YAML file); ``None`` reads the file's own columns.
        columns: role -> column of the table read (overrides the type's defaults).
        z_min: keep rows with redshift (role ``z``) above this.
        z_max: keep rows with redshift at or below this.
        exclude_calibrators: drop rows flagged by the ``calibrator`` role (Pantheon+
            ``IS_CALIBRATOR``: SNe in Cepheid hosts).
        sampler: NUTS settings.
    """

    column_map: str | None = None
    columns: dict[str, str] = dataclasses.field(default_factory=dict)
    z_min: float = bounded(0.01, ge=0.0)
    z_max: float = bounded(10.0, gt=0.0)
    exclude_calibrators: bool = False
    sampler: SamplerConfig = SamplerConfig()

    ROLES: ClassVar[tuple[str, ...]] = ()
    DEFAULT_COLUMNS: ClassVar[dict[str, str]] = {}

    def validate(self) -> None:
        """Check the roles and the redshift range.

        Raises:
            ValueError: naming an unknown role, or an empty redshift range.
        """
        unknown = sorted(set(self.columns) - set(self.ROLES))
        if unknown:
            raise ValueError(
                f"columns: unknown role {unknown[0]!r}; expected one of {list(self.ROLES)}"
            )
        if not self.z_min < self.z_max:
            raise ValueError(f"z_min ({self.z_min}) must be below z_max ({self.z_max})")

    def column_names(self) -> dict[str, str]:
        """Role -> column: the type's defaults updated with ``columns``."""
        return {**self.DEFAULT_COLUMNS, **self.columns}


class StandardisedLikelihoodConfig(LikelihoodConfig, name="standardised"):
    """Standardised magnitudes: m ~ N(mu(z, z_hel) + M0, C) (Pantheon+ ``m_b_corr``).

    Roles (defaults: the raw Pantheon+SH0ES.dat columns): ``z`` (zHD: the comoving distance's
    redshift), ``z_hel`` (zHEL), ``m`` (m_b_corr), ``m_err`` (m_b_corr_err_DIAG: used when no
    covariance file is given), ``calibrator`` (IS_CALIBRATOR).
    """

    ROLES = ("z", "z_hel", "m", "m_err", "calibrator")
    DEFAULT_COLUMNS = {
        "z": "zHD",
        "z_hel": "zHEL",
        "m": "m_b_corr",
        "m_err": "m_b_corr_err_DIAG",
        "calibrator": "IS_CALIBRATOR",
    }


class TrippLikelihoodConfig(LikelihoodConfig, name="tripp"):
    """SALT summaries (m_B, x1, c) with the CIGaRS SN model (:func:`cigars.likelihood.sn_model`).

    The x1/c population comes from the experiment's ``simulator.sn_population`` (default: the
    reference's). Roles: ``z`` (comoving-distance redshift), ``z_hel``, ``logmass`` (host mass;
    missing values count as below the mass step), ``logzsol``, ``age_gyr``, ``dust2`` (known
    host quantities, 0 if absent), ``calibrator``; m_B, x1, c, their variances and covariances
    are the cigars columns ``m_b``, ``x1``, ``c``, ``var_*``, ``cov_*`` (from the column map).
    Defaults fit :func:`cigars.io.read_catalogue` with the shipped ``pantheonplus`` map.

    Attributes:
        sn_dust: model SN dust with the experiment's ``simulator.sn_dust`` (simulated data);
            real SALT colours already include it (false).
        var_m_model: include the density of the reported m_B variance from
            ``simulator.survey`` (simulated data only).
        selection: divide by the detection probability of ``simulator.selection``.
        sub_model: train/validate the neural estimator on the known-hosts sub-model this
            likelihood describes (:class:`SubModelConfig`); ``None``: the photometric model.
    """

    ROLES = ("z", "z_hel", "logmass", "logzsol", "age_gyr", "dust2", "calibrator")
    DEFAULT_COLUMNS = {
        "z": "z_hd",
        "z_hel": "z_hel",
        "logmass": "host_logmass",
        "calibrator": "IS_CALIBRATOR",
    }

    sn_dust: bool = False
    var_m_model: bool = False
    selection: bool = False
    sub_model: SubModelConfig | None = None

    def validate(self) -> None:
        """Check roles, redshifts, and that a sub-model uses the full simulated SN model.

        Raises:
            ValueError: naming the offending key.
        """
        super().validate()
        if self.sub_model is not None:
            off = [k for k in ("sn_dust", "var_m_model", "selection") if not getattr(self, k)]
            if off:
                raise ValueError(f"sub_model: needs {off[0]}: true (the simulator draws it)")
