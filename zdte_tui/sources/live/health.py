"""Per-channel health of a live source: the reconnect circuit and the silence watchdog.

``circuit`` follows the usual breaker names: ``closed`` (connected, data may flow),
``open`` (after a failure, waiting out the backoff), ``half_open`` (trying again after the
wait), ``connecting`` (the first attempt). ``stale`` means connected and subscribed but
silent for ``silence_timeout_s`` during the session (a gap is open for it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class ChannelHealth:
    circuit: str = "connecting"
    connected: bool = False
    stale: bool = False
    failures: int = 0
    connects: int = 0
    frames: int = 0
    last_error: str | None = None
    connected_since_s: float | None = None  # monotonic seconds
    last_frame_s: float | None = None
    retry_at_s: float | None = None

    def on_connected(self, now_s: float) -> None:
        self.circuit, self.connected, self.stale = "closed", True, False
        self.connects += 1
        self.connected_since_s = now_s
        self.last_frame_s = None

    def as_dict(self, now_s: float) -> dict[str, Any]:
        quiet = None
        if self.connected:
            quiet = round(now_s - max(self.last_frame_s or 0.0, self.connected_since_s or 0.0), 1)
        return {"circuit": self.circuit, "connected": self.connected, "stale": self.stale,
                "failures": self.failures, "connects": self.connects, "frames": self.frames,
                "seconds_since_data": quiet,
                "retry_in_s": None if self.retry_at_s is None else round(max(0.0, self.retry_at_s - now_s), 2),
                "last_error": self.last_error}
