"""What status says during and after a failover (spec.failover): how far the promotion is, and what the user must
do about the writes the old primary accepted that the promoted database never received.

Phases: Promoting (the promoted region's Instance is not yet Ready at its current generation, or the provider still
reports a replication source), Promoted (a standalone writable database; `primary: true` may now move to
toRegion), Completed (spec.regions names toRegion as primary). The phase is derived from the live MRs on every
pass, so a restart or a missed event reports the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..identity import MRKey
from ..readiness import readiness
from ..render import Failover
from .conditions import Condition, now


def _phase(failover: Failover, live: Mapping[MRKey, Mapping[str, Any]]) -> str:
    instance = live.get(("Instance", failover.new_database))
    if instance is None:
        return "Promoting"
    ready, _ = readiness(instance)
    source = ((instance.get("status") or {}).get("atProvider") or {}).get("replicateSourceDb")
    if not ready or source:
        return "Promoting"
    return "Completed" if failover.completed else "Promoted"


def _message(failover: Failover, phase: str) -> str:
    lost = (f"Writes that {failover.old_database} ({failover.from_region}) accepted after its replication to "
            f"{failover.new_database} stopped are not in {failover.new_database}: compare the two databases (rows "
            f"changed since status.failover.requestedAt, minus the replica lag at that moment) and replay "
            f"what is missing into {failover.new_database}. {failover.old_database} stays writable and is no "
            f"longer replicated anywhere: stop every writer in {failover.from_region} (the operator has disabled "
            f"its payments event source mapping; the ECS service there still connects to it).")
    if phase == "Promoting":
        return (f"promoting {failover.new_database} in {failover.to_region} to a standalone database; payments "
                f"and S3 replication have moved off {failover.to_region} as replica. {lost}")
    if phase == "Promoted":
        return (f"{failover.new_database} in {failover.to_region} is a standalone writable database; complete the "
                f"failover by setting primary: true on {failover.to_region} (and false on {failover.from_region}). "
                f"{lost}")
    return f"{failover.to_region} is the primary; {failover.from_region} remains the peering hub. {lost}"


def failover_status(failover: Failover, live: Mapping[MRKey, Mapping[str, Any]],
                    current: Mapping[str, Any] | None) -> dict[str, str]:
    """status.failover: the regions, the databases, the phase, when the operator first rendered the promotion
    (kept from the stored status) and what to do about the old primary's writes."""
    phase = _phase(failover, live)
    requested = (current or {}).get("requestedAt") or now()
    return {"fromRegion": failover.from_region, "toRegion": failover.to_region, "phase": phase,
            "requestedAt": requested, "oldDatabase": failover.old_database, "newDatabase": failover.new_database,
            "message": _message(failover, phase)}


def failover_condition(failover: Failover, live: Mapping[MRKey, Mapping[str, Any]]) -> Condition:
    """FailedOver: True once the promoted database is standalone (its lastTransitionTime dates the promotion)."""
    phase = _phase(failover, live)
    return Condition("FailedOver", phase != "Promoting", phase, _message(failover, phase))
