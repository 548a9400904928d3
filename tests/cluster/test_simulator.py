"""The TEST-ONLY provider simulator (devtools/simulator) against the real API server and the real provider CRDs.

Async code runs through asyncio.run inside plain tests (pytest-asyncio is not a dependency).
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml
from regional_operator.kube import KubeClient, ResourceRef
from regional_operator.render.kinds import KINDS

from devtools.controlplane import ControlPlane, LocalControlPlane, crossplane_crd_dirs, install_crds
from devtools.controlplane.harness import ENV_KUBECONFIG
from devtools.simulator import (
    FIELD_MANAGER,
    FINALIZER,
    LATE_INIT,
    ProviderSimulator,
    Subject,
    at_provider,
    is_fresh,
    make_client,
    resolve_kind,
    running_simulator,
)
from devtools.simulator.provider import _Gone
from tests import crdschema

REPO = Path(__file__).resolve().parents[2]
VPC = ResourceRef("ec2.aws.m.upbound.io/v1beta1", "vpcs")
QUEUE = ResourceRef("sqs.aws.m.upbound.io/v1beta1", "queues")
DELAY = 0.3


def labels(component: str = "network", tier: int = 4) -> dict[str, str]:
    return {"app.kubernetes.io/managed-by": "regional-operator", "platform.regional.io/deployment": "sim-test",
            "platform.regional.io/region": "eu-west-1", "platform.regional.io/component": component,
            "platform.regional.io/deletion-tier": str(tier)}


def vpc(namespace: str, name: str, cidr: str = "10.20.0.0/16") -> dict[str, Any]:
    return {"apiVersion": VPC.api_version, "kind": "VPC",
            "metadata": {"name": name, "namespace": namespace, "labels": labels()},
            "spec": {"forProvider": {"region": "eu-west-1", "cidrBlock": cidr, "tags": {"Name": name}},
                     "providerConfigRef": {"kind": "ClusterProviderConfig", "name": "default"}}}


def queue(namespace: str, name: str) -> dict[str, Any]:
    return {"apiVersion": QUEUE.api_version, "kind": "Queue",
            "metadata": {"name": name, "namespace": namespace, "labels": labels("payments", 2)},
            "spec": {"forProvider": {"region": "eu-west-1", "name": name, "messageRetentionSeconds": 345600},
                     "providerConfigRef": {"kind": "ClusterProviderConfig", "name": "default"}}}


def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond["type"] == kind:
            return dict(cond)
    return {}


async def eventually(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last={last!r}")


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 120))  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------- offline: tables vs CRDs


def _sample(key: str) -> dict[str, Any]:
    kind = KINDS[key]
    for_provider: dict[str, Any] = {"region": "eu-west-1"} if kind.regional else {}
    return {"apiVersion": kind.api_version, "kind": kind.kind,
            "metadata": {"name": f"sample-{kind.kind.lower()}", "namespace": "ns", "labels": labels()},
            "spec": {"forProvider": for_provider}}


def _errors_under(obj: dict[str, Any], prefix: str) -> list[str]:
    """Strict CRD-schema errors (unknown fields refused) whose path starts with ``prefix``."""
    return [e for e in crdschema.validate_mr(obj) if e.split(" ", 1)[1].startswith(prefix)]


@pytest.mark.parametrize("key", sorted(KINDS))
def test_at_provider_fits_the_crd_status_schema(key: str) -> None:
    obj = _sample(key)
    status = at_provider(Subject.of(KINDS[key], obj, "123456789012"))
    assert isinstance(status.get("id"), str) and status["id"], "every kind reports an id"
    obj["status"] = {"atProvider": status, "observedGeneration": 1, "conditions": [
        {"type": "Ready", "status": "True", "reason": "Available", "observedGeneration": 1,
         "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
    assert _errors_under(obj, "status") == []


@pytest.mark.parametrize("key", sorted(LATE_INIT))
def test_late_initialized_fields_fit_the_crd_spec_schema(key: str) -> None:
    obj = _sample(key)
    fill = {field: make(Subject.of(KINDS[key], obj, "123456789012")) for field, make in LATE_INIT[key].items()}
    obj["spec"]["forProvider"].update(fill)
    assert _errors_under(obj, "spec.forProvider") == []


def test_identities_are_deterministic_and_kind_specific() -> None:
    obj = _sample("ec2/VPC")
    first = at_provider(Subject.of(KINDS["ec2/VPC"], obj, "123456789012"))
    assert first == at_provider(Subject.of(KINDS["ec2/VPC"], copy.deepcopy(obj), "123456789012"))
    assert first["id"].startswith("vpc-") and first["arn"] == f"arn:aws:ec2:eu-west-1:123456789012:vpc/{first['id']}"
    lb = _sample("elbv2/LB")
    lb["spec"]["forProvider"]["name"] = "edge-euw1"
    at = at_provider(Subject.of(KINDS["elbv2/LB"], lb, "123456789012"))
    assert at["arnSuffix"].startswith("app/edge-euw1/") and at["arn"].endswith(at["arnSuffix"])
    assert at["dnsName"].startswith("edge-euw1-") and at["dnsName"].endswith(".eu-west-1.elb.amazonaws.com")
    role = at_provider(Subject.of(KINDS["iam/Role"], _sample("iam/Role"), "123456789012"))
    assert role["arn"] == "arn:aws:iam::123456789012:role/sample-role"
    assert resolve_kind("VPC").key == "ec2/VPC"
    with pytest.raises(ValueError, match="ambiguous"):
        resolve_kind("Service")


# --------------------------------------------------------------------------------------------- on the API server

@pytest.fixture
def cp(control_plane: ControlPlane, crossplane_crds: list[str]) -> ControlPlane:
    return control_plane


async def _get(client: KubeClient, ref: ResourceRef, ns: str, name: str) -> dict[str, Any] | None:
    return await client.get(ref, ns, name)


@pytest.mark.cluster
def test_mr_gets_finalizer_then_fresh_status_the_server_stores(cp: ControlPlane, namespace: str) -> None:
    async def scenario() -> None:
        async with running_simulator(cp, namespace=namespace, ready_delay=DELAY) as sim:
            client = sim.client
            began = time.monotonic()
            await client.apply(VPC, vpc(namespace, "net-euw1"))

            async def with_finalizer() -> dict[str, Any] | None:
                obj = await _get(client, VPC, namespace, "net-euw1")
                return obj if obj and FINALIZER in (obj["metadata"].get("finalizers") or []) else None

            early = await eventually(with_finalizer, "finalizer")
            assert not is_fresh(early), "Ready must wait for ready_delay"

            async def fresh() -> dict[str, Any] | None:
                obj = await _get(client, VPC, namespace, "net-euw1")
                return obj if obj and is_fresh(obj) else None

            obj = await eventually(fresh, "Ready/Synced True at the current generation")
            took = time.monotonic() - began
            assert took >= DELAY
            ready, synced = condition(obj, "Ready"), condition(obj, "Synced")
            assert (ready["status"], ready["reason"]) == ("True", "Available")
            assert (synced["status"], synced["reason"]) == ("True", "ReconcileSuccess")
            assert ready["observedGeneration"] == synced["observedGeneration"] == obj["metadata"]["generation"]
            assert ready["lastTransitionTime"].endswith("Z")
            # Stored as written: nothing pruned by the CRD's structural schema.
            expected = at_provider(Subject.of(KINDS["ec2/VPC"], obj, "123456789012"))
            assert obj["status"]["atProvider"] == expected
            vpc_id = expected["id"]
            assert vpc_id.startswith("vpc-")
            assert obj["status"]["atProvider"]["arn"] == f"arn:aws:ec2:eu-west-1:123456789012:vpc/{vpc_id}"
            # Late-initialized like the real provider, by another field manager; external name recorded.
            assert obj["spec"]["forProvider"]["instanceTenancy"] == "default"
            assert obj["metadata"]["annotations"]["crossplane.io/external-name"] == vpc_id
            managers = {m["manager"]: m for m in obj["metadata"]["managedFields"] if not m.get("subresource")}
            assert "f:instanceTenancy" in json.dumps(managers[FIELD_MANAGER]["fieldsV1"])
            assert "f:instanceTenancy" not in json.dumps(managers["regional-operator"]["fieldsV1"])

            # Our server-side apply does not fight the provider: re-applying changes nothing.
            again = await client.apply(VPC, vpc(namespace, "net-euw1"))
            assert again["metadata"]["generation"] == obj["metadata"]["generation"]
            assert again["spec"]["forProvider"]["instanceTenancy"] == "default"
            # A healthy MR costs no further writes.
            writes, rv = sim.stats.status_writes, again["metadata"]["resourceVersion"]
            await asyncio.sleep(3 * DELAY)
            idle = await _get(client, VPC, namespace, "net-euw1")
            assert idle is not None and idle["metadata"]["resourceVersion"] == rv
            assert sim.stats.status_writes == writes
            assert sim.stats.finalizers_added == 1 and sim.stats.errors == 0

    run(scenario())


@pytest.mark.cluster
def test_coalesced_writes_reach_the_same_end_state_in_two_writes(cp: ControlPlane, namespace: str) -> None:
    """The scale benchmark's mode: one main-resource patch (finalizer + external name + late init) and one
    status write per MR, nothing on first sight, and the same stored end state as the four-write life cycle."""
    async def scenario() -> None:
        async with running_simulator(cp, namespace=namespace, ready_delay=DELAY, coalesce_writes=True) as sim:
            client = sim.client
            began = time.monotonic()
            created = await client.apply(VPC, vpc(namespace, "net-coal"))

            async def fresh() -> dict[str, Any] | None:
                obj = await _get(client, VPC, namespace, "net-coal")
                return obj if obj and is_fresh(obj) else None

            obj = await eventually(fresh, "Ready/Synced True at the current generation")
            assert time.monotonic() - began >= DELAY
            assert FINALIZER in obj["metadata"]["finalizers"]
            assert obj["status"]["atProvider"] == at_provider(Subject.of(KINDS["ec2/VPC"], obj, "123456789012"))
            assert obj["spec"]["forProvider"]["instanceTenancy"] == "default"
            assert obj["metadata"]["annotations"]["crossplane.io/external-name"] == obj["status"]["atProvider"]["id"]
            # Two writes by the simulator: one main-resource patch and one status write, nothing on first sight.
            assert int(obj["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
            assert (sim.stats.status_writes, sim.stats.metadata_patches, sim.stats.finalizers_added) == (1, 1, 1)
            assert sim.stats.errors == 0

            await client.delete(VPC, namespace, "net-coal")  # deletion is the ordinary life cycle

            async def gone() -> bool | None:
                return True if await _get(client, VPC, namespace, "net-coal") is None else None

            await eventually(gone, "deleted once the finalizer is released")
            assert sim.stats.finalizers_removed == 1

    run(scenario())


@pytest.mark.cluster
def test_conditions_follow_a_spec_change_to_the_new_generation(cp: ControlPlane, namespace: str) -> None:
    async def scenario() -> None:
        async with running_simulator(cp, namespace=namespace, ready_delay=DELAY) as sim:
            client = sim.client
            await client.apply(QUEUE, queue(namespace, "payments-euw1"))

            async def fresh() -> dict[str, Any] | None:
                obj = await _get(client, QUEUE, namespace, "payments-euw1")
                return obj if obj and is_fresh(obj) else None

            before = await eventually(fresh, "queue fresh")
            assert before["spec"]["forProvider"]["maxMessageSize"] == 262144  # late-initialized
            at = before["status"]["atProvider"]
            assert at["url"] == "https://sqs.eu-west-1.amazonaws.com/123456789012/payments-euw1" == at["id"]
            assert at["arn"] == "arn:aws:sqs:eu-west-1:123456789012:payments-euw1"

            changed = queue(namespace, "payments-euw1")
            changed["spec"]["forProvider"]["messageRetentionSeconds"] = 86400
            applied = await client.apply(QUEUE, changed)
            generation = applied["metadata"]["generation"]
            assert generation == before["metadata"]["generation"] + 1
            stale = condition(applied, "Ready")
            assert stale["status"] == "True" and stale["observedGeneration"] == generation - 1, "not fresh yet"
            after = await eventually(fresh, "conditions at the new generation")
            assert after["metadata"]["generation"] == generation
            assert condition(after, "Synced")["observedGeneration"] == generation

    run(scenario())


@pytest.mark.cluster
def test_fail_heal_stick_unstick(cp: ControlPlane, namespace: str) -> None:
    async def scenario() -> None:
        async with running_simulator(cp, namespace=namespace, ready_delay=DELAY, retry_interval=0.5) as sim:
            client = sim.client
            await client.apply(VPC, vpc(namespace, "flaky"))

            async def cond(kind: str, status: str) -> dict[str, Any] | None:
                obj = await _get(client, VPC, namespace, "flaky")
                c = condition(obj, kind)
                ok = c.get("status") == status and c.get("observedGeneration") == (obj or {}).get(
                    "metadata", {}).get("generation")
                return obj if ok else None

            await eventually(lambda: cond("Synced", "True"), "synced")
            await eventually(lambda: cond("Ready", "True"), "ready")

            sim.fail("VPC", "flaky", "InvalidVpcRange: simulated provider error")
            failed = await eventually(lambda: cond("Synced", "False"), "Synced False")
            synced, ready = condition(failed, "Synced"), condition(failed, "Ready")
            assert synced["reason"] == "ReconcileError"
            assert synced["message"] == "InvalidVpcRange: simulated provider error"
            assert (ready["status"], ready["reason"]) == ("False", "Unavailable")
            assert failed["status"]["atProvider"]["id"].startswith("vpc-"), "observed state is kept"
            # Someone overwriting the status does not clear the fault: the simulator re-asserts it on retry.
            await client.patch_status(VPC, namespace, "flaky", {"conditions": [
                {**synced, "status": "True", "reason": "ReconcileSuccess", "message": ""}]})
            await eventually(lambda: cond("Synced", "False"), "fault re-asserted", timeout=5)

            sim.heal("ec2/VPC", "flaky")
            healed = await eventually(lambda: cond("Synced", "True"), "healed")
            assert condition(healed, "Ready")["status"] == "True"
            assert "message" not in condition(healed, "Synced")

            sim.stick("VPC", "flaky")
            assert await client.delete(VPC, namespace, "flaky")
            deleting = await eventually(lambda: cond("Ready", "False"), "Ready False/Deleting")
            assert condition(deleting, "Ready")["reason"] == "Deleting"
            await asyncio.sleep(4 * DELAY)
            held = await _get(client, VPC, namespace, "flaky")
            assert held is not None and FINALIZER in held["metadata"]["finalizers"], "stuck deletion must hang"
            assert sim.stats.finalizers_removed == 0

            sim.unstick("VPC", "flaky")

            async def gone() -> bool:
                return await _get(client, VPC, namespace, "flaky") is None

            await eventually(gone, "released after unstick")
            assert sim.stats.finalizers_removed == 1

    run(scenario())


@pytest.mark.cluster
def test_deleting_an_mr_removes_it_after_the_delay(cp: ControlPlane, namespace: str) -> None:
    async def scenario() -> None:
        async with running_simulator(cp, namespace=namespace, ready_delay=DELAY) as sim:
            client = sim.client
            await client.apply(VPC, vpc(namespace, "short-lived"))

            async def fresh() -> dict[str, Any] | None:
                obj = await _get(client, VPC, namespace, "short-lived")
                return obj if obj and is_fresh(obj) else None

            await eventually(fresh, "fresh")
            began = time.monotonic()
            assert await client.delete(VPC, namespace, "short-lived")
            present = await _get(client, VPC, namespace, "short-lived")
            assert present is not None and present["metadata"].get("deletionTimestamp"), "the finalizer holds it"

            async def gone() -> bool:
                return await _get(client, VPC, namespace, "short-lived") is None

            await eventually(gone, "MR deleted")
            assert time.monotonic() - began >= DELAY * 0.9
            assert sim.stats.finalizers_removed == 1

    run(scenario())


@pytest.mark.cluster
def test_many_mrs_of_many_kinds_become_fresh(cp: ControlPlane, namespace: str) -> None:
    """Every kind's atProvider is accepted and stored unpruned by the real API server."""
    async def scenario() -> None:
        async with running_simulator(cp, namespace=namespace, ready_delay=0.1) as sim:
            client = sim.client
            objs = []
            for key in sorted(KINDS):
                obj = _sample(key)
                obj["metadata"].update(namespace=namespace, name=f"s-{key.replace('/', '-').lower()}")
                obj["spec"]["providerConfigRef"] = {"kind": "ClusterProviderConfig", "name": "default"}
                objs.append((key, obj))
            # Observe-only, so the CRDs' CEL rules need no kind-specific required parameters (and the simulator
            # must not late-initialize: that policy leaves LateInitialize out).
            created = []
            for key, obj in objs:
                obj["spec"]["managementPolicies"] = ["Observe"]
                ref = ResourceRef(KINDS[key].api_version, KINDS[key].plural)
                await client.apply(ref, obj)
                created.append((key, ref, obj["metadata"]["name"]))

            async def all_fresh() -> bool:
                for key, ref, name in created:
                    obj = await client.get(ref, namespace, name)
                    if not (obj and is_fresh(obj)):
                        return False
                    expected = at_provider(Subject.of(KINDS[key], obj, "123456789012"))
                    assert obj["status"]["atProvider"] == expected, f"{key}: pruned or altered"
                    assert obj["metadata"]["generation"] == 1, f"{key}: late-initialized an Observe-only MR"
                return True

            await eventually(all_fresh, "all fresh", timeout=60)
            await sim.settle()
            assert sim.stats.errors == 0 and sim.stats.late_inits == 0
            assert sim.stats.finalizers_added == len(KINDS)

    run(scenario())


