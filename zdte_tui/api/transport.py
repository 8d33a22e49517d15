"""The HTTP transport of ``zdte serve``: uvicorn + h11 with limits that keep idle or slow sockets from
taking the server down (docs/reliability.md, "HTTP server under load").

* **Header timeout.** A connection must deliver a complete request head within
  ``header_timeout`` seconds of opening (and of finishing the previous response). Data trickling in
  does not reset it (a slowloris client is cut off); uvicorn's keep-alive timeout still closes idle
  keep-alive connections sooner.
* **Connection cap.** At most ``max_connections`` open connections. When a new one would exceed it,
  the connection that has been idle longest (no request in flight: never sent one, or waiting
  between keep-alive requests) is closed; only when every connection is busy is the new one refused.
  Idle sockets therefore cannot lock out a real client. The default is derived from ``ulimit -n``
  so the process keeps file descriptors for its own files.
* **limit_concurrency.** uvicorn's own cap: once connections or in-flight requests reach it,
  requests are answered ``503`` (default: one above the connection cap, a backstop).
* **Accept errors are logged once per interval.** ``EMFILE``/``ENFILE`` (Too many open files) on
  ``accept()`` would otherwise print a traceback per failed accept: asyncio (3.11) retries up to
  ``backlog`` accepts per loop tick and arms one retry timer for each failure, and the timers still
  pending at shutdown fail on the closed socket. :class:`ThrottledLog` writes one line per
  ``log_interval`` with the number of occurrences; ``backlog`` (256, uvicorn's default is 2048)
  bounds that per-tick burst.
* **X-Forwarded-For** is honoured only from ``trusted_proxies`` (uvicorn's proxy-headers middleware
  with ``forwarded_allow_ips``); by default it is ignored, so the per-client rate limit and the
  loopback rule see the real peer address.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("zdte.api")

RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
FD_RESERVE = 64  # descriptors kept for the process's own files, threads and the listening socket


def default_max_connections(cap: int = 1024) -> int:
    """``min(cap, soft RLIMIT_NOFILE - FD_RESERVE)`` (at least 8)."""
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):  # pragma: no cover - every POSIX system has it
        return cap
    if soft == resource.RLIM_INFINITY:
        return cap
    return max(8, min(cap, int(soft) - FD_RESERVE))


@dataclass(frozen=True)
class TransportLimits:
    """Limits of the HTTP transport (see the module docstring). ``None`` = derived default."""

    header_timeout: float = 10.0
    keep_alive_timeout: int = 5
    max_connections: int | None = None
    limit_concurrency: int | None = None
    max_header_bytes: int = 16 * 1024
    backlog: int = 256
    log_interval: float = 60.0
    trusted_proxies: tuple[str, ...] = ()

    def resolved_max_connections(self) -> int:
        return self.max_connections if self.max_connections is not None else default_max_connections()

    def resolved_limit_concurrency(self) -> int:
        """uvicorn answers 503 once connections or tasks reach this. The connection cap above sheds idle
        connections first, so by default this sits one above it as a backstop for busy ones."""
        if self.limit_concurrency is not None:
            return self.limit_concurrency
        return self.resolved_max_connections() + 1


@dataclass
class TransportStats:
    """Counters the transport keeps (tests, benchmarks and the log read them)."""

    opened: int = 0
    shed_idle: int = 0
    refused_busy: int = 0
    header_timeouts: int = 0
    accept_errors: int = 0


class ThrottledLog:
    """Log a recurring problem once per ``interval`` seconds with the count since the last line."""

    def __init__(self, logger: logging.Logger, interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger, self.interval, self._clock = logger, float(interval), clock
        self._last: dict[str, float] = {}
        self._pending: dict[str, int] = {}

    def __call__(self, key: str, message: str) -> bool:
        """Count one occurrence of ``key``; log ``message`` (+ the count) if the interval elapsed. True if logged."""
        now = self._clock()
        self._pending[key] = self._pending.get(key, 0) + 1
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            return False
        count = self._pending.pop(key)
        self._last[key] = now
        suffix = f" ({count} times in the last {self.interval:g} s)" if last is not None else ""
        self.logger.warning("%s%s", message, suffix)
        return True


def loop_exception_handler(throttle: ThrottledLog, stats: TransportStats) -> Callable[..., None]:
    """An asyncio exception handler: resource exhaustion on accept is counted and throttled, the
    rest goes to the loop's default handler."""

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in RESOURCE_ERRNOS:
            stats.accept_errors += 1
            throttle("accept", f"zdte serve: cannot accept connections: {exc.strerror or exc} "
                               f"(errno {exc.errno}); lower the client count or raise `ulimit -n`")
            return
        if "_start_serving" in repr(context.get("handle")):
            # asyncio re-arms accepting with one timer per failed accept(); timers still pending when
            # the server closes fail on the closed socket ("Invalid file descriptor: -1"): noise
            stats.accept_errors += 1
            throttle("accept-retry", f"zdte serve: a pending accept retry failed ({type(exc).__name__}: {exc})")
            return
        loop.default_exception_handler(context)

    return handle


