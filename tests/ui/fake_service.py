"""A deterministic, in-memory :class:`~zdte_tui.service.protocol.FlowServiceAPI` for UI tests.

Every response is a plain dict in the FlashAlpha shape (see the seeds and the SDK's
``types.py``). The whole session (390 one-minute bars per symbol) is generated once from a
fixed seed with numpy; queries slice it at the fake clock, which only moves through
:meth:`control` (never the wall clock), so screenshots are reproducible.

Knobs for tests: ``session_closed=True`` (every snapshot is the closed envelope),
``no_zero_dte_symbols`` (those symbols answer ``no_zero_dte``), ``fail_methods`` (those
methods raise ``ServiceError("upstream_unavailable")``), ``source``/``controllable``.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from zdte_tui.service.protocol import (
    CONTROL_ACTIONS,
    HEATMAP_BARS,
    HEATMAP_METRICS,
    HEATMAP_MODES,
    HEDGE_SIDES,
    LEADERBOARD_METRICS,
    SERIES_BARS,
    ServiceError,
)

ET = ZoneInfo("America/New_York")
SESSION_MINUTES = 390
BASES = {"SPY": (590.0, 1.0), "QQQ": (520.0, 1.0), "IWM": (215.0, 1.0), "SPX": (5900.0, 5.0)}
STRIKES_EACH_SIDE = 30


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _SymbolSession:
    """Pre-generated 1-minute session for one symbol (arrays indexed [minute] or [minute, strike])."""

    def __init__(self, symbol: str, seed: int) -> None:
        base, step = BASES.get(symbol, (100.0, 1.0))
        rng = np.random.default_rng(seed + sum(map(ord, symbol)))
        n = SESSION_MINUTES
        self.symbol = symbol
        self.step = step
        self.strikes = base + step * np.arange(-STRIKES_EACH_SIDE, STRIKES_EACH_SIDE + 1, dtype=np.float64)
        self.magnet = base
        self.call_wall = base + 5 * step
        self.put_wall = base - 6 * step
        self.gamma_flip = base - 2.5 * step
        self.max_pain = base - step
        self.prev_close = base * (1 - 0.004)
        # Spot: mean-reverting walk toward the magnet (a pin day).
        spot = np.empty(n)
        spot[0] = base * (1 - 0.003)
        shocks = rng.normal(0.0, base * 0.00045, n)
        for t in range(1, n):
            spot[t] = spot[t - 1] + 0.02 * (self.magnet - spot[t - 1]) + shocks[t]
        self.spot = np.round(spot, 2)
        t_frac = (np.arange(n) / n)[:, None]
        k = self.strikes[None, :]
        s = self.spot[:, None]
        width = 6 * step
        near = np.exp(-((k - s) / width) ** 2)
        walls = (1.6 * np.exp(-((k - self.call_wall) / (1.5 * step)) ** 2)
                 - 1.2 * np.exp(-((k - self.put_wall) / (1.5 * step)) ** 2))
        sign = np.where(k >= self.gamma_flip, 1.0, -0.8)
        noise = rng.normal(0, 0.05, (n, len(self.strikes)))
        scale = 1e8 * (base / 590.0)
        self.gex = scale * (sign * near * (0.6 + t_frac) + walls * (0.5 + t_frac) + noise)
        self.dex = scale * 25 * (np.tanh((s - k) / width) * (0.5 + near) + noise)
        self.vex = scale * 0.4 * ((k - s) / width * near + noise)
        self.chex = -scale * 0.3 * (near * (0.2 + 2 * t_frac ** 2) + noise)
        self.oi = np.round(4000 * (0.5 + near + np.abs(walls)) * (1 + t_frac) + 200 * np.abs(noise) * 10)
        clusters = rng.normal(0, 1, (n, len(self.strikes))) * (rng.random((n, len(self.strikes))) < 0.08)
        self.signed_flow = scale * 0.05 * clusters * (0.5 + near)
        self.hedge_call_bar = scale * 0.02 * (rng.normal(0.25, 1.0, n))
        self.hedge_put_bar = scale * 0.02 * (rng.normal(-0.15, 1.0, n))
        self.net_gex = self.gex.sum(axis=1)
        pin = 40 + 50 * (np.arange(n) / n) - 8 * np.abs(self.spot - self.magnet) / step
        self.pin_score = np.clip(np.round(pin), 0, 100)
        self.atm_iv = 0.16 - 0.03 * (np.arange(n) / n) + rng.normal(0, 0.002, n)
        # Scored signals: about one every 4 minutes.
        count = 100
        minutes = np.sort(rng.integers(0, n, count))
        self.signals = []
        for i, minute in enumerate(minutes.tolist()):
            right = "C" if rng.random() < 0.55 else "P"
            strike_value = float(self.spot[minute] + step * rng.integers(-6, 7))
            strike_value = float(np.round(strike_value / step) * step)
            price_value = float(np.round(max(0.05, rng.gamma(2.0, 0.6) * step), 2))
            size = int(rng.choice([50, 100, 250, 500, 1000, 2500]))
            premium = round(price_value * size * 100, 2)
            side = str(rng.choice(["buy", "sell", "mid"], p=[0.5, 0.35, 0.15]))
            aggressor = {"buy": str(rng.choice(["above_ask", "at_ask"])),
                         "sell": str(rng.choice(["at_bid", "below_bid"])),
                         "mid": "mid"}[side]
            bias = str(rng.choice(["opening_bias", "closing_bias", "unknown"], p=[0.55, 0.25, 0.2]))
            if side == "mid" or bias == "closing_bias":
                intent = "neutral"
            else:
                bullish = (right == "C") == (side == "buy")
                intent = "bullish" if bullish else "bearish"
            structure = "sweep" if rng.random() < 0.45 else "block"
            parts = {"premium": int(min(25, premium / 60000)), "size_vs_oi": int(rng.integers(0, 20)),
                     "aggressor": {"above_ask": 15, "at_ask": 11, "below_bid": 15, "at_bid": 11, "mid": 2}[aggressor],
                     "sweep": 12 if structure == "sweep" else 0, "opening_bias": 9 if bias == "opening_bias" else 0,
                     "tenor": 12}
            score = int(min(100, sum(parts.values())))
            tags = [structure, "0dte"]
            if bias == "opening_bias":
                tags.append("opening")
            elif bias == "closing_bias":
                tags.append("closing")
            if premium >= 1_000_000:
                tags.append("whale")
            self.signals.append({
                "minute": minute, "expiry": None, "strike": strike_value, "right": right, "side": side,
                "price": price_value, "size": size, "premium": premium, "dte": 0, "structure": structure,
                "aggressor": aggressor, "open_close_bias": bias, "open_close_confidence": 0.43,
                "contract_net_oi_delta": int(rng.integers(-2000, 4000)), "intent": intent, "score": score,
                "conviction": "high" if score >= 70 else ("medium" if score >= 45 else "low"), "tags": tags,
                "score_breakdown": parts, "seq": i,
            })
        # the net-premium tide of these prints: bought (+) minus sold (-) premium per minute, calls / puts
        self.net_call_premium_bar = np.zeros(n)
        self.net_put_premium_bar = np.zeros(n)
        for sig in self.signals:
            signed = {"buy": 1.0, "sell": -1.0, "mid": 0.0}[sig["side"]] * sig["premium"]
            (self.net_call_premium_bar if sig["right"] == "C" else self.net_put_premium_bar)[sig["minute"]] += signed


class FakeFlowService:
    """Deterministic FlowServiceAPI on generated data; the clock moves only via :meth:`control`."""

    def __init__(self, *, seed: int = 7, symbols: tuple[str, ...] = ("SPY", "QQQ", "IWM", "SPX"),
                 session_date: str = "2026-06-05", at: str = "14:45", source: str = "sim",
                 controllable: bool = True, session_closed: bool = False,
                 no_zero_dte_symbols: tuple[str, ...] = ("AAPL",), fail_methods: tuple[str, ...] = (),
                 close_hhmm: str = "16:00", ingest_lag_polls: int = 0) -> None:
        self.seed = seed
        self.symbols = list(symbols)
        self.session_date = session_date
        self.source = source
        self.controllable = controllable
        self.session_closed = session_closed
        self.no_zero_dte_symbols = set(no_zero_dte_symbols)
        self.fail_methods = set(fail_methods)
        self.fail_error: ServiceError | None = None  # when set, every call raises it (outage, bad key)
        self.ingest_lag_polls = ingest_lag_polls  # status() calls before data catches up with a seek
        self._lag_left = 0
        self.clock_minute: int | None = None  # the playback clock while data lags behind it
        self.paused = False
        self.speed = 1.0
        self.calls: list[tuple[str, tuple]] = []
        self._lock = threading.Lock()
        day = datetime.fromisoformat(session_date).date()
        self._open = datetime(day.year, day.month, day.day, 9, 30, tzinfo=ET)
        self._sessions = {s: _SymbolSession(s, seed) for s in self.symbols}
        self.minute = self._minute_of(at)
        close_h, close_m = (int(x) for x in close_hhmm.split(":"))
        self.session_minutes = (close_h - 9) * 60 + close_m - 30  # 390, or 210 on a 13:00 half day

    # ------------------------------------------------------------ helpers
    def _minute_of(self, hhmm: str) -> int:
        hour, minute = (int(x) for x in hhmm.split(":")[:2])
        return int(np.clip((hour - 9) * 60 + minute - 30, 0, SESSION_MINUTES - 1))

    def _t(self, minute: int) -> datetime:
        return self._open + timedelta(minutes=int(minute))

    def _record(self, name: str, *args: Any) -> None:
        with self._lock:
            self.calls.append((name, args))
        if self.fail_error is not None:
            raise self.fail_error
        if name in self.fail_methods:
            raise ServiceError("upstream_unavailable", f"{name}: simulated upstream outage", status=503)

    def _session(self, symbol: str) -> _SymbolSession:
        symbol = symbol.strip().upper()
        if symbol not in self._sessions:
            raise ServiceError("symbol_not_tracked", f"{symbol} is not tracked by this service", status=404)
        return self._sessions[symbol]

    def _window(self, minutes: int) -> range:
        minutes = int(np.clip(minutes, 1, SESSION_MINUTES))
        end = self.minute + 1
        return range(max(0, end - minutes), end)

    def _envelope(self) -> dict[str, Any]:
        now = _iso(self._t(self.minute))
        return {"endpoint_version": "zdte-1", "data_as_of": {"node": "fake", "flow_feed": now,
                                                              "equity_options_feed": now,
                                                              "oi_feed": f"{self.session_date}T00:00:00Z"}}

    def _closed_or_missing(self, symbol: str) -> dict[str, Any] | None:
        symbol = symbol.strip().upper()
        if symbol in self.no_zero_dte_symbols:
            return {"symbol": symbol, "as_of": _iso(self._t(self.minute)), "no_zero_dte": True,
                    "next_zero_dte_expiry": "2026-06-12",
                    "message": f"{symbol} has no same-day expiry today; next 0DTE expiry is 2026-06-12.",
                    **self._envelope()}
        if self.session_closed:
            return {"symbol": symbol, "as_of": _iso(self._t(self.minute)), "session_closed": True,
                    "market_open": False, "last_session": self.session_date, "next_zero_dte_expiry": "2026-06-08",
                    "message": "The 0DTE session is closed. Next 0DTE expiry: 2026-06-08.", **self._envelope()}
        return None

    # ------------------------------------------------------------ API
    def snapshot(self, symbol: str, expiry: str | None = None) -> dict[str, Any]:
        self._record("snapshot", symbol, expiry)
        degraded = self._closed_or_missing(symbol)
        if degraded is not None:
            return degraded
        s = self._session(symbol)
        m = self.minute
        spot = float(s.spot[m])
        minutes_left = max(0, self.session_minutes - m)
        pin_value = float(np.clip(s.pin_score[m] / 100 * 0.85, 0, 0.95))
        flip_dist = abs(spot - s.gamma_flip)
        regime = "positive_gamma" if spot >= s.gamma_flip else "negative_gamma"
        severity = "alert" if (minutes_left <= 30 and pin_value > 0.5) or flip_dist < 0.2 * s.step else (
            "watch" if pin_value > 0.45 else "info")
        angle = "pin_trade" if pin_value > 0.45 else ("breakout_risk" if regime == "negative_gamma" else "range_trade")
        settled = float(s.net_gex[0])
        live = float(s.net_gex[m])
        shift = (live - settled) / abs(settled) if settled else None
        label = ("regime_flip" if np.sign(live) != np.sign(settled) else
                 "neutral" if shift is not None and abs(shift) < 0.05 else
                 "amplifying" if abs(live) > abs(settled) else "dampening")
        sigma = spot * float(s.atm_iv[m]) * np.sqrt(max(minutes_left, 1) / (252 * 390))
        em_low, em_high = round(spot - sigma, 2), round(spot + sigma, 2)
        strikes_hint = {"short_call": s.magnet + s.step, "long_call": s.magnet + 3 * s.step,
                        "short_put": s.magnet - s.step, "long_put": s.magnet - 3 * s.step}
        return {
            "symbol": s.symbol, "underlying_price": spot, "prev_close": s.prev_close,
            "expiration": self.session_date, "as_of": _iso(self._t(m)), "market_open": True,
            "time_to_close_hours": round(minutes_left / 60, 3), "time_to_close_pct": round(minutes_left / 390, 3),
            "regime": {"label": regime,
                       "description": "Dealers long gamma: moves get faded." if regime == "positive_gamma"
                       else "Dealers short gamma: moves get chased.", "gamma_flip": s.gamma_flip,
                       "spot_vs_flip": "above" if spot >= s.gamma_flip else "below",
                       "spot_to_flip_pct": round((spot - s.gamma_flip) / spot * 100, 3),
                       "distance_to_flip_dollars": round(spot - s.gamma_flip, 2)},
            "exposures": {"net_gex": live, "net_dex": float(s.dex[m].sum()), "net_vex": float(s.vex[m].sum()),
                          "net_chex": float(s.chex[m].sum())},
            "expected_move": {"upper_bound": em_high, "lower_bound": em_low, "atm_iv": float(s.atm_iv[m])},
            "pin_risk": {"magnet_strike": s.magnet, "pin_score": int(s.pin_score[m]), "max_pain": s.max_pain,
                         "distance_to_magnet_pct": round((spot - s.magnet) / spot * 100, 3)},
            "gex_profile": self._gex_profile(s, spot, live),
            "levels": {"call_wall": s.call_wall, "put_wall": s.put_wall, "max_positive_gamma": s.call_wall,
                       "max_negative_gamma": s.put_wall, "distance_to_magnet_dollars": round(spot - s.magnet, 2)},
            "flow_direction": {"label": label, "settled_net_gex": settled, "live_net_gex": live,
                               "flow_gex_adjustment": live - settled, "flow_gex_pct_shift": shift,
                               "description": f"Flow is {label.replace('_', ' ')} the settled book."},
            "headline": {
                "narrative": (f"{s.symbol} pinned near {s.magnet:g} magnet; "
                              + ("+gamma dampens moves into the close." if regime == "positive_gamma"
                                 else "-gamma below the flip can break the pin.")
                              if angle == "pin_trade"
                              else f"{s.symbol} ranging between {s.put_wall:g} and {s.call_wall:g}."
                              if angle == "range_trade"
                              else f"{s.symbol} below the {s.gamma_flip:g} flip: breakout risk."),
                "trade_angle": angle, "severity": severity},
            "setup": {
                "primary": {"name": "iron_fly" if angle == "pin_trade" else "iron_condor",
                            "display_name": ("Iron fly at the magnet" if angle == "pin_trade"
                                             else "Iron condor inside the walls"),
                            "confidence": round(0.45 + pin_value / 2, 2),
                            "conditions_met": ["positive_gamma", "pin_score_high"], "conditions_failed": [],
                            "strikes_hint": strikes_hint},
                "alternatives": [{"name": "credit_spread", "display_name": "Put credit spread above the put wall",
                                  "confidence": 0.41}],
                "anti_setups": [{"name": "long_straddle", "display_name": "Long straddle",
                                 "reason": "positive gamma and a locked pin crush realized vol"}]},
            "probabilities": {
                "pin": {"value": round(pin_value, 3), "strike": s.magnet, "calibration_method": "isotonic"},
                "range_1sigma": {"value": 0.71, "low": em_low, "high": em_high, "calibration_method": "isotonic"},
                "range_2sigma": {"value": 0.95, "low": round(spot - 2 * sigma, 2), "high": round(spot + 2 * sigma, 2),
                                 "calibration_method": "isotonic"}},
            "strikes": self._strike_rows(s, m),
            **self._envelope(),
        }

    @staticmethod
    def _gex_profile(s, spot: float, live: float) -> dict[str, Any]:
        """A smooth seeded curve through zero at the flip (shape only; the real one is views.gex_profile_block)."""
        spots = spot * (1 + np.linspace(-0.05, 0.05, 41))
        width = 0.02 * spot
        net = abs(live) * np.tanh((spots - s.gamma_flip) / width) * np.exp(-((spots - spot) / (2.5 * width)) ** 2)
        return {"spots": [round(float(x), 4) for x in spots], "net_gex": [round(float(y), 0) for y in net],
                "spot": spot, "gamma_flip": s.gamma_flip, "call_wall": s.call_wall, "put_wall": s.put_wall,
                "grid_pct": 5.0, "units": "USD per 1% move"}

    @staticmethod
    def _strike_rows(s: _SymbolSession, m: int) -> list[dict[str, Any]]:
        """Per-strike call/put GEX, live (minute m) and settled (the open), in the service's row shape."""
        rows = []
        for j, k in enumerate(s.strikes.tolist()):
            live, settled = float(s.gex[m, j]), float(s.gex[0, j])
            rows.append({"strike": k, "call_gex": round(max(live, 0.0) + 0.2 * abs(live)),
                         "put_gex": round(min(live, 0.0) - 0.2 * abs(live)),
                         "call_gex_settled": round(max(settled, 0.0) + 0.2 * abs(settled)),
                         "put_gex_settled": round(min(settled, 0.0) - 0.2 * abs(settled)),
                         "call_oi": int(s.oi[m, j]), "put_oi": int(s.oi[m, j] * 0.8)})
        return rows

    def series(self, symbol: str, bar: str = "30s", minutes: int = 60) -> dict[str, Any]:
        self._record("series", symbol, bar, minutes)
        if bar not in SERIES_BARS:
            raise ServiceError("invalid_bar", f"bar must be one of {', '.join(SERIES_BARS)}")
        s = self._session(symbol)
        bars = []
        if self._closed_or_missing(symbol) is None:
            step = {"30s": 1, "1m": 1, "5m": 5, "15m": 15}[bar]
            call_cum = np.cumsum(s.hedge_call_bar)
            put_cum = np.cumsum(s.hedge_put_bar)
            tide_calls, tide_puts = np.cumsum(s.net_call_premium_bar), np.cumsum(s.net_put_premium_bar)
            for m in self._window(minutes):
                if (m + 1) % step and m != self.minute:
                    continue
                bars.append({"t": _iso(self._t(m)), "spot": float(s.spot[m]), "net_gex": float(s.net_gex[m]),
                             "net_dex": float(s.dex[m].sum()), "gamma_flip": s.gamma_flip, "call_wall": s.call_wall,
                             "put_wall": s.put_wall, "magnet": s.magnet, "pin_score": int(s.pin_score[m]),
                             "pin_probability_pct": round(float(s.pin_score[m]) * 0.85, 1),
                             "regime": "positive_gamma" if s.spot[m] >= s.gamma_flip else "negative_gamma",
                             "atm_iv": float(s.atm_iv[m]), "charm_dollars_per_hour": float(s.chex[m].sum()),
                             "hedge_flow_call_cumulative": float(call_cum[m]),
                             "hedge_flow_put_cumulative": float(put_cum[m]),
                             "hedge_flow_cumulative_all": float(call_cum[m] + put_cum[m]),
                             "net_call_premium_cumulative": float(tide_calls[m]),
                             "net_put_premium_cumulative": float(tide_puts[m])})
        return {"symbol": s.symbol, "expiration": self.session_date, "as_of": _iso(self._t(self.minute)),
                "bar_size": bar, "bars": bars, **self._envelope()}

    def hedge_flow(self, symbol: str, side: str = "all", bar: str = "30s", minutes: int = 60) -> dict[str, Any]:
        self._record("hedge_flow", symbol, side, bar, minutes)
        if side not in HEDGE_SIDES:
            raise ServiceError("invalid_side", "side must be all, calls or puts")
        series = self.series(symbol, bar, minutes)
        s = self._session(symbol)
        per_bar = {"calls": s.hedge_call_bar, "puts": s.hedge_put_bar, "all": s.hedge_call_bar + s.hedge_put_bar}[side]
        key = {"calls": "hedge_flow_call_cumulative", "puts": "hedge_flow_put_cumulative",
               "all": "hedge_flow_cumulative_all"}[side]
        bars = []
        for b in series["bars"]:
            minute = int((datetime.fromisoformat(b["t"].replace("Z", "+00:00")) - self._open).total_seconds() // 60)
            bars.append({"t": b["t"], "bar": float(per_bar[minute]), "cumulative": b[key]})
        return {"symbol": s.symbol, "expiration": self.session_date, "as_of": series["as_of"], "side": side,
                "bar_size": bar, "bars": bars, **self._envelope()}

    def heatmap(self, symbol: str, metric: str = "gex", mode: str = "raw", bar: str = "1m",
                minutes: int = 60) -> dict[str, Any]:
        self._record("heatmap", symbol, metric, mode, bar, minutes)
        if bar not in HEATMAP_BARS:
            raise ServiceError("bar_unavailable", "only 1m bars are available for the heatmap")
        if metric not in HEATMAP_METRICS:
            raise ServiceError("invalid_metric", f"metric must be one of {', '.join(HEATMAP_METRICS)}")
        if mode not in HEATMAP_MODES:
            raise ServiceError("invalid_mode", "mode must be raw or delta")
        s = self._session(symbol)
        base = {"symbol": s.symbol, "underlying_price": float(s.spot[self.minute]), "expiration": self.session_date,
                "metric": metric, "mode": mode, "bar_size": bar, "as_of": _iso(self._t(self.minute)),
                "tier_used": "raw", "gap_intervals": [], **self._envelope()}
        if self._closed_or_missing(symbol) is not None:
            return {**base, "strikes_grid": [], "bars": []}
        window = list(self._window(minutes))
        grid = getattr(s, metric)[window]
        if mode == "delta" and metric != "signed_flow":
            grid = np.vstack([grid[:1], np.diff(grid, axis=0)])
        bars = [{"t": _iso(self._t(m)), "spot": float(s.spot[m]), "values": [float(v) for v in row]}
                for m, row in zip(window, grid)]
        return {**base, "strikes_grid": [float(k) for k in s.strikes], "bars": bars}

    def strike_flow(self, symbol: str, bar: str = "1m", minutes: int = 60) -> dict[str, Any]:
        self._record("strike_flow", symbol, bar, minutes)
        s = self._session(symbol)
        window = list(self._window(minutes))
        bars = [{"t": _iso(self._t(m)), "spot": float(s.spot[m]),
                 "signed_delta_dollars": [float(v) for v in s.signed_flow[m]],
                 "signed_gamma_dollars": [float(v) * 0.01 for v in s.signed_flow[m]],
                 "contracts": [int(abs(v) / 1e4) for v in s.signed_flow[m]]} for m in window]
        return {"symbol": s.symbol, "underlying_price": float(s.spot[self.minute]), "expiration": self.session_date,
                "bar_size": bar, "as_of": _iso(self._t(self.minute)), "tier_used": "raw",
                "strikes_grid": [float(k) for k in s.strikes], "bars": bars, "gap_intervals": [], **self._envelope()}

    def leaderboard(self, metric: str = "heat", n: int = 10) -> dict[str, Any]:
        self._record("leaderboard", metric, n)
        if metric not in LEADERBOARD_METRICS:
            raise ServiceError("invalid_metric", f"metric must be one of {', '.join(LEADERBOARD_METRICS)}")
        m = self.minute
        values = {}
        for symbol, s in self._sessions.items():
            call_cum, put_cum = s.hedge_call_bar[: m + 1].sum(), s.hedge_put_bar[: m + 1].sum()
            values[symbol] = {
                "heat": float((call_cum + put_cum) / abs(s.net_gex[m])) if s.net_gex[m] else 0.0,
                "pin_risk": float(s.pin_score[m]),
                "abs_flow": float(np.abs(s.hedge_call_bar[max(0, m - 9): m + 1]).sum()
                                  + np.abs(s.hedge_put_bar[max(0, m - 9): m + 1]).sum()),
                "charm_intensity": float(abs(s.chex[m].sum())),
            }[metric]
        ranked = sorted(values.items(), key=lambda kv: -abs(kv[1]))[: max(1, min(100, n))]
        return {"metric": metric, "n": n, "as_of": _iso(self._t(m)), "market_open": not self.session_closed,
                "entries": [{"rank": i + 1, "symbol": sym, "value": val} for i, (sym, val) in enumerate(ranked)]}

    def signals(self, symbol: str, min_score: float = 0, intent: str | None = None, structure: str | None = None,
                window_minutes: int = 240, limit: int = 50, expiry: str | None = None) -> dict[str, Any]:
        self._record("signals", symbol, min_score, intent, structure, window_minutes, limit)
        s = self._session(symbol)
        out = []
        if self._closed_or_missing(symbol) is None:
            first = self.minute - window_minutes
            for sig in s.signals:
                if not (first < sig["minute"] <= self.minute) or sig["score"] < min_score:
                    continue
                if intent and sig["intent"] != intent or structure and sig["structure"] != structure:
                    continue
                body = {k: v for k, v in sig.items() if k not in ("minute", "seq")}
                body["ts"] = _iso(self._t(sig["minute"]) + timedelta(seconds=(sig["seq"] * 7) % 60))
                body["expiry"] = self.session_date
                out.append(body)
        out.sort(key=lambda d: (-d["score"], d["ts"]))
        out = out[: max(1, min(500, limit))]
        return {"symbol": s.symbol, "as_of": _iso(self._t(self.minute)), "window_minutes": window_minutes,
                "expiry": expiry, "underlying_price": float(s.spot[self.minute]),
                "chain": {"call_wall": s.call_wall, "put_wall": s.put_wall, "max_pain": s.max_pain,
                          "gamma_flip": s.gamma_flip},
                "count": len(out), "signals": out, **self._envelope()}

    def status(self) -> dict[str, Any]:
        self._record("status")
        if self.clock_minute is not None:
            self._lag_left -= 1
            if self._lag_left < 0:
                self.minute, self.clock_minute = self.clock_minute, None
        now = self._t(self.minute)
        clock_now = self._t(self.minute if self.clock_minute is None else self.clock_minute)
        return {
            "source": self.source,
            "label": f"Simulator (seed {self.seed})" if self.source == "sim" else "Replay: fake.parquet",
            "simulated": self.source == "sim", "symbols": list(self.symbols), "session_date": self.session_date,
            "session_time": _iso(now),
            "clock": {"paused": self.paused, "speed": self.speed, "controllable": self.controllable,
                      "now": _iso(clock_now), "at_end": self.minute >= self.session_minutes - 1},
            "data_as_of": {"node": "fake", "flow_feed": _iso(now - timedelta(seconds=3)),
                           "equity_options_feed": _iso(now - timedelta(seconds=1))},
            "errors": [], "malformed_count": 0, "gaps": [],
        }

    def control(self, action: str, value: float | str | None = None) -> dict[str, Any]:
        self._record("control", action, value)
        if not self.controllable:
            raise ServiceError("not_controllable", "this source is live and cannot be controlled", status=409)
        if action not in CONTROL_ACTIONS:
            raise ServiceError("invalid_action", f"action must be one of {', '.join(CONTROL_ACTIONS)}")
        if action == "pause":
            self.paused = True
        elif action == "resume":
            self.paused = False
        elif action == "toggle":
            self.paused = not self.paused
        elif action == "step":
            seconds = float(value) if value is not None else 60.0
            self.minute = int(np.clip(self.minute + round(seconds / 60), 0, SESSION_MINUTES - 1))
        elif action == "seek":
            text = str(value)
            if "T" in text:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(ET)
                text = parsed.strftime("%H:%M")
            try:
                target = self._minute_of(text)
            except ValueError as exc:
                raise ServiceError("invalid_seek", f"cannot seek to {value!r}") from exc
            if self.ingest_lag_polls:
                self.clock_minute, self._lag_left = target, self.ingest_lag_polls
            else:
                self.minute = target
        elif action == "speed":
            self.speed = float(value) if value is not None else 1.0
        return self.status()
