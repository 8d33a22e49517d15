"""The simulator's market model: one seeded, vectorized 0DTE session per call.

:func:`simulate_session` is pure and deterministic: the same ``(symbol, session_date, seed,
scenario, level, intensity)`` gives the same arrays byte for byte. Everything is vectorized; no
Python loop runs per print or per quote. The model and its parameters are described in
``docs/simulator.md``.

Layout of the generation (all on a 1-second grid ``s = 0 .. n_seconds`` from the open):

:func:`plan_session`, from one ``numpy.random.Generator`` seeded by symbol, date, seed and scenario:

1. chain and settled OI, and the dealers' opening book;
2. spot path: the fundamental log-price (U-shaped volatility, jumps, scenario drift) passed through
   the dealers' hedging impact;
3. implied volatility: ATM level x (decay into the close) x (spot-vol beta); the smile in
   log-moneyness ``ln(K/S)`` is applied per block (sticky moneyness: the skew moves with spot);
4. every print: parent orders drawn from a U-shaped intensity, expanded to prints (singles, sweeps
   of 2-12 legs within 450 ms across exchanges, lone blocks), opening/closing labels fixed so OI
   never goes negative, and the random numbers that will price each print.

:func:`iter_session_blocks`, 30 minutes at a time: the Black-Scholes (r = q = 0) NBBO grid on a tick
grid, one NBBO row whenever a contract's rounded bid/ask changes plus a heartbeat row (quote stamps
and sizes from the block's own seeded stream), and the block's prints priced against the NBBO in
force with their aggressor mix.
"""
from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np

from zdte_tui.engine.special import erfc, erfinv
from zdte_tui.market.calendar import session_bounds_ns
from zdte_tui.market.events import (
    NS_PER_SECOND,
    ChainDefinition,
    EventBatch,
    OptionQuotes,
    OptionTrades,
    SpotTicks,
)
from zdte_tui.market.occ import OptionSymbol, format_occ

SCENARIOS = ("pin", "squeeze", "flip", "trend", "quiet")
"""Named market dynamics; ``"auto"`` picks one from the seed (:func:`resolve_scenario`)."""


REGULAR_SESSION_SECONDS = 23_400
TRADING_SECONDS_PER_YEAR = 252 * REGULAR_SESSION_SECONDS
"""Time to expiry is measured in trading time: one regular session is 1/252 year."""

QUOTE_WINDOW_NS = 5_000_000
"""NBBO rows of second ``s`` are stamped in ``(s, s + 5 ms)``; prints never fall in that window,
so the NBBO in force at a print in second ``s`` is the quote state of second ``s``."""

SWEEP_WINDOW_NS = 450_000_000
"""All legs of one sweep fall within 450 ms of its first leg (the detector's window is 500 ms)."""

HEARTBEAT_SECONDS = 30
"""Every contract re-sends its NBBO at least this often, even if unchanged."""

# aggressor / price classes (truth["aggressor"]), from the tape's point of view
BELOW_BID, AT_BID, BETWEEN, AT_ASK, ABOVE_ASK = -2, -1, 0, 1, 2
# print structures (truth["structure"])
SINGLE, SWEEP, BLOCK = 0, 1, 2


@dataclass(frozen=True)
class SymbolProfile:
    """Per-underlying scale of the simulated market (levels, strike grid, activity, ticks, impact).

    Sources and dates of the numbers are in docs/simulator.md ("Symbols" and "Realism targets")."""

    symbol: str
    occ_root: str
    spot_usd: float  # reference level; the session's prior close varies ~1 % around it
    level_date: str  # the real session the reference level comes from (ISO date)
    strike_step_usd: float  # listed strike spacing near the money
    prints_per_day: int  # option prints in a regular session (scenario-adjusted)
    atm_oi_contracts: float  # prior-day settled OI of an out-of-the-money contract next to the money
    round_strike_multiples: tuple[float, ...]  # strikes on these multiples carry extra OI
    block_median_contracts: int
    wing_step_usd: float = 5.0  # strike spacing beyond +-fine_band
    fine_band: float = 0.02  # strikes every strike_step_usd within +-2 % of the prior close
    wing_low: float = 0.10  # lowest listed strike: 10 % under the prior close (real SPXW: -9.7 %)
    wing_high: float = 0.05  # highest listed strike: 5 % over it (real SPXW: +4.5 %)
    vol_scale: float = 1.0  # realized and implied vol relative to the S&P 500
    hedge_liquidity_usd: float = 50e9  # dollars of hedge flow that move the underlying by 1 %
    tick_small_usd: float = 0.01
    tick_large_usd: float = 0.01
    tick_switch_usd: float = 3.00  # the large tick applies to prices >= this
    min_spread_ticks: int = 1  # spread floor before rounding out to the tick grid (0: one tick, as real SPXW wings)
    relative_spread: float = 0.012  # spread as a fraction of the mid above the minimum

    @property
    def band_fraction(self) -> float:
        """Half-width of the listed band used by the spread rule (the wider of the two wings)."""
        return max(self.wing_low, self.wing_high)


PROFILES: dict[str, SymbolProfile] = {
    # SPX: close of 2026-08-21 (S&P 500 1-minute archive, tests/data/sim_targets); SPY tracks SPX / 10
    "SPY": SymbolProfile("SPY", "SPY", 767.4, "2026-08-21", 1.0, 420_000, 7_000.0, (5.0, 10.0, 25.0), 500,
                         hedge_liquidity_usd=8e9),
    # QQQ, IWM: levels of 2026-02-20 (a public walls file, docs/simulator.md); vol ratio vs SPX assumed.
    # QQQ's volume: ~1.3 M contracts a day, as real QQQ 0DTE days (0.79 M on 2023-06-12, 1.54 M on 2024-03-22,
    # Cboe downloads in tests/data/sim_targets); OI and hedge liquidity scaled with it (same volume/OI, same impact)
    "QQQ": SymbolProfile("QQQ", "QQQ", 603.5, "2026-02-20", 1.0, 180_000, 3_200.0, (5.0, 10.0, 25.0), 400,
                         vol_scale=1.25, hedge_liquidity_usd=2.25e9),
    # IWM lists $1 strikes across the whole 0DTE chain (a $5 wing strike standing for five $1 strikes put
    # 17 % of its OI under -4 %, out of the real band)
    "IWM": SymbolProfile("IWM", "IWM", 264.6, "2026-02-20", 1.0, 70_000, 2_500.0, (5.0, 10.0, 25.0), 300,
                         wing_step_usd=1.0, fine_band=0.04, vol_scale=1.35, hedge_liquidity_usd=0.35e9),
    "SPX": SymbolProfile("SPX", "SPXW", 7674.37, "2026-08-21", 5.0, 380_000, 2_600.0, (25.0, 50.0, 100.0), 150,
                         wing_step_usd=25.0, tick_small_usd=0.05, tick_large_usd=0.10,
                         min_spread_ticks=0, relative_spread=0.022),
}


def symbol_profile(symbol: str, level: float | None = None) -> SymbolProfile:
    """The table entry for ``symbol`` (or a plausible profile from a hash of its name), at ``level``
    dollars when given (configuration or the last recording seen), else at its reference level."""
    sym = symbol.strip().upper()
    if sym in PROFILES:
        prof = PROFILES[sym]
    else:
        h = zlib.crc32(sym.encode())
        spot = 20.0 + float(h % 48_000) / 100.0  # 20 .. 500 dollars
        step = 0.5 if spot < 50 else (1.0 if spot < 300 else 2.5)
        multiples = tuple(step * m for m in (5, 10, 20))
        root = "".join(ch for ch in sym if ch.isalnum())[:6] or "X"
        prof = SymbolProfile(sym, root, round(spot, 2), "", step, 20_000, 1_500.0, multiples, 100,
                             wing_step_usd=step * 5, fine_band=0.06, wing_low=0.10, wing_high=0.08,
                             vol_scale=1.5, hedge_liquidity_usd=0.2e9, relative_spread=0.02)
    if level is not None:
        if not (np.isfinite(level) and level > 0):
            raise ValueError(f"level for {sym}: expected a positive price, got {level!r}")
        prof = replace(prof, spot_usd=float(level), level_date="configured")
    return prof


@dataclass(frozen=True)
class ScenarioParams:
    """Dynamics of one scenario (see docs/simulator.md)."""

    sigma_annual: float  # base realized vol of the spot
    atm_iv: float  # implied ATM vol at the open
    volume_mult: float
    jump_rate_per_day: float
    call_share: float  # fraction of parent orders on calls


