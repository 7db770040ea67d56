"""The tiny linear-Gaussian problem and estimator shared by the training tests."""

from cigars.inference import EstimatorConfig, LinearGaussianToy

TOY = LinearGaussianToy(n_max=8, n_min=2)
TINY = EstimatorConfig(
    embed_dim=8,
    summary_dim=8,
    hidden=16,
    depth=1,
    flow_layers=1,
    local_flow_layers=1,
    flow_hidden=16,
    flow_depth=1,
    num_bins=4,
)
