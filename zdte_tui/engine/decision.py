"""The 0DTE decision layer: flow_direction, pin score, headline, setup classifier, leaderboard metrics.

Pure functions over :class:`DecisionInputs` (plain floats the FlowService fills from the engine).
Every rule, threshold and formula is documented in ``docs/decision-layer.md``; the constants
below are the single source of truth. Outputs follow the FlashAlpha snapshot vocabulary
(``ZeroDteFlowDirection``, ``headline``, ``setup``) and contain only finite numbers or None.

Units: prices USD; GEX in USD of dealer delta per 1% spot move (sign = dealer gamma regime);
hedge flow in signed delta-dollars (+ = dealers buy the underlying); time in hours/minutes.
"Sigma" (sigma) is the remaining one-standard-deviation move to the close in USD.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zdte_tui.market.money import usd_short

# ---- vocabularies ---------------------------------------------------------------------------
FLOW_DIRECTION_LABELS = ("no_flow", "neutral", "amplifying", "dampening", "regime_flip")
TRADE_ANGLES = ("pin_trade", "range_trade", "breakout_risk", "low_signal")
SEVERITIES = ("info", "watch", "alert")
REGIMES = ("positive_gamma", "negative_gamma", "neutral")
SETUP_IDS = ("pin_iron_fly", "atm_short_straddle", "iron_condor_range", "fade_the_wall",
             "gamma_squeeze_breakout", "flip_cross_momentum", "charm_drift_into_close", "no_trade")

# ---- thresholds -----------------------------------------------------------------------------
NEUTRAL_SHIFT_PCT = 5.0                 # |flow_gex_pct_shift| < 5% -> neutral
HOURS_PER_YEAR = 365.0 * 24.0           # ACT/365, used only when the remaining sigma is not given
SIGMA_FLOOR_FRACTION = 0.0005           # sigma >= 5 bp of spot (keeps distances finite at the bell)

PIN_COMPONENT_MAX = 25
PIN_OI_TOP3_ZERO_PCT = 10.0             # oi_score 0 at <= 10% of OI in the top-3 strikes
PIN_OI_TOP3_FULL_PCT = 50.0             # oi_score 25 at >= 50%
PIN_GAMMA_SHARE_FULL = 0.25             # gamma_score 25 when magnet GEX >= 25% of gross |GEX|

PIN_TRADE_MIN_SCORE = 60                # pin_trade angle / pin setups need pin score >= 60
PIN_LOCK_SCORE = 70                     # ... and alert once >= 70 with <= 60 min left
PIN_LOCK_MINUTES = 60.0
PIN_WATCH_MINUTES = 120.0
PIN_MAGNET_MAX_SIGMAS = 0.5             # spot within 0.5 sigma of the magnet
FLIP_ALERT_SIGMAS = 0.25                # flip within 0.25 sigma (or crossed) -> alert
FLIP_WATCH_SIGMAS = 0.75                # flip within 0.75 sigma -> watch
FLIP_FAR_SIGMAS = 1.0                   # range plays want the flip >= 1 sigma away
WALL_NEAR_SIGMAS = 0.35                 # "at the wall" for fade_the_wall
WALL_ROOM_SIGMAS = 0.5                  # condor wants each wall >= 0.5 sigma away
LOW_SIGNAL_LEVEL_SIGMAS = 1.0           # low signal: every level >= 1 sigma away ...
LOW_SIGNAL_MAX_PIN = 40                 # ... pin score < 40 and no intraday flow
HEDGE_MIN_BARS = 4                      # hedge-flow trend needs >= 4 bars
HEDGE_SAME_SIGN_FRACTION = 0.75         # >= 75% of bars share the net direction
HEDGE_ACCEL_RATIO = 1.25                # late-half mean >= 1.25x early-half mean (direction-signed)
CHARM_SIGNIFICANT_FRACTION = 0.25       # charm hedge to the close >= 25% of a 1-sigma gamma hedge
CHARM_MAX_MINUTES = 90.0
BREAKOUT_MIN_MINUTES = 30.0
PRIMARY_MIN_CONFIDENCE = 0.5
ALTERNATIVE_MIN_CONFIDENCE = 0.35
MAX_ALTERNATIVES = 3
KEY_FAIL_FACTOR = 0.5                   # confidence *= 0.5 per failed key condition
LOW_SIGNAL_FACTOR = 0.5                 # under low signal every play's confidence *= 0.5
LEADERBOARD_GEX_EPS_USD = 1e6           # heat denominator floor, USD per 1% move
LEADERBOARD_ABS_FLOW_BARS = 10

# ---- hysteresis (docs/decision-layer.md, "Hysteresis"): once a label is shown, the threshold that
# put it there is relaxed by a margin, so an input hovering at a threshold does not flip the words.
REGIME_MARGIN_FRACTION = 0.05           # a regime change needs |net GEX| >= 5% of gross |GEX| (new sign) ...
REGIME_DWELL_MINUTES = 2.0              # ... held at every snapshot for 2 minutes,
REGIME_FAST_FRACTION = 0.25             # ... or |net GEX| >= 25% of gross |GEX| (shown at once)
PIN_SCORE_MARGIN = 5                    # pin_trade holds while pin score >= 60 - 5 ...
MAGNET_MARGIN_SIGMAS = 0.1              # ... and the magnet is within 0.5 + 0.1 sigma
PIN_LOCK_SCORE_MARGIN = 5               # a pin "alert" holds while pin score >= 70 - 5
FLIP_MARGIN_SIGMAS = 0.1                # flip alert / watch distances + 0.1 sigma once shown
WALL_MARGIN_SIGMAS = 0.05               # "spot at a wall" watch: 0.35 + 0.05 sigma once shown
LOW_SIGNAL_PIN_MARGIN = 5               # low signal holds while pin score < 40 + 5 ...
LOW_SIGNAL_LEVEL_MARGIN_SIGMAS = 0.1    # ... and no level within 1 - 0.1 sigma
SETUP_SWITCH_MARGIN = 0.10              # another play replaces the shown primary only if 0.10 more confident
SETUP_HOLD_MARGIN = 0.05                # the shown primary stays while its confidence >= 0.5 - 0.05
SETUP_DWELL_MINUTES = 2.0               # a new primary must win at every snapshot for 2 minutes ...
SETUP_VIABLE_MIN_CONFIDENCE = 0.35      # ... unless the shown play drops below 0.35, turns anti or fails a key cond.
SEVERITY_CALM_MINUTES = 2.0             # within one trade angle, severity steps down only after 2 minutes
FLOW_DWELL_MINUTES = 2.0                # a new flow label must be the reading at every snapshot for 2 minutes


@dataclass(frozen=True)
class DecisionInputs:
    """Everything the decision layer reads, one snapshot of one symbol. Units per field.

    Optional levels are None when unknown. ``hedge_flow_recent_bars_usd`` holds the last N
    per-bar dealer hedge flows (oldest first) and ``spot_recent_start`` is spot at the start of
    that window; together they describe the recent move."""

    spot: float                                     # USD
    time_to_close_hours: float                      # hours to the cash close, >= 0
    net_gex_live_usd: float                         # live (effective-OI) net GEX, USD per 1% move
    net_gex_settled_usd: float                      # settled-OI net GEX, USD per 1% move
    session_hours: float = 6.5                      # 6.5 regular day, 3.5 early close
    gross_gex_usd: float | None = None              # sum over strikes of |net GEX|, USD per 1% move
    contracts_with_flow: int = 0                    # contracts with any intraday flow today
    total_abs_delta_contracts: int = 0              # sum |intraday OI delta|, contracts
    gamma_flip: float | None = None                 # USD
    call_wall: float | None = None                  # USD
    put_wall: float | None = None                   # USD
    magnet: float | None = None                     # USD (argmax |net GEX| strike)
    max_pain: float | None = None                   # USD
    atm_iv: float | None = None                     # annualized decimal
    expected_move_remaining_1sd_usd: float | None = None  # remaining 1-sigma move, USD
    pin_score: int = 0                              # 0-100 (see pin_score())
    pin_probability: float | None = None            # 0-1, probabilities.pin.value
    hedge_flow_cumulative_usd: float = 0.0          # dealer hedge delta-$ since the open (+ = buy)
    hedge_flow_recent_bars_usd: Sequence[float] = ()  # per-bar dealer hedge delta-$, oldest first
    spot_recent_start: float | None = None          # USD, spot at the first recent bar
    net_dex_usd: float | None = None                # dealer net delta, USD
    charm_hedge_usd_per_hour: float | None = None   # dealer hedge flow forced by charm, USD/hour (+ = buy)
    strike_step_usd: float = 1.0                    # listed strike spacing near the money, USD


@dataclass(frozen=True)
class PreviousLabels:
    """The words shown for this symbol at the previous snapshot (all None the first time)."""

    regime: str | None = None        # REGIMES
    trade_angle: str | None = None   # TRADE_ANGLES
    severity: str | None = None      # SEVERITIES
    setup_id: str | None = None      # SETUP_IDS (the primary)
    regime_pending: str | None = None               # the regime the GEX sign points to, not shown yet
    regime_pending_since_minutes: float | None = None  # minutes to the close when it was first seen
    setup_pending: str | None = None                # the primary the rules point to, not shown yet
    setup_pending_since_minutes: float | None = None
    flow_label: str | None = None                   # FLOW_DIRECTION_LABELS (the shown label)
    flow_pending: str | None = None                 # the latest reading, not shown yet
    flow_pending_since_minutes: float | None = None
    severity_pending: str | None = None             # a lower severity waiting for SEVERITY_CALM_MINUTES
    severity_pending_since_minutes: float | None = None


NO_PREVIOUS = PreviousLabels()


class LabelMemory:
    """The one piece of state behind label hysteresis: the last labels per symbol, and when.

    The FlowService asks :meth:`previous` before building a snapshot and calls :meth:`remember`
    after. Time going backwards (a replay seek) forgets the symbol; the decision functions stay
    pure and receive the previous labels as an argument."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, PreviousLabels]] = {}

    def previous(self, symbol: str, as_of_ns: int) -> PreviousLabels:
        held = self._last.get(symbol)
        if held is None or held[0] > as_of_ns:
            return NO_PREVIOUS
        return held[1]

    def remember(self, symbol: str, as_of_ns: int, labels: PreviousLabels) -> None:
        self._last[symbol] = (int(as_of_ns), labels)

    def forget(self, symbol: str | None = None) -> None:
        if symbol is None:
            self._last.clear()
        else:
            self._last.pop(symbol, None)


