"""Tradier adapter against loopback REST + WebSocket servers speaking its wire format.

Wire format taken from:
- https://docs.tradier.com/reference/websocket-market-data-streaming and
  https://documentation.tradier.com/brokerage-api/streaming/wss-market-websocket
  (``wss://ws.tradier.com/v1/markets/events``; payload symbols/sessionid/filter/linebreak/
  validOnly; resend the payload with the same sessionid to change symbols),
- https://documentation.tradier.com/brokerage-api/streaming/create-market-session
  (``POST /v1/markets/events/session`` with ``Authorization: Bearer``; 5-minute session),
- https://documentation.tradier.com/brokerage-api/markets/get-options-chains
  (``GET /v1/markets/options/chains?symbol=&expiration=&greeks=``),
- github.com/api-evangelist/tradier ``asyncapi/tradier-asyncapi.yml`` (trade fields
  type/symbol/exch/price/size/cvol/date/last, quote fields bid/bidsz/bidexch/biddate/ask/
  asksz/askexch/askdate; prices as strings in trades, epoch-ms dates).
The chain/quote/session reply envelopes (``options.option``, ``quotes.quote``,
``stream.sessionid``) follow Tradier's published response examples as we know them; the
error reply of the stream to a bad session id is not documented and is modelled here.
"""

from __future__ import annotations

import itertools
import logging
from datetime import UTC, date, datetime

import pytest

from zdte_tui.market.events import ChainDefinition, EventBatch, FeedStatus
from zdte_tui.market.occ import OptionSymbol, format_occ
from zdte_tui.sources.live.errors import SourceAuthError
from zdte_tui.sources.live.factory import make_live_source
from zdte_tui.sources.tradier.config import TradierConfig
from zdte_tui.sources.tradier.parsing import parse_ws_frame
from zdte_tui.sources.tradier.source import TradierSource

from .servers import (
    RestServer,
    WsServer,
    loopback_source_options,
    next_event,
    tradier_handler,
    wait_until,
)

SESSION = date(2026, 6, 5)
START_NS = int(datetime(2026, 6, 5, 14, 0, tzinfo=UTC).timestamp() * 1e9)  # 10:00 ET
T_MS = START_NS // 1_000_000 + 30_000  # vendor event times, 30 s ahead of the test clock
TOKEN = "tt-TEST-0a1b2c3d4e5f"
PATH = "/v1/markets/events"
STRIKES = list(range(580, 601))


def _sym(strike: float, right: str, expiry: date = SESSION, root: str = "SPY") -> str:
    return format_occ(OptionSymbol(root, expiry, right, float(strike)), "compact")


def _oi(strike: float, right: str) -> int:
    return int(strike) * (3 if right == "C" else 5) % 1000


class _Tradier:
    def __init__(self, *, token: str = TOKEN) -> None:
        self.token = token
        self.sids = (f"sid-{i}" for i in itertools.count())
        self.ws = WsServer(tradier_handler, state={"sessions": set()})
        self.rest = RestServer({
            ("GET", "/v1/markets/options/chains"): self._chain,
            ("GET", "/v1/markets/quotes"): self._quotes,
            ("POST", "/v1/markets/events/session"): self._session,
        })

    def _authed(self, req) -> bool:
        return req.headers.get("authorization") == f"Bearer {self.token}"

    def _chain(self, req):
        if not self._authed(req):
            return 401, "Invalid Access Token"
        assert req.query == {"symbol": "SPY", "expiration": "2026-06-05", "greeks": "false"}
        opts = [{"symbol": _sym(k, r), "strike": float(k), "option_type": "call" if r == "C" else "put",
                 "open_interest": _oi(k, r), "expiration_date": "2026-06-05", "root_symbol": "SPY",
                 "underlying": "SPY", "contract_size": 100, "bid": 1.0, "ask": 1.1}
                for k in STRIKES for r in "CP"]
        return 200, {"options": {"option": opts}}

    def _quotes(self, req):
        if not self._authed(req):
            return 401, "Invalid Access Token"
        return 200, {"quotes": {"quote": {"symbol": "SPY", "last": 590.0, "prevclose": 587.5,
                                          "type": "etf"}}}

    def _session(self, req):
        if not self._authed(req):
            return 401, "Invalid Access Token"
        sid = next(self.sids)
        self.ws.state["sessions"].add(sid)
        return 200, {"stream": {"url": "https://stream.tradier.com/v1/markets/events", "sessionid": sid}}

    async def __aenter__(self):
        await self.rest.__aenter__()
        await self.ws.__aenter__()
        return self

    async def __aexit__(self, *exc):
        await self.ws.__aexit__(*exc)
        await self.rest.__aexit__(*exc)

    def source(self, **kw) -> TradierSource:
        opts = loopback_source_options(SESSION, START_NS, 5) | dict(
            token=TOKEN, config=TradierConfig(rest_url=self.rest.url, stream_url=self.ws.url)) | kw
        return TradierSource(["SPY"], **opts)


