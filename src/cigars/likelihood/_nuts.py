"""Running NUTS on a likelihood model and storing the draws as ArviZ InferenceData."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cigars._types import Key

__all__ = ["nuts_idata", "run_nuts"]


def run_nuts(
    key: Key,
    model,
    *args,
    num_warmup: int = 500,
    num_samples: int = 1000,
    num_chains: int = 1,
    target_accept: float = 0.8,
    max_tree_depth: int = 10,
    dense_mass: bool = True,
    progress: bool = True,
    **kwargs,
):
    """NUTS draws from a numpyro model (chains run one after the other).

    Args:
        key: PRNG key.
        model: the numpyro model.
        *args: positional arguments of the model.
        num_warmup: adaptation steps per chain.
        num_samples: kept draws per chain.
        num_chains: chains.
        target_accept: NUTS target acceptance probability.
        max_tree_depth: NUTS maximum tree depth.
        dense_mass: adapt a dense mass matrix (the globals are strongly correlated, e.g.
            M0 with the cosmology, alpha with beta; fewer leapfrog steps per draw).
        progress: show numpyro's progress bar.
        **kwargs: keyword arguments of the model.

    Returns:
        The finished ``numpyro.infer.MCMC`` (``get_samples(group_by_chain=True)``,
        ``get_extra_fields()``).
    """
    from numpyro.infer import MCMC, NUTS, init_to_median

    kernel = NUTS(
        model,
        target_accept_prob=target_accept,
        max_tree_depth=max_tree_depth,
        dense_mass=dense_mass,
        init_strategy=init_to_median(num_samples=15),
    )
    mcmc = MCMC(
        kernel,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method="sequential",
        progress_bar=progress,
    )
    mcmc.run(key, *args, extra_fields=("diverging", "num_steps"), **kwargs)
    return mcmc


def nuts_idata(
    mcmc,
    names: tuple[str, ...],
    *,
    observed: Mapping[str, np.ndarray] | None = None,
    attrs: Mapping[str, Any] | None = None,
):
    """ArviZ InferenceData of the draws of ``names`` (posterior on (chain, draw)).

    ``sample_stats`` holds ``diverging`` and ``n_steps`` (leapfrog steps per draw);
    ``observed_data`` the given per-object columns on an ``object`` dimension.
    """
    import arviz as az

    samples = mcmc.get_samples(group_by_chain=True)
    posterior = {n: np.asarray(samples[n]) for n in names}
    extra = mcmc.get_extra_fields(group_by_chain=True)
    stats = {
        "diverging": np.asarray(extra["diverging"]),
        "n_steps": np.asarray(extra["num_steps"]),
    }
    observed = {k: np.asarray(v) for k, v in (observed or {}).items()}
    n_obj = len(next(iter(observed.values()))) if observed else 0
    return az.from_dict(
        posterior=posterior,
        sample_stats=stats,
        observed_data=observed or None,
        dims={k: ["object"] for k in observed},
        coords={"object": np.arange(n_obj)} if observed else None,
        attrs={k: str(v) for k, v in (attrs or {}).items()},
    )
