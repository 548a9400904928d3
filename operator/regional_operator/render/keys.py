"""Builder: keys (not written yet)."""

from __future__ import annotations

from typing import Any

from .context import RenderContext


def build(ctx: RenderContext) -> list[dict[str, Any]]:
    return []
