"""Opt-in profiling of the whole operator process, for the benchmarks' hot-spot hunt. Off by default.

REGIONAL_OPERATOR_PROFILE=/path/out.prof starts cProfile at start-up and dumps it at graceful shutdown (the event
loop is one thread, so one profiler sees every reconcile); it costs ~2x CPU.
REGIONAL_OPERATOR_TRACEMALLOC=/path/out.txt traces Python allocations and writes, at graceful shutdown, the
current and peak traced size and the 30 source lines holding the most memory (where RSS goes).
"""

from __future__ import annotations

import cProfile
import os
import tracemalloc
from pathlib import Path

_PROFILER: cProfile.Profile | None = None


def start_if_requested() -> None:
    global _PROFILER  # noqa: PLW0603 - one profiler per process
    if os.environ.get("REGIONAL_OPERATOR_PROFILE") and _PROFILER is None:
        _PROFILER = cProfile.Profile()
        _PROFILER.enable()
    if os.environ.get("REGIONAL_OPERATOR_TRACEMALLOC") and not tracemalloc.is_tracing():
        tracemalloc.start()


def stop_and_dump() -> None:
    path = os.environ.get("REGIONAL_OPERATOR_PROFILE")
    if _PROFILER is not None and path:
        _PROFILER.disable()
        _PROFILER.dump_stats(path)
    trace_path = os.environ.get("REGIONAL_OPERATOR_TRACEMALLOC")
    if trace_path and tracemalloc.is_tracing():
        current, peak = tracemalloc.get_traced_memory()
        top = tracemalloc.take_snapshot().statistics("lineno")[:30]
        lines = [f"current {current / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB", *map(str, top)]
        Path(trace_path).write_text("\n".join(lines) + "\n")
