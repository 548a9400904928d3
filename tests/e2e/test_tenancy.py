"""End-to-end (issue 13, tenancy): on the real API server, with the operator and the provider simulator running,
an MR is the operator's only through its controller owner reference.

A RegionalDeployment whose rendered MRs already exist under another controller, or with our labels and no owner
at all, reports them by kind/name in a Conflict condition and never applies over them, prunes them or deletes
them; and a second deployment in the namespace leaves the first one's MRs exactly as they were.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from regional_operator.defaults import load_defaults
from regional_operator.kube import FIELD_MANAGER
from regional_operator.render import render

from tests.e2e.conftest import Env, load_example

pytestmark = pytest.mark.cluster


def _rendered(cr: dict[str, Any], kind: str) -> dict[str, Any]:
    """The first MR of `kind` the CR renders (offline, the operator's own renderer): the name it will apply."""
    return next(m for m in render(cr, load_defaults()).resources if m["kind"] == kind)


def _ours(mr: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in mr["metadata"].get("managedFields") or [] if f.get("manager") == FIELD_MANAGER]


def _fingerprint(mr: dict[str, Any]) -> tuple[Any, ...]:
    """What an apply by the operator would change: spec, generation, labels, owners, the operator's fields."""
    meta = mr["metadata"]
    return (json.dumps(mr["spec"], sort_keys=True), meta.get("generation"), json.dumps(meta.get("labels"),
            sort_keys=True), json.dumps(meta.get("ownerReferences"), sort_keys=True),
            json.dumps([f.get("fieldsV1") for f in _ours(mr)], sort_keys=True))


def _get(env: Env, mr: dict[str, Any]) -> dict[str, Any]:
    plural = {"VPC": "vpcs.ec2.aws.m.upbound.io", "Key": "keys.kms.aws.m.upbound.io"}[mr["kind"]]
    return dict(env.cp.kubectl_json("get", plural, mr["metadata"]["name"], "-n", env.ns, "--show-managed-fields"))


def test_foreign_and_unowned_mrs_are_reported_never_taken_over(env: Env) -> None:
    env.start_simulator()
    env.start_operator()
    first = load_example("two-region.yaml")
    first["metadata"]["name"] = "first"
    env.apply(first)
    env.wait_condition("first", "Ready", "True", timeout=240)
    first_before = {(m["kind"], m["metadata"]["name"]): _fingerprint(m) for m in env.mrs("first", managed_fields=True)}
    assert len(first_before) > 100

    # The second deployment: same suffix, same namespace. Two of the MRs it will render exist already: its VPC,
    # controlled by something else (a ConfigMap here) and carrying no labels (so only the operator's unselected
    # watch sees it), and its KMS key carrying our labels but no owner at all.
    second = copy.deepcopy(first)
    second["metadata"] = {"name": "second", "namespace": env.ns}
    env.cp.kubectl("create", "configmap", "squatter", "-n", env.ns)
    squatter_uid = env.cp.kubectl_json("get", "configmap", "squatter", "-n", env.ns)["metadata"]["uid"]
    vpc = _rendered({**second, "metadata": {**second["metadata"]}}, "VPC")
    vpc["metadata"]["namespace"] = env.ns
    vpc["metadata"].pop("labels")
    vpc["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "squatter",
                                           "uid": squatter_uid, "controller": True}]
    key = _rendered(second, "Key")
    key["metadata"]["namespace"] = env.ns  # labels app.kubernetes.io/managed-by and platform.regional.io/deployment
    for obj in (vpc, key):
        env.cp.kubectl("create", "--field-manager=squatter", "-f", "-", input=json.dumps(obj))
    vpc_before, key_before = _fingerprint(_get(env, vpc)), _fingerprint(_get(env, key))

    env.apply(second)
    ready = env.wait_condition("second", "Ready", "False", timeout=120)
    env.wait_for("Conflict reason", lambda: (env.condition("second", "Ready") or {}).get("reason") == "Conflict")
    message = env.condition("second", "Ready")["message"]  # type: ignore[index]
    assert f"VPC/{vpc['metadata']['name']} is controlled by ConfigMap/squatter" in message, ready
    assert f"Key/{key['metadata']['name']} is controlled by no controller" in message, message
    # the rest of the second deployment is applied: only the two foreign MRs are left alone
    env.wait_for("second's other MRs", lambda: len(env.mrs("second")) > 50)

    for obj, before in ((vpc, vpc_before), (key, key_before)):
        now = _get(env, obj)
        assert _fingerprint(now) == before, f"{obj['kind']}/{obj['metadata']['name']} was changed"
        assert _ours(now) == [], f"the operator applied over {obj['kind']}/{obj['metadata']['name']}"
    first_after = {(m["kind"], m["metadata"]["name"]): _fingerprint(m) for m in env.mrs("first", managed_fields=True)}
    assert first_after == first_before, "the second deployment changed the first one's MRs"
    assert env.condition("first", "Ready")["status"] == "True"  # type: ignore[index]

    # Deleting the second deployment deletes its own MRs and neither foreign one.
    env.cp.kubectl("delete", "regionaldeployments.platform.regional.io", "second", "-n", env.ns, "--wait=false")
    env.wait_for("second gone", lambda: env.get("second") is None, timeout=240)
    for obj in (vpc, key):
        assert _get(env, obj)["metadata"]["name"] == obj["metadata"]["name"], "a foreign MR was deleted"
    assert {(m["kind"], m["metadata"]["name"]) for m in env.mrs("first")} == set(first_before)
