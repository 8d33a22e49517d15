"""Simulated days kept on disk for the day cache (:mod:`zdte_tui.service.daycache`): a query at a
new ``--at`` on a day already simulated reads the events it needs instead of simulating the day again.

One directory per symbol and day, keyed by everything that determines the simulated events (symbol,
session date, seed, resolved scenario, price level; the code is in the cache's top directory)::

    sim/<key>/day.json          format, symbol, row counts and dtypes, CRC-32 of the head and of
                                every CHECK_ROWS rows of each column
             /head.pickle        the chain definition and the vol context
             /<group>.<field>.bin   spot / quotes / trades columns, raw little-endian arrays

The events are the simulator's own (:func:`zdte_tui.sources.sim.stream_simulated_day`, block by
block, so memory holds one block), concatenated per column: raw arrays rather than a recording, so a
window is a memory-mapped slice (no decoding) and :class:`CachedSimSource` -- the
:class:`~zdte_tui.sources.sim.SimSource` itself, reading its sessions from here -- delivers
bit-identical batches in the same slices as the simulator (tests/service/test_simday.py).

Only the rows a play reads are checked: each window's rows and their neighbours against the stored
CRCs, and the window's bounds against the times next to it. A directory that is incomplete, of
another format, or fails a check is deleted and the day simulated again (in memory at once when the
damage is found mid-play, so the answers never change), never an error.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import pickle
import shutil
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from zdte_tui.market.events import ChainDefinition, EventBatch, OptionQuotes, OptionTrades, SpotTicks, VolContext
from zdte_tui.sources.sim import CompactSession, SimSource, stream_simulated_day
from zdte_tui.sources.sim_model import plan_session

log = logging.getLogger(__name__)

SIMDAY_FORMAT = 1
CHECK_ROWS = 1 << 16
"""Rows per CRC-32 block of a column: a read checks only the blocks it touches."""
GROUPS: dict[str, Any] = {"spot": SpotTicks, "quotes": OptionQuotes, "trades": OptionTrades}


class DamagedDay(Exception):
    """A stored day failed a check (the caller falls back to simulating it)."""


def day_key(symbol: str, session_date: dt.date, seed: int, scenario: str, level: float | None) -> str:
    text = json.dumps([SIMDAY_FORMAT, symbol, session_date.isoformat(), int(seed), scenario,
                       None if level is None else repr(float(level))])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _crc(arr: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(arr).tobytes())


def _crcs(arr: np.ndarray) -> list[int]:
    """The CRC-32 of every CHECK_ROWS rows of ``arr``."""
    return [_crc(arr[i:i + CHECK_ROWS]) for i in range(0, len(arr), CHECK_ROWS)]


def write_day(directory: Path, symbol: str, session_date: dt.date, seed: int, scenario: str,
              level: float | None) -> None:
    """Simulate ``symbol``'s day and store it in ``directory`` (written aside, then renamed into place:
    a reader sees a whole day or none)."""
    tmp = directory.with_name(f".{directory.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        files: dict[str, Any] = {}
        dtypes: dict[str, str] = {}
        head: list[Any] = []
        levels = None if level is None else {symbol: level}
        for event in stream_simulated_day([symbol], session_date, seed, scenario, levels):
            if not isinstance(event, EventBatch):
                head.append(event)
                continue
            for gname in GROUPS:
                group = getattr(event, gname)
                for f in group.__dataclass_fields__:
                    name = f"{gname}.{f}"
                    arr = np.ascontiguousarray(getattr(group, f))
                    dtypes.setdefault(name, arr.dtype.newbyteorder("<").str)
                    if name not in files:
                        files[name] = (tmp / f"{name}.bin").open("wb")
                    files[name].write(arr.astype(dtypes[name], copy=False).tobytes())
        for f in files.values():
            f.close()
        chain = next(e for e in head if isinstance(e, ChainDefinition))
        vol = next(e for e in head if isinstance(e, VolContext))
        head_bytes = pickle.dumps((chain, vol), protocol=pickle.HIGHEST_PROTOCOL)
        (tmp / "head.pickle").write_bytes(head_bytes)
        columns = {}
        for name, dtype in dtypes.items():
            arr = np.fromfile(tmp / f"{name}.bin", dtype=dtype)
            columns[name] = {"dtype": dtype, "rows": len(arr), "crc": _crcs(arr)}
        meta = {"format": SIMDAY_FORMAT, "symbol": symbol, "session_date": session_date.isoformat(),
                "seed": int(seed), "scenario": scenario, "level": level, "head_crc": zlib.crc32(head_bytes),
                "check_rows": CHECK_ROWS, "columns": columns}
        (tmp / "day.json").write_text(json.dumps(meta), encoding="utf-8")
        try:
            os.rename(tmp, directory)
        except OSError:  # another process stored the same day meanwhile: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class StoredDay:
    """One symbol's stored day, read window by window (what :class:`SimSource` asks a session for:
    ``chain`` and ``batch(start_ns, end_ns)``). Raises :class:`DamagedDay` when it cannot be opened."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        try:
            meta = json.loads((directory / "day.json").read_text(encoding="utf-8"))
            if meta.get("format") != SIMDAY_FORMAT or meta.get("check_rows") != CHECK_ROWS:
                raise DamagedDay("another format")
            head = (directory / "head.pickle").read_bytes()
            if zlib.crc32(head) != meta["head_crc"]:
                raise DamagedDay("head checksum")
            self.chain, self.vol = pickle.loads(head)  # noqa: S301 - our own cache directory, checksummed
            self.symbol = str(meta["symbol"])
            self._cols: dict[str, dict[str, np.ndarray]] = {g: {} for g in GROUPS}
            self._crc: dict[str, list[int]] = {}
            self._checked: dict[str, set[int]] = {}
            for name, col in meta["columns"].items():
                gname, field = name.split(".", 1)
                path, dtype, rows = directory / f"{name}.bin", np.dtype(col["dtype"]), int(col["rows"])
                if path.stat().st_size != rows * dtype.itemsize or len(col["crc"]) != -(-rows // CHECK_ROWS):
                    raise DamagedDay(f"{name}: size")
                arr = np.memmap(path, dtype=dtype, mode="r", shape=(rows,)) if rows else np.empty(0, dtype)
                self._cols[gname][field] = arr
                self._crc[name], self._checked[name] = [int(c) for c in col["crc"]], set()
            for gname, cls in GROUPS.items():
                if set(self._cols[gname]) != set(cls.__dataclass_fields__):
                    raise DamagedDay(f"{gname}: columns")
        except DamagedDay:
            raise
        except Exception as exc:  # noqa: BLE001 - a missing or damaged file: simulate the day again
            raise DamagedDay(f"{type(exc).__name__}: {exc}") from exc

    def _check(self, gname: str, a: int, b: int) -> None:
        """CRC-check the blocks of every column of ``gname`` holding rows ``[a, b)``."""
        for field, arr in self._cols[gname].items():
            name, checked = f"{gname}.{field}", self._checked[f"{gname}.{field}"]
            for k in range(a // CHECK_ROWS, -(-b // CHECK_ROWS)):
                if k in checked:
                    continue
                if _crc(arr[k * CHECK_ROWS:(k + 1) * CHECK_ROWS]) != self._crc[name][k]:
                    raise DamagedDay(f"{name}: block {k} checksum")
                checked.add(k)

    def _rows(self, gname: str, t_ns: int) -> int:
        """How many rows of ``gname`` are at or before ``t_ns`` (checked against the rows next to it)."""
        ts = self._cols[gname]["ts_ns"]
        n = len(ts)
        i = int(np.searchsorted(ts, t_ns, side="right"))
        self._check(gname, max(0, i - 1), min(n, i + 1))
        if (i > 0 and ts[i - 1] > t_ns) or (i < n and ts[i] <= t_ns):
            raise DamagedDay(f"{gname}: times out of order")
        return i

    def batch(self, start_ns: int, end_ns: int) -> EventBatch:
        """The events in ``(start_ns, end_ns]`` (as :meth:`CompactSession.batch`: the same arrays)."""
        out = {}
        for gname, cls in GROUPS.items():
            a, b = self._rows(gname, int(start_ns)), self._rows(gname, int(end_ns))
            self._check(gname, a, b)
            out[gname] = cls(**{f: np.array(arr[a:b]) for f, arr in self._cols[gname].items()})
        return EventBatch(self.symbol, int(start_ns), int(end_ns), out["spot"], out["quotes"], out["trades"])


class SimDays:
    """The stored days under ``root`` (``<cache version dir>/sim``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def directory(self, symbol: str, session_date: dt.date, seed: int, scenario: str, level: float | None) -> Path:
        return self.root / day_key(symbol, session_date, seed, scenario, level)

    def open(self, symbol: str, session_date: dt.date, seed: int, scenario: str, level: float | None) -> StoredDay:
        """The stored day, simulated and stored first when it is missing or damaged."""
        directory = self.directory(symbol, session_date, seed, scenario, level)
        for attempt in range(2):
            if not directory.exists():
                self.root.mkdir(parents=True, exist_ok=True)
                write_day(directory, symbol, session_date, seed, scenario, level)
            try:
                day = StoredDay(directory)
            except DamagedDay as exc:
                if attempt:
                    raise
                log.warning("stored simulated day %s is damaged (%s): simulating it again", directory, exc)
                shutil.rmtree(directory, ignore_errors=True)
                continue
            os.utime(directory)  # least recently used goes first (daycache.prune)
            return day
        raise AssertionError("unreachable")


class _Guarded:
    """A stored day as the session :class:`CachedSimSource` plays: a damaged window found mid-play
    deletes the stored day and the rest is served from the day simulated in memory (the same events)."""

    def __init__(self, day: StoredDay, simulate: Callable[[], CompactSession]) -> None:
        self.chain, self._day, self._simulate = day.chain, day, simulate
        self._fallback: CompactSession | None = None

    def batch(self, start_ns: int, end_ns: int) -> EventBatch:
        if self._fallback is None:
            try:
                return self._day.batch(start_ns, end_ns)
            except DamagedDay as exc:
                log.warning("stored simulated day %s is damaged (%s): simulating it again", self._day.dir, exc)
                shutil.rmtree(self._day.dir, ignore_errors=True)
                self._fallback = self._simulate()
        return self._fallback.batch(start_ns, end_ns)


class CachedSimSource(SimSource):
    """The simulator reading each symbol's events from :class:`SimDays` (simulated and stored there
    once) instead of simulating them: the same events, delivered by the SimSource's own play logic."""

    def __init__(self, *args: Any, days: SimDays, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.days = days
        self.used: list[Path] = []  # the stored days this source read (the cache keeps them when pruning)

    @classmethod
    def like(cls, source: SimSource, days: SimDays) -> CachedSimSource:
        """A CachedSimSource playing what ``source`` would (same day, start, speed, levels)."""
        return cls(source.symbols, session_date=source.session_date, seed=source.seed, scenario=source.scenario,
                   at=source.start_ns, speed=None if source.clock is None else source.clock.speed,
                   batch_seconds=source.batch_seconds, linger=source.linger,
                   levels=source.levels, days=days)

    def _generate(self, sym: str) -> Any:  # SimSource's hook: a symbol's session, and its vol context
        level = self.levels.get(sym)

        def simulate() -> CompactSession:
            return CompactSession.from_plan(plan_session(sym, self.session_date, self.seed, self.scenario, level))

        try:
            day = self.days.open(sym, self.session_date, self.seed, self.scenario, level)
        except (DamagedDay, OSError) as exc:  # e.g. a full or read-only disk: simulate as the SimSource does
            log.warning("cannot store the simulated day of %s (%s): simulating it in memory", sym, exc)
            return super()._generate(sym)
        self._vol[sym] = day.vol
        self.used.append(day.dir)
        return _Guarded(day, simulate)


__all__ = ["CHECK_ROWS", "CachedSimSource", "DamagedDay", "SIMDAY_FORMAT", "SimDays", "StoredDay", "day_key",
           "write_day"]
