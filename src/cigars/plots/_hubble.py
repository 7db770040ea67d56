"""Hubble diagram and redshift distributions of a mock survey (cf. CIGaRS-I Fig. 3)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from astropy.table import Table  # noqa: E402

__all__ = ["plot_hubble"]


def plot_hubble(
    table: Table,
    path: str | Path,
    *,
    undetected: Table | None = None,
    title: str | None = None,
) -> Path:
    """Draw m_B against redshift, standardised residuals and the redshift distributions.

    Args:
        table: detected SNe (columns ``true_z`` or ``z_spec``, ``m_b``, ``true_mu`` optional).
        path: output image file (PNG, PDF, ...).
        undetected: SNe that failed selection (``true_z``, ``true_m_true``), drawn in grey.
        title: figure title.

    Returns:
        The path written.
    """
    z = np.asarray(table["true_z"] if "true_z" in table.colnames else table["z_spec"])
    m = np.asarray(table["m_b"])
    fig, (ax, axr, axh) = plt.subplots(
        3, 1, figsize=(8, 9), sharex=True, gridspec_kw={"height_ratios": [3, 1, 1.2]}
    )
    if undetected is not None and len(undetected):
        ax.scatter(
            undetected["true_z"], undetected["true_m_true"], s=2, c="0.75", label="undetected SNe"
        )
    colour = np.asarray(table["true_logmass"]) if "true_logmass" in table.colnames else None
    sc = ax.scatter(z, m, s=3, c=colour, label="detected SNe")
    if colour is not None:
        fig.colorbar(sc, ax=[ax, axr, axh], label=r"host $\log_{10} M_\mathrm{formed}/M_\odot$")
    if "z_spec" in table.colnames:
        spec = np.isfinite(np.asarray(table["z_spec"]))
        if spec.any():
            ax.scatter(
                z[spec],
                m[spec],
                s=8,
                facecolors="none",
                edgecolors="C3",
                lw=0.6,
                label="spectroscopic subsample",
            )
    ax.set_ylabel(r"$m_B^\mathrm{obs}$ [mag]")
    ax.legend(loc="lower right", markerscale=3, fontsize=8)
    ax.set_title(
        title
        or f"{len(table)} detected SNe Ia: median z = {np.median(z):.3f}, "
        f"median $m_B$ = {np.median(m):.2f}"
    )
    if "true_mu" in table.colnames:
        axr.scatter(z, m - np.asarray(table["true_mu"]), s=2, c="k", alpha=0.4)
        axr.set_ylabel(r"$m_B - \mu$ [mag]")
    else:
        axr.axis("off")
    zmax = float(np.nanmax(z))
    if undetected is not None and len(undetected):
        zmax = max(zmax, float(np.nanmax(undetected["true_z"])))
    bins = np.linspace(0.0, zmax * 1.02, 40)
    if undetected is not None and len(undetected):
        allz = np.concatenate([z, np.asarray(undetected["true_z"])])
        axh.hist(allz, bins=bins, color="0.75", label="all simulated SNe")
    axh.hist(z, bins=bins, color="C0", alpha=0.8, label="detected")
    axh.set_xlabel("cosmological redshift")
    axh.set_ylabel("count")
    axh.legend(fontsize=8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path
