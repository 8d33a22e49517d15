"""Open/close inference accuracy (docs/accuracy.md): score the engine against the simulator's truth.

:func:`inference_accuracy` compares the engine's per-contract net OI delta, open/close bias,
effective OI and per-print buy/sell sides with the simulator's
:class:`~zdte_tui.sources.sim_model.SessionTruth`; :func:`oi_accuracy_at` scores the effective OI
and the dealer GEX at one time; :func:`measure_inference_accuracy` runs one simulated day through
a FlowService and scores it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from zdte_tui.engine.oi import open_close_bias
from zdte_tui.evaluation.probability_fit import without_calibration


def inference_accuracy(*, net_oi_delta_est: Any, volume: Any, settled_oi: Any, effective_oi: Any,
                       oi_eod_true: Any, bias_est: Any, bias_threshold: float, print_side_est: Any,
                       print_side_true: Any, print_size: Any) -> dict[str, float | int | None]:
    """Score the engine's open/close inference and trade classification against the truth.

    Per contract (arrays aligned with the chain), on contracts with volume > 0:
      true_delta = oi_eod_true - settled_oi; true bias = :func:`open_close_bias` (true_delta, volume,
      bias_threshold), the same rule the engine applies to its estimate.
      bias_label_accuracy_volume_weighted  = sum(v * [bias_est == bias_true]) / sum(v)
      bias_sign_accuracy_volume_weighted   = same, over contracts where both labels are non-unknown
      bias_majority_baseline_volume_weighted = volume share of the most common true label (chance)
      delta_sign_accuracy_volume_weighted  = sum(v * [sign(est) == sign(true)]) / sum(v), true != 0
      delta_sign_majority_baseline_volume_weighted = volume share of the commoner true sign there (chance)
      delta_correlation                    = Pearson corr(est, true)
      delta_mae_over_volume                = sum |est - true| / sum(v)
      effective_oi_abs_error / settled_oi_abs_error = sum |eff - oi_eod| vs sum |settled - oi_eod|
      effective_oi_closer_share            = share of traded contracts where |eff - true| < |settled - true|
      net_opening_ratio                    = sum(est) / sum(true delta): the chain-wide OI change found
      bias_confusion_volume_share[i][j]    = volume share with engine label i and true label j, both in
                                             ``bias_labels`` order (closing, unknown, opening)
    Per print: side_accuracy = mean([side_est == side_true]) (an unattributed mid print counts as wrong),
      side_accuracy_size_weighted, side_accuracy_classified (excluding side_est == 0), side_coverage,
      and the chance reference side_majority_baseline = share of the commoner true side.
    """
    est = np.asarray(net_oi_delta_est, dtype=np.float64)
    vol = np.asarray(volume, dtype=np.float64)
    settled = np.asarray(settled_oi, dtype=np.float64)
    eff = np.asarray(effective_oi, dtype=np.float64)
    true_eod = np.asarray(oi_eod_true, dtype=np.float64)
    true_delta = true_eod - settled
    b_est = np.asarray(bias_est, dtype=np.int8)
    b_true, _ = open_close_bias(true_delta, vol, bias_threshold)
    traded = vol > 0
    v = vol[traded]
    v_sum = float(v.sum())

    def wmean(mask: np.ndarray, weight: np.ndarray) -> float | None:
        w = float(weight.sum())
        return float((weight * mask).sum() / w) if w > 0 else None

    bt, be = b_true[traded], b_est[traded]
    labelled = (bt != 0) & (be != 0)
    majority = None
    if v_sum > 0:
        majority = max(float(v[bt == lab].sum()) for lab in (-1, 0, 1)) / v_sum
    nz = true_delta[traded] != 0
    e_t, t_t = est[traded], true_delta[traded]
    corr = None
    if traded.sum() > 2 and np.std(e_t) > 0 and np.std(t_t) > 0:
        corr = float(np.corrcoef(e_t, t_t)[0, 1])
    labels = np.array([-1, 0, 1], dtype=np.int8)  # closing, unknown, opening
    confusion = np.zeros((3, 3))
    if v_sum > 0:  # volume share with engine label i (rows) and true label j (columns)
        key = (be.astype(np.int64) + 1) * 3 + (bt.astype(np.int64) + 1)
        confusion = np.bincount(key, weights=v, minlength=9).reshape(3, 3) / v_sum
    true_total = float(t_t.sum())
    err_eff = np.abs(eff - true_eod)
    err_settled = np.abs(settled - true_eod)

    s_est = np.asarray(print_side_est, dtype=np.int8)
    s_true = np.asarray(print_side_true, dtype=np.int8)
    size = np.asarray(print_size, dtype=np.float64)
    if s_est.shape != s_true.shape:
        raise ValueError(f"print sides are not aligned: {s_est.size} estimated vs {s_true.size} true")
    match = s_est == s_true
    classified = s_est != 0
    return {
        "contracts_traded": int(traded.sum()),
        "volume": v_sum,
        "bias_label_accuracy_volume_weighted": wmean(be == bt, v),
        "bias_sign_accuracy_volume_weighted": wmean((be == bt)[labelled], v[labelled]),
        "bias_sign_coverage_volume_weighted": wmean(labelled, v),
        "bias_majority_baseline_volume_weighted": majority,
        "delta_sign_accuracy_volume_weighted": wmean((np.sign(e_t) == np.sign(t_t))[nz], v[nz]),
        "delta_sign_majority_baseline_volume_weighted": (max(wmean(t_t[nz] > 0, v[nz]), wmean(t_t[nz] < 0, v[nz]))
                                                         if nz.any() and v[nz].sum() > 0 else None),
        "delta_correlation": corr,
        "delta_mae_over_volume": float(np.abs(e_t - t_t).sum() / v_sum) if v_sum > 0 else None,
        "true_abs_delta_over_volume": float(np.abs(t_t).sum() / v_sum) if v_sum > 0 else None,
        "net_opening_ratio": float(e_t.sum() / true_total) if true_total != 0 else None,
        "bias_confusion_volume_share": confusion.tolist(),
        "bias_labels": labels.tolist(),
        "effective_oi_abs_error": float(err_eff.sum()),
        "settled_oi_abs_error": float(err_settled.sum()),
        "effective_oi_closer_share": float((err_eff[traded] < err_settled[traded]).mean()) if traded.any() else None,
        "prints": int(s_true.size),
        "side_accuracy": float(match.mean()) if match.size else None,
        "side_accuracy_size_weighted": wmean(match, size),
        "side_accuracy_classified": float(match[classified].mean()) if classified.any() else None,
        "side_coverage": float(classified.mean()) if classified.size else None,
        "side_majority_baseline": (float(max((s_true == 1).mean(), (s_true == -1).mean()))
                                   if s_true.size else None),
    }


INTRADAY_TIMES_ET = ("10:30", "12:00", "14:00", "15:45")


def oi_accuracy_at(*, effective_oi: Any, settled_oi: Any, true_oi: Any, volume: Any, gamma: Any, is_call: Any,
                   spot: float, dealer_convention: str, engine_position: Any = None,
                   true_dealer_position: Any = None) -> dict[str, float | None]:
    """Effective OI vs the true OI at one instant, and the net GEX each implies.

    oi_abs_error_pct_of_true      = 100 * sum |effective - true| / sum true
    settled_abs_error_pct_of_true = 100 * sum |settled - true| / sum true   (the naive baseline)
    delta_correlation             = corr(effective - settled, true - settled) over traded contracts
    net_gex_*_usd                 = sum gamma * sign * OI * 100 * S^2 * 0.01 on effective / true / settled OI,
                                    sign = the static dealer convention (None for ``customer_flow``)
    net_gex_error_pct_of_gross    = 100 * |GEX(effective) - GEX(true)| / sum |gamma sign true OI 100 S^2 0.01|
    regime_agrees                 = sign GEX(effective) == sign GEX(true) (1.0 / 0.0)
    With ``engine_position`` (the engine's signed dealer contracts) and ``true_dealer_position``
    (the simulator's), also the full comparison, convention included:
    net_gex_engine_usd / net_gex_true_dealer_usd, net_gex_vs_true_dealer_error_pct_of_gross (gross of
    the true dealer book) and regime_agrees_true_dealer.
    """
    from zdte_tui.engine.exposure import dealer_sign, gex_usd

    eff = np.asarray(effective_oi, dtype=np.float64)
    settled = np.asarray(settled_oi, dtype=np.float64)
    true = np.asarray(true_oi, dtype=np.float64)
    traded = np.asarray(volume, dtype=np.float64) > 0
    total = float(true.sum())
    est_d, true_d = (eff - settled)[traded], (true - settled)[traded]
    corr = None
    if traded.sum() > 2 and np.std(est_d) > 0 and np.std(true_d) > 0:
        corr = float(np.corrcoef(est_d, true_d)[0, 1])
    out: dict[str, float | None] = {
        "oi_abs_error_pct_of_true": 100.0 * float(np.abs(eff - true).sum()) / total if total > 0 else None,
        "settled_abs_error_pct_of_true": 100.0 * float(np.abs(settled - true).sum()) / total if total > 0 else None,
        "delta_correlation": corr,
        "net_gex_effective_usd": None, "net_gex_true_usd": None, "net_gex_settled_usd": None,
        "net_gex_error_pct_of_gross": None, "net_gex_settled_error_pct_of_gross": None, "regime_agrees": None,
    }
    if not math.isfinite(spot):
        return out
    g = np.nan_to_num(np.asarray(gamma, dtype=np.float64))
    if engine_position is not None and true_dealer_position is not None:
        per_dealer = gex_usd(g, np.asarray(true_dealer_position, dtype=np.float64), spot)
        gex_engine = float(gex_usd(g, np.nan_to_num(np.asarray(engine_position, dtype=np.float64)), spot).sum())
        gex_dealer, gross_dealer = float(per_dealer.sum()), float(np.abs(per_dealer).sum())
        out.update({"net_gex_engine_usd": gex_engine, "net_gex_true_dealer_usd": gex_dealer,
                    "net_gex_vs_true_dealer_error_pct_of_gross":
                        100.0 * abs(gex_engine - gex_dealer) / gross_dealer if gross_dealer > 0 else None,
                    "regime_agrees_true_dealer": float(np.sign(gex_engine) == np.sign(gex_dealer))})
    if dealer_convention == "customer_flow":
        return out
    sign = dealer_sign(np.asarray(is_call, dtype=bool), dealer_convention)
    per_true = gex_usd(g, sign * true, spot)
    gex_eff, gex_true = float(gex_usd(g, sign * eff, spot).sum()), float(per_true.sum())
    gex_settled = float(gex_usd(g, sign * settled, spot).sum())
    gross = float(np.abs(per_true).sum())
    out.update({
        "net_gex_effective_usd": gex_eff, "net_gex_true_usd": gex_true, "net_gex_settled_usd": gex_settled,
        "net_gex_error_pct_of_gross": 100.0 * abs(gex_eff - gex_true) / gross if gross > 0 else None,
        "net_gex_settled_error_pct_of_gross": 100.0 * abs(gex_settled - gex_true) / gross if gross > 0 else None,
        "regime_agrees": float(np.sign(gex_eff) == np.sign(gex_true)),
    })
    return out


def measure_inference_accuracy(symbol: str = "SPY", session_date: dt.date | None = None, seed: int = 7,
                               scenario: str = "auto", settings=None,
                               times: Sequence[str] = INTRADAY_TIMES_ET) -> dict[str, Any]:
    """Run one simulated day of ``symbol`` through a FlowService to the close and score the engine's
    state at the close and its trade log with :func:`inference_accuracy`; ``by_time`` adds
    :func:`oi_accuracy_at` at each ET time in ``times`` (the true OI then from ``truth.oi_at``).
    Adds ``symbol``, ``session_date``, ``seed`` and the resolved ``scenario``."""
    import asyncio

    from zdte_tui.market.calendar import et_clock_to_ns
    from zdte_tui.service import FlowService
    from zdte_tui.sources.sim import SimSource

    date = session_date or dt.date(2025, 6, 13)
    source = SimSource([symbol], session_date=date, seed=seed, scenario=scenario, at=None, speed=None)
    svc = FlowService(source, settings=without_calibration(settings), audit_prints=True)  # every print's side
    sess = source.session(symbol)
    truth = sess.truth
    stops = sorted((et_clock_to_ns(date, t), t) for t in times)
    stops = [(ns, t) for ns, t in stops if sess.open_ns < ns < sess.close_ns]
    conv = svc.params.dealer_convention
    by_time: list[dict[str, Any]] = []

    def true_dealer_position_at(ts_ns: int) -> np.ndarray:
        """dealer_position_start - sum(customer_side * size) over prints at or before ts_ns."""
        k = int(np.searchsorted(sess.trades.ts_ns, ts_ns, side="right"))
        flow = np.bincount(sess.trades.contract[:k], weights=truth.customer_side[:k] * sess.trades.size[:k],
                           minlength=len(truth.dealer_position_start))
        return truth.dealer_position_start - flow

    def score_at(label: str) -> None:
        st = svc.engine.state(symbol)
        by_time.append({"time_et": label, **oi_accuracy_at(
            effective_oi=st.effective_oi, settled_oi=st.settled_oi, true_oi=truth.oi_at(sess.trades, st.as_of_ns),
            volume=st.volume, gamma=st.gamma, is_call=st.is_call, spot=st.spot, dealer_convention=conv,
            engine_position=st.position, true_dealer_position=true_dealer_position_at(st.as_of_ns))})

    async def pump() -> None:
        async for ev in source:  # slices end on 30 s boundaries, so each stop is hit exactly
            svc.apply(ev)
            while stops and svc.engine.clock_ns >= stops[0][0]:
                score_at(stops.pop(0)[1])

    asyncio.run(pump())
    if svc.source_errors:
        raise RuntimeError(f"simulated {symbol} {date} seed {seed}: {svc.source_errors[-1]}")
    st = svc.engine.state(symbol)
    log = svc.engine.books[symbol].log
    ts, contract = log.view("ts_ns"), log.view("contract")
    if len(ts) != len(sess.trades.ts_ns) or not (np.array_equal(ts, sess.trades.ts_ns)
                                                 and np.array_equal(contract, sess.trades.contract)):
        raise RuntimeError(f"engine trade log ({len(ts)} prints) is not aligned with the simulator's "
                           f"{len(sess.trades.ts_ns)} prints")
    out = inference_accuracy(net_oi_delta_est=st.net_oi_delta, volume=st.volume, settled_oi=st.settled_oi,
                             effective_oi=st.effective_oi, oi_eod_true=truth.oi_eod, bias_est=st.bias,
                             bias_threshold=svc.params.bias_threshold, print_side_est=log.view("side"),
                             print_side_true=truth.customer_side, print_size=log.view("size"))
    return {"symbol": symbol, "session_date": date.isoformat(), "seed": seed, "scenario": sess.scenario, **out,
            "by_time": by_time}


__all__ = ["INTRADAY_TIMES_ET", "inference_accuracy", "measure_inference_accuracy", "oi_accuracy_at"]
