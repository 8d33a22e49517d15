"""The tables of ``zdte export SYMBOL --what heatmap|series|signals|levels --format csv|json|parquet``
(the command itself is :func:`zdte_tui.commands.cmd_export`).

The same tables the TUI's ``e`` key writes (:mod:`zdte_tui.ui.export`), taken from one FlowService
answer at ``--at`` (the clock is paused there, as for the query commands), written to ``--out``
or, for csv/json, to stdout. Parquet needs ``--out``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

WHAT = ("heatmap", "series", "signals", "levels")
FORMATS = ("csv", "json", "parquet")


def fetch_table(svc: Any, symbol: str, what: str, *, metric: str = "gex", mode: str = "raw", minutes: int = 390):
    """``(header, rows)`` of one export from a FlowServiceAPI (raises ServiceError as the service does)."""
    from zdte_tui.ui import export

    if what == "heatmap":
        return export.heatmap_table(svc.heatmap(symbol, metric, mode, "1m", minutes))
    if what == "series":
        return export.series_table(svc.series(symbol, "1m", minutes))
    if what == "signals":
        body = svc.signals(symbol, 0, None, None, minutes, 500)
        return export.signals_table(sorted(body.get("signals") or [], key=lambda s: s.get("ts") or ""))
    if what == "levels":
        return export.levels_table(svc.snapshot(symbol))
    raise ValueError(what)


def write_table(table, fmt: str, out: Path | None) -> None:
    """Write ``table`` as ``fmt`` to ``out`` (stdout when None; parquet needs a path)."""
    from zdte_tui.ui import export

    header, rows = table
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns = {name: [row[i] for row in rows] for i, name in enumerate(header)}
        pq.write_table(pa.table(columns), str(out))
        return
    text = export.to_csv(table) if fmt == "csv" else json.dumps(
        [dict(zip(header, row)) for row in rows], indent=1, allow_nan=False) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
