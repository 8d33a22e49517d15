"""US equity-options session calendar in US/Eastern, from ``exchange_calendars`` (XNYS).

Sessions, holidays and 13:00 ET early closes come from the maintained XNYS calendar of
``exchange_calendars``; nothing here is a hand-written holiday list. Timestamps are int64
nanoseconds since the Unix epoch (UTC), as everywhere in :mod:`zdte_tui.market`.

Start-up cost: importing ``exchange_calendars`` pulls in pandas and building the calendar
takes another ~0.2 s, together about a second on a cold start. So the sessions of a window of
years around today are read once and kept as a small JSON table in the user cache directory
(``$XDG_CACHE_HOME/zdte``, default ``~/.cache/zdte``); later launches load that table in a few
milliseconds without importing pandas. The cache file is keyed by a hash of the installed XNYS
calendar sources (:func:`_calendar_fingerprint`), so upgrading ``exchange_calendars`` (new
holiday or special closure) rebuilds it. Dates outside the window extend it on demand. If the
cache directory is not writable the table is simply rebuilt per process.

The first launch on a new machine does not need exchange_calendars either when the package's
shipped table (``xnys_sessions.json``, written by ``python -m zdte_tui.market.calendar`` from
exchange_calendars, :data:`SHIPPED_YEARS`) was built from the same XNYS calendar sources as the
installed ones (same fingerprint) and covers the window: the window is then read from it. Any
other case (another exchange_calendars version, years outside the shipped table) builds from
exchange_calendars as before. A test checks the shipped table equals a fresh build.

0DTE listings: the :data:`DAILY_ZERO_DTE` roots list an expiry every trading day. Other
symbols list weekly expiries on the weekdays given by a ``weekly`` mapping (config
``[calendar.weekly_expiries]``). When a listed weekday is an exchange holiday the expiry
moves to the previous trading day (standard OCC practice: e.g. Good Friday Friday-expiries
expire on Thursday). Symbols in neither list have no 0DTE.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import re
import threading
import warnings
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from zdte_tui.market.roots import DAILY_EXPIRY_SYMBOLS

ET = zoneinfo.ZoneInfo("America/New_York")
"""US/Eastern, the exchange clock."""

DAILY_ZERO_DTE = DAILY_EXPIRY_SYMBOLS
"""Roots with an expiry listed on every trading day (defined in :mod:`zdte_tui.market.roots`)."""

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri")
_FULL_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

CALENDAR_NAME = "XNYS"
_CACHE_FORMAT = 1
_YEARS_BEFORE_TODAY = 5
_YEARS_AFTER_TODAY = 2
_MAX_EXPIRY_SEARCH_DAYS = 31
_NS_PER_US = 1_000
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_CLOCK_RE = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")


# --------------------------------------------------------------------------- session table


@dataclass(frozen=True)
class _SessionTable:
    """Every XNYS session from 1 Jan ``start_year`` to 31 Dec ``end_year``."""

    start_year: int
    end_year: int
    ordinals: tuple[int, ...]  # sorted date.toordinal() of each session
    bounds_ns: Mapping[int, tuple[int, int]]  # ordinal -> (open_ns, close_ns) UTC

    def covers(self, d: date) -> bool:
        return self.start_year <= d.year <= self.end_year

    def to_json(self, fingerprint: str) -> str:
        return json.dumps({
            "format": _CACHE_FORMAT,
            "calendar": CALENDAR_NAME,
            "fingerprint": fingerprint,
            "start_year": self.start_year,
            "end_year": self.end_year,
            "sessions": list(self.ordinals),
            "opens_ns": [self.bounds_ns[o][0] for o in self.ordinals],
            "closes_ns": [self.bounds_ns[o][1] for o in self.ordinals],
        }, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, fingerprint: str) -> _SessionTable | None:
        """The table in ``text``, or None if it is from another format or calendar version."""
        try:
            raw = json.loads(text)
            if raw.get("format") != _CACHE_FORMAT or raw.get("fingerprint") != fingerprint:
                return None
            ordinals = tuple(int(o) for o in raw["sessions"])
            opens, closes = raw["opens_ns"], raw["closes_ns"]
            if not (len(ordinals) == len(opens) == len(closes)) or list(ordinals) != sorted(ordinals):
                return None
            return cls(int(raw["start_year"]), int(raw["end_year"]), ordinals,
                       {o: (int(a), int(b)) for o, a, b in zip(ordinals, opens, closes)})
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def _build_from_exchange_calendars(start_year: int, end_year: int) -> _SessionTable:
    """Read sessions, opens and closes of ``start_year``..``end_year`` from exchange_calendars."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas deprecation chatter inside exchange_calendars
        import exchange_calendars

        try:
            cal = exchange_calendars.get_calendar(
                CALENDAR_NAME, start=f"{start_year}-01-01", end=f"{end_year}-12-31"
            )
        except Exception as exc:  # exchange_calendars raises its own bound errors
            raise ValueError(
                f"{CALENDAR_NAME} calendar has no sessions for {start_year}-{end_year}: {exc}"
            ) from exc
        ordinals = tuple(ts.date().toordinal() for ts in cal.sessions)
        opens = cal.opens.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
        closes = cal.closes.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
    bounds = {o: (int(a), int(b)) for o, a, b in zip(ordinals, opens.view("int64"), closes.view("int64"))}
    return _SessionTable(start_year, end_year, ordinals, bounds)


