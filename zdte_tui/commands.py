"""Subcommand implementations behind :mod:`zdte_tui.cli` (imported lazily)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from zdte_tui.errors import UserError


def _settings(args: argparse.Namespace):
    from zdte_tui.config import ConfigError, load_config

    try:
        settings = load_config(args.config)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    for warning in settings.warnings:
        print(f"zdte: warning: {warning}", file=sys.stderr)
    return settings


def _symbols_arg(values) -> list[str]:
    out: list[str] = []
    for v in values:
        out += [s.strip().upper() for s in str(v).split(",") if s.strip()]
    return out


MIN_SESSION_DATE = dt.date(1970, 1, 2)
"""First session the CLI accepts: timestamps are int64 nanoseconds since the Unix epoch."""
MAX_SESSION_DATE = dt.date(2261, 12, 31)
"""Last session the CLI accepts: the calendar's sessions come from pandas (ns, to April 2262)."""


def _session_date(text: str | None) -> dt.date | None:
    """``--date``: an exchange session inside the supported range, else a one-line UserError."""
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise UserError(f"--date must be YYYY-MM-DD, got {text!r}") from None
    if not MIN_SESSION_DATE <= day <= MAX_SESSION_DATE:
        raise UserError(
            f"--date {day.isoformat()} is outside the supported sessions "
            f"{MIN_SESSION_DATE.isoformat()} to {MAX_SESSION_DATE.isoformat()}"
        )
    from zdte_tui.market import calendar

    if not calendar.is_trading_day(day):
        try:
            calendar.session_bounds_ns(day)
            why = f"{day.isoformat()} is not a trading day"
        except ValueError as exc:
            why = str(exc)
        raise UserError(
            f"--date {why}; the sessions around it are "
            f"{calendar.previous_trading_day(day).isoformat()} and "
            f"{calendar.next_trading_day(day).isoformat()}"
        ) from None
    return day


def _clock_time(text: str | None, option: str = "--at") -> str | None:
    """``--at``: ``open`` or an ET clock time HH:MM (24-hour)."""
    if not text or text == "open":
        return text
    from zdte_tui.market.calendar import et_clock_to_ns

    try:
        et_clock_to_ns(dt.date(2026, 1, 2), text)  # checks the format only: any day will do
    except ValueError as exc:
        raise UserError(f"{option} {exc}") from None
    return text


def _scenario(name: str | None) -> str | None:
    from zdte_tui.config import SCENARIOS

    if name is not None and name not in SCENARIOS:
        raise UserError(f"--scenario {name!r}: expected one of {', '.join(SCENARIOS)}")
    return name


def _out_path(text: str) -> Path:
    """``--out``: a file whose directory exists and is writable (checked before any work)."""
    path = Path(text).expanduser()
    parent = path.parent
    if path.is_dir():
        raise UserError(f"--out {text}: is a directory; give a file name")
    if not parent.is_dir():
        raise UserError(f"--out {text}: {parent} is not an existing directory")
    if not os.access(parent, os.W_OK):
        raise UserError(f"--out {text}: the directory {parent} is not writable")
    return path


@dataclass(frozen=True)
class SourceOptions:
    """The data-source options of a command, checked: ``--source``, ``--date``, ``--at``,
    ``--speed``, ``--seed``, ``--scenario`` and (Cboe) ``--expiry``. Commands register only the
    groups they take (cli.py); an option a command does not have is None here."""

    spec: str = "sim"
    date: dt.date | None = None
    at: str | None = None
    speed: float | None = None
    seed: int | None = None
    scenario: str | None = None
    expiry: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> SourceOptions:
        given = vars(args)
        return cls(
            spec=given.get("source") or "sim",
            date=_session_date(given.get("date")),
            at=_clock_time(given.get("at")),
            speed=given.get("speed"),
            seed=given.get("seed"),
            scenario=_scenario(given.get("scenario")),
            expiry=given.get("expiry"),
        )


