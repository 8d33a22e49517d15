"""``zdte doctor`` against loopback Massive servers: one test per failure it reports, and the
healthy case. REST: the threaded loopback server (real sockets; it sets the ``Date`` header the
clock check reads); websocket: the adapters' Massive stand-in (``tests/integration/adapters/
servers.py``: ``connected`` status, ``auth``, ``auth_success``/``auth_failed``, subscriptions,
per the official client's mock server). The chain reply follows the option chain snapshot
layout (massive.com/docs/rest/options/snapshots/option-chain-snapshot.md; client-python's
``test_rest/mocks/v3/snapshot/options/AAPL.json``)."""

from __future__ import annotations

import asyncio
import email.utils
import random
import socket
import time
from datetime import UTC, date, datetime

import pytest

from tests.integration.adapters.servers import FakeClock, WsServer, massive_handler, wait_until
from zdte_tui.market.occ import OptionSymbol, format_occ
from zdte_tui.sources.live.doctor import diagnose
from zdte_tui.sources.massive.config import MassiveConfig
from zdte_tui.sources.massive.source import MassiveSource

from .servers import LoopbackServer, Request

SESSION = date(2026, 6, 5)  # a Friday
IN_SESSION = int(datetime(2026, 6, 5, 14, 0, tzinfo=UTC).timestamp() * 1e9)  # 10:00 ET
SATURDAY = int(datetime(2026, 6, 6, 14, 0, tzinfo=UTC).timestamp() * 1e9)
KEY = "mk-DOCTOR-0123456789"
STRIKES = range(585, 596)
NOT_ENTITLED = {"status": "NOT_AUTHORIZED", "request_id": "r1",
                "message": "You are not entitled to this data. Please upgrade your plan at https://massive.com/pricing"}


def ticker(k: int, right: str, expiry: date = SESSION) -> str:
    return format_occ(OptionSymbol("SPY", expiry, right, float(k)), "massive")


def result(k: int, right: str, expiry: date = SESSION) -> dict:
    return {"details": {"contract_type": "call" if right == "C" else "put", "exercise_style": "american",
                        "expiration_date": expiry.isoformat(), "shares_per_contract": 100, "strike_price": k,
                        "ticker": ticker(k, right, expiry)},
            "open_interest": 100, "underlying_asset": {"price": 590.0, "ticker": "SPY", "timeframe": "REAL-TIME"}}


class Rest:
    def __init__(self) -> None:
        self.reply: tuple | None = None  # (status, body) instead of the chain
        self.expiry = SESSION
        self.skew_s = 0.0

    def snapshot(self, req: Request):
        headers = {}
        if self.skew_s:
            headers["Date"] = email.utils.formatdate(time.time() + self.skew_s, usegmt=True)
        if req.headers.get("authorization") != f"Bearer {KEY}":
            return 401, {"status": "ERROR", "request_id": "r0", "error": "Unknown API Key"}, headers
        if self.reply:
            return (*self.reply, headers)
        return 200, {"status": "OK", "request_id": "r2",
                     "results": [result(k, r, self.expiry) for k in STRIKES for r in "CP"]}, headers


@pytest.fixture
async def feed(monkeypatch):
    rest = Rest()
    ws = WsServer(massive_handler, state={"api_key": KEY})
    await ws.__aenter__()
    with LoopbackServer({("GET", "/v3/snapshot/options/SPY"): rest.snapshot}) as srv:
        yield rest, ws, srv
    await ws.__aexit__()


def build_for(ws: WsServer, srv: LoopbackServer, key: str | None = KEY, clock: int = IN_SESSION, **extra):
    def build(**kw):
        config = MassiveConfig(ws_url=ws.url, rest_url=srv.url)
        return MassiveSource(["SPY"], api_key=key, config=config, strike_band_pct=1.0, batch_interval_s=0.02,
                             rng=random.Random(7), **{**kw, **extra})
    return build


