"""Issue 12 at admission, on a real API server: edits of a stored RegionalDeployment that AWS cannot make in place
are refused by the CRD's transition rules (CEL with oldSelf) with the field named, and the stored object is left
exactly as it was; the edits the failover procedure and region-list changes need are admitted.

Each case stores the two-region example (server-side apply, one field manager), applies the edit, and compares
the stored object's resourceVersion and spec before and after.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devtools.controlplane import ControlPlane
from devtools.controlplane.namespaces import ephemeral_namespace
from tests.cluster.test_crd_admission import CEL_FAILURES, TWO_REGION, dry_run
from tests.unit.render.conftest import certificate_of
from tests.unit.test_crd_schema import example

pytestmark = pytest.mark.cluster

CRD_NAME = "regionaldeployments.platform.regional.io"
FAILOVER = {"fromRegion": "us-east-1", "toRegion": "us-east-2"}
Edit = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def ns(control_plane: ControlPlane, project_crds: list[str]) -> Iterator[str]:
    assert CRD_NAME in project_crds
    with ephemeral_namespace(control_plane, "rd-transitions") as name:
        yield name


def _apply(cp: ControlPlane, obj: dict[str, Any], ns: str) -> tuple[bool, str]:
    body = copy.deepcopy(obj)
    body["metadata"]["namespace"] = ns
    proc = cp.kubectl("apply", "--server-side", "--field-manager=transitions-test", "-f", "-",
                      input=json.dumps(body), check=False)
    return proc.returncode == 0, proc.stderr


def _stored(cp: ControlPlane, name: str, ns: str) -> dict[str, Any]:
    return dict(cp.kubectl_json("get", "rd", name, "-n", ns))


def _region(cr: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in cr["spec"]["regions"] if r["name"] == name)


def new_region(name: str, vpc_cidr: str) -> dict[str, Any]:
    """A region entry as a user adds it to a production estate: with its own region's certificate."""
    return {"name": name, "vpcCidr": vpc_cidr, "certificateArn": certificate_of(name)}


def three_regions() -> dict[str, Any]:
    cr = example(TWO_REGION)
    cr["spec"]["regions"].append(new_region("us-west-2", "10.30.0.0/16"))
    return cr


class Stored:
    """One stored RegionalDeployment per test, edited step by step."""

    def __init__(self, cp: ControlPlane, ns: str, cr: dict[str, Any]) -> None:
        self.cp, self.ns = cp, ns
        self.cr = copy.deepcopy(cr)
        self.cr["metadata"]["name"] = f"t-{secrets.token_hex(4)}"
        ok, error = _apply(cp, self.cr, ns)
        assert ok, error

    @property
    def name(self) -> str:
        return str(self.cr["metadata"]["name"])

    def edit(self, change: Edit) -> tuple[bool, str]:
        wanted = copy.deepcopy(self.cr)
        change(wanted)
        ok, error = _apply(self.cp, wanted, self.ns)
        if ok:
            self.cr = wanted
        return ok, error

    def refused(self, change: Edit, field: str, words: str) -> None:
        """The edit is refused naming `field` and saying `words`, and the stored object did not change."""
        before = _stored(self.cp, self.name, self.ns)
        ok, error = self.edit(change)
        after = _stored(self.cp, self.name, self.ns)
        assert not ok, f"admitted: {change}"
        assert field in error, f"{field!r} not in: {error}"
        assert words.lower() in error.lower(), f"{words!r} not in: {error}"
        assert not any(word in error for word in CEL_FAILURES), error
        assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
        assert after["spec"] == before["spec"]

    def admitted(self, change: Edit) -> dict[str, Any]:
        ok, error = self.edit(change)
        assert ok, error
        return _stored(self.cp, self.name, self.ns)

    def delete(self) -> None:
        self.cp.kubectl("delete", "rd", self.name, "-n", self.ns, "--wait=false", "--ignore-not-found")


@pytest.fixture
def stored(control_plane: ControlPlane, ns: str) -> Iterator[Callable[[dict[str, Any]], Stored]]:
    made: list[Stored] = []

    def factory(cr: dict[str, Any]) -> Stored:
        made.append(Stored(control_plane, ns, cr))
        return made[-1]

    yield factory
    for s in made:
        s.delete()


def _set(path: list[Any], value: Any) -> Edit:
    def change(cr: dict[str, Any]) -> None:
        node: Any = cr
        for step in path[:-1]:
            node = _region(cr, step[1:]) if isinstance(step, str) and step.startswith("@") else node.setdefault(
                step, {})
        node[path[-1]] = value
    return change


