"""Building a live adapter by name from the settings (the registry is
:data:`zdte_tui.sources.LIVE_ADAPTERS`)."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterable, Mapping
from typing import Any

from zdte_tui.sources import LIVE_ADAPTERS
from zdte_tui.sources.live.base import LiveSource


def settings_section(settings: Any, provider: str) -> dict[str, Any]:
    """Constructor kwargs for ``provider`` from a Settings object (``[live.<provider>]``, the
    band falling back to ``engine.strike_band_pct``) or from a plain dict (used as is, or
    its ``[provider]`` / ``[live][provider]`` sub-table). ``strike_band_pct`` is in percent."""
    if settings is None:
        return {}
    if isinstance(settings, Mapping):
        if provider in settings and isinstance(settings[provider], Mapping):
            return dict(settings[provider])
        if "live" in settings and isinstance(settings["live"], Mapping):
            return settings_section(settings["live"], provider)
        return dict(settings)
    live = getattr(settings, "live", settings)
    section = getattr(live, provider, None)
    out: dict[str, Any] = {}
    if section is not None:
        if isinstance(section, Mapping):
            out.update(section)
        elif dataclasses.is_dataclass(section):
            out.update({f.name: getattr(section, f.name) for f in dataclasses.fields(section)})
        else:
            out.update({k: v for k, v in vars(section).items() if not k.startswith("_")})
    if out.get("strike_band_pct") is None:
        engine = getattr(settings, "engine", None)
        band = getattr(engine, "strike_band_pct", None)
        if band is not None:
            out["strike_band_pct"] = band
    return out


def live_adapter(name: str) -> type[LiveSource]:
    """The adapter class registered as ``name`` in :data:`zdte_tui.sources.LIVE_ADAPTERS`.

    Raises ``ValueError`` for an unknown name."""
    key = name.strip().lower()
    target = LIVE_ADAPTERS.get(key)
    if target is None:
        raise ValueError(f"unknown live source {name!r}: expected one of {', '.join(LIVE_ADAPTERS)}")
    module, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, LiveSource)):
        raise TypeError(f"{target} is not a LiveSource")
    return cls


def make_live_source(name: str, symbols: Iterable[str], settings_or_kwargs: Any = None) -> LiveSource:
    """The live adapter ``name`` (massive / thetadata / tradier) for ``symbols``.

    ``settings_or_kwargs`` is a Settings object (its ``[live.<name>]`` section is used) or a
    dict of constructor keyword arguments. Raises ``ValueError`` for an unknown name and
    :class:`SourceAuthError` when the provider's key is not configured.
    """
    cls = live_adapter(name)
    return cls.from_settings(symbols, settings_section(settings_or_kwargs, name.strip().lower()))
