"""Subcommand implementations behind :mod:`zdte_tui.cli` (imported lazily)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any


class UserError(Exception):
    """A problem the user can fix (bad flag, missing file): printed without a traceback."""


def _settings(args: argparse.Namespace):
    from zdte_tui.config import ConfigError, load_config

    try:
        return load_config(getattr(args, "config", None))
    except ConfigError as exc:
        raise UserError(str(exc)) from None


def _symbols_arg(values) -> list[str]:
    out: list[str] = []
    for v in values:
        out += [s.strip().upper() for s in str(v).split(",") if s.strip()]
    return out


def _date_arg(text):
    import datetime as dt

    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UserError(f"--date must be YYYY-MM-DD, got {text!r}") from None


def make_source(spec: str, symbols: list[str], args: argparse.Namespace, settings, *, linger: bool = True):
    """Build an event source from ``--source``: sim, replay:PATH, cboe:PATH or a live adapter name.

    ``linger``: interactive sources stay open at the close so the session can still be seeked."""
    spec = spec or "sim"
    at = getattr(args, "at", None)
    speed = getattr(args, "speed", None)
    if spec == "sim":
        from zdte_tui.sources.sim import SimSource

        sim = settings.sim
        date = getattr(args, "date", None)
        return SimSource(symbols, session_date=_date_arg(date),
                         seed=sim.seed if getattr(args, "seed", None) is None else args.seed,
                         scenario=getattr(args, "scenario", None) or sim.scenario,
                         at=None if at == "open" else (at or sim.start_at),
                         speed=sim.speed if speed is None else speed, linger=linger)
    if spec.startswith("replay:"):
        path = spec.split(":", 1)[1]
        if not Path(path).exists():
            raise UserError(f"recording not found: {path}")
        return _replay_source(path, at=at, speed=1.0 if speed is None else speed, hold_at_end=linger)
    if spec.startswith("cboe:"):
        return _cboe_source(spec.split(":", 1)[1], args, settings, symbols)
    from zdte_tui.sources.live.errors import SourceAuthError
    from zdte_tui.sources.live.factory import make_live_source

    try:
        return make_live_source(spec, symbols, settings)
    except (KeyError, ValueError, SourceAuthError) as exc:
        raise UserError(f"source {spec!r}: {exc}") from None


def _cboe_source(path: str, args: argparse.Namespace, settings, symbols: list[str] | None = None):
    """A Cboe delayed-quotes download; format problems become one-line user errors (exit 2) and
    the counts of what was left out go to stderr."""
    import datetime as dt

    from zdte_tui.sources.cboe import CboeFormatError, CboeSnapshotSource

    if not Path(path).is_file():
        raise UserError(f"file not found: {path}")
    at = getattr(args, "at", None)
    at_time = None
    if at and at != "open":
        try:
            at_time = dt.datetime.strptime(at.strip(), "%H:%M").time()
        except ValueError:
            raise UserError(f"--at must be HH:MM (ET), got {at!r}") from None
    expiry = None
    if getattr(args, "expiry", None):
        try:
            expiry = dt.date.fromisoformat(args.expiry)
        except ValueError:
            raise UserError(f"--expiry must be YYYY-MM-DD, got {args.expiry!r}") from None
    e = settings.engine
    try:
        source = CboeSnapshotSource(path, expiry=expiry, at=at_time, r=e.risk_free_rate, q=dict(e.dividend_yield))
    except CboeFormatError as exc:
        raise UserError(str(exc)) from None
    held = source.chain.underlying
    if symbols and symbols[0] != held:
        raise UserError(f"{Path(path).name} is a {held} chain, not {symbols[0]}: "
                        f"run `zdte {held} --source cboe:{path}`")
    print(source.summary_line(), file=sys.stderr)
    return source


def build_service(args: argparse.Namespace, symbols: list[str], settings, *, start: bool = True):
    """The FlowServiceAPI the command talks to: a remote client (--server) or an embedded engine."""
    server = getattr(args, "server", None)
    if server:
        from zdte_tui.api.client import FlowClient

        return FlowClient(server, api_key=getattr(args, "api_key", None))
    from zdte_tui.service import FlowService

    source = make_source(getattr(args, "source", "sim"), symbols, args, settings)
    svc = FlowService(source, settings=settings)
    if start:
        svc.start()
        svc.wait_ready(60)
    return svc


def _with_watchlist(primary: list[str], settings) -> list[str]:
    out = list(primary)
    for s in settings.general.symbols:
        if s not in out:
            out.append(s)
    return out


def cmd_monitor(args, settings) -> int:
    symbol = args.symbol.strip().upper()
    if getattr(args, "expiry", None) and not str(args.source or "").startswith("cboe:"):
        raise UserError("--expiry applies to --source cboe:FILE only (live and simulated sources track the 0DTE)")
    symbols = _with_watchlist([symbol], settings) if args.source == "sim" and not args.server else [symbol]
    svc = build_service(args, symbols, settings, start=False)
    if hasattr(svc, "start"):
        svc.start()  # the source warms up on its thread while the UI stack imports
    from zdte_tui.ui.app import run_tui

    if hasattr(svc, "wait_ready"):
        svc.wait_ready(60, first_symbol_only=True)  # the leaderboard's other symbols fill in moments later
    try:
        return run_tui(svc, symbols=[symbol], mode="monitor", **_ui_options(settings))
    finally:
        _stop(svc)


def cmd_watch(args, settings) -> int:
    from zdte_tui.ui.app import run_tui

    symbols = _symbols_arg(args.symbols)
    svc = build_service(args, symbols, settings)
    try:
        return run_tui(svc, symbols=symbols, mode="watch", **_ui_options(settings))
    finally:
        _stop(svc)


def _ui_options(settings) -> dict[str, Any]:
    g = settings.general
    return {"refresh_seconds": g.refresh_seconds, "theme": g.theme, "bell_on_alert": g.bell_on_alert,
            "notify_on_alert": g.notify_on_alert, "truecolor": g.truecolor}


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
        source = _replay_source(args.path, at=None, speed=None)
    else:
        source = _replay_source(args.path, at=args.at, speed=1.0 if args.speed is None else args.speed,
                                hold_at_end=True)
    svc = FlowService(source, settings=settings)
    symbols = list(source.symbols)
    if not symbols:
        raise UserError(f"{args.path}: the recording holds no symbols")
    symbol = (args.symbol or symbols[0]).upper()
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
        return run_tui(svc, symbols=[symbol] + [s for s in symbols if s != symbol], mode="replay",
                       **_ui_options(settings))
    finally:
        svc.stop()


def _summary(snap: dict, status: dict) -> str:
    if snap.get("body") is None:
        return snap.get("message", "no 0DTE session")
    h = snap["headline"]
    return (f"{snap['symbol']} {snap['underlying_price']} {snap['regime']['label']} flip={snap['regime']['gamma_flip']} "
            f"| {h['narrative']} [{h['trade_angle']}/{h['severity']}] | events={status['events_ingested']} "
            f"malformed={status['malformed_count']}")


def cmd_serve(args, settings) -> int:
    from zdte_tui.api.auth import parse_api_keys
    from zdte_tui.api.server import serve

    import os

    try:
        keys = parse_api_keys(list(settings.server.api_keys) + list(args.api_keys),
                              env_value=os.environ.get("ZDTE_API_KEYS"))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    from zdte_tui.api.auth import is_loopback_host

    if not keys and not is_loopback_host(args.host):
        raise UserError(f"refusing to serve on {args.host} without API keys: pass --api-key KEY[:PLAN] "
                        "(or set ZDTE_API_KEYS), or bind to 127.0.0.1")
    symbols = _symbols_arg([args.symbols]) if args.symbols else list(settings.general.symbols)
    svc = build_service(args, symbols, settings)
    try:
        from zdte_tui.api.transport import TransportLimits

        serve(svc, host=args.host, port=args.port, api_keys=keys,
              rate_limit_per_minute=settings.server.rate_limit_per_minute,
              limits=TransportLimits(trusted_proxies=tuple(settings.server.trusted_proxies)))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    finally:
        _stop(svc)
    return 0


def cmd_record(args, settings) -> int:
    from zdte_tui.sources.recorder import record

    from zdte_tui.store.format import RecordingError

    symbols = _symbols_arg(args.symbols)
    source = make_source(args.source, symbols, args, settings, linger=False)
    try:
        summary = asyncio.run(record(source, args.out, duration_s=args.duration,
                                     flush_seconds=settings.record.flush_seconds, overwrite=args.force))
    except RecordingError as exc:
        raise UserError(str(exc)) from None
    print(summary)
    return 0


def write_simulated_day(out, symbols, *, session_date=None, seed=7, scenario="auto"):
    """Simulate whole sessions for ``symbols`` and write them, with the simulator's truth, to ``out``."""
    import dataclasses
    import datetime as dt

    import numpy as np

    from zdte_tui.market.calendar import default_session_date, ET
    from zdte_tui.sources.sim import SimSource
    from zdte_tui.store.writer import write_recording

    session_date = session_date or default_session_date(dt.datetime.now(tz=ET))
    src = SimSource(symbols, session_date=session_date, seed=seed, scenario=scenario, at=None, speed=None)

    async def collect():
        return [ev async for ev in src]

    events = asyncio.run(collect())
    truth = {}
    for sym in symbols:
        t = src.session(sym).truth
        truth[sym] = {f.name: np.asarray(getattr(t, f.name)) for f in dataclasses.fields(t)
                      if isinstance(getattr(t, f.name), np.ndarray)}
    path = write_recording(out, events, source="sim", simulated=True, session_date=session_date, symbols=symbols,
                           notes=[f"SIMULATED seed {seed} scenario {src.label}"], truth=truth)
    return {"out": str(path), "symbols": symbols, "session_date": session_date.isoformat(), "seed": seed,
            "events": len(events)}


