"""Where the TUI writes files (screenshots, `e` exports) and the pure CSV tables it writes.

:func:`output_dir` picks, in order: ``$ZDTE_EXPORT_DIR``; ``$XDG_DOWNLOAD_DIR``; ``~/Downloads``
when it exists; the current directory. The first that is an existing, writable directory wins,
so a machine without ``~/Downloads`` still gets its file, and the app says where it went.

Each ``*_table`` function turns a FlowService response into ``(header, rows)`` (pure, tested).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

Table = tuple[list[str], list[list[Any]]]


def output_dir(env: Mapping[str, str] | None = None, home: Path | None = None, cwd: Path | None = None) -> Path:
    """The directory exports and screenshots go to (see the module docstring)."""
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    candidates = [env.get("ZDTE_EXPORT_DIR"), env.get("XDG_DOWNLOAD_DIR"), str(home / "Downloads")]
    for candidate in candidates:
        if candidate:
            path = Path(candidate).expanduser()
            if path.is_dir() and os.access(path, os.W_OK):
                return path
    return Path.cwd() if cwd is None else cwd


def stamp_name(symbol: str, what: str, suffix: str, now: datetime | None = None) -> str:
    """``zdte_SPY_heatmap_20260605-144500.csv``."""
    now = now or datetime.now()
    return f"zdte_{symbol}_{what}_{now.strftime('%Y%m%d-%H%M%S')}.{suffix}"


def heatmap_table(payload: Mapping[str, Any] | None) -> Table:
    """One row per bar: time, spot, then the value at each strike (the API's ``values[bar][strike]``)."""
    payload = payload or {}
    strikes = payload.get("strikes_grid") or []
    header = ["t", "spot"] + [f"{k:g}" for k in strikes]
    rows = [[b.get("t"), b.get("spot"), *(b.get("values") or [None] * len(strikes))] for b in payload.get("bars") or []]
    return header, rows


def series_table(payload: Mapping[str, Any] | None) -> Table:
    """One row per bar, every field of the series response, in the order of the first bar."""
    bars = (payload or {}).get("bars") or []
    header: list[str] = []
    for bar in bars:
        header += [k for k in bar if k not in header]
    return header, [[bar.get(k) for k in header] for bar in bars]


def signals_table(signals: Sequence[Mapping[str, Any]]) -> Table:
    header = ["ts", "strike", "right", "structure", "side", "aggressor", "size", "price", "premium", "score",
              "intent", "tags"]
    rows = [[s.get(k) if k != "tags" else " ".join(s.get("tags") or []) for k in header] for s in signals]
    return header, rows


def leaderboard_table_rows(board: Mapping[str, Any] | None) -> Table:
    entries = (board or {}).get("entries") or []
    metric = (board or {}).get("metric") or "value"
    return ["rank", "symbol", metric], [[e.get("rank"), e.get("symbol"), e.get("value")] for e in entries]


def levels_table(snapshot: Mapping[str, Any] | None) -> Table:
    """The key levels of a snapshot as ``name, value`` rows."""
    snapshot = snapshot or {}

    def dig(*keys: str) -> Any:
        value: Any = snapshot
        for key in keys:
            value = value.get(key) if isinstance(value, Mapping) else None
        return value

    rows = [["as_of", snapshot.get("as_of")], ["spot", snapshot.get("underlying_price")],
            ["gamma_flip", dig("regime", "gamma_flip")], ["call_wall", dig("levels", "call_wall")],
            ["put_wall", dig("levels", "put_wall")], ["magnet", dig("pin_risk", "magnet_strike")],
            ["max_pain", dig("pin_risk", "max_pain")], ["expected_move_low", dig("expected_move", "lower_bound")],
            ["expected_move_high", dig("expected_move", "upper_bound")], ["regime", dig("regime", "label")]]
    return ["level", "value"], rows


def to_csv(table: Table) -> str:
    header, rows = table
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return out.getvalue()
