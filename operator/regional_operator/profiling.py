"""Opt-in cProfile of the whole operator process, for the benchmarks' hot-spot hunt.

REGIONAL_OPERATOR_PROFILE=/path/out.prof starts a profiler at start-up and dumps it at graceful shutdown (the
event loop is one thread, so one profiler sees every reconcile). Off by default: it costs ~2x CPU.
"""

from __future__ import annotations

import cProfile
import os

_PROFILER: cProfile.Profile | None = None


def start_if_requested() -> None:
    global _PROFILER  # noqa: PLW0603 - one profiler per process
    if os.environ.get("REGIONAL_OPERATOR_PROFILE") and _PROFILER is None:
        _PROFILER = cProfile.Profile()
        _PROFILER.enable()


def stop_and_dump() -> None:
    path = os.environ.get("REGIONAL_OPERATOR_PROFILE")
    if _PROFILER is not None and path:
        _PROFILER.disable()
        _PROFILER.dump_stats(path)