def cmd_simulate(args, settings) -> int:
    symbols = _symbols_arg([args.symbols])
    seed = settings.sim.seed if args.seed is None else args.seed
    info = write_simulated_day(args.out, symbols, session_date=_date_arg(args.date), seed=seed,
                               scenario=args.scenario or settings.sim.scenario)
    print(json.dumps(info))
    return 0


def cmd_import_dbn(args, settings) -> int:
    from zdte_tui.sources.dbn_import import import_dbn

    from zdte_tui.sources.dbn_import import DbnImportError

    for f in args.files:
        if not Path(f).exists():
            raise UserError(f"file not found: {f}")
    try:
        summary = import_dbn(args.files, args.out, underlying=args.underlying)
    except DbnImportError as exc:
        raise UserError(str(exc)) from None
    print(summary)
    return 0


def cmd_import_cboe(args, settings) -> int:
    from zdte_tui.service import FlowService

    source = _cboe_source(args.file, args, settings)
    svc = FlowService(source, settings=settings)
    if args.out:
        from zdte_tui.sources.recorder import record

        print(asyncio.run(record(source, args.out)))
        return 0
    svc.run_to_end()
    symbol = source.symbols[0]
    if args.json:
        print(json.dumps(svc.snapshot(symbol), indent=2, allow_nan=False))
        return 0
    from zdte_tui.ui.app import run_tui

    return run_tui(svc, symbols=[symbol], mode="monitor", **_ui_options(settings))