def simulatable(symbols: list[str], settings) -> list[str]:
    """``symbols`` the simulator may play: those it has a profile for and those configured in
    ``[sim] synthetic_symbols``. Any other symbol is a UserError naming the known ones."""
    from zdte_tui.sources.sim_model import PROFILES

    unknown = [s for s in symbols if s not in PROFILES and s not in settings.sim.synthetic_symbols]
    if unknown:
        raise UserError(
            f"the simulator has no profile for {', '.join(unknown)} (it knows "
            f"{', '.join(PROFILES)}); add it to [sim] synthetic_symbols to simulate a made-up "
            f"chain, or use --source replay:PATH, cboe:PATH or a live source"
        )
    return symbols


def sim_levels(symbols: list[str], settings) -> dict[str, float]:
    """Price levels for the simulated ``symbols``: ``[sim] levels``, else the last spot ``zdte record``
    saw of a real source (docs/simulator.md, "Price level"); a damaged state file is reported on
    stderr and ignored."""
    from zdte_tui.sources.levels import resolve_levels

    sim = settings.sim
    resolved = resolve_levels(symbols, sim.levels, use_last_recorded=sim.use_last_recorded)
    for problem in resolved.problems:
        print(f"zdte: ignoring last recorded levels: {problem}", file=sys.stderr)
    return resolved.levels


def make_source(opts: SourceOptions, symbols: list[str], settings, *, linger: bool = True):
    """Build an event source from ``--source``: sim, replay:PATH, cboe:PATH or a live adapter name.

    ``linger``: interactive sources stay open at the close so the session can still be seeked."""
    spec = opts.spec
    if spec == "sim":
        from zdte_tui.sources.sim import SimSource, TradePlanCache

        sim = settings.sim
        playable = simulatable(symbols, settings)
        return SimSource(
            playable,
            session_date=opts.date,
            seed=sim.seed if opts.seed is None else opts.seed,
            scenario=opts.scenario or sim.scenario,
            at=None if opts.at == "open" else (opts.at or sim.start_at),
            speed=sim.speed if opts.speed is None else opts.speed,
            linger=linger,
            levels=sim_levels(playable, settings),
            plan_cache=TradePlanCache.default(),  # a later start of the same day skips drawing its prints
        )
    if spec.startswith("replay:"):
        path = spec.split(":", 1)[1]
        if not Path(path).exists():
            raise UserError(f"recording not found: {path}")
        return _replay_source(path, at=opts.at, speed=1.0 if opts.speed is None else opts.speed, hold_at_end=linger)
    if spec.startswith("cboe:"):
        return _cboe_source(spec.split(":", 1)[1], opts, settings, symbols)
    from zdte_tui.sources.live.errors import SourceAuthError
    from zdte_tui.sources.live.factory import make_live_source

    try:
        return make_live_source(spec, symbols, settings)
    except (KeyError, ValueError, SourceAuthError) as exc:
        raise UserError(f"source {spec!r}: {exc}") from None


def _cboe_source(path: str, opts: SourceOptions, settings, symbols: list[str] | None = None):
    """A Cboe delayed-quotes download; format problems become one-line user errors (exit 2) and
    the counts of what was left out go to stderr."""
    from zdte_tui.sources.cboe import CboeFormatError, CboeSnapshotSource

    if not Path(path).is_file():
        raise UserError(f"file not found: {path}")
    at = opts.at
    at_time = None
    if at and at != "open":
        try:
            at_time = dt.datetime.strptime(at.strip(), "%H:%M").time()
        except ValueError:
            raise UserError(f"--at must be HH:MM (ET), got {at!r}") from None
    expiry = None
    if opts.expiry:
        try:
            expiry = dt.date.fromisoformat(opts.expiry)
        except ValueError:
            raise UserError(f"--expiry must be YYYY-MM-DD, got {opts.expiry!r}") from None
    e = settings.engine
    try:
        source = CboeSnapshotSource(path, expiry=expiry, at=at_time, r=e.risk_free_rate, q=dict(e.dividend_yield))
    except CboeFormatError as exc:
        raise UserError(str(exc)) from None
    held = source.chain.underlying
    if symbols and symbols[0] != held:
        raise UserError(
            f"{Path(path).name} is a {held} chain, not {symbols[0]}: run `zdte {held} --source cboe:{path}`"
        )
    print(source.summary_line(), file=sys.stderr)
    return source


