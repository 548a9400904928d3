"""The per-deployment loop without kopf or a cluster: when passes run (wake-ups, debounce, backoff), how many at
once, that deletion stops the loop, and which events a pass posts."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from regional_operator.reconcile.apply import ApplyReport
from regional_operator.reconcile.loop import (
    Deployments,
    Event,
    LoopSettings,
    announce,
    backoff_delay,
    debounce_pause,
)
from regional_operator.reconcile.reconciler import Operator, Outcome
from regional_operator.reconcile.status import Assessment
from regional_operator.watch.mrwatch import MRIndex

KEY = ("ns", "payments")


class FakeClient:
    errors = 0

    def __init__(self) -> None:
        self.deleted: list[tuple[str, str]] = []
        self.status_patches: list[dict[str, Any]] = []

    async def delete(self, ref: Any, namespace: str, name: str) -> None:
        self.deleted.append((ref.plural, name))

    async def patch_status(self, ref: Any, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.status_patches.append(status)


class Flag:
    def __init__(self) -> None:
        self.value = False

    def __bool__(self) -> bool:
        return self.value


def body(**metadata: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": KEY[0], "name": KEY[1], "generation": 1, **metadata}, "status": {}}


class Harness:
    """Deployments with a scripted pass: records when passes run and what was posted."""

    def __init__(self, settings: LoopSettings, outcomes: list[Outcome | Exception] | None = None,
                 pass_seconds: float = 0.0) -> None:
        self.client = FakeClient()
        self.events: list[Event] = []
        self.calls: list[str] = []
        self.outcomes = outcomes or []
        self.pass_seconds = pass_seconds
        self.running = self.most_running = 0
        self.owned: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.owned_asked: list[tuple[str, str, str | None]] = []
        operator = Operator(client=self.client, defaults=None, artifact=None,  # type: ignore[arg-type]
                            controlled_elsewhere=MRIndex().controlled_elsewhere)
        self.deployments = Deployments(operator, self._owned, asyncio.Event(),
                                       lambda _body, event: self.events.append(event), settings,
                                       reconcile_pass=self._pass, jitter=lambda: 0.0)

    def _owned(self, ns: str, name: str, uid: str | None) -> list[dict[str, Any]]:
        self.owned_asked.append((ns, name, uid))
        return self.owned.get((ns, name), [])

    async def _pass(self, cr: Mapping[str, Any], owned: Sequence[dict[str, Any]]) -> Outcome:
        self.calls.append(cr["metadata"]["name"])
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await asyncio.sleep(self.pass_seconds)
            result = self.outcomes.pop(0) if self.outcomes else Outcome(ready=True)
            if isinstance(result, Exception):
                raise result
            return result
        finally:
            self.running -= 1


async def settle(seconds: float = 0.05) -> None:
    await asyncio.sleep(seconds)


def test_a_pass_waits_for_the_index_then_runs_on_wake_ups_with_a_burst_coalesced() -> None:
    async def scenario() -> None:
        h = Harness(LoopSettings(resync_seconds=30, debounce_seconds=0.1))
        stopped = Flag()
        task = asyncio.create_task(h.deployments.run(body(), KEY, stopped))
        await settle()
        assert h.calls == [], "no pass from a half-listed index"
        h.deployments.synced.set()
        await settle()
        assert h.calls == ["payments"]
        for _ in range(20):  # a burst of MR events, delivered before the loop wakes
            h.deployments.wakeups.wake(KEY)
        await settle(0.25)
        assert h.calls == ["payments", "payments"], "one pass per burst"
        stopped.value = True
        h.deployments.wakeups.wake(KEY)
        await asyncio.wait_for(task, 1)
        assert h.calls == ["payments", "payments"]

    asyncio.run(scenario())


def test_without_wake_ups_the_next_pass_is_the_resync_or_a_held_back_status_write() -> None:
    async def scenario() -> None:
        h = Harness(LoopSettings(resync_seconds=0.1, debounce_seconds=0),
                    outcomes=[Outcome(ready=False, status_deferred=0.02), Outcome(ready=False)])
        h.deployments.synced.set()
        stopped = Flag()
        task = asyncio.create_task(h.deployments.run(body(), KEY, stopped))
        await settle(0.06)
        assert len(h.calls) == 2, "the deferred status write is due after 0.02 s"
        await settle(0.06)
        assert len(h.calls) == 2, "then the resync interval"
        await settle(0.1)
        assert len(h.calls) == 3
        stopped.value = True
        h.deployments.wakeups.wake(KEY)
        await asyncio.wait_for(task, 1)

    asyncio.run(scenario())


def test_a_failed_pass_posts_a_warning_and_retries_with_backoff() -> None:
    async def scenario() -> None:
        h = Harness(LoopSettings(resync_seconds=30, debounce_seconds=0, max_backoff_seconds=0.04),
                    outcomes=[RuntimeError("api down"), Outcome(ready=True)])
        h.deployments.synced.set()
        stopped = Flag()
        task = asyncio.create_task(h.deployments.run(body(), KEY, stopped))
        await settle(0.01)
        assert h.events == [Event("Warning", "ReconcileError", "RuntimeError: api down")]
        assert len(h.calls) == 1
        await settle(0.1)  # min(0.04, 2) * 0.5 = 0.02 s later
        assert len(h.calls) == 2
        assert h.events[1:] == [Event("Normal", "Ready", "all 0 managed resources ready")]
        assert h.deployments.ready[KEY] is True
        stopped.value = True
        h.deployments.wakeups.wake(KEY)
        await asyncio.wait_for(task, 1)

    asyncio.run(scenario())


def test_backoff_doubles_up_to_the_cap_and_jitter_halves_at_most() -> None:
    assert [backoff_delay(n, 0.0, 60) for n in (1, 2, 3, 5, 6, 9)] == [1.0, 2.0, 4.0, 16.0, 30.0, 30.0]
    assert backoff_delay(3, 0.999, 60) < 8.0 and backoff_delay(10, 0.999, 60) < 60.0


def test_a_deleting_deployment_gets_no_pass() -> None:
    async def scenario() -> None:
        h = Harness(LoopSettings())
        h.deployments.synced.set()
        await asyncio.wait_for(h.deployments.run(body(deletionTimestamp="2026-11-25T00:00:00Z"), KEY, Flag()), 1)
        assert h.calls == []

    asyncio.run(scenario())


def test_no_more_passes_at_once_than_reconcile_slots() -> None:
    async def scenario() -> None:
        h = Harness(LoopSettings(resync_seconds=30, max_concurrent_reconciles=2), pass_seconds=0.05)
        h.deployments.synced.set()
        stopped = Flag()
        keys = [("ns", f"d{i}") for i in range(5)]
        tasks = [asyncio.create_task(h.deployments.run(body(name=k[1]), k, stopped)) for k in keys]
        await settle(0.3)
        assert sorted(h.calls) == [k[1] for k in keys]
        assert h.most_running == 2
        stopped.value = True
        h.deployments.wakeups.wake_all()
        await asyncio.wait_for(asyncio.gather(*tasks), 1)

    asyncio.run(scenario())


def outcome(ready: bool, *, applied: int = 0, errors: dict[tuple[str, str], str] | None = None,
            pruned: list[tuple[str, str]] | None = None, stalled: str | None = None,
            status_written: bool = False) -> Outcome:
    report = ApplyReport(applied=[("VPC", f"v{i}") for i in range(applied)], errors=errors or {},
                         pruned=pruned or [])
    return Outcome(ready=ready, stalled=stalled, report=report, assessment=Assessment(total=7),
                   status_written=status_written)


def test_events_are_posted_on_phase_changes_only() -> None:
    assert announce(outcome(False, applied=3), None) == [Event("Normal", "Applying", "applied 3 managed resources")]
    assert announce(outcome(False, applied=3), False) == []
    assert announce(outcome(False), None) == []
    assert announce(outcome(True), False) == [Event("Normal", "Ready", "all 7 managed resources ready")]
    assert announce(outcome(True), True) == []
    assert announce(outcome(False), True) == [
        Event("Warning", "Degraded", "a managed resource is no longer ready; see status.conditions")]


def test_errors_and_prunes_are_announced_with_the_mrs_named() -> None:
    got = announce(outcome(False, errors={("Bucket", "b"): "denied"}, pruned=[("Route", f"r{i}") for i in range(12)]),
                   False)
    assert got[0] == Event("Warning", "ApplyFailed", "Bucket/b: denied")
    assert got[1].reason == "Pruned" and got[1].message.endswith("Route/r9") and "Route/r10" not in got[1].message
    assert len(got) == 2


def test_an_invalid_spec_is_announced_once_until_it_changes() -> None:
    stalled = "spec.regions: exactly one region must be primary (found 2)"
    assert announce(outcome(False, stalled=stalled), None) == [Event("Warning", "InvalidSpec", stalled)]
    assert announce(outcome(False, stalled=stalled), False) == []
    assert announce(outcome(False, stalled=stalled, status_written=True), False) == [
        Event("Warning", "InvalidSpec", stalled)]


def test_a_pass_and_a_deletion_ask_for_the_mrs_of_the_crs_current_uid() -> None:
    """Issue 13: the loop hands the index the CR's UID, so an MR of a deleted namesake (a stale UID) or one
    controlled by anything else never reaches a pass or a deletion."""
    async def scenario() -> None:
        h = Harness(LoopSettings(resync_seconds=30, debounce_seconds=0))
        h.deployments.synced.set()
        stopped = Flag()
        task = asyncio.create_task(h.deployments.run(body(uid="uid-now"), KEY, stopped))
        await settle()
        stopped.value = True
        h.deployments.wakeups.wake(KEY)
        await asyncio.wait_for(task, 1)
        await h.deployments.delete_step(body(uid="uid-now", deletionTimestamp="t"), KEY)
        assert h.owned_asked == [("ns", "payments", "uid-now"), ("ns", "payments", "uid-now")]

    asyncio.run(scenario())


def test_the_pause_after_a_wake_up_grows_with_the_deployments_converging_and_is_capped() -> None:
    settings = LoopSettings(debounce_seconds=0.5, max_concurrent_reconciles=4, max_debounce_seconds=5.0)
    assert debounce_pause(settings, 0) == debounce_pause(settings, 4) == 0.5, "no more than the slots: the debounce"
    assert debounce_pause(settings, 16) == 2.0, "four slots' worth converging: four debounces"
    assert debounce_pause(settings, 400) == 5.0, "never longer than the cap"
    assert debounce_pause(LoopSettings(debounce_seconds=0), 30) == 0.0, "no debounce configured: none"


def test_converging_counts_the_deployments_whose_last_pass_was_not_ready() -> None:
    async def scenario() -> None:
        h = Harness(LoopSettings(resync_seconds=30, debounce_seconds=0),
                    outcomes=[Outcome(ready=False), Outcome(ready=True), Outcome(ready=False)])
        h.deployments.synced.set()
        stopped = Flag()
        keys = [("ns", f"d-{i}") for i in range(3)]
        tasks = [asyncio.create_task(h.deployments.run(body(name=k[1]), k, stopped)) for k in keys]
        await settle(0.05)
        assert h.deployments.converging() == 2
        stopped.value = True
        for k in keys:
            h.deployments.wakeups.wake(k)
        await asyncio.wait_for(asyncio.gather(*tasks), 5)

    asyncio.run(scenario())
