"""Chain analytics vectorized over time: one row per sample time, one column per contract.

The engine samples the chain every 30 s. Rather than re-running the greeks, IV solve, exposures
and gamma-flip search once per sample (dozens of small numpy calls each), these functions take
``m`` sample times at once — ``S[m]``, ``t[m]``, ``bid/ask[m, n]``, ``position[m, n]`` — and
return ``[m, ...]`` matrices. A single point-in-time recompute is the ``m = 1`` case, so the
snapshot and the sampled series share one code path (docs/model.md).
"""

from __future__ import annotations

import bisect
import functools
import math
from dataclasses import dataclass

import numpy as np

from zdte_tui.engine.exposure import MULT
from zdte_tui.engine.greeks import _HALF, _0, _1, _2, _c, bs_greeks, bs_greeks_checked, charm_per_hour, implied_vol


def asof_rows(times: np.ndarray, ts: np.ndarray, contract: np.ndarray, values: tuple[np.ndarray, ...],
              prior: tuple[np.ndarray, ...], order: np.ndarray | None = None,
              last: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, ...]:
    """Per-contract value in force at each time: ``out[k][i, c]`` = the last ``values[k]`` of contract c
    with ts <= times[i], else ``prior[k][c]``. One searchsorted on (contract, time) keys.
    ``last``: (contracts, positions) of each contract's last event, when the caller has them."""
    m, n = len(times), len(prior[0])
    if len(ts) == 0 or m == 0:
        return tuple(np.broadcast_to(p, (m, n)).copy() for p in prior)
    from zdte_tui.engine.classify import contract_time_order

    t_last = int(ts.max())
    if m == 1 and int(times[0]) >= t_last:  # one time after every event (a 30 s batch ending at its sample)
        if last is None:
            order = contract_time_order(contract, ts) if order is None else order
            sorted_contract = contract[order]
            ends = np.flatnonzero(np.append(sorted_contract[1:] != sorted_contract[:-1], True))  # each run's last
            last = sorted_contract[ends], order[ends]
        outs = tuple(p[None, :].copy() for p in prior)
        for out, v in zip(outs, values):
            out[0, last[0]] = v[last[1]]
        return outs
    outs = tuple(np.broadcast_to(p, (m, n)).copy() for p in prior)
    order = contract_time_order(contract, ts) if order is None else order
    t0 = int(min(ts.min(), times.min()))
    span = max(t_last, int(times.max())) - t0 + 1
    unit = 1 if n * span < (1 << 62) else -(-(n * span) // (1 << 62))
    span_u = span // unit + 1
    key = contract[order].astype(np.int64) * span_u + (ts[order] - t0) // unit
    cs = np.arange(n, dtype=np.int64)
    probe = cs[None, :] * span_u + ((times - t0) // unit)[:, None]
    idx = np.searchsorted(key, probe.ravel(), side="right") - 1
    hit = idx >= 0
    src = order[np.maximum(idx, 0)]
    hit &= contract[src] == np.tile(cs, m)
    for out, v in zip(outs, values):
        flat = out.reshape(-1)
        flat[hit] = v[src[hit]]
    return outs


def fill_smile_rows(strikes: np.ndarray, is_call: np.ndarray, iv: np.ndarray, spot: np.ndarray,
                    layout: ChainLayout | None = None) -> np.ndarray:
    """Per row, contracts without an IV take the OTM smile interpolated in strike (flat beyond the
    ends); rows with no IV at all stay NaN. (Greeks need a vol for every contract.) ``layout``: the
    chain's precomputed strike order (else sorted here)."""
    out = iv.copy()
    missing = ~np.isfinite(iv)
    if not missing.any():
        return out
    if layout is None:
        order = np.argsort(strikes, kind="stable")
        ks, ks_call = strikes[order], is_call[order]
    else:
        order, ks, ks_call = layout.smile_order, layout.smile_strikes, layout.smile_call
    for i in (range(len(iv)) if len(iv) == 1 else np.flatnonzero(missing.any(axis=1))):
        row = iv[i].take(order)
        ok = ~missing[i].take(order)
        S = np.asarray(spot[i])  # (a 0-d array: see greeks._c)
        otm = ok & np.where(ks_call, ks >= S, ks <= S)
        n_otm = np.count_nonzero(otm)
        use = otm if n_otm >= 2 else ok
        if n_otm < 2 and not ok.any():
            continue
        gaps = missing[i].nonzero()[0]
        out[i, gaps] = np.interp(strikes.take(gaps), ks[use], row[use])
    return out


@dataclass(frozen=True, eq=False)
class GreekRows:
    """``[m, n]`` matrices of one chain at m times (NaN where no vol is known)."""

    mid: np.ndarray
    iv: np.ndarray          # implied from the mid (NaN where none exists)
    iv_filled: np.ndarray   # iv with gaps filled from the OTM smile (used for greeks)
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray | None   # None when left out (greek_rows(vega_theta=False))
    theta: np.ndarray | None
    vanna: np.ndarray
    charm_per_hour: np.ndarray
    # sigma sqrt t and (r - q + sigma^2/2) t of iv_filled, as the greeks computed them (one-row samples)
    vol_drift: tuple[np.ndarray, np.ndarray] | None = None

    def rows(self, idx: np.ndarray) -> GreekRows:
        """The rows ``idx`` of every matrix (a left-out field stays None)."""
        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]

        return GreekRows(self.mid[idx], self.iv[idx], self.iv_filled[idx], self.delta[idx], self.gamma[idx],
                         pick(self.vega), pick(self.theta), self.vanna[idx], self.charm_per_hour[idx])


def greek_rows(is_call: np.ndarray, strikes: np.ndarray, spot: np.ndarray, t: np.ndarray, r: float, q: float,
               bid: np.ndarray, ask: np.ndarray, t_iv: np.ndarray | None = None,
               iv_guess: np.ndarray | None = None, *, layout: ChainLayout | None = None,
               vega_theta: bool = True) -> GreekRows:
    """Mid = (max(bid, 0) + ask) / 2 where the ask is a positive number and not below the bid;
    IV from the mid (NaN where none), gaps filled from the OTM smile, then BSM greeks.

    ``t_iv`` (default ``t``): time to expiry at which the mids were struck, for a snapshot valued
    later than its quotes: IV is solved with ``t_iv`` and the greeks use ``t`` (sticky-strike).
    ``iv_guess`` ([n] or [m, n], NaN = none): where to start each IV solve, e.g. the previous sample's
    vols (``implied_vol(guess=...)``; same answer to the premium tolerance, docs/model.md section 14).
    ``layout``: the chain's :class:`ChainLayout` (precomputed per definition); ``vega_theta=False``
    leaves vega and theta out (None): a 30 s sample needs neither."""
    bid0 = np.where(np.isfinite(bid) & (bid > _0), bid, _0)
    quoted = np.isfinite(ask) & (ask > _0) & (bid0 <= ask)
    mid = np.where(quoted, _HALF * (bid0 + ask), _NAN)
    if layout is None:
        layout = ChainLayout(strikes, is_call)
    S: float | np.ndarray
    T: float | np.ndarray
    T_iv: float | np.ndarray
    if len(spot) == 1:  # one row (a live sample): spot and times as numbers, the same arithmetic
        S, T = float(spot[0]), float(t[0])
        T_iv = T if t_iv is None else float(np.asarray(t_iv, dtype=np.float64)[0])
        rows_ok = math.isfinite(S) and S > 0.0 and math.isfinite(T) and T > 0.0
    else:
        S, T = spot[:, None], t[:, None]
        T_iv = T if t_iv is None else np.asarray(t_iv, dtype=np.float64)[:, None]
        rows_ok = np.isfinite(spot) & (spot > 0.0) & np.isfinite(t) & (t > 0.0)
    iv = implied_vol(is_call[None, :], mid, S, strikes[None, :], T_iv, r, q, guess=iv_guess,
                     omega=layout.omega[None, :])
    iv_f = fill_smile_rows(strikes, is_call, iv, spot, layout)
    if (layout.strikes_ok and math.isfinite(r) and math.isfinite(q) and rows_ok is not False
            and not (iv_f <= 0.0).any()):
        parts: dict[str, np.ndarray] | None = {} if rows_ok is True else None
        delta, gamma, vega, theta, vanna, charm = bs_greeks_checked(layout.omega, S, layout.strikes, T, r, q, iv_f,
                                                                    vega_theta=vega_theta, parts=parts)
        if rows_ok is not True and not rows_ok.all():
            for a in (delta, gamma, vega, theta, vanna, charm):
                if a is not None:
                    a[~rows_ok] = np.nan
        vol_drift = (parts["total_vol"], parts["drift"]) if parts else None
        return GreekRows(mid, iv, iv_f, delta, gamma, vega, theta, vanna, charm_per_hour(charm), vol_drift)
    g = bs_greeks(is_call[None, :], S, strikes[None, :], T, r, q, iv_f)
    return GreekRows(mid, iv, iv_f, g.delta, g.gamma, g.vega, g.theta, g.vanna, charm_per_hour(g.charm))


class ChainLayout:
    """What the per-sample kernels need from a chain definition that no sample changes, computed once
    per definition (the engine keeps one per book): the option sign, ln K, the strikes in smile order,
    the strike grid and each strike's contracts, and whether every strike is a finite number > 0
    (then greeks skip the per-sample input checks)."""

    def __init__(self, strikes: np.ndarray, is_call: np.ndarray, strike_grid: np.ndarray | None = None,
                 strike_index: np.ndarray | None = None) -> None:
        self.strikes = np.asarray(strikes, dtype=np.float64)
        self.is_call = np.asarray(is_call, dtype=bool)
        self.omega = np.where(self.is_call, 1.0, -1.0)  # +1 call, -1 put
        self.strikes_ok = bool(np.isfinite(self.strikes).all() and (self.strikes > 0.0).all())
        with np.errstate(all="ignore"):
            self.ln_k = np.log(self.strikes)
        self.smile_order = np.argsort(self.strikes, kind="stable")
        self.smile_strikes = self.strikes[self.smile_order]
        self.smile_call = self.is_call[self.smile_order]
        self.strike_grid = np.unique(self.strikes) if strike_grid is None else np.asarray(strike_grid)
        self.strike_index = (np.searchsorted(self.strike_grid, self.strikes) if strike_index is None
                             else np.asarray(strike_index))
        self.grid_list: list[float] = self.strike_grid.tolist()
        # the (at most two) contracts at each strike, in contract order (-1: none); None if a strike has more
        n_k = len(self.strike_grid)
        counts = np.bincount(self.strike_index, minlength=n_k) if len(self.strikes) else np.zeros(n_k, np.int64)
        self.strike_contracts: list[tuple[int, ...]] | None = None
        if not len(counts) or counts.max() <= 2:
            by_strike = np.argsort(self.strike_index, kind="stable")
            ends = np.cumsum(counts)
            self.strike_contracts = [tuple(by_strike[e - c: e].tolist())
                                     for c, e in zip(counts.tolist(), ends.tolist())]


def atm_iv_one(layout: ChainLayout, iv: np.ndarray, spot: float) -> float:
    """:func:`atm_iv_rows` for one row (``iv`` [contracts]): the mean raw IV of the contracts at the
    listed strike nearest spot (NaN if none has one); the same sums (at most two terms)."""
    grid = layout.strike_grid
    if layout.strike_contracts is None or not len(grid) or not math.isfinite(spot):
        return float(atm_iv_rows(grid, layout.strike_index, iv[None, :], np.array([spot]))[0])
    # the first strike of least |K - spot| (argmin's tie rule): the one below spot's insertion point or at it
    g = layout.grid_list
    k = bisect.bisect_left(g, spot)
    if k == len(g) or (k > 0 and abs(g[k - 1] - spot) <= abs(g[k] - spot)):
        k -= 1
    vals = [v for c in layout.strike_contracts[k] if math.isfinite(v := float(iv[c]))]
    if not vals:
        return math.nan
    return vals[0] if len(vals) == 1 else (vals[0] + vals[1]) / 2


class StrikeSums:
    """Sums per-contract values into (strike, side) cells by index arithmetic, no matrix product.

    Built once per chain definition from ``strike_index`` (each contract's position on the sorted
    strike grid) and ``is_call``: contract c goes to cell ``2 * strike_index[c] + (0 call, 1 put)``.
    When every cell holds at most one contract (a listed chain) the sum is a scatter; otherwise one
    ``np.bincount`` over (row, cell) keys. ``sided(v)`` gives ``[..., 2 * n_strikes]`` (calls at even,
    puts at odd columns; 0 where a strike lacks a side), ``total(v)`` ``[..., n_strikes]``."""

    def __init__(self, strike_index: np.ndarray, is_call: np.ndarray, n_strikes: int) -> None:
        self.key = np.asarray(strike_index, dtype=np.int64) * 2 + np.where(is_call, 0, 1)
        self.n_strikes = int(n_strikes)
        self.unique = len(np.unique(self.key)) == len(self.key)

    def sided(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        width = 2 * self.n_strikes
        lead = values.shape[:-1]
        if self.unique:
            out = np.zeros(lead + (width,))
            out[..., self.key] = values
            return out
        rows = int(np.prod(lead, dtype=np.int64))
        keys = (np.arange(rows, dtype=np.int64) * width)[:, None] + self.key
        flat = values.reshape(rows, len(self.key))
        return np.bincount(keys.ravel(), weights=flat.ravel(), minlength=rows * width).reshape(lead + (width,))

    def total(self, values: np.ndarray) -> np.ndarray:
        if self.unique and np.ndim(values) == 1:  # call + put of each strike: one bincount, the same sums
            return np.bincount(self.key >> 1, weights=values, minlength=self.n_strikes)
        sided = self.sided(values)
        return sided[..., 0::2] + sided[..., 1::2]


@dataclass(frozen=True, eq=False)
class ExposureRows:
    """Per-strike ``[m, k]`` dollar exposures (dealer positions on effective OI, and on settled OI)."""

    call_gex: np.ndarray
    put_gex: np.ndarray
    call_dex: np.ndarray
    put_dex: np.ndarray
    vex: np.ndarray
    chex: np.ndarray
    call_gex_settled: np.ndarray | None  # None: settled positions not asked for
    put_gex_settled: np.ndarray | None
    dex_settled: np.ndarray | None
    nets: np.ndarray | None = None  # [4, m, k] net GEX, DEX, VEX, CHEX when computed together

    @property
    def gex(self) -> np.ndarray:
        return self.call_gex + self.put_gex if self.nets is None else self.nets[0]

    @property
    def dex(self) -> np.ndarray:
        return self.call_dex + self.put_dex if self.nets is None else self.nets[1]


def exposure_rows(g: GreekRows, position: np.ndarray, position_settled: np.ndarray | None, spot: np.ndarray,
                  sums: StrikeSums) -> ExposureRows:
    """GEX = gamma*pos*100*S^2*0.01, DEX = delta*pos*100*S, VEX = vanna*pos*100*S*0.01,
    CHEX = charm_per_hour*pos*100*S; summed into strikes (calls and puts apart for GEX/DEX) by
    :class:`StrikeSums` (one scatter or bincount over the six per-contract matrices stacked).
    ``position_settled`` None: the ``*_settled`` fields are left out (None; a 30 s sample stores none)."""
    fin = np.isfinite(g.gamma)
    if fin.all():
        gam, dlt, van, chm = g.gamma, g.delta, g.vanna, g.charm_per_hour
    else:
        gam, dlt, van, chm = (np.where(fin, a, 0.0) for a in (g.gamma, g.delta, g.vanna, g.charm_per_hour))
    # the formulas of exposure.py with the per-row dollar factors taken once: position * 100 * S
    # (DEX, CHEX), that times 0.01 (VEX) and times S * 0.01 (GEX)
    dollars = np.asarray(position, dtype=np.float64) * (MULT * spot)[:, None]
    pct = (0.01 * spot)[:, None]
    if position_settled is None:
        four = np.empty((4,) + gam.shape)
        np.multiply(gam, dollars, out=four[0])
        four[0] *= pct
        np.multiply(dlt, dollars, out=four[1])
        np.multiply(van, dollars, out=four[2])
        four[2] *= 0.01
        np.multiply(chm, dollars, out=four[3])
        sided = sums.sided(four)  # [4, m, 2k]
        call, put = sided[..., 0::2], sided[..., 1::2]
        nets = call + put  # net GEX, DEX, VEX, CHEX per strike in one call
        return ExposureRows(call_gex=call[0], put_gex=put[0], call_dex=call[1], put_dex=put[1],
                            call_gex_settled=None, put_gex_settled=None, vex=nets[2], chex=nets[3],
                            dex_settled=None, nets=nets)
    dollars_settled = np.asarray(position_settled, dtype=np.float64) * (MULT * spot)[:, None]
    stacked = np.empty((6,) + gam.shape)
    np.multiply(gam, dollars, out=stacked[0])
    stacked[0] *= pct
    np.multiply(dlt, dollars, out=stacked[1])
    np.multiply(gam, dollars_settled, out=stacked[2])
    stacked[2] *= pct
    np.multiply(van, dollars, out=stacked[3])
    stacked[3] *= 0.01
    np.multiply(chm, dollars, out=stacked[4])
    np.multiply(dlt, dollars_settled, out=stacked[5])
    sided = sums.sided(stacked)  # [6, m, 2k]
    call, put = sided[..., 0::2], sided[..., 1::2]
    return ExposureRows(call_gex=call[0], put_gex=put[0], call_dex=call[1], put_dex=put[1],
                        call_gex_settled=call[2], put_gex_settled=put[2], vex=call[3] + put[3],
                        chex=call[4] + put[4], dex_settled=call[5] + put[5])


class _GammaKernel:
    """Net dealer GEX of a chain at hypothetical spots, with everything that does not depend on the
    spot precomputed per (row, contract): gamma = e^{-qt} phi(d1) / (S sigma sqrt t) with
    d1 = (ln S - ln K) / (sigma sqrt t) + (r - q + sigma^2/2) t / (sigma sqrt t), so
    net GEX(S) = sum_n exp(-d1^2 / 2) * w_n * 100 * S * 0.01, w_n = pos e^{-qt} / (sqrt(2 pi) sigma sqrt t).
    Kept as u = d1 / sqrt 2 = ln S * slope_u + base_u (two passes over a grid, then exp(-u^2) in place)."""

    def __init__(self, strikes, t, r, q, sigma, position, ln_k: np.ndarray | None = None,
                 vol_drift: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        if len(t) == 1:  # one row: its time as a number (the same arithmetic, fewer array operations)
            t = np.asarray(float(t[0]))  # (numbers as 0-d arrays: see greeks._c)
            sqrt_t, disc = np.asarray(np.sqrt(t)), np.asarray(np.exp(-q * t))
        else:
            sqrt_t, disc = np.sqrt(t)[:, None], np.exp(-q * t)[:, None]
            t = t[:, None]
        if vol_drift is not None:  # the greeks' sigma sqrt t and (r - q + sigma^2/2) t of these vols (> 0)
            vol, drift = vol_drift
            self.inv_vol = _1 / vol
            self.shift = drift * self.inv_vol
            self.weight = position * disc * _INV_SQRT_2PI * self.inv_vol
        else:
            vol = sigma * sqrt_t
            if (vol > _0).all():  # the usual case (sigma is the smile-filled IV): no masks
                self.inv_vol = _1 / vol
                self.shift = (np.asarray(r - q) + _HALF * sigma * sigma) * t * self.inv_vol
                self.weight = position * disc * _INV_SQRT_2PI * self.inv_vol
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    self.inv_vol = np.where(vol > 0, 1.0 / vol, 0.0)
                    self.shift = np.where(vol > 0, (r - q + 0.5 * sigma * sigma) * t * self.inv_vol, 0.0)
                    self.weight = np.where(vol > 0, position * disc * 0.3989422804014327 * self.inv_vol, 0.0)
        self.ln_k = np.log(strikes) if ln_k is None else ln_k
        self.slope_u = _INV_SQRT_2_0D * self.inv_vol
        self.base_u = _INV_SQRT_2_0D * (self.shift - self.ln_k * self.inv_vol)

    def net_gex(self, spots: np.ndarray, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """spots [m, g] for the kernel's rows -> net GEX [m, g] ($ per 1% move)."""
        u = np.log(spots)[:, :, None] * self.slope_u[rows][:, None, :]
        u += self.base_u[rows][:, None, :]
        np.square(u, out=u)
        np.negative(u, out=u)
        np.exp(u, out=u)  # e^{-d1^2/2}
        # gamma * S^2 * 100 * 0.01 = e^{-d1^2/2} * w * S
        return np.matmul(u, self.weight[rows][:, :, None])[:, :, 0] * spots

    def net_gex_and_slope(self, spots: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Net GEX at one spot per row (spots [m]) and its derivative in spot:
        d/dS [S sum w e^{-d1^2/2}] = sum w e^{-d1^2/2} (1 - d1 / (sigma sqrt t)) (d1 / (sigma sqrt t) = 2 u slope_u)."""
        slope_u = self.slope_u[rows]
        u = np.log(spots)[:, None] * slope_u + self.base_u[rows]
        wd = np.exp(-u * u) * self.weight[rows]
        return wd.sum(axis=1) * spots, (wd * (1.0 - 2.0 * u * slope_u)).sum(axis=1)


FLIP_STATUS_NAMES = ("ok", "no_crossing_in_range", "no_data")  # gamma_flip_rows status codes 0, 1, 2
FLIP_TRACK_BRACKET = 5e-4  # the tracked flip is first bracketed within +-0.05% of the previous level
FLIP_TRACK_MARGIN = 2  # grid steps priced beyond the previous flip (a flip that moved a little stays inside)
_INV_SQRT_2 = 0.7071067811865476
_INV_SQRT_2_0D = _c(_INV_SQRT_2)
_INV_SQRT_2PI = _c(0.3989422804014327)
_NAN = _c(math.nan)


def _nearest_crossing(grid: np.ndarray, net: np.ndarray, S: np.ndarray):
    """Among the grid intervals of each row where net GEX changes sign, the one whose
    linear-interpolated crossing is nearest spot. Returns (has, distance of that crossing from spot,
    lo, hi, f(lo), f(hi), estimate)."""
    sgn = np.sign(net)
    cross = (sgn[:, 1:] * sgn[:, :-1]) < 0
    x0, x1 = grid[:, :-1], grid[:, 1:]
    y0, y1 = net[:, :-1], net[:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        est = x0 - y0 * (x1 - x0) / (y1 - y0)
    dist = np.where(cross, np.abs(est - S[:, None]), np.inf)
    j = np.argmin(dist, axis=1)
    r = np.arange(len(S))
    return cross.any(axis=1), dist[r, j], x0[r, j], x1[r, j], y0[r, j], y1[r, j], est[r, j]


def _narrow_to_prior(kernel: _GammaKernel, rows: np.ndarray, prior: np.ndarray, lo, hi, flo, fhi):
    """Where the previous flip lies inside a row's bracket, price +-FLIP_TRACK_BRACKET around it and
    keep the sub-bracket that holds the sign change (the tight one when it does)."""
    inside = np.flatnonzero(np.isfinite(prior) & (prior > lo) & (prior < hi))
    if not inside.size:
        return
    i = inside
    a = np.maximum(lo[i], prior[i] * (1.0 - FLIP_TRACK_BRACKET))
    b = np.minimum(hi[i], prior[i] * (1.0 + FLIP_TRACK_BRACKET))
    f = kernel.net_gex(np.stack([a, b], axis=1), rows[i])
    fa, fb = f[:, 0], f[:, 1]
    xs = np.stack([lo[i], a, b, hi[i]], axis=1)
    fs = np.stack([flo[i], fa, fb, fhi[i]], axis=1)
    change = (np.sign(fs[:, :-1]) * np.sign(fs[:, 1:])) < 0
    # prefer the tight middle interval, then the outer ones in order
    pick = np.where(change[:, 1], 1, np.where(change[:, 0], 0, np.where(change[:, 2], 2, -1)))
    ok = np.flatnonzero(pick >= 0)
    k = pick[ok]
    lo[i[ok]], hi[i[ok]] = xs[ok, k], xs[ok, k + 1]
    flo[i[ok]], fhi[i[ok]] = fs[ok, k], fs[ok, k + 1]


def _newton_in_bracket(kernel: _GammaKernel, rows: np.ndarray, S: np.ndarray, lo, hi, flo, fhi,
                       refine_steps: int, tol_frac: float) -> np.ndarray:
    """Refine each row's root inside (lo, hi) (f(lo), f(hi) of opposite signs) by Newton steps on
    net GEX with its analytic slope, kept inside the bracket (a step that would leave it is replaced
    by the secant of the bracket's ends), the bracket tightened by every evaluation; stop when a step
    moves the root less than ``tol_frac`` x spot (at most ``refine_steps`` re-pricings)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        x = lo - flo * (hi - lo) / (fhi - flo)
    active = np.ones(len(rows), dtype=bool)
    for _ in range(refine_steps):
        ia = np.flatnonzero(active)
        if not ia.size:
            break
        fx, slope = kernel.net_gex_and_slope(x[ia], rows[ia])
        left = (fx < 0) == (flo[ia] < 0)  # the root lies right of x: x becomes the lower end
        lo[ia] = np.where(left, x[ia], lo[ia])
        flo[ia] = np.where(left, fx, flo[ia])
        hi[ia] = np.where(left, hi[ia], x[ia])
        fhi[ia] = np.where(left, fhi[ia], fx)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = x[ia] - fx / slope
            secant = lo[ia] - flo[ia] * (hi[ia] - lo[ia]) / (fhi[ia] - flo[ia])
        new = np.where((newton > lo[ia]) & (newton < hi[ia]), newton, secant)
        ok = np.isfinite(new) & (fx != 0)
        new = np.where(ok, new, x[ia])
        moved = np.abs(new - x[ia])
        x[ia] = new
        active[ia] = ok & (moved > tol_frac * S[ia])
    return x


def _refine_one(kernel: _GammaKernel, row: int, prior: float, lo: float, hi: float, flo: float, fhi: float,
                refine_steps: int, tol: float) -> float:
    """One row of :func:`_narrow_to_prior` then :func:`_newton_in_bracket`, the same rules and the same
    arithmetic per evaluation, with the bracket kept in Python floats (a live sample has one row,
    where the vectorized bookkeeping would cost more than the pricing)."""
    if math.isfinite(prior) and lo < prior < hi:
        a = max(lo, prior * (1.0 - FLIP_TRACK_BRACKET))
        b = min(hi, prior * (1.0 + FLIP_TRACK_BRACKET))
        fa, fb = kernel.net_gex(np.array([[a, b]]), slice(row, row + 1))[0].tolist()
        xs, fs = (lo, a, b, hi), (flo, fa, fb, fhi)
        change = [_opposite(fs[j], fs[j + 1]) for j in range(3)]
        pick = 1 if change[1] else 0 if change[0] else 2 if change[2] else -1
        if pick >= 0:
            lo, hi, flo, fhi = xs[pick], xs[pick + 1], fs[pick], fs[pick + 1]
    su, bu, w = kernel.slope_u[row], kernel.base_u[row], kernel.weight[row]
    two_su = _2 * su  # (2 u) su = u (2 su) exactly: the slope's arithmetic of _newton_in_bracket
    x = lo - flo * (hi - lo) / (fhi - flo) if fhi != flo else math.nan
    for _ in range(refine_steps):
        u = np.asarray(math.log(x)) * su + bu if x > 0 else np.full(len(su), np.nan)
        wd = np.exp(-u * u) * w
        fx, slope = float(np.add.reduce(wd)) * x, float(np.add.reduce(wd * (_1 - two_su * u)))
        if (fx < 0) == (flo < 0):  # the root lies right of x: x becomes the lower end
            lo, flo = x, fx
        else:
            hi, fhi = x, fx
        newton = x - fx / slope if slope != 0 else math.nan
        secant = lo - flo * (hi - lo) / (fhi - flo) if fhi != flo else math.nan
        new = newton if lo < newton < hi else secant
        if not math.isfinite(new) or fx == 0:
            break
        moved = abs(new - x)
        x = new
        if moved <= tol:
            break
    return x


def _opposite(a: float, b: float) -> bool:
    """sign(a) * sign(b) < 0 (False for a zero or a NaN)."""
    return (a > 0.0 and b < 0.0) or (a < 0.0 and b > 0.0)


def _crossing_one(xs: list, fs: list, S: float):
    """:func:`_nearest_crossing` for one row in Python floats (same arithmetic, same tie rule: the
    first of equally near crossings). Returns None or (distance, lo, hi, f(lo), f(hi))."""
    best = None
    for j in range(len(xs) - 1):
        y0, y1 = fs[j], fs[j + 1]
        if (y0 > 0.0 and y1 < 0.0) or (y0 < 0.0 and y1 > 0.0):
            x0, x1 = xs[j], xs[j + 1]
            dist = abs(x0 - y0 * (x1 - x0) / (y1 - y0) - S)
            if best is None or dist < best[0]:
                best = (dist, x0, x1, y0, y1)
    return best


def _flip_one(kernel: _GammaKernel, S: float, prior: float, lin: np.ndarray, offset: np.ndarray, step: float,
              refine_steps: int, tol_frac: float) -> float | None:
    """:func:`gamma_flip_rows` for one row (a live 30 s sample): the same window, grid decision and
    refinement, with the grid's few values scanned in Python floats (``offset`` = |lin - 1|). None: no
    crossing in range."""
    grid = np.asarray(S) * lin  # (numbers as 0-d arrays: see greeks._c)
    net = np.empty(len(lin))
    net.fill(np.nan)
    cols = None
    if math.isfinite(prior):
        reach = abs(prior / S - 1.0) + step * (FLIP_TRACK_MARGIN + 0.01)
        window = (offset <= np.asarray(reach)).nonzero()[0]
        if 2 <= len(window) < len(lin):
            cols = window
    if cols is not None:
        net[cols] = kernel.net_gex(grid[None, cols], slice(0, 1))[0]
        found = _crossing_one(grid[cols].tolist(), net[cols].tolist(), S)
        edge = min(1.0 - lin[cols[0]], lin[cols[-1]] - 1.0) * S
        if found is None or not found[0] <= edge:
            rest = np.isnan(net).nonzero()[0]
            net[rest] = kernel.net_gex(grid[None, rest], slice(0, 1))[0]
            found = _crossing_one(grid.tolist(), net.tolist(), S)
    else:
        net = kernel.net_gex(grid[None, :], slice(0, 1))[0]
        found = _crossing_one(grid.tolist(), net.tolist(), S)
    if found is None:
        return None
    _, lo, hi, flo, fhi = found
    return _refine_one(kernel, 0, prior, lo, hi, flo, fhi, refine_steps, tol_frac * S)


@functools.lru_cache(maxsize=8)
def _flip_grid(grid_pct: float, grid_points: int) -> tuple[np.ndarray, np.ndarray]:
    """The grid's spots as fractions of spot, lin = 1 + linspace(-pct, pct, points) / 100, and |lin - 1|
    (read-only)."""
    lin = 1.0 + np.linspace(-grid_pct, grid_pct, grid_points) / 100.0
    offset = np.abs(lin - 1.0)
    lin.setflags(write=False)
    offset.setflags(write=False)
    return lin, offset


def gamma_flip_rows(spot: np.ndarray, strikes: np.ndarray, t: np.ndarray, r: float, q: float, sigma: np.ndarray,
                    position: np.ndarray, *, grid_pct: float = 5.0, grid_points: int = 41, refine_steps: int = 30,
                    tol_frac: float = 1e-7, chunk: int = 64,
                    prior: np.ndarray | None = None, layout: ChainLayout | None = None,
                    vol_drift: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gamma flip per row: re-price the whole chain's gamma (sticky-strike IV) on ``grid_points`` spots
    over +-grid_pct% of spot, take the sign change of net GEX nearest spot, refine it inside its
    bracket with Newton steps (analytic slope, safeguarded by the bracket) until a step moves it less
    than ``tol_frac`` x spot
    (at most ``refine_steps`` re-pricings). Returns (level [m] NaN where none,
    status [m]: 0 ok, 1 no crossing in range, 2 no data; names in FLIP_STATUS_NAMES).

    ``prior`` [m] (NaN where none): the previous flip of each row, tracked incrementally
    (docs/model.md, "Incremental samples"): only the grid points no farther from spot than the
    prior (plus one step) are priced; if the nearest crossing found there is nearer spot than the
    window's edge it is the one the full grid would pick, else the row falls back to the full
    grid. The chosen grid interval is then narrowed to +-FLIP_TRACK_BRACKET around the prior before
    the Newton steps. Same grid decision, same stopping rule: the level agrees with the full
    search to the refinement tolerance. ``layout``: the chain's :class:`ChainLayout` (ln K once per
    definition); ``vol_drift``: one row's sigma sqrt t and (r - q + sigma^2/2) t as the greeks computed
    them from these vols (GreekRows.vol_drift), used when every vol is finite."""
    m = len(spot)
    level = np.empty(m)
    level.fill(np.nan)
    status = np.empty(m, dtype=np.int8)
    status.fill(2)
    finite = np.isfinite(sigma)
    if finite.all():
        sig, pos = sigma, position
    else:  # no vol: no position, and a vol of 1 that prices nothing
        pos = np.where(finite, position, 0.0)
        sig = np.where(finite, sigma, 1.0)
    lin, offset = _flip_grid(float(grid_pct), int(grid_points))
    step = float(lin[1] - lin[0]) if grid_points > 1 else math.inf
    prior = np.full(m, np.nan) if prior is None else np.asarray(prior, dtype=np.float64)
    if m == 1:  # a live sample: one row, the bookkeeping in Python floats
        S1 = float(spot[0])
        if math.isfinite(S1) and S1 > 0 and np.abs(pos[0]).sum() > 0:
            kernel = _GammaKernel(strikes, t, r, q, sig, pos, None if layout is None else layout.ln_k,
                                  vol_drift if sig is sigma else None)
            one = _flip_one(kernel, S1, float(prior[0]), lin, offset, step, refine_steps, tol_frac)
            status[0] = 1 if one is None else 0
            level[0] = math.nan if one is None else one
        return level, status
    for a in range(0, m, chunk):
        b = min(m, a + chunk)
        S = spot[a:b]
        ok = np.isfinite(S) & (S > 0) & (np.abs(pos[a:b]).sum(axis=1) > 0)
        status[a:b] = np.where(ok, 1, 2)
        rows = np.flatnonzero(ok)
        if not rows.size:
            continue
        kernel = _GammaKernel(strikes, t[a:b], r, q, sig[a:b], pos[a:b], None if layout is None else layout.ln_k)
        Sr, pr = S[rows], prior[a:b][rows]
        n = len(rows)
        has = np.zeros(n, dtype=bool)
        lo, hi, flo, fhi = (np.full(n, np.nan) for _ in range(4))
        full = ~np.isfinite(pr)
        warm = np.flatnonzero(~full)
        net = np.full((n, len(lin)), np.nan)  # net GEX on the grid, priced where needed
        grid = Sr[:, None] * lin[None, :]
        priced = np.zeros(len(lin), dtype=bool)
        if warm.size:
            reach = np.max(np.abs(pr[warm] / Sr[warm] - 1.0)) + step * (FLIP_TRACK_MARGIN + 0.01)
            window = offset <= reach
            if 2 <= window.sum() < len(lin):
                cols = np.flatnonzero(window)
                net[np.ix_(warm, cols)] = kernel.net_gex(grid[np.ix_(warm, cols)], rows[warm])
                priced[cols] = True
                h, dist, *bracket = _nearest_crossing(grid[np.ix_(warm, cols)], net[np.ix_(warm, cols)], Sr[warm])
                edge = np.minimum(1.0 - lin[cols[0]], lin[cols[-1]] - 1.0) * Sr[warm]
                found = h & (dist <= edge)
                keep = warm[found]
                has[keep] = True
                for arr, v in zip((lo, hi, flo, fhi), bracket[:4]):
                    arr[keep] = v[found]
                full[warm[~found]] = True
            else:
                full[warm] = True
        cold = np.flatnonzero(full)
        if cold.size:
            rest = np.flatnonzero(~priced)  # the window's points are reused where they were priced
            if priced.any() and not np.isin(cold, warm).all():
                rest = np.arange(len(lin))
            net[np.ix_(cold, rest)] = kernel.net_gex(grid[np.ix_(cold, rest)], rows[cold])
            h, _dist, *bracket = _nearest_crossing(grid[cold], net[cold], Sr[cold])
            keep = cold[h]
            has[keep] = True
            for arr, v in zip((lo, hi, flo, fhi), bracket[:4]):
                arr[keep] = v[h]
        status[a + rows[has]] = 0
        sel = np.flatnonzero(has)
        if not sel.size:
            continue
        if sel.size == 1:
            j = int(sel[0])
            level[a + rows[j]] = _refine_one(kernel, int(rows[j]), float(pr[j]), float(lo[j]), float(hi[j]),
                                             float(flo[j]), float(fhi[j]), refine_steps, tol_frac * float(Sr[j]))
            continue
        lo, hi, flo, fhi = lo[sel], hi[sel], flo[sel], fhi[sel]
        _narrow_to_prior(kernel, rows[sel], pr[sel], lo, hi, flo, fhi)
        level[a + rows[sel]] = _newton_in_bracket(kernel, rows[sel], Sr[sel], lo, hi, flo, fhi, refine_steps,
                                                   tol_frac)
    return level, status


@dataclass(frozen=True, eq=False)
class WallRows:
    call_wall: np.ndarray           # largest |call GEX| at or above spot
    call_wall_gex: np.ndarray
    put_wall: np.ndarray            # largest |put GEX| at or below spot
    put_wall_gex: np.ndarray
    magnet: np.ndarray
    magnet_gex: np.ndarray
    max_call_gex_strike: np.ndarray  # largest |call GEX| anywhere (the unrestricted maximum)
    max_call_gex: np.ndarray
    max_put_gex_strike: np.ndarray   # largest |put GEX| anywhere
    max_put_gex: np.ndarray


def wall_rows(strike_grid: np.ndarray, call_gex: np.ndarray, put_gex: np.ndarray, spot: np.ndarray,
              band: np.ndarray) -> WallRows:
    """Per row (docs/model.md, "Walls and magnet"):

    call wall = strike of the largest |call GEX| among strikes >= spot (a tie goes to the strike
    nearest spot, the lower one); put wall = strike of the largest |put GEX| among strikes <= spot
    (a tie goes to the higher strike, nearest spot); NaN when that side has no strike or no
    exposure. A strike exactly at spot belongs to both sides. The unrestricted maxima over the
    whole chain are kept as ``max_call_gex_strike`` / ``max_put_gex_strike``. Magnet = largest
    positive net GEX within ``band`` dollars of spot (the nearest strike if none is inside; falling
    back to the largest |net GEX| there). NaN where a row has no exposure."""
    m = len(spot)
    rows = np.arange(m)
    net = call_gex + put_gex
    n_k = len(strike_grid)

    def pick(v, size, allowed=None, last=False):
        a = size if allowed is None else np.where(allowed, size, 0.0)
        i = (n_k - 1 - np.argmax(a[:, ::-1], axis=1)) if last else np.argmax(a, axis=1)
        has = a[rows, i] > 0
        return np.where(has, strike_grid[i], np.nan), np.where(has, v[rows, i], np.nan)

    call_size, put_size = np.abs(call_gex), np.abs(put_gex)
    cw, cwg = pick(call_gex, call_size, strike_grid[None, :] >= spot[:, None])
    pw, pwg = pick(put_gex, put_size, strike_grid[None, :] <= spot[:, None], last=True)
    mcw, mcwg = pick(call_gex, call_size)
    mpw, mpwg = pick(put_gex, put_size)
    dist = np.abs(strike_grid[None, :] - spot[:, None])
    b = np.where(np.isfinite(band) & (band > 0), band, np.inf)
    near = dist <= b[:, None]
    nearest = dist == dist.min(axis=1, keepdims=True)
    near = np.where(near.any(axis=1, keepdims=True), near, nearest)
    pos = np.where(near & (net > 0), net, 0.0)
    ip = np.argmax(pos, axis=1)
    ia = np.argmax(np.where(near, np.abs(net), 0.0), axis=1)
    use_pos = pos[rows, ip] > 0
    i = np.where(use_pos, ip, ia)
    has = use_pos | (np.abs(net[rows, ia]) > 0)
    mg = np.where(has, strike_grid[i], np.nan)
    mgg = np.where(has, net[rows, i], np.nan)
    return WallRows(cw, cwg, pw, pwg, mg, mgg, mcw, mcwg, mpw, mpwg)


def walls_one(strike_grid: np.ndarray, call_gex: np.ndarray, put_gex: np.ndarray, net_gex: np.ndarray,
              spot: float, band: float) -> tuple[float, ...]:
    """:func:`wall_rows` for one row (per-strike arrays, ``net_gex`` = call + put), the same rules by
    slices instead of masks: (call_wall, call_wall_gex, put_wall, put_wall_gex, magnet, magnet_gex,
    max_call_gex_strike, max_call_gex, max_put_gex_strike, max_put_gex), NaN where none."""
    nan = math.nan
    n_k = len(strike_grid)
    if not n_k:
        return (nan,) * 10
    call_size, put_size = np.abs(call_gex), np.abs(put_gex)

    def pick(v: np.ndarray, size: np.ndarray, lo: int, hi: int, last: bool = False) -> tuple[float, float]:
        """Largest ``size`` among strikes lo..hi-1 (the first of ties, or the last): (strike, value)."""
        if hi <= lo:
            return nan, nan
        seg = size[lo:hi]
        i = lo + (hi - lo - 1 - int(np.argmax(seg[::-1])) if last else int(np.argmax(seg)))
        return (float(strike_grid[i]), float(v[i])) if size[i] > 0 else (nan, nan)

    above = int(np.searchsorted(strike_grid, spot, side="left"))   # strikes >= spot start here
    below = int(np.searchsorted(strike_grid, spot, side="right")) if spot == spot else 0  # strikes <= spot end here
    cw, cwg = pick(call_gex, call_size, above, n_k)
    pw, pwg = pick(put_gex, put_size, 0, below, last=True)
    mcw, mcwg = pick(call_gex, call_size, 0, n_k)
    mpw, mpwg = pick(put_gex, put_size, 0, n_k)
    dist = np.abs(strike_grid - np.asarray(spot))  # (numbers as 0-d arrays: see greeks._c)
    near = dist <= np.asarray(band if math.isfinite(band) and band > 0 else math.inf)
    if not near.any():
        near = dist == dist.min()
    pos = np.where(near & (net_gex > _0), net_gex, _0)
    ip = int(np.argmax(pos))
    if pos[ip] > 0:
        i = ip
    else:
        i = int(np.argmax(np.where(near, np.abs(net_gex), _0)))
        if not abs(net_gex[i]) > 0:
            return cw, cwg, pw, pwg, nan, nan, mcw, mcwg, mpw, mpwg
    return cw, cwg, pw, pwg, float(strike_grid[i]), float(net_gex[i]), mcw, mcwg, mpw, mpwg


@dataclass(frozen=True)
class Walls:
    call_wall: float | None
    call_wall_gex: float | None
    put_wall: float | None
    put_wall_gex: float | None
    magnet: float | None
    magnet_gex: float | None
    highest_oi_strike: float | None
    highest_oi_total: int | None
    max_positive_gamma: float | None
    max_negative_gamma: float | None
    max_call_gex_strike: float | None = None   # largest |call GEX| anywhere (unrestricted)
    max_call_gex: float | None = None
    max_put_gex_strike: float | None = None    # largest |put GEX| anywhere (unrestricted)
    max_put_gex: float | None = None


def walls(strike_grid, call_gex, put_gex, net_gex, total_oi, spot: float, band_dollars: float | None) -> Walls:
    """call wall = strike with the largest |call GEX| at or above spot; put wall = largest |put GEX|
    at or below spot (ties: the strike nearest spot; unrestricted maxima kept as max_*_gex_strike);
    magnet = strike with the largest positive net GEX within ``band_dollars`` of spot (the remaining
    2-sigma move; whole chain if None), falling back to the largest |net GEX| there (these three
    are :func:`wall_rows` for one row); highest-OI strike = largest call + put OI;
    max +/- gamma = strikes of the extreme net GEX."""
    if len(strike_grid) == 0:
        return Walls(*([None] * 10))
    call_gex, put_gex = np.asarray(call_gex, dtype=np.float64), np.asarray(put_gex, dtype=np.float64)
    cw, cwg, pw, pwg, mg, mgg, mcw, mcwg, mpw, mpwg = walls_one(
        np.asarray(strike_grid), call_gex, put_gex, call_gex + put_gex, float(spot),
        band_dollars if band_dollars is not None else math.inf)

    def opt(v: float) -> float | None:
        return v if math.isfinite(v) else None

    ho = hot = None
    if np.any(total_oi > 0):
        i = int(np.argmax(total_oi))
        ho, hot = float(strike_grid[i]), int(round(float(total_oi[i])))
    mpos = float(strike_grid[int(np.argmax(net_gex))]) if np.any(net_gex > 0) else None
    mneg = float(strike_grid[int(np.argmin(net_gex))]) if np.any(net_gex < 0) else None
    return Walls(opt(cw), opt(cwg), opt(pw), opt(pwg), opt(mg), opt(mgg), ho, hot, mpos, mneg, opt(mcw), opt(mcwg),
                 opt(mpw), opt(mpwg))


def atm_iv_rows(strike_grid: np.ndarray, strike_index: np.ndarray, iv: np.ndarray, spot: np.ndarray) -> np.ndarray:
    """Mean implied vol of the call and put at the strike nearest spot, per row (NaN if neither has one)."""
    k = np.argmin(np.abs(strike_grid[None, :] - spot[:, None]), axis=1)
    at = strike_index[None, :] == k[:, None]
    vals = np.where(at & np.isfinite(iv), iv, 0.0).sum(axis=1)
    cnt = (at & np.isfinite(iv)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, vals / np.maximum(cnt, 1), np.nan)