# --------------------------------------------------------------------------------------------- subprocess


@pytest.mark.cluster
def test_subprocess_with_annotation_faults_and_sigterm(cp: ControlPlane, namespace: str) -> None:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "devtools.simulator", "--kubeconfig", str(cp.kubeconfig_path),
            "--namespace", namespace, "--ready-delay", str(DELAY)]
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - read after the process ends
    proc = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "provider-simulator: watching" in line, line + _read(log)
        resource = "vpcs.ec2.aws.m.upbound.io"

        def get() -> dict[str, Any]:
            return dict(cp.kubectl_json("get", resource, "sub", "-n", namespace))

        def wait(what: str, check: Callable[[dict[str, Any]], bool], timeout: float = 20) -> dict[str, Any]:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                proc_obj = cp.kubectl("get", resource, "sub", "-n", namespace, "-o", "json", check=False)
                obj = json.loads(proc_obj.stdout) if proc_obj.returncode == 0 else None
                if check(obj):  # type: ignore[arg-type]
                    return obj or {}
                time.sleep(0.1)
            raise AssertionError(f"timed out waiting for {what}")

        cp.kubectl("apply", "--server-side", "--field-manager=regional-operator", "-f", "-",
                   input=yaml.safe_dump(vpc(namespace, "sub")))
        wait("fresh", lambda o: bool(o) and is_fresh(o))
        cp.kubectl("annotate", resource, "sub", "-n", namespace, "sim.regional.io/fail=Boom: simulated")
        failed = wait("Synced False", lambda o: condition(o, "Synced").get("status") == "False")
        assert condition(failed, "Synced")["message"] == "Boom: simulated"
        assert condition(failed, "Ready")["reason"] == "Unavailable"
        cp.kubectl("annotate", resource, "sub", "-n", namespace, "sim.regional.io/fail-")
        wait("healed", lambda o: bool(o) and is_fresh(o))

        cp.kubectl("annotate", resource, "sub", "-n", namespace, "sim.regional.io/stick=true")
        cp.kubectl("delete", resource, "sub", "-n", namespace, "--wait=false")
        wait("Deleting", lambda o: condition(o, "Ready").get("reason") == "Deleting")
        time.sleep(4 * DELAY)
        assert FINALIZER in get()["metadata"]["finalizers"]
        cp.kubectl("annotate", resource, "sub", "-n", namespace, "sim.regional.io/stick-")
        wait("gone", lambda o: o is None)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    logs = _read(log)
    assert proc.returncode == 0, out + logs
    assert "provider-simulator: stopped" in out and '"finalizers_removed": 1' in out, out + logs
    assert '"errors": 0' in out, out + logs