def check_server_url(url: str) -> None:
    """A ``--server`` value must be an http(s) URL with a host; anything else is a one-line UserError."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise UserError(f"--server {url!r} is not a valid URL ({exc}); e.g. http://127.0.0.1:8765") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"--server {url!r} is not an http(s) URL with a host; e.g. http://127.0.0.1:8765 "
                        "(what `zdte serve` prints)")


def build_service(args: argparse.Namespace, symbols: list[str], settings, *, start: bool = True):
    """The FlowServiceAPI the command talks to: a remote client (``--server``) or an embedded
    engine on the command's data source."""
    if args.server:
        from zdte_tui.api.client import FlowClient

        check_server_url(args.server)
        return FlowClient(args.server, api_key=args.api_key)
    return _embedded_service(SourceOptions.from_args(args), symbols, settings, start=start)


def _embedded_service(opts: SourceOptions, symbols: list[str], settings, *, start: bool = True):
    from zdte_tui.service import FlowService

    svc = FlowService(make_source(opts, symbols, settings), settings=settings)
    if start:
        svc.start()
        svc.wait_ready(60)
    return svc


def _with_watchlist(primary: list[str], settings, *, sim: bool) -> list[str]:
    """``primary`` plus the ``[general] symbols`` watchlist (on the simulator: those it can play)."""
    from zdte_tui.sources.sim_model import PROFILES

    out = list(primary)
    for s in settings.general.symbols:
        if s not in out and (not sim or s in PROFILES or s in settings.sim.synthetic_symbols):
            out.append(s)
    return out


def resume_gc() -> None:
    """Turn the cyclic garbage collector back on once a TUI command has started (it was paused by
    :func:`zdte_tui.cli.pause_gc_for_startup`): what the start-up created stays for the whole session, so
    it is frozen out of later collections first (``gc.freeze``; the few hundred unreachable objects the
    imports leave behind stay with it)."""
    gc.freeze()
    gc.enable()


def cmd_monitor(args, settings) -> int:
    symbol = args.symbol.strip().upper()
    if args.expiry and not args.source.startswith("cboe:"):
        raise UserError("--expiry applies to --source cboe:FILE only (live and simulated sources track the 0DTE)")
    on_sim = args.source == "sim" and not args.server
    symbols = _with_watchlist([symbol], settings, sim=True) if on_sim else [symbol]
    svc = build_service(args, symbols, settings, start=False)
    if on_sim and hasattr(svc, "hold_after_first_symbol"):
        svc.hold_after_first_symbol()  # the app releases it once its first screen is drawn
    if hasattr(svc, "start"):
        svc.start()  # the source warms up on its thread while the UI stack imports
    from zdte_tui.ui.app import run_tui

    if hasattr(svc, "wait_ready"):
        svc.wait_ready(60, first_symbol_only=True)  # the leaderboard's other symbols fill in moments later
    resume_gc()
    try:
        return run_tui(svc, symbols=[symbol], mode="monitor", **_ui_options(settings))
    finally:
        _stop(svc)


def cmd_watch(args, settings) -> int:
    symbols = _symbols_arg(args.symbols)
    svc = build_service(args, symbols, settings, start=False)
    if args.source == "sim" and not args.server and hasattr(svc, "hold_after_first_symbol"):
        # the simulator generates the other symbols after the first screen is drawn (a live or
        # recorded source is never held: its first symbol may need the pump to go on to show data)
        svc.hold_after_first_symbol()
    if hasattr(svc, "start"):
        svc.start()  # the source generates the first symbol while the UI stack imports
    from zdte_tui.ui.app import run_tui

    if hasattr(svc, "wait_ready"):
        svc.wait_ready(60, first_symbol_only=True)  # the first screen before the other symbols are generated
    resume_gc()
    try:
        return run_tui(svc, symbols=symbols, mode="watch", **_ui_options(settings))
    finally:
        _stop(svc)


def _ui_options(settings) -> dict[str, Any]:
    g = settings.general
    from zdte_tui.ui.alerts import AlertRules

    a = settings.alerts
    rules = AlertRules(
        enabled=a.enabled,
        bell=a.bell,
        desktop=a.desktop,
        webhook_url=a.webhook_url,
        webhook_retries=a.webhook_retries,
        pin_threshold=a.pin_threshold,
        signal_score=a.signal_score,
        rules=frozenset(a.rules),
        log_file=a.log_file,
    )
    return {
        "refresh_seconds": g.refresh_seconds,
        "theme": g.theme,
        "truecolor": g.truecolor,
        "alert_rules": rules,
    }