BAND = list(range(585, 596))


def _symbols(strikes) -> set[str]:
    return {"SPY"} | {_sym(k, r) for k in strikes for r in "CP"}


async def test_chain_band_prev_close_and_subscription_payload():
    async with _Tradier() as t:
        agen = t.source().events()
        chain = await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        assert chain.strikes.tolist() == [float(k) for k in BAND for _ in "CP"]
        assert chain.settled_oi.tolist() == [_oi(k, r) for k in BAND for r in "CP"]
        assert chain.prev_close == 587.5
        await wait_until(lambda: t.ws.subscribed[PATH] == _symbols(BAND))
        payload = t.ws.received[PATH][-1]
        assert payload["sessionid"] == "sid-0" and payload["filter"] == ["trade", "quote"]
        assert payload["linebreak"] is True and payload["validOnly"] is True
        await agen.aclose()


async def test_trades_and_quotes_are_normalized():
    async with _Tradier() as t:
        agen = t.source().events()
        chain = await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        await wait_until(lambda: t.ws.subscribed[PATH] == _symbols(BAND))
        c592 = chain.occ_symbols.index("SPY   260605C00592000")
        quote = {"type": "quote", "symbol": _sym(592, "C"), "bid": 0.55, "bidsz": 20, "bidexch": "C",
                 "biddate": str(T_MS + 3), "ask": 0.6, "asksz": 31, "askexch": "X",
                 "askdate": str(T_MS + 4)}
        trade = {"type": "trade", "symbol": _sym(592, "C"), "exch": "X", "price": "0.6", "size": "12",
                 "cvol": "1200", "date": str(T_MS + 8), "last": "0.6"}
        spot = {"type": "trade", "symbol": "SPY", "exch": "Q", "price": "590.25", "size": "300",
                "cvol": "1000000", "date": str(T_MS + 6), "last": "590.25"}
        import json
        # linebreak=true: several payloads may share a frame
        await t.ws.push(PATH, "\n".join(json.dumps(x) for x in (quote, trade, spot)) + "\n")
        seen: list = []
        await next_event(agen, lambda e: isinstance(e, EventBatch) and len(e.trades) == 1, seen)
        b = [e for e in seen if isinstance(e, EventBatch)][-1]
        ms = 1_000_000
        assert b.quotes.contract.tolist() == [c592] and b.quotes.ts_ns.tolist() == [(T_MS + 4) * ms]
        assert (b.quotes.bid[0], b.quotes.ask[0], b.quotes.bid_size[0], b.quotes.ask_size[0]) == (0.55, 0.6, 20, 31)
        assert (b.trades.price[0], b.trades.size[0], b.trades.exchange[0]) == (0.6, 12, ord("X"))
        assert b.trades.ts_ns.tolist() == [(T_MS + 8) * ms]
        assert b.spot.price.tolist() == [590.25] and b.spot.ts_ns.tolist() == [(T_MS + 6) * ms]
        await agen.aclose()


async def test_recenter_resends_the_whole_symbol_list():
    async with _Tradier() as t:
        agen = t.source().events()
        await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        await wait_until(lambda: t.ws.subscribed[PATH] == _symbols(BAND))
        await t.ws.push(PATH, '{"type":"trade","symbol":"SPY","price":"584.0","size":"1","date":"%d"}' % T_MS)
        second = await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        assert second.strikes[2 * len(BAND):].tolist() == [float(k) for k in range(579 + 1, 585) for _ in "CP"]
        await wait_until(lambda: t.ws.subscribed[PATH] == _symbols(range(580, 590)))
        await agen.aclose()


async def test_disconnect_gets_new_session_resubscribes_and_records_gap():
    async with _Tradier() as t:
        src = t.source()
        agen = src.events()
        await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        await wait_until(lambda: t.ws.subscribed[PATH] == _symbols(BAND))
        t.ws.subscribed[PATH] = set()
        await t.ws.drop(PATH)
        seen: list = []
        await next_event(agen, lambda e: isinstance(e, FeedStatus) and e.kind == "gap_end", seen)
        assert [e.kind for e in seen if isinstance(e, FeedStatus) and e.kind.startswith("gap")] \
            == ["gap_start", "gap_end"]
        await wait_until(lambda: t.ws.subscribed[PATH] == _symbols(BAND))
        assert t.ws.received[PATH][-1]["sessionid"] == "sid-1"  # a fresh session per connection
        await agen.aclose()