SCENARIO_PARAMS: dict[str, ScenarioParams] = {
    # fundamental vol (before hedging) of the S&P 500; other symbols scale it by their vol_scale
    "pin": ScenarioParams(0.085, 0.12, 0.95, 0.5, 0.50),
    "squeeze": ScenarioParams(0.085, 0.14, 1.20, 1.0, 0.55),
    "flip": ScenarioParams(0.080, 0.13, 1.10, 1.0, 0.48),
    "trend": ScenarioParams(0.085, 0.14, 1.05, 1.0, 0.50),
    "quiet": ScenarioParams(0.060, 0.10, 0.75, 0.0, 0.50),
}

SCENARIO_MIX: dict[str, float] = {"pin": 0.25, "quiet": 0.20, "trend": 0.25, "flip": 0.15, "squeeze": 0.15}
"""How often ``auto`` picks each scenario: chosen so the simulated days' shapes (range, and how much of
the range the close keeps) match real S&P 500 sessions (docs/simulator.md, "Scenario mix")."""


def resolve_scenario(seed: int, scenario: str = "auto") -> str:
    """``scenario`` validated, or for ``"auto"`` a draw from :data:`SCENARIO_MIX` seeded by ``seed`` alone."""
    name = (scenario or "auto").strip().lower()
    if name == "auto":
        u = np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFF_FFFF, 0x5CE9])).random()
        names = tuple(SCENARIO_MIX)
        cum = np.cumsum([SCENARIO_MIX[n] for n in names])
        return names[min(int(np.searchsorted(cum / cum[-1], u, side="right")), len(names) - 1)]
    if name not in SCENARIOS:
        raise ValueError(f"scenario {scenario!r}: expected auto or one of {', '.join(SCENARIOS)}")
    return name


@dataclass(frozen=True, eq=False)
class SessionTruth:
    """What the generator knows and the engine must estimate; never part of the event stream.

    Per trade (aligned with ``SimulatedSession.trades``):
      ``customer_side`` int8 (+1 customer bought, -1 sold; the dealer took the other side),
      ``opening`` int8 (+1 opened, -1 closed, 0 transfer: OI change of the print / size),
      ``oi_after`` int64 (the contract's true OI just after the print),
      ``aggressor`` int8 (price vs NBBO in force: -2 below bid, -1 at bid, 0 between, 1 at ask,
      2 above ask), ``structure`` int8 (0 single, 1 sweep leg, 2 block), ``parent`` int32
      (order id: all legs of one sweep share it).
    Per contract (aligned with the chain):
      ``settled_oi``, ``oi_eod`` int64; ``dealer_position_start`` / ``dealer_position_eod``
      int64 contracts (dealer long > 0; end = start - sum(customer_side * size)).
    Per second of the session: ``atm_iv`` float64 (the model's ATM implied vol).
    """

    customer_side: np.ndarray
    opening: np.ndarray
    oi_after: np.ndarray
    aggressor: np.ndarray
    structure: np.ndarray
    parent: np.ndarray
    settled_oi: np.ndarray
    oi_eod: np.ndarray
    dealer_position_start: np.ndarray
    dealer_position_eod: np.ndarray
    atm_iv: np.ndarray
    pin_strike: float | None = None  # pin: the strike the close is pulled to
    flip_level: float | None = None  # flip: the level the spot crosses midday
    trend_sign: int = 0  # trend / squeeze: +1 up, -1 down

    def oi_at(self, trades: OptionTrades, ts_ns: int) -> np.ndarray:
        """True OI per contract after all prints with ``ts <= ts_ns`` (settled OI + sum of opening * size)."""
        k = int(np.searchsorted(trades.ts_ns, ts_ns, side="right"))
        delta = np.bincount(trades.contract[:k], weights=(self.opening[:k] * trades.size[:k]),
                            minlength=len(self.settled_oi))
        return self.settled_oi + np.rint(delta).astype(np.int64)


@dataclass(frozen=True, eq=False)
class SimulatedSession:
    """One generated session of one underlying: chain, events, and the hidden truth."""

    symbol: str
    session_date: date
    seed: int
    scenario: str
    open_ns: int
    close_ns: int
    profile: SymbolProfile
    chain: ChainDefinition
    spot: SpotTicks
    quotes: OptionQuotes
    trades: OptionTrades
    truth: SessionTruth
    info: dict = field(default_factory=dict)

    def batch(self, start_ns: int, end_ns: int) -> EventBatch:
        """The events in ``(start_ns, end_ns]`` as one :class:`EventBatch` (zero-copy views)."""
        def cut(ts: np.ndarray) -> slice:
            lo, hi = np.searchsorted(ts, (start_ns, end_ns), side="right")
            return slice(int(lo), int(hi))

        sp, q, t = cut(self.spot.ts_ns), cut(self.quotes.ts_ns), cut(self.trades.ts_ns)
        return EventBatch(
            underlying=self.symbol, start_ns=int(start_ns), end_ns=int(end_ns),
            spot=SpotTicks(self.spot.ts_ns[sp], self.spot.price[sp]),
            quotes=OptionQuotes(self.quotes.ts_ns[q], self.quotes.contract[q], self.quotes.bid[q],
                                self.quotes.ask[q], self.quotes.bid_size[q], self.quotes.ask_size[q]),
            trades=OptionTrades(self.trades.ts_ns[t], self.trades.contract[t], self.trades.price[t],
                                self.trades.size[t], self.trades.exchange[t]),
        )


# --------------------------------------------------------------------------- helpers


