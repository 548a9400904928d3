"""Stand-ins shared by the render tests and the render benchmark: the test account and the `status.atProvider`
the provider would report for a rendered MR (enough for the renderer's observed values), and the kubectl resource
list of every MR kind we render."""

from __future__ import annotations

from typing import Any, Final

from regional_operator.render.kinds import kubectl_resources

ACCOUNT_ID: Final = "123456789012"

# `kubectl get` argument naming every MR kind the renderer emits (plural.group, comma-separated).
MR_KINDS: Final = kubectl_resources()


def plausible_status(mr: dict[str, Any]) -> dict[str, Any]:
    """A plausible `status.atProvider` for a rendered MR: id, arn (arn:aws:<svc>:<region>:<account>:<kind>/<name>)
    and, for load balancers and target groups, the arnSuffix CloudWatch dimensions use."""
    service = mr["apiVersion"].split(".")[0]
    name = mr["metadata"]["name"]
    region = mr["spec"]["forProvider"].get("region", "")
    at: dict[str, Any] = {"id": name, "arn": f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{mr['kind'].lower()}/{name}"}
    if mr["kind"] in ("LB", "LBTargetGroup"):
        at["arnSuffix"] = f"{'app' if mr['kind'] == 'LB' else 'targetgroup'}/{name}/0123456789abcdef"
    return at
