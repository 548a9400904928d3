"""Benchmark of the renderer: the cost of one render() of a fully observed RegionalDeployment, with the real Lambda
package, for 2, 3, 5 and 10 regions.

Fully observed means every MR has plausible provider status (as tests/unit/render/conftest.py's observe_all builds it),
so every dependent MR is rendered: the most work render() ever does, and what each operator reconcile pays once
the deployment exists. The observed state and the package are built once, outside the timed region; each sample
is one render() call timed with time.perf_counter(), after warm-up runs; the sizes are interleaved. The process is
pinned to one CPU.

Usage: .venv/bin/python -m bench.render_bench [--runs 200] [--write] [--profile REGIONS]

--write regenerates bench/RENDER_RESULTS.md from this run; --profile N prints the cProfile top functions of
rendering N regions instead of benchmarking.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import platform
import pstats
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from regional_operator.artifact import LambdaArtifact, load_artifact
from regional_operator.defaults import RegionDefaults, load_defaults
from regional_operator.render import render
from regional_operator.render.observed import Observed

from devtools.stand_in import ACCOUNT_ID, plausible_status  # the stand-in for provider status

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RENDER_RESULTS.md"
COMMAND = ".venv/bin/python -m bench.render_bench"
REGION_COUNTS = (2, 3, 5, 10)
TARGET_MS = 10.0  # 2 regions, median
# The first five have zones and endpoints in the shipped defaults file; the others give them in the CR.
REGIONS = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1",
           "ap-southeast-1", "ap-northeast-1", "eu-west-2", "ca-central-1", "sa-east-1")


def deployment(regions: int) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    for i, name in enumerate(REGIONS[:regions]):
        # production serves HTTPS in every region, each with an ACM certificate of its own region
        entry: dict[str, Any] = {"name": name, "primary": i == 0, "vpcCidr": f"10.{10 * (i + 1)}.0.0/16",
                                 "certificateArn": f"arn:aws:acm:{name}:{ACCOUNT_ID}:certificate/bench"}
        if i >= 5:
            entry["availabilityZones"] = [f"{name}{z}" for z in "abc"]
            entry["paymentsApiEndpoint"] = f"https://payments.{name}.api.example.com"
        entries.append(entry)
    return {
        "apiVersion": "platform.regional.io/v1alpha1", "kind": "RegionalDeployment",
        "metadata": {"name": "payments", "namespace": "payments"},
        "spec": {"environment": "prod", "environmentSuffix": "prod", "awsAccountId": ACCOUNT_ID,
                 "costCenter": "cc-payments-001", "regions": entries},
    }


def observe_all(cr: dict[str, Any], defaults: RegionDefaults, artifact: LambdaArtifact) -> Observed:
    """Render, report status for every MR, repeat until nothing new appears."""
    observed, seen = Observed(), -1
    for _ in range(8):
        result = render(cr, defaults, observed, artifact)
        if len(result.resources) == seen:
            if result.pending:
                raise RuntimeError(f"still pending: {result.pending[:3]}")
            return observed
        seen = len(result.resources)
        conditions = [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "True"}]
        observed = Observed.from_objects(
            {"kind": m["kind"], "metadata": {"name": m["metadata"]["name"]},
             "status": {"atProvider": plausible_status(m), "conditions": conditions}} for m in result.resources)
    raise RuntimeError("rendering did not converge")


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (q in 0..1)."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def measure(runs: int, defaults: RegionDefaults, artifact: LambdaArtifact) -> list[dict[str, Any]]:
    """Time every size `runs` times, interleaved (2, 3, 5, 10, 2, 3, ...) so that load from other processes on a
    shared host falls on all sizes alike instead of on whichever ran during a busy spell."""
    cases = []
    for regions in REGION_COUNTS:
        cr = deployment(regions)
        observed = observe_all(cr, defaults, artifact)
        cases.append((regions, cr, observed, len(render(cr, defaults, observed, artifact).resources)))
    for _ in range(max(5, runs // 10)):  # warm-up: caches, allocator, branch predictors
        for _, cr, observed, _ in cases:
            render(cr, defaults, observed, artifact)
    gc.collect()
    wall: dict[int, list[float]] = {regions: [] for regions in REGION_COUNTS}
    cpu: dict[int, list[float]] = {regions: [] for regions in REGION_COUNTS}
    for _ in range(runs):
        for regions, cr, observed, _ in cases:
            cpu_start = time.thread_time()
            start = time.perf_counter()
            render(cr, defaults, observed, artifact)
            wall[regions].append((time.perf_counter() - start) * 1000)
            cpu[regions].append((time.thread_time() - cpu_start) * 1000)
    return [{
        "regions": regions, "mrs": mrs, "runs": runs, "median": statistics.median(wall[regions]),
        "p10": percentile(wall[regions], 0.10), "p90": percentile(wall[regions], 0.90), "min": min(wall[regions]),
        "max": max(wall[regions]), "cpu_median": statistics.median(cpu[regions]),
    } for regions, _, _, mrs in cases]


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo")
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if cpuinfo.exists() else platform.processor()
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return {"nproc": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
            "cpus": str(os.cpu_count()), "cpu": model, "python": platform.python_version(),
            "platform": platform.platform(), "load": load}


def fit(rows: list[dict[str, Any]], stat: str = "median") -> tuple[float, float]:
    """Least-squares line <stat>_ms = fixed + per_region * regions."""
    xs, ys = [r["regions"] for r in rows], [r[stat] for r in rows]
    slope, intercept = statistics.linear_regression(xs, ys)
    return intercept, slope


def report(rows: list[dict[str, Any]], info: dict[str, str], load_after: str) -> str:
    fixed, per_region = fit(rows)
    min_fixed, min_per_region = fit(rows, "min")
    cpu_fixed, cpu_per_region = fit(rows, "cpu_median")
    two = next(r for r in rows if r["regions"] == 2)
    largest = max(rows, key=lambda r: r["regions"])
    pairs = largest["regions"] * (largest["regions"] - 1)
    verdict = "meets" if two["median"] <= TARGET_MS else "MISSES"
    lines = [
        "# Renderer benchmark results",
        "",
        f"Machine: {info['cpu']}, {info['cpus']} logical CPUs (nproc {info['nproc']}; the benchmark pins itself to "
        f"one), Python {info['python']}, {info['platform']}. Load average (1/5/15 min) {info['load']} before, "
        f"{load_after} after: the machine is shared, so spreads are wider than on an idle host.",
        "",
        f"Command: `{COMMAND}` (regenerate this file with `{COMMAND} --write`; written "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M')} UTC).",
        "",
        "What is timed: one `render(cr, defaults, observed, artifact)` call for a fully observed deployment (every MR "
        "has provider status, so every dependent MR is rendered) with the real Lambda package, after warm-up; "
        "`time.perf_counter()` around each call (wall clock; the last column is the same calls' thread CPU time, "
        "which a busy host inflates less). Observed state and the package are built once, outside the timing.",
        "",
        "## Render cost, milliseconds per render",
        "",
        "| regions | MRs | runs | median | p10 | p90 | min | max | median per region | median per MR | CPU median |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['regions']} | {r['mrs']} | {r['runs']} | **{r['median']:.2f}** | {r['p10']:.2f} | {r['p90']:.2f} "
            f"| {r['min']:.2f} | {r['max']:.2f} | {r['median'] / r['regions']:.2f} | "
            f"{1000 * r['median'] / r['mrs']:.1f} µs | {r['cpu_median']:.2f} |")
    lines += [
        "",
        f"Target: 2 regions <= {TARGET_MS:.0f} ms median. Result: {two['median']:.2f} ms, **{verdict}** the target.",
        "",
        "## Growth with regions",
        "",
        f"Least-squares fits over the four sizes: medians **{fixed:.2f} ms + {per_region:.2f} ms per region**; "
        f"CPU medians {cpu_fixed:.2f} ms + {cpu_per_region:.2f} ms per region; minima (the cost with no "
        f"interference) {min_fixed:.2f} ms + {min_per_region:.2f} ms per region.",
        "",
        f"The MR count grows with the regions: about {two['mrs'] // 2} MRs per region at N = 2, 8 more per peered "
        "secondary (requester, accepter, 6 routes) and one replication-latency alarm per ordered pair of regions, "
        f"N(N-1), the only super-linear term ({pairs} of the {largest['mrs']} MRs at N = {largest['regions']}). "
        "The time follows the MR count: the minimum cost per "
        "MR is flat across sizes. Medians and p90 of the larger sizes drift up more than the minima on a busy "
        "host, because a longer call is more likely to be preempted or to find its caches cold; compare the CPU "
        "column.",
        "",
        "| regions | median | fitted (medians) | min | min per MR | incremental median cost per added region |",
        "|---|---|---|---|---|---|",
    ]
    previous: dict[str, Any] | None = None
    for r in rows:
        step = "" if previous is None else (
            f"{(r['median'] - previous['median']) / (r['regions'] - previous['regions']):.2f} ms")
        lines.append(f"| {r['regions']} | {r['median']:.2f} | {fixed + per_region * r['regions']:.2f} | "
                     f"{r['min']:.2f} | {1000 * r['min'] / r['mrs']:.1f} µs | {step} |")
        previous = r
    lines += [
        "",
        "## Notes",
        "",
        "- The target was met without changes to the renderer, so none were made (the goldens in "
        "tests/unit/render/golden/ pin its output byte for byte).",
        f"- `{COMMAND} --profile 10` prints where the time goes (cProfile, top functions by cumulative time). "
        "Largest items: the MR shell `RenderContext.mr` (~30%, of which a third is pydantic `model_dump()` of "
        "providerConfigRef, once per MR), name building (`Namer.regional` -> `region_code`, a regex match per "
        "name, ~20%) and policy/JSON serialisation (~10%). Caching the providerConfigRef dict per render and "
        "memoising `region_code` are the cheap wins if the target ever tightens.",
        "- Not included: loading the defaults file and building the Lambda zip (once per operator start), and "
        "serialising the MRs: for 2 regions PyYAML's pure-Python `safe_dump_all` (the CLI's default output) takes "
        "~200 ms, about 100x the render, while `json.dumps` (what the operator sends) takes ~2 ms.",
        "",
    ]
    return "\n".join(lines)


def profile(regions: int, defaults: RegionDefaults, artifact: LambdaArtifact) -> None:
    cr = deployment(regions)
    observed = observe_all(cr, defaults, artifact)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(50):
        render(cr, defaults, observed, artifact)
    profiler.disable()
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200, help="timed renders per size (at least 50)")
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--profile", type=int, metavar="REGIONS", help="profile instead of benchmarking")
    args = parser.parse_args(argv)
    if args.runs < 50:
        parser.error("--runs must be at least 50")
    info = machine()  # before pinning, so nproc is the machine's
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    defaults, artifact = load_defaults(), load_artifact()
    if args.profile:
        profile(args.profile, defaults, artifact)
        return 0
    print(f"machine: {info['cpu']}, {info['cpus']} CPUs (pinned to 1), python {info['python']}, load {info['load']}")
    rows = measure(args.runs, defaults, artifact)
    for row in rows:
        print(f"{row['regions']:>2} regions, {row['mrs']:>4} MRs: median {row['median']:.2f} ms "
              f"(p10 {row['p10']:.2f}, p90 {row['p90']:.2f}, min {row['min']:.2f}, max {row['max']:.2f}; "
              f"n={row['runs']}; CPU median {row['cpu_median']:.2f} ms)")
    load_after = machine()["load"]
    text = report(rows, info, load_after)
    if args.write:
        RESULTS.write_text(text, encoding="utf-8")
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    fixed, per_region = fit(rows)
    print(f"fit: {fixed:.2f} ms + {per_region:.2f} ms per region")
    return 0


if __name__ == "__main__":
    sys.exit(main())