def guarded_protocol(limits: TransportLimits, stats: TransportStats) -> type[H11Protocol]:
    """An ``H11Protocol`` subclass enforcing the header timeout and the connection cap of ``limits``."""
    header_timeout = float(limits.header_timeout)
    max_connections = limits.resolved_max_connections()

    class GuardedH11Protocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None
        _idle_since: float = 0.0

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            stats.opened += 1
            self._idle_since = self.loop.time()
            self._arm_header_timer()
            if len(self.connections) > max_connections:
                self._shed()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_timer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._busy():
                self._cancel_header_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not self._busy():
                self._idle_since = self.loop.time()
                self._arm_header_timer()

        # -- helpers
        def _busy(self) -> bool:
            return self.cycle is not None and not self.cycle.response_complete

        def _arm_header_timer(self) -> None:
            self._cancel_header_timer()
            self._header_timer = self.loop.call_later(header_timeout, self._on_header_timeout)

        def _cancel_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _on_header_timeout(self) -> None:
            self._header_timer = None
            if not self._busy() and not self.transport.is_closing():
                stats.header_timeouts += 1
                self.transport.close()

        def _shed(self) -> None:
            idle = [c for c in self.connections
                    if isinstance(c, GuardedH11Protocol) and not c._busy() and not c.transport.is_closing()]
            if idle:
                victim = min(idle, key=lambda c: c._idle_since)
                stats.shed_idle += 1
            else:
                victim = self
                stats.refused_busy += 1
            victim._cancel_header_timer()
            victim.transport.close()
            victim.connections.discard(victim)

    return GuardedH11Protocol


class GuardedServer(uvicorn.Server):
    """``uvicorn.Server`` that installs the throttled accept-error handler on its loop."""

    def __init__(self, config: uvicorn.Config, limits: TransportLimits, stats: TransportStats) -> None:
        super().__init__(config)
        self.limits, self.stats = limits, stats
        self.throttle = ThrottledLog(log, limits.log_interval)

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().set_exception_handler(loop_exception_handler(self.throttle, self.stats))
        await super().serve(sockets)


def build_server(app: Any, *, host: str, port: int, log_level: str = "info",
                 limits: TransportLimits | None = None) -> GuardedServer:
    """A configured :class:`GuardedServer` (run with ``.run()``, stop with ``.should_exit = True``)."""
    limits = limits or TransportLimits()
    stats = TransportStats()
    trusted: list[str] = list(limits.trusted_proxies)
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, server_header=False, access_log=log_level == "debug",
        http=guarded_protocol(limits, stats), ws="none",
        proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None,
        timeout_keep_alive=limits.keep_alive_timeout, limit_concurrency=limits.resolved_limit_concurrency(),
        h11_max_incomplete_event_size=limits.max_header_bytes, backlog=limits.backlog,
    )
    return GuardedServer(config, limits, stats)


__all__ = ["GuardedServer", "ThrottledLog", "TransportLimits", "TransportStats", "build_server",
           "default_max_connections", "guarded_protocol", "loop_exception_handler"]
