"""``zdte doctor``: check a configured live feed end to end and say what to fix.

:func:`diagnose` builds the adapter (``build``, e.g. :func:`~zdte_tui.sources.live.factory.make_live_source`
bound to a name and a symbol), runs its event stream for at most ``timeout_s`` seconds and
watches, without changing how the adapter works:

- its REST calls, through an httpx transport that records each reply's status, ``Date`` header
  and round trip (:class:`RecordingTransport`, passed as the adapter's ``http_transport``);
- every parsed websocket frame, through the adapter's ``tick_observer`` hook (the receive time
  and the ticks with their vendor timestamps);
- the events it emits (the chain definition, feed errors) and the exception that stops it.

Checks, in order (each ``ok`` / ``warn`` / ``fail`` / ``skip`` with what to fix):

``key``          the credential is set (ThetaData: none, the Theta Terminal holds the login);
``auth``         the vendor accepted it (REST not 401, websocket auth not refused);
``entitlement``  the plan covers the data (no 403 / ThetaData 471 / vendor permission notice);
``chain``        the symbol's same-day chain was resolved (contracts, expiry);
``stream``       the websocket(s) connected;
``quote``, ``trade``, ``underlying``  the first option quote / option trade / underlying print
                 arrived (skipped with the reason when the market is closed);
``clock``        local clock vs the vendor's ``Date`` header (1 s resolution: |skew| <= 2 s is ok);
``latency``      REST round trip (median) and stream delay (receive time - vendor event time,
                 median of the first ticks; includes the clock skew; > 60 s means a delayed feed).
"""

from __future__ import annotations

import asyncio
import email.utils
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import httpx

from zdte_tui.market.calendar import is_trading_day, next_trading_day, ns_to_et, session_bounds_ns
from zdte_tui.market.events import ChainDefinition, FeedStatus
from zdte_tui.sources.live.errors import SourceAuthError, SourceConnectionError
from zdte_tui.sources.live.records import ParsedFrame, QuoteTick, SpotTick, TradeTick

Status = Literal["ok", "warn", "fail", "skip"]
CHECKS = ("key", "auth", "entitlement", "chain", "stream", "quote", "trade", "underlying", "clock", "latency")
MAX_SKEW_S = 2.0
DELAYED_AFTER_S = 60.0
LATENCY_SAMPLES = 50


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


@dataclass
class DoctorReport:
    source: str
    symbol: str
    checks: list[Check]
    elapsed_s: float
    market: str  # "open" | "closed (...)"

    @property
    def ok(self) -> bool:
        return not any(c.status == "fail" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "symbol": self.symbol, "ok": self.ok, "market": self.market,
                "elapsed_s": round(self.elapsed_s, 1),
                "checks": [{"name": c.name, "status": c.status, "detail": c.detail, "fix": c.fix}
                           for c in self.checks]}

    def render(self) -> str:
        """One screen: a line per check, the fix under each failure, a verdict."""
        lines = [f"zdte doctor: {self.source} {self.symbol} (market {self.market}; {self.elapsed_s:.1f} s)"]
        for c in self.checks:
            lines.append(f"  {c.status.upper():<5} {c.name:<12} {c.detail}")
            if c.fix and c.status in ("fail", "warn"):
                lines.append(f"        {'':<12} fix: {c.fix}")
        fails = [c.name for c in self.checks if c.status == "fail"]
        warns = [c.name for c in self.checks if c.status == "warn"]
        if len(fails) == 1:
            lines.append(f"1 problem: {fails[0]}")
        elif fails:
            lines.append(f"{len(fails)} problems: {', '.join(fails)}; fix them in order (a later check often "
                         f"fails because of an earlier one)")
        else:
            lines.append("feed OK" + (f" ({len(warns)} warning(s): {', '.join(warns)})" if warns else ""))
        return "\n".join(lines)


@dataclass
class _Reply:
    path: str
    status: int
    date_header: str | None
    round_trip_s: float
    wall_ns: int  # local wall clock when the reply arrived