def labels_of(decision_out: dict[str, Any]) -> PreviousLabels:
    """The labels :func:`decide` produced, to pass back next time."""
    h = decision_out.get("headline") or {}
    setup = decision_out.get("setup") or {}
    primary = setup.get("primary") or {}
    pending = h.get("regime_pending") or {}
    setup_pending = setup.get("pending") or {}
    flow = decision_out.get("flow_direction") or {}
    flow_pending = flow.get("pending") or {}
    return PreviousLabels(regime=h.get("regime"), trade_angle=h.get("trade_angle"), severity=h.get("severity"),
                          setup_id=primary.get("id"), regime_pending=pending.get("regime"),
                          regime_pending_since_minutes=pending.get("since_minutes_to_close"),
                          setup_pending=setup_pending.get("id"),
                          setup_pending_since_minutes=setup_pending.get("since_minutes_to_close"),
                          flow_label=flow.get("label"), flow_pending=flow_pending.get("label"),
                          flow_pending_since_minutes=flow_pending.get("since_minutes_to_close"),
                          severity_pending=(h.get("severity_pending") or {}).get("severity"),
                          severity_pending_since_minutes=(h.get("severity_pending") or {}).get(
                              "since_minutes_to_close"))


def dwell_label(shown: str | None, reading: str, minutes_to_close: float, pending: str | None,
                pending_since_minutes: float | None, dwell_minutes: float) -> tuple[str, str | None, float | None]:
    """``(label to show, pending label, pending since [minutes to close])`` for a word that changes only
    after the new reading has held at every snapshot for ``dwell_minutes``.

    Nothing shown yet, or the reading equals the shown label: show the reading. Otherwise the reading
    becomes (or stays) pending from the first snapshot it appeared at; once it has been pending for
    ``dwell_minutes`` (measured on the session clock, minutes to the close decreasing) it is shown.
    A different reading in between restarts the clock. Pure."""
    if shown is None or reading == shown:
        return reading, None, None
    since = pending_since_minutes if pending == reading and pending_since_minutes is not None else minutes_to_close
    if since - minutes_to_close >= dwell_minutes:
        return reading, None, None
    return shown, reading, since


def hysteretic_regime(live_net_gex: float, gross_gex: float | None, minutes_to_close: float,
                      previous: PreviousLabels = NO_PREVIOUS) -> tuple[str, str | None, float | None]:
    """``(shown regime, pending regime, pending since [minutes to close])``.

    raw = sign of live net GEX (positive / negative / neutral at exactly 0). With a regime shown
    before (``previous.regime``) and a known gross |GEX| > 0, a different raw regime replaces it
    only if |net GEX| >= REGIME_FAST_FRACTION x gross, or if |net GEX| >= REGIME_MARGIN_FRACTION x
    gross at every snapshot for REGIME_DWELL_MINUTES (the pending regime and since when are
    returned so the caller can pass them back). Otherwise the shown regime stays."""
    live = _finite(live_net_gex) or 0.0
    raw = "positive_gamma" if live > 0 else "negative_gamma" if live < 0 else "neutral"
    gross = _finite(gross_gex)
    shown = previous.regime
    if shown not in ("positive_gamma", "negative_gamma") or raw == shown or gross is None or gross <= 0:
        return raw, None, None
    share = abs(live) / gross
    if share >= REGIME_FAST_FRACTION:
        return raw, None, None
    if share < REGIME_MARGIN_FRACTION:
        return shown, None, None          # inside the margin: no candidate, the dwell restarts
    since = previous.regime_pending_since_minutes
    if previous.regime_pending != raw or since is None:
        since = minutes_to_close
    if since - minutes_to_close >= REGIME_DWELL_MINUTES:
        return raw, None, None
    return shown, raw, since


# ---- small helpers --------------------------------------------------------------------------
def _finite(v: Any) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _sign(x: float | None) -> int:
    if x is None or x == 0:
        return 0
    return 1 if x > 0 else -1


def _px(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.0f}" if abs(x - round(x)) < 1e-9 else f"{x:.2f}"


def _usd(x: float | None, signed: bool = True) -> str:
    return usd_short(x, signed=signed, digits=1, missing="n/a")


def _time_left(minutes: float) -> str:
    """Whole minutes to the close, rounded down like the header's countdown (329.9 -> ``5h 29m``)."""
    m = max(int(math.floor(minutes + 1e-9)), 0)
    return f"{m} min" if m < 60 else f"{m // 60}h {m % 60:02d}m"


def _position(inputs: DecisionInputs, spot: float) -> str:
    cw, pw = _finite(inputs.call_wall), _finite(inputs.put_wall)
    if cw is not None and spot > cw:
        return f"spot {_px(spot)} above call wall {_px(cw)}"
    if pw is not None and spot < pw:
        return f"spot {_px(spot)} below put wall {_px(pw)}"
    return f"spot {_px(spot)} between put wall {_px(pw)} and call wall {_px(cw)}"


def _round_step(x: float, step: float) -> float:
    step = step if step and step > 0 else 1.0
    return float(round(x / step) * step)


