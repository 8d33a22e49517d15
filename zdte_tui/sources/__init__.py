"""Event sources: the simulator, replay of recordings, Cboe snapshots and the live adapters.

Live adapters are registered here by name, as ``"module:Class"`` strings, so that the base
class (:mod:`zdte_tui.sources.live.base`) never imports its children and loading a name costs
nothing until the adapter is used. A new provider is a package ``sources/<name>/`` with
``config.py``, ``parsing.py`` and ``source.py`` plus one row in :data:`LIVE_ADAPTERS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

LIVE_ADAPTERS: Mapping[str, str] = MappingProxyType({
    "massive": "zdte_tui.sources.massive.source:MassiveSource",
    "thetadata": "zdte_tui.sources.thetadata.source:ThetaDataSource",
    "tradier": "zdte_tui.sources.tradier.source:TradierSource",
})
"""Live adapter name (``--source NAME``, ``[live.NAME]``) -> ``"module:Class"``."""

LIVE_SOURCES: tuple[str, ...] = tuple(LIVE_ADAPTERS)
