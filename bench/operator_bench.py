"""Operator benchmarks on a real local control plane, measured side by side in one run.

    .venv/bin/python -m bench.operator_bench [--quick] [--scale 10,50,100] [--only-scale] [--profile F]

--only-scale runs just the scale section and prints it (RESULTS.md is not rewritten); --profile writes a cProfile
of the operator during the largest scale run; REGIONAL_OPERATOR_TRACEMALLOC=F (in the environment) has the
operator write where its Python memory is held at the end of each scale run.

1. Reconcile latency: RegionalDeployment applied -> every MR renderable without provider output admitted
   (watched on the API server), for 2, 3 and 5 regions (target: 2 regions <= 2 s).
2. Throughput vs the physical limit: the operator's MR apply rate vs a bare server-side-apply loop of the same
   MRs with the same concurrency, same API server, same run (target: ratio >= 50%).
3. API cost from apiserver_request_total: requests by verb for a create, a no-op resync, a one-field change.
4. Scale: K deployments (2 regions each) applied at once converge to Ready with the simulator (coalesced writes);
   time, the operator's peak RSS (VmHWM, run from the image's runtime-lock venv), CPU seconds per process and
   writes by class, for K = 10, 50, 100 (targets: 100 in <= 5 min, <= 200 MB).
Writes bench/RESULTS.md (machine, commands, median and spread).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import kopf
import yaml
from regional_operator.artifact import load_artifact
from regional_operator.defaults import load_defaults
from regional_operator.kube import ApiError, KubeClient, ResourceRef
from regional_operator.reconcile.apply import with_ownership
from regional_operator.reconcile.resources import ref_of
from regional_operator.render import render
from regional_operator.render.kinds import KINDS

from devtools import processes
from devtools.controlplane import ControlPlane, install_crossplane_crds, install_project_crds
from devtools.image_venv import dependency_venv

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "RESULTS.md"
REGION_POOL = [("us-east-1", "10.10.0.0/16"), ("us-east-2", "10.20.0.0/16"), ("us-west-2", "10.30.0.0/16"),
               ("eu-west-1", "10.40.0.0/16"), ("eu-central-1", "10.50.0.0/16")]
WRITE_VERBS = {"POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION"}


def example() -> dict[str, Any]:
    text = (REPO / "examples" / "two-region.yaml").read_text()
    return next(d for d in yaml.safe_load_all(text) if d and d.get("kind") == "RegionalDeployment")


def cr_with_regions(n: int, name: str, namespace: str, suffix: str = "prod") -> dict[str, Any]:
    cr = copy.deepcopy(example())
    cr["metadata"] = {"name": name, "namespace": namespace}
    cr["spec"]["environmentSuffix"] = suffix
    base = {r["name"]: r for r in cr["spec"]["regions"]}
    account = cr["spec"]["awsAccountId"]
    # an added region serves HTTPS like the example's (production): with an ACM certificate of its own region
    cr["spec"]["regions"] = [base.get(region, {"name": region, "vpcCidr": cidr,
                                               "certificateArn": f"arn:aws:acm:{region}:{account}:certificate/bench"})
                             for region, cidr in REGION_POOL[:n]]
    return cr


def expected_unobserved(cr: dict[str, Any]) -> int:
    return len(render(cr, load_defaults(), None, load_artifact()).resources)


def spread(values: list[float]) -> str:
    values = sorted(values)
    if len(values) == 1:
        return f"{values[0]:.3f}"
    q = statistics.quantiles(values, n=10) if len(values) >= 2 else values
    return (f"median {statistics.median(values):.3f}, p10 {q[0]:.3f}, p90 {q[-1]:.3f}, "
            f"min {values[0]:.3f}, max {values[-1]:.3f} (n={len(values)})")


class MRCounter:
    """Counts MRs as the API server admits them, via one watch per kind (started before the apply)."""

    def __init__(self, client: KubeClient, namespace: str) -> None:
        self.client, self.namespace = client, namespace
        self.names: set[tuple[str, str]] = set()
        self.first: float | None = None  # monotonic time of the first and the latest admission seen
        self.last: float | None = None
        self.changed = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        ready = []
        for k in KINDS.values():
            started = asyncio.Event()
            ready.append(started)
            self.tasks.append(asyncio.create_task(self._watch(ResourceRef(k.api_version, k.plural), started)))
        await asyncio.gather(*(e.wait() for e in ready))

    async def _watch(self, ref: ResourceRef, started: asyncio.Event) -> None:
        session = await self.client.session()
        for attempt in range(60):  # right after CRD installs the server answers 429 "storage is initializing"
            try:
                listing = await self.client.request("GET", ref.path(self.namespace))
                break
            except ApiError:
                if attempt == 59:
                    raise
                await asyncio.sleep(0.5)
        rv = listing["metadata"]["resourceVersion"]
        url = ref.path(self.namespace).lstrip("/") + f"?watch=1&resourceVersion={rv}"
        async with session.get(url, timeout=None) as resp:  # type: ignore[arg-type]
            started.set()
            async for line in resp.content:
                event = json.loads(line)
                if event.get("type") == "ADDED":
                    obj = event["object"]
                    self.names.add((obj["kind"], obj["metadata"]["name"]))
                    self.last = time.monotonic()
                    self.first = self.first or self.last
                    self.changed.set()

    async def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.names) < count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), max(0.01, deadline - time.monotonic()))

    def apply_rate(self) -> float:
        """MRs per second from the first admission to the last: the rate while applying, without the time it
        took to start (that is the latency figure)."""
        assert self.first is not None and self.last is not None and self.last > self.first
        return (len(self.names) - 1) / (self.last - self.first)

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def client_for(cp: ControlPlane, connections: int = 80) -> KubeClient:
    info = kopf.ConnectionInfo(server=cp.server, token=cp.admin_token, scheme="Bearer", ca_path=str(cp.ca_path))
    return KubeClient(info, max_connections=connections)


async def measure_latency(cp: ControlPlane, regions: int, runs: int) -> tuple[list[float], int, list[float]]:
    times, rates = [], []
    expected = 0
    for i in range(runs):
        ns = f"lat-{regions}-{i}"
        cp.kubectl("create", "namespace", ns)
        cr = cr_with_regions(regions, "payments", ns)
        expected = expected_unobserved(cr)
        client = client_for(cp)
        counter = MRCounter(client, ns)
        await counter.start()
        started = time.monotonic()
        cp.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(cr))
        await counter.wait_for(expected, 120)
        times.append(time.monotonic() - started)
        rates.append(counter.apply_rate())
        await counter.stop()
        await client.close()
    return times, expected, rates


async def bare_apply_rate(cp: ControlPlane, runs: int) -> tuple[list[float], int]:
    """The same MRs, server-side applied by a plain loop with the operator's concurrency: the physical limit."""
    rates = []
    count = 0
    for i in range(runs):
        ns = f"bare-{i}"
        cp.kubectl("create", "namespace", ns)
        cr = cr_with_regions(2, "payments", ns)
        owner = {"metadata": {"name": "payments", "uid": "00000000-0000-0000-0000-000000000000"}}
        desired = [with_ownership(o, owner) for o in render(cr, load_defaults(), None, load_artifact()).resources]
        for obj in desired:  # no owner: the garbage collector would delete MRs of a non-existent owner
            obj["metadata"].pop("ownerReferences")
        count = len(desired)
        client = client_for(cp)
        counter = MRCounter(client, ns)
        await counter.start()
        gate = asyncio.Semaphore(16)

        async def one(obj: dict[str, Any], client: KubeClient = client, gate: asyncio.Semaphore = gate) -> None:
            async with gate:
                await client.apply(ref_of(obj), obj)

        await asyncio.gather(*(one(o) for o in desired))
        await counter.wait_for(count, 60)
        rates.append(counter.apply_rate())  # measured exactly as the operator's: first to last admission
        await counter.stop()
        await client.close()
    return rates, count


