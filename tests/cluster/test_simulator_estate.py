"""The provider simulator seeded with pre-existing AWS state (issue 16), on a real API server: an Observe-only MR is
reported from the fixture and never receives create, update or delete; an unknown identifier is reported not found
in the provider's words and nothing is created; an adopted MR in Manage keeps AWS's identity and is updated, not
created; deleting MRs without the Delete policy leaves the resource in the simulated cloud."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from regional_operator.kube import KubeClient, ResourceRef

from devtools.controlplane import ControlPlane
from devtools.simulator import FINALIZER, NOT_FOUND_MESSAGE, running_simulator
from tests.cluster.test_simulator import VPC, condition, eventually, vpc

pytestmark = pytest.mark.cluster

DELAY = 0.2
REAL_ID = "vpc-0a1b2c3d4e5f60718"
SEEDED = {"id": REAL_ID, "arn": f"arn:aws:ec2:eu-west-1:123456789012:vpc/{REAL_ID}", "cidrBlock": "10.20.0.0/16",
          "enableDnsHostnames": False, "tags": {"Name": "legacy"}}
ESTATE = {"ec2/VPC": {REAL_ID: SEEDED}}


def adopted(namespace: str, name: str, external: str, policies: list[str]) -> dict[str, Any]:
    obj = vpc(namespace, name)
    obj["metadata"]["annotations"] = {"crossplane.io/external-name": external}
    obj["spec"]["managementPolicies"] = policies
    return obj


async def _get(client: KubeClient, ref: ResourceRef, ns: str, name: str) -> dict[str, Any] | None:
    return await client.get(ref, ns, name)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 120))


def test_observe_only_is_reported_from_the_estate_and_never_touched(
        control_plane: ControlPlane, crossplane_crds: list[str], namespace: str) -> None:
    async def scenario() -> None:
        async with running_simulator(control_plane, namespace=namespace, ready_delay=DELAY, estate=ESTATE) as sim:
            client = sim.client
            await client.apply(VPC, adopted(namespace, "adopted", REAL_ID, ["Observe"]))
            await client.apply(VPC, adopted(namespace, "unknown", "vpc-0fffffffffffffff0", ["Observe"]))

            async def ready() -> dict[str, Any] | None:
                obj = await _get(client, VPC, namespace, "adopted")
                return obj if obj and condition(obj, "Ready").get("status") == "True" else None

            obj = await eventually(ready, "the adopted VPC Ready from the estate")
            assert obj["status"]["atProvider"] == SEEDED
            assert condition(obj, "Synced")["status"] == "True"
            assert obj["metadata"]["annotations"]["crossplane.io/external-name"] == REAL_ID
            assert "enableDnsHostnames" not in obj["spec"]["forProvider"]  # no late initialization in Observe

            async def not_found() -> dict[str, Any] | None:
                obj = await _get(client, VPC, namespace, "unknown")
                return obj if obj and condition(obj, "Synced").get("status") == "False" else None

            missing = await eventually(not_found, "the unknown VPC reported not found")
            synced = condition(missing, "Synced")
            assert (synced["reason"], synced["message"]) == ("ReconcileError", NOT_FOUND_MESSAGE)
            assert condition(missing, "Ready").get("status") != "True"
            assert not (missing.get("status") or {}).get("atProvider")

            # a spec change of an Observe-only MR changes nothing in the cloud
            changed = adopted(namespace, "adopted", REAL_ID, ["Observe"])
            changed["spec"]["forProvider"]["tags"] = {"Name": "ours"}
            await client.apply(VPC, changed)
            await sim.settle()
            await client.delete(VPC, namespace, "adopted")
            await client.delete(VPC, namespace, "unknown")

            async def gone() -> bool:
                return all([await _get(client, VPC, namespace, n) is None for n in ("adopted", "unknown")])

            await eventually(gone, "both MRs deleted")
            assert sim.operations == []
            assert sim.cloud[("ec2/VPC", REAL_ID)] == SEEDED  # still there, unchanged
            assert len(sim.cloud) == 1  # nothing was created for the unknown identifier
    run(scenario())


def test_manage_keeps_the_identity_updates_and_orphans_without_delete(
        control_plane: ControlPlane, crossplane_crds: list[str], namespace: str) -> None:
    manage = ["Observe", "Create", "Update", "LateInitialize"]

    async def scenario() -> None:
        async with running_simulator(control_plane, namespace=namespace, ready_delay=DELAY, estate=ESTATE) as sim:
            client = sim.client
            await client.apply(VPC, adopted(namespace, "managed", REAL_ID, manage))
            await client.apply(VPC, vpc(namespace, "fresh", "10.30.0.0/16"))

            async def ready(name: str) -> dict[str, Any] | None:
                obj = await _get(client, VPC, namespace, name)
                return obj if obj and condition(obj, "Ready").get("status") == "True" else None

            obj = await eventually(lambda: ready("managed"), "the managed VPC Ready")
            await eventually(lambda: ready("fresh"), "the new VPC Ready")
            assert obj["metadata"]["annotations"]["crossplane.io/external-name"] == REAL_ID
            assert obj["status"]["atProvider"]["id"] == REAL_ID
            assert obj["status"]["atProvider"]["arn"] == SEEDED["arn"]
            assert FINALIZER in obj["metadata"]["finalizers"]
            kinds = {(op, name) for op, _, name, _ in sim.operations}
            assert ("update", "managed") in kinds and ("create", "fresh") in kinds
            assert ("create", "managed") not in kinds
            fresh_ext = next(ext for op, _, name, ext in sim.operations if name == "fresh")

            await client.delete(VPC, namespace, "managed")
            await client.delete(VPC, namespace, "fresh")

            async def gone() -> bool:
                return all([await _get(client, VPC, namespace, n) is None for n in ("managed", "fresh")])

            await eventually(gone, "both MRs deleted")
            assert ("ec2/VPC", REAL_ID) in sim.cloud  # no Delete policy: orphaned
            assert ("ec2/VPC", fresh_ext) not in sim.cloud  # full management: deleted
            assert ("delete", "managed") not in {(op, name) for op, _, name, _ in sim.operations}
    run(scenario())