def _stop(svc) -> None:
    stop = getattr(svc, "stop", None) or getattr(svc, "close", None)
    if stop is not None:
        stop()


def _replay_source(path, **kw):
    from zdte_tui.sources.replay import ReplaySource
    from zdte_tui.store.reader import RecordingError

    if not Path(path).exists():
        raise UserError(f"recording not found: {path}")
    try:
        return ReplaySource(path, **kw)
    except RecordingError as exc:
        raise UserError(str(exc)) from None


def cmd_replay(args, settings) -> int:
    from zdte_tui.service import FlowService

    if args.headless:
        source = _replay_source(args.path, at=None, speed=None, seekable=False)  # no seek checkpoints
    else:
        source = _replay_source(
            args.path, at=_clock_time(args.at), speed=1.0 if args.speed is None else args.speed, hold_at_end=True
        )
    svc = FlowService(source, settings=settings)
    symbols = list(source.symbols)
    if not symbols:
        raise UserError(f"{args.path}: the recording holds no symbols")
    symbol = (args.symbol or symbols[0]).upper()
    if symbol not in symbols:
        raise UserError(f"{args.path} holds {', '.join(symbols)}, not {symbol}: pass --symbol {' or '.join(symbols)}")
    for w in getattr(source, "warnings", None) or []:
        print(f"zdte: warning: {w}", file=sys.stderr)
    if args.headless:
        svc.run_to_end()
        snap = svc.snapshot(symbol)
        if args.json:
            print(json.dumps(snap, indent=2, allow_nan=False))
        else:
            print(_summary(snap, svc.status()))
        return 0
    from zdte_tui.ui.app import run_tui

    svc.start()
    svc.wait_ready(60)
    try:
        return run_tui(
            svc, symbols=[symbol] + [s for s in symbols if s != symbol], mode="replay", **_ui_options(settings)
        )
    finally:
        svc.stop()


def _summary(snap: dict, status: dict) -> str:
    if snap.get("body") is None:
        return snap.get("message", "no 0DTE session")
    h = snap["headline"]
    regime = snap["regime"]
    return (
        f"{snap['symbol']} {snap['underlying_price']} {regime['label']} flip={regime['gamma_flip']} "
        f"| {h['narrative']} [{h['trade_angle']}/{h['severity']}] | events={status['events_ingested']} "
        f"malformed={status['malformed_count']}"
    )


