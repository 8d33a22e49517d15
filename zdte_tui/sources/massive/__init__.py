"""Massive (formerly Polygon.io) live adapter: ``config.py`` (its settings section), ``parsing.py``, ``source.py``.

The source module (websockets, httpx) is imported on first use, so reading the settings does
not load the network stack.
"""

from __future__ import annotations

from typing import Any

from zdte_tui.sources.massive.config import MassiveConfig

__all__ = ["MassiveConfig", "MassiveSource"]


def __getattr__(name: str) -> Any:
    if name == "MassiveSource":
        from zdte_tui.sources.massive.source import MassiveSource

        return MassiveSource
    raise AttributeError(name)
