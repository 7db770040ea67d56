r"""The known-hosts sub-model: the generative model whose exact posterior :func:`sn_model` gives.

:func:`~cigars.likelihood.sn_model` is the *conditional* likelihood of the detected supernovae
given their redshifts and host quantities (the covariates :math:`h_i`):
:math:`\prod_i p(d_i \mid h_i, \theta, \mathrm{det})`. Its posterior is the exact posterior of
a survey whose covariates are drawn independently of :math:`\theta`, and whose SN data are
drawn given the covariates *conditioned on detection*:

.. math::

    h_i \sim q(h), \qquad d_i \sim p(d \mid h_i, \theta, \mathrm{det}),

because then :math:`p(\theta \mid d, h) \propto p(\theta) \prod_i q(h_i)\, p(d_i \mid h_i,
\theta, \mathrm{det})`. A neural posterior trained on simulations of this model targets the
same posterior as NUTS on :func:`sn_model`, which makes NUTS a reference for it.

:func:`known_hosts_problem` is that model as a :mod:`cigars.inference` problem:

* :math:`q(h)` is a fixed pool of the *detected* SNe of ``n_pool_surveys`` surveys of the
  experiment's full simulator at prior draws (:func:`covariate_pool`): covariates
  :math:`(z_\mathrm{cos}, z_\mathrm{hel}, \log M, [Z], t, \tau_2)`;
* each simulation takes ``n`` ~ U{n_lo..n_hi} covariates from the pool (with replacement) and
  draws each SN's data with the simulator's own stages (:class:`~cigars.sn.SampleIntrinsic`,
  :class:`~cigars.sn.ApplySNDust`, :class:`~cigars.survey.ObserveSupernovae`,
  :class:`~cigars.survey.ApplySelection`), ``n_tries`` times, keeping the first detected try
  (rejection sampling). A slot none of whose tries is detected is dropped (masked); the
  fraction is reported by :func:`rejection_failure_rate` and should be ~0;
* data per object: ``m_B, x1, c, ln W_mm, ln W_xx, ln W_cc`` and, with ``sub_model.score``,
  the SN's terms of the likelihood score at the truth values (:func:`score_terms`) and, with
  ``sub_model.laplace``, the sample's Laplace approximation (:func:`laplace_features`); context:
  the covariates; no local latents; globals: the experiment's inferred parameters except
  ``sub_model.fixed`` (the DTD does not enter the sub-model; the mass-step location makes the
  likelihood piecewise constant, which NUTS cannot explore), fixed at the experiment's truth.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from cigars._types import Array, Float
from cigars.likelihood._sn import SNData, SNModel, distance_modulus_hel, sn_log_likelihood

__all__ = [
    "CONTEXT_FIELDS",
    "covariate_pool",
    "known_hosts_problem",
    "laplace_features",
    "rejection_failure_rate",
    "score_terms",
    "sn_data_from_catalogue",
    "sn_data_from_simulation",
    "sn_model_for",
    "submodel_prior",
]

CONTEXT_FIELDS = ("z_cos", "z_hel", "logmass", "progenitor_logzsol", "age_gyr", "dust2")
"""Catalogue fields that are the sub-model's covariates (its NPE context), in order."""


def submodel_prior(exp, fixed_values: Any = None):
    """The experiment's prior without the sub-model's ``fixed`` parameters.

    Args:
        exp: the experiment (``likelihood.sub_model.fixed`` names the parameters to fix; the
            default list when the section is absent).
        fixed_values: a :class:`~cigars.simulate.Theta` for the non-inferred parameters
            (default: the experiment's truth).

    Returns:
        The :class:`~cigars.simulate.GlobalPrior`.
    """
    from cigars.experiment import experiment_truth
    from cigars.likelihood._config import SubModelConfig
    from cigars.simulate import GlobalPrior

    sub = getattr(exp.likelihood, "sub_model", None) or SubModelConfig()
    params = {k: v for k, v in exp.prior.params.items() if k not in sub.fixed}

    fixed = experiment_truth(exp) if fixed_values is None else fixed_values
    return GlobalPrior.from_mapping(params, fixed=fixed)


def sn_model_for(exp) -> SNModel:
    """The :class:`SNModel` of the experiment's simulator (population, SN dust, W_mm model)."""
    sim = exp.simulator
    if sim is None:
        raise ValueError("the experiment has no 'simulator' section")
    return SNModel.from_components(
        sim.sn_population.build(), sim.sn_dust.build(), sim.survey.build(), exp.cosmology.type_name
    )