def cmd_serve(args, settings) -> int:
    from zdte_tui.api.auth import is_loopback_host, parse_api_keys
    from zdte_tui.api.server import serve
    from zdte_tui.api.transport import TransportLimits

    keys = settings.server.api_key_plans()  # [server] api_keys and $ZDTE_API_KEYS
    try:
        keys.update(parse_api_keys(args.api_keys))
    except ValueError as exc:
        raise UserError(f"--api-key: {exc}") from None
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    if not keys and not is_loopback_host(host):
        raise UserError(
            f"refusing to serve on {host} without API keys: pass --api-key KEY[:PLAN] "
            "(or set ZDTE_API_KEYS), or bind to 127.0.0.1"
        )
    symbols = _symbols_arg([args.symbols]) if args.symbols else list(settings.general.symbols)
    svc = _embedded_service(SourceOptions.from_args(args), symbols, settings)
    try:
        serve(
            svc,
            host=host,
            port=port,
            api_keys=keys,
            rate_limit_per_minute=settings.server.rate_limit_per_minute,
            limits=TransportLimits(trusted_proxies=tuple(settings.server.trusted_proxies)),
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    finally:
        _stop(svc)
    return 0


def cmd_record(args, settings) -> int:
    from zdte_tui.sources.recorder import record
    from zdte_tui.store.format import RecordingError

    symbols = _symbols_arg(args.symbols)
    out = _out_path(args.out)
    source = make_source(SourceOptions.from_args(args), symbols, settings, linger=False)
    try:
        summary = asyncio.run(
            record(
                source, out, duration_s=args.duration, flush_seconds=settings.record.flush_seconds, overwrite=args.force
            )
        )
    except RecordingError as exc:
        raise UserError(str(exc)) from None
    print(summary)
    return 0


def write_simulated_day(out, symbols, *, session_date=None, seed=7, scenario="auto", levels=None, intensity=1.0):
    """Simulate whole sessions for ``symbols`` (around ``levels``: symbol -> dollars, else the
    reference levels; ``intensity`` > 1: a real-scale day, docs/simulator.md "Scale") and write them,
    with the simulator's truth, to ``out``. Generated and written block by block (bounded memory)."""
    import dataclasses
    import datetime as dt
    from collections.abc import Mapping

    import numpy as np

    from zdte_tui.market.calendar import ET, default_session_date
    from zdte_tui.market.events import EventBatch
    from zdte_tui.sources.sim import SimSource, stream_simulated_day
    from zdte_tui.store.writer import write_recording

    session_date = session_date or default_session_date(dt.datetime.now(tz=ET))
    label = SimSource(symbols, session_date=session_date, seed=seed, scenario=scenario).label  # validates
    truths: dict = {}
    counted = {"events": 0, "spot_rows": 0, "quote_rows": 0, "prints": 0}

    def events():
        for event in stream_simulated_day(symbols, session_date, seed, scenario, levels, intensity, truths):
            counted["events"] += 1
            if isinstance(event, EventBatch):
                counted["spot_rows"] += len(event.spot)
                counted["quote_rows"] += len(event.quotes)
                counted["prints"] += len(event.trades)
            yield event

    class _TruthAfterEvents(Mapping):
        """Each session's truth arrays, read when write_recording stores the truth: after the last event,
        once the streamed sessions exist (empty before)."""

        def __getitem__(self, sym):
            t = truths[sym]
            return {f.name: np.asarray(getattr(t, f.name)) for f in dataclasses.fields(t)
                    if isinstance(getattr(t, f.name), np.ndarray)}

        def __iter__(self):
            return iter(truths)

        def __len__(self):
            return len(truths)

    path = write_recording(
        out,
        events(),
        source="sim",
        simulated=True,
        session_date=session_date,
        symbols=symbols,
        notes=[f"SIMULATED seed {seed} scenario {label}" + (f" intensity {intensity:g}" if intensity != 1 else "")],
        truth=_TruthAfterEvents(),
    )
    return {
        "out": str(path),
        "symbols": symbols,
        "session_date": session_date.isoformat(),
        "seed": seed,
        "intensity": intensity,
        "events": counted["events"],
        "spot_rows": counted["spot_rows"],
        "quote_rows": counted["quote_rows"],
        "prints": counted["prints"],
    }


def cmd_simulate(args, settings) -> int:
    symbols = simulatable(_symbols_arg([args.symbols]), settings)
    out = _out_path(args.out)
    seed = settings.sim.seed if args.seed is None else args.seed
    from zdte_tui.store.format import RecordingError

    try:
        info = write_simulated_day(
            out,
            symbols,
            session_date=_session_date(args.date),
            seed=seed,
            scenario=_scenario(args.scenario) or settings.sim.scenario,
            levels=sim_levels(symbols, settings),
            intensity=args.intensity,
        )
    except RecordingError as exc:  # e.g. the disk filled up while writing
        raise UserError(str(exc)) from None
    print(json.dumps(info))
    return 0


def cmd_import_dbn(args, settings) -> int:
    from zdte_tui.sources.dbn_import import DbnImportError, import_dbn
    from zdte_tui.store.format import RecordingError

    for f in args.files:
        if not Path(f).exists():
            raise UserError(f"file not found: {f}")
    out = _out_path(args.out)
    try:
        summary = import_dbn(args.files, out, underlying=args.underlying)
    except (DbnImportError, RecordingError) as exc:
        raise UserError(str(exc)) from None
    print(summary)
    return 0


def cmd_import_cboe(args, settings) -> int:
    source = _cboe_source(args.file, SourceOptions.from_args(args), settings)
    if args.out:
        from zdte_tui.sources.recorder import record

        print(asyncio.run(record(source, _out_path(args.out))))
        return 0
    from zdte_tui.service import FlowService

    svc = FlowService(source, settings=settings)
    svc.run_to_end()
    symbol = source.symbols[0]
    if args.json:
        print(json.dumps(svc.snapshot(symbol), indent=2, allow_nan=False))
        return 0
    from zdte_tui.ui.app import run_tui

    return run_tui(svc, symbols=[symbol], mode="monitor", **_ui_options(settings))


# --------------------------------------------------------------------------- fetch-day


def _fetch_date(text: str) -> dt.date:
    """``fetch-day --date``: a past (or today's) trading session."""
    day = _session_date(text)
    assert day is not None
    from zdte_tui.market.calendar import ET

    today = dt.datetime.now(tz=ET).date()
    if day > today:
        raise UserError(f"--date {day.isoformat()} is in the future: no data to download yet")
    return day


def _confirm_prompt(assume_yes: bool):
    """The question asked before a paid download: always shown; ``--yes`` answers it; without a
    terminal to ask on it is refused with a message saying so."""

    def confirm(text: str) -> bool:
        print(f"zdte: {text}", file=sys.stderr)
        if assume_yes:
            return True
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise UserError("a paid download needs confirmation and there is no terminal to ask on: "
                            "rerun with --yes to accept the estimate above")
        try:
            answer = input("Download? [y/N] ")
        except EOFError:
            answer = ""
        return answer.strip().lower() in ("y", "yes")

    return confirm


class _RichProgress:
    """fetch-day's progress bar on stderr: parts done of all parts, megabytes received."""

    def __init__(self, console=None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("parts  {task.fields[mb]:.1f} MB"), TimeElapsedColumn(),
                             console=console or Console(stderr=True))
        self._task: Any = None
        self._bytes = 0

    def __enter__(self):
        self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self._bar.stop()

    def start(self, total: int, what: str) -> None:
        self._task = self._bar.add_task(what, total=total, mb=self._bytes / 1e6)

    def advance(self, label: str, skipped: bool = False) -> None:
        if self._task is not None:
            self._bar.update(self._task, advance=1, description=f"{label}{' (kept)' if skipped else ''}")

    def add_bytes(self, n: int) -> None:
        self._bytes += n
        if self._task is not None:
            self._bar.update(self._task, mb=self._bytes / 1e6)

    def note(self, text: str) -> None:
        self._bar.console.print(f"zdte: {text}")


class _LineProgress:
    """Progress as one line per part on stderr (no terminal)."""

    def __init__(self) -> None:
        self._total = 0
        self._done = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def start(self, total: int, what: str) -> None:
        self._total, self._done = total, 0
        print(f"zdte: {what}: {total} part(s)", file=sys.stderr)

    def advance(self, label: str, skipped: bool = False) -> None:
        self._done += 1
        print(f"zdte: [{self._done}/{self._total}] {label}{' (kept from an earlier run)' if skipped else ''}",
              file=sys.stderr)

    def add_bytes(self, n: int) -> None:
        return None

    def note(self, text: str) -> None:
        print(f"zdte: {text}", file=sys.stderr)


def make_fetcher(vendor: str, symbol: str, day: dt.date, settings, **kw):
    """The fetch-day class of ``vendor`` with its settings section (Databento: ``[fetch.databento]``;
    Massive and ThetaData: their ``[live.*]`` section)."""
    import importlib

    from zdte_tui.sources.fetch import FETCHERS

    module, _, attr = FETCHERS[vendor].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    section = settings.fetch.databento if vendor == "databento" else getattr(settings.live, vendor)
    return cls(symbol, day, config=section, **kw)


def cmd_fetch_day(args, settings) -> int:
    from zdte_tui.sources.fetch.common import FetchError, PartDir
    from zdte_tui.store.format import RecordingError

    symbol = args.symbol.strip().upper()
    day = _fetch_date(args.date)
    out = _out_path(args.out)
    if out.exists() and not args.force:
        raise UserError(f"--out {args.out}: already exists; pass --force to replace it")
    try:
        fetcher = make_fetcher(args.vendor, symbol, day, settings,
                               **({"jobs": args.jobs} if args.vendor == "massive" else {}))
        parts = PartDir(out, fetcher.identity())
        progress = _RichProgress() if sys.stderr.isatty() else _LineProgress()
        with progress:
            if args.force and out.exists():
                out.unlink()
            summary = fetcher.run(out, parts, progress, _confirm_prompt(args.yes))
    except FetchError as exc:
        kept = ""
        if "parts" in locals() and parts.path.is_dir() and parts.finished():
            kept = f" ({len(parts.finished())} finished part(s) kept in {parts.path})"
        raise UserError(f"{exc}{kept}") from None
    except RecordingError as exc:
        raise UserError(str(exc)) from None
    if not args.keep_parts:
        parts.remove()
    for note in summary.notes:
        print(f"zdte: note: {note}", file=sys.stderr)
    print(summary)
    return 0


# --------------------------------------------------------------------------- doctor


def _doctor_source(args, settings) -> str:
    """``doctor --source``, else the first live source whose key is set in the environment."""
    from zdte_tui.sources import LIVE_SOURCES

    if args.source:
        name = args.source.strip().lower()
        if name not in LIVE_SOURCES:
            raise UserError(f"--source {args.source!r}: expected one of {', '.join(LIVE_SOURCES)}")
        return name
    for name in LIVE_SOURCES:
        env = getattr(settings.live_section(name), "api_key_env", None) or getattr(
            settings.live_section(name), "token_env", None)
        if env and os.environ.get(env, "").strip():
            return name
    raise UserError("no live feed configured: set $MASSIVE_API_KEY or $TRADIER_TOKEN, or pass --source thetadata "
                    "(a running Theta Terminal) or --source NAME to see what is missing")


def cmd_doctor(args, settings) -> int:
    """``zdte doctor``: the configured live feed checked end to end; exit 0 when nothing failed, 1 otherwise."""
    from zdte_tui.sources.live.doctor import diagnose
    from zdte_tui.sources.live.factory import live_adapter, make_live_source

    name = _doctor_source(args, settings)
    symbol = args.symbol.strip().upper()
    cls = live_adapter(name)
    key_env = getattr(settings.live_section(name), cls.secret_env_field) if cls.secret_env_field else None

    def build(**kw):
        return make_live_source(name, [symbol], settings, **kw)

    report = asyncio.run(diagnose(name, symbol, build, key_env=key_env, timeout_s=args.timeout))
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.render())
    return 0 if report.ok else 1


