"""Bar sampler: a raw tier every 30 s (snapped to :00/:30 ET) and last-in-bucket downsampling.

Slot ``k`` of a session holds the state at ``open + 30 k`` seconds (slot 0 = the opening bell,
780 = the 16:00 close on a full day). Per-strike metrics are float32 matrices
``[n_slots, n_strikes]``; series fields are float64 vectors ``[n_slots]``. Flow fields are stored
*cumulative* since the open, so last-in-bucket downsampling stays exact and a bar's increment
is the difference of consecutive bars.
"""

from __future__ import annotations

import numpy as np

from zdte_tui.engine.params import SAMPLE_SECONDS
from zdte_tui.market.events import NS_PER_SECOND

STRIKE_FLOW_KEYS = ("flow_delta_cum", "flow_gamma_cum", "flow_contracts_cum")  # cumulative signed flow per strike
STRIKE_METRICS = ("gex", "dex", "vex", "chex", "oi", *STRIKE_FLOW_KEYS)
SERIES_FIELDS = ("spot", "net_gex", "net_dex", "gamma_flip", "call_wall", "put_wall", "magnet", "magnet_gex",
                 "gross_gex", "pin_score",
                 "pin_probability_pct", "regime", "atm_iv", "charm_dollars_per_hour",
                 "hedge_flow_call_cumulative", "hedge_flow_put_cumulative",
                 "net_call_premium_cumulative", "net_put_premium_cumulative")
BAR_SECONDS = {"30s": 30, "1m": 60, "5m": 300, "15m": 900}


