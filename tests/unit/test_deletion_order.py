"""Deletion in dependency order, without a cluster: each step asks only the lowest remaining tier to go, and the
next tier is asked only once that one is gone; Retain MRs are reported as orphaning their cloud resources."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml
from regional_operator.defaults import load_defaults
from regional_operator.reconcile.loop import Deployments, Event
from regional_operator.reconcile.reconciler import Operator
from regional_operator.reconcile.tiers import tier_of
from regional_operator.render import render
from regional_operator.watch.mrwatch import MRIndex

from .test_loop import FakeClient

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "two-region.yaml"


def owned_mrs(lifecycle: str = "Delete") -> list[dict[str, Any]]:
    cr = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    cr["spec"]["lifecycle"] = lifecycle
    return [dict(mr) for mr in render(cr, load_defaults()).resources]


def deployments(client: FakeClient, live: list[dict[str, Any]], events: list[Event]) -> Deployments:
    operator = Operator(client=client, defaults=None, artifact=None,  # type: ignore[arg-type]
                        controlled_elsewhere=MRIndex().controlled_elsewhere)
    synced = asyncio.Event()
    synced.set()
    return Deployments(operator, lambda ns, n, uid: list(live), synced, lambda _b, e: events.append(e))


def cr() -> dict[str, Any]:
    return {"metadata": {"namespace": "payments", "name": "payments", "generation": 3}, "status": {}}


def test_each_tier_is_asked_to_go_only_once_the_tier_below_is_gone() -> None:
    async def scenario() -> None:
        live = owned_mrs()
        tiers = sorted({tier_of(mr) for mr in live})
        assert len(tiers) >= 4, tiers
        client, events = FakeClient(), []
        d = deployments(client, live, events)
        for tier in tiers:
            progress = await d.delete_step(cr(), ("payments", "payments"))
            expected = sorted(mr["metadata"]["name"] for mr in live if tier_of(mr) == tier)
            assert (progress.done, progress.tier) == (False, tier)
            assert sorted(name for _plural, name in client.deleted) == expected
            # asked again while the provider is still deleting: nothing new is requested
            for mr in live:
                if tier_of(mr) == tier:
                    mr["metadata"]["deletionTimestamp"] = "2026-11-25T00:00:00Z"
            client.deleted.clear()
            again = await d.delete_step(cr(), ("payments", "payments"))
            assert client.deleted == [] and again.tier == tier and again.requested == []
            assert f"deleting tier {tier}: waiting for" in client.status_patches[-1]["conditions"][0]["message"]
            live[:] = [mr for mr in live if tier_of(mr) != tier]  # the provider finished this tier
        done = await d.delete_step(cr(), ("payments", "payments"))
        assert done.done and events[-1] == Event("Normal", "Deleted", "every managed resource is gone")
        assert [e.reason for e in events[:-1]] == ["Deleting"] * len(tiers)

    asyncio.run(scenario())


def test_retained_mrs_are_deleted_from_kubernetes_and_reported_as_orphaned() -> None:
    async def scenario() -> None:
        live = owned_mrs("Retain")
        retained = {mr["metadata"]["name"] for mr in live if "*" not in mr["spec"]["managementPolicies"]}
        assert retained, "stateful kinds keep their cloud resources under Retain"
        client, events = FakeClient(), []
        d = deployments(client, live, events)
        orphaned: set[str] = set()
        while live:
            progress = await d.delete_step(cr(), ("payments", "payments"))
            orphaned |= {label.split("/", 1)[1] for label in progress.orphaned}
            live[:] = [mr for mr in live if tier_of(mr) != progress.tier]
        assert orphaned == retained
        assert any(e.reason == "Orphaned" for e in events)

    asyncio.run(scenario())
