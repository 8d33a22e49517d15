"""FlowService semantics on a hand-built session: parameters, error codes, degraded shapes, windows."""

from __future__ import annotations

import numpy as np
import pytest

from zdte_tui.service import FlowService
from zdte_tui.service.protocol import ServiceError

from .conftest import ListSource, build_session


def code_of(fn) -> tuple[str, int]:
    with pytest.raises(ServiceError) as e:
        fn()
    return e.value.code, e.value.status


@pytest.mark.parametrize("call,code", [
    (lambda s: s.series("SPY", bar="2m"), "invalid_bar"),
    (lambda s: s.hedge_flow("SPY", bar="1h"), "invalid_bar"),
    (lambda s: s.hedge_flow("SPY", side="both"), "invalid_side"),
    (lambda s: s.heatmap("SPY", bar="5m"), "bar_unavailable"),
    (lambda s: s.strike_flow("SPY", bar="30s"), "bar_unavailable"),
    (lambda s: s.heatmap("SPY", metric="theta"), "invalid_metric"),
    (lambda s: s.heatmap("SPY", mode="pct"), "invalid_mode"),
    (lambda s: s.leaderboard(metric="volume"), "invalid_metric"),
    (lambda s: s.snapshot("SPY", expiry="06/05/2026"), "invalid_expiry"),
    (lambda s: s.signals("SPY", expiry="2026-13-01"), "invalid_expiry"),
    (lambda s: s.signals("SPY", intent="up"), "invalid_intent"),
    (lambda s: s.signals("SPY", structure="spread"), "invalid_structure"),
    (lambda s: s.signals("SPY", min_score=101), "invalid_min_score"),
    (lambda s: s.snapshot("bad symbol!"), "invalid_symbol"),
])
def test_documented_error_codes_are_400(service, call, code):
    assert code_of(lambda: call(service)) == (code, 400)


def test_unknown_symbol_with_a_0dte_is_404(service):
    assert code_of(lambda: service.snapshot("QQQ")) == ("unknown_symbol", 404)


def test_symbol_without_same_day_expiry_degrades_with_next_expiry(service):
    snap = service.snapshot("aapl")
    assert snap["no_zero_dte"] is True and snap["body"] is None
    assert "message" in snap
    # time-series endpoints return 200 with empty bars for such a symbol
    assert service.series("AAPL")["bars"] == []
    assert service.heatmap("AAPL")["strikes_grid"] == []


def test_session_closed_outside_the_session():
    events = build_session(minutes=2)
    svc = FlowService(ListSource(events[:1])).run_to_end()  # definition only: clock before the open
    snap = svc.snapshot("SPY")
    assert snap["session_closed"] is True and snap["body"] is None
    assert snap["last_session"] == "2026-11-19"
    assert snap["next_zero_dte_expiry"] == "2026-11-20"


def test_minutes_are_clamped_to_1_390(service):
    a = service.series("SPY", "30s", 10_000)
    b = service.series("SPY", "30s", 390)
    assert a["bars"] == b["bars"]
    one = service.series("SPY", "30s", -5)
    assert len(one["bars"]) <= 3


def test_series_downsampling_keeps_the_last_sample_in_each_bucket(service):
    raw = service.series("SPY", "30s", 390)["bars"]
    by_t = {b["t"]: b for b in raw}
    five = service.series("SPY", "5m", 390)["bars"]
    for bar in five:
        assert by_t[bar["t"]] == bar  # each 5m bar *is* a raw sample: the last of its bucket
    assert [b["t"][-5:-3] for b in five[1:-1]] == [b["t"][-5:-3] for b in five[1:-1]]
    minutes = [int(b["t"][14:16]) for b in five[:-1]]
    assert all(m % 5 == 0 for m in minutes)


def test_hedge_flow_bars_sum_to_the_cumulative(service):
    hf = service.hedge_flow("SPY", "all", "1m", 390)["bars"]
    cum = np.array([b["cumulative"] for b in hf])
    inc = np.array([b["bar"] for b in hf])
    assert np.allclose(np.cumsum(inc), cum, atol=2.0)
    series = service.series("SPY", "1m", 390)["bars"]
    assert [b["hedge_flow_cumulative_all"] for b in series] == pytest.approx(cum.tolist(), abs=1.0)


def test_heatmap_delta_mode_bar_zero_is_raw_then_differences(service):
    raw = service.heatmap("SPY", "gex", "raw", minutes=20)
    delta = service.heatmap("SPY", "gex", "delta", minutes=20)
    r = np.array([b["values"] for b in raw["bars"]], dtype=float)
    d = np.array([b["values"] for b in delta["bars"]], dtype=float)
    assert np.allclose(d[0], r[0], atol=1)
    assert np.allclose(d[1:], np.diff(r, axis=0), atol=2)


def test_signed_flow_delta_equals_raw_and_matches_strike_flow(service):
    raw = service.heatmap("SPY", "signed_flow", "raw", minutes=30)
    delta = service.heatmap("SPY", "signed_flow", "delta", minutes=30)
    assert raw["bars"] == delta["bars"]
    sf = service.strike_flow("SPY", minutes=30)
    grid = raw["strikes_grid"]
    col = {k: i for i, k in enumerate(sf["strikes_grid"])}
    for hb, sb in zip(raw["bars"], sf["bars"]):
        assert hb["t"] == sb["t"]
        assert hb["values"] == pytest.approx([sb["signed_delta_dollars"][col[k]] for k in grid], abs=1.0)