def writes_by_resource(before: Any, after: Any) -> Counter[str]:
    def table(counters: Any) -> Counter[str]:
        out: Counter[str] = Counter()
        for s in counters:
            group = s.labels.get("group", "")
            ours = group.endswith(".aws.m.upbound.io") or group == "platform.regional.io"
            if ours and s.labels.get("verb") in WRITE_VERBS:
                key = f"{s.labels.get('verb')} {s.labels.get('resource')}" + (
                    f"/{s.labels['subresource']}" if s.labels.get("subresource") else "")
                out[key] += s.value
        return out

    delta = table(after)
    delta.subtract(table(before))
    return Counter({k: int(v) for k, v in delta.items() if v})


def api_cost(cp: ControlPlane) -> dict[str, Counter[str]]:
    """Requests by verb/resource for create, no-op resync and a one-field change (operator only, no provider)."""
    ns = "cost"
    cp.kubectl("create", "namespace", ns)
    op = processes.operator(cp.kubeconfig_path, ns, {"REGIONAL_OPERATOR_RESYNC_SECONDS": "3"}).start()
    try:
        processes.wait_live(op.liveness_url)  # type: ignore[attr-defined]
        cr = cr_with_regions(2, "payments", ns)
        before = cp.metrics()
        cp.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(cr))
        expected = expected_unobserved(cr)
        wait_count(cp, ns, expected)
        time.sleep(2)
        after_create = cp.metrics()
        time.sleep(7)  # two resyncs, nothing changed
        after_noop = cp.metrics()
        changed = copy.deepcopy(cr)
        changed["spec"]["regions"][1].setdefault("alarmThresholds", {})["rdsCpuPercent"] = 55
        cp.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(changed))
        time.sleep(3)
        after_change = cp.metrics()
        return {
            "create (writes)": writes_by_resource(before, after_create),
            "no-op resync x2 (writes)": writes_by_resource(after_create, after_noop),
            "one threshold changed (writes)": writes_by_resource(after_noop, after_change),
        }
    finally:
        op.cleanup()