def _read(log: Any) -> str:
    log.seek(0)
    return str(log.read())


@pytest.mark.cluster
@pytest.mark.slow
def test_watches_resume_after_an_apiserver_restart() -> None:
    """A private control plane (the session one is shared): the simulator keeps serving after an outage."""
    if os.environ.get(ENV_KUBECONFIG):
        pytest.skip("restarting kube-apiserver needs the local control plane, not an external cluster")
    with LocalControlPlane.launch() as plane:
        install_crds(plane, [crossplane_crd_dirs()[0] / "ec2.aws.m.upbound.io_vpcs.yaml"])
        plane.kubectl("create", "namespace", "sim")

        async def scenario() -> None:
            async with running_simulator(plane, ready_delay=0.1, kinds={"ec2/VPC": KINDS["ec2/VPC"]}) as sim:
                client = sim.client

                async def fresh(name: str) -> bool:
                    obj = await _get(client, VPC, "sim", name)
                    return bool(obj and is_fresh(obj))

                await client.apply(VPC, vpc("sim", "before"))
                await eventually(lambda: fresh("before"), "fresh before the restart")
                await asyncio.to_thread(plane.restart_apiserver)
                await client.apply(VPC, vpc("sim", "after"))
                await eventually(lambda: fresh("after"), "fresh after the restart", timeout=30)
                assert await client.delete(VPC, "sim", "before")

                async def gone() -> bool:
                    return await _get(client, VPC, "sim", "before") is None

                await eventually(gone, "deleted after the restart", timeout=30)
                assert sim.stats.watches >= 2, "the watch was resumed"

        run(scenario())


