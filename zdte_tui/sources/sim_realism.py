"""Realism statistics of a 0DTE session, computed the same way on real data and on the simulator.

Every function here is pure numpy. The real inputs are the trimmed public files under
``tests/data/sim_targets`` (S&P 500 bars and SPXW 0DTE chain snapshots; see their README); the
simulated inputs come from :func:`zdte_tui.sources.sim_model.simulate_session`. The targets, their
bands, sources and dates are listed in docs/simulator.md ("Realism targets"), and
``benchmarks/realism.py`` prints simulator vs target for each statistic.

Conventions (shared by both sides):

* times are minutes after the 09:30 ET open, in market time. The Cboe delayed feed behind the
  real chain snapshots lags ~15 minutes, so a snapshot labelled 11:00 is read as market time 10:45
  (:data:`SNAPSHOT_DELAY_MIN`) and the last snapshot of a day (16:00) as 15:45;
* "within +-2 %" windows are around the spot at the time of the snapshot, like the real files, which
  keep only strikes within +-2 % of spot.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SNAPSHOT_DELAY_MIN = 15
LAST_MINUTE = 375  # 15:45 ET: the last real snapshot (labelled 16:00) in market time
WINDOW = 0.02  # the real snapshots keep strikes within +-2 % of spot
NEAR = 0.005


# ------------------------------------------------------------------------------------ spot shape
def session_range(open_: np.ndarray, high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """(high - low) / open per session."""
    return (np.asarray(high, float) - np.asarray(low, float)) / np.asarray(open_, float)


def close_efficiency(open_, high, low, close) -> np.ndarray:
    """|close - open| / (high - low): 1 for a day that closes at its extreme after a one-way move,
    near 0 for a day that comes back to where it opened (a pin or a reversal)."""
    rng = np.asarray(high, float) - np.asarray(low, float)
    return np.abs(np.asarray(close, float) - np.asarray(open_, float)) / np.where(rng > 0, rng, np.nan)


def minute_closes(spot_per_second: np.ndarray) -> np.ndarray:
    """The close of each 1-minute bar of a 1-second spot path (``n_seconds + 1`` values, the first at the open)."""
    s = np.asarray(spot_per_second, float)
    n_min = (len(s) - 1) // 60
    return s[60: 60 * n_min + 1: 60]


def open_hour_vol_ratio(minute_close: np.ndarray) -> tuple[float, float]:
    """Mean |1-minute log return| in 09:30-10:30 and in 15:00-16:00, each over 12:00-14:00.
    ``minute_close[i]`` is the close of minute i (i = 0 is the 09:30 bar); needs a full session."""
    c = np.asarray(minute_close, float)
    r = np.abs(np.diff(np.log(c)))  # r[i-1]: bar i vs bar i-1
    minute = np.arange(1, len(c))
    mid = r[(minute >= 150) & (minute < 270)].mean()
    return float(r[minute < 60].mean() / mid), float(r[minute >= 330].mean() / mid)


# ------------------------------------------------------------------------------------ 0DTE flow
@dataclass(frozen=True)
class ChainSnapshot:
    """Cumulative 0DTE volume and settled OI per strike at one instant (minutes after the open)."""

    minute: float
    spot: float
    strikes: np.ndarray
    call_volume: np.ndarray
    put_volume: np.ndarray
    call_oi: np.ndarray
    put_oi: np.ndarray

    def window(self, frac: float = WINDOW) -> np.ndarray:
        return np.abs(self.strikes - self.spot) <= frac * self.spot


def near_close_volume_share(snap: ChainSnapshot) -> float:
    """Share of the volume within +-2 % of spot that traded at strikes within +-0.5 % of it."""
    w = snap.window()
    vol = snap.call_volume + snap.put_volume
    total = vol[w].sum()
    return float(vol[w & snap.window(NEAR)].sum() / total) if total else float("nan")


def volume_over_oi(snap: ChainSnapshot) -> float:
    """0DTE volume / settled OI over the strikes within +-2 % of spot."""
    w = snap.window()
    oi = (snap.call_oi + snap.put_oi)[w].sum()
    return float((snap.call_volume + snap.put_volume)[w].sum() / oi) if oi else float("nan")


def call_volume_share(snap: ChainSnapshot) -> float:
    """Calls' share of the volume within +-2 % of spot."""
    w = snap.window()
    total = (snap.call_volume + snap.put_volume)[w].sum()
    return float(snap.call_volume[w].sum() / total) if total else float("nan")


