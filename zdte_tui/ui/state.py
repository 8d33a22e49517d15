"""Immutable data the app fetches from a :class:`FlowServiceAPI` and pushes down to panes.

``fetch_refresh`` is the only function that talks to the service; it runs in a worker thread,
never raises (every failure becomes an error string) and returns a frozen
:class:`RefreshResult`. Panes receive :class:`SymbolData` + :class:`ViewSettings` and never call
the service themselves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from zdte_tui.service.protocol import HEATMAP_METRICS, LEADERBOARD_METRICS, FlowServiceAPI, ServiceError

MIN_SCORE_STEPS = (0, 50, 70, 85)
TAPE_KINDS = ("all", "sweep", "block")
TAPE_SIDES = ("all", "C", "P")  # calls / puts
TAPE_PREMIUM_STEPS = (0, 50_000, 250_000, 1_000_000)
ZOOM_STEPS = (1, 2, 3, 5, 10)  # heatmap strikes per row (index 0 = most zoomed in, the default)
SCROLL_STEP_BARS = 15
HEATMAP_LOOKBACK_MINUTES = 390  # the whole session, so time scrolling is local
SERIES_LOOKBACK_MINUTES = 390
WATCH_HEATMAP_MINUTES = 60
SIGNALS_LIMIT = 200
Mode = Literal["monitor", "watch", "replay"]


@dataclass(frozen=True)
class ViewSettings:
    """User-chosen view of the data; cycling a key returns a new instance."""

    metric: str = "gex"
    heatmap_mode: str = "raw"
    zoom_index: int = 0
    scroll_bars: int = 0
    min_score: int = 0
    tape_kind: str = "all"
    tape_side: str = "all"
    tape_min_premium: float = 0
    tape_contract: str = ""  # e.g. "590C": only that contract (palette)
    leaderboard_metric: str = "heat"

    @property
    def strikes_per_row(self) -> int:
        return ZOOM_STEPS[self.zoom_index]

    def next_metric(self) -> ViewSettings:
        i = HEATMAP_METRICS.index(self.metric) if self.metric in HEATMAP_METRICS else -1
        return replace(self, metric=HEATMAP_METRICS[(i + 1) % len(HEATMAP_METRICS)])

    def toggle_mode(self) -> ViewSettings:
        return replace(self, heatmap_mode="delta" if self.heatmap_mode == "raw" else "raw")

    def zoom(self, direction: int) -> ViewSettings:
        """``direction`` +1 zooms in (fewer strikes per row), -1 zooms out."""
        return replace(self, zoom_index=max(0, min(len(ZOOM_STEPS) - 1, self.zoom_index - direction)))

    def scroll(self, bars: int) -> ViewSettings:
        return replace(self, scroll_bars=max(0, self.scroll_bars + bars))

    def next_min_score(self) -> ViewSettings:
        i = MIN_SCORE_STEPS.index(self.min_score) if self.min_score in MIN_SCORE_STEPS else -1
        return replace(self, min_score=MIN_SCORE_STEPS[(i + 1) % len(MIN_SCORE_STEPS)])

    def next_tape_kind(self) -> ViewSettings:
        return replace(self, tape_kind=_next(TAPE_KINDS, self.tape_kind))

    def next_tape_side(self) -> ViewSettings:
        return replace(self, tape_side=_next(TAPE_SIDES, self.tape_side))

    def next_tape_premium(self) -> ViewSettings:
        return replace(self, tape_min_premium=_next(TAPE_PREMIUM_STEPS, self.tape_min_premium))

    def next_leaderboard_metric(self) -> ViewSettings:
        i = LEADERBOARD_METRICS.index(self.leaderboard_metric) if self.leaderboard_metric in LEADERBOARD_METRICS else -1
        return replace(self, leaderboard_metric=LEADERBOARD_METRICS[(i + 1) % len(LEADERBOARD_METRICS)])


def _next(steps: tuple, current):
    i = steps.index(current) if current in steps else -1
    return steps[(i + 1) % len(steps)]


@dataclass(frozen=True)
class SymbolData:
    """Everything the panes of one symbol show, as returned by the service (dicts are not copied)."""

    symbol: str
    snapshot: Mapping[str, Any] | None = None
    series: Mapping[str, Any] | None = None
    hedge_flow: Mapping[str, Any] | None = None
    heatmap: Mapping[str, Any] | None = None
    signals: Mapping[str, Any] | None = None
    errors: tuple[str, ...] = ()
    heatmap_raw: Mapping[str, Any] | None = None  # delta mode: the raw heatmap its color scale comes from

    @property
    def degraded(self) -> bool:
        return degraded_message(self.snapshot) is not None


@dataclass(frozen=True)
class RefreshPlan:
    """What one refresh fetches: full data for ``focus`` or cards for ``symbols``."""

    view: Literal["symbol", "watch"]
    focus: str
    symbols: tuple[str, ...]
    settings: ViewSettings = field(default_factory=ViewSettings)
    leaderboard_n: int = 10


@dataclass(frozen=True)
class RefreshResult:
    """One refresh's answers; ``errors`` are human strings for the header."""

    plan: RefreshPlan
    status: Mapping[str, Any] | None
    symbols: Mapping[str, SymbolData]
    leaderboard: Mapping[str, Any] | None
    errors: tuple[str, ...] = ()


AUTH_HINT = ("the server refused the API key: restart with --api-key KEY, a key that `zdte serve` accepts "
             "(its --api-key KEY[:PLAN] or ZDTE_API_KEYS)")


def describe_error(exc: BaseException) -> str:
    """``ServiceError`` -> ``code: message``; anything else -> ``TypeName: text``.

    A 401/403 names the status and what to do about it, since retrying cannot fix it."""
    if isinstance(exc, ServiceError):
        if exc.status in (401, 403):
            return f"{exc.status} {exc.code}: {AUTH_HINT}"
        return f"{exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def is_auth_error(text: str) -> bool:
    return AUTH_HINT in text