def test_watch_error_410_means_list_again() -> None:
    sim = ProviderSimulator(make_client(kopf.ConnectionInfo(server="https://127.0.0.1:1", token="t")))
    with pytest.raises(_Gone):
        sim._event(KINDS["ec2/VPC"], {"type": "ERROR", "object": {"kind": "Status", "code": 410}}, "7")
    assert sim._event(KINDS["ec2/VPC"], {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}},
                      "7") == "9"


def test_constructor_refuses_a_client_without_room_for_the_watches() -> None:
    info = kopf.ConnectionInfo(server="https://127.0.0.1:1", token="t", scheme="Bearer")
    with pytest.raises(ValueError, match="max_connections"):
        ProviderSimulator(KubeClient(info))


# --------------------------------------------------------------------------------------------- provider semantics

SUBNET = ResourceRef("ec2.aws.m.upbound.io/v1beta1", "subnets")
ALIAS = ResourceRef("kms.aws.m.upbound.io/v1beta1", "aliases")
KEY = ResourceRef("kms.aws.m.upbound.io/v1beta1", "keys")


def subnet(namespace: str, name: str, vpc_name: str) -> dict[str, Any]:
    return {"apiVersion": SUBNET.api_version, "kind": "Subnet",
            "metadata": {"name": name, "namespace": namespace, "labels": labels()},
            "spec": {"forProvider": {"region": "eu-west-1", "cidrBlock": "10.20.0.0/24",
                                     "availabilityZone": "eu-west-1a", "vpcIdRef": {"name": vpc_name}},
                     "providerConfigRef": {"kind": "ClusterProviderConfig", "name": "default"}}}