def near_oi_share(snap: ChainSnapshot) -> float:
    """Share of the settled OI within +-2 % of spot that sits within +-0.5 % of it."""
    w = snap.window()
    oi = snap.call_oi + snap.put_oi
    total = oi[w].sum()
    return float(oi[w & snap.window(NEAR)].sum() / total) if total else float("nan")


def front_loading(minutes: np.ndarray, cum_volume: np.ndarray) -> float:
    """(volume 09:30-10:45 minus volume 14:30-15:45) / volume 09:30-15:45, from a cumulative-volume
    curve sampled at ``minutes`` (linear in between; 0 at the open)."""
    m = np.concatenate(([0.0], np.asarray(minutes, float)))
    v = np.concatenate(([0.0], np.asarray(cum_volume, float)))
    def at(t):
        return float(np.interp(t, m, v))
    total = at(LAST_MINUTE)
    return ((at(75) - at(0)) - (at(LAST_MINUTE) - at(300))) / total if total else float("nan")


def volume_curve(minutes: np.ndarray, cum_volume: np.ndarray, at_minutes=(75, 150, 270)) -> list[float]:
    """Cumulative volume share at 10:45, 12:00 and 14:00 ET, of the volume to 15:45."""
    m = np.concatenate(([0.0], np.asarray(minutes, float)))
    v = np.concatenate(([0.0], np.asarray(cum_volume, float)))
    total = float(np.interp(LAST_MINUTE, m, v))
    return [float(np.interp(t, m, v)) / total for t in at_minutes]


def chain_oi_shares(strikes: np.ndarray, call_oi: np.ndarray, put_oi: np.ndarray, prev_close: float) -> dict:
    """Where the whole listed chain's settled OI sits relative to the prior close."""
    m = np.asarray(strikes, float) / prev_close - 1.0
    oi = np.asarray(call_oi, float) + np.asarray(put_oi, float)
    total = oi.sum()
    listed = np.asarray(strikes, float)[oi > 0]
    return {"oi_within_2pct": float(oi[np.abs(m) <= 0.02].sum() / total),
            "oi_below_minus_4pct": float(oi[m < -0.04].sum() / total),
            "lowest_strike_with_oi": float(listed.min() / prev_close - 1.0),
            "highest_strike_with_oi": float(listed.max() / prev_close - 1.0),
            "put_oi_share": float(np.sum(put_oi) / total)}


# ------------------------------------------------------------------------------------ quotes and prints
SPREAD_WINDOW = 0.03  # contracts out of the money within 3 % of spot
CBOE_DELAY_MIN = 15  # Cboe's delayed-quotes page lags ~15 minutes: a download saved at 11:55 shows 11:40


def spread_stats(strikes, spot: float, call_bid, call_ask, put_bid, put_ask, tick_small: float) -> dict:
    """Quoted spreads of the out-of-the-money contracts within +-3 % of ``spot`` with a two-sided quote:
    ``spread_rel_over_1usd``, the median (ask - bid) / mid of those with a mid of at least $1, and
    ``spread_ticks_under_1usd``, the median (ask - bid) in ``tick_small`` ticks of those with a mid under $1
    (cheap wings are quoted a tick or two wide whatever their price)."""
    k = np.asarray(strikes, float)
    m = k / spot - 1.0
    bid = np.concatenate((np.asarray(call_bid, float), np.asarray(put_bid, float)))
    ask = np.concatenate((np.asarray(call_ask, float), np.asarray(put_ask, float)))
    mm = np.concatenate((m, m))
    otm = np.concatenate((m > 0, m < 0)) & (np.abs(mm) <= SPREAD_WINDOW) & (bid > 0) & (ask > bid)
    mid = (bid + ask) / 2
    rich, cheap = otm & (mid >= 1.0), otm & (mid < 1.0)
    nan = float("nan")
    return {"spread_rel_over_1usd": float(np.median((ask - bid)[rich] / mid[rich])) if rich.any() else nan,
            "spread_ticks_under_1usd": float(np.median((ask - bid)[cheap] / tick_small)) if cheap.any() else nan}