# ---- flow_direction -------------------------------------------------------------------------
def flow_direction(settled_net_gex: float, live_net_gex: float, contracts_with_flow: int,
                   total_abs_delta_contracts: int) -> dict[str, Any]:
    """Has today's flow reinforced or weakened the settled dealer regime? (``ZeroDteFlowDirection``)

    adjustment = live - settled; pct_shift = 100 * adjustment / |settled| (None if settled == 0).
    Rules in order: no_flow if contracts_with_flow <= 0 or total_abs_delta_contracts <= 0;
    regime_flip if both are non-zero with opposite signs; neutral if |pct_shift| < 5 (or both 0);
    amplifying if |live| > |settled| (incl. settled == 0 < |live|); else dampening.
    The description names the gamma sign the flow acts on (see :func:`flow_phrase`).
    """
    settled = _finite(settled_net_gex) or 0.0
    live = _finite(live_net_gex) or 0.0
    cwf = int(contracts_with_flow or 0)
    tad = int(total_abs_delta_contracts or 0)
    adjustment = live - settled
    pct = 100.0 * adjustment / abs(settled) if settled != 0 else None
    sign_word = "+GAMMA" if live > 0 else "-GAMMA" if live < 0 else "zero GEX"
    if cwf <= 0 or tad <= 0:
        label = "no_flow"
        desc = "No intraday 0DTE flow yet: the live book equals the settled book."
    elif settled != 0 and live != 0 and (settled > 0) != (live > 0):
        label = "regime_flip"
        new = "positive" if live > 0 else "negative"
        desc = (f"Regime flip: intraday flow moved net GEX from {_usd(settled)} to {_usd(live)}; "
                f"dealers are now {new} gamma.")
    elif (pct is not None and abs(pct) < NEUTRAL_SHIFT_PCT) or (settled == 0 and live == 0):
        label = "neutral"
        desc = (f"Neutral: intraday flow shifted net GEX by {_usd(adjustment)}"
                + (f" ({pct:+.1f}%)" if pct is not None else "") + ", under the 5% threshold.")
    elif abs(live) > abs(settled):
        label = "amplifying"
        effect = ("dealers hold more long gamma: moves are damped harder, a stronger pin" if live > 0 else
                  "dealers hold more short gamma: moves are amplified harder, more fragility")
        desc = (f"Reinforcing {sign_word}: flow grew net GEX magnitude by {_usd(adjustment)}"
                + (f" ({pct:+.1f}%)" if pct is not None else "") + f"; {effect}.")
    else:
        label = "dampening"
        effect = ("dealers hold less long gamma: a weaker pin" if live > 0 else
                  "dealers hold less short gamma: less fragility")
        desc = (f"Eroding {sign_word}: flow shrank net GEX magnitude by {_usd(adjustment)}"
                + (f" ({pct:+.1f}%)" if pct is not None else "") + f"; {effect}.")
    return {
        "label": label,
        "settled_net_gex": settled,
        "live_net_gex": live,
        "flow_gex_adjustment": adjustment,
        "flow_gex_pct_shift": _finite(pct),
        "contracts_with_flow": cwf,
        "total_abs_delta_contracts": tad,
        "description": desc,
    }


def hysteretic_flow(flow: dict[str, Any], minutes_to_close: float,
                    previous: PreviousLabels = NO_PREVIOUS) -> dict[str, Any]:
    """The :func:`flow_direction` block with the label shown under hysteresis.

    ``reading`` is the label the rules give for this snapshot. The shown ``label`` changes to a new
    reading only when it has held at every snapshot for FLOW_DWELL_MINUTES (:func:`dwell_label`),
    except that the first flow of the day (leaving ``no_flow``) shows at once. While a reading waits,
    ``pending = {label, since_minutes_to_close}`` and the description says what is held and why."""
    out = dict(flow)
    reading = str(flow["label"])
    out["reading"] = reading
    shown = previous.flow_label if previous.flow_label in FLOW_DIRECTION_LABELS else None
    if shown == "no_flow":
        shown = None
    label, pending, since = dwell_label(shown, reading, minutes_to_close, previous.flow_pending,
                                        previous.flow_pending_since_minutes, FLOW_DWELL_MINUTES)
    out["label"] = label
    out["pending"] = None if pending is None else {"label": pending, "since_minutes_to_close": _finite(since)}
    if label != reading:
        out["description"] = (f"Holding '{label}' until the new reading '{reading}' lasts "
                              f"{FLOW_DWELL_MINUTES:g} minutes. Latest: {flow['description']}")
    return out


def flow_phrase(flow: dict[str, Any]) -> str:
    """The flow label next to the gamma sign it acts on, so "amplifying" is never read as "amplifying
    moves" in positive gamma: ``flow reinforcing +GAMMA`` (amplifying), ``flow eroding +GAMMA``
    (dampening), the same with -GAMMA, ``flow flipped to +GAMMA`` / ``-GAMMA`` (regime_flip),
    ``flow neutral``, ``no flow yet``."""
    live = _finite(flow.get("live_net_gex")) or 0.0
    sign_word = "+GAMMA" if live > 0 else "-GAMMA" if live < 0 else "zero GEX"
    return {"no_flow": "no flow yet", "neutral": "flow neutral", "amplifying": f"flow reinforcing {sign_word}",
            "dampening": f"flow eroding {sign_word}", "regime_flip": f"flow flipped to {sign_word}"}.get(
        str(flow.get("label")), "flow unknown")


# ---- pin score ------------------------------------------------------------------------------
def pin_score_components(spot: Any, magnet: Any, time_to_close_hours: Any, session_hours: Any,
                         sigma_remaining_usd: Any, oi_concentration_top3_pct: Any, magnet_gex_usd: Any,
                         gross_gex_usd: Any) -> dict[str, np.ndarray]:
    """Vectorized pin score; each component an int in 0..25 and ``pin_score`` their sum (0..100).

    oi_score        = round(25 * clip((top3_oi_pct - 10) / (50 - 10), 0, 1))
    proximity_score = round(25 * exp(-0.5 * (|spot - magnet| / max(sigma, 5bp * spot))^2))
    time_score      = round(25 * clip(1 - hours_left / session_hours, 0, 1)^2)
    gamma_score     = round(25 * clip((magnet_gex / gross_gex) / 0.25, 0, 1))  (negative GEX -> 0)
    Unknown (NaN/None) inputs score 0 for their component.
    """
    def arr(v: Any) -> np.ndarray:
        if v is None:
            return np.array(np.nan)
        if isinstance(v, (np.ndarray, float)) and np.asarray(v).dtype.kind == "f":
            return np.asarray(v, dtype=np.float64)  # already numbers: no None to look for
        o = np.asarray(v, dtype=object)
        return np.where(o == None, np.nan, o).astype(np.float64)  # noqa: E711 - elementwise None test

    S, M, h, H = arr(spot), arr(magnet), arr(time_to_close_hours), arr(session_hours)
    sig, top3 = arr(sigma_remaining_usd), arr(oi_concentration_top3_pct)
    mg, gross = arr(magnet_gex_usd), arr(gross_gex_usd)
    cap = PIN_COMPONENT_MAX

    def pts(frac: np.ndarray) -> np.ndarray:
        return np.floor(cap * np.where(np.isfinite(frac), np.clip(frac, 0.0, 1.0), 0.0) + 0.5).astype(np.int64)

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        oi = pts((top3 - PIN_OI_TOP3_ZERO_PCT) / (PIN_OI_TOP3_FULL_PCT - PIN_OI_TOP3_ZERO_PCT))
        scale = np.fmax(np.where(np.isfinite(sig), sig, 0.0), SIGMA_FLOOR_FRACTION * S)
        prox = pts(np.exp(-0.5 * ((S - M) / scale) ** 2))
        elapsed = np.where(H > 0, np.clip(1.0 - np.maximum(h, 0.0) / H, 0.0, 1.0), np.nan)
        time = pts(elapsed ** 2)
        gamma = pts(np.clip(np.where(gross > 0, mg / gross, np.nan), -1.0, 1.0) / PIN_GAMMA_SHARE_FULL)
    total = oi + prox + time + gamma
    return {"pin_score": total, "oi_score": oi, "proximity_score": prox, "time_score": time,
            "gamma_score": gamma}


