"""A small standardised sample shared by the NUTS and importance-sampling tests."""

import numpy as np

from cigars.likelihood import StandardisedData, distance_modulus_hel
from cigars.simulate import GlobalPrior, Theta


def standardised_case(m0_prior: dict):
    """40 SNe at z in [0.02, 1.2] with 0.08-0.2 mag errors, flat ΛCDM Om0 = 0.3, M0 = -19.3.

    Returns ``(truth, data, prior)`` with a uniform Om0 prior on [0, 1] and ``m0_prior``.
    """
    rng = np.random.default_rng(4)
    z = np.sort(rng.uniform(0.02, 1.2, 40))
    truth = Theta(Om0=0.3, M0=-19.3)
    sigma = rng.uniform(0.08, 0.2, z.size)
    m = np.asarray(distance_modulus_hel(truth, z, z, "flat_lambdacdm")) + truth.M0
    data = StandardisedData.from_arrays(z, z, m + sigma * rng.normal(size=z.size), sigma=sigma)
    prior = GlobalPrior.from_mapping({"Om0": {"uniform": [0.0, 1.0]}, "M0": m0_prior}, fixed=truth)
    return truth, data, prior
