"""FlowService: the one query surface over the embedded engine (snapshot, series, hedge_flow,
heatmap, strike_flow, leaderboard, signals, status, control).

It is a :class:`~zdte_tui.service.pump.SourcePump` (the engine, its lock and the thread feeding a
source into it); every query validates its input (:mod:`~zdte_tui.service.validation`), copies what
it needs under the lock and hands it to :mod:`zdte_tui.service.views`, which shapes the plain,
JSON-ready dict in FlashAlpha's documented shape. Invalid input raises
:class:`~zdte_tui.service.protocol.ServiceError` with the documented code; playback control is
:mod:`~zdte_tui.service.playback`.

Build one on the simulator::

    svc = FlowService.from_sim(["SPY", "QQQ"], seed=7, at="10:30", speed=1.0)
    svc.start(); svc.wait_ready()
    svc.snapshot("SPY")

or drain a source synchronously (scripts, benchmarks): ``FlowService(source).run_to_end()``.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import numpy as np

from zdte_tui import __version__
from zdte_tui.engine.decision import LabelMemory
from zdte_tui.engine.decision import labels_of as decision_labels_of
from zdte_tui.engine.flow_engine import ChainState, FlowEngine
from zdte_tui.engine.params import EngineParams
from zdte_tui.market import calendar
from zdte_tui.service.playback import apply_control
from zdte_tui.service.protocol import (
    ENDPOINT_VERSION,
    HEATMAP_BARS,
    HEATMAP_METRICS,
    HEATMAP_MODES,
    HEDGE_SIDES,
    LEADERBOARD_METRICS,
    SERIES_BARS,
    SIGNAL_INTENTS,
    SIGNAL_STRUCTURES,
    ServiceError,
)
from zdte_tui.service.pump import SourcePump
from zdte_tui.service.validation import clamp_count, clamp_minutes, normalize_symbol, parse_expiry, require_choice
from zdte_tui.service.views import leaderboard as leaderboard_view
from zdte_tui.service.views import series as series_view
from zdte_tui.service.views import signals as signals_view
from zdte_tui.service.views import snapshot as snapshot_view
from zdte_tui.service.views.format import iso, num
from zdte_tui.service.views.status import clock_block, data_as_of_block


# ------------------------------------------------------------------------------ helpers
def params_from_settings(settings) -> EngineParams:
    return settings.engine_params()


# ------------------------------------------------------------------------------ the service
class FlowService(SourcePump):
    """Embedded engine + source pump; thread-safe FlowServiceAPI implementation."""

    def __init__(self, source=None, *, settings=None, params: EngineParams | None = None,
                 calibration=None, audit_prints: bool = False) -> None:
        """``audit_prints``: the engine's trade logs keep every print and its valuation (evaluation
        harnesses; the queries need neither: ``FlowEngine``)."""
        if settings is None:
            from zdte_tui.config import default_settings

            settings = default_settings()
        self.settings = settings
        self.params = params or params_from_settings(settings)
        super().__init__(source, FlowEngine(self.params, session_bounds=calendar.session_bounds_ns,
                                            audit_prints=audit_prints))
        self.labels = LabelMemory()  # the words shown last per symbol: label hysteresis
        self.calibration = calibration
        if calibration is None and settings.probabilities.calibration_file:
            from zdte_tui.engine.calibration import load_calibration

            self.calibration = load_calibration(settings.probabilities.calibration_file)
        self._state_cache: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}

    # --- construction ----------------------------------------------------------------------
    @classmethod
    def from_sim(cls, symbols, *, seed=None, at=None, speed=None, date=None, scenario=None, settings=None):
        from zdte_tui.sources.sim import SimSource

        if settings is None:
            from zdte_tui.config import default_settings

            settings = default_settings()
        from zdte_tui.sources.levels import resolve_levels

        sim = settings.sim
        session_date = dt.date.fromisoformat(date) if isinstance(date, str) else date
        names = [normalize_symbol(s) for s in symbols]
        levels = resolve_levels(names, sim.levels, use_last_recorded=sim.use_last_recorded).levels
        src = SimSource(names, session_date=session_date, levels=levels,
                        seed=sim.seed if seed is None else seed,
                        scenario=scenario or sim.scenario,
                        at=sim.start_at if at is None else at,
                        speed=sim.speed if speed is None else speed)
        return cls(src, settings=settings)

    def _on_applied(self) -> None:
        self._state_cache.clear()

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

    def _envelope(self, body: dict[str, Any]) -> dict[str, Any]:
        body["endpoint_version"] = ENDPOINT_VERSION
        body["data_as_of"] = self._data_as_of()
        return body

    def _data_as_of(self) -> dict[str, Any]:
        with self._lock:
            d = dict(self.engine.data_as_of)
        cap = getattr(self.source, "data_as_of_ns", None)  # a projected snapshot's data is as old as its file
        if cap is not None:
            d = {k: min(v, int(cap)) for k, v in d.items()}
        return data_as_of_block(f"zdte-{__version__}:{getattr(self.source, 'name', 'none')}", d)

    def _fill_pin_probabilities(self, sym: str, slots: np.ndarray) -> None:
        """Pin odds per sampled bar are computed on demand (then cached in the sampler) from the bar's
        stored smile, spot, magnet and GEX: the same model as the snapshot's probabilities.pin, for all
        the bars to fill in one call (:func:`snapshot_view.pin_probabilities_at`)."""
        book = self.engine.books[sym]
        ser = book.sampler.series
        slots = np.asarray(slots, dtype=np.int64)
        todo = slots[book.sampler.filled[slots] & ~np.isfinite(ser["pin_probability_pct"][slots])
                     & np.isfinite(ser["magnet"][slots])]
        if not len(todo):
            return
        values = snapshot_view.pin_probabilities_at(
            book.strikes, book.is_call, book.sampler.iv[todo].astype(np.float64), spot=ser["spot"][todo],
            t_ns=book.sampler.slot_time_ns(todo), close_ns=book.expiry_close_ns, r=book.r, q=book.q,
            atm_iv=ser["atm_iv"][todo], magnet=ser["magnet"][todo], net_gex=ser["net_gex"][todo],
            gross_gex=ser["gross_gex"][todo], pin_score=ser["pin_score"][todo], params=self.params,
            calibration=self.calibration)
        ser["pin_probability_pct"][todo] = 100.0 * values

    # --- snapshot ------------------------------------------------------------------------------
    def snapshot(self, symbol: str, expiry: str | None = None) -> dict[str, Any]:
        sym = normalize_symbol(symbol)
        exp = parse_expiry(expiry)
        session = self._session_date()
        weekly = dict(self.settings.calendar.weekly_expiries)
        if not self._tracked(sym):
            if not calendar.has_zero_dte(sym, session, weekly):
                nxt = calendar.next_zero_dte_expiry(sym, session, weekly)
                return self._envelope(snapshot_view.no_zero_dte_body(sym, self._as_of(), session, nxt))
            self._require(sym)
        st = self._state(sym)
        if exp is not None and exp != st.expiry:
            raise ServiceError("expiry_unavailable", f"{sym}: only the {st.expiry} expiry is tracked "
                               f"(asked for {exp.isoformat()})", 404)
        if st.as_of_ns < st.open_ns or st.as_of_ns > st.close_ns:
            return self._session_closed(st)
        key = (st.as_of_ns, id(self.calibration))
        cached = self._state_cache.get(sym)
        if cached and cached[0] == key:
            return cached[1]
        previous = self.labels.previous(sym, st.as_of_ns)
        body = snapshot_view.snapshot_body(st, self.params, self.calibration, self._series_for_decision(sym, st),
                                           previous)
        self.labels.remember(sym, st.as_of_ns, decision_labels_of(body))
        body["body"] = {"kind": "zero_dte_flow_snapshot", "symbol": sym, "expiration": str(st.expiry),
                        "as_of": body["as_of"]}
        body["gex_profile"] = snapshot_view.gex_profile_block(st, self.params)
        info = getattr(self.source, "snapshot_info", None)
        if info:
            snapshot_view.apply_delayed_snapshot(body, info)
        out = self._envelope(body)
        with self._lock:
            self._state_cache[sym] = (key, out)
        return out

    def _session_closed(self, st: ChainState) -> dict[str, Any]:
        weekly = dict(self.settings.calendar.weekly_expiries)
        after = st.as_of_ns > st.close_ns
        nxt = calendar.next_zero_dte_expiry(st.symbol, st.expiry, weekly, include_today=not after)
        last = st.expiry if after else calendar.previous_trading_day(st.expiry)
        return self._envelope(snapshot_view.session_closed_body(st, last, nxt))

    def _series_for_decision(self, sym: str, st: ChainState) -> dict[str, np.ndarray]:
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
    def _window(self, sym: str, minutes: int, bar: str) -> tuple[Any, np.ndarray]:
        book = self.engine.books[sym]
        slots = book.sampler.window_slots(book.clock_ns, minutes, bar)
        return book, slots

    def series(self, symbol: str, bar: str = "30s", minutes: int = 60) -> dict[str, Any]:
        sym = normalize_symbol(symbol)
        require_choice(bar, SERIES_BARS, "invalid_bar", f"bar must be one of {', '.join(SERIES_BARS)}; got {bar!r}")
        minutes = clamp_minutes(minutes)
        out = series_view.series_body(sym, self._as_of(), bar)
        if not self._tracked(sym):
            return self._untracked(sym, out)
        with self._lock:
            book, slots = self._window(sym, minutes, bar)
            self._fill_pin_probabilities(sym, slots)
            s = {k: v[slots].copy() for k, v in book.sampler.series.items()}
            times = book.sampler.slot_time_ns(slots)
            expiry = book.chain.expiry
        out["expiration"] = str(expiry)
        # the net-premium tide: accumulated per sample by the engine (no scan of the prints)
        out["bars"] = series_view.series_bars(s, times, (s["net_call_premium_cumulative"],
                                                         s["net_put_premium_cumulative"]))
        return self._envelope(out)

    def _untracked(self, sym: str, empty: dict[str, Any]) -> dict[str, Any]:
        """Time-series endpoints: a symbol with no 0DTE today gets 200 with empty bars (documented);
        a symbol that has one but isn't tracked here is a 404."""
        session = self._session_date()
        if calendar.has_zero_dte(sym, session, dict(self.settings.calendar.weekly_expiries)):
            self._require(sym)
        return self._envelope(empty)

    def _as_of(self) -> str | None:
        return iso(self.engine.clock_ns) or iso(time.time_ns())

    def hedge_flow(self, symbol: str, side: str = "all", bar: str = "30s", minutes: int = 60) -> dict[str, Any]:
        sym = normalize_symbol(symbol)
        require_choice(side, HEDGE_SIDES, "invalid_side", f"side must be one of {', '.join(HEDGE_SIDES)}; got {side!r}")
        require_choice(bar, SERIES_BARS, "invalid_bar", f"bar must be one of {', '.join(SERIES_BARS)}; got {bar!r}")
        minutes = clamp_minutes(minutes)
        out = series_view.hedge_flow_body(sym, self._as_of(), side, bar)
        if not self._tracked(sym):
            return self._untracked(sym, out)
        with self._lock:
            book, slots = self._window(sym, minutes, bar)
            cum = series_view.hedge_cumulative(book.sampler.series, side)
            times = book.sampler.slot_time_ns(slots)
            prev = series_view.value_before_first_bar(book.sampler.filled, cum, slots, bar)
            values = cum[slots].copy()
            out["expiration"] = str(book.chain.expiry)
        out["bars"] = series_view.hedge_flow_bars(times, values, prev)
        return self._envelope(out)

    # --- heatmap & strike flow ---------------------------------------------------------------------
    def _strike_window(self, sym: str, minutes: int, out: dict[str, Any]) -> tuple[Any, Any, np.ndarray]:
        """The 1m window of ``sym``'s per-strike samples; fills the response's expiry, spot and gaps."""
        book, slots = self._window(sym, minutes, "1m")
        smp = book.sampler
        out["expiration"] = str(book.chain.expiry)
        out["underlying_price"] = num(book.spot, 4)
        out["gap_intervals"] = series_view.gap_intervals(smp, smp.slot_time_ns(slots), book.clock_ns)
        return book, smp, slots

    def heatmap(self, symbol: str, metric: str = "gex", mode: str = "raw", bar: str = "1m",
                minutes: int = 60) -> dict[str, Any]:
        sym = normalize_symbol(symbol)
        require_choice(metric, HEATMAP_METRICS, "invalid_metric",
                       f"metric must be one of {'|'.join(HEATMAP_METRICS)}; got {metric!r}")
        require_choice(mode, HEATMAP_MODES, "invalid_mode", f"mode must be raw or delta; got {mode!r}")
        require_choice(bar, HEATMAP_BARS, "bar_unavailable", f"only bar=1m is available for the heatmap; got {bar!r}")
        minutes = clamp_minutes(minutes)
        out = series_view.heatmap_body(sym, self._as_of(), metric, mode, bar)
        if not self._tracked(sym):
            return self._untracked(sym, out)
        with self._lock:
            _, smp, slots = self._strike_window(sym, minutes, out)
            mat = series_view.heatmap_matrix(smp, metric, mode, slots)
            spots, times, grid = smp.series["spot"][slots].copy(), smp.slot_time_ns(slots), smp.strike_grid.copy()
        if len(slots) == 0:
            return self._envelope(out)
        series_view.heatmap_bars(out, metric, mat, spots, times, grid)
        return self._envelope(out)

    def strike_flow(self, symbol: str, bar: str = "1m", minutes: int = 60) -> dict[str, Any]:
        sym = normalize_symbol(symbol)
        require_choice(bar, HEATMAP_BARS, "bar_unavailable", f"only bar=1m is available for strike flow; got {bar!r}")
        minutes = clamp_minutes(minutes)
        out = series_view.strike_flow_body(sym, self._as_of(), bar)
        if not self._tracked(sym):
            return self._untracked(sym, out)
        with self._lock:
            _, smp, slots = self._strike_window(sym, minutes, out)
            mats = {key: series_view.bar_increments(smp, key, slots) for key in series_view.STRIKE_FLOW_KEYS}
            spots, times, grid = smp.series["spot"][slots].copy(), smp.slot_time_ns(slots), smp.strike_grid.copy()
        if len(slots) == 0:
            return self._envelope(out)
        series_view.strike_flow_bars(out, mats, spots, times, grid)
        return self._envelope(out)

    # --- leaderboard ---------------------------------------------------------------------------
    def leaderboard(self, metric: str = "heat", n: int = 10) -> dict[str, Any]:
        require_choice(metric, LEADERBOARD_METRICS, "invalid_metric",
                       f"metric must be one of {'|'.join(LEADERBOARD_METRICS)}; got {metric!r}")
        n = clamp_count(n, low=1, high=100, code="invalid_n", message=f"n must be an integer 1-100, got {n!r}")
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
            value = leaderboard_view.leaderboard_value(metric, st, calls, puts, pin_score, self.params)
            if value is not None:
                rows.append((value, sym))
        clock = self.engine.clock_ns
        market_open = any(self._state(s).open_ns <= clock <= self._state(s).close_ns for s in self._book_symbols())
        return self._envelope(leaderboard_view.leaderboard_body(metric, n, self._as_of(), market_open, rows))

    # --- signals ---------------------------------------------------------------------------------
    def signals(self, symbol: str, min_score: float = 0, intent: str | None = None, structure: str | None = None,
                window_minutes: int = 240, limit: int = 50, expiry: str | None = None) -> dict[str, Any]:
        sym = normalize_symbol(symbol)
        try:
            min_score = float(min_score)
        except (TypeError, ValueError):
            raise ServiceError("invalid_min_score", f"minScore must be a number 0-100, got {min_score!r}",
                               400) from None
        if not 0 <= min_score <= 100:
            raise ServiceError("invalid_min_score", f"minScore must be within 0-100, got {min_score}", 400)
        if intent in ("", "all"):
            intent = None
        if structure in ("", "all"):
            structure = None
        if intent is not None:
            require_choice(intent, SIGNAL_INTENTS, "invalid_intent",
                           f"intent must be bullish, bearish or neutral; got {intent!r}")
        if structure is not None:
            require_choice(structure, SIGNAL_STRUCTURES, "invalid_structure",
                           f"structure must be block or sweep; got {structure!r}")
        integers = "windowMinutes and limit must be integers"
        window_minutes = clamp_count(window_minutes, low=1, high=10080, code="invalid_parameter", message=integers)
        limit = clamp_count(limit, low=1, high=500, code="invalid_parameter", message=integers)
        exp = parse_expiry(expiry)
        if not self._tracked(sym):
            self._require(sym)
        st = self._state(sym)
        with self._lock:
            log = self.engine.books[sym].log
            cols = {k: log.view(k).copy() for k in ("ts_ns", "contract", "price", "size", "aggressor", "side",
                                                    "group")}
        body = signals_view.signals_body(st, cols, self.params, min_score=min_score, intent=intent,
                                         structure=structure, window_minutes=window_minutes, limit=limit, expiry=exp)
        return self._envelope(body)

    # --- status & control ----------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        src = self.source
        with self._lock:
            gaps = []
            for sym, book in self.engine.books.items():
                gaps += [[sym, iso(s), iso(e)] for s, e in book.sampler.gaps]
            internal = dict(self.internal_errors)
            errors = (list(self.source_errors) + list(self.engine.errors)
                      + [f"internal error: {where} on {n} event(s), skipped; see the log"
                         for where, n in internal.items()])
            malformed = self.engine.malformed_count
            malformed_by_reason = dict(self.engine.malformed_by_reason)
            # every symbol the source will deliver, not only those whose chain arrived (the monitor's `s`
            # and palette offer them at once; a symbol still warming up answers "warming_up")
            symbols = list(dict.fromkeys([*self.engine.books, *(getattr(src, "symbols", ()) or ())]))
            clock_ns = self.engine.clock_ns
        return {
            "source": getattr(src, "name", "none"), "label": getattr(src, "label", "none") if src else "none",
            "simulated": bool(getattr(src, "simulated", False)), "symbols": symbols,
            "session_date": self._session_date().isoformat(), "session_time": iso(clock_ns),
            "clock": clock_block(getattr(src, "clock", None)),
            "data_as_of": self._data_as_of(), "errors": errors[-10:], "malformed_count": malformed,
            "malformed_by_reason": malformed_by_reason, "internal_errors": internal,
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
        apply_control(getattr(self.source, "clock", None), action, value, self._session_date)
        return self.status()


__all__ = ["FlowService", "ServiceError", "params_from_settings"]
