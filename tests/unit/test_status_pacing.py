"""Status writes during convergence: progress-only changes are paced, anything a client acts on is written now."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from regional_operator.reconcile.reconciler import Operator, _changed_keys, _progress_wait, _write_status
from regional_operator.watch.mrwatch import MRIndex


class RecordingClient:
    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []

    async def patch_status(self, ref: Any, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.patches.append(status)


def cond(type_: str, status: str, reason: str, message: str = "") -> dict[str, Any]:
    return {"type": type_, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": "2026-11-25T00:00:00Z"}


def status(ready: int, *, ready_cond: tuple[str, str] = ("False", "NotReady"), generation: int = 1,
           outputs: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"observedGeneration": generation,
            "conditions": [cond("Ready", *ready_cond, f"{ready}/227 ready"),
                           cond("Reconciling", "True", "Progressing")],
            "resources": {"ready": ready, "total": 227}, "pending": [], "outputs": outputs or {}}


def cr(current: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": "payments", "generation": 1}, "status": current}


def held(op: Operator, current: dict[str, Any], new: dict[str, Any]) -> float:
    """What a reconcile pass decides for `new` against the CR `current`: seconds to hold the write back."""
    return _progress_wait(op, current, new, _changed_keys(current, new))


def operator() -> tuple[Operator, RecordingClient]:
    client = RecordingClient()
    return Operator(client=client, defaults=None, artifact=None,  # type: ignore[arg-type]
                    controlled_elsewhere=MRIndex().controlled_elsewhere), client


def test_first_status_of_a_deployment_is_written_at_once() -> None:
    op, _ = operator()
    assert held(op, cr(status(10)), status(20)) == 0


def test_progress_only_changes_are_held_back_until_the_interval_is_up() -> None:
    op, client = operator()
    assert asyncio.run(_write_status(op, cr({}), status(10)))
    assert len(client.patches) == 1
    wait = held(op, cr(status(10)), status(20))
    assert 4.0 < wait <= op.status_progress_interval
    op.status_written_at[("ns", "payments")] = time.monotonic() - op.status_progress_interval - 0.01
    assert held(op, cr(status(10)), status(20)) == 0


def test_what_clients_act_on_is_never_held_back() -> None:
    op, _ = operator()
    op.status_written_at[("ns", "payments")] = time.monotonic()
    current = cr(status(200))
    assert held(op, current, status(227, ready_cond=("True", "Ready"))) == 0, "Ready flipped"
    assert held(op, current, status(200, ready_cond=("False", "ApplyFailed"))) == 0, "new reason"
    assert held(op, current, status(200, generation=2)) == 0, "new observedGeneration"
    assert held(op, current, status(200, outputs={"us-east-1": {"vpcId": "vpc-1"}})) == 0, "outputs"
    assert held(op, current, status(200)) == 0, "unchanged: nothing to hold (the write is skipped)"


def test_forget_drops_the_pacing_state_of_a_deleted_deployment() -> None:
    op, _ = operator()
    op.status_written_at[("ns", "payments")] = time.monotonic()
    op.forget("ns", "payments")
    assert op.status_written_at == {}