def pin_score_one(spot: float, magnet: float, time_to_close_hours: float, session_hours: float,
                  sigma_remaining_usd: float, oi_concentration_top3_pct: float, magnet_gex_usd: float,
                  gross_gex_usd: float) -> int:
    """``pin_score_components(...)["pin_score"]`` of one sample in numbers (NaN = unknown): the same
    formulas and the same floating-point operations (a live 30 s sample, where array calls would cost
    more than the arithmetic)."""
    f = np.float64
    cap = PIN_COMPONENT_MAX

    def pts(frac: float) -> int:
        frac = float(frac)
        return int(math.floor(cap * min(max(frac, 0.0), 1.0) + 0.5)) if math.isfinite(frac) else 0

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        oi = pts((f(oi_concentration_top3_pct) - PIN_OI_TOP3_ZERO_PCT) / (PIN_OI_TOP3_FULL_PCT - PIN_OI_TOP3_ZERO_PCT))
        sig = sigma_remaining_usd if math.isfinite(sigma_remaining_usd) else 0.0
        floor = SIGMA_FLOOR_FRACTION * spot
        scale = sig if math.isnan(floor) else max(sig, floor)  # np.fmax
        z = (f(spot) - magnet) / f(scale)
        prox = pts(np.exp(-0.5 * (z * z)))
        H, h = session_hours, time_to_close_hours
        elapsed = math.nan
        if H > 0:
            elapsed = 1.0 - (h if math.isnan(h) else max(h, 0.0)) / H
            elapsed = elapsed if math.isnan(elapsed) else min(max(elapsed, 0.0), 1.0)
        time = pts(elapsed * elapsed)
        share = f(magnet_gex_usd) / gross_gex_usd if gross_gex_usd > 0 else math.nan
        gamma = pts((share if math.isnan(share) else min(max(share, -1.0), 1.0)) / PIN_GAMMA_SHARE_FULL)
    return oi + prox + time + gamma


def pin_score(spot: float, magnet: float | None, time_to_close_hours: float, session_hours: float,
              sigma_remaining_usd: float | None, oi_concentration_top3_pct: float | None,
              magnet_gex_usd: float | None, gross_gex_usd: float | None) -> tuple[int, dict[str, int]]:
    """Scalar pin score: ``(score 0-100, {oi_score, proximity_score, time_score, gamma_score})``;
    see :func:`pin_score_components` for the formula (the components sum to the score)."""
    c = pin_score_components(spot, magnet, time_to_close_hours, session_hours, sigma_remaining_usd,
                             oi_concentration_top3_pct, magnet_gex_usd, gross_gex_usd)
    comps = {k: int(np.asarray(c[k]).ravel()[0]) for k in ("oi_score", "proximity_score", "time_score",
                                                           "gamma_score")}
    return int(sum(comps.values())), comps


# ---- derived context ------------------------------------------------------------------------
def hedge_flow_trend(bars_usd: Sequence[float] | np.ndarray) -> dict[str, Any]:
    """Direction and acceleration of recent dealer hedge flow (bars oldest first).

    direction = sign(sum); same_sign_fraction = share of bars with that sign;
    acceleration_ratio = mean(direction * late half) / mean(direction * early half) (None if the
    early mean <= 0); accelerating = n >= 4, direction != 0, same_sign_fraction >= 0.75 and the
    late mean > 0 and (ratio >= 1.25 or early mean <= 0)."""
    b = np.asarray(bars_usd, dtype=np.float64).ravel()
    b = b[np.isfinite(b)]
    n = int(b.size)
    total = float(b.sum()) if n else 0.0
    direction = _sign(total)
    out = {"direction": direction, "bars": n, "recent_sum_usd": total, "same_sign_fraction": None,
           "acceleration_ratio": None, "accelerating": False}
    if n == 0 or direction == 0:
        return out
    same = float(np.mean(np.sign(b) == direction))
    half = n // 2
    early = float(np.mean(direction * b[:half])) if half else 0.0
    late = float(np.mean(direction * b[n - half:])) if half else 0.0
    ratio = late / early if early > 0 else None
    accelerating = (n >= HEDGE_MIN_BARS and same >= HEDGE_SAME_SIGN_FRACTION and late > 0
                    and (ratio is None or ratio >= HEDGE_ACCEL_RATIO))
    out.update(same_sign_fraction=same, acceleration_ratio=_finite(ratio), accelerating=bool(accelerating))
    return out


def _hours_left(inputs: DecisionInputs) -> float:
    return max(_finite(inputs.time_to_close_hours) or 0.0, 0.0)


def remaining_sigma(inputs: DecisionInputs) -> float | None:
    """Remaining 1-sigma move, USD: the given expected move, else spot * atm_iv * sqrt(hours / 8760);
    floored at 5 bp of spot. None when neither is available."""
    spot = _finite(inputs.spot)
    if spot is None or spot <= 0:
        return None
    sigma = _finite(inputs.expected_move_remaining_1sd_usd)
    if sigma is None or sigma <= 0:
        iv = _finite(inputs.atm_iv)
        if iv is None or iv <= 0:
            return None
        sigma = spot * iv * math.sqrt(_hours_left(inputs) / HOURS_PER_YEAR)
    return max(sigma, SIGMA_FLOOR_FRACTION * spot)


@dataclass(frozen=True)
class DecisionContext:
    """Derived, unit-free quantities the headline and the classifier share (distances in sigmas)."""

    spot: float
    sigma_usd: float | None
    regime: str
    minutes_to_close: float
    flow: dict[str, Any]
    hedge: dict[str, Any]
    spot_move_usd: float
    flip_distance_sigmas: float | None        # |spot - flip| / sigma
    flip_crossed: int                         # +1 crossed up, -1 crossed down, 0 no cross
    magnet_distance_sigmas: float | None      # |spot - magnet| / sigma
    call_wall_gap_sigmas: float | None        # (call_wall - spot) / sigma; < 0 = through the wall
    put_wall_gap_sigmas: float | None         # (spot - put_wall) / sigma; < 0 = through the wall
    charm_to_gamma_ratio: float | None        # |charm hedge| * hours / (|GEX| * 100 sigma / spot)
    low_signal: bool
    low_signal_reasons: tuple[str, ...] = field(default_factory=tuple)
    regime_pending: str | None = None           # regime the GEX sign points to, waiting out the dwell
    regime_pending_since_minutes: float | None = None


def decision_context(inputs: DecisionInputs, previous: PreviousLabels = NO_PREVIOUS) -> DecisionContext:
    """Compute the shared context (see :class:`DecisionContext`); pure. ``previous`` holds the regime
    (:func:`hysteretic_regime`) and the low-signal state (margins) shown last time."""
    spot = _finite(inputs.spot) or 0.0
    sigma = remaining_sigma(inputs)
    live = _finite(inputs.net_gex_live_usd) or 0.0
    regime, pending, pending_since = hysteretic_regime(live, inputs.gross_gex_usd, _hours_left(inputs) * 60.0,
                                                       previous)
    flow = hysteretic_flow(flow_direction(inputs.net_gex_settled_usd, live, inputs.contracts_with_flow,
                                          inputs.total_abs_delta_contracts),
                           _hours_left(inputs) * 60.0, previous)
    hedge = hedge_flow_trend(inputs.hedge_flow_recent_bars_usd)
    start = _finite(inputs.spot_recent_start)
    move = spot - start if start is not None else 0.0

    def dist(level: float | None) -> float | None:
        lv = _finite(level)
        return None if lv is None or sigma is None else abs(spot - lv) / sigma

    flip = _finite(inputs.gamma_flip)
    crossed = 0
    if flip is not None and start is not None and (start - flip) * (spot - flip) < 0:
        crossed = 1 if spot > flip else -1
    cw, pw = _finite(inputs.call_wall), _finite(inputs.put_wall)
    cw_gap = (cw - spot) / sigma if cw is not None and sigma else None
    pw_gap = (spot - pw) / sigma if pw is not None and sigma else None

    charm = _finite(inputs.charm_hedge_usd_per_hour)
    charm_ratio = None
    if charm is not None and sigma and spot > 0:
        gamma_hedge = abs(live) * 100.0 * sigma / spot
        charm_total = abs(charm) * _hours_left(inputs)
        charm_ratio = charm_total / gamma_hedge if gamma_hedge > 0 else (None if charm_total == 0 else 1e6)

    reasons: list[str] = []
    low = False
    if sigma is None or spot <= 0:
        low, reasons = True, ["no usable spot or implied move"]
    else:
        was_low = previous.trade_angle == "low_signal"
        level_sigmas = LOW_SIGNAL_LEVEL_SIGMAS - (LOW_SIGNAL_LEVEL_MARGIN_SIGMAS if was_low else 0.0)
        max_pin = LOW_SIGNAL_MAX_PIN + (LOW_SIGNAL_PIN_MARGIN if was_low else 0)
        levels = {"magnet": inputs.magnet, "call wall": cw, "put wall": pw, "gamma flip": flip}
        near = [name for name, lv in levels.items()
                if (d := dist(lv)) is not None and d < level_sigmas]
        if flow["label"] == "no_flow" and inputs.pin_score < max_pin and not near:
            low = True
            reasons = ["no intraday flow yet", f"pin score {inputs.pin_score} < {LOW_SIGNAL_MAX_PIN}",
                       f"no key level within {LOW_SIGNAL_LEVEL_SIGMAS:g}σ of spot {_px(spot)}"]
        elif regime == "neutral" and flow["label"] in ("no_flow", "neutral"):
            low, reasons = True, ["net GEX is zero", f"flow {flow['label']}"]
    return DecisionContext(
        spot=spot, sigma_usd=_finite(sigma), regime=regime,
        minutes_to_close=_hours_left(inputs) * 60.0, flow=flow, hedge=hedge,
        spot_move_usd=move, flip_distance_sigmas=_finite(dist(flip)), flip_crossed=crossed,
        magnet_distance_sigmas=_finite(dist(inputs.magnet)), call_wall_gap_sigmas=_finite(cw_gap),
        put_wall_gap_sigmas=_finite(pw_gap), charm_to_gamma_ratio=_finite(charm_ratio), low_signal=low,
        low_signal_reasons=tuple(reasons), regime_pending=pending, regime_pending_since_minutes=pending_since)


