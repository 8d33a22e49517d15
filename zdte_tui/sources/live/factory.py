"""Building a live adapter by name (the registry is :data:`zdte_tui.sources.LIVE_ADAPTERS`)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from zdte_tui.sources import LIVE_ADAPTERS
from zdte_tui.sources.live.config import DEFAULT_STRIKE_BAND_PCT, LiveSection
from zdte_tui.sources.live.http import RestLiveSource


class _HasLiveSections(Protocol):
    def live_section(self, name: str) -> LiveSection: ...


def live_adapter(name: str) -> type[RestLiveSource]:
    """The adapter class registered as ``name``. Raises ``ValueError`` for an unknown name."""
    key = name.strip().lower()
    target = LIVE_ADAPTERS.get(key)
    if target is None:
        raise ValueError(f"unknown live source {name!r}: expected one of {', '.join(LIVE_ADAPTERS)}")
    module, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, RestLiveSource)):
        raise TypeError(f"{target} is not a live adapter")
    return cls


def make_live_source(name: str, symbols: Iterable[str],
                     settings: _HasLiveSections | LiveSection | Mapping[str, Any] | None = None,
                     **kwargs: Any) -> RestLiveSource:
    """The live adapter ``name`` (massive / thetadata / tradier) for ``symbols``, configured by

    - the settings model (its ``[live.<name>]`` section, the band inherited from
      ``[engine] strike_band_pct`` when unset),
    - the adapter's own section object, or a mapping of its keys (validated), or
    - nothing (the section's defaults).

    ``kwargs`` go to the constructor (tests inject clocks and transports). Raises ``ValueError``
    for an unknown name or invalid keys and :class:`SourceAuthError` when the key is not set.
    """
    cls = live_adapter(name)
    if settings is None:
        section = cls.config_class()
    elif isinstance(settings, cls.config_class):
        section = settings
    elif isinstance(settings, Mapping):
        section = cls.config_class.model_validate(dict(settings))
    else:
        section = settings.live_section(cls.name)
    band = section.strike_band_pct if section.strike_band_pct is not None else DEFAULT_STRIKE_BAND_PCT
    return cls(symbols, config=section, **{"strike_band_pct": band, **kwargs})