def _calendar_fingerprint() -> str:
    """Hash of the installed XNYS rule files (found without importing exchange_calendars)."""
    import importlib.util

    spec = importlib.util.find_spec("exchange_calendars")
    if spec is None or spec.origin is None:
        raise ImportError("exchange_calendars is not installed (it is a zdte dependency)")
    package_dir = Path(spec.origin).parent
    digest = hashlib.sha1(CALENDAR_NAME.encode())
    for name in ("exchange_calendar_xnys.py", "us_holidays.py", "exchange_calendar.py"):
        path = package_dir / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.exists() else b"-")
    return digest.hexdigest()[:16]


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "zdte"


SHIPPED_TABLE = Path(__file__).with_name("xnys_sessions.json")
"""The session table shipped with the package (see the module doc)."""
SHIPPED_YEARS = (2015, 2035)
"""The years :func:`write_shipped_table` writes."""
_NS_PER_SECOND = 1_000_000_000


def _shipped_window(fingerprint: str, start_year: int, end_year: int) -> _SessionTable | None:
    """``start_year``..``end_year`` from the shipped table, or None if it was built from other XNYS
    calendar sources (another fingerprint), does not cover those years, or cannot be read."""
    try:
        raw = json.loads(SHIPPED_TABLE.read_text(encoding="utf-8"))
        if (raw.get("format") != _CACHE_FORMAT or raw.get("calendar") != CALENDAR_NAME
                or raw.get("fingerprint") != fingerprint
                or not int(raw["start_year"]) <= start_year <= end_year <= int(raw["end_year"])):
            return None
        first, last = date(start_year, 1, 1).toordinal(), date(end_year, 12, 31).toordinal()
        rows = [(int(o), int(a) * _NS_PER_SECOND, int(b) * _NS_PER_SECOND)
                for o, a, b in zip(raw["sessions"], raw["opens_s"], raw["closes_s"], strict=True) if first <= o <= last]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    ordinals = tuple(o for o, _, _ in rows)
    if list(ordinals) != sorted(set(ordinals)):
        return None
    return _SessionTable(start_year, end_year, ordinals, {o: (a, b) for o, a, b in rows})


