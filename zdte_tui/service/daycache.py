"""Cached days for one-shot queries (``zdte snapshot SPY --at 12:00``, ``signals``, ``series``,
``heatmap``, ``export``...): a query at a time already asked reads the engine state at that time
instead of re-simulating (or re-reading) and re-ingesting the morning (docs/day-cache.md).

Layout, under ``$XDG_CACHE_HOME/zdte/days`` (default ``~/.cache/zdte/days``)::

    v<zdte version>-<format>-<code fingerprint>/<key>/day.json   what the day is (source name, label, times)
                                                     /engine-<ns>.pkl   the engine state at that time
                                               sim/<key>/...      a stored simulated day (service/simday.py)

``key`` hashes everything that determines the ingested day (:class:`DaySpec`): for the simulator
the symbols, session date, seed, scenario and price levels; for a recording its resolved path, size and
modification time; and, for both, the engine parameters. Other code (a new version, an edited file:
:func:`code_fingerprint`) uses a new top directory and deletes the others.

A query at ``T``: the engine state at ``T`` is unpickled when it is cached (no simulation, no
recording opened, no ingestion); otherwise the source plays up to ``T`` -- from the newest cached
state at or before ``T`` on the :data:`RESUME_GRID_NS` grid (ET :00/:30) when there is one, so only
the events after it are read (a simulated day from its stored copy: simulated once), else from the
open -- and the state at ``T`` is cached before the query runs (with the newest :00/:30 checkpoints
passed on the way, :data:`CHECKPOINTS_SAVED`), so nothing a query fills in lazily is stored.
Resumed answers are identical to a play from the open (the batches after a grid time are the same;
tests/service/test_daycache.py, test_simday.py). The simulator with several symbols never resumes
(its history comes symbol after symbol). At most :data:`STATES_KEPT` states (up to ~6 MB each for one
symbol: 6.0 MB for a simulated SPY day at the close, 23.9 MB before the trade log kept only signal
candidates) are kept per day and :data:`DAYS_KEPT` days, and the whole cache
under :func:`max_cache_bytes`, least recently used first out.

The states are pickles of the engine followed by their CRC-32: only ever read from the user's own
cache directory, and any file that is cut short, fails its checksum or fails to load is deleted and
rebuilt. Failing to write the cache is logged, never an error.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import pickle
import shutil
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from zdte_tui import __version__
from zdte_tui.engine.flow_engine import FlowEngine, TradeLog
from zdte_tui.market.calendar import et_clock_to_ns, session_bounds_ns
from zdte_tui.market.events import NS_PER_SECOND
from zdte_tui.service.queries import FlowService
from zdte_tui.sources.base import EventSource
from zdte_tui.sources.clock import PacedClock

log = logging.getLogger(__name__)

CACHE_FORMAT = 2
STATES_KEPT = 8
DAYS_KEPT = 8
CHECKPOINTS_SAVED = 2
"""A play caches the state at its ``--at`` and the newest :00/:30 checkpoints it passed on the way
that are not cached yet, at most this many (each is a pickle write, ~0.03 s)."""
MAX_CACHE_MB = 1000
"""Default size cap of the whole cache, in MB (``$ZDTE_DAY_CACHE_MB``): the least recently used
engine states and stored simulated days go first (:meth:`DayCache.prune_to_size`)."""
RESUME_GRID_NS = 30 * 60 * NS_PER_SECOND
"""A new ``--at`` resumes from a cached state only at a multiple of this (ET :00/:30): both the
simulator and recordings deliver history in batches cut there, so the batches after such a state
are the ones a play from the open ingests, and the answers are identical (a resume from elsewhere
would cut a batch in two, which changes the order of float sums)."""


def max_cache_bytes(environ: Mapping[str, str] | None = None) -> int:
    """The size cap of the cache: ``$ZDTE_DAY_CACHE_MB`` megabytes (default :data:`MAX_CACHE_MB`);
    an unreadable value is the default."""
    env = os.environ if environ is None else environ
    try:
        mb = float(env.get("ZDTE_DAY_CACHE_MB", MAX_CACHE_MB))
    except ValueError:
        mb = MAX_CACHE_MB
    return int(max(0.0, mb) * 1_000_000)


def code_fingerprint() -> str:
    """A hash of the zdte package's Python sources (~6 ms): the cache's top directory changes with
    the code, so a state or a stored day written by other code is never read."""
    global _FINGERPRINT
    if _FINGERPRINT is None:
        h = hashlib.sha256()
        package = Path(__file__).resolve().parents[1]
        for path in sorted(package.rglob("*.py")):
            h.update(str(path.relative_to(package)).encode() + b"\0")
            try:
                h.update(path.read_bytes())
            except OSError:
                h.update(b"?")
        _FINGERPRINT = h.hexdigest()[:12]
    return _FINGERPRINT


_FINGERPRINT: str | None = None


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/zdte/days`` (default ``~/.cache/zdte/days``)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "zdte" / "days"


@dataclass(frozen=True)
class DaySpec:
    """Everything that determines an ingested day."""

    kind: str  # "sim" or "replay"
    symbols: tuple[str, ...]
    session_date: str | None  # ISO; None for a recording (it carries its own)
    detail: tuple[tuple[str, str], ...]  # sim: seed, scenario; replay: path, size, mtime_ns
    engine: str  # the engine parameters (repr of EngineParams)

    @classmethod
    def sim(cls, symbols: Iterable[str], session_date: dt.date, seed: int, scenario: str, engine: Any,
            levels: Mapping[str, float] | None = None) -> DaySpec:
        """``levels``: the price level each symbol's day is simulated around (the simulator's own
        reference level when absent), part of what determines the day."""
        symbols = tuple(symbols)
        around = ",".join(f"{s}={float(levels[s])!r}" for s in symbols if levels and s in levels)
        return cls("sim", symbols, session_date.isoformat(),
                   (("seed", str(int(seed))), ("scenario", str(scenario)), ("levels", around)), repr(engine))

    @classmethod
    def replay(cls, path: str | Path, symbols: Iterable[str] | None, engine: Any) -> DaySpec:
        resolved = Path(path).resolve()
        st = resolved.stat()
        return cls("replay", tuple(symbols or ()), None,
                   (("path", str(resolved)), ("size", str(st.st_size)), ("mtime_ns", str(st.st_mtime_ns))),
                   repr(engine))

    def key(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:24]


# ------------------------------------------------------------------------------ engine pickles
def _mapping_proxy(mapping: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(mapping)


def _trade_log(columns: dict[str, np.ndarray], appended: int | None = None) -> TradeLog:
    """A trade log holding the unpickled columns themselves (fresh, writable arrays: no copy), its rows
    final (``TradeLog.freeze``), ``appended`` prints counted (sweep group ids go on from there); the
    next append grows them as any full log."""
    audit = any(name in TradeLog.AUDIT_COLUMNS for name in columns)  # a log of an engine with audit_prints
    log = TradeLog(capacity=1, audit=audit)
    n = len(columns["ts_ns"])
    if n and set(columns) == set(log.cols) and all(a.flags.writeable and len(a) == n for a in columns.values()):
        log.cols = {name: np.ascontiguousarray(columns[name], dtype=log.cols[name].dtype) for name in log.cols}
        log.n = n
    elif n:
        log = TradeLog(capacity=n, audit=audit)
        log.append(**columns)
    log.appended = n if appended is None else int(appended)
    log.freeze()
    return log


class _EnginePickler(pickle.Pickler):
    """Pickles a :class:`FlowEngine`: read-only mappings as dicts, trade logs cut to their length
    (``lengths[id(log)]`` when given: a checkpoint's logs are shared with a live engine that has
    appended since)."""

    def __init__(self, file: Any, lengths: Mapping[int, int] | None = None) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._lengths = dict(lengths or {})

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is MappingProxyType:
            return _mapping_proxy, (dict(obj),)
        if isinstance(obj, TradeLog):
            n = self._lengths.get(id(obj), obj.n)
            return _trade_log, ({name: obj.view(name)[:n] for name in obj.cols}, obj.appended_at(n))  # a copy
        return NotImplemented


_TRAILER = b"ZDTE"


class _Checksummed:
    """A binary file that keeps the CRC-32 of what is written to it (the pickler writes its large
    arrays straight from their memory: no second copy of the state in a buffer)."""

    def __init__(self, f: Any) -> None:
        self.f, self.crc = f, 0

    def write(self, data: Any) -> int:
        self.crc = zlib.crc32(data, self.crc)
        return int(self.f.write(data))


def dump_engine(engine: FlowEngine, path: Path, lengths: Mapping[str, int] | None = None) -> None:
    """Write ``engine`` to ``path`` atomically (a temporary file renamed into place), followed by
    the CRC-32 of the pickle and ``ZDTE``; ``lengths``: each symbol's trade-log length to keep (a
    pump checkpoint's, see ``Checkpoints.held``)."""
    by_log = {id(engine.books[s].log): int(n) for s, n in (lengths or {}).items() if s in engine.books}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as f:
            out = _Checksummed(f)
            _EnginePickler(out, by_log).dump(engine)
            f.write(out.crc.to_bytes(4, "little") + _TRAILER)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def load_engine(path: Path) -> FlowEngine | None:
    """The engine pickled at ``path``; None (and the file deleted) when it cannot be read, is cut
    short or fails its checksum."""
    try:
        data = memoryview(path.read_bytes())
        payload, crc, trailer = data[:-8], data[-8:-4], data[-4:]
        if bytes(trailer) != _TRAILER or zlib.crc32(payload) != int.from_bytes(crc, "little"):
            raise ValueError("checksum")
        engine = pickle.loads(payload)  # noqa: S301 - our own cache directory, written by dump_engine
    except Exception:  # noqa: BLE001 - a damaged or stale cache file is rebuilt, never fatal
        _remove(path)
        return None
    if not isinstance(engine, FlowEngine):
        _remove(path)
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # least recently used goes first
    return engine


