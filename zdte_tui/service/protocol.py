"""The FlowService query surface, shared by the embedded service, the HTTP client and the TUI.

Every method returns a plain JSON-ready dict in the FlashAlpha shape (see the seeds and the
``flashalpha`` SDK's ``types.py``). Invalid input raises :class:`ServiceError` carrying the
documented error code. This module has no heavy imports: the TUI and the HTTP client use
it without touching the engine.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

SERIES_BARS = ("30s", "1m", "5m", "15m")
HEATMAP_BARS = ("1m",)
HEATMAP_METRICS = ("gex", "dex", "vex", "chex", "oi", "signed_flow")
HEATMAP_MODES = ("raw", "delta")
HEDGE_SIDES = ("all", "calls", "puts")
LEADERBOARD_METRICS = ("heat", "pin_risk", "abs_flow", "charm_intensity")
SIGNAL_INTENTS = ("bullish", "bearish", "neutral")
SIGNAL_STRUCTURES = ("block", "sweep", "single")
CONTROL_ACTIONS = ("pause", "resume", "toggle", "step", "seek", "speed")

ENDPOINT_VERSION = "zdte-1"


class ServiceError(Exception):
    """A documented API error: ``code`` (e.g. ``invalid_bar``), human ``message``, HTTP ``status``."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.extra}

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"ServiceError({self.code!r}, {self.message!r}, status={self.status})"


@runtime_checkable
class FlowServiceAPI(Protocol):
    """What the TUI and scripts may call. Local (:class:`zdte_tui.service.FlowService`) and
    remote (:class:`zdte_tui.api.client.FlowClient`) implementations return identical dicts."""

    def snapshot(self, symbol: str, expiry: str | None = None) -> dict[str, Any]: ...

    def series(self, symbol: str, bar: str = "30s", minutes: int = 60) -> dict[str, Any]: ...

    def hedge_flow(self, symbol: str, side: str = "all", bar: str = "30s", minutes: int = 60) -> dict[str, Any]: ...

    def heatmap(self, symbol: str, metric: str = "gex", mode: str = "raw", bar: str = "1m",
                minutes: int = 60) -> dict[str, Any]: ...

    def strike_flow(self, symbol: str, bar: str = "1m", minutes: int = 60) -> dict[str, Any]: ...

    def leaderboard(self, metric: str = "heat", n: int = 10) -> dict[str, Any]: ...

    def signals(self, symbol: str, min_score: float = 0, intent: str | None = None,
                structure: str | None = None, window_minutes: int = 240, limit: int = 50,
                expiry: str | None = None) -> dict[str, Any]: ...

    def status(self) -> dict[str, Any]:
        """Source and clock state: ``{"source", "label", "simulated", "symbols", "session_date",
        "session_time" (ISO UTC or null), "clock": {"paused", "speed", "controllable", "now" (the playback
        clock, ISO UTC; ahead of session_time while a seek is being ingested), "at_end"},
        "data_as_of": {...}, "errors": [str], "malformed_count": int, "malformed_by_reason": {reason: int},
        "internal_errors": {"<type> at <file:line>": int}, "gaps": [[start, end]]}``. ``errors`` (the
        header's warning line) includes one line per internal error: a bug, logged with its
        traceback once, whose events were skipped."""
        ...

    def control(self, action: str, value: float | str | None = None) -> dict[str, Any]:
        """Playback control (sim and replay only): ``pause``, ``resume``, ``toggle``,
        ``step`` (value = seconds), ``seek`` (value = ``HH:MM`` ET or ISO time),
        ``speed`` (value = session seconds per wall second; 0 = as fast as possible).
        Returns :meth:`status`. Raises ``ServiceError("not_controllable")`` on a live source."""
        ...