class RecordingTransport(httpx.AsyncBaseTransport):
    """An httpx transport that forwards to ``inner`` (a real one by default) and records every
    reply's status, ``Date`` header and round trip."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None,
                 wall_ns: Callable[[], int] = time.time_ns) -> None:
        self.inner = inner or httpx.AsyncHTTPTransport()
        self.wall_ns = wall_ns
        self.replies: list[_Reply] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        t0 = time.perf_counter()
        response = await self.inner.handle_async_request(request)
        self.replies.append(_Reply(request.url.path, response.status_code, response.headers.get("date"),
                                   time.perf_counter() - t0, self.wall_ns()))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class _Observer:
    """What the adapter's frames carried: first tick of each kind (receive ns) and delays."""

    first: dict[str, int] = field(default_factory=dict)
    delays_ns: list[int] = field(default_factory=list)
    frames: int = 0

    def __call__(self, channel: str, recv_ns: int, parsed: ParsedFrame) -> None:
        self.frames += 1
        for tick in parsed.ticks:
            kind = ("underlying" if isinstance(tick, SpotTick) else "quote" if isinstance(tick, QuoteTick)
                    else "trade" if isinstance(tick, TradeTick) else None)
            if kind is None:
                continue
            self.first.setdefault(kind, recv_ns)
            if len(self.delays_ns) < LATENCY_SAMPLES:
                self.delays_ns.append(recv_ns - tick.ts_ns)


def _market_state(now_ns: int) -> tuple[bool, str, date]:
    """(open now, how to say it, the session whose chain to check: today's until its close,
    then the next one: its same-day contracts are listed before it opens)."""
    today = ns_to_et(now_ns).date()
    if is_trading_day(today):
        open_ns, close_ns = session_bounds_ns(today)
        if open_ns <= now_ns <= close_ns:
            return True, "open", today
        if now_ns < open_ns:
            return False, f"closed: opens {ns_to_et(open_ns):%H:%M} ET today", today
    following = next_trading_day(today)
    opens = ns_to_et(session_bounds_ns(following)[0])
    return False, f"closed: next session {following.isoformat()} {opens:%H:%M} ET", following


def _http_date_ns(text: str | None) -> int | None:
    if not text:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return int(parsed.timestamp()) * 1_000_000_000


async def diagnose(name: str, symbol: str, build: Callable[..., Any], *, key_env: str | None,
                   timeout_s: float = 45.0, wall_ns: Callable[[], int] = time.time_ns,
                   clock_ns: Callable[[], int] | None = None,
                   transport: httpx.AsyncBaseTransport | None = None) -> DoctorReport:
    """Run the checks (module docstring) against the adapter ``build(**kw)`` returns.

    ``key_env``: the environment variable holding the key (None: the vendor has no key).
    ``clock_ns``: the session clock (default the wall clock) deciding whether the market is
    open; ``transport``: the inner HTTP transport (tests may pass one; default a real one)."""
    t0 = time.monotonic()
    clock = clock_ns or wall_ns
    market_open, market, session = _market_state(clock())
    checks: dict[str, Check] = {}
    recorder = RecordingTransport(transport, wall_ns=wall_ns)

    def report() -> DoctorReport:
        for n in CHECKS:
            checks.setdefault(n, Check(n, "skip", "not checked: an earlier check failed"))
        return DoctorReport(name, symbol, [checks[n] for n in CHECKS], time.monotonic() - t0, market)

    kw: dict[str, Any] = {"http_transport": recorder, "max_consecutive_failures": 0, "session_date": session}
    if clock_ns is not None:
        kw["clock_ns"] = clock_ns
    try:
        source = build(**kw)
    except SourceAuthError as exc:
        checks["key"] = Check("key", "fail", str(exc), f"export {key_env}=<your key>" if key_env else "")
        return report()
    checks["key"] = (Check("key", "ok", f"${key_env} is set") if key_env else
                     Check("key", "skip", f"{name} needs no key here (its terminal holds the login)"))
    observer = _Observer()
    source.tick_observer = observer
    chain: ChainDefinition | None = None
    notices: list[str] = []
    stopped: BaseException | None = None
    timed_out = False

    def complete() -> bool:
        if chain is None:
            return False
        channels = (source.health().get("channels") or {}).values()
        if not channels or not all(h.get("connects") for h in channels):
            return False
        return not market_open or {"quote", "trade", "underlying"} <= set(observer.first)

    agen = source.events()
    deadline = asyncio.get_running_loop().time() + timeout_s
    try:
        while not complete():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                timed_out = True
                break
            try:
                async with asyncio.timeout(left):  # not wait_for: it can drop a cancel on 3.11
                    ev = await agen.__anext__()
            except TimeoutError:
                timed_out = True
                break
            if isinstance(ev, ChainDefinition) and ev.underlying == symbol:
                chain = ev
            elif isinstance(ev, FeedStatus) and ev.kind == "delivered" and ev.feed == "oi_feed":
                notices.append(f"chain: {ev.message}")
                if ev.message.startswith("0 same-day"):
                    break  # nothing to subscribe: the answer is in
            elif isinstance(ev, FeedStatus) and ev.kind == "error":
                notices.append(ev.message)
    except StopAsyncIteration:
        pass
    except (SourceAuthError, SourceConnectionError) as exc:
        stopped = exc
    finally:
        health = source.health()
        await agen.aclose()
    _judge(checks, name, symbol, key_env, recorder.replies, observer, chain, notices, stopped, timed_out,
           market_open, market, health, timeout_s, session.isoformat())
    return report()