# ------------------------------------------------------------------------------ sources
class FrozenDay(EventSource):
    """The source of a service restored from a cached state at ``at_ns``: it delivers nothing (the
    engine already holds the day up to ``at_ns``) and its clock stands paused there."""

    def __init__(self, meta: Mapping[str, Any], at_ns: int) -> None:
        self.name = str(meta["name"])
        self._label = str(meta["label"])
        self.simulated = bool(meta["simulated"])
        self.symbols = tuple(meta["symbols"])
        self.session_date = dt.date.fromisoformat(meta["session_date"])
        self.clock = PacedClock(at_ns, max(at_ns, int(meta["end_ns"])), 1.0, min_ns=min(at_ns, int(meta["start_ns"])))
        self.clock.pause()

    @property
    def label(self) -> str:
        return self._label

    async def events(self):
        return
        yield  # pragma: no cover - makes this an (empty) async generator


# ------------------------------------------------------------------------------ the cache
class DayCache:
    """One day's directory in the cache (see the module docstring)."""

    def __init__(self, spec: DaySpec, root: Path | None = None) -> None:
        self.spec = spec
        base = cache_root() if root is None else Path(root)
        self.version_dir = base / f"v{__version__}-{CACHE_FORMAT}-{code_fingerprint()}"
        self.dir = self.version_dir / spec.key()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._prune(base)

    @property
    def sim_days(self) -> Any:
        """The stored simulated days (:class:`~zdte_tui.service.simday.SimDays`; imported only when a
        day is played, not when a cached state answers)."""
        from zdte_tui.service.simday import SimDays

        return SimDays(self.version_dir / "sim")

    def _prune(self, base: Path) -> None:
        """Drop other versions' directories, and the least recently used days beyond DAYS_KEPT."""
        for other in base.iterdir():
            if other.is_dir() and other != self.version_dir:
                shutil.rmtree(other, ignore_errors=True)
        days = sorted((d for d in self.version_dir.iterdir() if d.is_dir() and d != self.dir and d.name != "sim"),
                      key=lambda d: d.stat().st_mtime, reverse=True)
        for old in days[DAYS_KEPT - 1:]:
            shutil.rmtree(old, ignore_errors=True)
        os.utime(self.dir)

    def prune_to_size(self, keep: Iterable[Path] = (), max_bytes: int | None = None) -> int:
        """Delete the least recently used engine states and stored simulated days (never those in
        ``keep``) until the version directory holds at most ``max_bytes`` (:func:`max_cache_bytes`),
        and temporary files older than an hour (a writer that died); returns the bytes left."""
        limit = max_cache_bytes() if max_bytes is None else int(max_bytes)
        kept = {Path(p) for p in keep}
        entries: list[tuple[float, int, Path]] = []
        stale = time.time() - 3600
        for path in self.version_dir.rglob("*"):
            try:
                st = path.stat()
            except OSError:
                continue
            if ".tmp" in path.name:
                if st.st_mtime < stale:
                    _remove(path)
                continue
            if path.parent.name == "sim" and path.is_dir():  # a stored simulated day, a unit
                size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
                entries.append((st.st_mtime, size, path))
            elif path.name.startswith("engine-") and path.suffix == ".pkl":
                entries.append((st.st_mtime, st.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries, key=lambda e: e[0]):
            if total <= limit:
                break
            if path in kept:
                continue
            _remove(path)
            total -= size
        return total

    # --- metadata and recording ----------------------------------------------------------------
    @property
    def meta_path(self) -> Path:
        return self.dir / "day.json"

    def meta(self) -> dict[str, Any] | None:
        try:
            return dict(json.loads(self.meta_path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    def write_meta(self, meta: Mapping[str, Any]) -> None:
        tmp = self.meta_path.with_name(f".day.json.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(dict(meta), sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.meta_path)

    # --- engine states -------------------------------------------------------------------------
    def state_path(self, t_ns: int) -> Path:
        return self.dir / f"engine-{int(t_ns)}.pkl"

    def load_state(self, t_ns: int) -> FlowEngine | None:
        path = self.state_path(t_ns)
        return load_engine(path) if path.exists() else None

    def state_times(self) -> list[int]:
        """The session times of the states on disk, oldest first."""
        times = []
        for path in self.dir.glob("engine-*.pkl"):
            try:
                times.append(int(path.stem.removeprefix("engine-")))
            except ValueError:
                continue
        return sorted(times)

    def save_state(self, t_ns: int, engine: FlowEngine, lengths: Mapping[str, int] | None = None) -> None:
        dump_engine(engine, self.state_path(t_ns), lengths)
        states = sorted(self.dir.glob("engine-*.pkl"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in states[STATES_KEPT:]:
            old.unlink(missing_ok=True)


def _resolve_at(at: str | None, meta: Mapping[str, Any]) -> int:
    """``HH:MM`` / ``open`` / None (the day's start) -> ns, clamped to the day like the sources do."""
    start, end = int(meta["start_ns"]), int(meta["end_ns"])
    if at is None:
        return start
    if at == "open":
        return max(start, int(meta["open_ns"]))
    return max(start, min(end, et_clock_to_ns(dt.date.fromisoformat(meta["session_date"]), at)))


def start_of(source: EventSource) -> int:
    """The session time a paused source starts delivering at: its ``at`` (a replay's ``at_ns``, the
    simulator's ``start_ns``), which its clock has already left by a few microseconds."""
    for name in ("at_ns", "start_ns"):
        value = getattr(source, name, None)
        if isinstance(value, int):
            return value
    clock = source.clock
    return 0 if clock is None else clock.now_ns


def _resumable(source: EventSource) -> bool:
    """Whether ``source`` played from a cached state at a :data:`RESUME_GRID_NS` multiple ingests
    exactly the batches it would from the open: a recording (all symbols in time order) or the
    simulator with one symbol (with several, its history comes symbol after symbol)."""
    return hasattr(source, "at_ns") or len(tuple(source.symbols)) == 1


def _resume_state(cache: DayCache, start_ns: int) -> tuple[int, FlowEngine] | None:
    """The newest readable cached state on the :data:`RESUME_GRID_NS` grid at or before ``start_ns``."""
    for t in reversed(cache.state_times()):
        if t <= start_ns and t % RESUME_GRID_NS == 0:
            engine = cache.load_state(t)
            if engine is not None:
                return t, engine
    return None


def service_at(cache: DayCache, at: str | None, make_source: Callable[[str | None], EventSource], *,
               settings: Any) -> FlowService:
    """A started, ready FlowService holding the day at ``at`` (``HH:MM`` ET, ``open``, or None for
    the start ``make_source`` gives): the cached engine state when there is one, else
    ``make_source(at)`` played up to ``at`` -- from the newest cached state on the resume grid
    before it when there is one, else from the open -- and its state cached before any query runs,
    with the newest :00/:30 checkpoints passed on the way (:data:`CHECKPOINTS_SAVED`). Failing to
    write the cache (a full or read-only disk) is logged, never an error."""
    meta = cache.meta()
    if meta is not None:
        at_ns = _resolve_at(at, meta)
        engine = cache.load_state(at_ns)
        if engine is not None:
            svc = FlowService(FrozenDay(meta, at_ns), settings=settings)
            svc.engine = engine
            svc.start()
            svc.wait_ready(120)
            return svc
    source = make_source(at)
    from zdte_tui.service.simday import CachedSimSource
    from zdte_tui.sources.sim import SimSource

    if type(source) is SimSource:  # the simulated events come from the stored day (simulated once)
        source = CachedSimSource.like(source, cache.sim_days)
    clock = source.clock
    if clock is None:
        raise ValueError("a cached day needs a source that plays on a clock (sim or replay)")
    start_ns = start_of(source)  # exactly: a playing clock moved a little since the source was built
    clock.pause()
    clock.seek(start_ns)
    svc = FlowService(source, settings=settings)
    svc.checkpoints.interval_ns = RESUME_GRID_NS  # a checkpoint at every :00/:30 passed (the newest are cached)
    resume = _resume_state(cache, start_ns) if meta is not None and _resumable(source) else None
    if resume is not None:  # the source asks the pump for it (resume_points) and delivers only what follows
        svc.checkpoints.offer(*resume)
    svc.start()
    svc.wait_ready(120)
    svc.wait_idle(120)  # and the events stamped exactly at --at, after the batch reaching it
    open_ns, close_ns = session_bounds_ns(source.session_date)
    replay = hasattr(source, "at_ns")  # a recording: its own time range
    first = int(getattr(source, "start_ns", open_ns)) if replay else open_ns
    last = int(getattr(source, "end_ns", close_ns)) if replay else close_ns
    try:
        cache.write_meta({"name": source.name, "label": source.label, "simulated": bool(source.simulated),
                          "symbols": list(source.symbols), "session_date": source.session_date.isoformat(),
                          "open_ns": open_ns, "start_ns": first, "end_ns": last})
        with svc._lock:
            clocks = {b.clock_ns for b in svc.engine.books.values()}
            if clocks == {start_ns}:
                if _resumable(source):
                    on_disk = set(cache.state_times())
                    passed = [t for t in svc.checkpoints.times  # the :00/:30 checkpoints passed after the start
                              if first < t < start_ns and t % RESUME_GRID_NS == 0 and t not in on_disk]
                    for t in passed[-CHECKPOINTS_SAVED:]:  # the newest: the closest a later --at resumes from
                        held = svc.checkpoints.held(t)
                        if held is not None:
                            cache.save_state(t, *held)
                cache.save_state(start_ns, svc.engine)  # before any query fills caches in the engine
        cache.prune_to_size([cache.state_path(start_ns), *getattr(source, "used", ())])
    except OSError as exc:  # e.g. a full disk: the answer stands, only it is not cached
        log.warning("the day cache could not store %s (%s): this answer is not cached", cache.dir, exc)
    return svc


__all__ = ["CACHE_FORMAT", "DayCache", "DaySpec", "FrozenDay", "MAX_CACHE_MB", "cache_root", "code_fingerprint",
           "dump_engine", "RESUME_GRID_NS", "load_engine", "max_cache_bytes", "service_at"]
