"""Wake-ups for the per-deployment reconcile loops: MR events, spec changes and defaults changes set a flag the
loop awaits, so the operator reacts to events instead of polling; the resync timeout is only a safety net."""

from __future__ import annotations

import asyncio

from ..identity import DeploymentKey


class Wakeups:
    def __init__(self) -> None:
        self._events: dict[DeploymentKey, asyncio.Event] = {}

    def event(self, key: DeploymentKey) -> asyncio.Event:
        return self._events.setdefault(key, asyncio.Event())

    def wake(self, key: DeploymentKey) -> None:
        event = self._events.get(key)
        if event is not None:
            event.set()

    def wake_all(self) -> None:
        for event in self._events.values():
            event.set()

    def forget(self, key: DeploymentKey) -> None:
        self._events.pop(key, None)

    async def wait(self, key: DeploymentKey, timeout: float) -> bool:
        """Wait for a wake-up or the timeout; True if woken. Clears the flag so the next wait blocks again."""
        event = self.event(key)
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            event.clear()


class PassLocks:
    """One lock per deployment, so a reconcile pass and a deletion step never interleave (a pass in flight
    when deletion starts could otherwise re-apply MRs the deletion just removed)."""

    def __init__(self) -> None:
        self._locks: dict[DeploymentKey, asyncio.Lock] = {}

    def lock(self, key: DeploymentKey) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())