def cmd_calibrate(args, settings) -> int:
    from zdte_tui.evaluation.probability_fit import run_calibration

    print(
        run_calibration(
            args.recordings, _out_path(args.out), settings=settings, method=args.method, holdout=args.holdout
        )
    )
    return 0


def _cached_day_service(opts: SourceOptions, symbols: list[str], settings):
    """The simulator's or a recording's day at ``--at`` through the day cache (service/daycache.py):
    the engine state at that time when a query already asked for it, else the source played up
    to it as before (and its state cached)."""
    from zdte_tui.market.calendar import ET, default_session_date
    from zdte_tui.service.daycache import DayCache, DaySpec, service_at

    params = settings.engine_params()
    if opts.spec == "sim":
        from zdte_tui.sources.sim_model import resolve_scenario

        sim = settings.sim
        day = opts.date or default_session_date(dt.datetime.now(tz=ET))
        seed = sim.seed if opts.seed is None else opts.seed
        scenario = resolve_scenario(seed, opts.scenario or sim.scenario)
        symbols = simulatable(symbols, settings)
        spec = DaySpec.sim(symbols, day, seed, scenario, params, sim_levels(symbols, settings))
        at = opts.at or sim.start_at
    else:
        path = opts.spec.split(":", 1)[1]
        if not Path(path).exists():
            raise UserError(f"recording not found: {path}")
        spec = DaySpec.replay(path, None, params)
        at = opts.at

    def make(at_text: str | None):
        if opts.spec == "sim":
            return make_source(replace(opts, at=at_text, speed=1.0, date=day), symbols, settings, linger=False)
        return make_source(replace(opts, at=None if at_text == "open" else at_text, speed=1.0), symbols, settings,
                           linger=False)

    try:
        cache = DayCache(spec)
    except OSError as exc:  # e.g. $XDG_CACHE_HOME not writable: answer as --no-cache does
        print(f"zdte: the day cache is not available ({exc}); playing the day", file=sys.stderr)
        return None
    return service_at(cache, at, make, settings=settings)


