"""The main job, on a local control plane: build/reuse the real kube-apiserver + etcd + controller-manager,
install the CRDs, start the provider simulator and the operator, apply the two-region example, and show the
conditions and the tree of MRs per region as they become ready; then delete it and show the ordered teardown.

    python -m hack.demo [--example examples/two-region.yaml] [--keep]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from devtools import processes
from devtools.controlplane import ControlPlane, install_crossplane_crds, install_project_crds
from devtools.stand_in import MR_KINDS

REPO = Path(__file__).resolve().parent.parent
GREEN, YELLOW, RED, DIM, BOLD, RESET = "\033[32m", "\033[33m", "\033[31m", "\033[2m", "\033[1m", "\033[0m"
NAMESPACE = "payments"


def say(text: str) -> None:
    print(text, flush=True)


def mr_ready(mr: dict[str, Any]) -> bool:
    conds = {c["type"]: c for c in (mr.get("status") or {}).get("conditions") or []}
    gen = mr["metadata"].get("generation")
    return all(conds.get(t, {}).get("status") == "True" and conds[t].get("observedGeneration", gen) == gen
               for t in ("Ready", "Synced"))


def tree(mrs: list[dict[str, Any]]) -> str:
    by_region: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for mr in mrs:
        labels = mr["metadata"]["labels"]
        by_region[labels["platform.regional.io/region"]][labels["platform.regional.io/component"]].append(mr)
    lines = []
    for region in sorted(by_region):
        total = sum(len(v) for v in by_region[region].values())
        ready = sum(mr_ready(m) for v in by_region[region].values() for m in v)
        lines.append(f"{BOLD}{region}{RESET}  {ready}/{total} ready")
        for component in sorted(by_region[region]):
            items = by_region[region][component]
            ok = sum(mr_ready(m) for m in items)
            colour = GREEN if ok == len(items) else YELLOW
            kinds = sorted({m["kind"] for m in items})
            lines.append(f"  {colour}{'●' if ok == len(items) else '◐'}{RESET} {component:<11} {ok:>3}/{len(items):<3}"
                         f" {DIM}{', '.join(kinds)[:90]}{RESET}")
    return "\n".join(lines)


def conditions(cp: ControlPlane, name: str) -> list[dict[str, Any]]:
    proc = cp.kubectl("get", "regionaldeployment", name, "-n", NAMESPACE, "-o", "json", check=False)
    if proc.returncode:
        return []
    return list((json.loads(proc.stdout).get("status") or {}).get("conditions") or [])


def show_conditions(conds: list[dict[str, Any]]) -> None:
    for c in conds:
        colour = GREEN if (c["status"] == "True") != (c["type"] in ("Stalled", "Reconciling")) else YELLOW
        msg = c.get("message", "")
        say(f"  {colour}{c['type']:<22}{RESET} {c['status']:<6} {c['reason']:<18} {DIM}{msg[:100]}{RESET}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--example", default=str(REPO / "examples" / "two-region.yaml"))
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--keep", action="store_true", help="do not delete the deployment at the end")
    args = parser.parse_args(argv)
    docs = yaml.safe_load_all(Path(args.example).read_text())
    cr = next(d for d in docs if d and d.get("kind") == "RegionalDeployment")
    name = cr["metadata"]["name"]
    cr["metadata"]["namespace"] = NAMESPACE

    say(f"{BOLD}1/5 starting a local control plane (etcd + kube-apiserver + kube-controller-manager){RESET}")
    started = time.monotonic()
    with ControlPlane.start() as cp:
        version = json.loads(cp.kubectl("version", "-o", "json").stdout)["serverVersion"]["gitVersion"]
        say(f"  up in {time.monotonic() - started:.1f}s, Kubernetes {version}, {cp.server}")
        say(f"{BOLD}2/5 installing CRDs (RegionalDeployment + Crossplane provider-aws v2.6.0 + core){RESET}")
        count = len(install_project_crds(cp)) + len(install_crossplane_crds(cp))
        say(f"  {count} CRDs Established")
        cp.kubectl("create", "namespace", NAMESPACE)
        say(f"{BOLD}3/5 starting the provider simulator (test-only stand-in for Crossplane) and the operator{RESET}")
        sim = processes.simulator(cp.kubeconfig_path, None, ready_delay=0.3).start()
        op = processes.operator(cp.kubeconfig_path, None).start()
        try:
            processes.wait_live(op.liveness_url)  # type: ignore[attr-defined]
            say(f"{BOLD}4/5 kubectl apply -f {Path(args.example).relative_to(REPO)}{RESET}")
            cp.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(cr))
            applied = time.monotonic()
            last = ""
            while time.monotonic() - applied < args.timeout:
                mrs = cp.kubectl_json("get", MR_KINDS, "-n", NAMESPACE)["items"]
                conds = conditions(cp, name)
                ready = next((c for c in conds if c["type"] == "Ready"), None)
                snapshot = tree(mrs)
                if snapshot != last:
                    say(f"\n{DIM}t+{time.monotonic() - applied:5.1f}s{RESET}  {len(mrs)} managed resources")
                    say(snapshot)
                    last = snapshot
                if ready and ready["status"] == "True":
                    break
                time.sleep(1)
            final = tree(cp.kubectl_json("get", MR_KINDS, "-n", NAMESPACE)["items"])
            if final != last:
                say(f"\n{DIM}t+{time.monotonic() - applied:5.1f}s{RESET}\n{final}")
            say(f"\n{BOLD}conditions after {time.monotonic() - applied:.1f}s:{RESET}")
            show_conditions(conditions(cp, name))
            status = cp.kubectl_json("get", "regionaldeployment", name, "-n", NAMESPACE).get("status", {})
            say(f"{BOLD}outputs:{RESET}\n" + yaml.safe_dump(status.get("outputs", {}), sort_keys=True).rstrip())
            say(cp.kubectl("get", "regionaldeployments", "-n", NAMESPACE).stdout.rstrip())
            if not any(c["type"] == "Ready" and c["status"] == "True" for c in conditions(cp, name)):
                say(f"{RED}not Ready within {args.timeout}s{RESET}\n{op.logs()}")
                return 1
            if args.keep:
                return 0
            say(f"\n{BOLD}5/5 kubectl delete regionaldeployment {name} (ordered teardown){RESET}")
            cp.kubectl("delete", "regionaldeployment", name, "-n", NAMESPACE, "--wait=false")
            deleting = time.monotonic()
            while cp.kubectl("get", "regionaldeployment", name, "-n", NAMESPACE, check=False).returncode == 0:
                if time.monotonic() - deleting > args.timeout:
                    say(f"{RED}deletion did not finish{RESET}")
                    return 1
                time.sleep(1)
            events = cp.kubectl_json("get", "events", "-n", NAMESPACE, "--sort-by=.metadata.creationTimestamp")
            for event in events["items"]:
                if event["reason"] in ("Deleting", "Deleted"):
                    say(f"  {event['reason']:<9} {DIM}{event['message'][:110]}{RESET}")
            left = cp.kubectl_json("get", MR_KINDS, "-n", NAMESPACE)["items"]
            say(f"  deleted in {time.monotonic() - deleting:.1f}s; managed resources left: {len(left)}")
            return 0 if not left else 1
        finally:
            op.cleanup()
            sim.cleanup()


if __name__ == "__main__":
    sys.exit(main())