_SEVERITY_RANK = {"info": 0, "watch": 1, "alert": 2}


# ---- headline -------------------------------------------------------------------------------
def headline(inputs: DecisionInputs, ctx: DecisionContext | None = None,
             previous: PreviousLabels = NO_PREVIOUS) -> dict[str, Any]:
    """One-line read: ``{narrative, trade_angle, severity, regime, minutes_to_close,
    distance_to_flip_sigmas, reasons}``. Rules, first match wins:

    1. low signal (see docs)                                  -> low_signal, info
    2. flip crossed in the window or |spot - flip| <= 0.25 sigma -> breakout_risk, alert
    3. negative gamma                                         -> breakout_risk; alert if hedge flow
       accelerates in the direction of the spot move, else watch
    4. positive gamma, pin score >= 60, magnet within 0.5 sigma -> pin_trade; alert if pin score >= 70
       and <= 60 min left, watch if <= 120 min left or flip within 0.75 sigma, else info
    5. positive gamma otherwise                               -> range_trade; watch if flip within
       0.75 sigma or a wall within 0.35 sigma, else info
    A regime_flip flow label raises info to watch.
    Hysteresis (``previous`` = the labels shown last time): a threshold that put the shown angle or
    severity there is relaxed by its margin (PIN_SCORE_MARGIN, MAGNET_MARGIN_SIGMAS,
    PIN_LOCK_SCORE_MARGIN, FLIP_MARGIN_SIGMAS, WALL_MARGIN_SIGMAS) until the input has moved past it.
    A higher severity shows at once; within the same angle a lower one shows only after it held for
    SEVERITY_CALM_MINUTES (``severity_pending`` names it meanwhile).
    """
    ctx = ctx or decision_context(inputs, previous)
    was = previous.trade_angle
    sev_was = previous.severity
    flip_alert = FLIP_ALERT_SIGMAS + (FLIP_MARGIN_SIGMAS if was == "breakout_risk" and sev_was == "alert" else 0.0)
    flip_watch = FLIP_WATCH_SIGMAS + (FLIP_MARGIN_SIGMAS if sev_was in ("watch", "alert") else 0.0)
    wall_near = WALL_NEAR_SIGMAS + (WALL_MARGIN_SIGMAS if sev_was in ("watch", "alert") else 0.0)
    pin_min = PIN_TRADE_MIN_SCORE - (PIN_SCORE_MARGIN if was == "pin_trade" else 0)
    magnet_max = PIN_MAGNET_MAX_SIGMAS + (MAGNET_MARGIN_SIGMAS if was == "pin_trade" else 0.0)
    lock_min = PIN_LOCK_SCORE - (PIN_LOCK_SCORE_MARGIN if was == "pin_trade" and sev_was == "alert" else 0)
    spot, mins = ctx.spot, ctx.minutes_to_close
    left = _time_left(mins)
    flip = _finite(inputs.gamma_flip)
    fd = ctx.flip_distance_sigmas
    reasons: list[str] = []
    hedge = ctx.hedge
    move_sign = _sign(ctx.spot_move_usd)

    if ctx.low_signal:
        angle, severity = "low_signal", "info"
        reasons = list(ctx.low_signal_reasons)
        narrative = f"Low signal: {', '.join(ctx.low_signal_reasons)}; {left} left"
    elif flip is not None and (ctx.flip_crossed != 0 or (fd is not None and fd <= flip_alert)):
        angle, severity = "breakout_risk", "alert"
        if ctx.flip_crossed:
            side = "above" if ctx.flip_crossed > 0 else "below"
            takes = "positive gamma (dampening)" if ctx.flip_crossed > 0 else "negative gamma (amplifying)"
            narrative = (f"Spot {_px(spot)} crossed {side} gamma flip {_px(flip)}: {takes} takes over, "
                         f"hedge flow {_usd(hedge['recent_sum_usd'])} recent, {left} left")
            reasons.append(f"spot crossed {side} gamma flip {_px(flip)}")
        else:
            narrative = (f"Spot {_px(spot)} testing gamma flip {_px(flip)} ({fd:.2f}σ away): "
                         f"regime change risk, {left} left")
            reasons.append(f"gamma flip within {FLIP_ALERT_SIGMAS}σ")
    elif ctx.regime == "negative_gamma":
        angle = "breakout_risk"
        chasing = hedge["accelerating"] and hedge["direction"] != 0 and hedge["direction"] == move_sign
        severity = "alert" if chasing else "watch"
        if chasing:
            way = "upside" if hedge["direction"] > 0 else "downside"
            wall_txt = ""
            if hedge["direction"] > 0 and ctx.call_wall_gap_sigmas is not None and ctx.call_wall_gap_sigmas < 0:
                wall_txt = f" through call wall {_px(inputs.call_wall)}"
            elif hedge["direction"] < 0 and ctx.put_wall_gap_sigmas is not None and ctx.put_wall_gap_sigmas < 0:
                wall_txt = f" through put wall {_px(inputs.put_wall)}"
            narrative = (f"Negative gamma, dealers chasing {way}: spot {_px(spot)}{wall_txt}, "
                         f"hedge flow {_usd(hedge['recent_sum_usd'])} accelerating, {left} left")
            reasons.append("accelerating same-sign hedge flow with the move")
        else:
            narrative = f"Negative gamma: moves amplify, {_position(inputs, spot)}, {left} left"
            reasons.append("negative gamma regime")
    elif ctx.regime == "positive_gamma":
        md = ctx.magnet_distance_sigmas
        if inputs.pin_score >= pin_min and md is not None and md <= magnet_max:
            angle = "pin_trade"
            if inputs.pin_score >= lock_min and mins <= PIN_LOCK_MINUTES:
                severity, state = "alert", "locking in"
            elif mins <= PIN_WATCH_MINUTES or (fd is not None and fd <= flip_watch):
                severity, state = "watch", "building"
            else:
                severity, state = "info", "forming"
            odds = (f"{inputs.pin_probability:.0%} pin odds" if _finite(inputs.pin_probability) is not None
                    else f"pin score {inputs.pin_score}")
            narrative = f"Positive gamma, pin at {_px(inputs.magnet)} {state}: {odds}, {left} left"
            reasons.append(f"pin score {inputs.pin_score}, magnet {md:.2f}σ away")
        else:
            angle = "range_trade"
            near_wall = any(g is not None and abs(g) <= wall_near
                            for g in (ctx.call_wall_gap_sigmas, ctx.put_wall_gap_sigmas))
            flip_near = fd is not None and fd <= flip_watch
            severity = "watch" if (near_wall or flip_near) else "info"
            walls = (f"range {_px(inputs.put_wall)}-{_px(inputs.call_wall)}" if inputs.put_wall != inputs.call_wall
                     else f"range around the {_px(inputs.call_wall)} wall (call and put walls coincide)")
            narrative = (f"Positive gamma, {walls} holding: "
                         f"spot {_px(spot)}, magnet {_px(inputs.magnet)}, {left} left")
            if near_wall:
                reasons.append("spot at a wall")
            if flip_near:
                reasons.append(f"gamma flip within {FLIP_WATCH_SIGMAS}σ")
    else:
        angle, severity = "low_signal", "info"
        narrative = f"Low signal: net GEX is zero; {left} left"
    if ctx.flow["label"] == "regime_flip" and severity == "info":
        severity = "watch"
        reasons.append("flow regime_flip")
    # escalation shows at once; within the same angle a step down waits SEVERITY_CALM_MINUTES
    sev_pending = None
    if angle == was and sev_was in _SEVERITY_RANK and _SEVERITY_RANK[severity] < _SEVERITY_RANK[sev_was]:
        shown_sev, pend, since = dwell_label(sev_was, severity, mins, previous.severity_pending,
                                             previous.severity_pending_since_minutes, SEVERITY_CALM_MINUTES)
        if pend is not None:
            reasons.append(f"{sev_was} held until {severity} lasts {SEVERITY_CALM_MINUTES:g} minutes")
            sev_pending = {"severity": pend, "since_minutes_to_close": _finite(since)}
        severity = shown_sev
    pending = None
    if ctx.regime_pending is not None:
        pending = {"regime": ctx.regime_pending, "since_minutes_to_close": _finite(ctx.regime_pending_since_minutes)}
    return {"narrative": narrative, "trade_angle": angle, "severity": severity, "regime": ctx.regime,
            "minutes_to_close": _finite(round(mins, 1)), "distance_to_flip_sigmas": _finite(fd),
            "reasons": reasons, "regime_pending": pending, "severity_pending": sev_pending,
            "flow_phrase": flow_phrase(ctx.flow)}


