"""spec.regions[].adopt on a real API server: a well-formed adoption is admitted with its defaults (Observe,
Orphan); identifiers cannot change on a live object and a component can be neither adopted into nor released from
a region that exists (each refused naming the field, the stored object unchanged); promotion to Manage and the
deletion choice are ordinary edits. Malformed and mismatched identifiers: tests/data/invalid/adopt-*.yaml, run
by test_crd_admission."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devtools.controlplane import ControlPlane
from devtools.controlplane.namespaces import ephemeral_namespace
from tests.cluster.test_crd_admission import CRD_NAME, TWO_REGION, dry_run
from tests.cluster.test_crd_transitions import Stored, _region, stored  # noqa: F401 - the stored-object fixture
from tests.unit.render.test_adoption import adopt_all
from tests.unit.render.test_adoption_services import QUEUE_URL, adopt_services
from tests.unit.test_crd_schema import example

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def ns(control_plane: ControlPlane, project_crds: list[str]) -> Iterator[str]:
    assert CRD_NAME in project_crds
    with ephemeral_namespace(control_plane, "rd-adopt") as name:
        yield name


def adopted_example() -> dict[str, Any]:
    cr = example(TWO_REGION)
    _region(cr, "us-east-1")["adopt"] = adopt_all() | adopt_services()
    return cr


def test_adoption_is_admitted_with_observe_and_orphan_defaults(control_plane: ControlPlane, ns: str) -> None:
    obj, error = dry_run(control_plane, adopted_example(), ns)
    assert obj is not None, error
    adopt = _region(obj, "us-east-1")["adopt"]
    assert adopt["deletion"] == "Orphan"
    assert {adopt[c]["mode"] for c in ("vpc", "kmsKey", "database", "uploadsBucket", "sessionsTable",
                                        "ledgerTable", "queues", "paymentsFunction", "loadBalancer", "ecs",
                                        "alarmTopic", "parameters")} == {"Observe"}


def _edit(region: str, change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def edit(cr: dict[str, Any]) -> None:
        change(_region(cr, region))
    return edit


@pytest.mark.parametrize(("change", "field", "words"), [
    (lambda r: r["adopt"]["vpc"].__setitem__("id", "vpc-0ffffffffffffffff"), "spec.regions[0].adopt.vpc.id",
     "adopt.vpc.id is immutable"),
    (lambda r: r["adopt"]["vpc"]["privateSubnetIds"].__setitem__(0, "subnet-0fffffffffffffff1"),
     "spec.regions[0].adopt.vpc.privateSubnetIds", "adopt.vpc.privateSubnetIds is immutable"),
    (lambda r: r["adopt"]["database"].__setitem__("resourceId", "db-ZZZZZZZZZZZZZZZZZZZZZZZZZZ"),
     "spec.regions[0].adopt.database.resourceId", "is immutable"),
    (lambda r: r["adopt"]["uploadsBucket"].__setitem__("name", "another-bucket"),
     "spec.regions[0].adopt.uploadsBucket.name", "is immutable"),
    (lambda r: r["adopt"].pop("kmsKey"), "spec.regions[0].adopt.kmsKey", "can be set only when the region is added"),
    (lambda r: r["adopt"]["queues"].__setitem__("queueUrl", QUEUE_URL + "-2"),
     "spec.regions[0].adopt.queues.queueUrl", "is immutable"),
    (lambda r: r["adopt"]["loadBalancer"].__setitem__("arn", r["adopt"]["loadBalancer"]["arn"][:-1] + "0"),
     "spec.regions[0].adopt.loadBalancer.arn", "is immutable"),
    (lambda r: r["adopt"].pop("paymentsFunction"), "spec.regions[0].adopt.paymentsFunction",
     "can be set only when the region is added"),
])
def test_changing_an_adopted_identifier_on_a_live_object_is_refused(
        stored: Callable[[dict[str, Any]], Stored], change: Callable[[dict[str, Any]], None],  # noqa: F811
        field: str, words: str) -> None:
    live = stored(adopted_example())
    live.refused(_edit("us-east-1", change), field, words)


def test_adopting_into_an_existing_region_is_refused(stored: Callable[[dict[str, Any]], Stored]) -> None:  # noqa: F811
    live = stored(adopted_example())
    live.refused(_edit("us-east-2", lambda r: r.__setitem__("adopt", {"uploadsBucket": {"name": "other-bucket"}})),
                 "spec.regions[1].adopt.uploadsBucket", "can be set only when the region is added")


def test_promotion_and_deletion_choice_are_ordinary_edits(stored: Callable[[dict[str, Any]], Stored]) -> None:  # noqa: F811
    live = stored(adopted_example())

    def promote(r: dict[str, Any]) -> None:
        r["adopt"]["vpc"]["mode"] = "Manage"
        r["adopt"]["deletion"] = "Delete"
    after = live.admitted(_edit("us-east-1", promote))
    adopt = _region(after, "us-east-1")["adopt"]
    assert (adopt["vpc"]["mode"], adopt["deletion"], adopt["database"]["mode"]) == ("Manage", "Delete", "Observe")


def test_a_new_region_may_come_with_its_own_adoption(stored: Callable[[dict[str, Any]], Stored]) -> None:  # noqa: F811
    live = stored(adopted_example())

    def add(cr: dict[str, Any]) -> None:
        region = copy.deepcopy(_region(cr, "us-east-2"))
        region.update(name="us-west-2", vpcCidr="10.30.0.0/16",
                      certificateArn=region["certificateArn"].replace("us-east-2", "us-west-2"),
                      adopt={"uploadsBucket": {"name": "acme-uploads-west"}})
        cr["spec"]["regions"].append(region)
    after = live.admitted(add)
    assert _region(after, "us-west-2")["adopt"]["uploadsBucket"]["mode"] == "Observe"
