"""Every live adapter (Massive, ThetaData, Tradier) against fault-injecting loopback servers
(issue 14 items 2, 6, 7, 8): a server that drops each connection right after it opened, one that
never lets us connect, a stalled feed, huge frames, malformed REST rows and self-referencing
pagination. All sockets are on 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from zdte_tui.market.events import ChainDefinition, EventBatch, FeedStatus
from zdte_tui.sources.live.backoff import BackoffPolicy

from . import test_massive as M
from . import test_thetadata as T
from . import test_tradier as R
from .servers import FakeClock, FakeSleep, next_event, wait_until


@dataclass
class Vendor:
    name: str
    servers: Callable[[], Any]  # an async context manager with .ws, .rest
    make_source: Callable[..., Any]  # (servers, **kw) -> source
    path: str  # the websocket path carrying options
    frame: Callable[[], str]  # one valid data frame for that path
    drop_after_connect: Callable[[Any], None]  # install the "opens, then fails" fault

    def source(self, s: Any, **kw: Any) -> Any:
        return self.make_source(s, **kw)

    @property
    def channel(self) -> str:
        """The source's name for the channel on :attr:`path`."""
        return "options" if self.name == "massive" else "events"


def _massive_drop(s: Any) -> None:
    s.ws.state["after_auth"] = {"/options": "max_connections"}  # auth_success, max_connections, close


def _close_on_connect(path: str) -> Callable[[Any], None]:
    def install(s: Any) -> None:
        s.ws.state["close_on_connect"] = {path}
    return install


VENDORS = [
    Vendor("massive", M._Servers, lambda s, **kw: M._source(s.ws, s.rest, **kw), "/options",
           lambda: json.dumps([{"ev": "T", "sym": M._ticker(590, "C"), "p": 1.3, "s": 1, "t": M.T_MS + 50}]),
           _massive_drop),
    Vendor("thetadata", T._Terminal, lambda s, **kw: s.source(**kw), T.PATH,
           lambda: json.dumps(T._trade(590, "C", T.MS_T, 1.3, 1)), _close_on_connect(T.PATH)),
    Vendor("tradier", R._Tradier, lambda s, **kw: s.source(**kw), R.PATH,
           lambda: json.dumps({"type": "trade", "symbol": R._sym(590, "C"), "exch": "X", "price": "1.3",
                               "size": "1", "cvol": "1", "date": str(R.T_MS + 8), "last": "1.3"}) + "\n",
           _close_on_connect(R.PATH)),
]
IDS = [v.name for v in VENDORS]


def _is(kind: str, text: str = "") -> Callable[[Any], bool]:
    return lambda e: isinstance(e, FeedStatus) and e.kind == kind and text in (e.message or "")


# --------------------------------------------------------------------------- item 2: backoff
@pytest.mark.parametrize("vendor", VENDORS, ids=IDS)
async def test_a_connection_that_opens_then_fails_is_retried_with_capped_exponential_backoff(vendor):
    """Production defaults (BackoffPolicy(), stable_after_s=30): a server that accepts (Massive:
    auth_success, then max_connections) and closes at once is retried after 0.5, 1, 2, ... 30 s,
    never in a tight loop. The fake sleep records the delays: nothing waits."""
    sleep = FakeSleep()
    async with vendor.servers() as s:
        vendor.drop_after_connect(s)
        src = vendor.source(s, sleep=sleep, rng=random.Random(11), max_consecutive_failures=None)
        agen = src.events()
        await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        await wait_until(lambda: len(sleep.delays) >= 9, timeout=20)
        health = src.health()["channels"][vendor.channel]
        connects = s.ws.connects[vendor.path]
        await agen.aclose()

    rng = random.Random(11)
    policy = BackoffPolicy()
    expected = [policy.delay_s(i, rng) for i in range(9)]
    assert sleep.delays[:9] == pytest.approx(expected)
    assert 0.25 <= expected[0] <= 0.5 and 0.5 <= expected[1] <= 1.0 and 1.0 <= expected[2] <= 2.0
    assert all(15.0 <= d <= 30.0 for d in sleep.delays[6:9])  # capped at max_s = 30 s
    assert connects <= len(sleep.delays) + 1  # one connection per backoff, never a storm
    assert health["failures"] >= 9 and health["circuit"] in ("open", "half_open", "closed")


@pytest.mark.parametrize("vendor", VENDORS, ids=IDS)
async def test_a_feed_that_never_connects_is_a_gap_from_the_start_and_an_open_circuit(vendor):
    sleep = FakeSleep()
    async with vendor.servers() as s:
        s.ws.refuse_next = 10_000
        src = vendor.source(s, sleep=sleep, max_consecutive_failures=None)
        agen = src.events()
        seen: list = []
        first_def = await next_event(agen, lambda e: isinstance(e, ChainDefinition), seen)
        gap = await next_event(agen, _is("gap_start", "not connected"), seen)
        await wait_until(lambda: max(c["failures"] for c in src.health()["channels"].values()) >= 3, timeout=10)
        channels = src.health()["channels"]
        await agen.aclose()

    delivered = [e.ts_ns for e in seen if isinstance(e, FeedStatus) and e.kind == "delivered"]
    assert gap.ts_ns <= max(delivered) + 10**9  # stamped when the channel started (just after the chain)
    assert any(c["circuit"] in ("open", "half_open") and not c["connected"] and c["failures"] >= 3
               for c in channels.values())
    assert isinstance(first_def, ChainDefinition)


