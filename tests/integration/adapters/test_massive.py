"""Massive (formerly Polygon.io) adapter against loopback servers speaking its wire format.

Wire format taken from:
- https://massive.com/docs/websocket/options/trades.md (``auth`` action, ``auth_success``
  status, ``T.O:SPY251219C00650000`` subscriptions, trade fields ev/sym/x/p/s/c/t/q),
- https://massive.com/docs/websocket/options/quotes.md (quote fields ev/sym/bx/ax/bp/ap/bs/as/t/q,
  ``t`` in Unix ms, at most 1,000 quoted contracts per connection),
- https://massive.com/docs/websocket/stocks/trades.md (underlying trades on /stocks),
- https://massive.com/docs/rest/options/snapshots/option-chain-snapshot.md (results[].details,
  open_interest, underlying_asset.price, ``next_url`` pagination),
- github.com/massive-com/client-python ``test_websocket/mock_server.py`` (the ``connected``
  status sent on connect, status replies to subscribe) and
  ``test_rest/mocks/v3/snapshot/options/AAPL.json`` (snapshot result layout).
The auth-failure reply ``{"status":"auth_failed"}`` follows the official client's check.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, date, datetime

import numpy as np
import pytest

from zdte_tui.market.events import ChainDefinition, EventBatch, FeedStatus
from zdte_tui.market.occ import OptionSymbol, format_occ
from zdte_tui.sources.live.backoff import BackoffPolicy
from zdte_tui.sources.live.errors import SourceAuthError
from zdte_tui.sources.live.factory import make_live_source
from zdte_tui.sources.massive.config import MassiveConfig
from zdte_tui.sources.massive.parsing import parse_ws_frame
from zdte_tui.sources.massive.source import MassiveSource

from .servers import (
    RestServer,
    WsServer,
    loopback_source_options,
    massive_handler,
    next_event,
    wait_until,
)

SESSION = date(2026, 6, 5)
START_NS = int(datetime(2026, 6, 5, 14, 0, tzinfo=UTC).timestamp() * 1e9)  # 10:00 ET
T_MS = START_NS // 1_000_000 + 30_000  # vendor event times: 10:00:30 ET, ahead of the clock
KEY = "mk-TEST-9f8e7d6c5b4a"
STRIKES = list(range(580, 601))


def _oi(strike: float, right: str) -> int:
    return int(strike) * (3 if right == "C" else 5) % 1000


def _ticker(strike: float, right: str, expiry: date = SESSION) -> str:
    return format_occ(OptionSymbol("SPY", expiry, right, float(strike)), "massive")


def _result(strike: float, right: str, expiry: date = SESSION) -> dict:
    return {
        "details": {"contract_type": "call" if right == "C" else "put", "exercise_style": "american",
                    "expiration_date": expiry.isoformat(), "shares_per_contract": 100,
                    "strike_price": strike, "ticker": _ticker(strike, right, expiry)},
        "open_interest": _oi(strike, right),
        "underlying_asset": {"price": 590.0, "ticker": "SPY", "timeframe": "REAL-TIME"},
    }


def _rest(server_holder: dict, *, status: int = 200):
    def snapshot(req):
        if status != 200:
            return status, {"status": "ERROR", "error": "Unknown API Key"}
        if req.headers.get("authorization") != f"Bearer {KEY}":
            return 401, {"status": "ERROR", "error": "Unknown API Key"}
        if req.query.get("cursor") == "p2":
            return 200, {"status": "OK", "results": [_result(k, r) for k in STRIKES[10:] for r in "CP"]}
        page1 = [_result(k, r) for k in STRIKES[:10] for r in "CP"]
        page1.append(_result(590, "C", date(2026, 6, 8)))  # another expiry: filtered out
        return 200, {"status": "OK", "results": page1,
                     "next_url": f"{server_holder['url']}/v3/snapshot/options/SPY?cursor=p2"}
    return {("GET", "/v3/snapshot/options/SPY"): snapshot}


def _source(ws: WsServer, rest: RestServer, **kw) -> MassiveSource:
    opts = loopback_source_options(SESSION, START_NS, 7) | dict(
        api_key=KEY, config=MassiveConfig(ws_url=ws.url, rest_url=rest.url)) | kw
    return MassiveSource(["SPY"], **opts)


class _Servers:
    def __init__(self, *, rest_status: int = 200, server_key: str = KEY) -> None:
        self.holder: dict = {}
        self.rest = RestServer(_rest(self.holder, status=rest_status))
        self.ws = WsServer(massive_handler, state={"api_key": server_key})

    async def __aenter__(self):
        await self.rest.__aenter__()
        self.holder["url"] = self.rest.url
        await self.ws.__aenter__()
        return self

    async def __aexit__(self, *exc):
        await self.ws.__aexit__(*exc)
        await self.rest.__aexit__(*exc)


BAND = [k for k in STRIKES if abs(k / 590 - 1) <= 0.01]  # 585..595


def _band_subs(strikes) -> set[str]:
    return {f"{p}.{_ticker(k, r)}" for k in strikes for r in "CP" for p in "TQ"}


async def test_chain_definition_holds_band_contracts_with_settled_oi_across_pages():
    async with _Servers() as s:
        src = _source(s.ws, s.rest)
        agen = src.events()
        chain = await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        assert BAND == list(range(585, 596))
        assert chain.underlying == "SPY" and chain.expiry == SESSION
        assert chain.strikes.tolist() == [float(k) for k in BAND for _ in "CP"]
        assert chain.is_call.tolist() == [True, False] * len(BAND)
        assert chain.settled_oi.tolist() == [_oi(k, r) for k in BAND for r in "CP"]
        assert chain.occ_symbols[0] == "SPY   260605C00585000"
        # two pages fetched, the second through next_url, with the Bearer header both times
        assert [r.query.get("cursor") for r in s.rest.requests] == [None, "p2"]
        assert s.rest.requests[0].query == {"expiration_date": "2026-06-05", "limit": "250"}
        await agen.aclose()


async def test_normal_flow_subscribes_band_and_normalizes_trades_quotes_and_spot():
    async with _Servers() as s:
        src = _source(s.ws, s.rest)
        agen = src.events()
        chain = await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        await wait_until(lambda: s.ws.subscribed["/options"] == _band_subs(BAND)
                         and s.ws.subscribed["/stocks"] == {"T.SPY"})
        c590 = chain.occ_symbols.index("SPY   260605C00590000")
        p588 = chain.occ_symbols.index("SPY   260605P00588000")
        await s.ws.push("/options", [
            {"ev": "Q", "sym": _ticker(590, "C"), "bx": 301, "ax": 302, "bp": 1.20, "ap": 1.25,
             "bs": 10, "as": 12, "t": T_MS + 5, "q": 1},
            {"ev": "T", "sym": _ticker(590, "C"), "x": 301, "p": 1.25, "s": 7, "c": [209],
             "t": T_MS + 6, "q": 2},
            {"ev": "T", "sym": _ticker(588, "P"), "x": 65, "p": 0.80, "s": 3, "c": [209],
             "t": T_MS + 2, "q": 3},
        ])
        await s.ws.push("/stocks", [{"ev": "T", "sym": "SPY", "x": 4, "p": 590.1, "s": 100,
                                     "t": T_MS + 4, "q": 9}])
        seen: list = []
        await next_event(agen, lambda e: isinstance(e, EventBatch) and len(e.trades) == 2, seen)
        batches = [e for e in seen if isinstance(e, EventBatch)]
        spot_ts = np.concatenate([b.spot.ts_ns for b in batches])
        spot_px = np.concatenate([b.spot.price for b in batches])
        b = batches[-1]
        ns = 1_000_000
        # quotes and trades land in one batch, time-sorted, contract indices from the definition
        assert b.quotes.contract.tolist() == [c590]
        assert b.quotes.ts_ns.tolist() == [(T_MS + 5) * ns]
        assert (b.quotes.bid.tolist(), b.quotes.ask.tolist()) == ([1.20], [1.25])
        assert (b.quotes.bid_size.tolist(), b.quotes.ask_size.tolist()) == ([10], [12])
        assert b.trades.contract.tolist() == [p588, c590]
        assert b.trades.ts_ns.tolist() == [(T_MS + 2) * ns, (T_MS + 6) * ns]
        assert b.trades.price.tolist() == [0.80, 1.25]
        assert b.trades.size.tolist() == [3, 7]
        assert b.trades.exchange.tolist() == [65, 301]
        assert spot_px.tolist() == [590.1] and spot_ts.tolist() == [(T_MS + 4) * ns]
        for x in batches:
            assert x.start_ns < x.end_ns
            for arr in (x.spot.ts_ns, x.quotes.ts_ns, x.trades.ts_ns):
                assert np.all((arr > x.start_ns) & (arr <= x.end_ns))
        assert all(a.end_ns == b2.start_ns for a, b2 in zip(batches, batches[1:]))
        await next_event(agen, lambda e: isinstance(e, FeedStatus) and e.kind == "delivered"
                         and e.feed == "equity_options_feed", seen)
        delivered = {e.feed for e in seen if isinstance(e, FeedStatus) and e.kind == "delivered"}
        assert {"equity_feed", "equity_options_feed"} <= delivered
        await agen.aclose()


async def test_spot_move_recenters_band_keeping_earlier_indices():
    async with _Servers() as s:
        src = _source(s.ws, s.rest)
        agen = src.events()
        first = await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        await wait_until(lambda: s.ws.subscribed["/options"] == _band_subs(BAND))
        # 0.85% move > half the 1% band: re-center on 595
        await s.ws.push("/stocks", [{"ev": "T", "sym": "SPY", "p": 595.0, "s": 100, "t": T_MS}])
        second = await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        new_band = [k for k in STRIKES if abs(k / 595 - 1) <= 0.01]  # 590..600
        n0 = first.n_contracts
        assert second.occ_symbols[:n0] == first.occ_symbols
        assert second.settled_oi[:n0].tolist() == first.settled_oi.tolist()
        assert second.strikes[n0:].tolist() == [float(k) for k in range(596, 601) for _ in "CP"]
        await wait_until(lambda: s.ws.subscribed["/options"] == _band_subs(new_band))
        unsubscribed = [m for m in s.ws.received["/options"] if m.get("action") == "unsubscribe"]
        assert {p for m in unsubscribed for p in m["params"].split(",")} == _band_subs(range(585, 590))
        await agen.aclose()


async def test_disconnect_reconnects_resubscribes_and_records_gap():
    async with _Servers() as s:
        src = _source(s.ws, s.rest)
        agen = src.events()
        await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        await wait_until(lambda: s.ws.subscribed["/options"] == _band_subs(BAND))
        s.ws.subscribed["/options"].clear()
        s.ws.refuse_next = 2  # the next two handshakes fail: exercises backoff
        await s.ws.drop("/options")
        seen: list = []
        await next_event(agen, lambda e: isinstance(e, FeedStatus) and e.kind == "gap_end", seen)
        gaps = [e for e in seen if isinstance(e, FeedStatus) and e.kind in ("gap_start", "gap_end")]
        assert [g.kind for g in gaps] == ["gap_start", "gap_end"]
        assert gaps[0].ts_ns <= gaps[1].ts_ns and gaps[0].feed == "equity_options_feed"
        await wait_until(lambda: s.ws.subscribed["/options"] == _band_subs(BAND))  # resubscribed
        assert s.ws.connects["/options"] == 2 and s.ws.refused == 2
        # jittered exponential backoff drawn from the injected rng: the drop is failure 1, the
        # two refused handshakes failures 2 and 3
        rng = random.Random(7)
        expected = [BackoffPolicy().delay_s(i, rng) for i in range(3)]
        assert src.backoff_delays_s == pytest.approx(expected)
        assert 0.25 <= expected[0] <= 0.5 and 0.5 <= expected[1] <= 1.0 and 1.0 <= expected[2] <= 2.0
        errors = [e for e in seen if isinstance(e, FeedStatus) and e.kind == "error"]
        assert len(errors) == 3 and all("retry in" in e.message for e in errors)
        # data flows again after the gap
        await s.ws.push("/options", [{"ev": "T", "sym": _ticker(590, "C"), "p": 1.3, "s": 1,
                                      "t": T_MS + 50}])
        b = await next_event(agen, lambda e: isinstance(e, EventBatch) and len(e.trades) == 1)
        assert b.trades.price.tolist() == [1.3]
        await agen.aclose()


async def test_malformed_frames_are_counted_and_skipped():
    async with _Servers() as s:
        src = _source(s.ws, s.rest)
        agen = src.events()
        await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        await wait_until(lambda: s.ws.subscribed["/options"] == _band_subs(BAND))
        await s.ws.push("/options", "this is not json")
        await s.ws.push("/options", [
            {"ev": "T", "sym": _ticker(590, "C"), "p": "abc", "s": 1, "t": T_MS},  # bad price
            {"ev": "Q", "sym": _ticker(590, "C"), "bp": 1.0, "t": T_MS},  # no ask
            {"ev": "T", "sym": _ticker(590, "C"), "p": 1.1, "s": 2, "t": T_MS + 1},  # good
        ])
        seen: list = []
        await next_event(agen, lambda e: isinstance(e, EventBatch) and len(e.trades) == 1, seen)
        await next_event(agen, lambda e: isinstance(e, FeedStatus) and e.kind == "malformed", seen)
        malformed = [e for e in seen if isinstance(e, FeedStatus) and e.kind == "malformed"]
        assert sum(e.count for e in malformed) == 3 == src.malformed_total
        await agen.aclose()


def test_parser_counts_each_bad_event_in_a_frame():
    frame = parse_ws_frame('[{"ev":"T","sym":"O:SPY260605C00590000","p":1,"s":1,"t":5},'
                           '{"ev":"T","sym":"O:SPY260605C00590000","p":-1,"s":1,"t":5},'
                           '{"foo":1}, 7]')
    assert (len(frame.ticks), frame.malformed) == (1, 3)


async def test_bad_key_fails_fast_with_clear_message_and_no_leak(caplog):
    caplog.set_level(logging.DEBUG)
    async with _Servers(server_key="the-right-key") as s:
        src = _source(s.ws, s.rest)
        agen = src.events()
        with pytest.raises(SourceAuthError) as err:
            await next_event(agen, lambda e: False)
        text = str(err.value)
        assert "MASSIVE_API_KEY" in text and "authentication failed" in text
        assert s.ws.connects["/options"] + s.ws.connects["/stocks"] <= 2  # no retry loop
        for blob in (text, repr(err.value), repr(src), caplog.text):
            assert KEY not in blob


async def test_rest_401_fails_fast_without_leaking_key(caplog):
    caplog.set_level(logging.DEBUG)
    async with _Servers(rest_status=401) as s:
        src = _source(s.ws, s.rest)
        with pytest.raises(SourceAuthError) as err:
            await next_event(src.events(), lambda e: False)
        assert "HTTP 401" in str(err.value) and "MASSIVE_API_KEY" in str(err.value)
        assert len(s.rest.requests) == 1
        assert KEY not in str(err.value) and KEY not in caplog.text


def test_missing_key_names_the_env_var(monkeypatch):
    monkeypatch.delenv("MASSIVE_API_KEY", raising=False)
    with pytest.raises(SourceAuthError, match=r"\$MASSIVE_API_KEY"):
        MassiveSource(["SPY"])


def test_key_comes_from_env_var_named_in_settings(monkeypatch):
    monkeypatch.setenv("MY_MASSIVE", KEY)
    src = make_live_source("massive", ["spy"], {"api_key_env": "MY_MASSIVE",
                                                "ws_url": "ws://127.0.0.1:9/options",
                                                "strike_band_pct": 2.0})
    assert isinstance(src, MassiveSource) and src.symbols == ("SPY",)
    assert src.config.ws_base == "ws://127.0.0.1:9" and src.strike_band_pct == 2.0
    assert KEY not in repr(src) and KEY not in repr(vars(src))


async def test_slow_consumer_drops_frames_bounded_and_reports_gap():
    async with _Servers() as s:
        src = _source(s.ws, s.rest, buffer_max_frames=5)
        agen = src.events()
        await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        await wait_until(lambda: s.ws.subscribed["/options"] == _band_subs(BAND))
        # the consumer stops pulling while 40 frames arrive
        for i in range(40):
            await s.ws.push("/options", [{"ev": "T", "sym": _ticker(590, "C"), "p": 1.0, "s": 1,
                                          "t": T_MS + i}])
        await wait_until(lambda: src._buffer.dropped_total >= 35)
        assert src._buffer.n_frames <= 5 and src._buffer.high_water <= 5
        # frames flow again: the drop episode is reported as a gap with the dropped count
        seen: list = []
        await next_event(agen, lambda e: isinstance(e, FeedStatus) and e.kind == "gap_start", seen)
        await s.ws.push("/options", [{"ev": "T", "sym": _ticker(590, "C"), "p": 2.0, "s": 1,
                                      "t": T_MS + 100}])

        def all_drops_reported(e) -> bool:
            reported = sum(x.count for x in seen if isinstance(x, FeedStatus) and x.kind == "gap_end")
            return reported == src._buffer.dropped_total

        await next_event(agen, all_drops_reported, seen)
        assert [e.feed for e in seen if isinstance(e, FeedStatus) and e.kind == "gap_start"][0] \
            == "equity_options_feed"
        await agen.aclose()


async def test_band_wider_than_the_quote_cap_is_reported():
    async with _Servers() as s:
        src = _source(s.ws, s.rest)
        src.max_option_keys = 10  # the real cap is 1,000 contracts; 22 are in this band
        seen: list = []
        agen = src.events()
        await next_event(agen, lambda e: isinstance(e, ChainDefinition), seen)
        errors = [e for e in seen if isinstance(e, FeedStatus) and e.kind == "error"]
        assert errors and "exceed the vendor limit of 10" in errors[0].message
        await agen.aclose()


async def test_delayed_cluster_says_option_quotes_are_not_streamed():
    # The vendor's socket spec (.massive/websocket.json) lists /options/Q as real-time only.
    async with _Servers() as s:
        src = _source(s.ws, s.rest)
        src.config = src.config.model_copy(update={"ws_url": "wss://delayed.massive.com"})
        snap = await src._fetch_chain("SPY", SESSION)
        assert src.delayed_cluster and any("no option quotes" in n for n in snap.notes)
        live = _source(s.ws, s.rest)
        assert not live.delayed_cluster and not any("no option quotes" in n for n in
                                                     (await live._fetch_chain("SPY", SESSION)).notes)
        await src.aclose()
        await live.aclose()