def wait_count(cp: ControlPlane, ns: str, expected: int, timeout: float = 120) -> None:
    kinds = ",".join(sorted({f"{k.plural}.{k.group}" for k in KINDS.values()}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(cp.kubectl_json("get", kinds, "-n", ns)["items"]) >= expected:
            return
        time.sleep(0.5)
    raise TimeoutError(f"{ns}: fewer than {expected} MRs after {timeout}s")


def write_classes(writes: Counter[str]) -> Counter[str]:
    """Writes grouped by who makes them: the operator's MR applies and CR status, the provider's MR patches."""
    out: Counter[str] = Counter()
    for key, n in writes.items():
        verb, resource = key.split(" ", 1)
        if resource.startswith("regionaldeployments"):
            out[f"CR {verb} {resource.partition('/')[2] or 'main'}"] += n
        else:
            out[f"MR {verb} {resource.partition('/')[2] or 'main'}"] += n
    return out


def rss_mb(pid: int, field: str = "VmHWM") -> float:
    """Peak (VmHWM) or current (VmRSS) resident memory of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scale(cp: ControlPlane, count: int, profile: Path | None, coalesce: bool = True) -> dict[str, Any]:
    ns = f"scale-{count}"
    cp.kubectl("create", "namespace", ns)
    extra = {"REGIONAL_OPERATOR_PROFILE": str(profile)} if profile else {}
    if os.environ.get("REGIONAL_OPERATOR_TRACEMALLOC"):
        extra["REGIONAL_OPERATOR_TRACEMALLOC"] = os.environ["REGIONAL_OPERATOR_TRACEMALLOC"]
    sim = processes.simulator(cp.kubeconfig_path, ns, ready_delay=0.05, coalesce_writes=coalesce).start()
    # The operator as shipped: the image's dependency set (requirements/runtime.lock), not the test venv.
    runtime_python = dependency_venv() / "bin" / "python"
    op = processes.operator(cp.kubeconfig_path, ns, extra, python=runtime_python).start()
    try:
        processes.wait_live(op.liveness_url)  # type: ignore[attr-defined]
        time.sleep(3)  # simulator watches established
        docs = [cr_with_regions(2, f"payments-{i}", ns, suffix=f"s{i}") for i in range(count)]
        pids = {**getattr(cp, "pids", dict)(), "operator": op.proc.pid, "simulator": sim.proc.pid}  # type: ignore[union-attr]
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        metrics_before = cp.metrics()
        started = time.monotonic()
        cp.kubectl("apply", "--server-side", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                                         "items": docs}))
        ready = 0
        while time.monotonic() - started < 900:
            items = cp.kubectl_json("get", "regionaldeployments", "-n", ns)["items"]
            ready = sum(any(c["type"] == "Ready" and c["status"] == "True"
                            for c in (i.get("status") or {}).get("conditions") or []) for i in items)
            if ready == count:
                break
            time.sleep(2)
        converge = time.monotonic() - started
        rss = rss_mb(op.proc.pid)  # type: ignore[union-attr]
        rss_now = rss_mb(op.proc.pid, "VmRSS")  # type: ignore[union-attr]
        cpu = {name: round(cpu_seconds(pid) - cpu_before[name]) for name, pid in pids.items()}
        writes = write_classes(writes_by_resource(metrics_before, cp.metrics()))
        return {"writes": writes, "deployments": count, "ready": ready, "seconds_to_all_ready": round(converge, 1),
                "operator_peak_rss_mb": round(rss, 1), "operator_rss_at_end_mb": round(rss_now, 1),
                "cpu_seconds": cpu}
    finally:
        op.stop()  # graceful: the profile is dumped at cleanup
        sim.cleanup()
        op.cleanup()
        # The objects stay until the control plane goes: deleting the namespace here would have the namespace
        # controller delete thousands of MRs during the next size's run.


def scale_table(scaled: list[dict[str, Any]], mr_count: int, coalesced: bool = True) -> list[str]:
    """The scale section: time to all-Ready, the operator's peak RSS, and where the CPU went (whole box)."""
    names = ["operator", "simulator", "kube-apiserver", "etcd", "kube-controller-manager"]
    provider = ("The simulated provider makes two writes per MR (finalizer + external name + late init in one patch, "
                "then Available) instead of a real provider's four; the end state is the same "
                "(tests/cluster/test_simulator.py)." if coalesced else
                "The simulated provider makes a real provider's four writes per MR (finalizer; external name + late "
                "init; Creating; Available).")
    out = [f"## Scale (K deployments x 2 regions applied at once, simulator ready delay 50 ms, "
           f"{'coalesced' if coalesced else 'four'} provider writes)", "",
           provider + " The operator runs from the image's dependency set (requirements/runtime.lock).", "",
           "| deployments | MRs | ready | seconds to all Ready | operator peak RSS (MB) | RSS at the end (MB) | "
           "CPU seconds: " + ", ".join(names) + " |", "|---|---|---|---|---|---|---|"]
    for s in scaled:
        cpu = " / ".join(str(s["cpu_seconds"].get(n, "?")) for n in names)
        out += [f"| {s['deployments']} | ~{int(s['deployments']) * mr_count} | {s['ready']} | "
                f"{s['seconds_to_all_ready']} | {s['operator_peak_rss_mb']} | {s['operator_rss_at_end_mb']} | {cpu} |"]
    out += ["", "Writes to the API server during each scale run (MR APPLY = the operator; MR PATCH = the simulated "
            "provider's finalizer/external-name and status writes; CR = the RegionalDeployments):", ""]
    out += [f"- {s['deployments']} deployments: " + ", ".join(f"{k}: {v}" for k, v in sorted(s["writes"].items()))
            for s in scaled]
    return out


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown")
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.platform()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--scale", default="10,50,100")
    parser.add_argument("--profile", help="write a cProfile of the operator during the largest scale run here")
    parser.add_argument("--only-scale", action="store_true", help="skip latency, throughput and API cost")
    parser.add_argument("--four-provider-writes", action="store_true",
                        help="with --only-scale: the simulator's default life cycle (four writes per MR, not two)")
    args = parser.parse_args(argv)
    runs = 3 if args.quick else 7
    sizes = [int(s) for s in args.scale.split(",") if s]
    profile = Path(args.profile) if args.profile else None
    with ControlPlane.start() as cp:
        install_project_crds(cp)
        install_crossplane_crds(cp)
        if args.only_scale:
            scaled = [scale(cp, k, profile if k == max(sizes) else None, coalesce=not args.four_provider_writes)
                      for k in sizes]
            print("\n".join(scale_table(scaled, mr_count=expected_unobserved(cr_with_regions(2, "x", "x")),
                                         coalesced=not args.four_provider_writes)))
            return 0  # a partial run does not rewrite RESULTS.md
        op = processes.operator(cp.kubeconfig_path, None).start()
        processes.wait_live(op.liveness_url)  # type: ignore[attr-defined]
        try:
            latency = {n: asyncio.run(measure_latency(cp, n, runs)) for n in (2, 3, 5)}
        finally:
            op.cleanup()
        rates, mr_count = asyncio.run(bare_apply_rate(cp, runs))
        cost = api_cost(cp)
        scaled = [scale(cp, k, profile if k == max(sizes) else None) for k in sizes]

    op_rates = latency[2][2]
    op_end_to_end = [latency[2][1] / t for t in latency[2][0]]
    ratio = statistics.median(op_rates) / statistics.median(rates)
    out = ["# Operator benchmark results", "",
            f"Machine: {machine()}. Control plane: kube-apiserver + etcd + kube-controller-manager v1.36.3 on "
            "loopback (devtools/controlplane), 168 Crossplane CRDs installed.", "",
            f"Command: `.venv/bin/python -m bench.operator_bench{' --quick' if args.quick else ''} --scale "
            f"{args.scale}` (written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).", "",
            "## Reconcile latency (apply -> every renderable MR admitted, watched on the API server), seconds", "",
            "| regions | MRs | latency |", "|---|---|---|"]
    out += [f"| {n} | {latency[n][1]} | {spread(latency[n][0])} |" for n in (2, 3, 5)]
    out += ["", "Target: <= 2 s for 2 regions.", "",
            "## Throughput against the API server's own limit (2 regions, same MRs, concurrency 16)", "",
            "Both rates are measured the same way, by a watch on the API server: MRs admitted from the first "
            "admission to the last.", "",
            f"- bare server-side-apply loop: {spread(rates)} MRs/s ({mr_count} MRs)",
            f"- operator (first reconcile, from the latency runs): {spread(op_rates)} MRs/s",
            f"- ratio operator / bare (medians): **{ratio:.0%}** (target >= 50%)",
            f"- for reference, the operator end to end (MRs / latency, so including kubectl and the reaction "
            f"time): {spread(op_end_to_end)} MRs/s", "",
            "## API cost (apiserver_request_total deltas; writes to our CR and MR groups, by verb and resource)", ""]
    for phase, counts in cost.items():
        total = sum(counts.values())
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "none"
        out += [f"- **{phase}**: {total} — {detail}"]
    out += ["", *scale_table(scaled, mr_count), "", "Targets: 100 deployments <= 5 min, <= 200 MB RSS.", "",
            "Other results: [render](RENDER_RESULTS.md), [payments Lambda](LAMBDA_RESULTS.md)."]
    RESULTS.write_text("\n".join(out) + "\n")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