@pytest.mark.parametrize(("path", "value", "field", "words"), [
    (["spec", "@us-east-2", "vpcCidr"], "10.21.0.0/16", "spec.regions[1].vpcCidr", "vpcCidr is immutable"),
    (["spec", "@us-east-1", "availabilityZones"], ["us-east-1b", "us-east-1a", "us-east-1c"],
     "spec.regions[0].availabilityZones", "availabilityZones is immutable"),
    (["spec", "@us-east-1", "availabilityZones"], ["us-east-1a", "us-east-1b", "us-east-1d"],
     "spec.regions[0].availabilityZones", "availabilityZones is immutable"),
    (["spec", "awsAccountId"], "210987654321", "spec.awsAccountId", "awsAccountId is immutable"),
    (["spec", "service", "containerPort"], 9090, "spec.service.containerPort", "containerPort is immutable"),
    (["spec", "database", "crossRegionReplica"], False, "spec.database.crossRegionReplica",
     "crossRegionReplica is immutable"),
    (["spec", "@us-east-1", "database", "allocatedStorageGiB"], 100,
     "spec.regions[0].database.allocatedStorageGiB", "cannot decrease"),
    (["spec", "@us-east-1", "database", "allocatedStorageGiB"], 210,
     "spec.regions[0].database.allocatedStorageGiB", "at least 10%"),
    (["spec", "environmentSuffix"], "prod2", "spec.environmentSuffix", "environmentSuffix is immutable"),
])
def test_an_edit_aws_cannot_make_in_place_is_refused(stored: Callable[[dict[str, Any]], Stored], path: list[Any],
                                                      value: Any, field: str, words: str) -> None:
    cr = example(TWO_REGION)
    _region(cr, "us-east-1")["availabilityZones"] = ["us-east-1a", "us-east-1b", "us-east-1c"]
    rd = stored(cr)
    rd.refused(_set(path, value), field, words)


def test_storage_may_grow_and_thresholds_change(stored: Callable[[dict[str, Any]], Stored]) -> None:
    rd = stored(example(TWO_REGION))
    after = rd.admitted(_set(["spec", "@us-east-1", "database", "allocatedStorageGiB"], 400))
    assert _region(after, "us-east-1")["database"]["allocatedStorageGiB"] == 400
    rd.admitted(_set(["spec", "@us-east-2", "alarmThresholds"], {"rdsCpuPercent": 42}))


def test_the_primary_does_not_move_without_a_failover(stored: Callable[[dict[str, Any]], Stored]) -> None:
    rd = stored(example(TWO_REGION))

    def swap(cr: dict[str, Any]) -> None:
        for r in cr["spec"]["regions"]:
            r["primary"] = r["name"] == "us-east-2"

    rd.refused(swap, "spec.regions", "fail over first")

    def drop_primary(cr: dict[str, Any]) -> None:
        cr["spec"]["regions"] = [{**r, "primary": True} for r in cr["spec"]["regions"] if r["name"] != "us-east-1"]
        cr["spec"]["regions"].append(new_region("us-west-2", "10.30.0.0/16"))

    rd.refused(drop_primary, "spec.regions", "cannot change (or be removed)")

    def both_at_once(cr: dict[str, Any]) -> None:
        swap(cr)
        cr["spec"]["failover"] = dict(FAILOVER)

    rd.refused(both_at_once, "spec.regions", "fail over first")


def test_a_failover_must_start_from_the_primary_to_an_existing_secondary(
        stored: Callable[[dict[str, Any]], Stored]) -> None:
    rd = stored(three_regions())
    rd.refused(_set(["spec", "failover"], {"fromRegion": "us-east-2", "toRegion": "us-west-2"}), "spec.failover",
               "fromRegion must be the current primary")
    rd.refused(_set(["spec", "failover"], {"fromRegion": "us-east-1", "toRegion": "us-east-1"}), "spec.failover",
               "two different regions")
    rd.refused(_set(["spec", "failover"], {"fromRegion": "us-east-1", "toRegion": "eu-west-1"}), "spec.failover",
               "two different regions")

    def with_new_region(cr: dict[str, Any]) -> None:  # a region added in the same edit has no replica to promote
        cr["spec"]["regions"].append(new_region("eu-west-1", "10.40.0.0/16"))
        cr["spec"]["failover"] = {"fromRegion": "us-east-1", "toRegion": "eu-west-1"}

    rd.refused(with_new_region, "spec.failover", "already exists")


def test_a_failover_without_replicas_is_refused(stored: Callable[[dict[str, Any]], Stored]) -> None:
    cr = example(TWO_REGION)
    cr["spec"]["database"]["crossRegionReplica"] = False
    rd = stored(cr)
    rd.refused(_set(["spec", "failover"], dict(FAILOVER)), "spec.failover", "crossRegionReplica: true")


