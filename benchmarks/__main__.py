"""Run the benchmarks in one process and record them: ``python -m benchmarks [--quick]``.

``make bench`` (about 16 minutes on a 2-core CPU) and ``make bench-quick`` (a few minutes)
write ``benchmarks/RESULTS.md`` (machine, device, versions, one section per benchmark, the
issue's targets) and ``benchmarks/results.json`` (every number). Sections, in order:

* ``device``: copy bandwidth of the default device (a jitted ``jnp.copy`` of a large array).
* ``simulator`` (``bench_simulator.py``): surveys per second at 1.6k, 16k and 160k detected
  SNe, compile time, ratios to the NumPy implementations and to the bandwidth floor.
* ``training`` (``bench_training.py``): simulations and steps per second (toy and CIGaRS
  simulators), time to a target posterior quality on the toy.
* ``sbi`` (optional ``bench_sbi.py``): sbi's NPE on the same toy, budget and target.
* ``sbi_nuts`` (optional ``bench_sbi_nuts.py``, about 10 minutes): cigars and sbi trained on the
  same stored surveys of the known-hosts sub-model, both judged against NUTS (the validation
  issue's side by side); also writes ``SBI_NUTS_COMPARISON.md`` on full runs.
* ``inference`` (``bench_inference.py``): 1,000 joint draws of all globals and per-SN latents.
* ``nuts`` (optional ``bench_nuts.py``): NUTS on the spec-z sub-model of the 16k survey.

Each section records its peak resident memory and the load average (the machine may be shared),
and each cost's power-law exponent against survey size. Optional sections are modules with
``main(quick: bool, reference: dict) -> dict``; when the module is absent the section is
recorded as skipped with the reason. ``bench_sbi.main`` gets the training section's
``time_to_target`` record (toy, batch size, target KL, its definition) and returns
``{"sims_per_s", "seconds_to_target", "reached", ...}``; ``bench_nuts.main`` gets the 16k
survey (``catalogue``, ``n_sn``, ``config``) and returns ``{"seconds_1000_draws", ...}``.
``--bank`` replaces the toy galaxy bank by a real one (e.g. a 10^6-galaxy bank of ``cigars
bank``); ``--only`` runs some sections; ``--cpus N`` pins the process to N CPUs (XLA's thread
pool then has N threads: on a machine shared with other jobs, one thread per free core avoids
threads waiting on each other).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SECTIONS = ["device", "simulator", "training", "sbi", "sbi_nuts", "inference", "nuts"]
TARGETS = {
    "simulator_vs_numpy": 10.0,
    "simulator_vs_floor": 5.0,
    "training_vs_sbi": 3.0,
    "inference_16k_s": 5.0,
    "inference_vs_nuts": 100.0,
}


def _optional(name: str, quick: bool, reference: dict) -> dict[str, Any]:
    try:
        module = importlib.import_module(f"benchmarks.bench_{name}")
    except ModuleNotFoundError as err:
        if err.name != f"benchmarks.bench_{name}":
            return {"skipped": f"benchmarks/bench_{name}.py needs a missing module: {err.name}"}
        return {"skipped": f"benchmarks/bench_{name}.py is not present"}
    params = inspect.signature(module.main).parameters
    kwargs = {"reference": reference} if "reference" in params else {}
    return module.main(quick=quick, **kwargs)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        return _jsonable(obj.item())
    return obj


def run(args) -> dict[str, Any]:
    import jax

    from benchmarks import _harness as h

    memory = h.PeakMemory()
    results: dict[str, Any] = {"machine": h.machine()}
    results["run"] = {
        "command": "python -m benchmarks"
        + (" --quick" if args.quick else "")
        + (f" --cpus {args.cpus}" if args.cpus else "")
        + (f" --bank {args.bank}" if args.bank else ""),
        "quick": args.quick,
        "bank": args.bank or "toy",
        "load_average_start": h.load(),
        "memory_peak_exact": memory.exact,
    }
    cpus = results["machine"]["cpus_usable"]
    wanted = args.only or SECTIONS
    ctx: dict[str, Any] = {}
    t_start = time.perf_counter()
    for name in SECTIONS:
        if name not in wanted:
            continue
        print(f"== {name} ==", flush=True)
        memory.reset()
        load0, t0 = h.load(), time.perf_counter()
        try:
            res = _section(name, args, ctx, memory, results)
        except Exception as err:  # record the failure, keep the other sections
            traceback.print_exc()
            res = {"error": f"{type(err).__name__}: {err}"}
        res["wall_s"] = time.perf_counter() - t0
        res.setdefault("peak_rss_mib", memory.peak())
        res["load_average"] = max(load0, h.load())
        warning = h.contamination(res["load_average"], cpus)
        if warning:
            res["contaminated"] = warning
        results[name] = res
    results["run"]["wall_s"] = time.perf_counter() - t_start
    results["run"]["load_average_end"] = h.load()
    results["checks"] = checks(results)
    del jax
    return results


def _section(name, args, ctx, memory, results) -> dict[str, Any]:
    from benchmarks import _harness as h

    quick = args.quick
    if name == "device":
        res = h.copy_bandwidth(2**26 if quick else 2**28)
        ctx["bandwidth_gb_s"] = res["bandwidth_gb_s"]
        res.update(h.bf16_speedup())
        print(f"copy bandwidth: {res['bandwidth_gb_s']:.1f} GB/s", flush=True)
        return res
    if name == "simulator":
        from benchmarks import bench_simulator as bs

        hosts, label = bs.load_hosts(args.bank, 200_000 if quick else 1_000_000)
        ctx["hosts"] = hosts
        if "bandwidth_gb_s" not in ctx:
            ctx["bandwidth_gb_s"] = h.copy_bandwidth(2**26)["bandwidth_gb_s"]
        out = bs.run(
            hosts,
            targets=(1600, 16000) if quick else bs.TARGETS,
            repeats=3 if quick else 7,
            bandwidth_gb_s=ctx["bandwidth_gb_s"],
            memory=memory,
        )
        ctx["catalogues"] = out.pop("catalogues")
        out["settings"]["bank"] = label
        out["peak_rss_mib"] = max(r["peak_rss_mib"] for r in out["sizes"])
        return out
    if name == "training":
        from benchmarks import bench_training as bt
        from cigars.simulate import toy_host_table

        # The quick-start experiment's bank size (20,000 galaxies), or the --bank file.
        hosts = ctx["hosts"] if args.bank and "hosts" in ctx else None
        if hosts is None and args.bank:
            hosts = bs_load(args.bank)
        hosts = toy_host_table(20_000, seed=0) if hosts is None else hosts
        out = bt.run(hosts, quick=quick, memory=memory)
        out["peak_rss_mib"] = max(
            [r["peak_rss_mib"] for r in out["toy"] + out["cigars"]]
            + [out["time_to_target"]["peak_rss_mib"]]
        )
        ctx["training"] = out
        return out
    if name == "sbi":
        if "training" not in ctx:
            return {"skipped": "needs the training section (run without --only, or add it)"}
        return _optional("sbi", quick, ctx["training"]["time_to_target"])
    if name == "sbi_nuts":
        res = _optional("sbi_nuts", quick, {})
        if "vs_nuts" in res:  # keep the summaries; the per-survey records are in the JSON file
            res["vs_nuts"] = {k: v["summary"] for k, v in res["vs_nuts"].items()}
        return res
    if name == "inference":
        from benchmarks import bench_inference as bi

        if "catalogues" not in ctx:
            return {"skipped": "needs the simulator section's surveys"}
        out = bi.run(ctx["hosts"], ctx["catalogues"], quick=quick, memory=memory)
        out["peak_rss_mib"] = max(r["peak_rss_mib"] for r in out["sizes"])
        ctx["inference"] = out
        return out
    if name == "nuts":
        cats = ctx.get("catalogues", {})
        if 16000 not in cats:
            return {"skipped": "needs the simulator section's 16k survey"}
        cat = cats[16000]
        ref = {"catalogue": cat, "n_sn": int(cat.n_detected), "config": "configs/cigars-i-16k.yaml"}
        return _optional("nuts", quick, ref)
    raise ValueError(name)


def bs_load(bank: str):
    from benchmarks import bench_simulator as bs

    return bs.load_hosts(bank, 0)[0]


def _value(results, *path, default=None):
    cur = results
    for p in path:
        if not isinstance(cur, dict) or p not in cur:
            return default
        cur = cur[p]
    return cur


def checks(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets against the measurements (None where not measured)."""
    out = []
    for row in _value(results, "simulator", "sizes", default=[]) or []:
        t = row["target"]
        for key, label in (
            ("ratio_numpy_fast", "NumPy with the same shortcuts"),
            ("ratio_numpy_direct", "direct NumPy transcription"),
        ):
            if key in row:
                out.append(
                    {
                        "check": f"simulator {t} SNe vs {label}",
                        "target": f">= {TARGETS['simulator_vs_numpy']:g}x",
                        "measured": row[key],
                        "pass": row[key] >= TARGETS["simulator_vs_numpy"],
                    }
                )
        if "ratio_to_floor" in row:
            out.append(
                {
                    "check": f"simulator {t} SNe vs bandwidth floor",
                    "target": f"<= {TARGETS['simulator_vs_floor']:g}x floor",
                    "measured": row["ratio_to_floor"],
                    "pass": row["ratio_to_floor"] <= TARGETS["simulator_vs_floor"],
                }
            )
    sbi = results.get("sbi", {})
    if "cigars_train_s" in sbi and "sbi_train_s" in sbi:
        # bench_sbi.py: both estimators trained on the same stored surveys; calibration checked
        # on the same held-out surveys (the quality side of the comparison).
        rate_c = sbi["cigars_surveys_seen"] / sbi["cigars_train_s"]
        rate_s = sbi["sbi_surveys_seen"] / sbi["sbi_train_s"]
        note = (
            f"same stored surveys; TARP max deviation cigars {_fmt(sbi.get('cigars_tarp_max_dev'))}"
            f", sbi {_fmt(sbi.get('sbi_tarp_max_dev'))}; cigars also learns the per-object latents"
        )
        out.append(
            {
                "check": "training throughput (surveys / s) vs sbi NPE",
                "target": f">= {TARGETS['training_vs_sbi']:g}x",
                "measured": rate_c / rate_s,
                "pass": rate_c / rate_s >= TARGETS["training_vs_sbi"],
                "note": note,
            }
        )
        out.append(
            {
                "check": "training wall time, sbi / cigars",
                "target": f">= {TARGETS['training_vs_sbi']:g}x",
                "measured": sbi["sbi_train_s"] / sbi["cigars_train_s"],
                "pass": sbi["sbi_train_s"] / sbi["cigars_train_s"] >= TARGETS["training_vs_sbi"],
                "note": "fixed budgets of bench_sbi.py",
            }
        )
    else:
        out.append(
            {
                "check": "training vs sbi NPE",
                "target": f">= {TARGETS['training_vs_sbi']:g}x",
                "measured": None,
                "pass": None,
                "note": sbi.get("skipped") or sbi.get("error") or "not comparable",
            }
        )
    duel = results.get("sbi_nuts", {})
    if "cigars_train_s" in duel and "vs_nuts" in duel:
        # bench_sbi_nuts.py: the same stored surveys for both, quality judged against NUTS.
        c2st_c = duel["vs_nuts"]["cigars"]["joint_c2st_mean"]
        c2st_s = duel["vs_nuts"]["sbi"]["joint_c2st_mean"]
        ratio = duel["sbi_train_s"] / duel["cigars_train_s"]
        out.append(
            {
                "check": "training wall time at an equal simulation budget, sbi / cigars",
                "target": f">= {TARGETS['training_vs_sbi']:g}x, at least as accurate",
                "measured": ratio,
                "pass": ratio >= TARGETS["training_vs_sbi"] and c2st_c <= c2st_s,
                "note": f"{duel['n_train']} known-hosts surveys; joint C2ST against NUTS: "
                f"cigars {_fmt(c2st_c)}, sbi {_fmt(c2st_s)} (0.5 = exact)",
            }
        )
    inf = [r for r in _value(results, "inference", "sizes", default=[]) or []]
    big = [r for r in inf if 10_000 <= r["n_sn"] <= 20_000]
    if big:
        r = big[0]
        out.append(
            {
                "check": f"inference, 1000 joint draws, {r['n_sn']}-SN survey",
                "target": f"<= {TARGETS['inference_16k_s']:g} s",
                "measured": r["seconds"],
                "pass": r["seconds"] <= TARGETS["inference_16k_s"],
            }
        )
        nuts = results.get("nuts", {})
        if "seconds_1000_draws" in nuts:
            ratio = nuts["seconds_1000_draws"] / r["seconds"]
            out.append(
                {
                    "check": "inference vs NUTS on the spec-z sub-model",
                    "target": f">= {TARGETS['inference_vs_nuts']:g}x",
                    "measured": ratio,
                    "pass": ratio >= TARGETS["inference_vs_nuts"],
                }
            )
        else:
            out.append(
                {
                    "check": "inference vs NUTS on the spec-z sub-model",
                    "target": f">= {TARGETS['inference_vs_nuts']:g}x",
                    "measured": None,
                    "pass": None,
                    "note": nuts.get("skipped") or nuts.get("error") or "not measured",
                }
            )
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "—"
        return f"{v:.3g}" if abs(v) < 1e3 else f"{v:.0f}"
    return str(v)


