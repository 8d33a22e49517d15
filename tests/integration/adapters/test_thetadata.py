"""ThetaData adapter against a loopback Theta Terminal (REST v2 + ``/v1/events`` socket).

Wire format taken from:
- https://docs.thetadata.us/Streaming/Getting-Started.html (one connection to
  ``ws://127.0.0.1:25520/v1/events`` for requests and all messages; STATUS every second),
- https://http-docs.thetadata.us/Streaming/US-Options/Trade-Stream.html (``STREAM`` request:
  msg_type/sec_type/req_type/add/id/contract, strike in 1/10 cent, incrementing id),
- https://http-docs.thetadata.us/operations/get-bulk_snapshot-option-open_interest.html
  (``/v2/bulk_snapshot/option/open_interest?root=&exp=``; reply header.format
  ``["ms_of_day","open_interest","date"]`` with response[].contract/ticks),
- QuantConnect Lean.DataSource.ThetaData ``Models/WebSocket/WebSocketTrade.cs`` /
  ``WebSocketQuote.cs`` / ``WebSocketResponse.cs`` (header/contract/trade/quote bodies:
  ms_of_day, sequence, size, condition, price, exchange, date; bid/ask sizes & exchanges).
- https://docs.thetadata.us/Streaming/Verify-Stream-Requests.html (``REQ_RESPONSE`` replies
  SUBSCRIBED / ERROR / MAX_STREAMS_REACHED / INVALID_PERMS) and
  https://http-docs.thetadata.us/Articles/Data-And-Requests/Value-Maps.html (HTTP 471 PERMISSION,
  472 NO_DATA); the messages themselves are parsed in ``tests/sources/live/test_vendor_wire.py``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from zdte_tui.market.events import ChainDefinition, EventBatch, FeedStatus
from zdte_tui.sources.live.errors import SourceAuthError
from zdte_tui.sources.live.factory import make_live_source
from zdte_tui.sources.thetadata.config import ThetaDataConfig
from zdte_tui.sources.thetadata.parsing import et_ms_to_ns, parse_ws_frame
from zdte_tui.sources.thetadata.source import ThetaDataSource

from .servers import (
    RestServer,
    WsServer,
    loopback_source_options,
    next_event,
    thetadata_handler,
    wait_until,
)

SESSION = date(2026, 6, 5)
START_NS = int(datetime(2026, 6, 5, 14, 0, tzinfo=UTC).timestamp() * 1e9)  # 10:00 ET
MS_10AM = 10 * 3600 * 1000
MS_T = MS_10AM + 30_000  # vendor event times: 10:00:30 ET, ahead of the test clock (10:00:00)
STRIKES = [k * 1000 for k in range(580, 601)]  # 1/10 cent
PATH = "/v1/events"


def _oi(strike_tc: int, right: str) -> int:
    return (strike_tc // 1000) * (3 if right == "C" else 5) % 1000


def _routes(*, oi_status: int = 200, spot: bool = True):
    def strikes(req):
        assert req.query == {"root": "SPY", "exp": "20260605"}
        return 200, {"header": {"latency_ms": 1, "error_type": "null", "next_page": "null",
                                "format": None}, "response": STRIKES}

    def oi(req):
        if oi_status != 200:
            return oi_status, "PERMISSION: your subscription does not include this data"
        return 200, {"header": {"format": ["ms_of_day", "open_interest", "date"], "next_page": "null"},
                     "response": [{"contract": {"root": "SPY", "expiration": 20260605, "strike": k,
                                                "right": r},
                                   "ticks": [[23_400_000, _oi(k, r), 20260605]]}
                                  for k in STRIKES[:-1] for r in "CP"]}  # 600 has no OI message

    def quote(req):
        if not spot:
            return 472, "NO_DATA"
        return 200, {"header": {"format": ["ms_of_day", "bid_size", "bid_exchange", "bid",
                                           "bid_condition", "ask_size", "ask_exchange", "ask",
                                           "ask_condition", "date"], "next_page": "null"},
                     "response": [[MS_10AM, 10, 1, 589.98, 0, 12, 1, 590.02, 0, 20260605]]}

    return {("GET", "/v2/list/strikes"): strikes,
            ("GET", "/v2/bulk_snapshot/option/open_interest"): oi,
            ("GET", "/v2/snapshot/stock/quote"): quote}


class _Terminal:
    def __init__(self, **kw) -> None:
        self.rest = RestServer(_routes(**kw))
        self.ws = WsServer(thetadata_handler)

    async def __aenter__(self):
        await self.rest.__aenter__()
        await self.ws.__aenter__()
        return self

    async def __aexit__(self, *exc):
        await self.ws.__aexit__(*exc)
        await self.rest.__aexit__(*exc)

    def source(self, **kw) -> ThetaDataSource:
        opts = loopback_source_options(SESSION, START_NS, 3) | dict(
            config=ThetaDataConfig(port=self.rest.port, ws_port=self.ws.port)) | kw
        return ThetaDataSource(["SPY"], **opts)


BAND = list(range(585, 596))


def _subs(strikes) -> set[str]:
    subs = {"STOCK|TRADE|SPY|||"}
    subs |= {f"OPTION|{req}|SPY|20260605|{k * 1000}|{r}" for k in strikes for r in "CP"
             for req in ("TRADE", "QUOTE")}
    return subs


def _trade(strike: int, right: str, ms: int, price: float, size: int, exchange: int = 65) -> dict:
    return {"header": {"type": "TRADE", "status": "CONNECTED"},
            "contract": {"security_type": "OPTION", "root": "SPY", "expiration": 20260605,
                         "strike": strike * 1000, "right": right},
            "trade": {"ms_of_day": ms, "sequence": 1, "size": size, "condition": 0,
                      "price": price, "exchange": exchange, "date": 20260605}}


def test_ms_of_day_is_eastern_time():
    # 10:00:01.000 ET on 2026-06-05 (EDT, UTC-4) is 14:00:01 UTC
    assert et_ms_to_ns(20260605, MS_10AM + 1000) == START_NS + 1_000_000_000


async def test_chain_from_strike_list_and_bulk_oi_centered_on_snapshot_mid():
    async with _Terminal() as t:
        agen = t.source().events()
        chain = await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        assert chain.strikes.tolist() == [float(k) for k in BAND for _ in "CP"]
        assert chain.settled_oi.tolist() == [_oi(k * 1000, r) for k in BAND for r in "CP"]
        assert chain.occ_symbols[:2] == ("SPY   260605C00585000", "SPY   260605P00585000")
        await agen.aclose()


async def test_stream_requests_and_normalized_events():
    async with _Terminal() as t:
        agen = t.source().events()
        chain = await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        await wait_until(lambda: t.ws.subscribed[PATH] == _subs(BAND))
        ids = [m["id"] for m in t.ws.received[PATH]]
        assert ids == list(range(len(ids)))  # incremented per request, as documented
        await t.ws.push(PATH, {"header": {"type": "STATUS", "status": "CONNECTED"}})
        await t.ws.push(PATH, {"header": {"type": "QUOTE", "status": "CONNECTED"},
                               "contract": {"security_type": "OPTION", "root": "SPY",
                                            "expiration": 20260605, "strike": 590000, "right": "P"},
                               "quote": {"ms_of_day": MS_T + 5, "bid_size": 4, "bid_exchange": 1,
                                         "bid": 1.1, "bid_condition": 0, "ask_size": 6,
                                         "ask_exchange": 5, "ask": 1.15, "ask_condition": 0,
                                         "date": 20260605}})
        await t.ws.push(PATH, _trade(590, "P", MS_T + 7, 1.15, 9, exchange=22))
        await t.ws.push(PATH, {"header": {"type": "TRADE", "status": "CONNECTED"},
                               "contract": {"security_type": "STOCK", "root": "SPY"},
                               "trade": {"ms_of_day": MS_T + 6, "sequence": 3, "size": 100,
                                         "condition": 0, "price": 590.05, "exchange": 3,
                                         "date": 20260605}})
        seen: list = []
        await next_event(agen, lambda e: isinstance(e, EventBatch) and len(e.trades) == 1, seen)
        b = [e for e in seen if isinstance(e, EventBatch)][-1]
        p590 = chain.occ_symbols.index("SPY   260605P00590000")
        ms = 1_000_000
        assert b.quotes.contract.tolist() == [p590] and b.quotes.ts_ns.tolist() == [START_NS + (30_000 + 5) * ms]
        assert (b.quotes.bid[0], b.quotes.ask[0], b.quotes.bid_size[0], b.quotes.ask_size[0]) == (1.1, 1.15, 4, 6)
        assert b.trades.contract.tolist() == [p590] and b.trades.ts_ns.tolist() == [START_NS + (30_000 + 7) * ms]
        assert (b.trades.price[0], b.trades.size[0], b.trades.exchange[0]) == (1.15, 9, 22)
        spots = [(int(ts), float(px)) for e in seen if isinstance(e, EventBatch)
                 for ts, px in zip(e.spot.ts_ns, e.spot.price)]
        assert spots == [(START_NS + (30_000 + 6) * ms, 590.05)]
        await agen.aclose()


async def test_waits_for_first_underlying_print_when_no_spot_snapshot():
    async with _Terminal(spot=False) as t:
        agen = t.source().events()
        oi = await next_event(agen, lambda e: True)  # starts the source
        assert (oi.kind, oi.feed) == ("delivered", "oi_feed")
        await wait_until(lambda: t.ws.subscribed[PATH] == {"STOCK|TRADE|SPY|||"})
        await t.ws.push(PATH, {"header": {"type": "TRADE", "status": "CONNECTED"},
                               "contract": {"security_type": "STOCK", "root": "SPY"},
                               "trade": {"ms_of_day": MS_T, "price": 594.0, "size": 1,
                                         "date": 20260605}})
        chain = await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        assert chain.strikes.min() == 589.0 and chain.strikes.max() == 599.0
        # strike 600 has no OI message: listed with OI 0 (not in this band, checked via parser)
        await wait_until(lambda: t.ws.subscribed[PATH] == _subs(range(589, 600)))
        await agen.aclose()


async def test_terminal_socket_drop_reconnects_resubscribes_and_records_gap():
    async with _Terminal() as t:
        src = t.source()
        agen = src.events()
        await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        await wait_until(lambda: t.ws.subscribed[PATH] == _subs(BAND))
        t.ws.subscribed[PATH].clear()
        t.ws.refuse_next = 1
        await t.ws.drop(PATH)
        seen: list = []
        await next_event(agen, lambda e: isinstance(e, FeedStatus) and e.kind == "gap_end", seen)
        assert [e.kind for e in seen if isinstance(e, FeedStatus)
                and e.kind.startswith("gap")] == ["gap_start", "gap_end"]
        await wait_until(lambda: t.ws.subscribed[PATH] == _subs(BAND))  # resubscribed
        assert t.ws.connects[PATH] == 2
        assert len(src.backoff_delays_s) == 2 and src.reconnects == 1  # the drop, then the refusal
        await agen.aclose()


async def test_malformed_messages_are_counted_not_raised():
    async with _Terminal() as t:
        src = t.source()
        agen = src.events()
        await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        await wait_until(lambda: t.ws.subscribed[PATH] == _subs(BAND))
        await t.ws.push(PATH, "{broken")
        await t.ws.push(PATH, {"no": "header"})
        bad_right = _trade(590, "X", MS_T, 1.0, 1)
        await t.ws.push(PATH, bad_right)
        await t.ws.push(PATH, _trade(590, "C", MS_T + 1, 1.0, 1))
        seen: list = []
        await next_event(agen, lambda e: isinstance(e, EventBatch) and len(e.trades) == 1, seen)
        await next_event(agen, lambda e: isinstance(e, FeedStatus) and e.kind == "malformed", seen)
        assert sum(e.count for e in seen if isinstance(e, FeedStatus) and e.kind == "malformed") == 3
        await agen.aclose()


async def test_permission_error_from_terminal_fails_fast():
    async with _Terminal(oi_status=471) as t:
        with pytest.raises(SourceAuthError, match="logged in"):
            await next_event(t.source().events(), lambda e: False)
        assert t.ws.connects[PATH] == 0


async def test_invalid_perms_stream_reply_fails_fast():
    async with _Terminal() as t:
        agen = t.source().events()
        await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        await wait_until(lambda: t.ws.subscribed[PATH] == _subs(BAND))
        await t.ws.push(PATH, {"header": {"type": "REQ_RESPONSE", "response": "INVALID_PERMS", "req_id": 3}})
        with pytest.raises(SourceAuthError, match="subscription"):
            await next_event(agen, lambda e: False)


def test_status_disconnected_is_not_malformed():
    frame = parse_ws_frame('{"header": {"type": "STATUS", "status": "DISCONNECTED"}}')
    assert (frame.ticks, frame.malformed, frame.vendor_status) == ([], 0, "DISCONNECTED")


async def test_slow_consumer_is_bounded_and_drop_is_a_gap():
    async with _Terminal() as t:
        src = t.source(buffer_max_frames=4)
        agen = src.events()
        await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        await wait_until(lambda: t.ws.subscribed[PATH] == _subs(BAND))
        n_acks = len(t.ws.received[PATH])  # one REQ_RESPONSE per request, also unread
        for i in range(30):
            await t.ws.push(PATH, _trade(590, "C", MS_T + i, 1.0, 1))
        await wait_until(lambda: src._buffer.dropped_total + src._buffer.n_frames >= 30 + n_acks)
        assert src._buffer.high_water <= 4 and src._buffer.dropped_total >= 30 + n_acks - 4
        seen: list = []
        await next_event(agen, lambda e: isinstance(e, FeedStatus) and e.kind == "gap_start", seen)
        await t.ws.push(PATH, _trade(590, "C", MS_T + 99, 1.0, 1))

        def all_drops_reported(e) -> bool:
            reported = sum(x.count for x in seen if isinstance(x, FeedStatus) and x.kind == "gap_end")
            return reported == src._buffer.dropped_total

        await next_event(agen, all_drops_reported, seen)
        await agen.aclose()


def test_factory_builds_thetadata_from_its_own_section():
    src = make_live_source("thetadata", ["SPX"], ThetaDataConfig(host="127.0.0.1", port=1, ws_port=2))
    assert isinstance(src, ThetaDataSource)
    assert src.config.ws_url == "ws://127.0.0.1:2/v1/events"
    assert src._channel_feed("events") is None