def no_data_message(errors: Sequence[str]) -> str | None:
    """Why a symbol has no data at all, for the whole screen instead of panes that would say
    "loading" for ever: a refused API key (what to do about it), else the last error (None when
    nothing failed: the first answer is simply on its way)."""
    auth = [e for e in errors if is_auth_error(e)]
    if auth:
        found = re.search(r"\b(40[13] \w+):", auth[-1])  # "SPY snapshot: 401 unauthorized: ..."
        return (f"The server refused the API key ({found.group(1) if found else 'unauthorized'}).\n\n"
                "Restart with --api-key KEY, a key that `zdte serve` accepts (its --api-key KEY[:PLAN] "
                "or ZDTE_API_KEYS).")
    if errors:
        return f"No answer from the service yet: {errors[-1]}\n\nThe monitor keeps retrying."
    return None


def degraded_message(snapshot: Mapping[str, Any] | None) -> str | None:
    """The no-0DTE / closed-session explanation for a degraded snapshot, else None."""
    if not snapshot:
        return None
    if snapshot.get("no_zero_dte"):
        nxt = snapshot.get("next_zero_dte_expiry")
        symbol = snapshot.get("symbol", "")
        base = snapshot.get("message") or f"{symbol} has no same-day (0DTE) expiry today."
        return base if not nxt or nxt in base else f"{base} Next 0DTE expiry: {nxt}."
    if snapshot.get("session_closed"):
        nxt = snapshot.get("next_zero_dte_expiry")
        last = snapshot.get("last_session")
        base = snapshot.get("message") or "The 0DTE session is closed."
        extra = []
        if last and last not in base:
            extra.append(f"Last session: {last}.")
        if nxt and nxt not in base:
            extra.append(f"Next 0DTE expiry: {nxt}.")
        return " ".join([base, *extra])
    return None


def _call(errors: list[str], label: str, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - every failure is shown in the header, never raised
        errors.append(f"{label}: {describe_error(exc)}")
        return None


def fetch_symbol(service: FlowServiceAPI, symbol: str, settings: ViewSettings) -> SymbolData:
    """Snapshot first; the time series only when the snapshot is a live 0DTE body."""
    errors: list[str] = []
    snapshot = _call(errors, "snapshot", service.snapshot, symbol)
    if snapshot is None or degraded_message(snapshot) is not None:
        return SymbolData(symbol, snapshot=snapshot, errors=tuple(errors))
    series = _call(errors, "series", service.series, symbol, "1m", SERIES_LOOKBACK_MINUTES)
    hedge = _call(errors, "hedge-flow", service.hedge_flow, symbol, "all", "1m", SERIES_LOOKBACK_MINUTES)
    raw = None
    if settings.heatmap_mode == "delta":  # one color scale for raw and delta: bar-to-bar noise stays faint
        raw = _call(errors, "heatmap", service.heatmap, symbol, settings.metric, "raw", "1m", HEATMAP_LOOKBACK_MINUTES)
    heatmap = _call(errors, "heatmap", service.heatmap, symbol, settings.metric, settings.heatmap_mode, "1m",
                    HEATMAP_LOOKBACK_MINUTES)
    signals = _call(errors, "signals", service.signals, symbol, 0, None, None, SERIES_LOOKBACK_MINUTES, SIGNALS_LIMIT)
    return SymbolData(symbol, snapshot, series, hedge, heatmap, signals, tuple(errors), heatmap_raw=raw)


def fetch_card(service: FlowServiceAPI, symbol: str) -> SymbolData:
    """What a watch card needs: the snapshot and a short GEX heatmap."""
    errors: list[str] = []
    snapshot = _call(errors, "snapshot", service.snapshot, symbol)
    heatmap = None
    if snapshot is not None and degraded_message(snapshot) is None:
        heatmap = _call(errors, "heatmap", service.heatmap, symbol, "gex", "raw", "1m", WATCH_HEATMAP_MINUTES)
    return SymbolData(symbol, snapshot=snapshot, heatmap=heatmap, errors=tuple(errors))


def fetch_refresh(service: FlowServiceAPI, plan: RefreshPlan) -> RefreshResult:
    """Run every service call of one refresh; never raises."""
    errors: list[str] = []
    status = _call(errors, "status", service.status)
    if plan.view == "watch":
        symbols = {s: fetch_card(service, s) for s in plan.symbols}
    else:
        symbols = {plan.focus: fetch_symbol(service, plan.focus, plan.settings)}
    board = _call(errors, "leaderboard", service.leaderboard, plan.settings.leaderboard_metric, plan.leaderboard_n)
    for data in symbols.values():
        errors.extend(f"{data.symbol} {e}" for e in data.errors)
    return RefreshResult(plan, status, symbols, board, tuple(errors))


def refresh_interval_seconds(base_seconds: float, status: Mapping[str, Any] | None) -> float:
    """Poll period: ``base`` normally; ``min(base, max(1, base / speed))`` while a fast clock runs.

    A replay or simulator at speed 10 thus refreshes every 3 s instead of 30 s; speed 0 (as fast
    as possible) refreshes every second; a paused clock keeps the base period.
    """
    clock = (status or {}).get("clock") or {}
    speed = clock.get("speed")
    if clock.get("paused") or speed is None:
        return base_seconds
    try:
        speed = float(speed)
    except (TypeError, ValueError):
        return base_seconds
    if speed == 0:
        return min(base_seconds, 1.0)
    if speed > 1:
        return min(base_seconds, max(1.0, base_seconds / speed))
    return base_seconds
