"""The ``snapshot`` response: an engine :class:`ChainState` -> the FlashAlpha-shaped snapshot dict.

Pure functions of their arguments (no locks, no sources); :mod:`zdte_tui.service.queries` calls
them. Every numeric output is a finite number or None (:mod:`zdte_tui.service.views.format`).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np

from zdte_tui.engine import decision
from zdte_tui.engine.exposure import MULT, dealer_delta_shares, net_gex_over_spots
from zdte_tui.engine.flow_engine import ChainState
from zdte_tui.engine.greeks import years_to_expiry
from zdte_tui.engine.params import EngineParams
from zdte_tui.engine.probabilities import (
    HOURS_PER_YEAR,
    ProbabilityInputs,
    close_probabilities,
    lognormal_band_probabilities,
)
from zdte_tui.engine.rows import fill_smile_rows
from zdte_tui.service.views.format import integer, iso, num, pct


def strike_step_near(grid: np.ndarray, spot: float) -> float:
    """Listed strike spacing near the money: the median gap of the 11 grid strikes around the one
    nearest ``spot`` (1.0 for a grid of fewer than two strikes)."""
    if len(grid) < 2:
        return 1.0
    k = int(np.argmin(np.abs(grid - spot)))
    d = np.diff(grid[max(0, k - 5): k + 6])
    return float(np.median(d)) if len(d) else 1.0


def strike_step(st: ChainState) -> float:
    return strike_step_near(st.strike_grid, st.spot)


def session_hours(st: ChainState) -> float:
    return (st.close_ns - st.open_ns) / 3600e9


def oi_top3_pct(st: ChainState) -> float | None:
    tot = st.call_oi + st.put_oi
    s = float(tot.sum())
    if s <= 0:
        return None
    return 100.0 * float(np.sort(tot)[-3:].sum()) / s


def gross_gex(st: ChainState) -> float:
    return float(np.abs(st.call_gex + st.put_gex).sum())


# ------------------------------------------------------------------------------ pin & probabilities
def pin_block(st: ChainState, params: EngineParams) -> dict[str, Any]:
    w = st.walls
    sigma = st.remaining_1sd_dollars
    top3 = oi_top3_pct(st)
    score, comps = decision.pin_score(st.spot, w.magnet, st.time_to_close_hours, session_hours(st), sigma, top3,
                                      w.magnet_gex, gross_gex(st))
    desc = "No magnet strike yet" if w.magnet is None else (
        f"Magnet {w.magnet:g} is {abs(st.spot - w.magnet):.2f} away ({pct(w.magnet, st.spot, 2)}% of spot); "
        f"pin score {score}/100 (oi {comps['oi_score']}, proximity {comps['proximity_score']}, "
        f"time {comps['time_score']}, gamma {comps['gamma_score']})")
    return {"magnet_strike": num(w.magnet), "magnet_gex": num(w.magnet_gex, 0),
            "distance_to_magnet_pct": pct(w.magnet, st.spot), "pin_score": score, "components": comps,
            "max_pain": num(st.max_pain), "oi_concentration_top3_pct": num(top3, 2), "description": desc}


def probability_inputs(strikes, is_call, iv, *, spot, t_years, r, q, atm_iv, magnet, net_gex, gross_gex, pin_score,
                       params: EngineParams, settled_close: float | None = None) -> ProbabilityInputs:
    """Close-distribution inputs: the OTM smile (calls above spot, puts below), the magnet, the pin band
    (``pin_band_pct`` of spot), the strike step near the money, the GEX regime, and the settlement
    print once the session is over (``settled_close``: odds resolve instead of staying live)."""
    iv = np.asarray(iv, dtype=np.float64)
    otm = np.where(is_call, strikes >= spot, strikes <= spot) & np.isfinite(iv)
    step = strike_step_near(np.unique(strikes), spot)
    return ProbabilityInputs(
        spot=float(spot), t_years=float(t_years), atm_iv=num(atm_iv), strikes=strikes[otm], ivs=iv[otm], r=r, q=q,
        magnet=num(magnet), pin_half_width_usd=float(spot) * params.pin_band_pct / 100.0, strike_step_usd=step,
        net_gex_usd=num(net_gex), gross_gex_usd=num(gross_gex), pin_score=num(pin_score),
        settled_close=num(settled_close))


def probabilities_block(st: ChainState, pin: dict, params: EngineParams, calibration=None) -> dict[str, Any]:
    inputs = probability_inputs(st.strikes, st.is_call, st.iv, spot=st.spot, t_years=st.t_years, r=st.r, q=st.q,
                                atm_iv=st.atm_iv, magnet=st.walls.magnet, net_gex=st.net_gex,
                                gross_gex=gross_gex(st), pin_score=pin["pin_score"], params=params,
                                settled_close=st.spot if st.as_of_ns >= st.close_ns else None)
    return close_probabilities(inputs, calibration)


def probabilities_at(strikes, is_call, iv, *, spot, t_ns, close_ns, r, q, atm_iv, magnet, net_gex, gross_gex,
                     pin_score, params: EngineParams, calibration=None) -> dict[str, Any]:
    """The snapshot's ``probabilities`` for a stored 30 s sample (same model and inputs; the sample at
    the close resolves like the snapshot does)."""
    t = float(years_to_expiry(t_ns, close_ns, params.min_time_to_expiry_seconds))
    inputs = probability_inputs(strikes, is_call, iv, spot=spot, t_years=t, r=r, q=q, atm_iv=atm_iv, magnet=magnet,
                                net_gex=net_gex, gross_gex=gross_gex, pin_score=pin_score, params=params,
                                settled_close=spot if t_ns >= close_ns else None)
    return close_probabilities(inputs, calibration)


def pin_probability_at(strikes, is_call, iv, *, spot, t_ns, close_ns, r, q, atm_iv, magnet, net_gex, gross_gex,
                       pin_score, params: EngineParams, calibration=None) -> float | None:
    """probabilities.pin.value for a stored 30 s sample (see :func:`probabilities_at`)."""
    return (probabilities_at(strikes, is_call, iv, spot=spot, t_ns=t_ns, close_ns=close_ns, r=r, q=q, atm_iv=atm_iv,
                             magnet=magnet, net_gex=net_gex, gross_gex=gross_gex, pin_score=pin_score, params=params,
                             calibration=calibration).get("pin") or {}).get("value")


def pin_probabilities_at(strikes, is_call, iv, *, spot, t_ns, close_ns, r, q, atm_iv, magnet, net_gex, gross_gex,
                         pin_score, params: EngineParams, calibration=None) -> np.ndarray:
    """:func:`pin_probability_at` for many stored samples at once (NaN where it is None): ``iv`` is
    one row per sample, ``spot`` ... ``pin_score`` and ``t_ns`` one value per sample.

    Where no calibration selects the model for ``pin`` (none is loaded by default), the value is the
    lognormal baseline at the sample's ATM IV (:func:`zdte_tui.engine.probabilities._choose_value`),
    computed for all those samples in one vectorized call
    (:func:`zdte_tui.engine.probabilities.lognormal_band_probabilities`). The other samples (the model
    selected, the close reached, no ATM IV, no spot, or no pin band from ``pin_band_pct``) take the
    per-sample path, which is the definition."""
    spot = np.asarray(spot, dtype=np.float64)
    t_ns = np.asarray(t_ns, dtype=np.int64)
    atm = np.asarray(atm_iv, dtype=np.float64)
    mag = np.asarray(magnet, dtype=np.float64)
    t = np.asarray(years_to_expiry(t_ns, close_ns, params.min_time_to_expiry_seconds), dtype=np.float64)
    half_width = spot * params.pin_band_pct / 100.0
    with np.errstate(invalid="ignore"):
        fast = (np.isfinite(spot) & (spot > 0) & (t_ns < close_ns) & np.isfinite(atm) & (atm > 0)
                & np.isfinite(mag) & np.isfinite(half_width) & (half_width > 0))
    if calibration is not None:
        hours = np.maximum(t, 0.0) * HOURS_PER_YEAR
        fast &= np.array([not calibration.selects_model("pin", float(h))[0] for h in hours], dtype=bool)
    out = np.full(spot.shape, np.nan)
    out[fast] = lognormal_band_probabilities(mag[fast] - half_width[fast], mag[fast] + half_width[fast], spot[fast],
                                             atm[fast], np.maximum(t[fast], 0.0), r, q)
    for i in np.flatnonzero(~fast):
        value = pin_probability_at(strikes, is_call, iv[i], spot=spot[i], t_ns=int(t_ns[i]), close_ns=close_ns, r=r,
                                   q=q, atm_iv=atm[i], magnet=mag[i], net_gex=np.asarray(net_gex)[i],
                                   gross_gex=np.asarray(gross_gex)[i], pin_score=np.asarray(pin_score)[i],
                                   params=params, calibration=calibration)
        out[i] = np.nan if value is None else value
    return out


# ------------------------------------------------------------------------------ snapshot
def decision_inputs(st: ChainState, pin: dict, probs: dict, recent: dict) -> decision.DecisionInputs:
    bars = recent.get("hedge_flow_bars_usd", np.zeros(0))
    spot_path = recent.get("spot_path", np.zeros(0))
    w = st.walls
    charm_hedge = -st.net_chex  # dealers trade against the delta charm hands them
    return decision.DecisionInputs(
        spot=st.spot, time_to_close_hours=st.time_to_close_hours, net_gex_live_usd=st.net_gex,
        net_gex_settled_usd=st.net_gex_settled, session_hours=session_hours(st), gross_gex_usd=gross_gex(st),
        contracts_with_flow=st.contracts_with_flow, total_abs_delta_contracts=st.total_abs_delta_contracts,
        gamma_flip=st.gamma_flip, call_wall=w.call_wall, put_wall=w.put_wall, magnet=w.magnet,
        max_pain=st.max_pain, atm_iv=st.atm_iv, pin_score=pin["pin_score"],
        pin_probability=(probs.get("pin") or {}).get("value"),
        hedge_flow_cumulative_usd=st.hedge_flow_call_cumulative + st.hedge_flow_put_cumulative,
        hedge_flow_recent_bars_usd=tuple(float(b) for b in bars),
        spot_recent_start=float(spot_path[0]) if len(spot_path) else None,
        net_dex_usd=st.net_dex, charm_hedge_usd_per_hour=charm_hedge, strike_step_usd=strike_step(st),
        expected_move_remaining_1sd_usd=st.remaining_1sd_dollars)


def snapshot_body(st: ChainState, params: EngineParams, calibration, recent: dict,
                  previous: decision.PreviousLabels = decision.NO_PREVIOUS) -> dict[str, Any]:
    """The snapshot response; ``previous`` = the labels shown last time (hysteresis of the regime,
    headline and setup words: docs/decision-layer.md, "Hysteresis")."""
    spot = st.spot
    w = st.walls
    sigma = st.remaining_1sd_dollars
    pin = pin_block(st, params)
    probs = probabilities_block(st, pin, params, calibration)
    dec = decision.decide(decision_inputs(st, pin, probs, recent), previous)
    hours_left = st.time_to_close_hours
    flip = st.gamma_flip
    shown_regime = dec["headline"]["regime"] if dec["headline"]["regime"] != "neutral" else st.regime
    regime_desc = ("Dealers are net long gamma: they sell rallies and buy dips, dampening moves."
                   if shown_regime == "positive_gamma" else
                   "Dealers are net short gamma: they buy rallies and sell dips, amplifying moves.")
    if shown_regime != st.regime:
        regime_desc += (f" (Held: net GEX {st.net_gex / 1e6:+,.1f}M is within the "
                        f"{decision.REGIME_MARGIN_FRACTION:.0%}-of-gross margin of zero.)")
    regime = {
        "label": shown_regime, "description": regime_desc, "gamma_flip": num(flip, 2),
        "gamma_flip_status": st.gamma_flip_status,
        "spot_vs_flip": ("above" if spot >= flip else "below") if flip is not None else None,
        "spot_to_flip_pct": pct(spot, flip) if flip is not None else None,
        "distance_to_flip_dollars": num(spot - flip, 2) if flip is not None else None,
        "distance_to_flip_sigmas": num((spot - flip) / sigma, 2) if (flip is not None and sigma) else None,
    }
    exposures = {"net_gex": num(st.net_gex, 0), "net_dex": num(st.net_dex, 0), "net_vex": num(st.net_vex, 0),
                 "net_chex": num(st.net_chex, 0), "pct_of_total_gex": 100.0,
                 "total_chain_net_gex": num(st.net_gex, 0),
                 "net_gex_settled": num(st.net_gex_settled, 0)}
    implied_1sd = st.straddle / math.sqrt(2.0 / math.pi) if st.straddle else None
    expected_move = {
        "implied_1sd_dollars": num(implied_1sd, 2),
        "implied_1sd_pct": num(implied_1sd / spot * 100, 3) if implied_1sd else None,
        "remaining_1sd_dollars": num(sigma, 2), "remaining_1sd_pct": num(sigma / spot * 100, 3) if sigma else None,
        "upper_bound": num(spot + sigma, 2) if sigma else None, "lower_bound": num(spot - sigma, 2) if sigma else None,
        "straddle_price": num(st.straddle, 2), "atm_iv": num(st.atm_iv, 4)}
    theta_day = st.net_theta_usd_per_day
    charm_regime = "charm_buying" if -st.net_chex > 0 else "charm_selling"
    decay = {
        "net_theta_dollars": num(theta_day, 0),
        "theta_per_hour_remaining": num(theta_day / 6.5, 0),
        "charm_regime": charm_regime,
        "charm_description": (f"Charm makes dealers {'buy' if -st.net_chex > 0 else 'sell'} about "
                              f"${abs(st.net_chex) / 1e6:,.1f}M of delta per hour as time passes"),
        "gamma_acceleration": num(st.net_gex / max(hours_left, 1 / 60) / 1e6, 3),
        "description": f"{hours_left:.1f} h to the close; dealer theta {theta_day / 1e6:+,.2f}M $/day",
    }
    vol_context = vol_context_block(st)
    call_oi, put_oi = st.call_oi, st.put_oi
    call_vol, put_vol = float(st.call_volume.sum()), float(st.put_volume.sum())
    tot_oi = float(call_oi.sum() + put_oi.sum())
    vol_by_strike = st.call_volume + st.put_volume
    tv = call_vol + put_vol
    atm_k = int(np.argmin(np.abs(st.strike_grid - spot))) if len(st.strike_grid) else 0
    flow = {
        "total_volume": int(tv), "call_volume": int(call_vol), "put_volume": int(put_vol),
        "net_call_minus_put_volume": int(call_vol - put_vol), "total_oi": int(round(tot_oi)),
        "call_oi": int(round(float(call_oi.sum()))), "put_oi": int(round(float(put_oi.sum()))),
        "pc_ratio_volume": num(put_vol / call_vol, 3) if call_vol else None,
        "pc_ratio_oi": num(float(put_oi.sum()) / float(call_oi.sum()), 3) if call_oi.sum() else None,
        "volume_to_oi_ratio": num(tv / tot_oi, 3) if tot_oi else None,
        "atm_volume_share_pct": num(100 * vol_by_strike[atm_k] / tv, 2) if tv else None,
        "top3_strike_volume_pct": num(100 * np.sort(vol_by_strike)[-3:].sum() / tv, 2) if tv else None,
    }
    gross = gross_gex(st)
    levels = {
        "call_wall": num(w.call_wall), "call_wall_gex": num(w.call_wall_gex, 0),
        "call_wall_strength": num(abs(w.call_wall_gex) / gross, 3) if (w.call_wall_gex and gross) else None,
        "distance_to_call_wall_pct": pct(w.call_wall, spot), "put_wall": num(w.put_wall),
        "put_wall_gex": num(w.put_wall_gex, 0),
        "put_wall_strength": num(abs(w.put_wall_gex) / gross, 3) if (w.put_wall_gex and gross) else None,
        "distance_to_put_wall_pct": pct(w.put_wall, spot),
        "magnet": num(w.magnet), "distance_to_magnet_dollars": num(w.magnet - spot, 2) if w.magnet else None,
        "max_pain": num(st.max_pain), "gamma_flip": num(flip, 2),
        "highest_oi_strike": num(w.highest_oi_strike), "highest_oi_total": w.highest_oi_total,
        "max_positive_gamma": num(w.max_positive_gamma), "max_negative_gamma": num(w.max_negative_gamma),
        "max_call_gex_strike": num(w.max_call_gex_strike), "max_call_gex": num(w.max_call_gex, 0),
        "max_put_gex_strike": num(w.max_put_gex_strike), "max_put_gex": num(w.max_put_gex, 0),
        "level_cluster_score": _cluster_score([w.call_wall, w.put_wall, w.magnet, st.max_pain, flip], spot),
    }
    spread_pct = np.where(np.isfinite(st.mid) & (np.asarray(st.mid) > 0),
                          (np.asarray(st.ask) - np.nan_to_num(np.asarray(st.bid))) / np.asarray(st.mid) * 100, np.nan)
    at = st.strike_index == atm_k
    atm_spread = float(np.nanmean(spread_pct[at])) if np.isfinite(spread_pct[at]).any() else None
    wts = np.asarray(st.volume)
    ok = np.isfinite(spread_pct) & (wts > 0)
    weighted = float(np.average(spread_pct[ok], weights=wts[ok])) if ok.any() else None
    liquidity = {"atm_spread_pct": num(atm_spread, 3), "weighted_spread_pct": num(weighted, 3),
                 "execution_score": integer(max(0.0, 100.0 - 10.0 * (weighted or atm_spread or 10.0)))}
    metadata = {"snapshot_age_seconds": 0.0, "chain_contract_count": int(len(st.strikes)),
                "data_quality_score": integer(100 * st.iv_coverage),
                "greek_smoothness_score": _smoothness(st),
                "model": "zdte effective-OI engine (estimates; docs/model.md)",
                "dealer_convention": None}
    body = {
        "symbol": st.symbol, "underlying_price": num(spot, 4), "expiration": str(st.expiry), "as_of": iso(st.as_of_ns),
        "market_open": bool(st.open_ns <= st.as_of_ns < st.close_ns),
        "time_to_close_hours": num(hours_left, 3),
        "time_to_close_pct": num(100 * hours_left / session_hours(st), 2),
        "previous_close": num(st.prev_close, 4), "change_pct": pct(spot, st.prev_close),
        "regime": regime, "exposures": exposures, "expected_move": expected_move, "pin_risk": pin,
        "hedging": hedging_buckets(st), "decay": decay, "vol_context": vol_context, "flow": flow, "levels": levels,
        "liquidity": liquidity, "metadata": metadata, "strikes": strikes_block(st),
        "flow_direction": dec["flow_direction"], "headline": dec["headline"], "setup": dec["setup"],
        "probabilities": probs,
    }
    if hours_left * 60 < 5:
        body["warnings"] = ["less than 5 minutes to the close: greeks are unstable (time floor applies)"]
    return body


def vol_context_block(st: ChainState) -> dict[str, Any]:
    """0DTE ATM IV beside the next-week expiry's (from the source's :class:`VolContext`, if any).

    iv_ratio_0dte_7dte = zero_dte_atm_iv / seven_dte_atm_iv (> 1: today's expiry is bid over the week);
    fields the source does not carry are null and the description says which."""
    vc = st.vol_context
    term_iv = num(vc.term_atm_iv) if vc is not None else None
    vix = num(vc.vix) if vc is not None else None
    ratio = num(st.atm_iv / term_iv, 3) if (st.atm_iv and term_iv) else None
    missing = [name for name, v in (("7DTE IV", term_iv), ("VIX", vix)) if v is None]
    origin = f" ({vc.origin})" if vc is not None and vc.origin else ""
    if vc is not None and not missing:
        desc = f"7DTE IV from the {vc.term_expiry} expiry{origin}; VIX {vix:g}."
    elif vc is not None and term_iv is not None:
        desc = f"7DTE IV from the {vc.term_expiry} expiry{origin}; VIX is not available from this source (null)."
    elif vix is not None:
        desc = f"VIX {vix:g}{origin}; this source carries no next-week expiry: 7DTE IV is not available (null)."
    else:
        desc = "This source carries no next-week expiry and no VIX: 7DTE IV and VIX are not available (null)."
    return {
        "zero_dte_atm_iv": num(st.atm_iv, 4), "seven_dte_atm_iv": num(term_iv, 4), "iv_ratio_0dte_7dte": ratio,
        "vix": vix, "seven_dte_expiration": vc.term_expiry.isoformat() if vc is not None and vc.term_expiry else None,
        "vanna_exposure": num(st.net_vex, 0),
        "vanna_interpretation": ("vol down -> dealers buy delta" if st.net_vex < 0
                                 else "vol down -> dealers sell delta"),
        "description": desc}


def _cluster_score(levels: list, spot: float) -> int | None:
    """0-100: how tightly the named levels cluster within 0.5% of spot (100 = all of them)."""
    vals = [v for v in levels if v is not None]
    if not vals:
        return None
    near = sum(1 for v in vals if abs(v - spot) / spot <= 0.005)
    return int(round(100 * near / len(vals)))


def _smoothness(st: ChainState) -> int | None:
    """100 - scaled mean absolute second difference of the OTM IV smile in strike (vol points)."""
    iv = np.asarray(st.iv)
    otm = np.where(st.is_call, st.strikes >= st.spot, st.strikes <= st.spot) & np.isfinite(iv)
    if otm.sum() < 5:
        return None
    order = np.argsort(st.strikes[otm])
    v = iv[otm][order] * 100
    rough = float(np.mean(np.abs(np.diff(v, 2))))
    return int(max(0, min(100, round(100 - 20 * rough))))


def strikes_block(st: ChainState) -> list[dict]:
    """Per-strike rows (ZeroDteStrike), built column-wise."""
    g = st.strike_grid
    n = len(g)
    calls = st.is_call
    idx_c = np.full(n, -1)
    idx_p = np.full(n, -1)
    idx_c[st.strike_index[calls]] = np.flatnonzero(calls)
    idx_p[st.strike_index[~calls]] = np.flatnonzero(~calls)

    def col(arr, idx, nd):
        a = np.where(idx >= 0, np.asarray(arr, dtype=np.float64)[np.maximum(idx, 0)], np.nan)
        r = np.round(a, nd)
        return [None if not math.isfinite(x) else x for x in r.tolist()]

    mid = np.asarray(st.mid)
    spread = np.where(mid > 0, (np.asarray(st.ask) - np.nan_to_num(np.asarray(st.bid))) / mid * 100, np.nan)
    net_gex = st.call_gex + st.put_gex
    gross = np.abs(net_gex).sum()
    tot_oi = (st.call_oi + st.put_oi)
    tot_vol = st.call_volume + st.put_volume
    cols = {
        "strike": [float(x) for x in g],
        "distance_from_spot_pct": np.round((g - st.spot) / st.spot * 100, 3).tolist(),
        "call_gex": np.round(st.call_gex, 0).tolist(), "put_gex": np.round(st.put_gex, 0).tolist(),
        "net_gex": np.round(net_gex, 0).tolist(), "call_dex": np.round(st.call_dex, 0).tolist(),
        "put_dex": np.round(st.put_dex, 0).tolist(), "net_dex": np.round(st.call_dex + st.put_dex, 0).tolist(),
        "net_vex": np.round(st.strike_vex, 0).tolist(), "net_chex": np.round(st.strike_chex, 0).tolist(),
        "call_oi": np.rint(st.call_oi).astype(int).tolist(), "put_oi": np.rint(st.put_oi).astype(int).tolist(),
        "call_oi_settled": col(st.settled_oi, idx_c, 0), "put_oi_settled": col(st.settled_oi, idx_p, 0),
        "call_volume": np.rint(st.call_volume).astype(int).tolist(),
        "put_volume": np.rint(st.put_volume).astype(int).tolist(),
        "gex_share_pct": (np.round(np.abs(net_gex) / gross * 100, 2) if gross else np.zeros(n)).tolist(),
        "oi_share_pct": (np.round(tot_oi / tot_oi.sum() * 100, 2) if tot_oi.sum() else np.zeros(n)).tolist(),
        "volume_share_pct": (np.round(tot_vol / tot_vol.sum() * 100, 2) if tot_vol.sum() else np.zeros(n)).tolist(),
        "call_gex_settled": np.round(st.call_gex_settled, 0).tolist(),
        "put_gex_settled": np.round(st.put_gex_settled, 0).tolist(),
        "call_iv": col(st.iv, idx_c, 4), "put_iv": col(st.iv, idx_p, 4),
        "call_delta": col(st.delta, idx_c, 4), "put_delta": col(st.delta, idx_p, 4),
        "call_gamma": col(st.gamma, idx_c, 6), "put_gamma": col(st.gamma, idx_p, 6),
        "call_theta": col(st.theta / 365.0, idx_c, 4), "put_theta": col(st.theta / 365.0, idx_p, 4),
        "call_mid": col(mid, idx_c, 3), "put_mid": col(mid, idx_p, 3),
        "call_spread_pct": col(spread, idx_c, 2), "put_spread_pct": col(spread, idx_p, 2),
        "call_net_oi_delta": col(st.net_oi_delta, idx_c, 0), "put_net_oi_delta": col(st.net_oi_delta, idx_p, 0),
    }
    syms = st.occ_symbols
    if syms:
        cols["call_symbol"] = [syms[i] if i >= 0 else None for i in idx_c.tolist()]
        cols["put_symbol"] = [syms[i] if i >= 0 else None for i in idx_p.tolist()]
    keys = list(cols)
    return [dict(zip(keys, row)) for row in zip(*(cols[k] for k in keys))]


def hedging_buckets(st: ChainState) -> dict:
    """Dealer shares to trade for +-10bp/25bp/0.5%/1% spot moves, re-pricing the book's delta."""
    moves = {"10bp": 0.001, "25bp": 0.0025, "half_pct": 0.005, "1pct": 0.01}
    spots = [st.spot]
    for m in moves.values():
        spots += [st.spot * (1 + m), st.spot * (1 - m)]
    iv = np.asarray(st.iv)
    sig = fill_smile_rows(st.strikes, st.is_call, iv[None, :], np.array([st.spot]))[0]
    d = dealer_delta_shares(np.array(spots), st.is_call, st.strikes, st.t_years, st.r, st.q, sig,
                            np.asarray(st.position))
    out: dict[str, Any] = {}
    for i, name in enumerate(moves):
        for j, direction in enumerate(("up", "down")):
            k = 1 + 2 * i + j
            shares = -(d[k] - d[0])  # dealers trade against their delta change
            out[f"spot_{direction}_{name}"] = {
                "dealer_shares_to_trade": num(shares, 0) or 0.0, "direction": "buy" if shares >= 0 else "sell",
                "notional_usd": num(abs(shares) * spots[k], 0) or 0.0}
    gamma_shares = float(np.nansum(np.asarray(st.gamma) * np.asarray(st.position)) * MULT)
    out["convexity_at_spot"] = num(gamma_shares, 2)
    return out


# ------------------------------------------------------------------------------ no snapshot
def no_zero_dte_body(symbol: str, as_of: str | None, session: dt.date, next_expiry: dt.date | None) -> dict[str, Any]:
    """The snapshot of a symbol with no same-day expiry on ``session``."""
    return {"symbol": symbol, "as_of": as_of, "no_zero_dte": True, "body": None, "market_open": False,
            "next_zero_dte_expiry": next_expiry.isoformat() if next_expiry else None,
            "message": f"{symbol} has no same-day expiry on {session.isoformat()}"
                       + (f"; next 0DTE expiry {next_expiry.isoformat()}" if next_expiry else "")}


def session_closed_body(st: ChainState, last_session: dt.date, next_expiry: dt.date | None) -> dict[str, Any]:
    """The snapshot outside the cash session: the last session and the next 0DTE expiry."""
    sym = st.symbol
    return {"symbol": sym, "as_of": iso(st.as_of_ns), "session_closed": True, "market_open": False,
            "body": None, "underlying_price": num(st.spot, 4), "last_session": last_session.isoformat(),
            "next_zero_dte_expiry": next_expiry.isoformat() if next_expiry else None,
            "message": f"{sym}: the 0DTE session is closed"
                       + (f"; next 0DTE expiry {next_expiry.isoformat()}" if next_expiry else "")}


# ------------------------------------------------------------------------------ GEX profile
PROFILE_POINTS = 81


def gex_profile_block(st: ChainState, params: EngineParams) -> dict[str, Any]:
    """Net dealer GEX ($ per 1 % move) of the whole chain re-priced at each spot of a grid over
    +-``flip_grid_pct`` % of spot: sticky-strike IV (the smile-filled IVs of this state), time to
    expiry and dealer positions as of ``as_of``. Its zero nearest spot is ``levels.gamma_flip``."""
    spot = st.spot
    empty: dict[str, Any] = {"spots": [], "net_gex": [], "spot": num(spot, 4), "gamma_flip": num(st.gamma_flip, 2),
             "call_wall": num(st.walls.call_wall), "put_wall": num(st.walls.put_wall),
             "grid_pct": params.flip_grid_pct, "units": "USD per 1% move",
             "method": "net dealer GEX re-priced over a spot grid (sticky-strike IV, positions and time as of as_of)"}
    if not (math.isfinite(spot) and spot > 0) or not len(st.strikes):
        return empty
    sig = fill_smile_rows(st.strikes, st.is_call, np.asarray(st.iv)[None, :], np.array([spot]))[0]
    spots = spot * (1.0 + np.linspace(-params.flip_grid_pct, params.flip_grid_pct, PROFILE_POINTS) / 100.0)
    pos = np.where(np.isfinite(sig), np.asarray(st.position, dtype=np.float64), 0.0)
    net = net_gex_over_spots(spots, st.is_call, st.strikes, st.t_years, st.r, st.q,
                             np.where(np.isfinite(sig), sig, np.nan), pos)
    empty["spots"] = [round(float(x), 4) for x in spots]
    empty["net_gex"] = [round(float(x), 0) for x in net]
    return empty


def apply_delayed_snapshot(body: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """A delayed snapshot's provenance in ``metadata`` (label, file time, projection, spot used,
    settlement roots, counts of rows left out or defaulted by reason); rows dropped or defaulted
    lower ``data_quality_score`` in proportion to the rows read."""
    meta = body.setdefault("metadata", {})
    meta["source_label"] = info.get("label")
    meta["delayed_snapshot"] = info
    counts = dict(info.get("counts") or {})
    meta["input_counts"] = counts
    read = max(1, int((info.get("rows") or {}).get("read") or 0))
    affected = sum(v for k, v in counts.items() if k.startswith(("dropped:", "defaulted:")))
    score = meta.get("data_quality_score")
    if isinstance(score, (int, float)):
        meta["data_quality_score"] = integer(score * max(0.0, 1.0 - affected / read))
    if info.get("projected"):
        body["market_open"] = False
    return body