def covariate_pool(
    exp,
    bank,
    n_surveys: int,
    seed: int,
    overrides: dict[str, float] | None = None,
    min_p_det: float = 0.0,
) -> dict[str, np.ndarray]:
    """Covariates of the detected SNe of ``n_surveys`` full simulations at prior draws.

    ``overrides`` replace parameters of the prior draws (see ``SubModelConfig.pool_theta``);
    only SNe whose detection probability (at their observed magnitude) was at least
    ``min_p_det`` are kept.

    Returns:
        Field (:data:`CONTEXT_FIELDS`) -> (P,) float64 array.

    Raises:
        ValueError: if the surveys detect no supernova.
    """
    from cigars.experiment import experiment_truth, simulator_for
    from cigars.simulate import simulate

    simulator = simulator_for(exp, bank)
    prior = exp.prior.build(experiment_truth(exp))
    out = {f: [] for f in CONTEXT_FIELDS}
    for i in range(n_surveys):
        k_theta, k_sim = jax.random.split(jax.random.fold_in(jax.random.key(seed), i))
        theta = prior.sample(k_theta).replace(**dict(overrides or {}))
        _, cat = simulate(simulator, k_sim, theta)
        mask = np.asarray(cat.mask) & (np.asarray(cat.p_det) >= min_p_det)
        for f in CONTEXT_FIELDS:
            out[f].append(np.asarray(getattr(cat, f), np.float64)[mask])
    pool = {f: np.concatenate(v) for f, v in out.items()}
    if pool["z_cos"].size == 0:
        raise ValueError("covariate_pool: the simulated surveys detected no supernova")
    return pool


def known_hosts_problem(exp, bank, pool: dict[str, np.ndarray] | None = None):
    """The known-hosts sub-model as an NPE problem ``(simulate, prior, local_bounds)``.

    See the module docstring. ``simulate(key, theta_vector)`` returns
    ``(theta, None, data, mask, context)`` with ``data`` (n_hi, 6 [+ n_theta]) = ``m_B, x1, c,
    ln W_mm, ln W_xx, ln W_cc`` [and :func:`score_terms` with ``sub_model.score``] and
    ``context`` (n_hi, 6) = the covariates (:data:`CONTEXT_FIELDS`).

    Args:
        exp: the experiment; ``likelihood`` must be a ``tripp`` section with ``sub_model``.
        bank: the galaxy bank (for the covariate pool).
        pool: a precomputed :func:`covariate_pool` (default: built from
            ``sub_model.n_pool_surveys`` surveys, seed ``sub_model.pool_seed``).

    Raises:
        ValueError: without a ``likelihood.sub_model`` section.
    """
    from cigars.experiment import ThetaPrior
    from cigars.sn import ApplySNDust
    from cigars.survey import ApplySelection, Catalogue

    sub = getattr(exp.likelihood, "sub_model", None)
    if sub is None:
        raise ValueError("known_hosts_problem: the experiment has no likelihood.sub_model section")
    sim = exp.simulator
    if pool is None:
        pool = covariate_pool(
            exp, bank, sub.n_pool_surveys, sub.pool_seed, sub.pool_theta, sub.pool_min_p_det
        )
    dtype = jnp.result_type(float)
    pool_j = {f: jnp.asarray(v, dtype) for f, v in pool.items()}
    n_pool = pool["z_cos"].size
    global_prior = submodel_prior(exp)
    prior = ThetaPrior(global_prior)
    population = sim.sn_population.build()
    dust = ApplySNDust(dust=sim.sn_dust.build())
    observe = sim.survey.build()
    select = ApplySelection(selection=sim.selection.build())
    n_lo, n_hi = sub.n_objects
    tries = sub.n_tries
    cosmology = exp.cosmology.type_name
    model = sn_model_for(exp)
    theta_fid = global_prior.to_array(global_prior.fixed).astype(dtype)

    def simulate_one(key, theta_vector):
        k_n, k_idx, k_pop, k_dust, k_obs, k_sel = jax.random.split(key, 6)
        theta = global_prior.from_array(theta_vector)
        n = jax.random.randint(k_n, (), n_lo, n_hi + 1)
        idx = jax.random.randint(k_idx, (n_hi,), 0, n_pool)
        cov = {f: v[idx] for f, v in pool_j.items()}
        mu = distance_modulus_hel(theta, cov["z_cos"], cov["z_hel"], cosmology)
        rep = {f: jnp.repeat(v, tries) for f, v in {**cov, "mu": mu}.items()}
        cat = Catalogue.empty(n_hi * tries, 1, dtype).replace(**rep)
        cat = population(k_pop, theta, cat)
        cat = dust(k_dust, theta, cat)
        cat = observe(k_obs, theta, cat)
        cat = select(k_sel, theta, cat)
        detected = cat.detected.reshape(n_hi, tries)
        first = jnp.argmax(detected, axis=1)
        ok = jnp.any(detected, axis=1)

        def pick(a):
            return jnp.take_along_axis(a.reshape(n_hi, tries), first[:, None], axis=1)[:, 0]

        data = jnp.stack(
            [
                pick(cat.m_obs),
                pick(cat.x1_obs),
                pick(cat.c_obs),
                jnp.log(pick(cat.var_m)),
                jnp.log(pick(cat.var_x1)),
                jnp.log(pick(cat.var_c)),
            ],
            axis=-1,
        )
        context = jnp.stack([cov[f] for f in CONTEXT_FIELDS], axis=-1)
        mask = (jnp.arange(n_hi) < n) & ok
        if sub.score:
            data = jnp.concatenate(
                [data, score_terms(model, global_prior, theta_fid, data, context)], axis=-1
            )
        if sub.laplace:
            lap = laplace_features(model, global_prior, theta_fid, data, context, mask)
            data = jnp.concatenate([data, jnp.broadcast_to(lap, (n_hi, lap.shape[0]))], -1)
        return theta_vector, None, data, mask, context

    return simulate_one, prior, None