async def test_massive_without_an_auth_reply_times_out_into_a_gap():
    sleep = FakeSleep()
    async with M._Servers() as s:
        s.ws.state["auth_silent"] = {"/options"}
        src = M._source(s.ws, s.rest, sleep=sleep, max_consecutive_failures=None,
                        config=M.MassiveConfig(ws_url=s.ws.url, rest_url=s.rest.url, open_timeout_s=0.2))
        agen = src.events()
        gap = await next_event(agen, _is("gap_start", "not connected (timed out)"), timeout=10)
        await agen.aclose()

    assert gap.feed == "equity_options_feed"


# --------------------------------------------------------------------------- item 6: silence watchdog
@pytest.mark.parametrize("vendor", VENDORS, ids=IDS)
async def test_a_stalled_feed_is_a_stale_gap_until_data_comes_back(vendor):
    async with vendor.servers() as s:
        src = vendor.source(s, silence_timeout_s=0.3)
        agen = src.events()
        await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        seen: list = []
        stale = await next_event(agen, _is("gap_start", "stale"), seen)
        stale_health = {ch: c["stale"] for ch, c in src.health()["channels"].items()}
        await s.ws.push(vendor.path, vendor.frame())
        after: list = []
        end = await next_event(agen, _is("gap_end", "data again"), after)
        batch = await next_event(agen, lambda e: isinstance(e, EventBatch) and len(e.trades) == 1, after)
        await agen.aclose()

    assert "no data for" in stale.message and any(stale_health.values())
    assert end.ts_ns >= stale.ts_ns
    assert batch.trades.price.tolist() == [1.3]


# --------------------------------------------------------------------------- item 7: bytes bound
@pytest.mark.parametrize("vendor", VENDORS, ids=IDS)
async def test_huge_frames_are_bounded_in_bytes_dropped_counted_and_reported(vendor):
    big = "x" * 200_000
    async with vendor.servers() as s:
        src = vendor.source(s, buffer_max_bytes=1_000_000)
        agen = src.events()
        await next_event(agen, lambda e: isinstance(e, ChainDefinition))
        await wait_until(lambda: src.health()["channels"].get(vendor.channel, {}).get("connected"), timeout=5)
        for _ in range(30):  # 6 MB pushed while nobody pulls events
            await s.ws.push(vendor.path, big)
        await wait_until(lambda: src.health()["buffer"]["dropped_frames"] >= 25, timeout=10)
        held = src.health()["buffer"]
        seen: list = []
        end = await next_event(agen, lambda e: isinstance(e, FeedStatus) and e.kind == "gap_end" and e.count > 0,
                               seen, timeout=10)
        await agen.aclose()

    assert held["bytes"] <= 1_000_000 and held["dropped_bytes"] >= 25 * 200_000
    assert any(isinstance(e, FeedStatus) and e.kind == "gap_start" and "too slow" in e.message for e in seen)
    assert end.count == held["dropped_frames"]


# --------------------------------------------------------------------------- item 8: REST
def _with_bad_oi(vendor_name: str, s: Any) -> None:
    """Patch the chain route so one row's open interest is "n/a"."""
    if vendor_name == "massive":
        route = ("GET", "/v3/snapshot/options/SPY")
        orig = s.rest.routes[route]

        def patched(req):
            status, body = orig(req)
            if "results" in body and req.query.get("cursor") != "p2":
                body["results"][0] = {**body["results"][0], "open_interest": "n/a"}
            return status, body
    elif vendor_name == "thetadata":
        route = ("GET", "/v2/bulk_snapshot/option/open_interest")
        orig = s.rest.routes[route]

        def patched(req):
            status, body = orig(req)
            body["response"][0]["ticks"][0][1] = "n/a"
            return status, body
    else:
        route = ("GET", "/v1/markets/options/chains")
        orig = s.rest.routes[route]

        def patched(req):
            status, body = orig(req)
            body["options"]["option"][0]["open_interest"] = "n/a"
            return status, body
    s.rest.routes[route] = patched


@pytest.mark.parametrize("vendor", VENDORS, ids=IDS)
async def test_a_malformed_chain_row_is_skipped_and_counted_not_fatal(vendor):
    async with vendor.servers() as s:
        _with_bad_oi(vendor.name, s)
        src = vendor.source(s)
        agen = src.events()
        seen: list = []
        definition = await next_event(agen, lambda e: isinstance(e, ChainDefinition), seen)
        await agen.aclose()

    malformed = [e for e in seen if isinstance(e, FeedStatus) and e.kind == "malformed"]
    assert len(malformed) == 1 and malformed[0].count == 1 and malformed[0].feed == "oi_feed"
    assert len(definition.strikes) > 0
    assert not any(isinstance(e, FeedStatus) and e.kind == "error" and "chain request" in e.message for e in seen)


