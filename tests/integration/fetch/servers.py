"""A loopback HTTP server for the fetch-day and doctor tests: real sockets on 127.0.0.1 port 0,
served from a thread of the test process (the CLI under test is synchronous), routing
``(method, path)`` to handlers that return ``(status, body, headers)``. Nothing here touches the
internet; every request is recorded (method, path, query, form body, headers)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]


Reply = tuple[int, Any] | tuple[int, Any, dict[str, str]]
Handler = Callable[[Request], Reply]


class LoopbackServer:
    """``with LoopbackServer(routes) as srv: srv.url``; ``srv.requests`` lists what was asked."""

    def __init__(self, routes: dict[tuple[str, str], Handler]) -> None:
        self.routes = routes
        self.requests: list[Request] = []
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                return None

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                form = dict(parse_qsl(body.decode())) if body else {}
                req = Request(self.command, parts.path, dict(parse_qsl(parts.query)), form,
                              {k.lower(): v for k, v in self.headers.items()})
                server.requests.append(req)
                handler = server.routes.get((self.command, parts.path))
                if handler is None:  # a route ending in "*" matches any path it prefixes
                    prefixes = [k for k in server.routes if k[0] == self.command and k[1].endswith("*")
                                and parts.path.startswith(k[1][:-1])]
                    if prefixes:
                        handler = server.routes[max(prefixes, key=lambda k: len(k[1]))]
                try:
                    reply: Reply = (404, {"error": "not found"}) if handler is None else handler(req)
                except Exception as exc:  # a broken fake: answer so the test shows it
                    reply = (599, {"error": f"test server: {type(exc).__name__}: {exc}"})
                status, payload = reply[0], reply[1]
                headers = reply[2] if len(reply) > 2 else {}  # type: ignore[misc]
                data = payload if isinstance(payload, bytes) else (
                    payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
                if "Date" in headers:  # a vendor clock other than ours (the doctor's skew check)
                    self.send_response_only(status)
                    self.send_header("Date", headers.pop("Date"))
                else:
                    self.send_response(status)  # adds Date: now
                self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]
