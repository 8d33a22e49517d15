"""The session clock the header shows between polls (pure: no Textual, no wall clock inside).

The service answers ``status()`` only at each poll (every 30 s by default), so a header that
printed ``status["session_time"]`` would look frozen. :class:`DisplayClock` remembers the
last status and the *monotonic* instant it arrived, and extrapolates::

    now = base + (mono_now - received) * rate

where ``base`` is the playback clock's own time (``clock.now``, ahead of the data right after a
seek) or else the data time (``session_time``), and ``rate`` is the clock speed (1 for a live
source). A paused, finished or as-fast-as-possible clock does not move between polls. The
result is clamped to the session close when it is known (:func:`close_time`), so the header
never counts past the close.

The data age is ``now - newest feed stamp``: it grows between polls and is the real age of
what the panes show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from zdte_tui.ui import formatting as fmt

CATCH_UP_SECONDS = 45.0
FEED_KEYS = ("flow_feed", "equity_options_feed", "index_options_feed", "equity_feed", "index_feed")


def close_time(snapshot: Mapping[str, Any] | None) -> datetime | None:
    """The session close (UTC) from a snapshot: ``as_of + time_to_close_hours``.

    The service computes ``time_to_close_hours`` from the exchange calendar, so half days
    (13:00 ET closes) come out right; None when the snapshot does not say.
    """
    if not snapshot:
        return None
    as_of = fmt.parse_iso_utc(snapshot.get("as_of"))
    hours = snapshot.get("time_to_close_hours")
    if as_of is None or not isinstance(hours, (int, float)) or isinstance(hours, bool):
        return None
    close = as_of + timedelta(hours=float(hours))
    # time_to_close_hours is rounded (3 decimals = 3.6 s): a close is on a whole minute
    return (close + timedelta(seconds=30)).replace(second=0, microsecond=0)


def newest_feed(status: Mapping[str, Any] | None) -> datetime | None:
    feeds = (status or {}).get("data_as_of") or {}
    if not isinstance(feeds, Mapping):
        return None
    stamps = [fmt.parse_iso_utc(feeds.get(k)) for k in FEED_KEYS]
    stamps = [s for s in stamps if s is not None]
    return max(stamps) if stamps else None


@dataclass(frozen=True)
class DisplayClock:
    """The last status seen and when (monotonic seconds); :meth:`now` extrapolates it."""

    data_time: datetime | None = None  # the engine's data time (status.session_time)
    clock_time: datetime | None = None  # the playback clock (status.clock.now), if reported
    received: float = 0.0
    rate: float = 0.0  # session seconds per wall second between polls (0 = frozen)
    at_end: bool = False
    feed_time: datetime | None = None
    close: datetime | None = None

    @classmethod
    def from_status(cls, status: Mapping[str, Any] | None, received: float,
                    snapshot: Mapping[str, Any] | None = None) -> DisplayClock:
        status = status or {}
        clock = status.get("clock") or {}
        speed = clock.get("speed")
        at_end = bool(clock.get("at_end") or status.get("finished"))
        if clock.get("paused") or at_end or speed == 0:
            rate = 0.0
        elif speed is None:
            # a live source (not controllable): session time is wall time; a controllable clock
            # without a speed runs as fast as possible and moves only by polled slices
            rate = 0.0 if clock.get("controllable") else 1.0
        else:
            try:
                rate = max(0.0, float(speed))
            except (TypeError, ValueError):
                rate = 0.0
        return cls(data_time=fmt.parse_iso_utc(status.get("session_time")),
                   clock_time=fmt.parse_iso_utc(clock.get("now")), received=float(received), rate=rate,
                   at_end=at_end, feed_time=newest_feed(status), close=close_time(snapshot))

    def with_close(self, snapshot: Mapping[str, Any] | None) -> DisplayClock:
        close = close_time(snapshot)
        if close is None:
            return self
        return DisplayClock(self.data_time, self.clock_time, self.received, self.rate, self.at_end,
                            self.feed_time, close)

    @property
    def base(self) -> datetime | None:
        return self.clock_time or self.data_time

    @property
    def catching_up(self) -> bool:
        """The playback clock is ahead of (or behind) the data by more than :data:`CATCH_UP_SECONDS`:
        a seek is being ingested (sources deliver in slices, so a few seconds of lag are normal)."""
        if self.clock_time is None or self.data_time is None:
            return False
        return abs((self.clock_time - self.data_time).total_seconds()) > CATCH_UP_SECONDS

    def now(self, mono: float) -> datetime | None:
        base = self.base
        if base is None:
            return None
        value = base + timedelta(seconds=max(0.0, mono - self.received) * self.rate)
        if self.close is not None and base <= self.close < value:
            value = self.close
        return value

    def age_seconds(self, mono: float) -> float | None:
        """Age of the newest feed stamp at :meth:`now`."""
        now = self.now(mono)
        if now is None or self.feed_time is None:
            return None
        return (now - self.feed_time).total_seconds()

    def minutes_to_close(self, mono: float) -> float | None:
        now = self.now(mono)
        if now is None:
            return None
        if self.close is None:
            return fmt.minutes_to_close(now.strftime("%Y-%m-%dT%H:%M:%SZ"))
        return (self.close - now).total_seconds() / 60.0
