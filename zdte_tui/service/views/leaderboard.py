"""The ``leaderboard`` response: one metric per tracked symbol, ranked."""

from __future__ import annotations

from typing import Any

import numpy as np

from zdte_tui.engine import decision
from zdte_tui.engine.flow_engine import ChainState
from zdte_tui.engine.params import EngineParams
from zdte_tui.service.views.format import integer, num


def leaderboard_value(metric: str, st: ChainState, calls_cum: np.ndarray, puts_cum: np.ndarray, pin_score: Any,
                      params: EngineParams) -> float | None:
    """``metric`` of one symbol from its state and the last 15 minutes of cumulative hedge flow."""
    calls_bars = np.diff(calls_cum[np.isfinite(calls_cum)]) if len(calls_cum) > 1 else np.zeros(0)
    puts_bars = np.diff(puts_cum[np.isfinite(puts_cum)]) if len(puts_cum) > 1 else np.zeros(0)
    pin = integer(pin_score) or 0
    vals = decision.leaderboard_metrics(st.hedge_flow_call_cumulative + st.hedge_flow_put_cumulative, st.net_gex,
                                        pin, calls_bars, puts_bars, st.net_chex)
    return num(vals[metric])


def leaderboard_body(metric: str, n: int, as_of: str | None, market_open: bool,
                     rows: list[tuple[float, str]]) -> dict[str, Any]:
    """Rank ``(value, symbol)`` rows: highest value first, ties by symbol; keep the top ``n``."""
    ranked = sorted(rows, key=lambda r: (-r[0], r[1]))
    entries = [{"rank": i + 1, "symbol": s, "value": round(v, 6)} for i, (v, s) in enumerate(ranked[:n])]
    return {"metric": metric, "n": n, "as_of": as_of, "market_open": market_open, "entries": entries}


__all__ = ["leaderboard_body", "leaderboard_value"]