async def test_massive_self_referencing_next_url_stops_after_one_repeat():
    async with M._Servers() as s:
        route = ("GET", "/v3/snapshot/options/SPY")

        def loop_page(req):
            return 200, {"status": "OK", "results": [M._result(k, r) for k in M.STRIKES for r in "CP"],
                         "next_url": f"{s.rest.url}/v3/snapshot/options/SPY?cursor=same"}
        s.rest.routes[route] = loop_page
        src = M._source(s.ws, s.rest)
        agen = src.events()
        seen: list = []
        await next_event(agen, lambda e: isinstance(e, ChainDefinition), seen)
        requests = len(s.rest.requests)
        await agen.aclose()

    assert requests == 2  # the first page, the cursor page once; its repeat is never fetched
    assert any(isinstance(e, FeedStatus) and e.kind == "error" and "pagination stopped" in e.message for e in seen)


async def test_massive_pagination_stops_at_the_page_cap():
    async with M._Servers() as s:
        route = ("GET", "/v3/snapshot/options/SPY")
        counter = iter(range(10**6))

        def endless(req):
            return 200, {"status": "OK", "results": [M._result(k, r) for k in M.STRIKES for r in "CP"],
                         "next_url": f"{s.rest.url}/v3/snapshot/options/SPY?cursor=c{next(counter)}"}
        s.rest.routes[route] = endless
        src = M._source(s.ws, s.rest, config=M.MassiveConfig(ws_url=s.ws.url, rest_url=s.rest.url, max_pages=5))
        agen = src.events()
        seen: list = []
        await next_event(agen, lambda e: isinstance(e, ChainDefinition), seen)
        requests = len(s.rest.requests)
        await agen.aclose()

    assert requests == 5
    assert any(isinstance(e, FeedStatus) and "page cap" in (e.message or "") for e in seen)


async def test_thetadata_self_referencing_next_page_stops_after_one_repeat():
    async with T._Terminal() as t:
        route = ("GET", "/v2/list/strikes")
        orig = t.rest.routes[route]
        same = f"{t.rest.url}/v2/list/strikes?page=same"

        def loop_page(req):
            if req.query.get("page"):  # the linked page links to itself
                return 200, {"header": {"next_page": same}, "response": []}
            status, body = orig(req)
            return status, {**body, "header": {**body["header"], "next_page": same}}
        t.rest.routes[route] = loop_page
        src = t.source()
        agen = src.events()
        seen: list = []
        await next_event(agen, lambda e: isinstance(e, ChainDefinition), seen)
        strike_requests = [r for r in t.rest.requests if r.path == "/v2/list/strikes"]
        await agen.aclose()

    assert len(strike_requests) == 2
    assert any(isinstance(e, FeedStatus) and e.kind == "error" and "pagination stopped" in e.message for e in seen)


# --------------------------------------------------------------------------- the reset rule
class _ClosingSocket:
    """Yields one frame, then ends (the server closed it)."""

    def __init__(self) -> None:
        self._sent = False

    def __aiter__(self):
        return self

    async def __anext__(self) -> str:
        if not self._sent:
            self._sent = True
            return "frame"
        raise StopAsyncIteration

    async def close(self) -> None:
        return None


def _stub_source(monotonic, sleep):
    from zdte_tui.sources.live.base import LiveSource
    from zdte_tui.sources.live.records import ChainSnapshot, ContractSpec, ParsedFrame

    class Stub(LiveSource):
        name = "stub"

        def _channels(self):
            return ("all",)

        async def _fetch_chain(self, underlying, expiry):
            return ChainSnapshot(underlying, expiry, (ContractSpec("C590", "SPY   260605C00590000", 590.0, True),),
                                 spot=590.0)

        async def _open_channel(self, channel):
            return _ClosingSocket()

        async def _send_subscriptions(self, channel, ws, add, remove, full):
            return None

        def _parse_frame(self, channel, data):
            return ParsedFrame()

    return Stub(["SPY"], session_date=M.SESSION, strike_band_pct=1.0, batch_interval_s=0.01,
                clock_ns=FakeClock(M.START_NS), sleep=sleep, rng=random.Random(5), monotonic=monotonic)


@pytest.mark.parametrize(("lifetime_s", "grows"), [(0.0, True), (45.0, False)])
async def test_only_a_connection_that_lived_stable_after_s_resets_the_backoff(lifetime_s, grows):
    t = [0.0]

    def monotonic() -> float:  # every reading is lifetime_s later: each connection "lived" that long
        t[0] += lifetime_s
        return t[0]

    sleep = FakeSleep()
    src = _stub_source(monotonic, sleep)
    agen = src.events()
    await next_event(agen, lambda e: isinstance(e, ChainDefinition))
    await wait_until(lambda: len(sleep.delays) >= 6, timeout=10)
    await agen.aclose()

    if grows:
        assert sleep.delays[5] >= 8.0  # 0.5 * 2^5 = 16, jitter down to half
    else:
        assert all(0.25 <= d <= 0.5 for d in sleep.delays[:6])  # failure 1 again after each long-lived connection
