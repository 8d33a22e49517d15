"""The price level a simulated day is drawn around: configured, or the last spot a recording saw.

The simulator's reference levels are dated facts (docs/simulator.md, "Price level"); a user who
trades today's market wants today's level. Precedence, first that applies, per symbol:

1. an explicit ``levels`` argument (``SimSource(levels=...)``, ``simulate_session(level=...)``);
2. ``[sim] levels`` in the configuration, e.g. ``levels = { SPY = 671.2 }``;
3. the last spot of that symbol seen by ``zdte record`` of a real (not simulated) source, kept in
   ``$XDG_STATE_HOME/zdte/last_levels.json`` (``~/.local/state/zdte/``), unless
   ``[sim] use_last_recorded = false``;
4. the profile's dated reference level.

The state file is a JSON object ``{"SPY": {"spot": 671.2, "ts_ns": ..., "source": "massive"}}``.
Reading is tolerant: an unreadable file or a malformed entry is skipped and counted in
:attr:`LastLevels.problems` (never silently), so a damaged file never stops ``zdte SPY``.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

STATE_FILE_NAME = "last_levels.json"


def state_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/zdte/last_levels.json`` (``~/.local/state/zdte/last_levels.json``)."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME", "").strip()
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    root = Path(base) if base and Path(base).is_absolute() else home / ".local" / "state"
    return root / "zdte" / STATE_FILE_NAME


@dataclass(frozen=True)
class LastLevel:
    """The last spot of one symbol seen by a recording: price, its time (ns UTC) and the source name."""

    spot: float
    ts_ns: int
    source: str


@dataclass(frozen=True)
class LastLevels:
    """What the state file holds, and what had to be skipped (one line per problem)."""

    levels: dict[str, LastLevel] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def read_last_levels(path: Path | None = None) -> LastLevels:
    """The last recorded spot per symbol; a missing file is empty, damage is counted in ``problems``."""
    path = state_path() if path is None else path
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return LastLevels()
    except (OSError, ValueError) as exc:
        return LastLevels(problems=(f"{path}: unreadable ({type(exc).__name__})",))
    if not isinstance(raw, dict):
        return LastLevels(problems=(f"{path}: expected a JSON object",))
    out: dict[str, LastLevel] = {}
    problems: list[str] = []
    for sym, entry in raw.items():
        try:
            spot = float(entry["spot"])
            ts = int(entry.get("ts_ns", 0))
            if not (math.isfinite(spot) and spot > 0):
                raise ValueError(spot)
            out[str(sym).strip().upper()] = LastLevel(spot, ts, str(entry.get("source", "")))
        except (TypeError, KeyError, ValueError, AttributeError):
            problems.append(f"{path}: {sym}: expected {{\"spot\": positive number, ...}}")
    return LastLevels(out, tuple(problems))


def note_last_levels(spots: Mapping[str, tuple[float, int]], source: str, path: Path | None = None) -> Path:
    """Merge ``{symbol: (spot, ts_ns)}`` into the state file (a later time replaces an earlier one;
    invalid prices are not written). The file is replaced atomically. Returns its path."""
    path = state_path() if path is None else path
    current = read_last_levels(path).levels
    for sym, (spot, ts_ns) in spots.items():
        key = sym.strip().upper()
        if not (math.isfinite(spot) and spot > 0):
            continue
        held = current.get(key)
        if held is None or int(ts_ns) >= held.ts_ns:
            current[key] = LastLevel(float(spot), int(ts_ns), source)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {k: {"spot": v.spot, "ts_ns": v.ts_ns, "source": v.source} for k, v in sorted(current.items())}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".last_levels.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(body, fh, indent=1)
    os.replace(tmp, path)
    return path


@dataclass(frozen=True)
class ResolvedLevels:
    """Level per symbol for the simulator and where each came from (``config`` or ``recording``);
    symbols absent here use their dated reference level."""

    levels: dict[str, float]
    origin: dict[str, str]
    problems: tuple[str, ...] = ()


def resolve_levels(symbols: Iterable[str], configured: Mapping[str, float] | None = None, *,
                   use_last_recorded: bool = True, path: Path | None = None) -> ResolvedLevels:
    """Steps 2-3 of the precedence above for ``symbols``: configured levels, else the last recorded spot."""
    configured = {k.strip().upper(): float(v) for k, v in (configured or {}).items()}
    wanted = [s.strip().upper() for s in symbols]
    levels: dict[str, float] = {}
    origin: dict[str, str] = {}
    last = LastLevels()
    if use_last_recorded and any(s not in configured for s in wanted):
        last = read_last_levels(path)
    for sym in wanted:
        if sym in configured:
            levels[sym], origin[sym] = configured[sym], "config"
        elif sym in last.levels:
            levels[sym], origin[sym] = last.levels[sym].spot, "recording"
    return ResolvedLevels(levels, origin, last.problems)