def _table(rows: list[dict], cols: list[tuple[str, str]]) -> list[str]:
    lines = ["| " + " | ".join(c for _, c in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(k)) for k, _ in cols) + " |")
    return lines


def _kv(d: dict, skip=()) -> list[str]:
    lines = ["| quantity | value |", "|---|---|"]
    for k, v in d.items():
        if k in skip or isinstance(v, dict | list):
            continue
        lines.append(f"| {k} | {_fmt(v)} |")
    return lines


def markdown(results: dict[str, Any]) -> str:
    run = results["run"]
    m = results["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `{run['command']}` on {m['date']} in one process "
        f"({run['wall_s'] / 60:.1f} min). Every number is in `benchmarks/results.json`.",
        "",
    ]
    warnings = [
        f"- **{k}**: {v['contaminated']}"
        for k, v in results.items()
        if isinstance(v, dict) and "contaminated" in v
    ]
    if warnings:
        lines += [
            "**Shared machine.** Other jobs ran on the same CPUs during these sections "
            "(1-minute load average above the number of CPUs), so their timings are pessimistic "
            "and noisier than on an idle machine:",
            "",
            *warnings,
            "",
        ]
    loads = [
        v["load_average"] for v in results.values() if isinstance(v, dict) and "load_average" in v
    ]
    if loads:
        lines += [
            f"Load: the 1-minute load average was {min(loads):.1f}–{max(loads):.1f} during the "
            f"sections. This run's own threads count up to {m.get('cpus_usable')}; the rest "
            "is other jobs sharing the machine, whose competition for the CPUs makes these "
            "timings pessimistic (and multi-threaded XLA programs especially so).",
            "",
        ]
    lines += ["## Machine", ""]
    mach = {k: v for k, v in m.items() if k != "versions"}
    mach["versions"] = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items())
    lines += _kv(mach)
    lines += ["", "## Checks against the targets", ""]
    lines += _table(
        results.get("checks", []),
        [
            ("check", "check"),
            ("target", "target"),
            ("measured", "measured"),
            ("pass", "met"),
            ("note", "note"),
        ],
    )

    dev = results.get("device")
    if dev:
        lines += [
            "",
            "## Device",
            "",
            "Copy bandwidth: (bytes read + bytes written) / fastest copy time (STREAM convention), "
            "into a donated buffer (`bandwidth_gb_s`) and into a fresh allocation (`fresh_gb_s`, "
            "page faults included). `bf16_speedup`: an MLP layer pair (4096 x 128) in float32 "
            "over bfloat16.",
            "",
        ]
        lines += _kv(dev)

    sim = results.get("simulator")
    if sim:
        lines += ["", "## Simulator", ""]
        if "error" in sim:
            lines.append(f"FAILED: {sim['error']}")
        else:
            s = sim["settings"]
            lines += [
                f"Bank: {s['bank']}, {s['galaxies_per_simulation']} galaxies per simulation "
                f"after pruning (prune_dm_ratio {s['prune_dm_ratio']}); {s['dtype']}; logistic "
                f"selection; n_max = {s['n_max_rule']}; median of at least {s['repeats']} "
                "surveys after compilation and half as many untimed ones (about 1 s of them, at "
                "most 50: column `runs`). "
                f"Batched: {s.get('batch', '—')} surveys per vmapped call, as training "
                "simulates (one survey is too little work for an accelerator). "
                "Floor = bytes of the bank one survey must read (whole-bank "
                "detection and SFH-bin columns, plus each slot's host row) / copy bandwidth. "
                "RNG floor = time to draw just the random 32-bit words the survey's program draws "
                "(`RNG words`, every `random_bits` call), with the same generators; `NumPy RNG` = "
                "NumPy's PCG64 drawing as many words: the survey cannot beat its random numbers.",
                "",
            ]
            lines += _table(
                sim["sizes"],
                [
                    ("target", "target SNe"),
                    ("n_detected", "detected"),
                    ("n_max", "n_max"),
                    ("compile_s", "compile [s]"),
                    ("repeats", "runs"),
                    ("ms", "ms / survey"),
                    ("ms_min", "min [ms]"),
                    ("surveys_per_s", "surveys / s"),
                    ("batch_ms_per_survey", "batched: ms / survey"),
                    ("batch_speedup", "batched speed-up"),
                    ("numpy_fast_ms", "NumPy same-shortcuts [ms]"),
                    ("ratio_numpy_fast", "ratio"),
                    ("numpy_direct_ms", "NumPy direct [ms]"),
                    ("ratio_numpy_direct", "ratio"),
                    ("read_mib", "bank read [MiB]"),
                    ("floor_ms", "floor [ms]"),
                    ("ratio_to_floor", "x floor"),
                    ("rng_words", "RNG words"),
                    ("rng_floor_ms", "RNG floor [ms]"),
                    ("ratio_to_rng_floor", "x RNG floor"),
                    ("numpy_rng_ms", "NumPy RNG [ms]"),
                    ("peak_rss_mib", "peak RSS [MiB]"),
                    ("rss_growth_mib", "RSS growth [MiB]"),
                    ("program_total_mib", "XLA program [MiB]"),
                ],
            )
            lines += [
                "",
                "Exponents (cost ∝ N_SN^b): "
                + ", ".join(f"{k} {_fmt(v)}" for k, v in sim["exponents"].items()),
            ]

    tr = results.get("training")
    if tr:
        lines += ["", "## Training", ""]
        if "error" in tr:
            lines.append(f"FAILED: {tr['error']}")
        else:
            lines += [
                "One jitted step = draw the batch's parameters from the prior, simulate, one AdamW "
                'step (state donated). Steady state timed under `jax.transfer_guard("disallow")`; '
                "`compilations` is the jitted step's cache size after the loop.",
                "",
                "Linear-Gaussian toy (32 objects per survey):",
                "",
            ]
            lines += _table(
                tr["toy"],
                [
                    ("batch_size", "batch"),
                    ("compile_s", "compile [s]"),
                    ("steps_per_s", "steps / s"),
                    ("sims_per_s", "simulations / s"),
                    ("compilations", "compilations"),
                    ("transfers_in_loop", "host transfers in loop"),
                    ("peak_rss_mib", "peak RSS [MiB]"),
                ],
            )
            tt = tr["time_to_target"]
            lines += [
                "",
                f"Time to quality on the toy: estimated KL(p || q) of the global posterior, mean "
                f"over {tt['n_val']} validation surveys of log p(θ|X) − log q(θ|X) with the exact "
                f"p, at most {tt['target_kl_nats']} nats (batch {tt['batch_size']}, checked every "
                f"{tt['eval_every']} steps; step time only): "
                + (
                    f"**{tt['seconds']:.1f} s, {tt['steps']} steps, {tt['simulations']} "
                    f"simulations** (compile {tt['compile_s']:.1f} s)."
                    if tt["reached"]
                    else f"**not reached** in {tt['steps']} steps ({tt['seconds']:.1f} s; final "
                    f"KL {tt['final_kl_nats']:.3f})."
                ),
                "",
                "CIGaRS simulator inside the step (quick-start experiment: its prior, network and "
                "batch size; survey size scaled):",
                "",
            ]
            lines += _table(
                tr["cigars"],
                [
                    ("n_max", "n_max"),
                    ("mean_detected", "mean detected SNe"),
                    ("batch_size", "batch"),
                    ("compile_s", "compile [s]"),
                    ("steps_per_s", "steps / s"),
                    ("sims_per_s", "simulations / s"),
                    ("compilations", "compilations"),
                    ("transfers_in_loop", "host transfers in loop"),
                    ("peak_rss_mib", "peak RSS [MiB]"),
                    ("rss_growth_mib", "RSS growth [MiB]"),
                    ("program_total_mib", "XLA program [MiB]"),
                ],
            )
            lines += [
                "",
                "Exponents: " + ", ".join(f"{k} {_fmt(v)}" for k, v in tr["exponents"].items()),
            ]

    for name, title in (
        ("sbi", "sbi comparison"),
        ("sbi_nuts", "sbi against NUTS at an equal budget (details: SBI_NUTS_COMPARISON.md)"),
        ("nuts", "NUTS comparison"),
    ):
        res = results.get(name)
        if res is None:
            continue
        lines += ["", f"## {title}", ""]
        if "skipped" in res:
            lines.append(f"Skipped: {res['skipped']}.")
        elif "error" in res:
            lines.append(f"FAILED: {res['error']}")
        else:
            lines += _kv(res)

    inf = results.get("inference")
    if inf:
        lines += ["", "## Inference", ""]
        if "error" in inf:
            lines.append(f"FAILED: {inf['error']}")
        elif "skipped" in inf:
            lines.append(f"Skipped: {inf['skipped']}.")
        else:
            est = inf["estimator"]
            lines += [
                f"1,000 joint draws of the {est['n_theta']} globals and {est['n_local']} latents "
                f"per SN ({inf['architecture']}); surveys from the simulator section (subsets of "
                "their detected SNe for intermediate sizes).",
                "",
            ]
            lines += _table(
                inf["sizes"],
                [
                    ("n_sn", "SNe"),
                    ("numbers_per_draw", "numbers / draw"),
                    ("chunk_size", "draws per chunk"),
                    ("compile_s", "compile [s]"),
                    ("seconds", "1000 draws [s]"),
                    ("peak_rss_mib", "peak RSS [MiB]"),
                    ("rss_growth_mib", "RSS growth [MiB]"),
                    ("program_total_mib", "XLA program [MiB]"),
                    ("finite", "finite"),
                ],
            )
            lines += [
                "",
                "Exponents: " + ", ".join(f"{k} {_fmt(v)}" for k, v in inf["exponents"].items()),
            ]

    lines += [
        "",
        "Memory: `peak RSS` is the process's resident-set peak during the measurement (reset "
        "before it; it includes everything already loaded), `RSS growth` its rise during the "
        "measurement, `XLA program` the compiled program's arguments + outputs + temporaries "
        "(`memory_analysis()`, deterministic).",
        "",
        "## Sections",
        "",
    ]
    lines += _table(
        [{"section": k, **v} for k, v in results.items() if k in SECTIONS and isinstance(v, dict)],
        [
            ("section", "section"),
            ("wall_s", "wall [s]"),
            ("peak_rss_mib", "peak RSS [MiB]"),
            ("load_average", "max load average"),
        ],
    )
    if not run.get("memory_peak_exact"):
        lines += ["", "Peak RSS could not be reset per section here: values are process peaks."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="a few-minute version")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--bank", help="a galaxy bank file (default: a toy bank)")
    parser.add_argument(
        "--cpus",
        type=int,
        help="run on this many of the usable CPUs (set before JAX starts; default: all)",
    )
    parser.add_argument(
        "--out", type=Path, default=HERE, help="folder for RESULTS.md and results.json"
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="RESULTS_JSON",
        help="only rewrite RESULTS.md (in --out) from an existing results.json",
    )
    args = parser.parse_args(argv)
    if args.bank and not Path(args.bank).is_file():
        parser.error(f"--bank {args.bank}: no such file")
    if args.cpus is not None:
        usable = sorted(os.sched_getaffinity(0))
        if not 1 <= args.cpus <= len(usable):
            parser.error(f"--cpus {args.cpus}: between 1 and {len(usable)} CPUs are usable")
        os.sched_setaffinity(0, usable[: args.cpus])
    sys.path.insert(0, str(HERE.parent))
    import jax

    # Compile times are measured: no persistent compilation cache (a JAX_COMPILATION_CACHE_DIR
    # of the user's would turn them into cache reads).
    jax.config.update("jax_compilation_cache_dir", None)
    from cigars.io import atomic_write_text

    if args.markdown:
        results = json.loads(args.markdown.read_text())
        atomic_write_text(args.out / "RESULTS.md", markdown(results))
        print(f"wrote {args.out / 'RESULTS.md'} from {args.markdown}")
        return 0

    results = _jsonable(run(args))
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "results.json", json.dumps(results, indent=2) + "\n")
    atomic_write_text(args.out / "RESULTS.md", markdown(results))
    print(f"wrote {args.out / 'RESULTS.md'} and results.json")
    failed = [k for k, v in results.items() if isinstance(v, dict) and "error" in v]
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