def test_the_failover_procedure_is_admitted_step_by_step_and_then_fixed(
        stored: Callable[[dict[str, Any]], Stored]) -> None:
    rd = stored(three_regions())
    step1 = rd.admitted(_set(["spec", "failover"], dict(FAILOVER)))
    assert step1["spec"]["failover"] == FAILOVER

    def move_primary(to: str) -> Edit:
        def change(cr: dict[str, Any]) -> None:
            for r in cr["spec"]["regions"]:
                r["primary"] = r["name"] == to
        return change

    rd.refused(move_primary("us-west-2"), "spec.regions", "fail over first")  # only to failover.toRegion
    step2 = rd.admitted(move_primary("us-east-2"))
    assert [r["name"] for r in step2["spec"]["regions"] if r["primary"]] == ["us-east-2"]
    rd.refused(move_primary("us-east-1"), "spec.regions", "fail over first")  # no way back by a flag flip
    rd.refused(lambda cr: cr["spec"].pop("failover"), "spec.failover", "cannot be removed")
    rd.refused(_set(["spec", "failover", "toRegion"], "us-west-2"), "spec.failover.toRegion", "immutable")

    def drop_hub(cr: dict[str, Any]) -> None:
        cr["spec"]["regions"] = [r for r in cr["spec"]["regions"] if r["name"] != "us-east-1"]

    rd.refused(drop_hub, "spec.failover", "stays in the list")


def test_regions_may_be_removed_and_added_back(stored: Callable[[dict[str, Any]], Stored]) -> None:
    rd = stored(three_regions())
    removed = rd.admitted(lambda cr: cr["spec"].update(regions=[r for r in cr["spec"]["regions"]
                                                                if r["name"] != "us-east-2"]))
    assert [r["name"] for r in removed["spec"]["regions"]] == ["us-east-1", "us-west-2"]
    back = rd.admitted(lambda cr: cr["spec"]["regions"].insert(1, new_region("us-east-2", "10.22.0.0/16")))
    assert {r["name"] for r in back["spec"]["regions"]} == {"us-east-1", "us-east-2", "us-west-2"}


def test_a_region_aws_does_not_have_is_refused_unless_vouched_for(control_plane: ControlPlane, ns: str) -> None:
    cr = example(TWO_REGION)
    cr["metadata"]["name"] = f"t-{secrets.token_hex(4)}"
    typo = new_region("us-east-7", "10.30.0.0/16")
    cr["spec"]["regions"].append(typo)
    stored_obj, error = dry_run(control_plane, cr, ns)
    assert stored_obj is None and "spec.regions[2].name" in error and "allowUnlistedRegion" in error, error
    typo["allowUnlistedRegion"] = True
    stored_obj, error = dry_run(control_plane, cr, ns)
    assert stored_obj is not None, error
    assert [r["allowUnlistedRegion"] for r in stored_obj["spec"]["regions"]] == [False, False, True]


def _lifecycle(value: str) -> Edit:
    return _set(["spec", "lifecycle"], value)


def test_production_retain_cannot_become_delete(stored: Callable[[dict[str, Any]], Stored]) -> None:
    """Issue 13: Retain -> Delete, then a delete, would remove a production estate's databases without a final
    snapshot. Refused, also by way of leaving the production environment first; the deliberate way is documented
    in the message."""
    retained = example(TWO_REGION)
    retained["spec"]["lifecycle"] = "Retain"
    rd = stored(retained)
    rd.refused(_lifecycle("Delete"), "spec.lifecycle", "delete the RegionalDeployment with lifecycle Retain")
    rd.refused(_set(["spec", "environment"], "staging"), "spec.environment", "cannot leave prod or production")

    def both(cr: dict[str, Any]) -> None:
        cr["spec"].update(environment="staging", lifecycle="Delete")

    rd.refused(both, "spec.lifecycle", "cannot go from Retain to Delete")
    after = rd.admitted(_set(["spec", "environment"], "production"))  # one production name to the other is fine
    assert after["spec"]["lifecycle"] == "Retain"


def test_outside_production_and_towards_retain_the_lifecycle_may_change(
        stored: Callable[[dict[str, Any]], Stored]) -> None:
    rd = stored(example(TWO_REGION))  # prod, Delete
    assert rd.admitted(_lifecycle("Retain"))["spec"]["lifecycle"] == "Retain"
    staging = example(TWO_REGION)
    staging["spec"].update(environment="staging", lifecycle="Retain")
    rd2 = stored(staging)
    assert rd2.admitted(_lifecycle("Delete"))["spec"]["lifecycle"] == "Delete"