def cmd_calibrate(args, settings) -> int:
    from zdte_tui.calibrate import run_calibration

    print(run_calibration(args.recordings, args.out, settings=settings, method=getattr(args, "method", "isotonic"),
                          holdout=getattr(args, "holdout", None)))
    return 0


def cmd_query(args, settings) -> int:
    name = args.command
    symbol = getattr(args, "symbol", None)
    symbols = _with_watchlist([symbol.upper()] if symbol else [], settings)
    svc = build_service(args, symbols, settings, start=False)
    clock = getattr(getattr(svc, "source", None), "clock", None)
    if clock is not None:
        clock.pause()  # a script gets the state exactly at --at (history is delivered while paused)
    if hasattr(svc, "start"):
        svc.start()
        svc.wait_ready(120)
    from zdte_tui.protocol import ServiceError

    kw = {k: v for k, v in {
        "expiry": args.expiry, "bar": args.bar, "minutes": args.minutes, "metric": args.metric, "mode": args.mode,
        "side": args.side, "n": args.n, "min_score": args.min_score, "intent": args.intent,
        "structure": args.structure, "window_minutes": args.window_minutes, "limit": args.limit}.items()
        if v is not None}
    allowed = {
        "snapshot": {"expiry"}, "series": {"bar", "minutes"}, "hedge-flow": {"side", "bar", "minutes"},
        "heatmap": {"metric", "mode", "bar", "minutes"}, "strike-flow": {"bar", "minutes"},
        "leaderboard": {"metric", "n"},
        "signals": {"min_score", "intent", "structure", "window_minutes", "limit", "expiry"}}[name]
    extra = set(kw) - allowed
    if extra:
        raise UserError(f"{name} does not take {', '.join('--' + e.replace('_', '-') for e in sorted(extra))}")
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


COMMANDS = {
    "monitor": cmd_monitor, "watch": cmd_watch, "replay": cmd_replay, "serve": cmd_serve, "record": cmd_record,
    "simulate": cmd_simulate, "import-dbn": cmd_import_dbn, "import-cboe": cmd_import_cboe,
    "calibrate": cmd_calibrate,
}


def dispatch(args: argparse.Namespace) -> int:
    settings = _settings(args)
    fn = COMMANDS.get(args.command, cmd_query)
    return fn(args, settings)
