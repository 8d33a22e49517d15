"""Loopback stand-ins for the vendors' servers: a tiny HTTP/1.1 server and a websocket
server, both on 127.0.0.1 port 0, speaking each vendor's documented wire format. Nothing
here touches the internet.

- :class:`RestServer`: routes ``(method, path)`` to handlers returning ``(status, body)``
  and records every request (method, path, query, headers).
- :class:`WsServer`: records what clients send per path (``/options``, ``/v1/events``...),
  lets a test push frames to every client of a path, drop connections, and refuse the next
  N connection attempts (to exercise backoff).
- :func:`massive_handler`, :func:`thetadata_handler`, :func:`tradier_handler`: the
  per-vendor message handling (auth handshake, subscribe/unsubscribe bookkeeping).

Fault injection (issue 14; ``tests/live/test_faults.py`` runs each against every adapter):

- ``WsServer.refuse_next``: refuse the next N handshakes (HTTP 503): never connected;
- ``WsServer.state["close_on_connect"] = {path, ...}``: accept the websocket, then close it at
  once (a server that drops every connection right after it opened);
- ``state["after_auth"] = {path: "max_connections"}`` (Massive): ``auth_success``, then the
  ``max_connections`` status, then close (what Massive does past the plan's socket limit);
- ``state["auth_silent"] = {path, ...}`` (Massive): never answer the auth message (a stall
  before the feed is up);
- a *stall* is simply a connected, subscribed socket to which the test pushes nothing;
- huge frames: :meth:`WsServer.push` of any size; malformed REST rows and self-referencing
  pagination: the tests patch :attr:`RestServer.routes`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Response


async def wait_until(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``pred`` (yielding to the loop) until it is true; fail after ``timeout`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() > deadline:
            raise AssertionError("condition not met before timeout")
        await asyncio.sleep(0.002)


# --------------------------------------------------------------------------------------
# HTTP


@dataclass
class HttpRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


Handler = Callable[[HttpRequest], tuple[int, Any]]


class RestServer:
    """Minimal HTTP/1.1 server (one request per connection, ``Connection: close``)."""

    def __init__(self, routes: dict[tuple[str, str], Handler]) -> None:
        self.routes = routes
        self.requests: list[HttpRequest] = []
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> RestServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
            parts = urlsplit(target)
            req = HttpRequest(method, parts.path, dict(parse_qsl(parts.query)), headers, body)
            self.requests.append(req)
            handler = self.routes.get((method, parts.path))
            if handler is None:
                status, payload = 404, {"error": "not found"}
            else:
                status, payload = handler(req)
            data = payload if isinstance(payload, bytes) else (
                payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


# --------------------------------------------------------------------------------------
# WebSocket


@dataclass
class WsServer:
    """Websocket server whose per-connection logic is ``handler(server, conn, path)``."""

    handler: Callable[[WsServer, ServerConnection, str], Awaitable[None]]
    state: dict[str, Any] = field(default_factory=dict)
    received: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    subscribed: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    connections: dict[str, set[ServerConnection]] = field(default_factory=lambda: defaultdict(set))
    connects: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refuse_next: int = 0
    refused: int = 0
    port: int = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def __aenter__(self) -> WsServer:
        # the fake vendor's own frame log would show the client's auth message: keep it quiet,
        # the tests check that the *client* never logs a key
        quiet = logging.getLogger("tests.integration.adapters.fake_vendor")
        quiet.setLevel(logging.WARNING)
        self._server = await serve(self._serve, "127.0.0.1", 0, process_request=self._gate,
                                   logger=quiet)
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    def _gate(self, conn: ServerConnection, request: Any) -> Response | None:
        if self.refuse_next > 0:
            self.refuse_next -= 1
            self.refused += 1
            return conn.respond(HTTPStatus.SERVICE_UNAVAILABLE, "try later\n")
        return None

    async def _serve(self, conn: ServerConnection) -> None:
        path = conn.request.path
        self.connects[path] += 1
        self.connections[path].add(conn)
        try:
            if path in self.state.get("close_on_connect", ()):
                await conn.close(code=1011, reason="fault: close on connect")
                return
            await self.handler(self, conn, path)
        except Exception:
            pass
        finally:
            self.connections[path].discard(conn)

    async def push(self, path: str, payload: Any) -> None:
        """Send ``payload`` (str, or JSON-encoded) to every client connected on ``path``."""
        text = payload if isinstance(payload, str) else json.dumps(payload)
        for conn in list(self.connections[path]):
            await conn.send(text)

    async def drop(self, path: str) -> None:
        """Close every connection on ``path`` abnormally (code 1011)."""
        for conn in list(self.connections[path]):
            await conn.close(code=1011, reason="test drop")


# --------------------------------------------------------------------------------------
# vendor handlers


async def massive_handler(server: WsServer, conn: ServerConnection, path: str) -> None:
    """Massive: ``connected`` status, ``auth`` action, ``subscribe``/``unsubscribe`` with
    comma-separated ``params``, status replies (per the official client's mock server)."""
    await conn.send('[{"ev":"status","status":"connected","message":"Connected Successfully"}]')
    authed = False
    async for raw in conn:
        msg = json.loads(raw)
        server.received[path].append(msg)
        action = msg.get("action")
        if action == "auth":
            if path in server.state.get("auth_silent", ()):
                continue  # fault: never answer the auth message
            if msg.get("params") == server.state["api_key"]:
                authed = True
                await conn.send('[{"ev":"status","status":"auth_success","message":"authenticated"}]')
                if server.state.get("after_auth", {}).get(path) == "max_connections":
                    await conn.send('[{"ev":"status","status":"max_connections",'
                                    '"message":"Maximum number of websocket connections exceeded."}]')
                    await conn.close(code=1008, reason="max_connections")
                    return
            else:
                await conn.send('[{"ev":"status","status":"auth_failed","message":"authentication failed"}]')
                await conn.close()
                return
        elif action in ("subscribe", "unsubscribe") and authed:
            for p in msg["params"].split(","):
                if action == "subscribe":
                    server.subscribed[path].add(p)
                else:
                    server.subscribed[path].discard(p)
            await conn.send(json.dumps([{"ev": "status", "status": "success",
                                         "message": f"{action}d to: {msg['params'][:40]}"}]))


async def thetadata_handler(server: WsServer, conn: ServerConnection, path: str) -> None:
    """Theta Terminal ``/v1/events``: JSON STREAM requests (``msg_type``, ``sec_type``,
    ``req_type``, ``add``, ``id``, ``contract``), answered with REQ_RESPONSE."""
    async for raw in conn:
        msg = json.loads(raw)
        server.received[path].append(msg)
        if msg.get("msg_type") != "STREAM":
            continue
        c = msg.get("contract", {})
        key = "|".join(str(x) for x in (msg["sec_type"], msg["req_type"], c.get("root"),
                                           c.get("expiration", ""), c.get("strike", ""),
                                           c.get("right", "")))
        if msg.get("add"):
            server.subscribed[path].add(key)
        else:
            server.subscribed[path].discard(key)
        await conn.send(json.dumps({"header": {"type": "REQ_RESPONSE", "response": "SUBSCRIBED",
                                               "req_id": msg["id"]}}))


async def tradier_handler(server: WsServer, conn: ServerConnection, path: str) -> None:
    """Tradier ``/v1/markets/events``: each payload ``{"symbols", "sessionid", "filter", ...}``
    replaces the stream's symbol list; an unknown session id gets an error and a close."""
    async for raw in conn:
        msg = json.loads(raw)
        server.received[path].append(msg)
        if msg.get("sessionid") not in server.state.get("sessions", set()):
            await conn.send(json.dumps({"error": "invalid session"}))
            await conn.close()
            return
        server.subscribed[path] = set(msg.get("symbols", []))


# --------------------------------------------------------------------------------------
# consumer-side helpers


class FakeClock:
    """Source clock for tests: a fixed session instant plus the real elapsed time, so batch
    ends advance but every timestamp sits in the test session (no wall-clock assertions)."""

    def __init__(self, start_ns: int) -> None:
        import time

        self._time = time
        self.start_ns = start_ns
        self._t0 = time.monotonic_ns()

    def __call__(self) -> int:
        return self.start_ns + (self._time.monotonic_ns() - self._t0)


def loopback_source_options(session_date: Any, start_ns: int, seed: int) -> dict[str, Any]:
    """The options every adapter test gives its source: the test session, a one-percent strike band,
    fast batches, the test clock, no backoff waits, a seeded jitter, ten failures before giving up,
    and no vol-context poller (it has its own tests). Callers ``|`` their vendor's options and overrides."""
    import random

    return dict(session_date=session_date, strike_band_pct=1.0, batch_interval_s=0.02,
                clock_ns=FakeClock(start_ns), sleep=no_sleep, rng=random.Random(seed),
                max_consecutive_failures=10, term_vol_interval_s=0)


async def no_sleep(seconds: float) -> None:
    """Injected backoff sleep: yields once instead of waiting."""
    await asyncio.sleep(0)


async def finishes(aw: Awaitable[Any], timeout: float = 30.0) -> Any:
    """Run ``aw`` in its own task and return its result; fail with an AssertionError (never hang)
    if it has not finished within ``timeout`` seconds. A hang guard, generous for a loaded CI
    machine, never a speed assertion. Unlike ``asyncio.wait_for`` on Python 3.11, which after its
    timeout waits without limit for the cancelled work to end (and whose cancellation can be lost,
    CPython gh-86296), this gives up waiting: the work is cancelled and given ``timeout`` more
    seconds to wind down, then the test fails."""
    task = asyncio.ensure_future(aw)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        task.cancel()
        await asyncio.wait({task}, timeout=timeout)
        raise AssertionError(f"hang guard: not finished after {timeout:g} s")
    return task.result()


async def next_event(agen: Any, pred: Callable[[Any], bool], seen: list | None = None,
                     timeout: float = 30.0) -> Any:
    """Pull events from ``agen`` until one satisfies ``pred``; every event pulled is appended
    to ``seen``. Fails after ``timeout`` seconds (:func:`finishes`, a hang guard)."""

    async def pull() -> Any:
        while True:
            ev = await agen.__anext__()
            if seen is not None:
                seen.append(ev)
            if pred(ev):
                return ev

    return await finishes(pull(), timeout)


class FakeSleep:
    """Injected backoff sleep that records each requested delay and returns at once (the
    reconnect loop's clock is this list: tests assert the delays, nothing waits)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)
