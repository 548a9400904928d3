"""`regional-operator render`: the offline preview of what the operator will apply (like `crossplane render`),
for GitOps review. It calls the same render() the operator calls. `regional-operator plan`: the same render,
server-side dry-run applied against a live cluster, showing what would change (plan.py)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any

import yaml

from . import plan
from .defaults import load_defaults
from .documents import load_documents, optional_artifact
from .errors import DefaultsError, SpecValidationError
from .render import RenderResult, render
from .render.context import LABEL_REGION
from .render.observed import Observed
from .spec import parse_deployment

EXIT_INVALID = 2


def _summary(result: RenderResult, out: Any) -> None:
    for region, resources in sorted(result.by_region().items()):
        kinds = Counter(r["kind"] for r in resources)
        print(f"{region}: {len(resources)} MRs ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})", file=out)
    for pending in result.pending:
        print(f"pending: {pending}", file=out)


def cmd_render(args: argparse.Namespace) -> int:
    try:
        defaults = load_defaults(args.defaults)
        crs = [d for d in load_documents(args.file) if d.get("kind") == "RegionalDeployment"]
        if not crs:
            print(f"error: {args.file}: no RegionalDeployment found", file=sys.stderr)
            return EXIT_INVALID
        observed = Observed.from_objects(load_documents(args.observed)) if args.observed else Observed()
        artifact = optional_artifact(args.no_lambda_package)
        manifests: list[dict[str, Any]] = []
        for cr in crs:
            deployment = parse_deployment(cr)
            result = render(deployment, defaults, observed, artifact)
            chosen = [m for m in result.resources
                      if args.region is None or m["metadata"]["labels"][LABEL_REGION] == args.region]
            manifests.extend(chosen)
            print(f"# {deployment.namespace}/{deployment.name}", file=sys.stderr)
            _summary(result, sys.stderr)
    except SpecValidationError as err:
        print(f"error: invalid RegionalDeployment: {err.field}: {err.rule}", file=sys.stderr)
        return EXIT_INVALID
    except (DefaultsError, OSError, yaml.YAMLError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_INVALID
    if args.output == "json":
        json.dump({"apiVersion": "v1", "kind": "List", "items": manifests}, sys.stdout, indent=2, sort_keys=True)
        print()
    else:
        yaml.safe_dump_all(manifests, sys.stdout, sort_keys=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="regional-operator", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render", help="print the managed resources a RegionalDeployment renders to")
    r.add_argument("file", help="YAML file with a RegionalDeployment ('-' for stdin)")
    r.add_argument("--observed", help="YAML/JSON of live MRs (e.g. kubectl get ... -o yaml) to resolve dependents")
    r.add_argument("--region", help="only this region's MRs")
    r.add_argument("--defaults", help="region defaults file (default: $REGIONAL_OPERATOR_DEFAULTS or built-in)")
    r.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")
    r.add_argument("--no-lambda-package", action="store_true", help="leave out the Lambda code object and function")
    r.set_defaults(func=cmd_render)
    plan.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
