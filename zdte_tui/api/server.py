"""``zdte serve``: a FlowService over HTTP, FlashAlpha-compatible (plus a Skylit-style heatmap).

Paths and query names are FlashAlpha's, so the official ``flashalpha`` SDK works against it with
``FlashAlpha(key, base_url="http://127.0.0.1:8787")``. The service does the parameter validation
(``invalid_bar``, ``invalid_metric`` ...); this module maps query strings to method arguments,
turns malformed values (``minutes=abc``) into ``400 invalid_parameter``, checks API keys, plans and
the per-key rate limit, and wraps every success with ``endpoint_version`` and ``data_as_of``.
Blocking service calls run in the thread pool so the event loop never waits on the engine.
See docs/http-api.md for the full contract.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, FastAPI, Path, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from zdte_tui import __version__
from zdte_tui.api import skylit
from zdte_tui.api.auth import (
    RateLimiter,
    is_loopback_host,
    is_remote_client,
    plan_allows,
    plan_display_name,
    resolve_plan,
)
from zdte_tui.api.transport import TransportLimits, build_server
from zdte_tui.service.protocol import ENDPOINT_VERSION, FlowServiceAPI, ServiceError

log = logging.getLogger("zdte.api")

ZERO_DTE = "/v1/flow/zero-dte"
SKYLIT_HEATMAP_PATH = "/v1/heatmap"

#: Minimum plan per endpoint (path template -> plan). Health, /health and /openapi.json are public.
ENDPOINT_PLANS: dict[str, str] = {
    f"{ZERO_DTE}/snapshot/{{symbol}}": "growth",
    f"{ZERO_DTE}/series/{{symbol}}": "growth",
    f"{ZERO_DTE}/hedge-flow/{{symbol}}": "growth",
    f"{ZERO_DTE}/heatmap/{{symbol}}": "alpha",
    f"{ZERO_DTE}/strike-flow/{{symbol}}": "alpha",
    f"{ZERO_DTE}/leaderboard": "alpha",
    "/v1/flow/signals/{symbol}": "alpha",
    SKYLIT_HEATMAP_PATH: "alpha",
    "/v1/zdte/status": "growth",
    "/v1/zdte/control": "growth",
}

#: ``data_as_of`` keys of the FlashAlpha ``DataAsOf`` envelope (each ISO time or null) besides ``node``.
DATA_AS_OF_FEEDS = ("equity_feed", "equity_options_feed", "index_feed", "index_options_feed", "futures_feed",
                    "futures_options_feed", "flow_feed", "oi_feed", "macro_feed")

MAX_SYMBOL_LENGTH = 32
FAILED_AUTH_PER_MINUTE = 30  # missing/unknown API keys per client address per minute
_INT32 = 2**31 - 1


# --------------------------------------------------------------------------- JSON
def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def _finite_json(obj: Any) -> Any:
    """Copy of ``obj`` with NaN/inf floats replaced by null (JSON has no NaN)."""
    if isinstance(obj, dict):
        return {k: _finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _finite_json(obj.tolist())
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


class JSONBody(Response):
    """Compact JSON; numpy values converted; a non-finite float becomes null instead of a 500."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        try:
            text = json.dumps(content, allow_nan=False, default=_json_default, separators=(",", ":"))
        except ValueError:
            text = json.dumps(_finite_json(content), allow_nan=False, default=_json_default, separators=(",", ":"))
        return text.encode("utf-8")