def whole_day_volume_stats(strikes, spot: float, call_volume, put_volume) -> dict:
    """Of a whole day's 0DTE volume over every listed strike: the calls' share and the share within
    +-0.5 % of the closing ``spot`` (of the volume within +-2 %), and the total in contracts."""
    cv, pv = np.asarray(call_volume, float), np.asarray(put_volume, float)
    total = cv.sum() + pv.sum()
    snap = ChainSnapshot(minute=LAST_MINUTE, spot=spot, strikes=np.asarray(strikes, float), call_volume=cv,
                         put_volume=pv, call_oi=np.zeros_like(cv), put_oi=np.zeros_like(pv))
    return {"call_share_all": float(cv.sum() / total) if total else float("nan"),
            "near_close_volume_share": near_close_volume_share(snap), "contracts": float(total)}


def print_size_stats(size) -> dict:
    """Mean contracts per print and the share of the day's contracts traded in one-lots."""
    s = np.asarray(size, float)
    return {"mean_print_size": float(s.mean()) if len(s) else float("nan"),
            "one_lot_volume_share": float(s[s == 1].sum() / s.sum()) if s.sum() else float("nan")}


def load_cboe_chains(path: str | Path) -> dict:
    """Per download of ``cboe_0dte_chains.csv.gz``: its label, session date, saved time (ET), spot, and
    per strike the 0DTE call/put bid, ask, volume and OI (numpy arrays)."""
    with gzip.open(path, "rt") as f:
        rows = list(csv.DictReader(f))
    out: dict = {}
    for r in rows:
        out.setdefault(r["file"], []).append(r)
    chains = {}
    for label, rs in out.items():
        def col(k, rs=rs):
            return np.array([float(r[k] or 0) for r in rs])
        chains[label] = {"symbol": label.split("_")[0].upper(), "date": rs[0]["date"], "time_et": rs[0]["time_et"],
                         "spot": float(rs[0]["spot"]), "strike": col("strike"),
                         **{k: col(k) for k in ("call_bid", "call_ask", "call_volume", "call_oi",
                                                "put_bid", "put_ask", "put_volume", "put_oi")}}
    return chains


def real_quote_and_volume_stats(chains: dict) -> dict:
    """Spread statistics of the downloads saved during the session and whole-day volume statistics of
    those saved after the close, keyed by download label."""
    out = {}
    for label, c in chains.items():
        hh, mm = (int(x) for x in c["time_et"].split(":"))
        in_session = 9 * 60 + 30 + CBOE_DELAY_MIN <= hh * 60 + mm < 16 * 60
        tick = 0.05 if c["symbol"] == "SPX" else 0.01
        if in_session:
            out[label] = spread_stats(c["strike"], c["spot"], c["call_bid"], c["call_ask"], c["put_bid"],
                                      c["put_ask"], tick)
            out[label]["minute"] = hh * 60 + mm - CBOE_DELAY_MIN - 570
        else:
            out[label] = whole_day_volume_stats(c["strike"], c["spot"], c["call_volume"], c["put_volume"])
        out[label]["symbol"] = c["symbol"]
    return out


def simulated_nbbo_at(session, minute: float) -> tuple[float, np.ndarray, np.ndarray]:
    """(spot, bid, ask per contract) of a simulated session: the NBBO in force ``minute`` after the open."""
    q = session.quotes
    cut = session.open_ns + int(minute * 60) * 1_000_000_000
    k = int(np.searchsorted(q.ts_ns, cut, side="right"))
    n = session.chain.n_contracts
    last = np.full(n, -1)
    last[q.contract[:k]] = np.arange(k)  # later rows overwrite earlier ones: the last quote per contract
    bid = np.where(last >= 0, q.bid[np.maximum(last, 0)], 0.0)
    ask = np.where(last >= 0, q.ask[np.maximum(last, 0)], 0.0)
    return float(session.spot.price[int(minute * 60)]), bid, ask