class BarSampler:
    """Raw 30 s tier for one underlying's session."""

    def __init__(self, open_ns: int, close_ns: int, strike_grid: np.ndarray, n_contracts: int = 0) -> None:
        self.open_ns = int(open_ns)
        self.close_ns = int(close_ns)
        self.step_ns = SAMPLE_SECONDS * NS_PER_SECOND
        self.n_slots = int((self.close_ns - self.open_ns) // self.step_ns) + 1
        self.strike_grid = np.asarray(strike_grid, dtype=np.float64)
        n = len(self.strike_grid)
        self.strike = {m: np.full((self.n_slots, n), np.nan, dtype=np.float32) for m in STRIKE_METRICS}
        self.series = {f: np.full(self.n_slots, np.nan, dtype=np.float64) for f in SERIES_FIELDS}
        self.filled = np.zeros(self.n_slots, dtype=bool)
        # per-contract implied vol at each sample (float32): the smile behind on-demand pin odds
        self.iv = np.full((self.n_slots, n_contracts), np.nan, dtype=np.float32)
        self.gaps: list[tuple[int, int]] = []

    # --- writing -------------------------------------------------------------------------
    def slot_time_ns(self, slot: int | np.ndarray) -> np.ndarray:
        """Start time (ns) of each slot; a 0-d array for one slot."""
        return self.open_ns + np.asarray(slot, dtype=np.int64) * self.step_ns

    def slot_of(self, ts_ns: int) -> int:
        """Index of the slot at exactly ``ts_ns`` (a boundary), or the last slot at or before it."""
        return int((ts_ns - self.open_ns) // self.step_ns)

    def boundaries_in(self, start_ns: int, end_ns: int) -> np.ndarray:
        """Slot boundaries t with start < t <= end that lie inside the session, ascending."""
        first = max(0, (start_ns - self.open_ns) // self.step_ns + 1)
        last = min(self.n_slots - 1, (end_ns - self.open_ns) // self.step_ns)
        if end_ns < self.open_ns or last < first:
            return np.empty(0, dtype=np.int64)
        if first == last:  # one boundary (a live batch): no arange
            return np.array([self.open_ns + first * self.step_ns], dtype=np.int64)
        return self.slot_time_ns(np.arange(first, last + 1))

    def record_rows(self, slots: np.ndarray, strike_values: dict[str, np.ndarray],
                    series_values: dict[str, np.ndarray], iv: np.ndarray | None = None) -> None:
        """Write sampled rows into their slots and mark them filled: ``strike_values[m]`` is
        [rows, strikes], ``series_values[f]`` [rows] (NaN = no value), ``iv`` [rows, contracts].
        Rows whose slot lies outside the session are dropped."""
        slots = np.asarray(slots, dtype=np.int64)
        inside = (slots >= 0) & (slots < self.n_slots)
        keep: np.ndarray | slice = inside
        if inside.all():  # the usual case: no row to drop, no copies
            keep = slice(None)
        else:
            slots = slots[inside]
        for m, values in strike_values.items():
            self.strike[m][slots] = np.asarray(values)[keep]
        for f, values in series_values.items():
            self.series[f][slots] = np.asarray(values, dtype=np.float64)[keep]
        if iv is not None:
            self.iv[slots] = np.asarray(iv)[keep]
        self.filled[slots] = True

    def record_one(self, slot: int, strike_values: dict[str, np.ndarray], series_values: dict[str, float],
                   iv: np.ndarray | None = None) -> None:
        """:meth:`record_rows` for one slot: ``strike_values[m]`` [strikes], ``series_values[f]`` a number,
        ``iv`` [contracts]; nothing is written when the slot lies outside the session."""
        if not 0 <= slot < self.n_slots:
            return
        for m, values in strike_values.items():
            self.strike[m][slot] = values
        series = self.series
        for f, value in series_values.items():
            series[f][slot] = value
        if iv is not None:
            self.iv[slot] = iv
        self.filled[slot] = True

    def add_gap(self, start_ns: int, end_ns: int) -> None:
        if end_ns <= start_ns:
            return
        if self.gaps and start_ns <= self.gaps[-1][1]:
            s, e = self.gaps[-1]
            self.gaps[-1] = (s, max(e, end_ns))
        else:
            self.gaps.append((int(start_ns), int(end_ns)))

    def resize_contracts(self, n_contracts: int) -> None:
        """Extend the per-contract IV matrix when a definition appends contracts."""
        if n_contracts > self.iv.shape[1]:
            out = np.full((self.n_slots, n_contracts), np.nan, dtype=np.float32)
            out[:, : self.iv.shape[1]] = self.iv
            self.iv = out

    def regrid(self, new_grid: np.ndarray) -> None:
        """Re-index the per-strike matrices onto a larger strike grid (new strikes start NaN)."""
        new_grid = np.asarray(new_grid, dtype=np.float64)
        pos = np.searchsorted(new_grid, self.strike_grid)
        for m, mat in self.strike.items():
            out = np.full((self.n_slots, len(new_grid)), np.nan, dtype=np.float32)
            out[:, pos] = mat
            self.strike[m] = out
        self.strike_grid = new_grid

    # --- reading -------------------------------------------------------------------------
    def window_slots(self, now_ns: int, minutes: int, bar: str) -> np.ndarray:
        """Filled slots in [now - minutes, now], downsampled to ``bar`` by last-in-bucket.

        Buckets are (k*bar, (k+1)*bar] after the open; a bucket's bar is its last filled slot, so
        the newest (possibly partial) bucket shows the latest sample. Returns slot indices ascending.
        """
        minutes = int(min(390, max(1, minutes)))
        hi = min(self.n_slots - 1, self.slot_of(now_ns)) if now_ns >= self.open_ns else -1
        if hi < 0:
            return np.empty(0, dtype=np.int64)
        lo_ns = now_ns - minutes * 60 * NS_PER_SECOND
        slots = np.arange(0, hi + 1)
        times = self.slot_time_ns(slots)
        keep = self.filled[: hi + 1] & (times >= lo_ns)
        slots = slots[keep]
        if len(slots) == 0:
            return slots
        per = BAR_SECONDS[bar] // SAMPLE_SECONDS
        bucket = -((-slots) // per)  # ceil(slot / per): slot 0 is its own bucket (the open)
        last = np.ones(len(slots), dtype=bool)
        last[:-1] = bucket[1:] != bucket[:-1]
        return slots[last]

    def gap_intervals(self, start_ns: int | None = None, end_ns: int | None = None) -> list[tuple[int, int]]:
        out = []
        for s, e in self.gaps:
            if end_ns is not None and s > end_ns:
                continue
            if start_ns is not None and e < start_ns:
                continue
            out.append((s, e))
        return out


def downsample_last(values: np.ndarray, slot_times_s: np.ndarray, bar_seconds: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference last-in-bucket downsampler on arbitrary ascending sample times (seconds after the
    open): bucket = ceil(t / bar). Returns (bucket_last_times, values). Used by tests as the spec."""
    t = np.asarray(slot_times_s)
    b = -((-t) // bar_seconds)
    last = np.ones(len(t), dtype=bool)
    last[:-1] = b[1:] != b[:-1]
    return t[last], np.asarray(values)[last]
