"""A deterministic in-memory :class:`~zdte_tui.service.protocol.FlowServiceAPI` for the HTTP API tests.

It returns SDK-shaped dicts (the ``flashalpha`` ``types.py`` shapes) built from a fixed-seed
random walk per symbol, and validates every parameter exactly as the FlashAlpha docs say,
raising :class:`ServiceError` with the documented codes. The session is frozen at
``2026-06-05 14:45 ET`` (18:45:00Z) unless :meth:`control` moves the clock.

Data model (per symbol): a spot random walk sampled every 30 s from the 09:30 ET open, a
fixed strike grid around the opening spot, and per-strike exposures that are smooth
functions of (strike - spot) and time, so heatmap bars change from minute to minute.
"""

from __future__ import annotations

import math
import re
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from zdte_tui.service.protocol import (
    CONTROL_ACTIONS,
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

SESSION_DATE = date(2026, 6, 5)
OPEN_UTC = datetime(2026, 6, 5, 13, 30, tzinfo=UTC)
CLOSE_UTC = datetime(2026, 6, 5, 20, 0, tzinfo=UTC)
NOW_UTC = datetime(2026, 6, 5, 18, 45, tzinfo=UTC)
SAMPLE_SECONDS = 30
BAR_SECONDS = {"30s": 30, "1m": 60, "5m": 300, "15m": 900}
_EXPIRY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HHMM_RE = re.compile(r"^(\d{1,2}):(\d{2})$")

# symbol -> (previous close, strike step, number of strikes each side of the opening spot)
UNIVERSE: dict[str, tuple[float, float, int]] = {
    "SPY": (589.10, 1.0, 15),
    "QQQ": (512.30, 1.0, 15),
    "IWM": (221.50, 1.0, 10),
    "SPX": (5905.0, 5.0, 20),
}


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clamp(x: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, int(x)))