@pytest.mark.cluster
@pytest.mark.parametrize("coalesce", [False, True])
def test_a_reference_resolves_with_the_providers_extractor_once_its_target_exists(
        cp: ControlPlane, namespace: str, coalesce: bool) -> None:
    """Subnet.vpcIdRef copies the VPC's external name (provider-references-v2.6.0.tsv). Until the VPC exists the
    Subnet is not synced, with the provider's reason; once it does, the VPC id lands in spec.forProvider.vpcId."""
    async def scenario() -> None:
        async with running_simulator(cp, namespace=namespace, ready_delay=0.1, coalesce_writes=coalesce) as sim:
            client = sim.client
            await client.apply(SUBNET, subnet(namespace, "sub-a", "net-late"))
            if not coalesce:
                async def unsynced() -> dict[str, Any] | None:
                    obj = await _get(client, SUBNET, namespace, "sub-a")
                    synced = condition(obj, "Synced")
                    return synced if synced.get("status") == "False" else None

                synced = await eventually(unsynced, "Synced=False while the VPC is missing")
                assert synced["reason"] == "ReconcileError"
                assert synced["message"].startswith("cannot resolve references: ")
                assert 'VPC.ec2.aws.m.upbound.io "net-late" not found' in synced["message"]
            else:
                await asyncio.sleep(0.5)
                obj = await _get(client, SUBNET, namespace, "sub-a")
                assert obj is not None and not is_fresh(obj)
            await client.apply(VPC, vpc(namespace, "net-late"))

            async def fresh() -> dict[str, Any] | None:
                obj = await _get(client, SUBNET, namespace, "sub-a")
                return obj if obj and is_fresh(obj) else None

            obj = await eventually(fresh, "the Subnet Ready once its VPC exists")
            the_vpc = await _get(client, VPC, namespace, "net-late")
            assert the_vpc is not None
            vpc_id = the_vpc["metadata"]["annotations"]["crossplane.io/external-name"]
            assert vpc_id.startswith("vpc-")
            assert obj["spec"]["forProvider"]["vpcId"] == vpc_id
            assert obj["metadata"]["annotations"]["crossplane.io/external-name"].startswith("subnet-")
            managers = {m["manager"]: m for m in obj["metadata"]["managedFields"] if not m.get("subresource")}
            assert "f:vpcId" in json.dumps(managers[FIELD_MANAGER]["fieldsV1"])
            assert sim.stats.references_resolved >= 1

    run(scenario())