def _judge(checks: dict[str, Check], name: str, symbol: str, key_env: str | None, replies: list[_Reply],
           obs: _Observer, chain: ChainDefinition | None, notices: list[str], stopped: BaseException | None,
           timed_out: bool, market_open: bool, market: str, health: dict[str, Any], timeout_s: float,
           session_date: str) -> None:
    statuses = [r.status for r in replies]
    key_hint = f"${key_env}" if key_env else "the Theta Terminal login"
    stream_auth_refused = isinstance(stopped, SourceAuthError) and not any(s in (401, 403, 471) for s in statuses)
    # auth
    if 401 in statuses:
        checks["auth"] = Check("auth", "fail", f"the vendor refused the key (HTTP 401 on "
                                               f"{next(r.path for r in replies if r.status == 401)})",
                               f"check {key_hint}: a typo, a revoked key, or a key of another account")
        return
    if stream_auth_refused and "authenticat" in str(stopped):
        checks["auth"] = Check("auth", "fail", str(stopped), f"check {key_hint}")
        return
    if not replies and isinstance(stopped, SourceConnectionError):
        fix = ("start the Theta Terminal and log in (host and port: [live.thetadata])" if name == "thetadata"
               else f"check the network / proxy and rest_url in [live.{name}]")
        checks["auth"] = Check("auth", "fail", f"cannot reach the REST API: {stopped}", fix)
        return
    ok_replies = [r for r in replies if 200 <= r.status < 300]
    checks["auth"] = Check("auth", "ok" if ok_replies else "skip",
                           f"REST accepted the credentials (HTTP {ok_replies[0].status} on {ok_replies[0].path})"
                           if ok_replies else "no REST reply to judge by")
    # entitlement
    refused = [r for r in replies if r.status in (403, 471)]
    perm_notice = [n for n in notices if any(w in n.lower() for w in ("not authorized", "entitle", "permission",
                                                                      "plan", "not_authorized"))]
    if refused or stream_auth_refused or perm_notice:
        what = (f"HTTP {refused[0].status} on {refused[0].path}" if refused
                else str(stopped) if stream_auth_refused else perm_notice[0])
        checks["entitlement"] = Check("entitlement", "fail", f"the plan does not cover this data ({what})",
                                      "upgrade the plan to include real-time options (OPRA) and the underlying, "
                                      "or use a delayed URL your plan includes")
        return
    checks["entitlement"] = Check("entitlement", "ok", "no permission refusal")
    # chain
    if chain is None:
        empty = [n for n in notices if n.startswith("chain: 0 same-day")]
        if empty:
            checks["chain"] = Check("chain", "fail", f"no {symbol} contract expires {session_date} ({empty[0][7:]})",
                                    f"{symbol} has no 0DTE that day (or is not an optionable symbol): try SPY or SPX")
        elif isinstance(stopped, SourceConnectionError):
            checks["chain"] = Check("chain", "fail", str(stopped), "check the REST URL / network")
        else:
            no_spot = [n for n in notices if "no spot yet" in n]
            checks["chain"] = Check("chain", "fail", no_spot[0] if no_spot else
                                    f"no chain for {symbol} within {timeout_s:g} s",
                                    "the plan may lack the underlying's data (spot centers the strike band)"
                                    if no_spot else "rerun with a longer --timeout; check the vendor's status page")
    else:
        checks["chain"] = Check("chain", "ok", f"{chain.n_contracts} contracts in the band, expiry "
                                               f"{chain.expiry.isoformat()}")
    # stream
    channels = (health or {}).get("channels") or {}
    up = [c for c, h in channels.items() if h.get("connects")]
    down = {c: h for c, h in channels.items() if not h.get("connects")}
    if channels and not down:
        checks["stream"] = Check("stream", "ok", f"connected: {', '.join(up)}")
    elif chain is None and not isinstance(stopped, SourceConnectionError):
        checks["stream"] = Check("stream", "skip", "not checked: no chain to subscribe")
    elif isinstance(stopped, SourceConnectionError) or down:
        why = "; ".join(f"{c}: {h.get('last_error') or 'never connected'}" for c, h in down.items()) or str(stopped)
        checks["stream"] = Check("stream", "fail", why, f"check the websocket URL in [live.{name}] and that "
                                                        f"nothing blocks outbound websockets")
    else:
        checks["stream"] = Check("stream", "skip", "no channel opened (no spot to center the band yet)")
    # first prints
    for kind, what in (("quote", "option quote"), ("trade", "option trade"), ("underlying", "underlying print")):
        if kind in obs.first:
            checks[kind] = Check(kind, "ok", f"first {what} received")
        elif not market_open:
            checks[kind] = Check(kind, "skip", f"market {market}: no {what} expected now")
        elif checks["stream"].status != "ok":
            checks[kind] = Check(kind, "skip", "not checked: the stream is not up")
        else:
            quiet = "trades can be minutes apart on a quiet contract" if kind == "trade" else \
                "the plan may lack real-time data for it"
            checks[kind] = Check(kind, "warn" if kind == "trade" else "fail",
                                 f"no {what} in {timeout_s:g} s", f"{quiet}; rerun with a longer --timeout")
    # clock
    skews = []
    for r in replies:
        server = _http_date_ns(r.date_header)
        if server is not None:
            local_mid = r.wall_ns - int(r.round_trip_s * 1e9 / 2)
            skews.append((local_mid - server) / 1e9 - 0.5)  # the Date header truncates to the second
    if skews:
        skew = statistics.median(skews)
        side = "ahead of" if skew > 0 else "behind"
        if abs(skew) <= MAX_SKEW_S:
            checks["clock"] = Check("clock", "ok", f"local clock within {abs(skew):.1f} s of the vendor's (±1 s)")
        else:
            checks["clock"] = Check("clock", "fail", f"local clock {abs(skew):.1f} s {side} the vendor's (±1 s)",
                                    "enable NTP time sync (e.g. `timedatectl set-ntp true`): event times, data age "
                                    "and the session clock use the local clock")
    else:
        checks["clock"] = Check("clock", "skip", "no Date header in the vendor's replies")
    # latency
    rest_ms = statistics.median(r.round_trip_s for r in replies) * 1000 if replies else None
    parts = [f"REST {rest_ms:.0f} ms (median of {len(replies)})"] if rest_ms is not None else []
    if obs.delays_ns:
        delay = statistics.median(obs.delays_ns) / 1e9
        parts.append(f"stream {delay * 1000:.0f} ms behind the vendor's event times (median of {len(obs.delays_ns)})")
        if delay > DELAYED_AFTER_S:
            checks["latency"] = Check("latency", "warn", f"data is ~{delay / 60:.0f} min delayed; " + "; ".join(parts),
                                      "a delayed plan or URL (e.g. delayed.massive.com, a sandbox account): the "
                                      "header's data-as-of shows it; use a real-time plan for live flow")
            return
    if parts:
        checks["latency"] = Check("latency", "ok", "; ".join(parts))
    else:
        checks["latency"] = Check("latency", "skip", "nothing to time")