async def run(ws, srv, *, key=KEY, clock=IN_SESSION, timeout=20.0, during=None):
    fake = FakeClock(clock)
    task = asyncio.create_task(diagnose("massive", "SPY", build_for(ws, srv, key), key_env="MASSIVE_API_KEY",
                                        timeout_s=timeout, clock_ns=fake))
    if during is not None:
        await during(fake)
    report = await task
    return report, {c.name: c for c in report.checks}


async def push_prints(ws: WsServer, fake: FakeClock, delay_s: float = 0.2) -> None:
    await wait_until(lambda: f"T.{ticker(590, 'C')}" in ws.subscribed["/options"]
                     and "T.SPY" in ws.subscribed["/stocks"], timeout=20)
    t_ms = (fake() - int(delay_s * 1e9)) // 1_000_000
    await ws.push("/options", [
        {"ev": "Q", "sym": ticker(590, "C"), "bx": 301, "ax": 302, "bp": 1.2, "ap": 1.25, "bs": 10, "as": 12,
         "t": t_ms, "q": 1},
        {"ev": "T", "sym": ticker(590, "C"), "x": 301, "p": 1.25, "s": 7, "c": [209], "t": t_ms, "q": 2}])
    await ws.push("/stocks", [{"ev": "T", "sym": "SPY", "x": 4, "p": 590.1, "s": 100, "t": t_ms, "q": 9}])


async def test_a_healthy_feed_passes_every_check(feed):
    rest, ws, srv = feed
    report, c = await run(ws, srv, during=lambda fake: push_prints(ws, fake))
    assert report.ok, report.render()
    assert [x.status for x in report.checks] == ["ok"] * 10
    assert c["chain"].detail == "22 contracts in the band, expiry 2026-06-05"
    assert c["stream"].detail == "connected: options, stocks"
    assert "stream" in c["latency"].detail and "REST" in c["latency"].detail
    assert "feed OK" in report.render()


async def test_a_missing_key_is_reported_with_the_variable_to_set(feed):
    rest, ws, srv = feed
    report, c = await run(ws, srv, key="")
    assert not report.ok and c["key"].status == "fail"
    assert "$MASSIVE_API_KEY" in c["key"].detail and c["key"].fix == "export MASSIVE_API_KEY=<your key>"
    assert all(x.status == "skip" for x in report.checks[1:])


async def test_a_refused_key_fails_auth(feed):
    rest, ws, srv = feed
    report, c = await run(ws, srv, key="mk-WRONG")
    assert c["key"].status == "ok" and c["auth"].status == "fail"
    assert "HTTP 401 on /v3/snapshot/options/SPY" in c["auth"].detail and "$MASSIVE_API_KEY" in c["auth"].fix
    assert "mk-WRONG" not in report.render()


async def test_a_plan_without_the_data_fails_entitlement(feed):
    rest, ws, srv = feed
    rest.reply = (403, NOT_ENTITLED)
    report, c = await run(ws, srv)
    assert c["auth"].status == "skip" and c["entitlement"].status == "fail"
    assert "HTTP 403 on /v3/snapshot/options/SPY" in c["entitlement"].detail


async def test_a_websocket_that_refuses_the_key_fails_auth(feed):
    rest, ws, srv = feed
    ws.state["api_key"] = "another-key"
    report, c = await run(ws, srv)
    assert c["auth"].status == "fail" and "authentication failed" in c["auth"].detail


async def test_a_symbol_without_a_same_day_expiry_fails_the_chain(feed):
    rest, ws, srv = feed
    rest.expiry = date(2026, 6, 8)
    report, c = await run(ws, srv)
    assert c["chain"].status == "fail" and "no SPY contract expires 2026-06-05" in c["chain"].detail
    assert c["stream"].status == "skip"
    assert report.elapsed_s < 20  # answered as soon as the empty chain was read, not at the timeout


async def test_an_unreachable_stream_fails_the_stream_check(feed):
    rest, ws, srv = feed
    ws.refuse_next = 100
    report, c = await run(ws, srv)
    assert c["chain"].status == "ok" and c["stream"].status == "fail"
    assert c["quote"].status == "skip"