def _query_service(args, symbols: list[str], settings):
    """The service a one-shot query (or export) reads at ``--at``: the remote client, the cached day
    (simulator and recordings, unless ``--no-cache``), or the source played up to ``--at``."""
    if args.server:
        return build_service(args, symbols, settings)
    opts = SourceOptions.from_args(args)
    if not getattr(args, "no_cache", False) and (opts.spec == "sim" or opts.spec.startswith("replay:")):
        cached = _cached_day_service(opts, symbols, settings)
        if cached is not None:
            return cached
    svc = build_service(args, symbols, settings, start=False)
    clock = getattr(getattr(svc, "source", None), "clock", None)
    if clock is not None:  # a script gets the state exactly at --at (history is delivered while paused)
        from zdte_tui.service.daycache import start_of

        clock.pause()
        clock.seek(start_of(svc.source))  # not the microseconds the clock played since it was built
    svc.start()
    svc.wait_ready(120)
    if clock is not None:
        svc.wait_idle(120)  # and the events stamped exactly at --at, after the batch reaching it
    return svc


def cmd_query(args, settings) -> int:
    """A query subcommand: the FlowService call of the same name with the options the
    subcommand registered (``args.query_options``, see cli.QUERY_OPTIONS). A symbol's query needs
    only that symbol's day; the leaderboard ranks the watchlist."""
    name = args.command
    symbol = args.symbol.strip().upper() if name != "leaderboard" else None
    on_sim = args.source == "sim" and not args.server
    symbols = [symbol] if symbol else _with_watchlist([], settings, sim=on_sim)
    svc = _query_service(args, symbols, settings)
    from zdte_tui.service.protocol import ServiceError

    kw = {k: v for k in args.query_options if (v := vars(args)[k]) is not None}
    method = getattr(svc, name.replace("-", "_"))
    try:
        result = method(**kw) if name == "leaderboard" else method(symbol, **kw)
    except ServiceError as exc:
        print(json.dumps(exc.to_dict()), file=sys.stderr)
        return 1
    finally:
        _stop(svc)
    print(json.dumps(result, indent=2, allow_nan=False))
    return 0