# ---- setup classifier -----------------------------------------------------------------------
@dataclass(frozen=True)
class _Cond:
    ok: bool
    met: str
    failed: str
    weight: float = 1.0
    key: bool = False
    severe: bool = False   # only meaningful when a key condition fails: marks an anti-setup


def _evaluate(setup_id: str, name: str, conds: list[_Cond], hint: dict[str, Any]) -> dict[str, Any]:
    total = sum(c.weight for c in conds)
    met_w = sum(c.weight for c in conds if c.ok)
    n_key_failed = sum(1 for c in conds if c.key and not c.ok)
    conf = (met_w / total if total > 0 else 0.0) * KEY_FAIL_FACTOR ** n_key_failed
    severe = [c.failed for c in conds if c.key and not c.ok and c.severe]
    return {"id": setup_id, "display_name": name, "confidence": round(conf, 2),
            "conditions_met": [c.met for c in conds if c.ok],
            "conditions_failed": [c.failed for c in conds if not c.ok],
            "strikes_hint": hint, "_anti": severe, "_key_failed": n_key_failed}


def _legs(*legs: tuple[str, str, float]) -> list[dict[str, Any]]:
    return [{"action": a, "right": r, "strike": float(k)} for a, r, k in legs]


def _wing(sigma: float | None, step: float, sigmas: float) -> float:
    step = step if step > 0 else 1.0
    return step * max(1, round(((sigma or step) * sigmas) / step))


def _regime_conds_short_gamma(ctx: DecisionContext) -> _Cond:
    return _Cond(ctx.regime == "positive_gamma", "positive gamma regime (dealers dampen moves)",
                 f"{ctx.regime.replace('_', ' ')} regime: short premium fights dealer hedging",
                 3, key=True, severe=ctx.regime == "negative_gamma")


