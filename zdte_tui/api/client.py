"""``FlowClient``: the :class:`~zdte_tui.service.protocol.FlowServiceAPI` over HTTP (a ``zdte serve``).

The TUI uses it for ``--server URL``: every method returns the response body as the server sent
it, i.e. the same dict the embedded service returns (including its ``endpoint_version`` /
``data_as_of`` envelope), and every error response comes back as
``ServiceError(code, message, status)``. A network failure is ``ServiceError("unreachable", ...,
status=503)``. One keep-alive ``httpx.Client``; thread-safe for the TUI's worker threads.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from zdte_tui import __version__
from zdte_tui.service.protocol import ServiceError


def _seg(symbol: str) -> str:
    text = str(symbol).strip().upper()
    if not text:
        raise ServiceError("invalid_symbol", "symbol must not be empty")
    return quote(text, safe="")


def error_from_response(resp: httpx.Response) -> ServiceError:
    """``ServiceError`` from a FlashAlpha (``{"error": code}``) or Skylit (``{"error": {"code"}}``) body."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = dict(body["error"], error=body["error"].get("code"))
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        text = resp.text.strip()[:200] or resp.reason_phrase
        return ServiceError(f"http_{resp.status_code}", text, status=resp.status_code)
    extra = {k: v for k, v in body.items() if k not in ("error", "message", "code")}
    if "Retry-After" in resp.headers and "retry_after" not in extra:
        extra["retry_after"] = resp.headers["Retry-After"]
    message = str(body.get("message") or body["error"])
    return ServiceError(body["error"], message, status=resp.status_code, **extra)


class FlowClient:
    """Remote FlowService: ``FlowClient("http://127.0.0.1:8787", api_key="KEY")``."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"User-Agent": f"zdte/{__version__}", "Accept": "application/json"}
        if api_key:
            headers["X-Api-Key"] = api_key
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    # ------------------------------------------------------------------ plumbing
    def _request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                 json: dict[str, Any] | None = None) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            resp = self._http.request(method, path, params=query, json=json)
        except httpx.TimeoutException as exc:
            raise ServiceError("unreachable", f"{self.base_url} timed out ({exc.__class__.__name__})",
                               status=503) from exc
        except httpx.HTTPError as exc:
            raise ServiceError("unreachable", f"cannot reach {self.base_url}: {exc}", status=503) from exc
        if resp.status_code != 200:
            raise error_from_response(resp)
        try:
            return resp.json()
        except ValueError as exc:
            raise ServiceError("bad_response", f"{self.base_url}{path} returned non-JSON", status=502) from exc

    def _flow(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._request("GET", path, params=params)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FlowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ FlowServiceAPI
    def snapshot(self, symbol: str, expiry: str | None = None) -> dict[str, Any]:
        return self._flow(f"/v1/flow/zero-dte/snapshot/{_seg(symbol)}", {"expiry": expiry})

    def series(self, symbol: str, bar: str = "30s", minutes: int = 60) -> dict[str, Any]:
        return self._flow(f"/v1/flow/zero-dte/series/{_seg(symbol)}", {"bar": bar, "minutes": minutes})

    def hedge_flow(self, symbol: str, side: str = "all", bar: str = "30s", minutes: int = 60) -> dict[str, Any]:
        return self._flow(f"/v1/flow/zero-dte/hedge-flow/{_seg(symbol)}",
                          {"side": side, "bar": bar, "minutes": minutes})

    def heatmap(self, symbol: str, metric: str = "gex", mode: str = "raw", bar: str = "1m",
                minutes: int = 60) -> dict[str, Any]:
        return self._flow(f"/v1/flow/zero-dte/heatmap/{_seg(symbol)}",
                          {"metric": metric, "mode": mode, "bar": bar, "minutes": minutes})

    def strike_flow(self, symbol: str, bar: str = "1m", minutes: int = 60) -> dict[str, Any]:
        return self._flow(f"/v1/flow/zero-dte/strike-flow/{_seg(symbol)}", {"bar": bar, "minutes": minutes})

    def leaderboard(self, metric: str = "heat", n: int = 10) -> dict[str, Any]:
        return self._flow("/v1/flow/zero-dte/leaderboard", {"metric": metric, "n": n})

    def signals(self, symbol: str, min_score: float = 0, intent: str | None = None,
                structure: str | None = None, window_minutes: int = 240, limit: int = 50,
                expiry: str | None = None) -> dict[str, Any]:
        return self._flow(f"/v1/flow/signals/{_seg(symbol)}",
                          {"minScore": min_score, "intent": intent, "structure": structure,
                           "windowMinutes": window_minutes, "limit": limit, "expiry": expiry})

    def status(self) -> dict[str, Any]:
        return self._request("GET", "/v1/zdte/status")

    def control(self, action: str, value: float | str | None = None) -> dict[str, Any]:
        return self._request("POST", "/v1/zdte/control", json={"action": action, "value": value})

    # ------------------------------------------------------------------ extras
    def health(self) -> dict[str, Any]:
        """``GET /``: ``{ok, version, source, simulated, symbols, ...}`` (no key needed)."""
        return self._request("GET", "/")

    def skylit_heatmap(self, symbols: str | list[str], metric: str = "gamma", max_strikes: int = 92) -> dict[str, Any]:
        """``GET /v1/heatmap`` (Skylit shape)."""
        joined = symbols if isinstance(symbols, str) else ",".join(symbols)
        return self._request("GET", "/v1/heatmap", params={"symbols": joined, "metric": metric,
                                                            "maxStrikes": max_strikes})