def cmd_export(args, settings) -> int:
    """``zdte export``: one FlowService answer at ``--at`` written as csv/json/parquet."""
    from zdte_tui.export_cmd import FORMATS, WHAT, fetch_table, write_table
    from zdte_tui.service.protocol import ServiceError

    if args.what not in WHAT:
        raise UserError(f"--what must be one of {', '.join(WHAT)}, got {args.what!r}")
    if args.format not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}, got {args.format!r}")
    out = Path(args.out) if args.out else None
    if args.format == "parquet" and out is None:
        raise UserError("--format parquet needs --out FILE")
    if out is not None and not out.parent.exists():
        raise UserError(f"--out: directory {out.parent} does not exist")
    symbol = args.symbol.upper()
    svc = _query_service(args, [symbol], settings)
    try:
        table = fetch_table(svc, symbol, args.what, metric=args.metric or "gex", mode=args.mode or "raw",
                            minutes=args.minutes or 390)
    except ServiceError as exc:
        print(json.dumps(exc.to_dict()), file=sys.stderr)
        return 1
    finally:
        _stop(svc)
    write_table(table, args.format, out)
    if out is not None:
        print(f"zdte: wrote {len(table[1])} {args.what} rows to {out}", file=sys.stderr)
    return 0


COMMANDS = {
    "export": cmd_export,
    "monitor": cmd_monitor,
    "watch": cmd_watch,
    "replay": cmd_replay,
    "serve": cmd_serve,
    "record": cmd_record,
    "simulate": cmd_simulate,
    "import-dbn": cmd_import_dbn,
    "import-cboe": cmd_import_cboe,
    "fetch-day": cmd_fetch_day,
    "doctor": cmd_doctor,
    "calibrate": cmd_calibrate,
}


def dispatch(args: argparse.Namespace) -> int:
    settings = _settings(args)
    fn = COMMANDS.get(args.command, cmd_query)
    return fn(args, settings)
