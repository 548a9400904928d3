"""`regional-operator plan FILE`: what applying a RegionalDeployment would change on a live cluster, before anything
does (like `kubectl diff`, and like `terraform plan` for the estate being adopted).

Every MR the spec renders (from the live MRs' reported state, as the operator renders it) is server-side applied
with dryRun=All and the operator's field manager (kube.FIELD_MANAGER), owner reference and applied hash as the
operator would send them (reconcile.apply.with_ownership), so admission, defaulting and field ownership are the
API server's own. The answers are compared with the live MRs, grouped by region and component:
- created: no live MR of that kind and name;
- changed: the fields of `spec` the apply would change (dotted paths, old -> new);
- unchanged;
- to be deleted: live MRs of this deployment the spec no longer renders (the operator prunes them);
and for adopted MRs in Observe, the settings Manage would change (`status.atProvider` -> rendered forProvider):
the same comparison the AdoptionDrift condition summarises.

Exit code as kubectl diff: 0 nothing would change, 1 something would, 2 error. kubectl does the talking (the
user's kubeconfig and --context, no in-cluster credentials needed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import yaml

from .defaults import load_defaults
from .documents import load_documents, optional_artifact
from .errors import DefaultsError, SpecValidationError
from .identity import MRKey, controlling_deployment, key_of
from .kube import FIELD_MANAGER
from .reconcile.adoption import setting_differences
from .reconcile.apply import with_ownership
from .render import RenderResult, render
from .render.context import LABEL_COMPONENT, LABEL_DEPLOYMENT, LABEL_REGION
from .render.kinds import kubectl_resources
from .render.observed import Observed
from .spec import parse_deployment

EXIT_NO_CHANGES: Final = 0
EXIT_CHANGES: Final = 1
EXIT_ERROR: Final = 2
# metadata fields the API server owns (they change on every write and say nothing about the resource)
_SERVER_FIELDS: Final = ("resourceVersion", "generation", "managedFields", "creationTimestamp", "uid")


class PlanError(Exception):
    """kubectl or the API server refused; the message is theirs."""


@dataclass
class Kubectl:
    binary: str = "kubectl"
    kubeconfig: str | None = None
    context: str | None = None

    def run(self, *args: str, input_: str | None = None) -> str:
        argv = [self.binary, *([f"--kubeconfig={self.kubeconfig}"] if self.kubeconfig else []),
                *([f"--context={self.context}"] if self.context else []), *args]
        proc = subprocess.run(argv, input=input_, capture_output=True, text=True, check=False, timeout=600)
        if proc.returncode != 0:
            raise PlanError(proc.stderr.strip() or f"{' '.join(argv)} exited {proc.returncode}")
        return proc.stdout


@dataclass
class Entry:
    region: str
    component: str
    kind: str
    name: str
    action: str  # create | change | unchanged | delete
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)  # (spec path, live, would be)
    adoption: list[tuple[str, Any, Any]] = field(default_factory=list)  # (forProvider field, AWS has, Manage sets)
    adopted_from: str = ""


@dataclass
class Plan:
    entries: list[Entry]
    pending: list[str]
    blocked: list[str]

    @property
    def changes(self) -> bool:
        return any(e.action != "unchanged" for e in self.entries)


def spec_changes(live: Any, wanted: Any, path: str = "spec") -> list[tuple[str, Any, Any]]:
    """Field-level difference of two specs: (dotted path, live value, value after the apply); lists whose items
    differ are shown whole at their path."""
    if isinstance(live, Mapping) and isinstance(wanted, Mapping):
        out: list[tuple[str, Any, Any]] = []
        for k in sorted(set(live) | set(wanted)):
            out += spec_changes(live.get(k), wanted.get(k), f"{path}.{k}")
        return out
    return [] if live == wanted else [(path, live, wanted)]


def compute(result: RenderResult, dry_run: Mapping[MRKey, Mapping[str, Any]],
            live: Mapping[MRKey, Mapping[str, Any]]) -> Plan:
    """The plan from what the spec renders, what the API server answered to the dry-run applies and the live MRs."""
    entries: list[Entry] = []
    for obj in result.resources:
        key = key_of(obj)
        labels = obj["metadata"]["labels"]
        entry = Entry(labels[LABEL_REGION], labels[LABEL_COMPONENT], key[0], key[1], "create")
        current = live.get(key)
        if current is not None:
            changes = spec_changes(current.get("spec") or {}, (dry_run.get(key) or obj).get("spec") or {})
            entry.action, entry.changes = ("change", changes) if changes else ("unchanged", [])
        adopted = result.adopted.get(key)
        if adopted is not None:
            entry.adopted_from = f"{adopted.field} {adopted.identifier} ({adopted.mode})"
            at_provider = ((current or {}).get("status") or {}).get("atProvider") or {}
            fp = obj["spec"]["forProvider"]
            entry.adoption = [(f, at_provider.get(f), fp[f]) for f in setting_differences(fp, at_provider)]
        entries.append(entry)
    wanted = ({key_of(o) for o in result.resources} | {(p.kind, p.name) for p in result.pending}
              | {(b.kind, b.name) for b in result.blocked})
    for key, gone in sorted(live.items()):
        if key not in wanted:
            labels = gone["metadata"].get("labels") or {}
            entries.append(Entry(labels.get(LABEL_REGION, "?"), labels.get(LABEL_COMPONENT, "?"), key[0], key[1],
                                 "delete"))
    return Plan(entries, [str(p) for p in result.pending], [str(b) for b in result.blocked])


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if value is not None else "(unset)"
    return text if len(text) <= 100 else text[:97] + "..."


def report(plan: Plan) -> str:
    """The plan as text, by region and component; unchanged MRs are counted, not listed."""
    lines: list[str] = []
    groups: dict[tuple[str, str], list[Entry]] = {}
    for e in plan.entries:
        groups.setdefault((e.region, e.component), []).append(e)
    marks = {"create": "+", "change": "~", "delete": "-"}
    for (region, component), entries in sorted(groups.items()):
        counts = {a: sum(e.action == a for e in entries) for a in ("create", "change", "unchanged", "delete")}
        lines.append(f"{region} / {component}: " + ", ".join(f"{n} {a}" for a, n in counts.items() if n))
        for e in entries:
            if e.action != "unchanged":
                lines.append(f"  {marks[e.action]} {e.kind}/{e.name}" + (f"  [{e.adopted_from}]" if e.adopted_from
                                                                         else ""))
                lines += [f"      {p}: {_short(old)} -> {_short(new)}" for p, old, new in e.changes]
            if e.adoption:
                if e.action == "unchanged":
                    lines.append(f"  = {e.kind}/{e.name}  [{e.adopted_from}]")
                lines.append("      in Manage these settings would change (AWS has -> Manage sets):")
                lines += [f"        {f}: {_short(old)} -> {_short(new)}" for f, old, new in e.adoption]
    lines += [f"pending: {p}" for p in plan.pending]
    lines += [f"blocked: {b}" for b in plan.blocked]
    total = {a: sum(e.action == a for e in plan.entries) for a in ("create", "change", "unchanged", "delete")}
    lines.append("plan: " + ", ".join(f"{n} to {a}" if a != "unchanged" else f"{n} unchanged"
                                      for a, n in total.items()))
    return "\n".join(lines) + "\n"


def _live_mrs(kubectl: Kubectl, namespace: str, name: str, uid: str | None) -> list[dict[str, Any]]:
    """Every MR of this deployment: by the deployment label, and (when the CR exists) controlled by it."""
    kinds = kubectl_resources()
    items = json.loads(kubectl.run("get", kinds, "-n", namespace, "-l", f"{LABEL_DEPLOYMENT}={name}",
                                   "-o", "json")).get("items") or []
    if uid is None:
        return list(items)
    return [o for o in items if (found := controlling_deployment(o)) is not None and found[1] == uid]


def _strip(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj["metadata"].items() if k not in _SERVER_FIELDS}
    return {**obj, "metadata": meta}


def _dry_run(kubectl: Kubectl, objects: Sequence[Mapping[str, Any]]) -> dict[MRKey, dict[str, Any]]:
    if not objects:
        return {}
    body = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})
    out = kubectl.run("apply", "--server-side", "--dry-run=server", f"--field-manager={FIELD_MANAGER}",
                      "--force-conflicts", "-o", "json", "-f", "-", input_=body)
    answered = json.loads(out)
    items = answered.get("items") if answered.get("kind") == "List" else [answered]
    return {key_of(o): o for o in items or []}


def plan_file(path: str, kubectl: Kubectl, *, defaults_path: str | None = None,
              with_lambda: bool = True) -> list[tuple[str, Plan]]:
    defaults = load_defaults(defaults_path)
    crs = [d for d in load_documents(path) if d.get("kind") == "RegionalDeployment"]
    if not crs:
        raise PlanError(f"{path}: no RegionalDeployment found")
    artifact = optional_artifact(not with_lambda)
    plans = []
    for cr in crs:
        deployment = parse_deployment(cr)
        stored = _stored(kubectl, deployment.namespace, deployment.name)
        uid = stored["metadata"]["uid"] if stored else None
        live_objs = _live_mrs(kubectl, deployment.namespace, deployment.name, uid)
        result = render(deployment, defaults, Observed.from_objects(live_objs), artifact)
        owner = stored or {"metadata": {"name": deployment.name, "uid": "", "labels": cr["metadata"].get("labels")}}
        desired = [with_ownership(o, owner) for o in result.resources]
        if stored is None:  # nothing to own them yet: the operator adds the reference once the CR exists
            for o in desired:
                o["metadata"].pop("ownerReferences", None)
        dry = {k: _strip(v) for k, v in _dry_run(kubectl, desired).items()}
        plans.append((f"{deployment.namespace}/{deployment.name}", compute(result, dry, {key_of(o): o
                                                                                     for o in live_objs})))
    return plans


def _stored(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any] | None:
    out = kubectl.run("get", "regionaldeployments.platform.regional.io", name, "-n", namespace,
                      "--ignore-not-found", "-o", "json")
    return json.loads(out) if out.strip() else None


def cmd_plan(args: argparse.Namespace) -> int:
    kubectl = Kubectl(args.kubectl or os.environ.get("REGIONAL_OPERATOR_KUBECTL", "kubectl"), args.kubeconfig,
                      args.context)
    try:
        plans = plan_file(args.file, kubectl, defaults_path=args.defaults, with_lambda=not args.no_lambda_package)
    except SpecValidationError as err:
        print(f"error: invalid RegionalDeployment: {err.field}: {err.rule}", file=sys.stderr)
        return EXIT_ERROR
    except (PlanError, DefaultsError, OSError, yaml.YAMLError, json.JSONDecodeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    for name, plan in plans:
        print(f"# {name}")
        print(report(plan), end="")
    return EXIT_CHANGES if any(p.changes for _, p in plans) else EXIT_NO_CHANGES


def add_parser(sub: Any) -> None:
    p = sub.add_parser("plan", help="show what applying a RegionalDeployment would change on a live cluster "
                                    "(server-side dry run); exit 0 no changes, 1 changes, 2 error")
    p.add_argument("file", help="YAML file with a RegionalDeployment ('-' for stdin)")
    p.add_argument("--context", help="kubeconfig context to use")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: kubectl's)")
    p.add_argument("--kubectl", help="kubectl binary (default: $REGIONAL_OPERATOR_KUBECTL or kubectl)")
    p.add_argument("--defaults", help="region defaults file (default: $REGIONAL_OPERATOR_DEFAULTS or built-in)")
    p.add_argument("--no-lambda-package", action="store_true", help="leave out the Lambda code object and function")
    p.set_defaults(func=cmd_plan)
