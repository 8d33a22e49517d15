"""The time-series responses (``series``, ``hedge_flow``, ``heatmap``, ``strike_flow``) from the
sampler's 30 s slots: bar increments, gap intervals and the JSON bodies.

Pure functions of arrays copied out of a :class:`~zdte_tui.engine.sampler.BarSampler` under the
service lock; every number goes through :mod:`zdte_tui.service.views.format`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zdte_tui.engine.exposure import MULT
from zdte_tui.engine.params import SAMPLE_SECONDS
from zdte_tui.engine.rows import FLIP_STATUS_NAMES
from zdte_tui.engine.sampler import BAR_SECONDS, STRIKE_FLOW_KEYS, BarSampler
from zdte_tui.service.views.format import floats, integer, iso, num


# ------------------------------------------------------------------------------ bar arithmetic
def before_first_bar(filled: np.ndarray, slots: np.ndarray, bar: str) -> int | None:
    """The last filled raw slot before the first bar's *bucket* (None: nothing earlier, i.e. 0), so
    the first bar's increment covers its whole bucket (buckets: (k*bar, (k+1)*bar] after the open)."""
    if len(slots) == 0:
        return None
    per = BAR_SECONDS[bar] // SAMPLE_SECONDS
    bucket = -(-int(slots[0]) // per)
    first_slot = max(0, (bucket - 1) * per + 1) if bucket > 0 else 0
    earlier = np.flatnonzero(filled[:first_slot])
    return int(earlier[-1]) if len(earlier) else None


def value_before_first_bar(filled: np.ndarray, cum: np.ndarray, slots: np.ndarray, bar: str) -> float:
    """The cumulative value the first bar's increment is measured from (0 at the open)."""
    k = before_first_bar(filled, slots, bar)
    if k is None or not np.isfinite(cum[k]):
        return 0.0
    return float(cum[k])


def bar_increments(smp: BarSampler, key: str, slots: np.ndarray) -> np.ndarray:
    """Per-bar increments [bars, strikes] of a cumulative per-strike flow (1m bars): the first bar
    is measured from the last sample before its bucket (0 at the open)."""
    cum = smp.strike[key]
    mat = cum[slots].astype(np.float64)
    if len(slots) == 0:
        return mat
    k = before_first_bar(smp.filled, slots, "1m")
    prev = np.zeros((1, cum.shape[1])) if k is None else np.nan_to_num(cum[k].astype(np.float64))[None, :]
    return np.diff(np.vstack([prev, mat]), axis=0)


def hedge_cumulative(series: dict[str, np.ndarray], side: str) -> np.ndarray:
    """Cumulative dealer hedge flow of ``side`` (``calls``, ``puts`` or ``all``) per slot."""
    calls, puts = series["hedge_flow_call_cumulative"], series["hedge_flow_put_cumulative"]
    return {"calls": calls, "puts": puts, "all": calls + puts}[side]


def net_premium_cumulative(ts_ns: np.ndarray, is_call: np.ndarray, side: np.ndarray, price: np.ndarray,
                           size: np.ndarray, times: np.ndarray, open_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """The net-premium tide at each of ``times``: (calls, puts), USD since the open, from every print.

    This is the definition; the service does not call it. The engine sums the same tide per 30 s
    sample as prints arrive (``FlowEngine._net_premium``; the sampler's ``net_*_premium_cumulative``
    columns) so that no query scans the prints, and the tests check the two agree on a recorded day.

    Net premium of a print = ``side * price * size * 100`` (side +1 bought at/near the ask, -1 sold
    at/near the bid, 0 mid: not counted), summed over the prints with ``open <= ts <= t``, calls
    and puts apart (Unusual Whales' "market tide": call premium bought minus sold, and the same for
    puts). Vectorized: one cumulative sum over the time-ordered prints, one ``searchsorted``."""
    times = np.asarray(times, dtype=np.int64)
    ts_ns = np.asarray(ts_ns, dtype=np.int64)
    keep = ts_ns >= open_ns
    ts_ns = ts_ns[keep]
    signed = (np.asarray(side, dtype=np.float64) * np.asarray(price, dtype=np.float64)
              * np.asarray(size, dtype=np.float64) * MULT)[keep]
    calls_mask = np.asarray(is_call, dtype=bool)[keep]
    if ts_ns.size > 1 and np.any(ts_ns[1:] < ts_ns[:-1]):  # the log is appended in time order; be safe
        order = np.argsort(ts_ns, kind="stable")
        ts_ns, signed, calls_mask = ts_ns[order], signed[order], calls_mask[order]
    signed = np.nan_to_num(signed)
    calls = np.concatenate([[0.0], np.cumsum(np.where(calls_mask, signed, 0.0))])
    puts = np.concatenate([[0.0], np.cumsum(np.where(calls_mask, 0.0, signed))])
    upto = np.searchsorted(ts_ns, times, side="right")
    return calls[upto], puts[upto]


def gap_intervals(smp: BarSampler, times: np.ndarray, clock_ns: int) -> list[dict[str, str | None]]:
    """The sampler's data gaps from the window's first bar to ``clock_ns``, as ISO intervals."""
    gaps = smp.gap_intervals(int(times[0]) if len(times) else None, clock_ns)
    return [{"start": iso(s), "end": iso(e)} for s, e in gaps]


# ------------------------------------------------------------------------------ bodies
def series_body(symbol: str, as_of: str | None, bar: str) -> dict[str, Any]:
    """The ``series`` response with no bars (filled by :func:`series_bars`)."""
    return {"symbol": symbol, "expiration": None, "as_of": as_of, "bar_size": bar, "bars": []}


def flip_status(flip: float | None) -> str:
    """``gamma_flip_status`` of a bar: ``ok`` when a flip was found on the grid."""
    return FLIP_STATUS_NAMES[0] if flip is not None else FLIP_STATUS_NAMES[1]


def series_bars(s: dict[str, np.ndarray], times: np.ndarray,
                tide: tuple[np.ndarray, np.ndarray] | None = None) -> list[dict[str, Any]]:
    """One dict per sampled bar from the sampler's series columns ``s`` (already cut to the window);
    ``tide`` (calls, puts: the sampler's per-sample net-premium columns, equal to
    :func:`net_premium_cumulative` at ``times``) adds the net-premium tide fields."""
    bars = []
    for i in range(len(times)):
        calls, puts = s["hedge_flow_call_cumulative"][i], s["hedge_flow_put_cumulative"][i]
        flip = num(s["gamma_flip"][i], 2)
        bars.append({
            "t": iso(int(times[i])), "spot": num(s["spot"][i], 4), "net_gex": num(s["net_gex"][i], 0),
            "net_dex": num(s["net_dex"][i], 0), "gamma_flip": flip,
            "gamma_flip_status": flip_status(flip),
            "call_wall": num(s["call_wall"][i]), "put_wall": num(s["put_wall"][i]),
            "magnet": num(s["magnet"][i]), "pin_score": integer(s["pin_score"][i]),
            "pin_probability_pct": num(s["pin_probability_pct"][i], 1),
            "regime": None if not np.isfinite(s["regime"][i]) else
            ("positive_gamma" if s["regime"][i] > 0 else "negative_gamma"),
            "atm_iv": num(s["atm_iv"][i], 4), "charm_dollars_per_hour": num(s["charm_dollars_per_hour"][i], 0),
            "hedge_flow_call_cumulative": num(calls, 0), "hedge_flow_put_cumulative": num(puts, 0),
            "hedge_flow_cumulative_all": num(calls + puts, 0),
        })
        if tide is not None:
            bars[-1]["net_call_premium_cumulative"] = num(tide[0][i], 0)
            bars[-1]["net_put_premium_cumulative"] = num(tide[1][i], 0)
    return bars


def hedge_flow_body(symbol: str, as_of: str | None, side: str, bar: str) -> dict[str, Any]:
    """The ``hedge_flow`` response with no bars (filled by :func:`hedge_flow_bars`)."""
    return {"symbol": symbol, "expiration": None, "as_of": as_of, "side": side, "bar_size": bar, "bars": []}


def hedge_flow_bars(times: np.ndarray, values: np.ndarray, prev: float) -> list[dict[str, Any]]:
    """Per-bar increments and the cumulative hedge flow; ``prev`` is the value before the first bar."""
    increments = np.diff(np.concatenate([[prev], values]))
    return [{"t": iso(int(t)), "bar": num(b, 0), "cumulative": num(c, 0)}
            for t, b, c in zip(times, increments, values, strict=True)]


def heatmap_body(symbol: str, as_of: str | None, metric: str, mode: str, bar: str) -> dict[str, Any]:
    """The ``heatmap`` response with no bars (filled by :func:`heatmap_bars`)."""
    return {"symbol": symbol, "underlying_price": None, "expiration": None, "metric": metric, "mode": mode,
            "bar_size": bar, "as_of": as_of, "tier_used": "raw", "strikes_grid": [], "bars": [],
            "gap_intervals": []}


def heatmap_matrix(smp: BarSampler, metric: str, mode: str, slots: np.ndarray) -> np.ndarray:
    """[bars, strikes] values of ``metric``: signed flow per bar, else the sampled level (``delta``
    mode: its change from the previous bar)."""
    if metric == "signed_flow":
        return bar_increments(smp, "flow_delta_cum", slots)
    mat = smp.strike[metric][slots].astype(np.float64)
    if mode == "delta" and len(slots) > 1:
        mat = np.vstack([mat[:1], np.diff(mat, axis=0)])
    return mat


def heatmap_bars(out: dict[str, Any], metric: str, mat: np.ndarray, spots: np.ndarray, times: np.ndarray,
                 grid: np.ndarray) -> None:
    """Fill ``strikes_grid`` (strikes with any finite value) and one row of values per bar."""
    cols = np.flatnonzero(np.isfinite(mat).any(axis=0))
    out["strikes_grid"] = floats(grid[cols], 4)
    nd = 0 if metric != "oi" else 1
    out["bars"] = [{"t": iso(int(t)), "spot": num(s, 4), "values": floats(row[cols], nd)}
                   for t, s, row in zip(times, spots, mat, strict=True)]


def strike_flow_body(symbol: str, as_of: str | None, bar: str) -> dict[str, Any]:
    """The ``strike_flow`` response with no bars (filled by :func:`strike_flow_bars`)."""
    return {"symbol": symbol, "underlying_price": None, "expiration": None, "bar_size": bar, "as_of": as_of,
            "tier_used": "raw", "strikes_grid": [], "bars": [], "gap_intervals": []}


def strike_flow_bars(out: dict[str, Any], mats: dict[str, np.ndarray], spots: np.ndarray, times: np.ndarray,
                     grid: np.ndarray) -> None:
    """Fill ``strikes_grid`` and per-bar signed delta/gamma dollars and contracts per strike."""
    out["strikes_grid"] = floats(grid, 4)
    sdd, sgd, cts = mats["flow_delta_cum"], mats["flow_gamma_cum"], mats["flow_contracts_cum"]
    out["bars"] = [{"t": iso(int(times[i])), "spot": num(spots[i], 4),
                    "signed_delta_dollars": floats(np.nan_to_num(sdd[i]), 0),
                    "signed_gamma_dollars": floats(np.nan_to_num(sgd[i]), 0),
                    "contracts": [int(v) for v in np.rint(np.nan_to_num(cts[i]))]}
                   for i in range(len(times))]


__all__ = ["STRIKE_FLOW_KEYS", "bar_increments", "before_first_bar", "flip_status", "gap_intervals",
           "hedge_cumulative", "hedge_flow_bars", "hedge_flow_body", "heatmap_bars", "heatmap_body",
           "heatmap_matrix", "net_premium_cumulative", "series_bars", "series_body", "strike_flow_bars",
           "strike_flow_body", "value_before_first_bar"]