def simulated_quote_and_print_stats(session, minutes=(130, 235)) -> dict:
    """Spread statistics at ``minutes`` after the open (the in-session real downloads: 11:40 and 13:25
    market time), averaged over them, plus the day's print-size and whole-day volume statistics."""
    prof = session.profile
    spreads = []
    for minute in minutes:
        spot, bid, ask = simulated_nbbo_at(session, minute)
        spreads.append(spread_stats(session.chain.strikes[::2], spot, bid[0::2], ask[0::2], bid[1::2], ask[1::2],
                                    prof.tick_small_usd))
    out = {}
    for k in spreads[0]:
        vals = [sp[k] for sp in spreads if np.isfinite(sp[k])]
        out[k] = float(np.mean(vals)) if vals else float("nan")
    out.update(print_size_stats(session.trades.size))
    t, chain = session.trades, session.chain
    vol = np.bincount(t.contract, weights=t.size.astype(float), minlength=chain.n_contracts)
    out.update(whole_day_volume_stats(chain.strikes[::2], float(session.spot.price[-1]), vol[0::2], vol[1::2]))
    return out


# ------------------------------------------------------------------------------------ real data
def load_real(data_dir: str | Path) -> dict:
    """The real statistics from the trimmed files in ``data_dir`` (tests/data/sim_targets)."""
    d = Path(data_dir)
    out: dict = {}
    with open(d / "spx_daily_ohlc.csv") as f:
        rows = list(csv.DictReader(f))
    full = [r for r in rows if int(r["bars"]) >= 7]  # regular sessions (hourly files have 7 bars)
    o, h, lo, c = (np.array([float(r[k]) for r in full]) for k in ("open", "high", "low", "close"))
    out["range"] = session_range(o, h, lo)
    out["efficiency"] = close_efficiency(o, h, lo, c)
    out["daily_dates"] = (full[0]["date"], full[-1]["date"])
    out["levels"] = {r["date"]: float(r["close"]) for r in rows[-30:]}

    with gzip.open(d / "spx_1m_close.csv.gz", "rt") as f:
        bars = list(csv.DictReader(f))
    by_day: dict[str, list[float]] = {}
    for r in bars:
        by_day.setdefault(r["date"], []).append(float(r["close"]))
    ratios = [open_hour_vol_ratio(np.array(v)) for v in by_day.values() if len(v) >= 390]
    out["open_hour_vol_ratio"] = np.array([r[0] for r in ratios])
    out["close_hour_vol_ratio"] = np.array([r[1] for r in ratios])

    with gzip.open(d / "spxw_0dte_snapshots.csv.gz", "rt") as f:
        snaps = list(csv.DictReader(f))
    days: dict[str, dict[str, list[dict]]] = {}
    for r in snaps:
        days.setdefault(r["date"], {}).setdefault(r["time"], []).append(r)
    per_day = {}
    for day, times in sorted(days.items()):
        labels = sorted(times)
        if labels[-1] != "16:00" or len(labels) < 10:
            continue  # not a session followed to the close
        snap = {t: _snapshot(times[t]) for t in labels}
        last = snap["16:00"]
        stats: dict = {"near_close_volume_share": near_close_volume_share(last), "volume_over_oi": volume_over_oi(last),
                 "call_volume_share": call_volume_share(last), "near_oi_share": near_oi_share(last)}
        if labels[0] <= "10:00":  # followed from the open: the volume curve (strikes present all day)
            common = set.intersection(*(set(s.strikes.tolist()) for s in snap.values()))
            minutes, cum = [], []
            for t in labels:
                s = snap[t]
                minute = int(t[:2]) * 60 + int(t[3:]) - 570 - SNAPSHOT_DELAY_MIN
                if minute < 0:
                    continue  # before the open (the feed still shows the prior session)
                keep = np.isin(s.strikes, list(common))
                minutes.append(minute)
                cum.append(float((s.call_volume + s.put_volume)[keep].sum()))
            stats["front_loading"] = front_loading(np.array(minutes), np.array(cum))
            stats["volume_curve"] = volume_curve(np.array(minutes), np.array(cum))
        per_day[day] = stats
    out["chain_days"] = per_day

    with open(d / "spxw_0dte_oi_2026-08-13.csv") as f:
        oi_rows = list(csv.DictReader(f))
    k = np.array([float(r["strike"]) for r in oi_rows])
    out["chain_oi"] = chain_oi_shares(k, np.array([float(r["call_oi"]) for r in oi_rows]),
                                      np.array([float(r["put_oi"]) for r in oi_rows]), prev_close=7748.50)
    return out