def write_shipped_table(path: Path = SHIPPED_TABLE, years: tuple[int, int] = SHIPPED_YEARS) -> Path:
    """Build the shipped table from the installed exchange_calendars (``python -m zdte_tui.market.calendar``).
    Opens and closes are stored in whole seconds (every XNYS open and close is on a minute)."""
    import importlib.metadata

    table = _build_from_exchange_calendars(*years)
    bounds = [table.bounds_ns[o] for o in table.ordinals]
    if any(a % _NS_PER_SECOND or b % _NS_PER_SECOND for a, b in bounds):
        raise ValueError("an XNYS open or close is not on a whole second")
    path.write_text(json.dumps({
        "format": _CACHE_FORMAT,
        "calendar": CALENDAR_NAME,
        "fingerprint": _calendar_fingerprint(),
        "built_from": f"exchange_calendars {importlib.metadata.version('exchange_calendars')}",
        "start_year": table.start_year,
        "end_year": table.end_year,
        "sessions": list(table.ordinals),
        "opens_s": [a // _NS_PER_SECOND for a, _ in bounds],
        "closes_s": [b // _NS_PER_SECOND for _, b in bounds],
    }, separators=(",", ":")) + "\n", encoding="utf-8")
    return path


def _load_or_build(start_year: int, end_year: int) -> _SessionTable:
    fingerprint = _calendar_fingerprint()
    directory = _cache_dir()
    path = directory / f"xnys-{fingerprint}-{start_year}-{end_year}.json"
    try:
        table = _SessionTable.from_json(path.read_text(encoding="utf-8"), fingerprint)
        if table is not None and (table.start_year, table.end_year) == (start_year, end_year):
            return table
    except OSError:
        pass
    table = _shipped_window(fingerprint, start_year, end_year) or _build_from_exchange_calendars(start_year, end_year)
    _write_cache(directory, path, table.to_json(fingerprint), fingerprint)
    return table


def _write_cache(directory: Path, path: Path, text: str, fingerprint: str) -> None:
    """Atomically write the cache file; drop tables of other calendar versions. Best effort."""
    import tempfile

    tmp: str | None = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".xnys-", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
        tmp = None
        for stale in directory.glob("xnys-*.json"):
            if not stale.name.startswith(f"xnys-{fingerprint}-"):
                stale.unlink(missing_ok=True)
    except OSError:
        pass
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


_lock = threading.Lock()
_table: _SessionTable | None = None


def _table_for(d: date) -> _SessionTable:
    """The cached session table, extended (and re-cached) if it does not cover ``d``."""
    global _table
    table = _table
    if table is not None and table.covers(d):
        return table
    with _lock:
        table = _table
        if table is not None and table.covers(d):
            return table
        if table is None:
            this_year = datetime.now(ET).year
            start = min(this_year - _YEARS_BEFORE_TODAY, d.year)
            end = max(this_year + _YEARS_AFTER_TODAY, d.year)
        else:
            start, end = min(table.start_year, d.year), max(table.end_year, d.year)
        _table = _load_or_build(start, end)
        return _table


def _reset_cache() -> None:
    """Forget the in-memory table (tests use it to exercise the load/build paths)."""
    global _table
    with _lock:
        _table = None


# --------------------------------------------------------------------------- sessions


def is_trading_day(d: date) -> bool:
    """True if XNYS holds a regular (full or early-close) session on ``d``."""
    return d.toordinal() in _table_for(d).bounds_ns


def session_bounds_ns(d: date) -> tuple[int, int]:
    """(open, close) of the session on ``d`` as int64 ns UTC. ValueError if not a trading day."""
    bounds = _table_for(d).bounds_ns.get(d.toordinal())
    if bounds is None:
        raise ValueError(f"{d.isoformat()} is not a trading day ({_why_closed(d)})")
    return bounds


def session_bounds(d: date) -> tuple[datetime, datetime]:
    """(open, close) of the session on ``d`` as tz-aware ET datetimes. ValueError if closed."""
    open_ns, close_ns = session_bounds_ns(d)
    return ns_to_et(open_ns), ns_to_et(close_ns)


def is_early_close(d: date) -> bool:
    """True if the session on ``d`` closes before 16:00 ET (the 13:00 half days); False if closed."""
    bounds = _table_for(d).bounds_ns.get(d.toordinal())
    if bounds is None:
        return False
    close = ns_to_et(bounds[1])
    return (close.hour, close.minute) < (16, 0)


def previous_trading_day(d: date) -> date:
    """The last trading day strictly before ``d``."""
    probe = d
    while True:
        table = _table_for(probe)
        i = bisect.bisect_left(table.ordinals, d.toordinal())
        if i > 0:
            return date.fromordinal(table.ordinals[i - 1])
        probe = date(table.start_year - 1, 12, 31)  # extend the window one year back


def next_trading_day(d: date) -> date:
    """The first trading day strictly after ``d``."""
    probe = d
    while True:
        table = _table_for(probe)
        i = bisect.bisect_right(table.ordinals, d.toordinal())
        if i < len(table.ordinals):
            return date.fromordinal(table.ordinals[i])
        probe = date(table.end_year + 1, 1, 1)  # extend the window one year forward


def trading_days(start: date, end: date) -> list[date]:
    """Trading days in ``[start, end]`` (inclusive), oldest first."""
    if end < start:
        return []
    _table_for(start)
    table = _table_for(end)  # now covers both ends
    lo = bisect.bisect_left(table.ordinals, start.toordinal())
    hi = bisect.bisect_right(table.ordinals, end.toordinal())
    return [date.fromordinal(o) for o in table.ordinals[lo:hi]]


def default_session_date(now: datetime) -> date:
    """Today in ET if it is a trading day (even before the open), else the last trading day.

    A naive ``now`` is read as ET wall-clock time.
    """
    today = (now.replace(tzinfo=ET) if now.tzinfo is None else now.astimezone(ET)).date()
    return today if is_trading_day(today) else previous_trading_day(today)


def _why_closed(d: date) -> str:
    return "weekend" if d.weekday() >= 5 else "exchange holiday"


# --------------------------------------------------------------------------- clock


def et_clock_to_ns(d: date, hhmm: str) -> int:
    """ET wall-clock ``"HH:MM"`` (or ``"HH:MM:SS"``) on ``d`` as int64 ns UTC; DST is handled."""
    match = _CLOCK_RE.fullmatch(hhmm.strip()) if isinstance(hhmm, str) else None
    if match is None:
        raise ValueError(f"time {hhmm!r}: expected HH:MM (24-hour, ET), e.g. '10:30'")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"time {hhmm!r}: hour must be 0-23, minutes and seconds 0-59")
    moment = datetime(d.year, d.month, d.day, hour, minute, second, tzinfo=ET)
    return (moment - _EPOCH_UTC) // timedelta(microseconds=1) * _NS_PER_US


def ns_to_et(ts_ns: int) -> datetime:
    """int64 ns UTC -> tz-aware ET datetime (truncated to microseconds)."""
    return (_EPOCH_UTC + timedelta(microseconds=int(ts_ns) // _NS_PER_US)).astimezone(ET)


# --------------------------------------------------------------------------- 0DTE listings


def parse_weekday(name: str) -> int:
    """Weekday index 0 (Monday) .. 4 (Friday) of ``"mon"``, ``"Monday"``, ``"FRI"``...

    Any case, any prefix of at least three letters. ValueError for weekend or unknown names.
    """
    text = str(name).strip().lower()
    if len(text) >= 3:
        for index, full in enumerate(_FULL_WEEKDAY_NAMES):
            if full.startswith(text):
                if index >= 5:
                    raise ValueError(f"{name!r} is a weekend day: options expire Monday to Friday")
                return index
    raise ValueError(f"{name!r} is not a weekday name (mon, tue, wed, thu, fri)")


def _listed_weekdays(symbol: str, weekly: Mapping[str, Sequence[str]] | None) -> frozenset[int]:
    if not weekly:
        return frozenset()
    for key, names in weekly.items():
        if key.strip().upper() == symbol:
            if isinstance(names, str):
                names = [names]
            try:
                return frozenset(parse_weekday(n) for n in names)
            except ValueError as exc:
                raise ValueError(f"weekly expiries of {symbol}: {exc}") from None
    return frozenset()


def has_zero_dte(symbol: str, d: date, weekly: Mapping[str, Sequence[str]] | None = None) -> bool:
    """True if ``symbol`` has an option expiring on ``d`` (a same-day expiry).

    Daily roots (:data:`DAILY_ZERO_DTE`) expire every trading day. A ``weekly`` symbol expires
    on its listed weekdays; a listed weekday that is a holiday moves to the previous trading day.
    """
    sym = symbol.strip().upper()
    if not is_trading_day(d):
        return False
    if sym in DAILY_ZERO_DTE:
        return True
    listed = _listed_weekdays(sym, weekly)
    if not listed:
        return False
    if d.weekday() in listed:
        return True
    # holidays between d and the next session whose listed expiry rolls back onto d
    following = next_trading_day(d)
    day = d + timedelta(days=1)
    while day < following:
        if day.weekday() in listed:
            return True
        day += timedelta(days=1)
    return False


def next_zero_dte_expiry(
    symbol: str,
    after: date,
    weekly: Mapping[str, Sequence[str]] | None = None,
    include_today: bool = False,
) -> date | None:
    """The first date after ``after`` (or on it, with ``include_today``) on which ``symbol`` has 0DTE.

    None for symbols with no 0DTE listing (not daily and no ``weekly`` entry), or if no
    expiry falls within the next 31 days.
    """
    sym = symbol.strip().upper()
    if sym not in DAILY_ZERO_DTE and not _listed_weekdays(sym, weekly):
        return None
    day = after if include_today else after + timedelta(days=1)
    for _ in range(_MAX_EXPIRY_SEARCH_DAYS):
        if has_zero_dte(sym, day, weekly):
            return day
        day += timedelta(days=1)
    return None


if __name__ == "__main__":  # pragma: no cover
    print(f"wrote {write_shipped_table()}")