class _SymbolData:
    """Precomputed 30 s samples for one symbol over the whole session."""

    def __init__(self, symbol: str, seed: int) -> None:
        prev_close, step, half_width = UNIVERSE[symbol]
        rng = np.random.default_rng(seed)
        n_samples = int((CLOSE_UTC - OPEN_UTC).total_seconds() // SAMPLE_SECONDS) + 1
        vol_per_sample = 0.12 / math.sqrt(252 * 780)
        open_spot = prev_close * (1 + 0.002 * rng.standard_normal())
        log_path = np.cumsum(np.concatenate([[0.0], rng.standard_normal(n_samples - 1) * vol_per_sample]))
        self.symbol = symbol
        self.prev_close = prev_close
        self.spot = open_spot * np.exp(log_path)
        self.t = [OPEN_UTC + timedelta(seconds=SAMPLE_SECONDS * i) for i in range(n_samples)]
        center = round(open_spot / step) * step
        self.strikes = center + step * np.arange(-half_width, half_width + 1)
        self.step = step
        # per-strike open interest: a hump around the opening spot plus a round-number magnet
        self.oi = (4000 * np.exp(-((self.strikes - center) / (6 * step)) ** 2)
                   + 2500 * (np.mod(self.strikes, 5 * step) == 0)).round()
        self.flow = rng.standard_normal((n_samples, len(self.strikes))) * 2.0e5  # signed delta-$ per sample
        self.contracts = rng.integers(0, 400, size=(n_samples, len(self.strikes)))

    def metric_matrix(self, metric: str, idx: np.ndarray) -> np.ndarray:
        """values[bar, strike] for the samples ``idx`` (dollars, contracts for ``oi``)."""
        spot = self.spot[idx][:, None]
        x = (self.strikes[None, :] - spot) / (3 * self.step)
        hump = np.exp(-x ** 2)
        time_weight = 1.0 + idx[:, None] / len(self.t)
        if metric == "gex":
            return np.round(self.oi * 3.0e4 * hump * time_weight * np.sign(self.strikes - spot + 0.5 * self.step), 2)
        if metric == "dex":
            return np.round(self.oi * 1.0e5 * np.tanh(-x), 2)
        if metric == "vex":
            return np.round(self.oi * 1.5e3 * x * hump * time_weight, 2)
        if metric == "chex":
            return np.round(-self.oi * 8.0e2 * x * hump * time_weight ** 2, 2)
        if metric == "oi":
            return np.round(self.oi * time_weight, 0)
        return np.round(self.flow[idx], 2)  # signed_flow


class FakeFlowService:
    """Deterministic FlowServiceAPI with documented validation; thread-safe."""

    def __init__(self, seed: int = 7, *, controllable: bool = True) -> None:
        self._data = {sym: _SymbolData(sym, seed + i) for i, sym in enumerate(sorted(UNIVERSE))}
        self._lock = threading.Lock()
        self._now = NOW_UTC
        self._paused = False
        self._speed = 1.0
        self._controllable = controllable
        self.calls: list[str] = []

    # ----------------------------------------------------------------- helpers
    def _sym(self, symbol: str) -> _SymbolData:
        key = str(symbol).strip().upper()
        if not key:
            raise ServiceError("invalid_symbol", "symbol must not be empty")
        data = self._data.get(key)
        if data is None:
            raise ServiceError("unknown_symbol", f"unknown symbol {key!r}; serving {', '.join(sorted(self._data))}",
                               status=404)
        return data

    def _now_index(self) -> int:
        return int((self._now - OPEN_UTC).total_seconds() // SAMPLE_SECONDS)

    def _window(self, bar: str, minutes: int) -> np.ndarray:
        """Sample indices in the last ``minutes``, downsampled last-in-bucket to ``bar``."""
        end = self._now_index()
        start = max(0, end - _clamp(minutes, 1, 390) * 60 // SAMPLE_SECONDS + 1)
        idx = np.arange(start, end + 1)
        per_bucket = BAR_SECONDS[bar] // SAMPLE_SECONDS
        bucket = idx // per_bucket
        keep = np.append(bucket[1:] != bucket[:-1], True)
        return idx[keep]

    @staticmethod
    def _check_expiry(expiry: str | None) -> date | None:
        if expiry is None:
            return None
        if not isinstance(expiry, str) or not _EXPIRY_RE.match(expiry):
            raise ServiceError("invalid_expiry", f"expiry must be yyyy-MM-dd, got {expiry!r}")
        try:
            return date.fromisoformat(expiry)
        except ValueError:
            raise ServiceError("invalid_expiry", f"expiry is not a calendar date: {expiry!r}") from None

    @staticmethod
    def _check_series_bar(bar: str) -> None:
        if bar not in SERIES_BARS:
            raise ServiceError("invalid_bar", f"bar must be one of {', '.join(SERIES_BARS)}; got {bar!r}")

    @staticmethod
    def _check_heatmap_bar(bar: str) -> None:
        if bar not in HEATMAP_BARS:
            raise ServiceError("bar_unavailable", f"only bar=1m is available; got {bar!r}")

    def _series_bar(self, d: _SymbolData, i: int) -> dict[str, Any]:
        gex = d.metric_matrix("gex", np.array([i]))[0]
        spot = float(d.spot[i])
        cum_calls = float(np.sum(d.flow[: i + 1, d.strikes >= spot]))
        cum_puts = float(np.sum(d.flow[: i + 1, d.strikes < spot]))
        return {
            "t": _iso(d.t[i]),
            "spot": round(spot, 2),
            "net_gex": round(float(gex.sum()), 2),
            "net_dex": round(float(d.metric_matrix("dex", np.array([i]))[0].sum()), 2),
            "gamma_flip": round(spot - 0.5 * d.step, 2),
            "gamma_flip_status": "ok",
            "call_wall": float(d.strikes[int(np.argmax(gex))]),
            "put_wall": float(d.strikes[int(np.argmin(gex))]),
            "magnet": float(d.strikes[int(np.argmax(d.oi))]),
            "pin_score": int(40 + (i * 7) % 50),
            "pin_probability_pct": round(20 + (i * 3) % 60 + 0.5, 1),
            "regime": "positive_gamma" if gex.sum() >= 0 else "negative_gamma",
            "atm_iv": round(0.12 + 0.01 * math.sin(i / 40), 4),
            "charm_dollars_per_hour": round(-3.5e6 * (1 + i / 780), 2),
            "hedge_flow_call_cumulative": round(cum_calls, 2),
            "hedge_flow_put_cumulative": round(cum_puts, 2),
            "hedge_flow_cumulative_all": round(cum_calls + cum_puts, 2),
        }

    # ----------------------------------------------------------------- FlowServiceAPI
    def snapshot(self, symbol: str, expiry: str | None = None) -> dict[str, Any]:
        """Live 0DTE snapshot; another ``expiry`` than the session's is ``404 expiry_unavailable``."""
        self.calls.append("snapshot")
        exp = self._check_expiry(expiry)
        d = self._sym(symbol)
        if exp is not None and exp != SESSION_DATE:
            raise ServiceError("expiry_unavailable", f"{d.symbol}: only the {SESSION_DATE} expiry is tracked "
                               f"(asked for {exp.isoformat()})", status=404)
        i = self._now_index()
        bar = self._series_bar(d, i)
        gex = d.metric_matrix("gex", np.array([i]))[0]
        spot = bar["spot"]
        settled = round(float(d.metric_matrix("gex", np.array([0]))[0].sum()), 2)
        shift = None if settled == 0 else round(100 * (bar["net_gex"] - settled) / abs(settled), 2)
        hours_left = (CLOSE_UTC - self._now).total_seconds() / 3600
        return {
            "symbol": d.symbol,
            "underlying_price": spot,
            "previous_close": d.prev_close,
            "expiration": SESSION_DATE.isoformat(),
            "as_of": _iso(self._now),
            "market_open": True,
            "time_to_close_hours": round(hours_left, 4),
            "time_to_close_pct": round(hours_left / 6.5, 4),
            "regime": {"label": bar["regime"], "gamma_flip": bar["gamma_flip"],
                       "spot_vs_flip": "above" if spot >= bar["gamma_flip"] else "below",
                       "spot_to_flip_pct": round(100 * (spot - bar["gamma_flip"]) / spot, 4)},
            "exposures": {"net_gex": bar["net_gex"], "net_dex": bar["net_dex"],
                          "net_vex": round(float(d.metric_matrix("vex", np.array([i]))[0].sum()), 2),
                          "net_chex": round(float(d.metric_matrix("chex", np.array([i]))[0].sum()), 2)},
            "pin_risk": {"magnet_strike": bar["magnet"], "pin_score": bar["pin_score"],
                         "max_pain": bar["magnet"]},
            "levels": {"call_wall": bar["call_wall"], "put_wall": bar["put_wall"]},
            "flow_direction": {"label": "amplifying" if (shift or 0) > 5 else "neutral",
                               "settled_net_gex": settled, "live_net_gex": bar["net_gex"],
                               "flow_gex_adjustment": round(bar["net_gex"] - settled, 2),
                               "flow_gex_pct_shift": shift},
            "headline": {"narrative": f"{d.symbol} pinned near {bar['magnet']:g}", "trade_angle": "pin_trade",
                         "severity": "watch"},
            "setup": {"primary": {"name": "iron_fly", "display_name": "Iron fly", "confidence": "medium",
                                  "conditions_met": ["positive_gamma"], "conditions_failed": []},
                      "alternatives": [], "anti_setups": []},
            "probabilities": {"pin": {"value": round(bar["pin_probability_pct"] / 100, 4),
                                      "calibration_method": "fixed"},
                              "range_1sigma": {"value": 0.68, "calibration_method": "fixed"},
                              "range_2sigma": {"value": 0.95, "calibration_method": "fixed"}},
            "strikes": [{"strike": float(k), "net_gex": float(g), "call_oi": int(o) // 2, "put_oi": int(o) // 2}
                        for k, g, o in zip(d.strikes, gex, d.oi)],
        }

    def series(self, symbol: str, bar: str = "30s", minutes: int = 60) -> dict[str, Any]:
        self.calls.append("series")
        self._check_series_bar(bar)
        d = self._sym(symbol)
        return {"symbol": d.symbol, "expiration": SESSION_DATE.isoformat(), "as_of": _iso(self._now),
                "bar_size": bar, "bars": [self._series_bar(d, int(i)) for i in self._window(bar, minutes)]}

    def hedge_flow(self, symbol: str, side: str = "all", bar: str = "30s", minutes: int = 60) -> dict[str, Any]:
        self.calls.append("hedge_flow")
        if side not in HEDGE_SIDES:
            raise ServiceError("invalid_side", f"side must be one of {', '.join(HEDGE_SIDES)}; got {side!r}")
        self._check_series_bar(bar)
        d = self._sym(symbol)
        idx = self._window(bar, minutes)
        cols = {"all": slice(None), "calls": slice(len(d.strikes) // 2, None),
                "puts": slice(None, len(d.strikes) // 2)}[side]
        per_sample = d.flow[:, cols].sum(axis=1)
        cumulative = np.cumsum(per_sample)
        bars, prev = [], (cumulative[idx[0] - 1] if idx[0] > 0 else 0.0)
        for i in idx:
            bars.append({"t": _iso(d.t[i]), "bar": round(float(cumulative[i] - prev), 2),
                         "cumulative": round(float(cumulative[i]), 2)})
            prev = cumulative[i]
        return {"symbol": d.symbol, "expiration": SESSION_DATE.isoformat(), "as_of": _iso(self._now),
                "side": side, "bar_size": bar, "bars": bars}

    def heatmap(self, symbol: str, metric: str = "gex", mode: str = "raw", bar: str = "1m",
                minutes: int = 60) -> dict[str, Any]:
        self.calls.append("heatmap")
        self._check_heatmap_bar(bar)
        if metric not in HEATMAP_METRICS:
            raise ServiceError("invalid_metric", f"metric must be one of {', '.join(HEATMAP_METRICS)}; got {metric!r}")
        if mode not in HEATMAP_MODES:
            raise ServiceError("invalid_mode", f"mode must be raw or delta; got {mode!r}")
        d = self._sym(symbol)
        idx = self._window(bar, minutes)
        values = d.metric_matrix(metric, idx)
        if mode == "delta" and metric != "signed_flow":
            values = np.vstack([values[:1], np.diff(values, axis=0)]).round(2)
        return {"symbol": d.symbol, "underlying_price": round(float(d.spot[idx[-1]]), 2),
                "expiration": SESSION_DATE.isoformat(), "metric": metric, "mode": mode, "bar_size": bar,
                "as_of": _iso(self._now), "tier_used": "raw", "strikes_grid": [float(k) for k in d.strikes],
                "bars": [{"t": _iso(d.t[i]), "spot": round(float(d.spot[i]), 2), "values": row.tolist()}
                         for i, row in zip(idx, values)],
                "gap_intervals": []}

    def strike_flow(self, symbol: str, bar: str = "1m", minutes: int = 60) -> dict[str, Any]:
        self.calls.append("strike_flow")
        self._check_heatmap_bar(bar)
        d = self._sym(symbol)
        idx = self._window(bar, minutes)
        return {"symbol": d.symbol, "underlying_price": round(float(d.spot[idx[-1]]), 2),
                "expiration": SESSION_DATE.isoformat(), "bar_size": bar, "as_of": _iso(self._now),
                "tier_used": "raw", "strikes_grid": [float(k) for k in d.strikes],
                "bars": [{"t": _iso(d.t[i]), "spot": round(float(d.spot[i]), 2),
                          "signed_delta_dollars": np.round(d.flow[i], 2).tolist(),
                          "signed_gamma_dollars": np.round(d.flow[i] * 0.01, 2).tolist(),
                          "contracts": [int(c) for c in d.contracts[i]]} for i in idx],
                "gap_intervals": []}

    def leaderboard(self, metric: str = "heat", n: int = 10) -> dict[str, Any]:
        self.calls.append("leaderboard")
        if metric not in LEADERBOARD_METRICS:
            raise ServiceError("invalid_metric",
                               f"metric must be one of {', '.join(LEADERBOARD_METRICS)}; got {metric!r}")
        i = self._now_index()
        scores = []
        for sym, d in self._data.items():
            bar = self._series_bar(d, i)
            value = {"heat": bar["hedge_flow_cumulative_all"] / max(abs(bar["net_gex"]), 1.0),
                     "pin_risk": float(bar["pin_score"]),
                     "abs_flow": float(np.abs(d.flow[max(0, i - 9): i + 1]).sum()),
                     "charm_intensity": abs(bar["charm_dollars_per_hour"])}[metric]
            scores.append((sym, round(value, 6)))
        scores.sort(key=lambda kv: (-kv[1], kv[0]))
        n = _clamp(n, 1, 100)
        return {"metric": metric, "n": n, "as_of": _iso(self._now), "market_open": True,
                "entries": [{"rank": r + 1, "symbol": s, "value": v} for r, (s, v) in enumerate(scores[:n])]}

    def signals(self, symbol: str, min_score: float = 0, intent: str | None = None,
                structure: str | None = None, window_minutes: int = 240, limit: int = 50,
                expiry: str | None = None) -> dict[str, Any]:
        self.calls.append("signals")
        if intent is not None and intent not in SIGNAL_INTENTS:
            raise ServiceError("invalid_intent", f"intent must be one of {', '.join(SIGNAL_INTENTS)}; got {intent!r}")
        if structure is not None and structure not in SIGNAL_STRUCTURES:
            raise ServiceError("invalid_structure",
                               f"structure must be one of {', '.join(SIGNAL_STRUCTURES)}; got {structure!r}")
        if not math.isfinite(float(min_score)):
            raise ServiceError("invalid_min_score", f"minScore must be a finite number; got {min_score!r}")
        exp = self._check_expiry(expiry)
        d = self._sym(symbol)
        window = _clamp(window_minutes, 1, 10080)
        limit = _clamp(limit, 1, 500)
        end = self._now_index()
        start = max(0, end - window * 60 // SAMPLE_SECONDS)
        out = []
        for i in range(start, end + 1, 11):  # every 5.5 minutes one block-sized print
            k = int(np.argmax(np.abs(d.flow[i])))
            flow = float(d.flow[i, k])
            strike = float(d.strikes[k])
            right = "C" if strike >= d.spot[i] else "P"
            sig_intent = "bullish" if (flow > 0) == (right == "C") else "bearish"
            score = int(min(100, abs(flow) / 1.0e4))
            sig_structure = "sweep" if i % 2 else "block"
            size = int(d.contracts[i, k]) + 100
            price = round(max(0.05, abs(float(d.spot[i]) - strike) * 0.3 + 0.4), 2)
            premium = round(price * size * 100, 2)
            if score < min_score or (intent and sig_intent != intent) or (structure and sig_structure != structure):
                continue
            if exp is not None and exp != SESSION_DATE:
                continue
            out.append({"ts": _iso(d.t[i]), "expiry": SESSION_DATE.isoformat(), "strike": strike, "right": right,
                        "side": "buy" if flow > 0 else "sell", "price": price, "size": size, "premium": premium,
                        "dte": 0, "structure": sig_structure, "aggressor": "at_ask" if flow > 0 else "at_bid",
                        "open_close_bias": "opening_bias", "open_close_confidence": 0.43,
                        "contract_net_oi_delta": size, "intent": sig_intent, "score": score,
                        "conviction": "high" if score >= 70 else "medium" if score >= 40 else "low",
                        "tags": [sig_structure, "0dte"] + (["whale"] if premium >= 1e6 else []),
                        "score_breakdown": {"premium": score // 2, "size_vs_oi": score - score // 2, "aggressor": 0,
                                            "sweep": 0, "opening_bias": 0, "tenor": 0},
                        "enrichment": {"iv": None, "delta": None, "gamma": None, "iv_vs_atm": None,
                                       "moneyness": "unknown", "estimated_delta_notional": None,
                                       "hypothetical_gex_impact_if_opening": None}})
        out.sort(key=lambda s: (-s["score"], s["ts"]))
        out = out[:limit]
        return {"symbol": d.symbol, "as_of": _iso(self._now), "window_minutes": window,
                "expiry": None if exp is None else exp.isoformat(),
                "underlying_price": round(float(d.spot[end]), 2),
                "chain": {"call_wall": None, "put_wall": None, "max_pain": None, "gamma_flip": None},
                "count": len(out), "signals": out}

    def status(self) -> dict[str, Any]:
        now = _iso(self._now)
        return {"source": "fake", "label": "FAKE (tests)", "simulated": True, "symbols": sorted(self._data),
                "session_date": SESSION_DATE.isoformat(), "session_time": now,
                "clock": {"paused": self._paused, "speed": self._speed, "controllable": self._controllable},
                "data_as_of": {"node": "zdte-fake", "equity_feed": now, "equity_options_feed": now,
                               "index_feed": None, "index_options_feed": None, "futures_feed": None,
                               "futures_options_feed": None, "flow_feed": now, "oi_feed": "2026-06-04T20:00:00Z",
                               "macro_feed": None},
                "errors": [], "malformed_count": 0, "gaps": []}

    def control(self, action: str, value: float | str | None = None) -> dict[str, Any]:
        if action not in CONTROL_ACTIONS:
            raise ServiceError("invalid_action", f"action must be one of {', '.join(CONTROL_ACTIONS)}; got {action!r}")
        if not self._controllable:
            raise ServiceError("not_controllable", "a live source cannot be paused or seeked", status=409)
        with self._lock:
            if action in ("pause", "resume", "toggle"):
                self._paused = {"pause": True, "resume": False, "toggle": not self._paused}[action]
            elif action in ("step", "speed"):
                try:
                    number = float(value)  # type: ignore[arg-type]
                except (TypeError, ValueError):
                    raise ServiceError("invalid_value", f"{action} needs a number; got {value!r}") from None
                if not math.isfinite(number) or number < 0:
                    raise ServiceError("invalid_value", f"{action} needs a finite number >= 0; got {value!r}")
                if action == "speed":
                    self._speed = number
                else:
                    self._now = min(CLOSE_UTC, self._now + timedelta(seconds=number))
            else:  # seek HH:MM ET (EDT = UTC-4 on the fixed session date)
                m = _HHMM_RE.match(str(value)) if value is not None else None
                if m is None or int(m.group(1)) > 23 or int(m.group(2)) > 59:
                    raise ServiceError("invalid_value", f"seek needs HH:MM (ET); got {value!r}")
                target = datetime(2026, 6, 5, tzinfo=UTC) + timedelta(hours=int(m.group(1)) + 4,
                                                                              minutes=int(m.group(2)))
                if not OPEN_UTC <= target <= CLOSE_UTC:
                    raise ServiceError("invalid_value", f"seek time {value!r} is outside 09:30-16:00 ET")
                self._now = target
        return self.status()