def score_terms(model: SNModel, global_prior, theta_fid, data, context):
    """Each SN's gradient of :func:`~cigars.likelihood.sn_log_likelihood` at ``theta_fid``.

    The per-object terms of the score of the known-hosts likelihood without the selection
    normalisation (which depends on the covariates, not on the SN data): their sum over the
    sample is the score compression of the data at ``theta_fid``.

    Args:
        model: the SN model (:func:`sn_model_for`).
        global_prior: the sub-model prior (its inferred parameters are differentiated).
        theta_fid: the fiducial point as a vector of the inferred parameters.
        data: (n, >=6) ``m_B, x1, c, ln W_mm, ln W_xx, ln W_cc``.
        context: (n, 6) the covariates (:data:`CONTEXT_FIELDS`).

    Returns:
        (n, n_theta) terms; 0 where the likelihood is not finite.
    """

    def one(row):
        sn = _sn_data(row[None, :6], row[None, 6:])

        def log_l(t):
            return sn_log_likelihood(model, global_prior.from_array(t), sn)[0]

        return jax.grad(log_l)(theta_fid)

    # Objects in vmapped chunks of 50 (lax.map): one jacfwd over a whole batch of surveys
    # (16 x 300 SNe x n_theta tangents) hung XLA:CPU (jaxlib 0.10.2) on some batches: the
    # batched-LAPACK deadlock described in laplace_features.
    rows = jnp.concatenate([data[:, :6], context], axis=-1)
    terms = jax.lax.map(one, rows, batch_size=50)
    return jnp.where(jnp.isfinite(terms), terms, 0.0)