def _rng(symbol: str, session_date: date, seed: int, stream: int) -> np.random.Generator:
    entropy = [int(seed) & 0xFFFF_FFFF, zlib.crc32(symbol.encode()), session_date.toordinal(), stream]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def _group_cumsum(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at each group (groups are contiguous runs)."""
    total = np.cumsum(values)
    before = np.repeat(total[starts] - values[starts], lengths)
    return total - before


def _u_shape(s: np.ndarray, n_seconds: int, open_amp: float, open_tau_s: float,
             close_amp: float, close_tau_s: float) -> np.ndarray:
    """1 + open_amp e^(-s/open_tau) + close_amp e^(-(n-s)/close_tau): busy open and close."""
    return 1.0 + open_amp * np.exp(-s / open_tau_s) + close_amp * np.exp(-(n_seconds - s) / close_tau_s)


# --------------------------------------------------------------------------- chain


def _prior_close(profile: SymbolProfile, session_date: date) -> float:
    """The prior session's close: the profile level x exp(N(0, 1 %)), seeded by symbol and date only."""
    rng = _rng(profile.symbol, session_date, 0, 99)
    level = profile.spot_usd * float(np.exp(0.01 * rng.standard_normal()))
    return round(level, 2)


def strike_grid(profile: SymbolProfile, prev_close: float) -> np.ndarray:
    """Listed strikes: every ``strike_step_usd`` within +-``fine_band`` of the prior close, every
    ``wing_step_usd`` out to ``-wing_low`` / ``+wing_high`` (real SPXW 0DTE lists 5-point strikes near
    the money and 25-point wings from about -10 % to +4.5 %)."""
    step, wing = profile.strike_step_usd, profile.wing_step_usd
    lo_f = np.floor(prev_close * (1 - profile.fine_band) / step) * step
    hi_f = np.ceil(prev_close * (1 + profile.fine_band) / step) * step
    fine = np.arange(lo_f, hi_f + step / 2, step)
    lo_w = np.floor(prev_close * (1 - profile.wing_low) / wing) * wing
    hi_w = np.ceil(prev_close * (1 + profile.wing_high) / wing) * wing
    wings = np.arange(lo_w, hi_w + wing / 2, wing)
    wings = wings[(wings < lo_f) | (wings > hi_f)]
    return np.round(np.union1d(fine, wings), 6)


def _on_multiple(strikes: np.ndarray, mult: float) -> np.ndarray:
    return np.isclose(np.mod(strikes + 1e-9, mult), 0.0, atol=1e-6)


CUSTOMER_NET_MEAN = {"pin": (-0.15, -0.05), "quiet": (-0.15, -0.10), "trend": (0.25, 0.30),
                     "squeeze": (0.30, 0.25), "flip": (-0.10, 0.35)}
"""Customers' prior net position as a fraction of settled OI, (calls, puts) mean by scenario (sd 0.2).
Dealers hold the other side, so negative values make dealers long gamma (docs/simulator.md)."""


OI_FLAT_CORE, OI_OTM_DECAY, OI_ITM_LEVEL, OI_ITM_DECAY = 0.0, 0.024, 0.15, 0.008
"""Settled OI density per strike step, m = K / prior close - 1: out of the money flat within +-OI_FLAT_CORE,
then exp(-(|m| - OI_FLAT_CORE) / OI_OTM_DECAY); in the money OI_ITM_LEVEL exp(-|m| / OI_ITM_DECAY)
(docs/simulator.md, "Chain and settled OI")."""


def _build_chain(profile: SymbolProfile, session_date: date, prev_close: float,
                 scenario: str, rng: np.random.Generator, open_price: float) -> tuple[ChainDefinition, dict]:
    grid = strike_grid(profile, prev_close)
    n_k = len(grid)
    strikes = np.repeat(grid, 2)  # contract 2k = call, 2k + 1 = put at strike k
    is_call = np.tile(np.array([True, False]), n_k)

    # settled OI (fit to the whole SPXW 0DTE chain of 2026-08-13): out of the money, the density per
    # strike-step falls as exp(-|m| / 2.4 %), puts x1.1; in the money it is 0.15 exp(-|m| / 0.8 %).
    # A wing strike stands for wing_step / step fine strikes.
    m = (strikes - prev_close) / prev_close
    otm_side = np.where(is_call, m, -m) > 0
    away = np.maximum(np.abs(m) - OI_FLAT_CORE, 0.0)
    density = np.where(otm_side, np.where(is_call, 1.0, 1.1) * np.exp(-away / OI_OTM_DECAY),
                       OI_ITM_LEVEL * np.exp(-np.abs(m) / OI_ITM_DECAY))
    spacing = np.gradient(grid) if n_k > 1 else np.ones(1)
    density = density * np.repeat(np.clip(spacing / profile.strike_step_usd, 1.0, None), 2)
    oi = profile.atm_oi_contracts * density
    for i, mult in enumerate(profile.round_strike_multiples):
        oi = oi * np.where(_on_multiple(strikes, mult), 1.5 + 0.3 * i, 1.0)
    oi *= np.exp(0.6 * rng.standard_normal(len(strikes)) - 0.18)  # lognormal noise, mean 1

    info: dict = {}
    round_step = profile.round_strike_multiples[0]
    phi_c, phi_p = CUSTOMER_NET_MEAN[scenario]
    phi = rng.normal(np.where(is_call, phi_c, phi_p), 0.2)
    if scenario == "pin":
        # the pin: a round strike within ~0.3 % of the prior close with the largest OI, which
        # customers sold (premium sellers): dealers are long its gamma
        candidates = grid[_on_multiple(grid, round_step)]
        near = candidates[np.abs(candidates - prev_close) <= max(0.003 * prev_close, round_step)]
        near = near if len(near) else candidates[np.argsort(np.abs(candidates - prev_close))[:1]]
        pin = float(rng.choice(near))
        at_pin = np.isclose(strikes, pin)
        oi = np.where(at_pin, oi * 2.0 + 1.5 * profile.atm_oi_contracts, oi)
        phi = np.where(at_pin, -0.8, phi)
        info["pin_strike"] = pin
    elif scenario == "squeeze":
        # call walls above, owned by customers: dealers short their gamma
        walls = is_call & (strikes > prev_close) & _on_multiple(strikes, round_step)
        oi = np.where(walls, oi * 2.0, oi)
        phi = np.where(walls, 0.55, phi)
    elif scenario == "flip":
        # dealers long gamma above the flip level (customers sold calls/puts there), short gamma below
        # (customers bought puts): the spot trends once it falls through the level
        flip = open_price * (1 - 0.005)
        below = ~is_call & (strikes < flip)
        oi = np.where(below, oi * 1.8, oi)
        phi = np.where(below, 0.55, np.where(strikes >= flip, -0.35, phi))
        info["flip_level"] = round(flip, 2)
    settled_oi = np.maximum(np.rint(oi), 0).astype(np.int64)
    info["customer_net_start"] = np.rint(np.clip(phi, -0.8, 0.8) * settled_oi).astype(np.int64)

    expiry = session_date
    occ = tuple(format_occ(OptionSymbol(profile.occ_root, expiry, "C" if c else "P", float(k)), style="osi")
                for k, c in zip(strikes.tolist(), is_call.tolist()))
    chain = ChainDefinition(underlying=profile.symbol, expiry=expiry, strikes=strikes, is_call=is_call,
                            settled_oi=settled_oi, occ_symbols=occ, prev_close=prev_close)
    return chain, info


# --------------------------------------------------------------------------- spot


VOL_OPEN_AMP, VOL_OPEN_TAU_S, VOL_CLOSE_AMP, VOL_CLOSE_TAU_S = 2.8, 1800.0, 0.5, 1200.0
"""Time-of-day shape of the spot's volatility, 1 + 2.8 e^(-s / 30 min) + 0.5 e^(-(T - s) / 20 min):
real SPX 1-minute bars move ~2.2x as much in the first hour as at 12:00-14:00, ~1.15x in the last."""


def _fundamental_path(n_seconds: int, scenario: str, params: ScenarioParams, profile: SymbolProfile,
                      info: dict, open_price: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    """The log-spot the market would print without dealer hedging: x[0] = 0, then
    x[k+1] = x[k] + mu[k] + sigma[k] eps[k] + J[k] (U-shaped sigma, Poisson jumps, scenario drift).
    Returns (x, regime multiplier per second, facts)."""
    s = np.arange(n_seconds, dtype=np.float64)
    frac = s / n_seconds
    u = _u_shape(s, n_seconds, VOL_OPEN_AMP, VOL_OPEN_TAU_S, VOL_CLOSE_AMP, VOL_CLOSE_TAU_S)
    u /= u.mean()
    sigma_sec = params.sigma_annual * profile.vol_scale / np.sqrt(TRADING_SECONDS_PER_YEAR)
    vol = sigma_sec * u
    drift = np.zeros(n_seconds)
    regime = np.ones(n_seconds)  # multiplies trade intensity and IV (flip afternoon, squeeze)
    extra: dict = {}
    if scenario == "trend":
        sign = 1 if rng.random() < 0.5 else -1
        drift[:] = sign * profile.vol_scale * rng.uniform(0.0015, 0.004) / n_seconds
        extra["trend_sign"] = sign
    elif scenario == "squeeze":
        sign = 1 if rng.random() < 0.75 else -1
        move = sign * profile.vol_scale * rng.uniform(0.0015, 0.004)
        drift[:] = move * 3.0 * frac**2 / n_seconds  # accelerating: integral of 3 t^2 = 1
        regime = 1.0 + 0.6 * frac**2
        extra["trend_sign"] = sign
    elif scenario == "flip":
        # from ~11:45 to ~13:30 the fundamental slides ~0.6 % down, through the flip level
        slide = (frac >= 0.35) & (frac < 0.62)
        total = np.log(info["flip_level"] / open_price) - 0.001 * profile.vol_scale
        drift[slide] = total / max(int(slide.sum()), 1)
        after = np.clip((frac - 0.45) / 0.1, 0.0, 1.0)
        regime = 1.0 + 0.35 * after
    shocks = vol * rng.standard_normal(n_seconds) + drift
    n_jumps = rng.poisson(params.jump_rate_per_day * n_seconds / REGULAR_SESSION_SECONDS)
    if n_jumps:
        # jumps (sd 0.15 % of spot) land after the first minute and before the last 15 minutes
        where = rng.integers(60, n_seconds - 900, n_jumps) if n_seconds > 1200 else rng.integers(0, n_seconds, n_jumps)
        np.add.at(shocks, where, 0.0015 * profile.vol_scale * rng.standard_normal(n_jumps))
    x = np.concatenate(([0.0], np.cumsum(shocks)))
    return x, regime, extra


MIN_HEDGE_GAIN, MAX_HEDGE_GAIN = 0.2, 2.0
"""dS/dF bounds: long dealer gamma damps a fundamental move to no less than 20 % of it (the spot never
freezes); short gamma amplifies it at most 2x (a book can double a day's move, not make a crash of it)."""


def _hedge_times(n_seconds: int) -> np.ndarray:
    """Start second of each hedging bucket: dealer delta is re-evaluated every 10 minutes, every
    2 minutes in the last hour and every minute in the last 15 (gamma peaks at expiry)."""
    t1, t2 = max(0, n_seconds - 3600), max(0, n_seconds - 900)
    return np.concatenate((np.arange(0, t1, 600), np.arange(t1, t2, 120),
                           np.arange(t2, n_seconds, 60))).astype(np.int64)


def dealer_delta_shares(spot: np.ndarray, strikes: np.ndarray, is_call: np.ndarray, position: np.ndarray,
                        iv: float, tau_years: float) -> np.ndarray:
    """Dealers' option delta in shares at each ``spot`` (Black-Scholes, r = q = 0, flat ``iv``):
    sum over contracts of position x 100 x delta. Calls and puts at one strike share N(d1), so only
    their summed position moves with the spot; puts add the constant -position x 100."""
    k, net, const = _delta_book(strikes, position)
    return _book_delta(np.asarray(spot, np.float64), k, net, const, iv * np.sqrt(max(tau_years, 1e-12)))


def _delta_book(strikes: np.ndarray, position: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    net = (position[0::2] + position[1::2]).astype(np.float64) * 100.0
    keep = net != 0
    return strikes[::2][keep].astype(np.float64), net[keep], -100.0 * float(position[1::2].sum())


def _book_delta(spot: np.ndarray, k: np.ndarray, net: np.ndarray, const: float, sd: float) -> np.ndarray:
    """sum_K net_K N(d1(S, K)) + const for each S; strikes more than 5 sd from every S count as
    N = 1 (far below) or 0 (far above) without evaluating the normal cdf."""
    lo, hi = float(spot.min()) * np.exp(-5 * sd), float(spot.max()) * np.exp(5 * sd)
    below = k < lo
    live = ~below & (k <= hi)
    out = np.full(spot.shape, const + float(net[below].sum()))
    if live.any():
        d1 = (np.log(spot[:, None] / k[live][None, :]) + 0.5 * sd * sd) / sd
        d1 *= -_INV_SQRT2
        out += 0.5 * erfc(d1) @ net[live]
    return out


def _hedged_path(x: np.ndarray, open_price: float, chain: ChainDefinition, dealer_position: np.ndarray,
                 iv: float, profile: SymbolProfile, n_seconds: int) -> tuple[np.ndarray, np.ndarray]:
    """Spot per second under the hedging impact rule (docs/simulator.md, "Dealer hedging").

    Dealers keep their option book delta-hedged; their hedge flow has a permanent linear price impact
    lambda = 0.01 S0^2 / L dollars per share (L = ``hedge_liquidity_usd``, the dollar flow that moves
    the underlying 1 %). With F the fundamental price (``open_price`` x e^x) and D(S, t) the dealers'
    option delta, the printed price S solves S + lambda (D(S, t) - D(S0, t0)) = F. Long dealer gamma
    (D rising in S) makes the map flatter than F near big strikes, so the spot pins; short gamma
    makes it steeper, so moves are amplified; dS/dF stays within [MIN_HEDGE_GAIN, MAX_HEDGE_GAIN].
    Returns (spot per second incl. the close, local gain dS/dF per second).
    """
    lam = 0.01 * open_price**2 / profile.hedge_liquidity_usd
    fundamental = open_price * np.exp(x)
    lo = min(float(fundamental.min()), open_price) * 0.97
    hi = max(float(fundamental.max()), open_price) * 1.03
    grid = np.linspace(lo, hi, 161)
    dgrid = grid[1] - grid[0]
    starts = _hedge_times(n_seconds)
    ends = np.append(starts[1:], n_seconds + 1)
    out = np.empty(n_seconds + 1)
    gain = np.empty(n_seconds + 1)
    k, net, const = _delta_book(chain.strikes, dealer_position)
    taus = (n_seconds - (starts + ends) / 2.0 + 30.0) / TRADING_SECONDS_PER_YEAR
    sds = iv * np.sqrt(np.maximum(taus, 1e-12))
    d0 = float(_book_delta(np.array([open_price]), k, net, const, float(sds[0]))[0])
    for a, b, sd in zip(starts.tolist(), ends.tolist(), sds.tolist()):
        h = grid + lam * (_book_delta(grid, k, net, const, sd) - d0)
        # dS/dF kept within [MIN_HEDGE_GAIN, MAX_HEDGE_GAIN]: long gamma damps a move to no less than
        # 20 % of the fundamental's, short gamma amplifies it at most 2x (no fold, no jump)
        dh = np.clip(np.diff(h), dgrid / MAX_HEDGE_GAIN, dgrid / MIN_HEDGE_GAIN)
        h = h[0] + np.concatenate(([0.0], np.cumsum(dh)))
        seg = fundamental[a:b]
        # beyond the grid the book's delta no longer changes: the spot follows the fundamental 1:1
        out[a:b] = np.interp(seg, h, grid) + np.minimum(seg - h[0], 0.0) + np.maximum(seg - h[-1], 0.0)
        slope = np.diff(h) / np.diff(grid)
        cell = np.clip(np.searchsorted(grid, out[a:b]) - 1, 0, len(slope) - 1)
        gain[a:b] = 1.0 / np.maximum(slope[cell], 1e-6)
    return out, gain


# --------------------------------------------------------------------------- quotes


def _atm_iv(spot: np.ndarray, open_price: float, atm_open: float, regime: np.ndarray,
            n_seconds: int) -> np.ndarray:
    """ATM implied vol per second: atm_open x (1.15 - 0.35 t/T) x (S/S_open)^-4 x regime boost.

    The level decays into the close; a 1 % drop in spot lifts it ~4 % (spot-vol beta)."""
    frac = np.arange(n_seconds) / n_seconds
    boost = 1.0 + 0.25 * (regime - 1.0) / 0.35
    atm = atm_open * (1.15 - 0.35 * frac) * np.exp(-4.0 * np.log(spot[:n_seconds] / open_price)) * boost
    return np.clip(atm, 0.4 * atm_open, 3.0 * atm_open)


SMILE_SKEW_PER_PCT = 0.10
SMILE_CURVATURE_PER_PCT2 = 0.025
"""Smile: IV(K, t) = ATM(t) x max(1 - 0.10 x + 0.025 x^2, 0.6), x = 100 ln(K/S) clipped to +-8
(percent log-moneyness). Sticky moneyness: the skew moves with spot; puts (x < 0) are richer."""


def _floor_to_tick_cents(price_usd: np.ndarray, profile: SymbolProfile) -> np.ndarray:
    """Largest valid price <= ``price_usd`` on the (two-level) tick grid, in int32 cents."""
    small = round(profile.tick_small_usd * 100)
    large = round(profile.tick_large_usd * 100)
    cents = price_usd * np.float32(100.0 / small)
    cents += np.float32(1e-3)
    np.floor(cents, out=cents)
    cents *= small
    if large != small:
        switch = round(profile.tick_switch_usd * 100)
        cents = np.where(cents >= switch, np.floor(cents / large + 1e-3) * large, cents)
    return cents.astype(np.int32)


def _ceil_to_tick_cents(price_usd: np.ndarray, profile: SymbolProfile) -> np.ndarray:
    """Smallest valid price >= ``price_usd`` on the (two-level) tick grid, in int32 cents."""
    small = round(profile.tick_small_usd * 100)
    large = round(profile.tick_large_usd * 100)
    cents = price_usd * np.float32(100.0 / small)
    cents -= np.float32(1e-3)
    np.ceil(cents, out=cents)
    cents *= small
    if large != small:
        switch = round(profile.tick_switch_usd * 100)
        cents = np.where(cents > switch, np.ceil(cents / large - 1e-3) * large, cents)
    return cents.astype(np.int32)


def _tick_cents(price_cents: np.ndarray, profile: SymbolProfile) -> np.ndarray:
    """The tick size (cents) that applies at ``price_cents``."""
    small = round(profile.tick_small_usd * 100)
    large = round(profile.tick_large_usd * 100)
    if large == small:
        return np.full(price_cents.shape, small, dtype=np.int32)
    return np.where(price_cents >= round(profile.tick_switch_usd * 100), large, small).astype(np.int32)


_INV_SQRT2 = 1.0 / np.sqrt(2.0)


NBBO_BLOCK_SECONDS = 1800
"""The day is generated in blocks of this many seconds (:func:`iter_session_blocks`): every NBBO element
depends only on its own second and contract, so the grid is the same in any blocks while its float32
temporaries stay ~13x smaller than the whole day's."""


def _nbbo_block(spot: np.ndarray, chain: ChainDefinition, profile: SymbolProfile, atm: np.ndarray,
                open_price: float, n_seconds: int, first: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Bid and ask in int32 cents for seconds ``first .. end - 1`` of the session.

    Theo = Black-Scholes with r = q = 0 on the smile (puts by parity, P = C - S + K), in
    float32 (error < 0.1 cent at these price levels); half spread = max(min ticks / 2,
    relative x theo x far-strike factor / 2) x widening at the open and into the close; bid
    floored and ask ceiled to the tick grid, bid >= 0, ask >= bid + 1 tick.
    """
    f32 = np.float32
    k = chain.strikes[::2].astype(f32)[None, :]
    secs = np.arange(first, end)
    s = spot[first:end].astype(f32)[:, None]
    tau = (n_seconds - secs + 30.0) / TRADING_SECONDS_PER_YEAR
    log_sk = np.log(s / k)  # ln(S/K), (seconds, strikes)
    x = log_sk * f32(-100.0)  # percent log-moneyness 100 ln(K/S)
    np.clip(x, -8.0, 8.0, out=x)
    sd = x * f32(SMILE_CURVATURE_PER_PCT2)
    sd -= f32(SMILE_SKEW_PER_PCT)
    sd *= x
    sd += f32(1.0)
    np.maximum(sd, f32(0.6), out=sd)
    sd *= (atm[first:end] * np.sqrt(tau)).astype(f32)[:, None]  # total vol sigma sqrt(tau)
    d = log_sk
    d /= sd
    d += f32(0.5) * sd  # d1
    d *= f32(-_INV_SQRT2)
    call = erfc(d)  # 2 N(d1)
    call *= f32(0.5) * s
    d += sd * f32(_INV_SQRT2)  # -(d1 - sd) / sqrt 2
    n_d2 = erfc(d)
    n_d2 *= f32(0.5) * k
    call -= n_d2
    np.maximum(call, s - k, out=call)
    np.maximum(call, f32(0.0), out=call)
    theo = np.empty((end - first, len(chain.strikes)), dtype=f32)
    theo[:, 0::2] = call
    call -= s
    call += k
    np.maximum(call, f32(0.0), out=call)
    theo[:, 1::2] = call

    frac = secs / n_seconds
    widen = 1.0 + 1.5 * np.exp(-frac * n_seconds / 300.0) + 0.5 * np.clip((frac - 0.97) / 0.03, 0, 1)
    far = np.abs(np.log(chain.strikes / open_price)) / profile.band_fraction
    half_rel = 0.5 * profile.relative_spread * (1.0 + 0.5 * far)
    half = theo * half_rel.astype(f32)[None, :]
    np.maximum(half, f32(0.5 * profile.min_spread_ticks * profile.tick_small_usd), out=half)
    half *= widen.astype(f32)[:, None]
    half += theo
    ask = _ceil_to_tick_cents(half, profile)
    half -= theo
    theo -= half
    bid = _floor_to_tick_cents(theo, profile)
    np.maximum(bid, 0, out=bid)
    np.maximum(ask, bid + _tick_cents(bid, profile), out=ask)
    return bid, ask


def _quote_block(bid: np.ndarray, ask: np.ndarray, prev: tuple[np.ndarray, np.ndarray] | None, first_sec: int,
                 open_ns: int, heartbeat_s: int, rng: np.random.Generator) -> OptionQuotes:
    """NBBO rows of seconds ``first_sec ..`` (the block's ``bid``/``ask`` grid, cents): one row per
    (second, contract) where the rounded bid/ask changed since the previous second (``prev``: the last row of
    the previous block; None for the first block, whose first second sends every contract), or a heartbeat
    is due (every ``heartbeat_s`` seconds per contract, staggered by contract)."""
    n_rows, n_contracts = bid.shape
    changed = np.empty(bid.shape, dtype=bool)
    if prev is None:
        changed[0] = True
    else:
        changed[0] = (bid[0] != prev[0]) | (ask[0] != prev[1])
    np.not_equal(bid[1:], bid[:-1], out=changed[1:])
    changed[1:] |= ask[1:] != ask[:-1]
    if heartbeat_s <= 1:
        changed[:] = True
    else:
        first_beat = (np.arange(n_contracts) * 7) % heartbeat_s  # global beat seconds, relative to the block
        rel0 = (first_beat - first_sec) % heartbeat_s
        beat_rows = rel0[None, :] + heartbeat_s * np.arange(n_rows // heartbeat_s + 1)[:, None]
        beat_cols = np.broadcast_to(np.arange(n_contracts)[None, :], beat_rows.shape)
        keep = beat_rows < n_rows
        changed[beat_rows[keep], beat_cols[keep]] = True
    flat = np.flatnonzero(changed.ravel())  # row-major: by second, then contract -> time order
    del changed
    n = len(flat)
    b = np.take(bid.ravel(), flat) / 100.0
    a = np.take(ask.ravel(), flat) / 100.0
    # stamps in (s, s + 5 ms): never on the whole second, so a block's rows are exactly the events of the
    # batch window (open + first_sec, open + last second] (EventBatch windows are (start, end]);
    # computed in place: open + (second + first_sec) x 1 s + contract x slot + jitter
    slot_ns = QUOTE_WINDOW_NS // n_contracts
    con = (flat % n_contracts).astype(np.int32)
    ts = flat
    ts //= n_contracts
    ts += first_sec
    ts *= NS_PER_SECOND
    ts += open_ns
    ts += con.astype(np.int64) * slot_ns
    ts += rng.integers(1, slot_ns, n)
    depth = _DEPTH_TABLE[rng.integers(0, len(_DEPTH_TABLE), (2, n), dtype=np.int16)]
    bid_size = np.where(b > 0, depth[0], 0).astype(np.int32)
    return OptionQuotes(ts, con, b, a, bid_size, depth[1])


_DEPTH_TABLE = (10 + np.rint(np.exp(3.8 + 0.9 * np.sqrt(2.0) * erfinv(np.linspace(-0.998, 0.998, 512)))))
_DEPTH_TABLE = _DEPTH_TABLE.astype(np.int32)
"""Displayed size per quote side: 512 lognormal quantiles (median ~55 contracts), drawn by index."""


# --------------------------------------------------------------------------- trades


_PLAN_TABLE = np.array([
    # single prints: 1 % beyond the customer's side, 56 % at it, 30 % inside, 12 % at the far side, 1 % beyond that
    [2] * 1 + [1] * 56 + [0] * 30 + [-1] * 12 + [-2] * 1,
    # sweep legs after the first: 20 % through the (stale) NBBO, else at it
    [2] * 20 + [1] * 80,
    # blocks: 35 % at the customer's side, 55 % negotiated inside, 10 % at the far side
    [1] * 35 + [0] * 55 + [-1] * 10,
], dtype=np.int8)
"""Planned price class of a print from the customer's side (+1 = at the side the customer pays),
indexed by [structure, percentile]. The tape class is plan x customer_side."""

_VENUE_TABLE = np.repeat(np.arange(16), [12, 10, 9, 9, 8, 8, 7, 6, 6, 5, 5, 4, 4, 3, 2, 2])
"""Venue index 0..15 weighted by a rough market share (exchange code = index + 1)."""


FLOW_U_SHAPE = (0.75, 2400.0, 0.9, 1500.0)
"""Parent-order intensity 1 + 0.75 e^(-s / 40 min) + 0.9 e^(-(T - s) / 25 min) (times the move and regime
terms): real SPXW 0DTE volume is front-loaded, 0.05-0.11 of the day more in 09:30-10:45 than in 14:30-15:45."""

STRIKE_DISTANCE_NEAR, STRIKE_DISTANCE_FAR, STRIKE_FAR_SHARE = 0.0014, 0.008, 0.40
"""Distance of an order's strike from spot: exponential with mean 0.14 % of spot (60 % of orders) or
0.8 % (40 %: lottery tickets and hedges), shrinking to 45 % of that into the close: real SPXW volume
within +-2 % of spot sits 64-82 % within +-0.5 % of the closing spot, on calm and moving days alike."""


OPENER_SHARE = 0.58
"""Share of the day's parent orders that open new positions; their closers and the closes of prior-day
positions make up the rest (docs/simulator.md, "Opening and closing")."""
TRANSFER_SHARE = 0.10
"""Share of openers that take over a position someone else closes at the same time (OI unchanged)."""
HOLD_MEDIAN_S, HOLD_SIGMA = 2400.0, 1.0
"""Holding time of a position opened today: lognormal, median 40 minutes, log-sd 1 (p90 ~2.4 h)."""
HOLD_TO_EXPIRY = 0.40
"""Share of positions opened today that are never closed: held into expiry (settled or worthless)."""
PRIOR_CLOSE_SHARE, PRIOR_CLOSE_TAU_S = 0.12, 5400.0
"""Closes of positions carried from prior days: 12 % of the day's parents, falling off e^(-t / 90 min)."""


def _nearest_strike(grid: np.ndarray, price: np.ndarray) -> np.ndarray:
    """Index of the listed strike nearest to each ``price`` (the grid may be unevenly spaced)."""
    i = np.clip(np.searchsorted(grid, price), 1, len(grid) - 1)
    left = price - grid[i - 1] < grid[i] - price
    return (i - left).astype(np.int64)


def _trade_plan(spot: np.ndarray, regime: np.ndarray,
                chain: ChainDefinition, profile: SymbolProfile, scenario: str, params: ScenarioParams,
                info: dict, extra: dict, n_seconds: int, rng: np.random.Generator,
                intensity: float = 1.0) -> dict:
    """Every print of the day except its price, in time order, with its truth labels.

    Parent orders (one per customer decision) are drawn first; a sweep parent expands into
    2-12 legs on one contract, same side, within 450 ms, on distinct venues. The random draws that
    price a print against the NBBO (its price class, ticks through, place inside the spread) are
    drawn here too, so pricing block by block (:func:`_price_block`) needs no random numbers.
    """
    step = profile.strike_step_usd
    secs = np.arange(n_seconds)
    frac_sec = secs / n_seconds
    spot_sec = spot[:n_seconds]
    sign = extra.get("trend_sign", 0)

    # ---- per-second drivers (cheap: n_seconds long), gathered per parent below
    lam = _u_shape(secs.astype(np.float64), n_seconds, *FLOW_U_SHAPE)
    r60 = np.abs(np.log(spot[np.minimum(secs + 60, n_seconds)] / spot_sec))
    r60_sd = params.sigma_annual * np.sqrt(60.0 / TRADING_SECONDS_PER_YEAR)
    lam *= (1.0 + 0.25 * np.minimum(r60 / r60_sd, 4.0)) * regime
    lam[-1] = 0.0  # no parent in the last second: sweep legs end before the close
    r300_sd = params.sigma_annual * np.sqrt(300.0 / TRADING_SECONDS_PER_YEAR)
    momentum_sec = np.tanh(np.log(spot_sec / spot[np.maximum(secs - 300, 0)]) / r300_sd)
    strike_scale_sec = spot_sec * profile.vol_scale * (0.45 + 0.55 * np.sqrt(1.0 - frac_sec))
    if scenario == "squeeze":
        call_share_sec = 0.5 + sign * (params.call_share - 0.5) * (0.5 + frac_sec)
    elif scenario == "trend":
        call_share_sec = np.full(n_seconds, 0.5 + 0.05 * sign)
    elif scenario == "flip":
        call_share_sec = np.where(frac_sec < 0.4, 0.52, 0.45)
    else:
        call_share_sec = np.full(n_seconds, params.call_share)

    # ---- parent orders: the position life cycle (docs/simulator.md, "Opening and closing")
    p_sweep, p_block = 0.05, 0.0015
    mean_legs = 1.0 + p_sweep * 2.5
    n_target = (profile.prints_per_day * intensity * params.volume_mult * n_seconds / REGULAR_SESSION_SECONDS
                / mean_legs)

    def fresh(sec: np.ndarray) -> dict:
        """New customer orders at seconds ``sec``: structure, contract near spot, side and size."""
        n = len(sec)
        u = rng.random(n)
        structure = np.full(n, SINGLE, dtype=np.int8)
        structure[u < p_sweep + p_block] = BLOCK
        structure[u < p_sweep] = SWEEP
        is_sweep, is_block = structure == SWEEP, structure == BLOCK
        is_call = rng.random(n) < call_share_sec[sec]
        # strike: exponential distance from spot (near or far), 70 % out of the money, tighter into the
        # close; blocks sit further out, sweeps closer in
        far = rng.random(n) < STRIKE_FAR_SHARE
        scale = np.where(far, STRIKE_DISTANCE_FAR, STRIKE_DISTANCE_NEAR)
        dist = rng.exponential(1.0, n) * strike_scale_sec[sec] * scale
        dist[is_block] *= 1.6
        dist[is_sweep] *= 0.8
        otm = rng.random(n) < 0.7
        k_idx = _nearest_strike(chain.strikes[::2], spot_sec[sec] + np.where(is_call == otm, dist, -dist))
        contract = 2 * k_idx + (~is_call)
        # customer side: chase 5-minute momentum, plus a scenario tilt
        mom = momentum_sec[sec]
        p_buy = 0.52 + 0.08 * np.where(is_call, mom, -mom)
        if scenario == "squeeze":
            p_buy += np.where(is_call == (sign > 0), 0.12, -0.04)
        elif scenario == "pin":
            near_pin = np.abs(chain.strikes[contract] - info["pin_strike"]) <= 2 * step
            p_buy[near_pin & (frac_sec[sec] > 0.5)] -= 0.12  # premium sellers at the pin into the close
        elif scenario == "flip":
            p_buy[~is_call & (frac_sec[sec] > 0.4)] += 0.10  # put buyers once the regime flips
        side = np.where(rng.random(n) < p_buy, 1, -1).astype(np.int8)
        # sizes (Pareto tails: floor(x_min U^(-1/alpha)), alpha 1.15 singles, 1.3 sweeps; lognormal blocks)
        size = np.floor(rng.random(n) ** (-1.0 / 1.15))
        n_sw, n_bl = int(is_sweep.sum()), int(is_block.sum())
        size[is_sweep] = np.floor(12.0 * rng.random(n_sw) ** (-1.0 / 1.3))
        size[is_block] = np.maximum(np.rint(profile.block_median_contracts * rng.lognormal(0.0, 0.6, n_bl)),
                                    profile.block_median_contracts // 2)
        np.minimum(size, 20_000, out=size)
        return {"sec": sec, "structure": structure, "contract": contract, "side": side, "size": size}

    # openers: new positions, with the flow's U-shaped intensity (a few take over a position: transfers)
    n_open = int(rng.poisson(n_target * OPENER_SHARE))
    opn = fresh(np.repeat(secs, rng.multinomial(n_open, lam / lam.sum())))
    opn["opening"] = np.where(rng.random(n_open) < TRANSFER_SHARE, 0, 1).astype(np.int8)
    # their closers: a position is held a lognormal time unless it is kept into expiry; the closer is
    # the same contract and size on the other side (and the same structure)
    hold = rng.lognormal(np.log(HOLD_MEDIAN_S), HOLD_SIGMA, n_open)
    close_at = opn["sec"] + hold
    closes = (opn["opening"] == 1) & (rng.random(n_open) >= HOLD_TO_EXPIRY) & (close_at < n_seconds - 1)
    cls = {k: v[closes] for k, v in opn.items()}
    cls["sec"] = close_at[closes].astype(np.int64)
    cls["side"] = (-cls["side"]).astype(np.int8)
    cls["opening"] = np.full(len(cls["sec"]), -1, dtype=np.int8)
    # closers of positions carried from prior days: front-loaded, on the side that unwinds customers'
    # prior net position in the contract (an order on a contract where they hold none opens)
    n_prior = int(rng.poisson(n_target * PRIOR_CLOSE_SHARE))
    lam_prior = lam * np.exp(-secs / PRIOR_CLOSE_TAU_S)
    pri = fresh(np.repeat(secs, rng.multinomial(n_prior, lam_prior / lam_prior.sum())))
    unwind_side = -np.sign(info["customer_net_start"][pri["contract"]]).astype(np.int8)
    held = unwind_side != 0
    pri["side"] = np.where(held, unwind_side, pri["side"]).astype(np.int8)
    pri["opening"] = np.where(held, -1, 1).astype(np.int8)

    psec = np.concatenate((opn["sec"], cls["sec"], pri["sec"]))
    structure = np.concatenate((opn["structure"], cls["structure"], pri["structure"]))
    contract = np.concatenate((opn["contract"], cls["contract"], pri["contract"]))
    side = np.concatenate((opn["side"], cls["side"], pri["side"])).astype(np.int8)
    opening = np.concatenate((opn["opening"], cls["opening"], pri["opening"])).astype(np.int8)
    total_size = np.concatenate((opn["size"], cls["size"], pri["size"]))
    del opn, cls, pri, hold, close_at, closes  # peak memory: keep only what the prints need
    P = len(psec)
    is_sweep = structure == SWEEP
    n_legs = np.ones(P, dtype=np.int64)
    n_legs[is_sweep] = np.clip(1 + rng.geometric(0.4, int(is_sweep.sum())), 2, 12)
    n_legs = np.minimum(n_legs, np.maximum(total_size, 1).astype(np.int64))
    structure[is_sweep & (n_legs < 2)] = SINGLE  # a one-lot closer of a sweep prints once
    n_legs[structure != SWEEP] = 1
    is_sweep = structure == SWEEP
    np.maximum(total_size, n_legs, out=total_size)

    # ---- expand parents to prints
    starts = np.cumsum(n_legs) - n_legs
    N = int(n_legs.sum())
    parent = np.repeat(np.arange(P, dtype=np.int32), n_legs)
    leg = np.arange(N) - starts[parent]
    inc = rng.random(N) * (SWEEP_WINDOW_NS / n_legs[parent])
    inc[starts] = 0.0
    leg_offset_ns = _group_cumsum(inc, starts, n_legs).astype(np.int64)
    first_ns = psec * NS_PER_SECOND + rng.integers(QUOTE_WINDOW_NS, NS_PER_SECOND, P)
    rel_ns = first_ns[parent] + leg_offset_ns
    sub = rel_ns % NS_PER_SECOND
    late_in_window = sub < QUOTE_WINDOW_NS
    rel_ns[late_in_window] += QUOTE_WINDOW_NS - sub[late_in_window]  # keep clear of quote stamps
    del inc, leg_offset_ns, first_ns, sub, late_in_window

    weights = rng.exponential(1.0, N)
    wsum = np.bincount(parent, weights=weights, minlength=P)
    size = np.maximum(1, np.rint(total_size[parent] * weights / wsum[parent])).astype(np.int32)
    base = _VENUE_TABLE[rng.integers(0, len(_VENUE_TABLE), P, dtype=np.int16)]
    stride = 2 * rng.integers(0, 8, P) + 1  # odd stride mod 16: distinct venues for <= 16 legs
    exchange = ((base[parent] + leg * stride[parent]) % 16 + 1).astype(np.int16)
    del weights, wsum, base, stride, leg

    # ---- price draws (used against the NBBO in force by _price_block)
    struct_p = structure[parent]
    cside = side[parent]
    plan = _PLAN_TABLE.ravel()[struct_p.astype(np.int64) * 100 + rng.integers(0, 100, N, dtype=np.int8)]
    plan[starts[is_sweep]] = 1  # a sweep's first leg takes the NBBO
    through_ticks = rng.integers(1, 4, N, dtype=np.int8)
    inside_u = rng.random(N, dtype=np.float32)

    # ---- time order
    order = np.argsort(rel_ns, kind="stable")
    out = {"rel_ns": rel_ns[order], "contract": contract[parent][order].astype(np.int32), "size": size[order],
           "exchange": exchange[order], "customer_side": cside[order], "structure": struct_p[order],
           "parent": parent[order], "tape": (plan * cside)[order], "through_ticks": through_ticks[order],
           "inside_u": inside_u[order]}
    del rel_ns, size, exchange, cside, struct_p, plan, through_ticks, inside_u, order
    out["oi_after"], out["opening"] = _consistent_open_interest(out["contract"], out["size"],
                                                                opening[out["parent"]], chain.settled_oi,
                                                                len(chain.strikes))
    return out


def _price_block(plan: dict, sl: slice, bid: np.ndarray, ask: np.ndarray, first_sec: int,
                 profile: SymbolProfile) -> tuple[np.ndarray, np.ndarray]:
    """(price in cents, aggressor) of the prints ``sl`` of ``plan``, against the NBBO grid block ``bid``/``ask``
    (cents, seconds ``first_sec ..``): the quote state of each print's second is the NBBO in force."""
    rel_ns = plan["rel_ns"][sl]
    cell = (rel_ns // NS_PER_SECOND - first_sec) * bid.shape[1] + plan["contract"][sl]
    b = np.take(bid.ravel(), cell)
    a = np.take(ask.ravel(), cell)
    tape = plan["tape"][sl]  # +2 above ask, +1 at ask, 0 inside, -1 at bid, -2 below bid
    cside = plan["customer_side"][sl]
    price_c = np.where(tape > 0, a, b)
    beyond = np.flatnonzero(np.abs(tape) == 2)
    tick = _tick_cents(price_c[beyond], profile)
    price_c[beyond] += np.sign(tape[beyond]).astype(np.int32) * tick * plan["through_ticks"][sl][beyond]
    mid = np.flatnonzero(tape == 0)
    tick = _tick_cents(b[mid], profile)
    n_inside = (a[mid] - b[mid]) // tick - 1  # ticks strictly inside the spread
    inside = b[mid] + tick * (1 + (plan["inside_u"][sl][mid] * np.maximum(n_inside, 1)).astype(np.int32))
    price_c[mid] = np.where(n_inside >= 1, inside, np.where(cside[mid] > 0, a[mid], b[mid]))
    min_c = round(profile.tick_small_usd * 100)
    too_low = np.flatnonzero(price_c < min_c)  # no print at 0: bid-less contracts print at the ask
    price_c[too_low] = np.where(b[too_low] >= min_c, b[too_low], a[too_low])
    aggressor = ((price_c >= a).astype(np.int8) + (price_c > a) - (price_c <= b) - (price_c < b)).astype(np.int8)
    return price_c, aggressor


def _consistent_open_interest(contract: np.ndarray, size: np.ndarray, opening: np.ndarray,
                              settled_oi: np.ndarray, n_contracts: int,
                              max_rounds: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Relabel closing prints that would drive a contract's OI below zero as opening ones.

    OI after print i = settled_oi[c] + sum of opening * size over the contract's prints <= i.
    Each round flips every violating closing print to opening; after ``max_rounds`` every
    closing print of a still-violating contract becomes opening (then OI only grows).
    Returns (oi_after per print, the fixed opening labels).
    """
    opening = opening.astype(np.int8).copy()
    by_contract = np.argsort(contract.astype(np.int16), kind="stable")  # time order within each contract (radix sort)
    cs = contract[by_contract]
    counts = np.bincount(cs, minlength=n_contracts)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    present = counts > 0
    start_oi = np.repeat(settled_oi, counts)
    size_s = size[by_contract].astype(np.int64)

    def running(open_s: np.ndarray) -> np.ndarray:
        return start_oi + _group_cumsum(open_s * size_s, starts[present], counts[present])

    open_s = opening[by_contract].astype(np.int64)
    oi = running(open_s)
    for _ in range(max_rounds):
        bad = oi < 0
        if not bad.any():
            break
        open_s[bad & (open_s == -1)] = 1
        oi = running(open_s)
    else:
        bad_contracts = np.unique(cs[oi < 0])
        if len(bad_contracts):
            fix = np.isin(cs, bad_contracts) & (open_s == -1)
            open_s[fix] = 1
            oi = running(open_s)
    oi_after = np.empty_like(oi)
    oi_after[by_contract] = oi
    opening[by_contract] = open_s.astype(np.int8)
    return oi_after, opening


# --------------------------------------------------------------------------- entry point


def _chain_and_spot(profile: SymbolProfile, session_date: date, name: str, params: ScenarioParams,
                    n_seconds: int, rng: np.random.Generator):
    """The chain, the dealers' opening book and the hedged spot path (the cheap half of a session)."""
    prev_close = _prior_close(profile, session_date)
    open_price = round(prev_close * float(np.exp(0.003 * profile.vol_scale * rng.standard_normal())), 2)
    chain, info = _build_chain(profile, session_date, prev_close, name, rng, open_price)
    x, regime, extra = _fundamental_path(n_seconds, name, params, profile, info, open_price, rng)
    dealer_start = -info["customer_net_start"]
    hedged, gain = _hedged_path(x, open_price, chain, dealer_start, params.atm_iv, profile, n_seconds)
    spot_px = np.round(hedged, 2)
    info["hedge_gain"] = gain
    info["fundamental"] = open_price * np.exp(x)
    return chain, spot_px, regime, extra, info, float(spot_px[0])


def simulate_spot(symbol: str, session_date: date, seed: int = 7, scenario: str = "auto",
                  level: float | None = None) -> tuple[ChainDefinition, np.ndarray, dict]:
    """Only the chain and the spot per second of :func:`simulate_session` (same seed, same values):
    cheap enough to draw hundreds of days for the range statistics."""
    sym = symbol.strip().upper()
    name = resolve_scenario(seed, scenario)
    profile = symbol_profile(sym, level)
    open_ns, close_ns = session_bounds_ns(session_date)
    n_seconds = int((close_ns - open_ns) // NS_PER_SECOND)
    rng = _rng(sym, session_date, seed, SCENARIOS.index(name) + 1)
    chain, spot_px, _, _, info, _ = _chain_and_spot(profile, session_date, name, SCENARIO_PARAMS[name],
                                                    n_seconds, rng)
    info["scenario"] = name
    return chain, spot_px, info


@dataclass(frozen=True, eq=False)
class SessionPlan:
    """Everything about a session that is not quotes or prices: the chain, the spot path, the implied vol,
    and every print (time, contract, size, venue, truth labels) -- what :func:`iter_session_blocks` turns
    into events block by block."""

    symbol: str
    session_date: date
    seed: int
    scenario: str
    open_ns: int
    close_ns: int
    n_seconds: int
    profile: SymbolProfile
    chain: ChainDefinition
    spot: np.ndarray  # price per second, n_seconds + 1 values (the last at the close)
    atm: np.ndarray  # ATM implied vol per second
    open_price: float
    atm_open: float
    prints: dict  # _trade_plan's columns, time order
    info: dict
    extra: dict
    heartbeat_s: int
    intensity: float


def plan_session(symbol: str, session_date: date, seed: int = 7, scenario: str = "auto",
                 level: float | None = None, intensity: float = 1.0,
                 trade_plan: Callable[[TradePlanArgs], dict] | None = None) -> SessionPlan:
    """The cheap, event-free half of a session (see :class:`SessionPlan`).

    ``intensity`` scales the day (docs/simulator.md, "Scale"): 1 is the default; above 1 the prints per day
    are multiplied by it, the chain lists every ``strike_step`` from -15 % to +10 % of the prior close and
    every contract sends an NBBO row every second (a 1-second consolidated BBO, as a real feed's cbbo-1s).

    ``trade_plan``, if given, computes the prints from their arguments in place of :func:`trade_plan` (a cache:
    :class:`zdte_tui.sources.sim.SimSource` keeps the prints of days it generated, keyed by
    :func:`trade_plan_fingerprint`); it must return what :func:`trade_plan` would.
    """
    sym = symbol.strip().upper()
    name = resolve_scenario(seed, scenario)
    params = SCENARIO_PARAMS[name]
    if not (np.isfinite(intensity) and intensity > 0):
        raise ValueError(f"intensity: expected a positive number, got {intensity!r}")
    profile = symbol_profile(sym, level)
    if intensity > 1:
        profile = replace(profile, fine_band=REAL_SCALE_WINGS[1], wing_low=REAL_SCALE_WINGS[0],
                          wing_high=REAL_SCALE_WINGS[1],
                          wing_step_usd=profile.strike_step_usd)
    open_ns, close_ns = session_bounds_ns(session_date)
    n_seconds = int((close_ns - open_ns) // NS_PER_SECOND)
    rng = _rng(sym, session_date, seed, SCENARIOS.index(name) + 1)
    chain, spot_px, regime, extra, info, open_price = _chain_and_spot(profile, session_date, name, params,
                                                                      n_seconds, rng)
    atm_open = params.atm_iv * float(np.exp(0.12 * rng.standard_normal()))
    atm = _atm_iv(spot_px, open_price, atm_open, regime, n_seconds)
    trade_args = (spot_px, regime, chain, profile, name, params, info, extra, n_seconds, rng, intensity)
    prints = _trade_plan(*trade_args) if trade_plan is None else trade_plan(trade_args)
    return SessionPlan(sym, session_date, int(seed), name, int(open_ns), int(close_ns), n_seconds, profile, chain,
                       spot_px, atm, open_price, atm_open, prints, info, extra,
                       1 if intensity > 1 else HEARTBEAT_SECONDS, float(intensity))


TradePlanArgs = tuple[np.ndarray, np.ndarray, ChainDefinition, SymbolProfile, str, ScenarioParams, dict, dict, int,
                      np.random.Generator, float]
"""The arguments of the day's trade plan, the costly half of :func:`plan_session`, in order: spot per second,
regime, chain, profile, scenario, its parameters, info, extra, n_seconds, the random generator (its state
as the plan's draws start: nothing is drawn after them) and intensity."""


def trade_plan(args: TradePlanArgs) -> dict:
    """The prints of :func:`plan_session` from its trade-plan arguments (what a cache keys on)."""
    return _trade_plan(*args)


def trade_plan_fingerprint(args: TradePlanArgs) -> str:
    """A hash of everything the trade plan depends on: this module's source, numpy's version, every argument
    and the generator's state. Equal fingerprints give equal prints, so a cached plan can stand in."""
    import hashlib
    import json
    from pathlib import Path

    spot, regime, chain, profile, scenario, params, info, extra, n_seconds, rng, intensity = args
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    h.update(np.__version__.encode())
    h.update(json.dumps(rng.bit_generator.state, sort_keys=True, default=str).encode())
    for arr in (spot, regime, chain.strikes, chain.is_call, chain.settled_oi, info["customer_net_start"]):
        h.update(str(arr.dtype).encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    scalars = {k: v for k, v in {**info, **extra}.items() if not isinstance(v, np.ndarray)}
    h.update(repr((profile, scenario, params, sorted(scalars.items()), int(n_seconds), float(intensity))).encode())
    return h.hexdigest()


REAL_SCALE_WINGS = (0.15, 0.10)
"""Listed band of a real-scale day (intensity > 1): -15 % .. +10 % of the prior close, every strike step."""


def iter_session_blocks(plan: SessionPlan, block_seconds: int = NBBO_BLOCK_SECONDS):
    """The session's events block by block: ``(first_second, end_second, quotes, trades, aggressor)`` per
    ``block_seconds`` of the day, in time order. Memory stays at one block of NBBO grid and rows; the
    quote rows of block ``i`` draw from their own random stream (seed, symbol, date, 1000 + i), so the
    output does not depend on how the caller consumes the blocks."""
    chain, prints = plan.chain, plan.prints
    sec_of_print = prints["rel_ns"] // NS_PER_SECOND
    prev = None
    for i, a in enumerate(range(0, plan.n_seconds, block_seconds)):
        b = min(plan.n_seconds, a + block_seconds)
        bid, ask = _nbbo_block(plan.spot, chain, plan.profile, plan.atm, plan.open_price, plan.n_seconds, a, b)
        rng = _rng(plan.symbol, plan.session_date, plan.seed, 1000 + i)
        quotes = _quote_block(bid, ask, prev, a, plan.open_ns, plan.heartbeat_s, rng)
        prev = (bid[-1].copy(), ask[-1].copy())
        lo, hi = np.searchsorted(sec_of_print, (a, b), side="left")
        sl = slice(int(lo), int(hi))
        price_c, aggressor = _price_block(prints, sl, bid, ask, a, plan.profile)
        del bid, ask
        trades = OptionTrades(plan.open_ns + prints["rel_ns"][sl], prints["contract"][sl], price_c / 100.0,
                              prints["size"][sl], prints["exchange"][sl])
        yield a, b, quotes, trades, aggressor


def simulate_session(symbol: str, session_date: date, seed: int = 7, scenario: str = "auto",
                     level: float | None = None, intensity: float = 1.0) -> SimulatedSession:
    """Generate one full 0DTE session of ``symbol`` (open to close, early closes included).

    Deterministic in ``(symbol, session_date, seed, scenario, level, intensity)``; ``level`` (dollars) replaces
    the profile's reference level; ``intensity`` scales the day (:func:`plan_session`). Raises ValueError if
    ``session_date`` is not a trading day or the scenario is unknown. Generated in blocks
    (:func:`iter_session_blocks`): the peak memory is the day's events plus one block's temporaries.
    """
    plan = plan_session(symbol, session_date, seed, scenario, level, intensity)
    chain = plan.chain
    quote_cols: dict[str, list[np.ndarray]] = {f: [] for f in OptionQuotes.__dataclass_fields__}
    trade_cols: dict[str, list[np.ndarray]] = {f: [] for f in OptionTrades.__dataclass_fields__}
    aggressor_parts: list[np.ndarray] = []
    for _, _, q, t, agg in iter_session_blocks(plan):
        for cols, part in ((quote_cols, q), (trade_cols, t)):
            for name, held in cols.items():
                held.append(getattr(part, name))
        aggressor_parts.append(agg)
        del q, t
    quotes = OptionQuotes(**_concat_columns(quote_cols))
    trades = OptionTrades(**_concat_columns(trade_cols))
    aggressor = np.concatenate(aggressor_parts)

    truth = session_truth(plan, aggressor)
    n_seconds, open_ns = plan.n_seconds, plan.open_ns
    spot = SpotTicks(open_ns + np.arange(n_seconds + 1, dtype=np.int64) * NS_PER_SECOND, plan.spot)
    return SimulatedSession(
        symbol=plan.symbol, session_date=session_date, seed=int(seed), scenario=plan.scenario, open_ns=open_ns,
        close_ns=plan.close_ns, profile=plan.profile, chain=chain, spot=spot, quotes=quotes, trades=trades,
        truth=truth, info={"open_price": plan.open_price, "atm_iv_open": plan.atm_open, "n_seconds": n_seconds},
    )


def session_truth(plan: SessionPlan, aggressor: np.ndarray) -> SessionTruth:
    """The truth of a planned session, given the aggressor class of every print (from its blocks)."""
    chain, tr = plan.chain, plan.prints
    size = tr["size"].astype(np.int64)
    customer_flow = np.bincount(tr["contract"], weights=tr["customer_side"] * size, minlength=chain.n_contracts)
    oi_delta = np.bincount(tr["contract"], weights=tr["opening"] * size, minlength=chain.n_contracts)
    dealer_start = -plan.info["customer_net_start"]
    truth = SessionTruth(
        customer_side=tr["customer_side"], opening=tr["opening"], oi_after=tr["oi_after"],
        aggressor=aggressor, structure=tr["structure"], parent=tr["parent"],
        settled_oi=chain.settled_oi.copy(),
        oi_eod=chain.settled_oi + np.rint(oi_delta).astype(np.int64),
        dealer_position_start=dealer_start,
        dealer_position_eod=dealer_start - np.rint(customer_flow).astype(np.int64),
        atm_iv=plan.atm,
        pin_strike=plan.info.get("pin_strike"), flip_level=plan.info.get("flip_level"),
        trend_sign=int(plan.extra.get("trend_sign", 0)),
    )
    for arr in (truth.customer_side, truth.opening, truth.oi_after, truth.aggressor, truth.structure,
                truth.parent, truth.settled_oi, truth.oi_eod, truth.dealer_position_start,
                truth.dealer_position_eod, truth.atm_iv):
        arr.setflags(write=False)
    return truth


def _concat_columns(cols: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    """Join per-block column parts one column at a time, dropping each column's parts once joined (the peak
    is the parts plus one joined column, not two copies of the day)."""
    out = {}
    for name in list(cols):
        out[name] = np.concatenate(cols.pop(name))
    return out