async def test_malformed_payloads_are_counted():
    async with _Tradier() as t:
        src = t.source()
        agen = src.events()
        await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        await wait_until(lambda: t.ws.subscribed[PATH] == _symbols(BAND))
        await t.ws.push(PATH, '{"type":"trade","symbol":"%s","price":"x","size":"1","date":"%d"}\n'
                              '{not json}\n'
                              '{"type":"quote","symbol":"%s","bid":1.0}\n'
                              '{"type":"trade","symbol":"%s","price":"1.5","size":"2","date":"%d"}'
                        % (_sym(590, "C"), T_MS, _sym(590, "C"), _sym(590, "C"), T_MS + 1))
        seen: list = []
        await next_event(agen, lambda e: isinstance(e, EventBatch) and len(e.trades) == 1, seen)
        await next_event(agen, lambda e: isinstance(e, FeedStatus) and e.kind == "malformed", seen)
        assert sum(e.count for e in seen if isinstance(e, FeedStatus) and e.kind == "malformed") == 3
        await agen.aclose()


def test_summary_and_timesale_payloads_are_ignored_not_malformed():
    frame = parse_ws_frame('{"type":"summary","symbol":"SPY","open":"589.0"}\n'
                           '{"type":"timesale","symbol":"SPY","last":"590"}')
    assert (frame.ticks, frame.malformed) == ([], 0)


async def test_bad_token_fails_fast_and_is_never_shown(caplog):
    caplog.set_level(logging.DEBUG)
    async with _Tradier(token="another-token") as t:
        src = t.source()
        with pytest.raises(SourceAuthError) as err:
            await next_event(src.events(), lambda e: False)
        text = str(err.value)
        assert "HTTP 401" in text and "TRADIER_TOKEN" in text
        assert len(t.rest.requests) == 1 and t.ws.connects[PATH] == 0
        for blob in (text, repr(err.value), repr(src), caplog.text):
            assert TOKEN not in blob


async def test_token_revoked_before_reconnect_fails_fast():
    async with _Tradier() as t:
        agen = t.source().events()
        await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        await wait_until(lambda: t.ws.subscribed[PATH] == _symbols(BAND))
        t.token = "rotated"
        await t.ws.drop(PATH)
        with pytest.raises(SourceAuthError, match="events/session"):
            await next_event(agen, lambda e: False)
        assert sum(r.path == "/v1/markets/events/session" for r in t.rest.requests) == 2


async def test_slow_consumer_drops_are_bounded_and_reported():
    async with _Tradier() as t:
        src = t.source(buffer_max_frames=3)
        agen = src.events()
        await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        await wait_until(lambda: t.ws.subscribed[PATH] == _symbols(BAND))
        for i in range(25):
            await t.ws.push(PATH, '{"type":"trade","symbol":"%s","price":"1","size":"1","date":"%d"}'
                            % (_sym(590, "P"), T_MS + i))
        await wait_until(lambda: src._buffer.dropped_total >= 22)
        assert src._buffer.high_water <= 3
        seen: list = []

        def all_drops_reported(e) -> bool:
            return sum(x.count for x in seen if isinstance(x, FeedStatus)
                       and x.kind == "gap_end") == src._buffer.dropped_total

        await next_event(agen, all_drops_reported, seen)
        assert any(isinstance(e, FeedStatus) and e.kind == "gap_start" for e in seen)
        await agen.aclose()


def test_factory_reads_token_env_from_settings(monkeypatch):
    monkeypatch.setenv("TRADIER_TOKEN", TOKEN)
    src = make_live_source("tradier", ["SPY"], {})
    assert isinstance(src, TradierSource) and src.config.events_url == "wss://ws.tradier.com/v1/markets/events"
    assert TOKEN not in repr(src)
    with pytest.raises(ValueError, match="unknown live source"):
        make_live_source("ibkr", ["SPY"], {})


def test_factory_accepts_the_settings_model(monkeypatch):
    from zdte_tui.config import default_settings

    monkeypatch.setenv("TRADIER_TOKEN", TOKEN)
    monkeypatch.setenv("MASSIVE_API_KEY", TOKEN)
    settings = default_settings()
    tradier = make_live_source("tradier", ["SPY"], settings)
    # [live.tradier] rest_url carries /v1; request paths add it once
    assert tradier.config.api_base == "https://api.tradier.com"
    assert tradier.strike_band_pct == settings.engine.strike_band_pct  # percent, engine default
    massive = make_live_source("massive", ["SPX"], settings)
    assert massive.config.ws_base == "wss://socket.massive.com"
    assert massive._channels() == ("options", "indices")
    theta = make_live_source("thetadata", ["SPY"], settings)
    assert theta.config.ws_url == "ws://127.0.0.1:25520/v1/events"