def laplace_features(
    model: SNModel, global_prior, theta_start, data, context, mask, max_newton: int = 60
) -> Float[Array, " n_feat"]:
    r"""The sample's Laplace approximation without selection: mode, log sds and correlations.

    Maximises :math:`\log p(u \mid d) = \sum_i \log p(d_i \mid h_i, \theta(u)) + \log
    p(\theta(u)) + \log|\partial\theta/\partial u|` over the unconstrained parameters
    :math:`u` (numpyro's ``biject_to`` of each prior's support) by Levenberg-Marquardt steps
    from ``theta_start`` (the negative Hessian shifted to be positive definite, then damped by
    six multiples of its mean diagonal; the best of the six steps is taken if it improves the
    objective, so it never decreases) until the Newton step is under 1e-3 of the posterior's
    sds (the Newton decrement) or no step improves, at most ``max_newton`` steps (a fixed
    twelve, until stop 36, left ~9% of prior samples short of the mode, some with a direction
    that looked unconstrained), then returns
    :math:`\hat u`, :math:`\log` of the sds of :math:`(-H)^{-1}` and its correlations (upper
    triangle). The selection normalisation is left out (it needs a per-SN table); the
    network learns its effect from the simulations. Like the score (Alsing & Wandelt 2018),
    this is a compression of the data whose information the neural posterior then uses;
    unlike it, the expansion point follows the data, so the compression stays nearly
    sufficient far from ``theta_start``.

    Args:
        model: the SN model (:func:`sn_model_for`).
        global_prior: the sub-model prior.
        theta_start: the starting point, a vector of the inferred parameters.
        data: (n, >=6) ``m_B, x1, c, ln W_mm, ln W_xx, ln W_cc``.
        context: (n, 6) the covariates (:data:`CONTEXT_FIELDS`).
        mask: (n,) the valid objects.
        max_newton: most Levenberg-Marquardt iterations (static).

    Returns:
        (d + d + d (d - 1) / 2,) features for d inferred parameters.
    """
    # Batched (a vmapped simulation), this runs one sample after another. Vmapped, the
    # Hessian's batched LAPACK calls (the 4 x 4 Cholesky factors and triangular solves of
    # sn_log_likelihood) deadlock XLA:CPU on 2 cores (jaxlib 0.10.2): each splits its batch over
    # the intra-op thread pool from inside a task of that pool and waits for the parts, and with
    # every worker waiting nothing runs them (gdb: lapack_strsm_ffi -> ParallelBatchMap ->
    # BlockingCounter::Wait on all workers, 0% CPU; jit(vmap(hessian)) of a Cholesky solve over
    # 64 x 300 matrices hangs, 16 x 300 does not). Unrolled 4 x 4 factors avoid the deadlock,
    # but the batched Hessian then costs 10-12 ms per sample against 6.5 ms here (stop 39).
    return jax.custom_batching.sequential_vmap(
        lambda t, a, c, m: _laplace(model, global_prior, t, a, c, m, max_newton)[0]
    )(theta_start, data[:, :6], context, mask)


def _laplace(model, global_prior, theta_start, data, context, mask, max_newton):
    """:func:`laplace_features` of one sample, and its number of passes.

    ``data``: the sample's six SN columns. Returns ``(features, passes)``, ``passes`` the
    Levenberg-Marquardt passes run (a converged fit's last pass takes no step).
    """
    import numpyro.distributions as dist

    # Padded slots carry arbitrary (possibly non-finite) values; give them a valid object's, so
    # that the masked sum has finite derivatives.
    first = jnp.argmax(mask)
    sn = _sn_data(
        jnp.where(mask[:, None], data, data[first]),
        jnp.where(mask[:, None], context, context[first]),
    )
    names = global_prior.names
    to_theta = [dist.transforms.biject_to(global_prior.distribution(n).support) for n in names]

    def theta_of(u):
        return jnp.stack([t(u[j]) for j, t in enumerate(to_theta)])

    def objective(u):
        t = theta_of(u)
        theta = global_prior.from_array(t)
        ll = jnp.sum(jnp.where(mask, sn_log_likelihood(model, theta, sn), 0.0))
        jac = sum(to_theta[j].log_abs_det_jacobian(u[j], t[j]) for j in range(len(names)))
        return ll + global_prior.log_prob(theta) + jac

    def safe(f):
        return jnp.where(jnp.isfinite(f), f, -jnp.inf)

    d = len(names)
    eye = jnp.eye(d, dtype=theta_start.dtype)
    u0 = jnp.stack([t.inv(theta_start[j]) for j, t in enumerate(to_theta)])
    damping = jnp.asarray([1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0], u0.dtype)

    def neg_hessian(u):
        neg_h = -jax.hessian(objective)(u)
        return 0.5 * (neg_h + neg_h.T)

    def newton(state):
        u, f0, neg_h, it, _ = state
        g = jax.grad(objective)(u)
        neg_h = neg_hessian(u)
        shift = jnp.maximum(0.0, -jnp.linalg.eigvalsh(neg_h)[0])
        scale = jnp.mean(jnp.abs(jnp.diagonal(neg_h)))
        lams = shift + scale * damping
        steps = jax.vmap(lambda lam: jnp.linalg.solve(neg_h + lam * eye, g))(lams)
        cand = u + steps
        f = jax.vmap(lambda c: safe(objective(c)))(cand)
        best = jnp.argmax(f)
        # Converged when the Newton step is under 1e-3 of the posterior's sds (the Newton
        # decrement), or stuck when no damped step gains: either way u stays put, so the
        # Hessian carried out of the loop is the one at the returned mode.
        decrement = g @ jnp.linalg.solve(neg_h + (shift + 1e-6 * scale) * eye, g)
        done = ~(decrement > 1e-6)  # NaN counts as done
        ok = jnp.all(jnp.isfinite(cand[best])) & (f[best] > f0) & ~done
        return (
            jnp.where(ok, cand[best], u),
            jnp.where(ok, f[best], f0),
            neg_h,
            it + 1,
            ~ok,
        )

    # The Hessian is evaluated once per pass, in the loop body only (one copy of it in the
    # program, the largest part of its compilation); the pass that stops returns it at the
    # mode. After max_newton passes without converging it is one step behind.
    f_start = safe(objective(u0))
    state = (u0, f_start, jnp.zeros((d, d), u0.dtype), 0, False)
    u_hat, _, neg_h, n_pass, _ = jax.lax.while_loop(
        lambda s: ~s[4] & (s[3] < max_newton), newton, state
    )
    shift = jnp.maximum(
        0.0, 1e-6 * jnp.abs(jnp.diagonal(neg_h)).max() - jnp.linalg.eigvalsh(neg_h)[0]
    )
    cov = jnp.linalg.inv(neg_h + shift * eye)
    sd = jnp.sqrt(jnp.diagonal(cov))
    corr = cov / (sd[:, None] * sd[None, :])
    iu = np.triu_indices(d, 1)
    out = jnp.concatenate([u_hat, jnp.log(sd), corr[iu]])
    return jnp.where(jnp.isfinite(out), out, 0.0), n_pass


