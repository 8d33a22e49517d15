"""ThetaData (Theta Terminal) live adapter: ``config.py`` (its settings section), ``parsing.py``, ``source.py``.

The source module (websockets, httpx) is imported on first use, so reading the settings does
not load the network stack.
"""

from __future__ import annotations

from typing import Any

from zdte_tui.sources.thetadata.config import ThetaDataConfig

__all__ = ["ThetaDataConfig", "ThetaDataSource"]


def __getattr__(name: str) -> Any:
    if name == "ThetaDataSource":
        from zdte_tui.sources.thetadata.source import ThetaDataSource

        return ThetaDataSource
    raise AttributeError(name)
