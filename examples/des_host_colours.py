"""Realism check: simulated SN-host colours against the 1,623 DES-SN5YR hosts with griz photometry.

Usage::

    cigars bank configs/des-sn5yr.yaml -o bank-des.h5
    cigars simulate configs/des-sn5yr.yaml --bank bank-des.h5 -o mock-des.fits
    python examples/des_host_colours.py mock-des.fits ../shared/data/des-sn5yr --figure des.png

Joins the DES Hubble-diagram SNe (IDSURVEY 10) to the HEAD table's host photometry, and compares
g-r and r-i against redshift with the simulated detected SNe's hosts: a figure and the median
colour offsets (simulated - DES) per redshift bin, printed as Markdown tables. A last table
compares hosts of the same mass at 0.3 < z < 0.6: absolute r magnitude (distance modulus of flat
LambdaCDM, H0 = 70, Om0 = 0.3; no K-correction, the same for both) and g-r, per log-mass bin.
The simulated mass is the total mass formed (MODEL.md section 3a), DES's the stellar mass of its
SED fits (HOST_LOGMASS), which is lower by ~0.2 dex for the same galaxy. With ``--bank`` (the
mock's bank) the simulated hosts' surviving stellar mass is used instead, and a further table
gives, per stellar-mass bin, the fraction of red hosts (observed g-r above ``--red``) among all
bank galaxies, the simulated SN hosts and DES's SN hosts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from astropy.cosmology import FlatLambdaCDM
from astropy.table import Table

from cigars.hosts import load_bank
from cigars.io._mock import read_mock

Z_BINS = np.array([0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0, 1.2])
LOGM_BINS = np.array([9.5, 10.0, 10.5, 11.0, 11.5])
Z_RANGE = (0.3, 0.6)  # redshifts of the same-mass comparisons


def mass_bin_masks(z, logm):
    """For each bin of LOGM_BINS: the objects at Z_RANGE[0] < z < Z_RANGE[1] in it."""
    in_z = (z > Z_RANGE[0]) & (z < Z_RANGE[1])
    return [
        in_z & (logm >= lo) & (logm < hi)
        for lo, hi in zip(LOGM_BINS[:-1], LOGM_BINS[1:], strict=True)
    ]


def des_hosts(data_dir: Path):
    hd = Table.read(data_dir / "DES-SN5YR_HD+MetaData.csv")
    hd = hd[hd["IDSURVEY"] == 10]
    head = Table.read(data_dir / "DES-SN5YR_DES_HEAD.FITS.gz")
    snid = np.char.strip(np.asarray(head["SNID"]).astype(str))
    index = {s: i for i, s in enumerate(snid)}
    cids = [str(c).strip() for c in hd["CID"]]
    joined = np.array([c in index for c in cids])
    rows = np.array([index[c] for c in cids if c in index])
    zhd = np.asarray(hd["zHD"], float)[joined]
    logmass = np.asarray(hd["HOST_LOGMASS"], float)[joined]
    mags = {b: np.asarray(head[f"HOSTGAL_MAG_{b}"])[rows] for b in "griz"}
    good = np.all([(mags[b] > 0) & (mags[b] < 40) for b in "griz"], axis=0)
    return zhd[good], {b: v[good] for b, v in mags.items()}, logmass[good]


def same_mass_rows(z_sim, logm_sim, mags_sim, z_des, logm_des, mags_des):
    """Per log-mass bin in Z_RANGE: (lo, hi, then N, median M_r, median g-r for sim and DES)."""
    cosmo = FlatLambdaCDM(H0=70.0, Om0=0.3)
    out = [list(edges) for edges in zip(LOGM_BINS[:-1], LOGM_BINS[1:], strict=True)]
    for z, logm, mags in [(z_sim, logm_sim, mags_sim), (z_des, logm_des, mags_des)]:
        for row, s in zip(out, mass_bin_masks(z, logm), strict=True):
            abs_r = mags["r"][s] - cosmo.distmod(z[s]).value
            row += [int(s.sum()), np.median(abs_r), np.median(mags["g"][s] - mags["r"][s])]
    return out


def red_fraction_rows(z_bank, logm_bank, gr_bank, host_rows, z_des, logm_des, gr_des, red):
    """Per log-mass bin in Z_RANGE: (lo, hi, then N and red fraction for the bank, the
    simulated SN hosts (bank rows ``host_rows``, repeated per SN) and DES)."""
    out = [list(edges) for edges in zip(LOGM_BINS[:-1], LOGM_BINS[1:], strict=True)]
    for z, logm, gr in [
        (z_bank, logm_bank, gr_bank),
        (z_bank[host_rows], logm_bank[host_rows], gr_bank[host_rows]),
        (z_des, logm_des, gr_des),
    ]:
        for row, s in zip(out, mass_bin_masks(z, logm), strict=True):
            row += [int(s.sum()), float(np.mean(gr[s] > red)) if s.any() else float("nan")]
    return out


def median_offsets(z_sim, c_sim, z_des, c_des):
    out = []
    for lo, hi in zip(Z_BINS[:-1], Z_BINS[1:], strict=True):
        s = (z_sim >= lo) & (z_sim < hi)
        d = (z_des >= lo) & (z_des < hi)
        if s.sum() >= 10 and d.sum() >= 10:
            out.append((lo, hi, s.sum(), d.sum(), np.median(c_sim[s]), np.median(c_des[d])))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mock", help="cigars mock FITS simulated with configs/des-sn5yr.yaml")
    parser.add_argument("data_dir", type=Path, help="../shared/data/des-sn5yr")
    parser.add_argument("--figure", default="des-host-colours.png")
    parser.add_argument("--bank", help="the mock's bank: compare surviving stellar masses")
    parser.add_argument("--red", type=float, default=1.45, help="observed g-r of 'red' hosts")
    args = parser.parse_args(argv)

    table, _, _, _ = read_mock(args.mock)
    z_sim = np.asarray(table["true_z"])
    sim = {b: np.asarray(table[f"host_mag_{b}"]) for b in "griz"}
    z_des, des, logm_des = des_hosts(args.data_dir)
    print(f"{len(z_des)} DES hosts with griz; {len(z_sim)} simulated detected SNe\n")
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, (b1, b2) in zip(axes[:2], [("g", "r"), ("r", "i")], strict=True):
        c_sim, c_des = sim[b1] - sim[b2], des[b1] - des[b2]
        ax.scatter(z_sim, c_sim, s=2, alpha=0.3, c="C1", label="cigars (simulated)")
        ax.scatter(z_des, c_des, s=3, alpha=0.5, c="k", label="DES-SN5YR hosts")
        rows = median_offsets(z_sim, c_sim, z_des, c_des)
        mid = [(lo + hi) / 2 for lo, hi, *_ in rows]
        ax.plot(mid, [r[4] for r in rows], "o-", c="C1", mec="k", label="cigars median")
        ax.plot(mid, [r[5] for r in rows], "s-", c="k", label="DES median")
        ax.set_xlabel("redshift")
        ax.set_ylabel(f"{b1} - {b2} [mag]")
        ax.set_ylim(-0.5, 2.5)
        print(f"| z bin | N sim | N DES | median {b1}-{b2} sim | DES | offset sim-DES |")
        print("|---|---|---|---|---|---|")
        for lo, hi, ns, nd, ms, md in rows:
            print(f"| {lo:.2f}-{hi:.2f} | {ns} | {nd} | {ms:.3f} | {md:.3f} | {ms - md:+.3f} |")
        print()
    axes[0].legend(fontsize=8, markerscale=3)
    bins = np.linspace(16, 26, 41)
    axes[2].hist(des["r"], bins, density=True, histtype="step", color="k", label="DES")
    axes[2].hist(sim["r"], bins, density=True, histtype="step", color="C1", label="cigars")
    axes[2].set_xlabel("host r [mag]")
    axes[2].legend(fontsize=8)
    print(f"median host r: sim {np.median(sim['r']):.2f}, DES {np.median(des['r']):.2f}")
    print(f"median z: sim {np.median(z_sim):.3f}, DES {np.median(z_des):.3f}")
    logm_sim, kind = np.asarray(table["true_logmass"]), "formed"
    if args.bank:
        bank = load_bank(args.bank)
        if bank.logmass_surviving is None:
            parser.error(f"{args.bank}: the bank has no surviving stellar masses")
        host_rows = np.asarray(table["true_bank_index"])
        logm_bank = np.asarray(bank.logmass_surviving)
        logm_sim, kind = logm_bank[host_rows], "surviving stellar"
    has_mass = (logm_des > 5) & (logm_des < 14)
    print(
        f"median host log mass: sim {np.median(logm_sim):.2f} ({kind}), "
        f"DES {np.median(logm_des[has_mass]):.2f} (stellar)\n"
    )
    print("| log M | N sim | M_r sim | g-r sim | N DES | M_r DES | g-r DES | M_r sim-DES |")
    print("|---|---|---|---|---|---|---|---|")
    for lo, hi, ns, rs, cs, nd, rd, cd in same_mass_rows(
        z_sim,
        logm_sim,
        sim,
        z_des[has_mass],
        logm_des[has_mass],
        {b: v[has_mass] for b, v in des.items()},
    ):
        print(
            f"| {lo:.1f}-{hi:.1f} | {ns} | {rs:.2f} | {cs:.2f} | {nd} | {rd:.2f} | {cd:.2f} "
            f"| {rs - rd:+.2f} |"
        )
    if args.bank:
        names = list(bank.band_names)
        i_g = next(i for i, n in enumerate(names) if n.endswith("-g"))
        i_r = next(i for i, n in enumerate(names) if n.endswith("-r"))
        abs_mag = np.asarray(bank.abs_mag)
        z_bank = np.asarray(bank.hosts.z)
        print(
            f"\nfraction of hosts with g-r > {args.red} at {Z_RANGE[0]} < z < {Z_RANGE[1]} "
            "(stellar mass)\n"
        )
        print("| log M* | N bank | red bank | N SN hosts | red SN hosts | N DES | red DES |")
        print("|---|---|---|---|---|---|---|")
        for lo, hi, nb, fb, nh, fh, nd, fd in red_fraction_rows(
            z_bank,
            logm_bank,
            abs_mag[:, i_g] - abs_mag[:, i_r],
            host_rows,
            z_des[has_mass],
            logm_des[has_mass],
            (des["g"] - des["r"])[has_mass],
            args.red,
        ):
            print(f"| {lo:.1f}-{hi:.1f} | {nb} | {fb:.2f} | {nh} | {fh:.2f} | {nd} | {fd:.2f} |")
    fig.tight_layout()
    fig.savefig(args.figure, dpi=110)
    print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