def _snapshot(rows: list[dict]) -> ChainSnapshot:
    t = rows[0]["time"]
    def col(k):
        return np.array([float(r[k] or 0) for r in rows])
    return ChainSnapshot(minute=int(t[:2]) * 60 + int(t[3:]) - 570 - SNAPSHOT_DELAY_MIN, spot=float(rows[0]["spot"]),
                         strikes=col("strike"), call_volume=col("call_volume"), put_volume=col("put_volume"),
                         call_oi=col("call_oi"), put_oi=col("put_oi"))


# ------------------------------------------------------------------------------------ simulated data
def simulated_snapshot(session, minute: float = LAST_MINUTE) -> ChainSnapshot:
    """Cumulative volume per strike and settled OI of a simulated session at ``minute`` after the open."""
    chain, t = session.chain, session.trades
    cut = session.open_ns + int(minute * 60) * 1_000_000_000
    k = int(np.searchsorted(t.ts_ns, cut, side="right"))
    vol = np.bincount(t.contract[:k], weights=t.size[:k].astype(float), minlength=chain.n_contracts)
    spot = float(session.spot.price[min(int(minute * 60), len(session.spot.price) - 1)])
    return ChainSnapshot(minute=minute, spot=spot, strikes=chain.strikes[::2], call_volume=vol[0::2],
                         put_volume=vol[1::2], call_oi=chain.settled_oi[0::2].astype(float),
                         put_oi=chain.settled_oi[1::2].astype(float))


def simulated_flow_stats(session) -> dict:
    """The chain statistics of one simulated session, defined as for the real snapshots."""
    snap = simulated_snapshot(session)
    t = session.trades
    minutes = np.arange(15, LAST_MINUTE + 1, 15, dtype=float)
    cuts = session.open_ns + (minutes * 60).astype(np.int64) * 1_000_000_000
    cum = np.cumsum(t.size.astype(float))
    idx = np.searchsorted(t.ts_ns, cuts, side="right")
    cum_at = np.where(idx > 0, cum[np.maximum(idx - 1, 0)], 0.0)
    chain = session.chain
    return {"near_close_volume_share": near_close_volume_share(snap), "volume_over_oi": volume_over_oi(snap),
            "call_volume_share": call_volume_share(snap), "near_oi_share": near_oi_share(snap),
            "front_loading": front_loading(minutes, cum_at), "volume_curve": volume_curve(minutes, cum_at),
            "chain_oi": chain_oi_shares(chain.strikes[::2], chain.settled_oi[0::2], chain.settled_oi[1::2],
                                        float(chain.prev_close))}