def test_strike_flow_sums_to_trade_hedge_flow(service):
    """Strike signed delta-dollars are hedge flow (a); the series cumulative adds re-hedging (b)."""
    sf = service.strike_flow("SPY", minutes=390)
    total = sum(sum(b["signed_delta_dollars"]) for b in sf["bars"])
    book = service.engine.books["SPY"]
    assert total == pytest.approx(float(book.hedge_trade.sum()), rel=1e-6, abs=50)


def test_signals_scores_sum_and_order(service):
    out = service.signals("SPY", limit=500)
    assert out["count"] == len(out["signals"]) > 0
    scores = [s["score"] for s in out["signals"]]
    assert scores == sorted(scores, reverse=True)
    for s in out["signals"]:
        assert sum(s["score_breakdown"].values()) == s["score"]
        assert s["structure"] in ("block", "sweep")
        assert s["premium"] == pytest.approx(s["price"] * s["size"] * 100, rel=1e-4)  # price = VWAP, 4 dp
        if s["open_close_bias"] == "closing_bias" or s["side"] == "mid":
            assert s["intent"] == "neutral"
        if s["premium"] >= 1e6:
            assert "whale" in s["tags"]
    blocks = service.signals("SPY", structure="block", limit=500)["signals"]
    assert blocks and all(s["structure"] == "block" and s["size"] >= 500 for s in blocks)
    high = service.signals("SPY", min_score=60, limit=500)["signals"]
    assert all(s["score"] >= 60 for s in high)
    assert service.signals("SPY", structure="single")["count"] == 0


def test_leaderboard_ranks_tracked_symbols(service):
    lb = service.leaderboard("pin_risk", 3)
    assert [e["rank"] for e in lb["entries"]] == list(range(1, len(lb["entries"]) + 1))
    assert [e["symbol"] for e in lb["entries"]] == ["SPY"]


def test_status_and_control_on_a_live_like_source(service):
    st = service.status()
    assert st["simulated"] is True and st["symbols"] == ["SPY"]
    assert code_of(lambda: service.control("pause")) == ("not_controllable", 409)
    assert code_of(lambda: service.control("rewind")) == ("invalid_action", 400)


def test_malformed_events_are_counted_not_raised():
    from zdte_tui.market.events import EventBatch, OptionTrades

    events = build_session(minutes=2)
    bad = EventBatch("SPY", events[-1].end_ns, events[-1].end_ns + 10**9,
                     trades=OptionTrades([events[-1].end_ns + 5], [99999], [1.0], [5], [1]))
    svc = FlowService(ListSource(events + [bad, "garbage"])).run_to_end()
    assert svc.status()["malformed_count"] >= 2
    assert svc.snapshot("SPY")["symbol"] == "SPY"


def test_status_carries_a_live_sources_feed_health_and_none_for_others():
    from zdte_tui.service import FlowService

    class HealthSource(ListSource):
        def health(self):
            return {"channels": {"options": {"circuit": "open", "connected": False, "failures": 3}}}

    live, sim = FlowService(HealthSource([])), FlowService(ListSource([]))

    assert live.status()["feed_health"]["channels"]["options"]["failures"] == 3
    assert sim.status()["feed_health"] is None


# ------------------------------------------------------------------------------ bugs vs bad data
def test_an_engine_bug_is_an_internal_error_logged_once_and_the_feed_goes_on(caplog):
    events = build_session(minutes=3)
    svc = FlowService(ListSource(events))
    real_ingest = svc.engine.ingest
    seen = []

    def ingest_with_a_bug(batch):  # a stub for one method: the 2nd and 3rd batches hit a bug
        seen.append(batch)
        if len(seen) in (2, 3):
            raise ZeroDivisionError("a bug, not bad data")
        real_ingest(batch)

    svc.engine.ingest = ingest_with_a_bug
    with caplog.at_level("ERROR", logger="zdte_tui.service.pump"):
        svc.run_to_end()
    status = svc.status()
    assert status["malformed_count"] == 0 and status["malformed_by_reason"] == {}
    [(where, count)] = status["internal_errors"].items()
    assert where.startswith("ZeroDivisionError at test_service.py:") and count == 2
    assert any(where in line for line in status["errors"])  # the header's warning line shows it
    assert [r.exc_info is not None for r in caplog.records] == [True]  # one traceback, not one per event
    assert svc.events_ingested == len(events)
    assert len(seen) == len(events) - 1  # every batch after the bug was still ingested


def test_malformed_input_is_counted_by_reason_in_status():
    events = build_session(minutes=2)
    end = events[-1].end_ns
    from zdte_tui.market.events import EventBatch, OptionTrades

    unknown_contract = EventBatch("SPY", end, end + 10**9, trades=OptionTrades([end + 5], [99999], [1.0], [5], [1]))
    svc = FlowService(ListSource(events + [unknown_contract, "garbage"])).run_to_end()
    status = svc.status()
    assert status["malformed_by_reason"] == {"bad_trade": 1, "unknown_event_type": 1}
    assert status["malformed_count"] == 2 and status["internal_errors"] == {}
