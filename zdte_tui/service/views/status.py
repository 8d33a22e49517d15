"""The ``status`` response and the ``data_as_of`` block of every response envelope."""

from __future__ import annotations

from typing import Any

from zdte_tui.service.views.format import iso

DATA_AS_OF_KEYS = ("equity_feed", "equity_options_feed", "index_feed", "index_options_feed", "futures_feed",
                   "futures_options_feed", "flow_feed", "oi_feed", "macro_feed")


def data_as_of_block(node: str, feed_times_ns: dict[str, int]) -> dict[str, Any]:
    """``{"node": ..., <feed>: ISO time of its last update or None}`` for every documented feed."""
    out: dict[str, Any] = {"node": node}
    for k in DATA_AS_OF_KEYS:
        out[k] = iso(feed_times_ns.get(k))
    return out


def clock_block(clock: Any) -> dict[str, Any]:
    """Playback state of a replayable source's clock (``controllable`` False for a live source)."""
    return {"controllable": clock is not None,
            "paused": bool(clock.paused) if clock is not None else False,
            "speed": clock.speed if clock is not None else None,
            # the playback clock itself: ahead of session_time (the data) right after a seek
            "now": iso(clock.now_ns) if clock is not None else None,
            "at_end": bool(clock.at_end) if clock is not None else False}


__all__ = ["DATA_AS_OF_KEYS", "clock_block", "data_as_of_block"]