@pytest.mark.cluster
def test_external_names_are_written_as_the_provider_keeps_them(cp: ControlPlane, namespace: str) -> None:
    """A queue's external name becomes its URL; an alias pinned with `alias/` is stored without it; a queue
    whose external name was pinned to its name fails Observe with the provider's error."""
    async def scenario() -> None:
        async with running_simulator(cp, namespace=namespace, ready_delay=0.1) as sim:
            client = sim.client
            await client.apply(QUEUE, queue(namespace, "jobs-euw1"))
            pinned = queue(namespace, "pinned-euw1")
            pinned["metadata"]["annotations"] = {"crossplane.io/external-name": "pinned-euw1"}
            await client.apply(QUEUE, pinned)
            key = {"apiVersion": KEY.api_version, "kind": "Key",
                   "metadata": {"name": "kms-euw1", "namespace": namespace, "labels": labels("keys", 5)},
                   "spec": {"forProvider": {"region": "eu-west-1"},
                            "providerConfigRef": {"kind": "ClusterProviderConfig", "name": "default"}}}
            await client.apply(KEY, key)
            alias = {"apiVersion": ALIAS.api_version, "kind": "Alias",
                     "metadata": {"name": "kms-euw1", "namespace": namespace, "labels": labels("keys", 4),
                                  "annotations": {"crossplane.io/external-name": "alias/payments-euw1"}},
                     "spec": {"forProvider": {"region": "eu-west-1", "targetKeyIdRef": {"name": "kms-euw1"}},
                              "providerConfigRef": {"kind": "ClusterProviderConfig", "name": "default"}}}
            await client.apply(ALIAS, alias)

            async def fresh(ref: ResourceRef, name: str) -> dict[str, Any] | None:
                obj = await _get(client, ref, namespace, name)
                return obj if obj and is_fresh(obj) else None

            q = await eventually(lambda: fresh(QUEUE, "jobs-euw1"), "queue Ready")
            url = "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs-euw1"
            assert q["metadata"]["annotations"]["crossplane.io/external-name"] == url
            assert q["status"]["atProvider"]["url"] == url
            a = await eventually(lambda: fresh(ALIAS, "kms-euw1"), "alias Ready")
            assert a["metadata"]["annotations"]["crossplane.io/external-name"] == "payments-euw1"
            assert a["status"]["atProvider"]["id"] == "alias/payments-euw1"
            k = await _get(client, KEY, namespace, "kms-euw1")
            assert k is not None
            assert a["spec"]["forProvider"]["targetKeyId"] == k["metadata"]["annotations"][
                "crossplane.io/external-name"]  # the key id, as the provider's resolver copies it

            async def failing() -> dict[str, Any] | None:
                obj = await _get(client, QUEUE, namespace, "pinned-euw1")
                synced = condition(obj, "Synced")
                return synced if synced.get("status") == "False" else None

            synced = await eventually(failing, "the pinned queue fails Observe")
            assert synced["reason"] == "ReconcileError"
            assert "SQS Queue URL (pinned-euw1) is in the incorrect format" in synced["message"]

    run(scenario())
