"""FlowService: the one query surface over the embedded engine (snapshot, series, hedge_flow,
heatmap, strike_flow, leaderboard, signals, status, control).

It owns a :class:`~zdte_tui.engine.flow_engine.FlowEngine` and pumps a source's events into it on
a background thread; every query takes an immutable view under a lock and returns a plain,
JSON-ready dict in FlashAlpha's documented shape. Invalid input raises
:class:`~zdte_tui.protocol.ServiceError` with the documented code.

Build one on the simulator::

    svc = FlowService.from_sim(["SPY", "QQQ"], seed=7, at="10:30", speed=1.0)
    svc.start(); svc.wait_ready()
    svc.snapshot("SPY")

or drain a source synchronously (scripts, benchmarks): ``FlowService(source).run_to_end()``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
import threading
import time
from typing import Any

import numpy as np

from zdte_tui import __version__
from zdte_tui import views as dv
from zdte_tui.views import integer, iso, num
from zdte_tui.engine.decision import LabelMemory
from zdte_tui.engine.decision import labels_of as decision_labels_of
from zdte_tui.engine.flow_engine import ChainState, FlowEngine
from zdte_tui.engine.params import SAMPLE_SECONDS, EngineParams
from zdte_tui.engine.sampler import BAR_SECONDS
from zdte_tui.market import calendar
from zdte_tui.protocol import (CONTROL_ACTIONS, ENDPOINT_VERSION, HEATMAP_BARS, HEATMAP_METRICS, HEATMAP_MODES,
                               HEDGE_SIDES, LEADERBOARD_METRICS, SERIES_BARS, SIGNAL_INTENTS, SIGNAL_STRUCTURES,
                               ServiceError)

NS = 1_000_000_000
SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9.^]{0,9}$")
DATA_AS_OF_KEYS = ("equity_feed", "equity_options_feed", "index_feed", "index_options_feed", "futures_feed",
                   "futures_options_feed", "flow_feed", "oi_feed", "macro_feed")


# ------------------------------------------------------------------------------ helpers
def floats(a: np.ndarray, nd: int = 2) -> list[float | None]:
    """Array -> list of rounded floats with NaN/inf as None (vectorized rounding)."""
    a = np.asarray(a, dtype=np.float64)
    r = np.round(a, nd)
    ok = np.isfinite(r)
    out = r.tolist()
    if not ok.all():
        for i in np.flatnonzero(~ok):
            out[i] = None
    return out


def normalize_symbol(symbol: str) -> str:
    s = (symbol or "").strip().upper()
    if not SYMBOL_RE.match(s):
        raise ServiceError("invalid_symbol", f"'{symbol}' is not a valid ticker symbol", 400)
    return s


def clamp_minutes(minutes: Any) -> int:
    try:
        m = int(minutes)
    except (TypeError, ValueError):
        raise ServiceError("invalid_minutes", f"minutes must be an integer, got {minutes!r}", 400) from None
    return min(390, max(1, m))


def parse_expiry(expiry: str | None) -> dt.date | None:
    if expiry is None or expiry == "":
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(expiry)):
            raise ValueError
        return dt.date.fromisoformat(str(expiry))
    except ValueError:
        raise ServiceError("invalid_expiry", f"expiry must be yyyy-MM-dd, got {expiry!r}", 400) from None


def params_from_settings(settings) -> EngineParams:
    return settings.engine_params()


# ------------------------------------------------------------------------------ the service
class FlowService:
    """Embedded engine + source pump; thread-safe FlowServiceAPI implementation."""

    def __init__(self, source=None, *, settings=None, params: EngineParams | None = None,
                 calibration=None) -> None:
        if settings is None:
            from zdte_tui.config import default_settings

            settings = default_settings()
        self.settings = settings
        self.params = params or params_from_settings(settings)
        self.source = source
        self.engine = FlowEngine(self.params, session_bounds=calendar.session_bounds_ns)
        self.labels = LabelMemory()  # the words shown last per symbol: label hysteresis
        self.calibration = calibration
        if calibration is None and settings.probabilities.calibration_file:
            from zdte_tui.engine.calibration import load_calibration

            self.calibration = load_calibration(settings.probabilities.calibration_file)
        self._lock = threading.RLock()
        self._ready = threading.Event()
        self._first_ready = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = False
        self.events_ingested = 0
        self.source_errors: list[str] = []
        self.pump_errors = 0
        self._ready_at_ns = self._initial_target()
        self._state_cache: dict[str, tuple[int, dict]] = {}

    # --- construction ----------------------------------------------------------------------
    @classmethod
    def from_sim(cls, symbols, *, seed=None, at=None, speed=None, date=None, scenario=None, settings=None):
        from zdte_tui.sources.sim import SimSource

        if settings is None:
            from zdte_tui.config import default_settings

            settings = default_settings()
        sim = settings.sim
        session_date = dt.date.fromisoformat(date) if isinstance(date, str) else date
        src = SimSource([normalize_symbol(s) for s in symbols], session_date=session_date,
                        seed=sim.seed if seed is None else seed,
                        scenario=scenario or sim.scenario,
                        at=sim.start_at if at is None else at,
                        speed=sim.speed if speed is None else speed)
        return cls(src, settings=settings)

    def _initial_target(self) -> int | None:
        snapshot_at = getattr(self.source, "ready_at_ns", None)  # a one-shot snapshot: ready once it is in
        if snapshot_at is not None:
            return int(snapshot_at)
        clock = getattr(self.source, "clock", None)
        if clock is None:
            return None
        try:
            return int(clock.now_ns)
        except Exception:  # noqa: BLE001
            return None

    # --- pumping -----------------------------------------------------------------------------
    def apply(self, event) -> None:
        with self._lock:
            self.engine.apply(event)
            self.events_ingested += 1
            self._state_cache.clear()
        if not self._ready.is_set():
            self._update_readiness()

    def _update_readiness(self) -> None:
        """Ready = every symbol of the source has its history up to the start time ingested (any
        data at all for a live source); ``_first_ready`` = the first symbol has (what a monitor shows)."""
        target = self._ready_at_ns
        with self._lock:
            clocks = {s: b.clock_ns for s, b in self.engine.books.items()}
        symbols = tuple(getattr(self.source, "symbols", ()) or ()) or tuple(clocks)

        def done(sym: str) -> bool:
            return sym in clocks and (target is None or clocks[sym] >= target)

        if symbols and done(symbols[0]):
            self._first_ready.set()
        if symbols and all(done(s) for s in symbols):
            self._first_ready.set()
            self._ready.set()

    async def pump(self) -> None:
        """Consume the source until it ends or :meth:`stop` is called."""
        try:
            async for ev in self.source:
                if self._stop:
                    break
                try:
                    self.apply(ev)
                except Exception as exc:  # noqa: BLE001 - one bad event must not stop the pump
                    self._report_error(f"engine: {type(exc).__name__}: {exc}")
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # noqa: BLE001 - a source failure shows in the header
            self._report_error(f"{type(exc).__name__}: {exc}")
        finally:
            self._first_ready.set()
            self._ready.set()
            self._done.set()

    def _report_error(self, message: str) -> None:
        """Keep the last 20 pump errors (status() shows them); count them all."""
        with self._lock:
            self.pump_errors += 1
            self.source_errors.append(message[:300])
            del self.source_errors[:-20]

    def run_to_end(self) -> "FlowService":
        """Drain the source synchronously (headless replay, scripts, benchmarks)."""
        asyncio.run(self.pump())
        return self

    def start(self) -> "FlowService":
        """Pump the source on a daemon thread."""
        if self._thread is not None:
            return self

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._pump_task = loop.create_task(self.pump())
                loop.run_until_complete(self._pump_task)
                loop.run_until_complete(self.source.aclose())
            except Exception:  # noqa: BLE001 - closing a source must not crash the app
                pass
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="zdte-source", daemon=True)
        self._thread.start()
        return self

    def wait_ready(self, timeout: float | None = 30.0, *, first_symbol_only: bool = False) -> bool:
        """Block until history up to the start time is ingested (or the source ended)."""
        return (self._first_ready if first_symbol_only else self._ready).wait(timeout)

    def stop(self) -> None:
        """Stop pumping: cancel the pump task on its loop (thread-safe, idempotent) and join the thread."""
        self._stop = True
        loop, task = self._loop, getattr(self, "_pump_task", None)
        if loop is not None and task is not None:
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop already finished and closed
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    # --- internal views --------------------------------------------------------------------
    def _book_symbols(self) -> list[str]:
        with self._lock:
            return list(self.engine.books)

    def _session_date(self) -> dt.date:
        d = getattr(self.source, "session_date", None)
        if d is not None:
            return d
        with self._lock:
            books = list(self.engine.books.values())
        if books:
            return books[0].chain.expiry
        return calendar.default_session_date(dt.datetime.now(tz=calendar.ET))

    def _tracked(self, symbol: str) -> bool:
        return symbol in self._book_symbols()

    def _require(self, symbol: str) -> str:
        sym = normalize_symbol(symbol)
        if sym not in self._book_symbols():
            src_syms = tuple(getattr(self.source, "symbols", ()) or ())
            if sym in src_syms:
                raise ServiceError("warming_up", f"{sym}: no chain received from the source yet", 503)
            raise ServiceError("unknown_symbol", f"{sym} is not tracked by this engine "
                               f"(tracked: {', '.join(self._book_symbols()) or 'none'})", 404)
        return sym

    def _state(self, sym: str) -> ChainState:
        with self._lock:
            return self.engine.state(sym)

    def _envelope(self, body: dict) -> dict:
        body["endpoint_version"] = ENDPOINT_VERSION
        body["data_as_of"] = self._data_as_of()
        return body

    def _data_as_of(self) -> dict:
        with self._lock:
            d = dict(self.engine.data_as_of)
        out: dict[str, Any] = {"node": f"zdte-{__version__}:{getattr(self.source, 'name', 'none')}"}
        cap = getattr(self.source, "data_as_of_ns", None)  # a projected snapshot's data is as old as its file
        if cap is not None:
            d = {k: min(v, int(cap)) for k, v in d.items()}
        for k in DATA_AS_OF_KEYS:
            out[k] = iso(d.get(k))
        return out

    def _fill_pin_probabilities(self, sym: str, slots: np.ndarray) -> None:
        """Pin odds per sampled bar are computed on demand (then cached in the sampler) from the bar's
        stored smile, spot, magnet and GEX: the same model as the snapshot's probabilities.pin."""
        book = self.engine.books[sym]
        ser = book.sampler.series
        todo = [int(k) for k in slots if book.sampler.filled[k] and not np.isfinite(ser["pin_probability_pct"][k])
                and np.isfinite(ser["magnet"][k])]
        for k in todo:
            t_ns = int(book.sampler.slot_time_ns(k))
            value = dv.pin_probability_at(book.strikes, book.is_call, book.sampler.iv[k].astype(np.float64),
                                          spot=ser["spot"][k], t_ns=t_ns, close_ns=book.expiry_close_ns, r=book.r, q=book.q,
                                          atm_iv=ser["atm_iv"][k], magnet=ser["magnet"][k], net_gex=ser["net_gex"][k],
                                          gross_gex=ser["gross_gex"][k], pin_score=ser["pin_score"][k],
                                          params=self.params, calibration=self.calibration)
            ser["pin_probability_pct"][k] = np.nan if value is None else 100.0 * value

    # --- snapshot ------------------------------------------------------------------------------
    def snapshot(self, symbol: str, expiry: str | None = None) -> dict[str, Any]:
        sym = normalize_symbol(symbol)
        exp = parse_expiry(expiry)
        session = self._session_date()
        weekly = dict(self.settings.calendar.weekly_expiries)
        if not self._tracked(sym):
            if not calendar.has_zero_dte(sym, session, weekly):
                nxt = calendar.next_zero_dte_expiry(sym, session, weekly)
                return self._envelope({
                    "symbol": sym, "as_of": iso(self.engine.clock_ns) or iso(time.time_ns()), "no_zero_dte": True,
                    "body": None, "market_open": False,
                    "next_zero_dte_expiry": nxt.isoformat() if nxt else None,
                    "message": f"{sym} has no same-day expiry on {session.isoformat()}"
                               + (f"; next 0DTE expiry {nxt.isoformat()}" if nxt else "")})
            self._require(sym)
        st = self._state(sym)
        if exp is not None and exp != st.expiry:
            raise ServiceError("expiry_unavailable", f"{sym}: only the {st.expiry} expiry is tracked "
                               f"(asked for {exp.isoformat()})", 404)
        if st.as_of_ns < st.open_ns or st.as_of_ns > st.close_ns:
            return self._session_closed(sym, st)
        key = (st.as_of_ns, id(self.calibration))
        cached = self._state_cache.get(sym)
        if cached and cached[0] == key:
            return cached[1]
        previous = self.labels.previous(sym, st.as_of_ns)
        body = dv.snapshot_body(st, self.params, self.calibration, self._series_for_decision(sym, st), previous)
        self.labels.remember(sym, st.as_of_ns, decision_labels_of(body))
        body["body"] = {"kind": "zero_dte_flow_snapshot", "symbol": sym, "expiration": str(st.expiry),
                        "as_of": body["as_of"]}
        body["gex_profile"] = dv.gex_profile_block(st, self.params)
        info = getattr(self.source, "snapshot_info", None)
        if info:
            dv.apply_delayed_snapshot(body, info)
        out = self._envelope(body)
        with self._lock:
            self._state_cache[sym] = (key, out)
        return out

    def _session_closed(self, sym: str, st: ChainState) -> dict:
        weekly = dict(self.settings.calendar.weekly_expiries)
        after = st.as_of_ns > st.close_ns
        nxt = calendar.next_zero_dte_expiry(sym, st.expiry, weekly, include_today=not after)
        last = st.expiry if after else calendar.previous_trading_day(st.expiry)
        return self._envelope({
            "symbol": sym, "as_of": iso(st.as_of_ns), "session_closed": True, "market_open": False,
            "body": None, "underlying_price": num(st.spot, 4), "last_session": last.isoformat(),
            "next_zero_dte_expiry": nxt.isoformat() if nxt else None,
            "message": f"{sym}: the 0DTE session is closed"
                       + (f"; next 0DTE expiry {nxt.isoformat()}" if nxt else "")})

    def _series_for_decision(self, sym: str, st: ChainState) -> dict:
        """Recent hedge-flow bars and spot path feeding the headline/setup rules."""
        with self._lock:
            book = self.engine.books[sym]
            smp = book.sampler
            slots = smp.window_slots(st.as_of_ns, 30, "1m")
            calls = smp.series["hedge_flow_call_cumulative"][slots].copy()
            puts = smp.series["hedge_flow_put_cumulative"][slots].copy()
            spot = smp.series["spot"][slots].copy()
        total = calls + puts
        bars = np.diff(total) if len(total) > 1 else np.zeros(0)
        return {"hedge_flow_bars_usd": bars[np.isfinite(bars)], "spot_path": spot[np.isfinite(spot)]}

    # --- series & hedge flow ---------------------------------------------------------------------
    def _window(self, sym: str, minutes: int, bar: str):
        book = self.engine.books[sym]
        slots = book.sampler.window_slots(book.clock_ns, minutes, bar)
        return book, slots

    def series(self, symbol: str, bar: str = "30s", minutes: int = 60) -> dict[str, Any]:
        sym = normalize_symbol(symbol)
        if bar not in SERIES_BARS:
            raise ServiceError("invalid_bar", f"bar must be one of {', '.join(SERIES_BARS)}; got {bar!r}", 400)
        minutes = clamp_minutes(minutes)
        out = {"symbol": sym, "expiration": None, "as_of": self._as_of(), "bar_size": bar, "bars": []}
        if not self._tracked(sym):
            self._untracked_ok(sym)
            return self._envelope(out)
        with self._lock:
            book, slots = self._window(sym, minutes, bar)
            self._fill_pin_probabilities(sym, slots)
            s = {k: v[slots].copy() for k, v in book.sampler.series.items()}
            times = book.sampler.slot_time_ns(slots)
            expiry = book.chain.expiry
        out["expiration"] = str(expiry)
        bars = []
        for i in range(len(slots)):
            calls, puts = s["hedge_flow_call_cumulative"][i], s["hedge_flow_put_cumulative"][i]
            flip = num(s["gamma_flip"][i], 2)
            bars.append({
                "t": iso(int(times[i])), "spot": num(s["spot"][i], 4), "net_gex": num(s["net_gex"][i], 0),
                "net_dex": num(s["net_dex"][i], 0), "gamma_flip": flip,
                "gamma_flip_status": "ok" if flip is not None else "no_crossing_in_range",
                "call_wall": num(s["call_wall"][i]), "put_wall": num(s["put_wall"][i]),
                "magnet": num(s["magnet"][i]), "pin_score": integer(s["pin_score"][i]),
                "pin_probability_pct": num(s["pin_probability_pct"][i], 1),
                "regime": None if not np.isfinite(s["regime"][i]) else
                ("positive_gamma" if s["regime"][i] > 0 else "negative_gamma"),
                "atm_iv": num(s["atm_iv"][i], 4), "charm_dollars_per_hour": num(s["charm_dollars_per_hour"][i], 0),
                "hedge_flow_call_cumulative": num(calls, 0), "hedge_flow_put_cumulative": num(puts, 0),
                "hedge_flow_cumulative_all": num(calls + puts, 0),
            })
        out["bars"] = bars
        return self._envelope(out)

    def _untracked_ok(self, sym: str) -> None:
        """Time-series endpoints: a symbol with no 0DTE today gets 200 with empty bars (documented);
        a symbol that has one but isn't tracked here is a 404."""
        session = self._session_date()
        if calendar.has_zero_dte(sym, session, dict(self.settings.calendar.weekly_expiries)):
            self._require(sym)

    def _as_of(self) -> str:
        return iso(self.engine.clock_ns) or iso(time.time_ns())

    def hedge_flow(self, symbol: str, side: str = "all", bar: str = "30s", minutes: int = 60) -> dict[str, Any]:
        sym = normalize_symbol(symbol)
        if side not in HEDGE_SIDES:
            raise ServiceError("invalid_side", f"side must be one of {', '.join(HEDGE_SIDES)}; got {side!r}", 400)
        if bar not in SERIES_BARS:
            raise ServiceError("invalid_bar", f"bar must be one of {', '.join(SERIES_BARS)}; got {bar!r}", 400)
        minutes = clamp_minutes(minutes)
        out = {"symbol": sym, "expiration": None, "as_of": self._as_of(), "side": side, "bar_size": bar, "bars": []}
        if not self._tracked(sym):
            self._untracked_ok(sym)
            return self._envelope(out)
        with self._lock:
            book, slots = self._window(sym, minutes, bar)
            cum = self._hedge_cum(book, side)
            times = book.sampler.slot_time_ns(slots)
            prev = self._prev_value(book, cum, slots, bar)
            values = cum[slots].copy()
            out["expiration"] = str(book.chain.expiry)
        increments = np.diff(np.concatenate([[prev], values]))
        out["bars"] = [{"t": iso(int(t)), "bar": num(b, 0), "cumulative": num(c, 0)}
                       for t, b, c in zip(times, increments, values)]
        return self._envelope(out)

    @staticmethod
    def _hedge_cum(book, side: str) -> np.ndarray:
        s = book.sampler.series
        calls, puts = s["hedge_flow_call_cumulative"], s["hedge_flow_put_cumulative"]
        return {"calls": calls, "puts": puts, "all": calls + puts}[side]

    @staticmethod
    def _before_first_bar(filled: np.ndarray, slots: np.ndarray, bar: str) -> int | None:
        """The last filled raw slot before the first bar's *bucket* (None: nothing earlier, i.e. 0), so
        the first bar's increment covers its whole bucket (buckets: (k*bar, (k+1)*bar] after the open)."""
        if len(slots) == 0:
            return None
        per = BAR_SECONDS[bar] // SAMPLE_SECONDS
        bucket = -(-int(slots[0]) // per)
        first_slot = max(0, (bucket - 1) * per + 1) if bucket > 0 else 0
        earlier = np.flatnonzero(filled[:first_slot])
        return int(earlier[-1]) if len(earlier) else None

    def _prev_value(self, book, cum: np.ndarray, slots: np.ndarray, bar: str) -> float:
        k = self._before_first_bar(book.sampler.filled, slots, bar)
        if k is None or not np.isfinite(cum[k]):
            return 0.0
        return float(cum[k])

    # --- heatmap & strike flow ---------------------------------------------------------------------
    def _strike_window(self, sym: str, minutes: int):
        book, slots = self._window(sym, minutes, "1m")
        smp = book.sampler
        return book, smp, slots

    def heatmap(self, symbol: str, metric: str = "gex", mode: str = "raw", bar: str = "1m",
                minutes: int = 60) -> dict[str, Any]:
        sym = normalize_symbol(symbol)
        if metric not in HEATMAP_METRICS:
            raise ServiceError("invalid_metric", f"metric must be one of {'|'.join(HEATMAP_METRICS)}; got {metric!r}", 400)
        if mode not in HEATMAP_MODES:
            raise ServiceError("invalid_mode", f"mode must be raw or delta; got {mode!r}", 400)
        if bar not in HEATMAP_BARS:
            raise ServiceError("bar_unavailable", f"only bar=1m is available for the heatmap; got {bar!r}", 400)
        minutes = clamp_minutes(minutes)
        out = {"symbol": sym, "underlying_price": None, "expiration": None, "metric": metric, "mode": mode,
               "bar_size": bar, "as_of": self._as_of(), "tier_used": "raw", "strikes_grid": [], "bars": [],
               "gap_intervals": []}
        if not self._tracked(sym):
            self._untracked_ok(sym)
            return self._envelope(out)
        with self._lock:
            book, smp, slots = self._strike_window(sym, minutes)
            out["expiration"] = str(book.chain.expiry)
            out["underlying_price"] = num(book.spot, 4)
            if metric == "signed_flow":
                mat = self._bar_increments(smp, "flow_delta_cum", slots)
            else:
                mat = smp.strike[metric][slots].astype(np.float64)
                if mode == "delta" and len(slots) > 1:
                    mat = np.vstack([mat[:1], np.diff(mat, axis=0)])
            spots, times, grid = self._bar_axes(book, smp, slots, out)
        if len(slots) == 0:
            return self._envelope(out)
        cols = np.flatnonzero(np.isfinite(mat).any(axis=0))
        out["strikes_grid"] = floats(grid[cols], 4)
        nd = 0 if metric != "oi" else 1
        out["bars"] = [{"t": iso(int(t)), "spot": num(s, 4), "values": floats(row[cols], nd)}
                       for t, s, row in zip(times, spots, mat)]
        return self._envelope(out)

    def _bar_increments(self, smp, key: str, slots: np.ndarray) -> np.ndarray:
        """Per-bar increments [bars, strikes] of a cumulative per-strike flow (1m bars): the first bar
        is measured from the last sample before its bucket (0 at the open)."""
        cum = smp.strike[key]
        mat = cum[slots].astype(np.float64)
        if len(slots) == 0:
            return mat
        k = self._before_first_bar(smp.filled, slots, "1m")
        prev = np.zeros((1, cum.shape[1])) if k is None else np.nan_to_num(cum[k].astype(np.float64))[None, :]
        return np.diff(np.vstack([prev, mat]), axis=0)

    @staticmethod
    def _bar_axes(book, smp, slots: np.ndarray, out: dict):
        """Spot path, bar times and strike grid of a window; fills ``out["gap_intervals"]``."""
        spots = smp.series["spot"][slots].copy()
        times = smp.slot_time_ns(slots)
        gaps = smp.gap_intervals(int(times[0]) if len(times) else None, book.clock_ns)
        out["gap_intervals"] = [{"start": iso(s), "end": iso(e)} for s, e in gaps]
        return spots, times, smp.strike_grid.copy()

    def strike_flow(self, symbol: str, bar: str = "1m", minutes: int = 60) -> dict[str, Any]:
        sym = normalize_symbol(symbol)
        if bar not in HEATMAP_BARS:
            raise ServiceError("bar_unavailable", f"only bar=1m is available for strike flow; got {bar!r}", 400)
        minutes = clamp_minutes(minutes)
        out = {"symbol": sym, "underlying_price": None, "expiration": None, "bar_size": bar, "as_of": self._as_of(),
               "tier_used": "raw", "strikes_grid": [], "bars": [], "gap_intervals": []}
        if not self._tracked(sym):
            self._untracked_ok(sym)
            return self._envelope(out)
        with self._lock:
            book, smp, slots = self._strike_window(sym, minutes)
            out["expiration"] = str(book.chain.expiry)
            out["underlying_price"] = num(book.spot, 4)
            mats = {key: self._bar_increments(smp, key, slots)
                    for key in ("flow_delta_cum", "flow_gamma_cum", "flow_contracts_cum")}
            spots, times, grid = self._bar_axes(book, smp, slots, out)
        if len(slots) == 0:
            return self._envelope(out)
        out["strikes_grid"] = floats(grid, 4)
        sdd, sgd, cts = mats["flow_delta_cum"], mats["flow_gamma_cum"], mats["flow_contracts_cum"]
        out["bars"] = [{"t": iso(int(times[i])), "spot": num(spots[i], 4),
                        "signed_delta_dollars": floats(np.nan_to_num(sdd[i]), 0),
                        "signed_gamma_dollars": floats(np.nan_to_num(sgd[i]), 0),
                        "contracts": [int(v) for v in np.rint(np.nan_to_num(cts[i]))]}
                       for i in range(len(slots))]
        return self._envelope(out)

    # --- leaderboard ---------------------------------------------------------------------------
    def leaderboard(self, metric: str = "heat", n: int = 10) -> dict[str, Any]:
        if metric not in LEADERBOARD_METRICS:
            raise ServiceError("invalid_metric", f"metric must be one of {'|'.join(LEADERBOARD_METRICS)}; got {metric!r}", 400)
        try:
            n = int(n)
        except (TypeError, ValueError):
            raise ServiceError("invalid_n", f"n must be an integer 1-100, got {n!r}", 400) from None
        n = min(100, max(1, n))
        rows = []
        for sym in self._book_symbols():
            st = self._state(sym)
            if not (st.open_ns <= st.as_of_ns <= st.close_ns):
                continue
            with self._lock:
                book = self.engine.books[sym]
                slots = book.sampler.window_slots(book.clock_ns, 15, "1m")
                calls = book.sampler.series["hedge_flow_call_cumulative"][slots].copy()
                puts = book.sampler.series["hedge_flow_put_cumulative"][slots].copy()
                pin_score = book.sampler.series["pin_score"][slots[-1]] if len(slots) else np.nan
            value = dv.leaderboard_value(metric, st, calls, puts, pin_score, self.params)
            if value is not None:
                rows.append((value, sym))
        rows.sort(key=lambda r: (-r[0], r[1]))
        entries = [{"rank": i + 1, "symbol": s, "value": round(v, 6)} for i, (v, s) in enumerate(rows[:n])]
        clock = self.engine.clock_ns
        market_open = any(self._state(s).open_ns <= clock <= self._state(s).close_ns for s in self._book_symbols())
        return self._envelope({"metric": metric, "n": n, "as_of": self._as_of(), "market_open": market_open,
                               "entries": entries})

    # --- signals ---------------------------------------------------------------------------------
    def signals(self, symbol: str, min_score: float = 0, intent: str | None = None, structure: str | None = None,
                window_minutes: int = 240, limit: int = 50, expiry: str | None = None) -> dict[str, Any]:
        sym = normalize_symbol(symbol)
        try:
            min_score = float(min_score)
        except (TypeError, ValueError):
            raise ServiceError("invalid_min_score", f"minScore must be a number 0-100, got {min_score!r}", 400) from None
        if not 0 <= min_score <= 100:
            raise ServiceError("invalid_min_score", f"minScore must be within 0-100, got {min_score}", 400)
        if intent in ("", "all"):
            intent = None
        if structure in ("", "all"):
            structure = None
        if intent is not None and intent not in SIGNAL_INTENTS:
            raise ServiceError("invalid_intent", f"intent must be bullish, bearish or neutral; got {intent!r}", 400)
        if structure is not None and structure not in SIGNAL_STRUCTURES:
            raise ServiceError("invalid_structure", f"structure must be block or sweep; got {structure!r}", 400)
        try:
            window_minutes = min(10080, max(1, int(window_minutes)))
            limit = min(500, max(1, int(limit)))
        except (TypeError, ValueError):
            raise ServiceError("invalid_parameter", "windowMinutes and limit must be integers", 400) from None
        exp = parse_expiry(expiry)
        sym_known = self._tracked(sym)
        if not sym_known:
            self._require(sym)
        st = self._state(sym)
        with self._lock:
            log = self.engine.books[sym].log
            cols = {k: log.view(k).copy() for k in ("ts_ns", "contract", "price", "size", "aggressor", "side",
                                                    "group", "spot")}
        body = dv.signals_body(st, cols, self.params, min_score=min_score, intent=intent, structure=structure,
                               window_minutes=window_minutes, limit=limit, expiry=exp)
        return self._envelope(body)

    # --- status & control ----------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        src = self.source
        clock = getattr(src, "clock", None)
        with self._lock:
            gaps = []
            for sym, book in self.engine.books.items():
                gaps += [[sym, iso(s), iso(e)] for s, e in book.sampler.gaps]
            errors = list(self.source_errors) + list(self.engine.errors)
            malformed = self.engine.malformed_count
            symbols = list(self.engine.books) or list(getattr(src, "symbols", ()) or ())
            clock_ns = self.engine.clock_ns
        return {
            "source": getattr(src, "name", "none"), "label": getattr(src, "label", "none") if src else "none",
            "simulated": bool(getattr(src, "simulated", False)), "symbols": symbols,
            "session_date": self._session_date().isoformat(), "session_time": iso(clock_ns),
            "clock": {"controllable": clock is not None,
                      "paused": bool(clock.paused) if clock is not None else False,
                      "speed": clock.speed if clock is not None else None},
            "data_as_of": self._data_as_of(), "errors": errors[-10:], "malformed_count": malformed,
            "gaps": gaps, "ready": self._ready.is_set(), "finished": self._done.is_set(),
            "pump_errors": self.pump_errors, "feed_health": self._feed_health(),
            "events_ingested": self.events_ingested, "version": __version__,
        }

    def _feed_health(self) -> dict[str, Any] | None:
        """A live source's per-channel circuit / staleness / buffer drops (None for sim and replay)."""
        health = getattr(self.source, "health", None)
        if not callable(health):
            return None
        try:
            return health()
        except Exception as exc:  # noqa: BLE001 - status must answer even if the source cannot
            return {"error": f"{type(exc).__name__}: {exc}"}

    def control(self, action: str, value: float | str | None = None) -> dict[str, Any]:
        if action not in CONTROL_ACTIONS:
            raise ServiceError("invalid_action", f"action must be one of {', '.join(CONTROL_ACTIONS)}; got {action!r}", 400)
        clock = getattr(self.source, "clock", None)
        if clock is None:
            raise ServiceError("not_controllable", "this source is live: it cannot be paused or seeked", 409)
        try:
            if action == "pause":
                clock.pause()
            elif action == "resume":
                clock.resume()
            elif action == "toggle":
                clock.resume() if clock.paused else clock.pause()
            elif action == "step":
                clock.step(_finite(value, 30.0))
            elif action == "speed":
                v = _finite(value, 1.0)
                if v < 0:
                    raise ValueError("speed must be >= 0")
                clock.set_speed(v or None)
            elif action == "seek":
                clock.seek(self._seek_target(value))
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise ServiceError("invalid_value", f"{action}: {exc}", 400) from None
        return self.status()

    def _seek_target(self, value) -> int:
        if value is None:
            raise ValueError("seek needs a time (HH:MM ET or ISO)")
        text = str(value)
        if re.fullmatch(r"\d{1,2}:\d{2}", text):
            return calendar.et_clock_to_ns(self._session_date(), text)
        try:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"cannot read {text!r} as HH:MM or an ISO time") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=calendar.ET)
        return int(when.timestamp() * NS)


def _finite(value: float | str | None, default: float) -> float:
    """A control value as a finite float (``ValueError`` for NaN, inf, booleans and non-numbers)."""
    if value is None:
        return default
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {value!r}")
    return number


__all__ = ["FlowService", "ServiceError", "num", "iso"]