async def test_an_unreachable_rest_api_fails_auth_with_the_reason():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ws = WsServer(massive_handler, state={"api_key": KEY})

    class Nowhere:
        url = f"http://127.0.0.1:{port}"

    report, c = await run(ws, Nowhere())
    assert c["auth"].status == "fail" and "cannot reach the REST API" in c["auth"].detail


async def test_no_quote_during_the_session_fails_and_no_trade_warns(feed):
    rest, ws, srv = feed
    report, c = await run(ws, srv, timeout=1.5)
    assert c["stream"].status == "ok"
    assert c["quote"].status == "fail" and c["underlying"].status == "fail" and c["trade"].status == "warn"


async def test_outside_the_session_the_next_sessions_chain_is_checked_and_no_prints_expected(feed):
    rest, ws, srv = feed
    rest.expiry = date(2026, 6, 8)  # Monday's contracts, listed on Saturday
    report, c = await run(ws, srv, clock=SATURDAY)
    assert report.ok, report.render()
    assert c["chain"].detail.endswith("expiry 2026-06-08")
    assert c["quote"].status == "skip" and "closed: next session 2026-06-08 09:30 ET" in c["quote"].detail


async def test_a_local_clock_off_by_ten_seconds_fails_the_clock_check(feed):
    rest, ws, srv = feed
    rest.skew_s = -10.0  # the vendor's clock reads 10 s earlier: ours is ahead
    report, c = await run(ws, srv, timeout=1.0)
    assert c["clock"].status == "fail" and "ahead of the vendor's" in c["clock"].detail
    assert "timedatectl set-ntp true" in c["clock"].fix


async def test_a_fifteen_minute_delayed_feed_is_a_latency_warning(feed):
    rest, ws, srv = feed
    report, c = await run(ws, srv, during=lambda fake: push_prints(ws, fake, delay_s=900))
    assert c["latency"].status == "warn" and "~15 min delayed" in c["latency"].detail
    assert report.ok  # a delayed plan works; it is not a failure


def test_the_cli_prints_the_report_and_exits_1_on_a_failure(monkeypatch, tmp_path, capsys):
    from zdte_tui.cli import main

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("MASSIVE_API_KEY", raising=False)
    code = main(["doctor", "--source", "massive", "--timeout", "5"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL  key" in out and "fix: export MASSIVE_API_KEY=<your key>" in out and "1 problem: key" in out
    monkeypatch.delenv("TRADIER_TOKEN", raising=False)
    code = main(["doctor"])
    assert code == 2 and "no live feed configured" in capsys.readouterr().err


async def test_thetadata_needs_no_key_and_a_permission_refusal_fails_entitlement():
    from zdte_tui.sources.thetadata.config import ThetaDataConfig
    from zdte_tui.sources.thetadata.source import ThetaDataSource

    def refuse(req: Request):  # Theta Terminal v2: 471 PERMISSION (docs.thetadata.us Error-Codes)
        return 471, "PERMISSION"

    with LoopbackServer({("GET", "/v2/list/strikes"): refuse}) as srv:
        def build(**kw):
            return ThetaDataSource(["SPY"], config=ThetaDataConfig(port=srv.port, ws_port=srv.port),
                                   strike_band_pct=1.0, **kw)

        report = await diagnose("thetadata", "SPY", build, key_env=None, timeout_s=10, clock_ns=FakeClock(IN_SESSION))
    c = {x.name: x for x in report.checks}
    assert c["key"].status == "skip" and "holds the login" in c["key"].detail
    assert c["entitlement"].status == "fail" and "HTTP 471 on /v2/list/strikes" in c["entitlement"].detail


def test_the_json_report_lists_every_check(monkeypatch, tmp_path, capsys):
    import json

    from zdte_tui.cli import main

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("MASSIVE_API_KEY", raising=False)
    assert main(["doctor", "--source", "massive", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["source"] == "massive" and report["symbol"] == "SPY"
    assert [c["name"] for c in report["checks"]] == ["key", "auth", "entitlement", "chain", "stream", "quote",
                                                     "trade", "underlying", "clock", "latency"]
    assert report["checks"][0]["status"] == "fail"