def spot_stats(spot_per_second: np.ndarray, chain=None) -> dict:
    """Range, close efficiency and time-of-day vol ratios of one simulated spot path; with its ``chain``
    also the settled-OI statistics (``near_oi_share`` around the 15:45 spot, ``chain_oi``), which need
    no trades: they are summarized over the many spot days, not the few full sessions (a dozen days is
    too few for a statistic that pin days, with their big pin strike, move by +-0.2)."""
    s = np.asarray(spot_per_second, float)
    out: dict = {"range": float(session_range(s[0], s.max(), s.min())),
           "efficiency": float(close_efficiency(s[0], s.max(), s.min(), s[-1]))}
    if chain is not None:
        spot = float(s[min(int(LAST_MINUTE * 60), len(s) - 1)])
        none = np.zeros(chain.n_contracts // 2)
        snap = ChainSnapshot(minute=LAST_MINUTE, spot=spot, strikes=chain.strikes[::2], call_volume=none,
                             put_volume=none, call_oi=chain.settled_oi[0::2].astype(float),
                             put_oi=chain.settled_oi[1::2].astype(float))
        out["near_oi_share"] = near_oi_share(snap)
        out["chain_oi"] = chain_oi_shares(chain.strikes[::2], chain.settled_oi[0::2], chain.settled_oi[1::2],
                                          float(chain.prev_close))
    mc = minute_closes(s)
    if len(mc) >= 390:
        out["open_hour_vol_ratio"], out["close_hour_vol_ratio"] = open_hour_vol_ratio(np.concatenate(([s[0]], mc))[1:])
    return out


# ------------------------------------------------------------------------------------ targets
@dataclass(frozen=True)
class Target:
    """A documented band for the median over simulated days of one statistic."""

    name: str
    lo: float
    hi: float
    real: str  # the real value(s) the band comes from
    source: str  # which file of tests/data/sim_targets (or which publication), which dates
    symbols: tuple[str, ...] = ()  # the symbols the real data is about (empty: all, S&P 500 shapes)

    def holds(self, value: float) -> bool:
        return bool(self.lo <= value <= self.hi)

    def applies_to(self, symbol: str) -> bool:
        return not self.symbols or symbol.upper() in self.symbols


_BARS = "S&P 500 daily OHLC 2023-09-15..2026-08-21, 727 full sessions"
_MIN = "S&P 500 1-minute bars, 26 sessions 2026-07-17..2026-08-21"
_SNAP = "SPXW 0DTE snapshots 2026-08-18..21 (last snapshot, 15:45 market time)"
_CURVE = "SPXW 0DTE snapshots 2026-08-19..21 (sessions followed from the open)"
_OI = "SPXW 0DTE chain OI of 2026-08-13 (strikes 7000-8100, prior close 7748.50)"

_QUOTES = ("Cboe delayed-quote downloads of the SPXW 0DTE chain saved 2022-07-12 11:55 and 2023-06-09 13:40 ET "
           "(11:40 and 13:25 market time), cboe_0dte_chains.csv.gz")
_DAYS = ("Cboe delayed-quote downloads saved after the close: SPX and SPY 2023-09-14, QQQ 2023-06-12 and "
         "2024-03-22, SPY 2025-05-16 (whole 0DTE chain), cboe_0dte_chains.csv.gz")
_SIZES = ("Cboe (2023 report on retail in SPX options, as summarized by techstory.in, 2023): average execution "
          "size ~7.5 contracts; 1-lot SPX trades 9-10 % of SPX volume (all expiries)")

TARGETS: tuple[Target, ...] = (
    Target("range_median_pct", 0.70, 1.05, "0.874 (recent 26 days: 0.741)", _BARS),
    Target("range_p10_pct", 0.35, 0.60, "0.478", _BARS),
    Target("range_p90_pct", 1.30, 2.10, "1.669", _BARS),
    Target("efficiency_median", 0.38, 0.60, "0.494", _BARS),
    Target("trend_day_share", 0.15, 0.35, "0.249 (close keeps >= 70 % of the range)", _BARS),
    Target("reversal_day_share", 0.15, 0.35, "0.248 (close keeps < 25 % of the range)", _BARS),
    Target("open_hour_vol_ratio", 1.60, 2.80, "median 2.14 (p10-p90 1.44-2.79)", _MIN),
    Target("close_hour_vol_ratio", 0.85, 1.45, "median 1.10 (p10-p90 0.80-1.28)", _MIN),
    Target("near_close_volume_share", 0.60, 0.85, "0.64-0.82", _SNAP),
    Target("volume_over_oi", 9.5, 17.0, "10.5-15.9", _SNAP),
    Target("call_volume_share", 0.44, 0.54, "0.47-0.51", _SNAP),
    Target("near_oi_share", 0.18, 0.36, "0.22-0.32", _SNAP),
    Target("front_loading", 0.04, 0.13, "0.049-0.111", _CURVE),
    Target("volume_share_by_1045", 0.21, 0.31, "0.24-0.28", _CURVE),
    Target("volume_share_by_1200", 0.42, 0.53, "0.46-0.49", _CURVE),
    Target("volume_share_by_1400", 0.69, 0.79, "0.73-0.75", _CURVE),
    Target("oi_within_2pct", 0.40, 0.65, "0.516", _OI),
    Target("oi_below_minus_4pct", 0.04, 0.16, "0.090", _OI),
    Target("lowest_strike_with_oi_pct", -12.0, -8.0, "-9.7", _OI),
    Target("highest_strike_with_oi_pct", 3.5, 8.0, "+4.5", _OI),
    Target("put_oi_share", 0.48, 0.62, "0.546", _OI),
    Target("spread_rel_over_1usd", 0.025, 0.060, "0.034-0.048", _QUOTES, ("SPX",)),
    Target("spread_ticks_under_1usd", 1.0, 2.0, "1 (0.05)", _QUOTES, ("SPX",)),
    Target("call_share_all", 0.36, 0.56, "0.39-0.52 (SPX 0.45)", _DAYS),
    Target("near_close_volume_share_day", 0.40, 0.85, "0.43-0.73 (SPXW at 15:45 in 2026: 0.64-0.82)", _DAYS),
    Target("mean_print_size", 5.0, 10.0, "~7.5", _SIZES, ("SPX",)),
    Target("one_lot_volume_share", 0.05, 0.15, "0.09-0.10", _SIZES, ("SPX",)),
)
"""Bands for the median over simulated days (docs/simulator.md, "Realism targets")."""


def summarize_spot(days: list[dict]) -> dict:
    """Median / quantile statistics over many simulated spot paths (each from :func:`spot_stats`)."""
    rng = np.array([d["range"] for d in days]) * 100
    eff = np.array([d["efficiency"] for d in days])
    out = {"range_median_pct": float(np.median(rng)), "range_p10_pct": float(np.percentile(rng, 10)),
           "range_p90_pct": float(np.percentile(rng, 90)), "efficiency_median": float(np.nanmedian(eff)),
           "trend_day_share": float(np.mean(eff >= 0.7)), "reversal_day_share": float(np.mean(eff < 0.25))}
    for k in ("open_hour_vol_ratio", "close_hour_vol_ratio", "near_oi_share"):
        vals = [d[k] for d in days if k in d]
        if vals:
            out[k] = float(np.median(vals))
    chains = [d["chain_oi"] for d in days if "chain_oi" in d]
    if chains:
        out.update(_chain_oi_medians(chains))
    return out


def _chain_oi_medians(chains: list[dict]) -> dict:
    def med(k):
        return float(np.median([c[k] for c in chains]))
    return {"oi_within_2pct": med("oi_within_2pct"), "oi_below_minus_4pct": med("oi_below_minus_4pct"),
            "lowest_strike_with_oi_pct": 100 * med("lowest_strike_with_oi"),
            "highest_strike_with_oi_pct": 100 * med("highest_strike_with_oi"), "put_oi_share": med("put_oi_share")}


def summarize_flow(days: list[dict]) -> dict:
    """Medians over simulated sessions (each from :func:`simulated_flow_stats`): the volume statistics.
    The settled-OI statistics come from the spot days (:func:`summarize_spot`)."""
    def med(f):
        return float(np.median([f(d) for d in days]))
    return {"near_close_volume_share": med(lambda d: d["near_close_volume_share"]),
            "volume_over_oi": med(lambda d: d["volume_over_oi"]),
            "call_volume_share": med(lambda d: d["call_volume_share"]),
            "front_loading": med(lambda d: d["front_loading"]),
            "volume_share_by_1045": med(lambda d: d["volume_curve"][0]),
            "volume_share_by_1200": med(lambda d: d["volume_curve"][1]),
            "volume_share_by_1400": med(lambda d: d["volume_curve"][2])}


def summarize_quotes(days: list[dict]) -> dict:
    """Medians over simulated sessions (each from :func:`simulated_quote_and_print_stats`)."""
    def med(k):
        vals = [d[k] for d in days if np.isfinite(d[k])]
        return float(np.median(vals)) if vals else float("nan")
    return {"spread_rel_over_1usd": med("spread_rel_over_1usd"),
            "spread_ticks_under_1usd": med("spread_ticks_under_1usd"),
            "call_share_all": med("call_share_all"), "near_close_volume_share_day": med("near_close_volume_share"),
            "mean_print_size": med("mean_print_size"), "one_lot_volume_share": med("one_lot_volume_share"),
            "contracts": med("contracts")}
