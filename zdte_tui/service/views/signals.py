"""The ``signals`` response: block-sized prints and sweeps from the engine's trade log, scored."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from zdte_tui.engine import scoring
from zdte_tui.engine.classify import AGGRESSOR_LABELS, SIDE_LABELS
from zdte_tui.engine.exposure import MULT
from zdte_tui.engine.flow_engine import ChainState
from zdte_tui.engine.oi import BIAS_LABELS
from zdte_tui.engine.params import EngineParams
from zdte_tui.market.events import NS_PER_SECOND
from zdte_tui.service.views.format import integer, iso, num
from zdte_tui.service.views.snapshot import strike_step


def signals_body(st: ChainState, log: dict[str, np.ndarray], params: EngineParams, *, min_score: float,
                 intent: str | None, structure: str | None, window_minutes: int, limit: int,
                 expiry: dt.date | None) -> dict[str, Any]:
    """Every block-sized lone print or sweep (>= 2 same-side prints on a contract within the sweep
    window, coalesced into one signal) in the look-back window, scored and filtered."""
    out: dict[str, Any] = {"symbol": st.symbol, "as_of": iso(st.as_of_ns), "window_minutes": window_minutes,
           "expiry": expiry.isoformat() if expiry else None, "underlying_price": num(st.spot, 4),
           "chain": {"call_wall": num(st.walls.call_wall), "put_wall": num(st.walls.put_wall),
                     "max_pain": num(st.max_pain), "gamma_flip": num(st.gamma_flip, 2),
                     "gamma_flip_status": st.gamma_flip_status},
           "count": 0, "signals": []}
    if expiry is not None and expiry != st.expiry:
        return out
    ts = log["ts_ns"]
    lo = st.as_of_ns - window_minutes * 60 * NS_PER_SECOND
    m = ts >= lo
    if not m.any():
        return out
    ts, c, px, sz, aggr, side, grp = (log[k][m]
                                      for k in ("ts_ns", "contract", "price", "size", "aggressor", "side", "group"))
    # group sizes over the window (a sweep whose first legs fell before the window still counts)
    uniq, inv, counts = np.unique(grp, return_inverse=True, return_counts=True)
    sweep = counts[inv] >= 2
    block = (~sweep) & (sz >= params.block_size_for(st.symbol))
    keep = sweep | block
    if not keep.any():
        return out
    # coalesce: one signal per group (first leg's time; summed size and premium; VWAP price)
    g = inv[keep]
    order = np.argsort(g, kind="stable")
    gk = g[order]
    first = np.ones(len(gk), dtype=bool)
    first[1:] = gk[1:] != gk[:-1]
    seg = np.cumsum(first) - 1
    idx = np.flatnonzero(keep)[order]
    size_sum = np.bincount(seg, weights=sz[idx].astype(float))
    prem = np.bincount(seg, weights=(px[idx] * sz[idx] * MULT))
    lead = idx[first]
    price = prem / (size_sum * MULT)
    contract = c[lead]
    is_sweep = sweep[lead]
    sgn = side[lead]
    # strongest aggressor label in the group, in the group's direction
    aggr_abs = np.zeros(len(lead), dtype=np.int64)
    np.maximum.at(aggr_abs, seg, np.where(aggr[idx] == -9, 0, np.abs(aggr[idx])))
    aggr_code = np.where(aggr[lead] == -9, -9, aggr_abs * np.where(sgn != 0, sgn, 0))
    aggr_code = np.where((sgn == 0) & (aggr[lead] != -9), 0, aggr_code)
    bias = np.asarray(st.bias)[contract]
    conf = np.asarray(st.bias_confidence)[contract]
    oi_c = np.asarray(st.effective_oi)[contract]
    dte = np.zeros(len(lead))
    score, breakdown = scoring.score_signals(prem, size_sum, oi_c, aggr_code, is_sweep, bias, dte, sgn)
    intents = scoring.signal_intent(np.asarray(st.is_call, dtype=bool)[contract], sgn, bias)  # bool: no string pass
    structures = np.where(is_sweep, "sweep", "block")
    sel = score >= min_score
    if intent is not None:
        sel &= intents == intent
    if structure is not None:
        sel &= structures == structure
    sel_idx = np.flatnonzero(sel)
    sel_idx = sel_idx[np.lexsort((-ts[lead][sel_idx], -score[sel_idx]))][:limit]
    golden = scoring.golden_mask(score[sel_idx])
    tags = scoring.signal_tags(prem[sel_idx], is_sweep[sel_idx], bias[sel_idx], dte[sel_idx], golden)
    conv = scoring.conviction(score[sel_idx])
    iv = np.asarray(st.iv)
    delta = np.asarray(st.delta)
    gamma = np.asarray(st.gamma)
    step = strike_step(st)
    signals = []
    for j, i in enumerate(sel_idx.tolist()):
        k = int(contract[i])
        K = float(st.strikes[k])
        is_call = bool(st.is_call[k])
        if abs(K - st.spot) <= 0.5 * step:
            money = "ATM"
        else:
            money = "ITM" if (K < st.spot) == is_call else "OTM"
        d, gm, v = num(delta[k], 4), num(gamma[k], 6), num(iv[k], 4)
        signals.append({
            "ts": iso(int(ts[lead[i]])), "expiry": str(st.expiry), "strike": K, "right": "C" if is_call else "P",
            "side": SIDE_LABELS[int(sgn[i])], "price": num(price[i], 4), "size": int(size_sum[i]),
            "premium": num(prem[i], 2), "dte": 0, "structure": str(structures[i]),
            "aggressor": AGGRESSOR_LABELS[int(aggr_code[i])], "open_close_bias": BIAS_LABELS[int(bias[i])],
            "open_close_confidence": num(conf[i], 3), "contract_net_oi_delta": integer(st.net_oi_delta[k]),
            "intent": str(intents[i]), "score": int(score[i]), "conviction": str(conv[j]), "tags": list(tags[j]),
            "score_breakdown": {key: int(val[i]) for key, val in breakdown.items()},
            "enrichment": {
                "iv": v, "delta": d, "gamma": gm,
                "iv_vs_atm": num(iv[k] - st.atm_iv, 4) if (v is not None and st.atm_iv is not None) else None,
                "moneyness": money if d is not None else "unknown",
                "estimated_delta_notional": num(abs(delta[k]) * size_sum[i] * MULT * st.spot, 2),
                "hypothetical_gex_impact_if_opening": num(gamma[k] * size_sum[i] * MULT * st.spot ** 2 * 0.01, 2),
            },
        })
    out["signals"] = signals
    out["count"] = len(signals)
    return out


__all__ = ["signals_body"]
