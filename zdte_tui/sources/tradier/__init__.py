"""Tradier live adapter: ``config.py`` (its settings section), ``parsing.py``, ``source.py``.

The source module (websockets, httpx) is imported on first use, so reading the settings does
not load the network stack.
"""

from __future__ import annotations

from typing import Any

from zdte_tui.sources.tradier.config import TradierConfig

__all__ = ["TradierConfig", "TradierSource"]


def __getattr__(name: str) -> Any:
    if name == "TradierSource":
        from zdte_tui.sources.tradier.source import TradierSource

        return TradierSource
    raise AttributeError(name)