# --------------------------------------------------------------------------- errors
class ApiProblem(Exception):
    """An HTTP error raised by the server itself (auth, plan, rate limit): status + code + extras."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})
        self.extra = extra


class ErrorBody(BaseModel):
    """FlashAlpha error envelope; 403 ``tier_restricted`` adds ``current_plan`` and ``required_plan``."""

    error: str = Field(description="machine-readable code, e.g. invalid_bar, unauthorized, tier_restricted")
    message: str = Field(description="human-readable explanation")


class SkylitErrorDetail(BaseModel):
    code: str
    message: str


class SkylitErrorBody(BaseModel):
    """Skylit error envelope ``{"error": {"code", "message"}}``."""

    error: SkylitErrorDetail


def _responses(model: type[BaseModel], *codes: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "invalid parameter", 401: "missing or unknown API key", 403: "plan too low (tier_restricted)",
            404: "unknown symbol or expiry", 409: "not controllable (live source)",
            429: "rate limited (see Retry-After)", 503: "warming up (no chain from the source yet) or unavailable"}
    return {code: {"model": model, "description": text[code]} for code in codes}


_FLASH_ERRORS = _responses(ErrorBody, 400, 401, 403, 404, 429, 503)
_SKYLIT_ERRORS = _responses(SkylitErrorBody, 400, 401, 403, 404, 429, 503)


def _is_skylit(request: Request) -> bool:
    return request.url.path.rstrip("/") == SKYLIT_HEATMAP_PATH


def error_response(request: Request, status: int, code: str, message: str,
                   headers: Mapping[str, str] | None = None, extra: Mapping[str, Any] | None = None) -> JSONBody:
    """``{"error": code, "message": ..., **extra}`` (Skylit path: ``{"error": {"code", "message", **extra}}``)."""
    fields = {k: v for k, v in (extra or {}).items() if k not in ("error", "code", "message")}
    if _is_skylit(request):
        body: dict[str, Any] = {"error": {"code": code, "message": message, **fields}}
    else:
        body = {"error": code, "message": message, **fields}
    return JSONBody(body, status_code=status, headers=dict(headers or {}))


def _describe_validation_error(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        if err.get("type") == "json_invalid":
            parts.append("body: invalid JSON")
            continue
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body", "header")]
        name = ".".join(loc) or "request"
        parts.append(f"{name}: {err.get('msg', 'invalid value')}")
    return "; ".join(parts)[:500]


# --------------------------------------------------------------------------- state and auth
class _ServerState:
    def __init__(self, service: FlowServiceAPI, api_keys: Mapping[str, str], open_access: bool,
                 limiter: RateLimiter, auth_failures: RateLimiter) -> None:
        self.service = service
        self.api_keys = dict(api_keys)
        self.open_access = open_access
        self.limiter = limiter
        self.auth_failures = auth_failures


_api_key_header = APIKeyHeader(name="X-Api-Key", auto_error=False, scheme_name="ApiKeyHeader",
                               description="API key (FlashAlpha style)")
_bearer = HTTPBearer(auto_error=False, scheme_name="BearerAuth",
                     description="API key as a bearer token (Skylit style)")


def _plan_guard(required_plan: str) -> Callable[..., Any]:
    """A dependency enforcing: key (401) -> rate limit (429) -> plan (403)."""

    async def guard(request: Request, x_api_key: Annotated[str | None, Security(_api_key_header)] = None,
                    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None) -> str:
        state: _ServerState = request.app.state.zdte
        client_host = request.client.host if request.client else None
        if state.open_access:
            if is_remote_client(client_host):
                raise ApiProblem(403, "loopback_only",
                                 "this server has no API keys configured and only answers loopback clients")
            plan, bucket = "alpha", f"client:{client_host}"
        else:
            key = (x_api_key or "").strip() or (bearer.credentials.strip() if bearer else "") or None
            client = f"client:{client_host}"
            locked = state.auth_failures.blocked(client)
            if locked:
                raise ApiProblem(429, "rate_limited",
                                 f"too many failed API key attempts from this address "
                                 f"(limit {state.auth_failures.rate_per_minute}/minute); retry in {locked} s",
                                 headers={"Retry-After": str(locked)}, retry_after=locked)
            plan = resolve_plan(state.api_keys, key)
            if plan is None:
                state.auth_failures.take(client)
                message = ("missing API key: send X-Api-Key or Authorization: Bearer" if key is None
                           else "unknown API key")
                raise ApiProblem(401, "unauthorized", message)
            bucket = f"key:{key}"
        allowed, remaining, retry_after = state.limiter.take(bucket)
        limit_headers = ({"X-RateLimit-Limit": str(state.limiter.rate_per_minute),
                          "X-RateLimit-Remaining": str(remaining)} if state.limiter.enabled else {})
        if not allowed:
            raise ApiProblem(429, "rate_limited",
                             f"rate limit of {state.limiter.rate_per_minute} requests/minute exceeded; "
                             f"retry in {retry_after} s",
                             headers={**limit_headers, "Retry-After": str(retry_after)}, retry_after=retry_after)
        request.state.limit_headers = limit_headers
        if not plan_allows(plan, required_plan):
            current, required = plan_display_name(plan), plan_display_name(required_plan)
            raise ApiProblem(403, "tier_restricted",
                             f"this endpoint requires the {required} plan; your key is on {current}",
                             current_plan=current, required_plan=required)
        return plan

    return guard


def _symbol(raw: str) -> str:
    symbol = raw.strip().upper()
    if not symbol or len(symbol) > MAX_SYMBOL_LENGTH:
        raise ServiceError("invalid_symbol", f"symbol must be 1-{MAX_SYMBOL_LENGTH} characters; got {raw[:40]!r}")
    return symbol


def _data_as_of(service: FlowServiceAPI) -> dict[str, Any]:
    """The SDK ``DataAsOf`` block from ``service.status()`` (every key present, null when unknown)."""
    try:
        source = service.status().get("data_as_of") or {}
    except Exception:  # a broken status must not fail a good answer
        log.exception("service.status() failed while building data_as_of")
        source = {}
    out: dict[str, Any] = {"node": source.get("node") or "zdte"}
    out.update({feed: source.get(feed) for feed in DATA_AS_OF_FEEDS})
    return out


# --------------------------------------------------------------------------- params
SymbolPath = Annotated[str, Path(description="underlying symbol; trimmed and upper-cased", examples=["SPY"])]
Bar30s = Annotated[str, Query(max_length=16, description="30s, 1m, 5m or 15m (else 400 invalid_bar)",
                               examples=["1m"])]
Bar1m = Annotated[str, Query(max_length=16, description="only 1m (else 400 bar_unavailable)", examples=["1m"])]
Minutes = Annotated[int, Query(ge=-_INT32, le=_INT32, description="lookback minutes, clamped to 1-390",
                               examples=[30])]
Expiry = Annotated[str | None, Query(max_length=32, description="yyyy-MM-dd (else 400 invalid_expiry)",
                                     examples=["2026-06-05"])]


class ControlRequest(BaseModel):
    """Body of ``POST /v1/zdte/control``."""

    action: str = Field(max_length=32, description="pause, resume, toggle, step, seek or speed")
    value: float | Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="step: seconds; seek: HH:MM ET or ISO time; speed: session s per wall s")


# --------------------------------------------------------------------------- app
def create_app(service: FlowServiceAPI, *, api_keys: Mapping[str, str] | None, rate_limit_per_minute: int = 600,
               require_auth: bool | None = None, clock: Callable[[], float] = time.monotonic,
               failed_auth_per_minute: int = FAILED_AUTH_PER_MINUTE) -> FastAPI:
    """The ASGI app. ``api_keys`` maps key -> plan (free/basic/growth/alpha).

    ``require_auth=None`` means "auth iff keys are given". Without auth the app answers only
    loopback peers (403 ``loopback_only`` otherwise) as if every caller were on Alpha.
    ``rate_limit_per_minute <= 0`` disables the limiter; ``clock`` drives it (tests).
    ``failed_auth_per_minute``: missing/unknown keys allowed per client address and minute; past it
    every keyed request from that address is ``429`` until its bucket refills (``<= 0``: no limit).
    """
    keys = dict(api_keys or {})
    open_access = (not keys) if require_auth is None else not require_auth
    if open_access:
        log.warning("zdte API: no API keys configured; serving open to loopback clients only")
    app = FastAPI(title="zdte", version=__version__, openapi_url="/openapi.json", docs_url="/docs", redoc_url=None,
                  description="FlashAlpha-compatible 0DTE flow API served by zdte from its embedded engine. "
                              "Auth: X-Api-Key or Authorization: Bearer. See docs/http-api.md.")
    app.state.zdte = _ServerState(service, keys, open_access, RateLimiter(rate_limit_per_minute, clock),
                                  RateLimiter(failed_auth_per_minute, clock))

    # ---- error handlers
    async def on_service_error(request: Request, exc: ServiceError) -> Response:
        status = exc.status if isinstance(exc.status, int) and 400 <= exc.status <= 599 else 500
        return error_response(request, status, exc.code, exc.message, extra=exc.extra)

    async def on_problem(request: Request, exc: ApiProblem) -> Response:
        return error_response(request, exc.status, exc.code, exc.message, headers=exc.headers, extra=exc.extra)

    async def on_validation(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, 400, "invalid_parameter", _describe_validation_error(exc))

    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
        return error_response(request, exc.status_code, code, str(exc.detail), headers=exc.headers)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s", request.url.path, exc_info=exc)
        return error_response(request, 500, "internal_error", "internal server error")

    app.add_exception_handler(ServiceError, on_service_error)
    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)

    async def flow_response(request: Request, method: Callable[..., dict[str, Any]], *args: Any,
                            **kwargs: Any) -> JSONBody:
        def work() -> dict[str, Any]:
            body = dict(method(*args, **kwargs))
            body.setdefault("endpoint_version", ENDPOINT_VERSION)
            if "data_as_of" not in body:
                body["data_as_of"] = _data_as_of(service)
            return body

        body = await run_in_threadpool(work)
        return JSONBody(body, headers=getattr(request.state, "limit_headers", {}))

    def guarded(path: str) -> list[Any]:
        return [Depends(_plan_guard(ENDPOINT_PLANS[path]))]

    # ---- public
    @app.get("/", tags=["meta"], summary="Health: source, symbols, version",
             responses=_responses(ErrorBody, 503))
    async def health() -> Response:
        try:
            status = await run_in_threadpool(service.status)
        except Exception as exc:  # report, don't crash the health check
            log.exception("service.status() failed")
            return JSONBody({"ok": False, "error": "unavailable", "message": str(exc)[:200],
                             "version": __version__}, status_code=503)
        return JSONBody({"ok": True, "version": __version__, "endpoint_version": ENDPOINT_VERSION,
                         "source": status.get("source"), "label": status.get("label"),
                         "simulated": bool(status.get("simulated")), "symbols": list(status.get("symbols") or []),
                         "auth": "open (loopback only)" if open_access else "api key"})

    @app.get("/health", tags=["meta"], summary="SDK health check (FlashAlpha.health())")
    async def sdk_health() -> Response:
        return JSONBody({"status": "ok"})

    # ---- FlashAlpha zero-DTE family
    p = f"{ZERO_DTE}/snapshot/{{symbol}}"

    @app.get(p, tags=["zero-dte"], summary="Live 0DTE snapshot (Growth+)", dependencies=guarded(p),
             responses=_FLASH_ERRORS)
    async def snapshot(request: Request, symbol: SymbolPath, expiry: Expiry = None) -> Response:
        return await flow_response(request, service.snapshot, _symbol(symbol), expiry=expiry)

    p = f"{ZERO_DTE}/series/{{symbol}}"

    @app.get(p, tags=["zero-dte"], summary="Intraday 0DTE series (Growth+)", dependencies=guarded(p),
             responses=_FLASH_ERRORS)
    async def series(request: Request, symbol: SymbolPath, bar: Bar30s = "30s", minutes: Minutes = 60) -> Response:
        return await flow_response(request, service.series, _symbol(symbol), bar=bar, minutes=minutes)

    p = f"{ZERO_DTE}/hedge-flow/{{symbol}}"

    @app.get(p, tags=["zero-dte"], summary="Dealer hedge-flow (Growth+)", dependencies=guarded(p),
             responses=_FLASH_ERRORS)
    async def hedge_flow(request: Request, symbol: SymbolPath,
                         side: Annotated[str, Query(max_length=16, description="all, calls or puts")] = "all",
                         bar: Bar30s = "30s", minutes: Minutes = 60) -> Response:
        return await flow_response(request, service.hedge_flow, _symbol(symbol), side=side, bar=bar, minutes=minutes)

    p = f"{ZERO_DTE}/heatmap/{{symbol}}"

    @app.get(p, tags=["zero-dte"], summary="Strike x time heatmap (Alpha+)", dependencies=guarded(p),
             responses=_FLASH_ERRORS)
    async def heatmap(request: Request, symbol: SymbolPath,
                      metric: Annotated[str, Query(max_length=32,
                                                   description="gex, dex, vex, chex, oi or signed_flow")] = "gex",
                      mode: Annotated[str, Query(max_length=16, description="raw or delta")] = "raw",
                      bar: Bar1m = "1m", minutes: Minutes = 60) -> Response:
        return await flow_response(request, service.heatmap, _symbol(symbol), metric=metric, mode=mode, bar=bar,
                                   minutes=minutes)

    p = f"{ZERO_DTE}/strike-flow/{{symbol}}"

    @app.get(p, tags=["zero-dte"], summary="Per-strike signed aggressor flow (Alpha+)", dependencies=guarded(p),
             responses=_FLASH_ERRORS)
    async def strike_flow(request: Request, symbol: SymbolPath, bar: Bar1m = "1m", minutes: Minutes = 60) -> Response:
        return await flow_response(request, service.strike_flow, _symbol(symbol), bar=bar, minutes=minutes)

    p = f"{ZERO_DTE}/leaderboard"

    @app.get(p, tags=["zero-dte"], summary="Cross-symbol 0DTE leaderboard (Alpha+)", dependencies=guarded(p),
             responses=_FLASH_ERRORS)
    async def leaderboard(request: Request,
                          metric: Annotated[str, Query(max_length=32, description="heat, pin_risk, abs_flow or "
                                                                                  "charm_intensity")] = "heat",
                          n: Annotated[int, Query(ge=-_INT32, le=_INT32, description="1-100 (clamped)")] = 10
                          ) -> Response:
        return await flow_response(request, service.leaderboard, metric=metric, n=n)

    p = "/v1/flow/signals/{symbol}"

    @app.get(p, tags=["signals"], summary="Scored unusual-flow signals (Alpha+)", dependencies=guarded(p),
             responses=_FLASH_ERRORS)
    async def signals(request: Request, symbol: SymbolPath,
                      min_score: Annotated[float, Query(alias="minScore", allow_inf_nan=False, ge=-1e9, le=1e9,
                                                        description="drop signals below this score (0-100)")] = 0,
                      intent: Annotated[str | None, Query(max_length=16,
                                                          description="bullish, bearish or neutral")] = None,
                      structure: Annotated[str | None, Query(max_length=16,
                                                             description="block, sweep or single")] = None,
                      window_minutes: Annotated[int, Query(alias="windowMinutes", ge=-_INT32, le=_INT32,
                                                           description="look-back, clamped to 1-10080")] = 240,
                      limit: Annotated[int, Query(ge=-_INT32, le=_INT32, description="1-500 (clamped)")] = 50,
                      expiry: Expiry = None) -> Response:
        return await flow_response(request, service.signals, _symbol(symbol), min_score=min_score, intent=intent,
                                   structure=structure, window_minutes=window_minutes, limit=limit, expiry=expiry)

    # ---- Skylit-compatible heatmap
    @app.get(SKYLIT_HEATMAP_PATH, tags=["skylit"], summary="Skylit-style live per-strike heatmap (Alpha+)",
             dependencies=guarded(SKYLIT_HEATMAP_PATH), responses=_SKYLIT_ERRORS)
    async def skylit_heatmap(request: Request,
                             symbols: Annotated[str, Query(max_length=512, description="SPY or SPY,QQQ",
                                                           examples=["SPY,QQQ"])],
                             metric: Annotated[str, Query(max_length=16, description="gamma or vanna")] = "gamma",
                             max_strikes: Annotated[int, Query(alias="maxStrikes", ge=1, le=skylit.MAX_STRIKES_LIMIT,
                                                               description="strikes nearest spot")
                                                    ] = skylit.DEFAULT_MAX_STRIKES) -> Response:
        body = await run_in_threadpool(skylit.skylit_heatmap, service, symbols, metric, max_strikes)
        return JSONBody(body, headers=getattr(request.state, "limit_headers", {}))

    # ---- TUI remote mode
    @app.get("/v1/zdte/status", tags=["zdte"], summary="Source and clock state (Growth+)",
             dependencies=guarded("/v1/zdte/status"), responses=_FLASH_ERRORS)
    async def status(request: Request) -> Response:
        body = await run_in_threadpool(service.status)
        return JSONBody(body, headers=getattr(request.state, "limit_headers", {}))

    @app.post("/v1/zdte/control", tags=["zdte"], summary="Playback control for sim and replay (Growth+)",
              dependencies=guarded("/v1/zdte/control"), responses={**_FLASH_ERRORS, **_responses(ErrorBody, 409)})
    async def control(request: Request, command: ControlRequest) -> Response:
        body = await run_in_threadpool(service.control, command.action, command.value)
        return JSONBody(body, headers=getattr(request.state, "limit_headers", {}))

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            for path_item in schema.get("paths", {}).values():
                for operation in path_item.values():
                    operation.get("responses", {}).pop("422", None)
            components = schema.get("components", {}).get("schemas", {})
            components.pop("HTTPValidationError", None)
            components.pop("ValidationError", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def uvicorn_server(app: FastAPI, *, host: str = "127.0.0.1", port: int = 8787, log_level: str = "info",
                   limits: TransportLimits | None = None):
    """A configured ``uvicorn.Server`` with zdte's transport limits (:mod:`zdte_tui.api.transport`);
    run with ``.run()``, stop with ``.should_exit = True``."""
    return build_server(app, host=host, port=port, log_level=log_level, limits=limits)


class ServerThread:
    """Run ``app`` under uvicorn on a background thread (tests, benchmarks, embedding).

    The listening socket is bound and put in ``listen()`` *before* the thread starts, so
    :attr:`base_url` is usable immediately: early connections wait in the backlog until uvicorn
    accepts them (no startup polling). ``port=0`` picks a free port. Use as a context manager
    or call :meth:`start` / :meth:`stop`.
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning",
                 limits: TransportLimits | None = None) -> None:
        import socket
        import threading

        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto
        # says TCP; with proto 0 every response waits ~40 ms on Nagle + delayed ACK.
        self._socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self._socket.listen(128)
        self.host, self.port = host, self._socket.getsockname()[1]
        self.server = uvicorn_server(app, host=host, port=self.port, log_level=log_level, limits=limits)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._socket]},
                                        name=f"zdte-api-{self.port}", daemon=True)

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> ServerThread:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(service: FlowServiceAPI, *, host: str = "127.0.0.1", port: int = 8787,
          api_keys: Mapping[str, str] | None = None, rate_limit_per_minute: int = 600,
          limits: TransportLimits | None = None) -> None:
    """Serve ``service`` until interrupted (blocking).

    Without API keys the server only binds a loopback address; any other ``host`` raises
    ``ValueError`` before anything is bound.
    """
    if not api_keys and not is_loopback_host(host):
        raise ValueError(f"refusing to serve on {host!r} without API keys: bind 127.0.0.1/::1/localhost, "
                         f"or pass --api-key KEY:PLAN (or ZDTE_API_KEYS) to expose the API")
    app = create_app(service, api_keys=api_keys, rate_limit_per_minute=rate_limit_per_minute)
    auth = f"{len(api_keys)} API key(s)" if api_keys else "no API keys: open, loopback clients only"
    shown_host = f"[{host}]" if ":" in host else host
    print(f"zdte serve: http://{shown_host}:{port}  ({auth}; rate limit {rate_limit_per_minute}/min per key)",
          file=sys.stderr)
    uvicorn_server(app, host=host, port=port, limits=limits).run()
