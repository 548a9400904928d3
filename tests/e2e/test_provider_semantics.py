"""Once a deployment is Ready, the operator and the provider (simulated with the provider's own reference and
external-name rules) leave each other's fields alone: zero writes, and every field the provider wrote is still
there with the provider's value (issue 11).

The simulator resolves every Ref/Selector with the provider's extractor into spec.forProvider, writes external
names as the provider does (queue URLs, aliases without `alias/`, AWS-style ids) and late-initializes fields. An
operator that pinned an external name the provider stores differently, or owned a field the provider fills, would
show up here as writes in the quiet window (the two rewriting each other) or as a changed value.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from regional_operator.render.kinds import BY_API_KIND, KINDS

from devtools.processes import free_port
from devtools.simulator import FIELD_MANAGER, facts
from devtools.simulator.references import EXTERNAL_NAME, containers, extract, references
from tests.e2e.conftest import Env, load_example
from tests.e2e.test_api_cost import _reconciles, _settled, _writes

pytestmark = pytest.mark.cluster

QUIET_SECONDS = 6


def _key(mr: dict[str, Any]) -> str:
    return BY_API_KIND[(mr["apiVersion"], mr["kind"])].key


def provider_fields(mrs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """What the provider owns on each MR: its external name, the resolved reference fields and the
    late-initialized fields (with their values)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for mr in mrs:
        key = _key(mr)
        fp = mr["spec"]["forProvider"]
        fields: dict[str, Any] = {"externalName": (mr["metadata"].get("annotations") or {}).get(EXTERNAL_NAME)}
        for ref in references().get(key, ()):
            for path, container in containers(fp, ref):
                if ref.ref in container or ref.selector in container:
                    fields[f"{path}.{ref.leaf}"] = container.get(ref.leaf)
        for name in facts.LATE_INIT.get(key, {}):
            fields[f"spec.forProvider.{name}"] = fp.get(name)
        out[(key, mr["metadata"]["name"])] = fields
    return out


def test_a_ready_deployment_is_quiet_and_keeps_the_providers_fields(env: Env) -> None:
    metrics_port = free_port()
    env.start_simulator()
    env.start_operator(REGIONAL_OPERATOR_RESYNC_SECONDS="1", REGIONAL_OPERATOR_METRICS_PORT=str(metrics_port))
    cr = load_example("two-region.yaml")
    name = cr["metadata"]["name"]
    env.apply(cr)
    env.wait_condition(name, "Ready", "True", timeout=300)
    time.sleep(2)  # the last status write and simulator updates settle
    before = env.mrs(name)
    _settled(env)
    writes_before, passes_before = _writes(env), _reconciles(metrics_port)
    time.sleep(QUIET_SECONDS)
    writes_after, passes_after = _writes(env), _reconciles(metrics_port)
    after = env.mrs(name, managed_fields=True)

    assert passes_after - passes_before >= 3, "the resync did not run; the measurement would prove nothing"
    assert writes_after - writes_before == 0, f"{writes_after - writes_before} writes in a quiet window"
    assert provider_fields(after) == provider_fields(before), "a provider field changed after Ready"

    by_name = {(_key(m), m["metadata"]["name"]): m for m in after}
    resolved = 0
    for mr in after:
        key, where = _key(mr), f"{_key(mr)}/{mr['metadata']['name']}"
        subject = facts.Subject.of(KINDS[key], mr, cr["spec"]["awsAccountId"])
        annotation = mr["metadata"]["annotations"][EXTERNAL_NAME]
        assert annotation == facts.identity(subject), where  # the provider's, not a pinned value fighting it
        if key == "sqs/Queue":
            assert annotation.startswith(f"https://sqs.{mr['spec']['forProvider']['region']}.amazonaws.com/"), where
        if key == "kms/Alias":
            assert not annotation.startswith("alias/"), where
        for ref in references().get(key, ()):
            for path, container in containers(mr["spec"]["forProvider"], ref):
                if ref.ref not in container:
                    continue
                targets = [by_name[(ref.target, r["name"])]
                           for r in (container[ref.ref] if ref.is_list else [container[ref.ref]])]
                expected = [extract(t, ref.copies) for t in targets]
                assert container.get(ref.leaf) == (expected if ref.is_list else expected[0]), f"{where} {path}"
                resolved += 1
        owners = {entry["manager"] for entry in mr["metadata"].get("managedFields") or []}
        assert FIELD_MANAGER in owners, where  # the provider's writes survived the operator's applies
    assert resolved > 200, "the simulator resolved too few references for this to prove anything"