def _setups(inputs: DecisionInputs, ctx: DecisionContext) -> list[dict[str, Any]]:
    s, sig, step = ctx.spot, ctx.sigma_usd, inputs.strike_step_usd
    mins, hedge, flow = ctx.minutes_to_close, ctx.hedge, ctx.flow["label"]
    fd, md = ctx.flip_distance_sigmas, ctx.magnet_distance_sigmas
    magnet, cw, pw, flip = (_finite(inputs.magnet), _finite(inputs.call_wall), _finite(inputs.put_wall),
                            _finite(inputs.gamma_flip))
    move_sign = _sign(ctx.spot_move_usd)
    flip_far = fd is None or fd >= FLIP_FAR_SIGMAS
    flip_txt = f"gamma flip {_px(flip)} {fd:.2f}σ away" if fd is not None else "no gamma flip in range"
    pin_locking = ctx.regime == "positive_gamma" and inputs.pin_score >= PIN_TRADE_MIN_SCORE
    flow_calm = flow in ("neutral", "dampening") or (flow == "amplifying" and ctx.regime == "positive_gamma")
    hedge_calm = not hedge["accelerating"]
    out = []

    # 1. pin iron fly ---------------------------------------------------------------------
    center = _round_step(magnet if magnet is not None else s, step)
    wing = _wing(sig, step, 1.0)
    mag_txt = f"spot {_px(s)} within {md:.2f}σ of magnet {_px(magnet)}" if md is not None else "no magnet"
    out.append(_evaluate("pin_iron_fly", "Pin iron fly", [
        _regime_conds_short_gamma(ctx),
        _Cond(md is not None and md <= PIN_MAGNET_MAX_SIGMAS, mag_txt,
              f"spot {_px(s)} not within {PIN_MAGNET_MAX_SIGMAS}σ of magnet {_px(magnet)}", 3, key=True),
        _Cond(inputs.pin_score >= PIN_TRADE_MIN_SCORE, f"pin score {inputs.pin_score} >= {PIN_TRADE_MIN_SCORE}",
              f"pin score {inputs.pin_score} < {PIN_TRADE_MIN_SCORE}", 2),
        _Cond(mins <= PIN_WATCH_MINUTES, f"{_time_left(mins)} to close (<= 2h: pin window)",
              f"{_time_left(mins)} to close (> 2h: too early to pin)", 2),
        _Cond(flow_calm, f"flow {flow} supports the pin", f"flow {flow} works against the pin", 1),
        _Cond(hedge_calm, "hedge flow not accelerating", "hedge flow accelerating (dealers chasing)", 1),
    ], {"structure": "iron_fly", "legs": _legs(("sell", "C", center), ("sell", "P", center),
                                               ("buy", "C", center + wing), ("buy", "P", center - wing))}))

    # 2. ATM short straddle (naked version of the fly: listed mostly so it can be an anti-setup)
    out.append(_evaluate("atm_short_straddle", "ATM short straddle", [
        _regime_conds_short_gamma(ctx),
        _Cond(md is not None and md <= PIN_MAGNET_MAX_SIGMAS, mag_txt,
              f"spot {_px(s)} not within {PIN_MAGNET_MAX_SIGMAS}σ of magnet {_px(magnet)}", 3, key=True),
        _Cond(inputs.pin_score >= PIN_LOCK_SCORE, f"pin score {inputs.pin_score} >= {PIN_LOCK_SCORE}",
              f"pin score {inputs.pin_score} < {PIN_LOCK_SCORE} (unhedged tails need a locked pin)", 2),
        _Cond(mins <= PIN_LOCK_MINUTES, f"{_time_left(mins)} to close (<= 60 min)",
              f"{_time_left(mins)} to close (> 60 min of naked gamma risk)", 2),
        _Cond(hedge_calm and flip_far, f"calm hedge flow, {flip_txt}",
              "hedge flow accelerating or gamma flip within 1σ", 2),
    ], {"structure": "short_straddle", "legs": _legs(("sell", "C", center), ("sell", "P", center))}))

    # 3. iron condor between the walls --------------------------------------------------------
    between = cw is not None and pw is not None and pw < s < cw
    room = (ctx.call_wall_gap_sigmas is not None and ctx.put_wall_gap_sigmas is not None
            and min(ctx.call_wall_gap_sigmas, ctx.put_wall_gap_sigmas) >= WALL_ROOM_SIGMAS)
    short_c = _round_step(cw if cw is not None else s + (sig or step), step)
    short_p = _round_step(pw if pw is not None else s - (sig or step), step)
    cwing = _wing(sig, step, 0.5)
    out.append(_evaluate("iron_condor_range", "Iron condor inside the walls", [
        _regime_conds_short_gamma(ctx),
        _Cond(between, f"spot {_px(s)} between put wall {_px(pw)} and call wall {_px(cw)}",
              f"spot {_px(s)} not between put wall {_px(pw)} and call wall {_px(cw)}", 3, key=True),
        _Cond(room, f"each wall >= {WALL_ROOM_SIGMAS}σ from spot", f"a wall is within {WALL_ROOM_SIGMAS}σ of spot", 2),
        _Cond(flip_far, flip_txt, f"{flip_txt} (< {FLIP_FAR_SIGMAS}σ)", 2),
        _Cond(flow_calm and hedge_calm, f"flow {flow}, hedge flow calm",
              f"flow {flow} / hedge flow accelerating", 1),
        _Cond(inputs.pin_score < PIN_TRADE_MIN_SCORE,
              f"pin score {inputs.pin_score} < {PIN_TRADE_MIN_SCORE} (no single-strike pin)",
              f"pin score {inputs.pin_score} >= {PIN_TRADE_MIN_SCORE}: a pin play fits better", 2),
        _Cond(mins >= PIN_LOCK_MINUTES, f"{_time_left(mins)} to close (room for theta)",
              f"{_time_left(mins)} to close (< 60 min)", 1),
    ], {"structure": "iron_condor", "legs": _legs(("sell", "P", short_p), ("buy", "P", short_p - cwing),
                                                  ("sell", "C", short_c), ("buy", "C", short_c + cwing))}))

    # 4. fade the wall -----------------------------------------------------------------------
    gaps = {"call": ctx.call_wall_gap_sigmas, "put": ctx.put_wall_gap_sigmas}
    known = {k: g for k, g in gaps.items() if g is not None}
    which = min(known, key=lambda k: abs(known[k])) if known else None
    wall = cw if which == "call" else pw
    g = known.get(which) if which else None
    at_wall = g is not None and -0.1 <= g <= WALL_NEAR_SIGMAS
    toward = 1 if which == "call" else -1
    chasing_wall = hedge["accelerating"] and hedge["direction"] == toward
    fwing = _wing(sig, step, 0.5)
    if which == "put" and pw is not None:
        fhint = {"structure": "bull_put_spread", "legs": _legs(("sell", "P", _round_step(pw, step)),
                                                               ("buy", "P", _round_step(pw, step) - fwing))}
    elif which == "call" and cw is not None:
        fhint = {"structure": "bear_call_spread", "legs": _legs(("sell", "C", _round_step(cw, step)),
                                                                ("buy", "C", _round_step(cw, step) + fwing))}
    else:
        fhint = {"structure": "none", "legs": []}
    wall_name = f"{which} wall {_px(wall)}" if which else "no wall"
    out.append(_evaluate("fade_the_wall", "Fade the wall (credit spread)", [
        _regime_conds_short_gamma(ctx),
        _Cond(at_wall, f"spot {_px(s)} at {wall_name} ({g:.2f}σ)" if g is not None else "",
              f"spot {_px(s)} not at a wall (nearest: {wall_name}"
              + (f", {g:.2f}σ)" if g is not None else ")"), 3, key=True),
        _Cond(not chasing_wall, "hedge flow not accelerating into the wall",
              "hedge flow accelerating into the wall", 2),
        _Cond(flip_far, flip_txt, f"{flip_txt} (< {FLIP_FAR_SIGMAS}σ)", 1),
    ], fhint))

    # 5. gamma squeeze breakout ------------------------------------------------------------------
    direction = hedge["direction"] or move_sign
    up = direction >= 0
    through = (up and ctx.call_wall_gap_sigmas is not None and ctx.call_wall_gap_sigmas < 0) or \
              (not up and ctx.put_wall_gap_sigmas is not None and ctx.put_wall_gap_sigmas < 0)
    bwall = f"call wall {_px(cw)}" if up else f"put wall {_px(pw)}"
    k_atm = _round_step(s, step)
    bwidth = _wing(sig, step, 1.0)
    bhint = ({"structure": "call_debit_spread", "legs": _legs(("buy", "C", k_atm), ("sell", "C", k_atm + bwidth)),
              "alternative": "long calls"} if up else
             {"structure": "put_debit_spread", "legs": _legs(("buy", "P", k_atm), ("sell", "P", k_atm - bwidth)),
              "alternative": "long puts"})
    way = "up" if up else "down"
    out.append(_evaluate("gamma_squeeze_breakout", "Gamma squeeze breakout (debit spread)", [
        _Cond(ctx.regime == "negative_gamma", "negative gamma regime (dealers amplify moves)",
              f"{ctx.regime.replace('_', ' ')} regime" + (f" with pin score {inputs.pin_score} locking"
                                                         if pin_locking else ""),
              3, key=True, severe=pin_locking),
        _Cond(hedge["accelerating"], f"hedge flow accelerating {way} ({_usd(hedge['recent_sum_usd'])} recent)",
              "hedge flow not accelerating in one direction", 3, key=True),
        _Cond(direction != 0 and move_sign == direction, f"spot moving {way} with the hedge flow",
              "spot move does not match the hedge flow", 2),
        _Cond(through, f"spot {_px(s)} through {bwall}", f"spot {_px(s)} not through {bwall}", 2),
        _Cond(flow in ("amplifying", "regime_flip") and ctx.regime == "negative_gamma",
              f"flow {flow} in negative gamma", f"flow {flow}", 1),
        _Cond(mins >= BREAKOUT_MIN_MINUTES, f"{_time_left(mins)} left for follow-through",
              f"only {_time_left(mins)} left", 1),
    ], bhint))

    # 6. flip-cross momentum ---------------------------------------------------------------------
    near_flip = fd is not None and fd <= FLIP_ALERT_SIGMAS
    cross_dir = ctx.flip_crossed or move_sign
    cup = cross_dir >= 0
    cross_txt = (f"spot crossed {'above' if ctx.flip_crossed > 0 else 'below'} gamma flip {_px(flip)}"
                 if ctx.flip_crossed else (f"spot within {fd:.2f}σ of gamma flip {_px(flip)}" if near_flip else ""))
    fhint2 = ({"structure": "call_debit_spread", "legs": _legs(("buy", "C", k_atm), ("sell", "C", k_atm + bwidth))}
              if cup else
              {"structure": "put_debit_spread", "legs": _legs(("buy", "P", k_atm), ("sell", "P", k_atm - bwidth))})
    cway = "up" if cup else "down"
    out.append(_evaluate("flip_cross_momentum", "Gamma-flip cross momentum", [
        _Cond(ctx.flip_crossed != 0 or near_flip, cross_txt,
              f"spot not at the gamma flip ({flip_txt})", 3, key=True),
        _Cond(cross_dir != 0 and hedge["direction"] == cross_dir, f"hedge flow {cway} with the cross",
              f"hedge flow not {cway}", 2),
        _Cond(cross_dir != 0 and move_sign == cross_dir, f"spot moving {cway}", "spot not moving through the flip", 2),
        _Cond(mins >= BREAKOUT_MIN_MINUTES, f"{_time_left(mins)} left for follow-through",
              f"only {_time_left(mins)} left", 1),
    ], fhint2))

    # 7. charm drift into the close -------------------------------------------------------------
    charm = _finite(inputs.charm_hedge_usd_per_hour)
    cdir = _sign(charm)
    cr = ctx.charm_to_gamma_ratio
    dup = cdir >= 0
    target = magnet if magnet is not None and _sign(magnet - s) == cdir else s + cdir * 0.5 * (sig or step)
    tk = _round_step(target, step)
    if tk == k_atm:
        tk = k_atm + (step if dup else -step)
    chint = ({"structure": "call_debit_spread", "legs": _legs(("buy", "C", k_atm), ("sell", "C", tk))} if dup else
             {"structure": "put_debit_spread", "legs": _legs(("buy", "P", k_atm), ("sell", "P", tk))})
    out.append(_evaluate("charm_drift_into_close", "Charm drift into the close", [
        _Cond(mins <= CHARM_MAX_MINUTES, f"{_time_left(mins)} to close (charm window)",
              f"{_time_left(mins)} to close (> 90 min)", 3, key=True),
        _Cond(cr is not None and cr >= CHARM_SIGNIFICANT_FRACTION and cdir != 0,
              f"charm hedging {_usd(charm)}/h = {cr:.2f}x a 1σ gamma hedge" if cr is not None else "",
              "charm hedging small vs gamma hedging" if cr is not None else "charm unknown", 3, key=True),
        _Cond(cdir != 0 and move_sign == cdir, "spot drifting with the charm flow",
              "spot not drifting with the charm flow", 1),
        _Cond(flip_far, flip_txt, f"{flip_txt} (< {FLIP_FAR_SIGMAS}σ)", 1),
    ], chint))
    return out