def _sn_data(data, context) -> SNData:
    """:class:`SNData` of sub-model rows (traceable; no checks: :func:`sn_data_from_simulation`)."""
    var = jnp.exp(data[:, 3:6])
    return SNData(
        **_covariates(jnp.moveaxis(context, -1, 0)),
        y=data[:, :3],
        cov=var[:, :, None] * jnp.eye(3, dtype=var.dtype),
        ln_var_m=data[:, 3],
    )


def _covariates(columns) -> dict:
    """:class:`SNData` host fields from the context columns (:data:`CONTEXT_FIELDS` order)."""
    cols = dict(zip(CONTEXT_FIELDS, columns, strict=True))
    cols["logzsol"] = cols.pop("progenitor_logzsol")
    return cols


def rejection_failure_rate(simulate_one, prior, key, n_sims: int = 32) -> float:
    """Fraction of requested slots dropped because no try was detected (prior draws).

    Uses the ``(data, mask)`` of ``n_sims`` simulations; the requested count is recovered
    from the slots with finite data that are inside the drawn ``n`` (approximated by the
    largest valid index + 1).
    """
    keys = jax.random.split(key, 2 * n_sims)
    dropped = requested = 0
    sim = jax.jit(simulate_one)
    for i in range(n_sims):
        theta = prior.sample(keys[2 * i])
        _, _, _, mask, _ = sim(keys[2 * i + 1], theta)
        mask = np.asarray(mask)
        if mask.any():
            last = int(np.flatnonzero(mask)[-1]) + 1
            requested += last
            dropped += last - int(mask.sum())
    return dropped / max(requested, 1)


def sn_data_from_simulation(data, mask, context) -> SNData:
    """The :class:`SNData` of a sub-model simulation's valid objects (for NUTS)."""
    mask = np.asarray(mask, bool)
    d = np.asarray(data, np.float64)[mask]
    c = np.asarray(context, np.float64)[mask]
    return SNData.from_arrays(
        **_covariates(c.T),
        m=d[:, 0],
        x1=d[:, 1],
        c=d[:, 2],
        var_m=np.exp(d[:, 3]),
        var_x1=np.exp(d[:, 4]),
        var_c=np.exp(d[:, 5]),
    )


def sn_data_from_catalogue(cat) -> SNData:
    """The :class:`SNData` of a simulated catalogue's detected SNe with their true covariates."""
    r = cat.to_numpy() if hasattr(cat, "to_numpy") else cat
    return SNData.from_arrays(
        z_cos=r["z_cos"],
        z_hel=r["z_hel"],
        logmass=r["logmass"],
        logzsol=r["progenitor_logzsol"],
        age_gyr=r["age_gyr"],
        dust2=r["dust2"],
        m=r["m_obs"],
        x1=r["x1_obs"],
        c=r["c_obs"],
        var_m=r["var_m"],
        var_x1=r["var_x1"],
        var_c=r["var_c"],
    )
