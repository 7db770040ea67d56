"""Compare a cigars mock survey with the CIGaRS reference implementation's released mock.

Usage::

    cigars bank configs/cigars-i-16k.yaml -o bank.h5
    cigars simulate configs/cigars-i-16k.yaml --bank bank.h5 -o mock-16k.fits
    python examples/compare_reference_mock.py mock-16k.fits \
        ../shared/data/cigars-reference/mock-16k.npz

Prints counts, redshift and magnitude summaries, host-magnitude medians and the host-mass split
of the metallicity term (MODEL.md sections 3b, 4b, 8) side by side, and writes a figure.
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from cigars.io._mock import read_mock

BANDS = "ugrizy"


def summaries(z, m, logmass, logzsol, host_mags, gamma_z):
    hi = logmass > 10.0
    zterm = gamma_z * logzsol
    return {
        "N detected": len(z),
        "z 1%": np.percentile(z, 1),
        "z min": z.min(),
        "z max": z.max(),
        "z median": np.median(z),
        "z 95%": np.percentile(z, 95),
        "m_B median": np.median(m),
        "m_B min": m.min(),
        "m_B max": m.max(),
        "host logM median": np.median(logmass),
        "frac logM > 10": hi.mean(),
        "metallicity term hi-lo mass [mag]": zterm[hi].mean() - zterm[~hi].mean(),
        **{f"host {b} median": np.median(host_mags[:, j]) for j, b in enumerate(BANDS)},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mock", help="cigars mock FITS")
    parser.add_argument("reference", help="reference mock .npz")
    parser.add_argument("--figure", default="reference-comparison.png")
    args = parser.parse_args(argv)

    table, truth, _, _ = read_mock(args.mock)
    ours = summaries(
        np.asarray(table["true_z"]),
        np.asarray(table["m_b"]),
        np.asarray(table["true_logmass"]),
        np.asarray(table["true_progenitor_logzsol"]),
        np.stack([np.asarray(table[f"host_mag_{b}"]) for b in BANDS], 1),
        truth["gamma_Z"],
    )
    ref = np.load(args.reference)
    theirs = summaries(
        ref["z"],
        ref["snobs"][:, 0],
        ref["logmass"],
        ref["logzsol"],
        ref["gmags_obs"],
        float(ref["gamma_M_logzsol"]),
    )
    print("| quantity | cigars | reference |\n|---|---|---|")
    for k in ours:
        print(f"| {k} | {ours[k]:.4g} | {theirs[k]:.4g} |")

    fig, axes = plt.subplots(2, 4, figsize=(15, 7))
    pairs = [
        ("redshift", np.asarray(table["true_z"]), ref["z"]),
        ("m_B obs", np.asarray(table["m_b"]), ref["snobs"][:, 0]),
        ("host log M formed", np.asarray(table["true_logmass"]), ref["logmass"]),
        ("host [Z]", np.asarray(table["true_logzsol"]), ref["logzsol"]),
    ] + [
        (f"host {b}", np.asarray(table[f"host_mag_{b}"]), ref["gmags_obs"][:, j])
        for j, b in enumerate(BANDS)
        if b in "ugrz"
    ]
    for ax, (label, a, b) in zip(axes.flat, pairs, strict=False):
        bins = np.linspace(min(a.min(), b.min()), max(a.max(), b.max()), 50)
        ax.hist(b, bins, density=True, histtype="step", color="k", label="reference")
        ax.hist(a, bins, density=True, histtype="step", color="C1", label="cigars")
        ax.set_xlabel(label)
    axes.flat[0].legend()
    fig.tight_layout()
    fig.savefig(args.figure, dpi=110)
    print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