_DISPLAY_ORDER = {sid: i for i, sid in enumerate(SETUP_IDS)}


def _public(setup: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in setup.items() if not k.startswith("_")}


def evaluate_setups(inputs: DecisionInputs, ctx: DecisionContext | None = None) -> list[dict[str, Any]]:
    """Every play in SETUP_IDS order (except no_trade), each a Setup dict plus ``anti`` (bool) and
    ``anti_reason`` (str or None); confidences are before the low-signal halving."""
    ctx = ctx or decision_context(inputs)
    out = []
    for e in _setups(inputs, ctx):
        d = _public(e)
        d["anti"] = bool(e["_anti"])
        d["anti_reason"] = "; ".join(e["_anti"]) or None
        out.append(d)
    return out


def classify_setups(inputs: DecisionInputs, ctx: DecisionContext | None = None,
                    previous: PreviousLabels = NO_PREVIOUS) -> dict[str, Any]:
    """Rules engine over the textbook 0DTE plays: ``{primary, alternatives, anti_setups}``.

    confidence = (sum of met weights / sum of all weights) * 0.5 ** (failed key conditions).
    anti_setups: plays with a failed key condition marked severe (e.g. short premium in negative
    gamma; breakouts into a locking pin), each with ``reason``. primary: the highest-confidence
    non-anti play with confidence >= 0.5 (ties by SETUP_IDS order), else ``no_trade`` with
    confidence 1 - best; under low signal every confidence is halved and primary is always
    ``no_trade``. alternatives: up to 3 other non-anti plays with confidence >= 0.35.
    Hysteresis (``previous.setup_id``, the primary shown last time): a shown play stays primary
    while it is not anti and its confidence is >= 0.5 - SETUP_HOLD_MARGIN, unless another play is
    at least SETUP_SWITCH_MARGIN more confident. A new primary (a play or ``no_trade``) is shown only
    once it has been the rules' choice at every snapshot for SETUP_DWELL_MINUTES (``pending`` names it
    meanwhile), unless the shown play stopped being viable: anti, a failed key condition, confidence
    < SETUP_VIABLE_MIN_CONFIDENCE, or low signal. Confidences are always the current evaluation.
    """
    ctx = ctx or decision_context(inputs, previous)
    evaluated = _setups(inputs, ctx)
    if ctx.low_signal:
        for e in evaluated:
            e["confidence"] = round(e["confidence"] * LOW_SIGNAL_FACTOR, 2)
            e["conditions_failed"].append("low signal: " + ", ".join(ctx.low_signal_reasons))
    anti = [e for e in evaluated if e["_anti"]]
    eligible = sorted((e for e in evaluated if not e["_anti"]),
                      key=lambda e: (-e["confidence"], _DISPLAY_ORDER[e["id"]]))
    best = eligible[0] if eligible else None
    held = next((e for e in eligible if e["id"] == previous.setup_id), None)
    if (held is not None and best is not None and held is not best
            and held["confidence"] >= PRIMARY_MIN_CONFIDENCE - SETUP_HOLD_MARGIN
            and best["confidence"] < held["confidence"] + SETUP_SWITCH_MARGIN):
        best = held                     # keep the shown play: the challenger is not clearly better
        eligible = [held] + [e for e in eligible if e is not held]
    min_conf = PRIMARY_MIN_CONFIDENCE - (SETUP_HOLD_MARGIN if best is not None and best["id"] == previous.setup_id
                                         else 0.0)
    no_trade = ctx.low_signal or best is None or best["confidence"] < min_conf
    reading = "no_trade" if no_trade else str(best["id"]) if best is not None else "no_trade"
    # dwell: the shown primary gives way only to a reading that held for SETUP_DWELL_MINUTES, unless the
    # shown play is no longer viable (anti, a key condition failed, confidence < 0.35, low signal)
    shown = previous.setup_id
    viable = shown == "no_trade" or (not ctx.low_signal and any(
        e["id"] == shown and e["_key_failed"] == 0 and e["confidence"] >= SETUP_VIABLE_MIN_CONFIDENCE
        for e in eligible))
    label, pending, pending_since = (reading, None, None) if not viable else dwell_label(
        shown, reading, ctx.minutes_to_close, previous.setup_pending, previous.setup_pending_since_minutes,
        SETUP_DWELL_MINUTES)
    if label == "no_trade":
        if ctx.low_signal:
            why = list(ctx.low_signal_reasons)
        elif not no_trade and best is not None:
            why = [f"{best['display_name']} ({best['confidence']:.2f}) waits {SETUP_DWELL_MINUTES:g} minutes "
                   f"of confirmation"]
        else:
            why = [f"no setup reached {PRIMARY_MIN_CONFIDENCE:.2f} confidence"
                   + (f" (best: {best['display_name']} {best['confidence']:.2f})" if best else "")]
        primary = {"id": "no_trade", "display_name": "No trade (low signal)" if ctx.low_signal else "No trade",
                   "confidence": round(1.0 - (best["confidence"] if best else 0.0), 2),
                   "conditions_met": why, "conditions_failed": [],
                   "strikes_hint": {"structure": "none", "legs": []}}
        rest = eligible
    else:
        chosen = next(e for e in eligible if e["id"] == label)
        primary = _public(chosen)
        rest = [e for e in eligible if e is not chosen]
    alternatives = [_public(e) for e in rest if e["confidence"] >= ALTERNATIVE_MIN_CONFIDENCE][:MAX_ALTERNATIVES]
    anti_setups = []
    for e in sorted(anti, key=lambda e: _DISPLAY_ORDER[e["id"]]):
        d = _public(e)
        d["reason"] = "; ".join(e["_anti"])
        anti_setups.append(d)
    return {"primary": primary, "alternatives": alternatives, "anti_setups": anti_setups,
            "pending": None if pending is None else {"id": pending,
                                                     "since_minutes_to_close": _finite(pending_since)}}


def decide(inputs: DecisionInputs, previous: PreviousLabels = NO_PREVIOUS) -> dict[str, Any]:
    """``{flow_direction, headline, setup}`` from one shared context; ``previous`` (the labels shown
    last time, see :class:`LabelMemory`) drives the hysteresis. Pure."""
    ctx = decision_context(inputs, previous)
    return {"flow_direction": ctx.flow, "headline": headline(inputs, ctx, previous),
            "setup": classify_setups(inputs, ctx, previous)}


# ---- leaderboard ----------------------------------------------------------------------------
def leaderboard_metrics(hedge_flow_cumulative_usd: float, net_gex_usd: float, pin_score_value: int,
                        call_hedge_bars_usd: Sequence[float] | np.ndarray,
                        put_hedge_bars_usd: Sequence[float] | np.ndarray, charm_usd_per_hour: float | None,
                        n_bars: int = LEADERBOARD_ABS_FLOW_BARS,
                        gex_eps_usd: float = LEADERBOARD_GEX_EPS_USD) -> dict[str, float | int]:
    """Per-symbol leaderboard values (all >= 0, larger = hotter):

    heat            = |cumulative hedge flow $| / max(|net GEX $ per 1%|, 1e6)  (unit: 1%-moves of
                      dealer gamma hedging that today's flow represents)
    pin_risk        = pin score (0-100)
    abs_flow        = sum |call bar| + sum |put bar| over the last n_bars bars, USD
    charm_intensity = |charm $/hour|
    """
    cum = _finite(hedge_flow_cumulative_usd) or 0.0
    gex = _finite(net_gex_usd) or 0.0
    calls = np.asarray(call_hedge_bars_usd, dtype=np.float64).ravel()
    puts = np.asarray(put_hedge_bars_usd, dtype=np.float64).ravel()
    n = max(int(n_bars), 0)

    def tail_abs(a: np.ndarray) -> float:
        t = a[-n:] if n else a[:0]
        return float(np.nansum(np.abs(t)))

    return {"heat": abs(cum) / max(abs(gex), gex_eps_usd),
            "pin_risk": int(pin_score_value),
            "abs_flow": tail_abs(calls) + tail_abs(puts),
            "charm_intensity": abs(_finite(charm_usd_per_hour) or 0.0)}

