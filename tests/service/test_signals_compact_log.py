"""The engine's trade log keeps only the prints a signal can be made of (``TradeLog.compact``:
sweep legs, blocks, and per contract a lone print that may still gain a leg), so it no longer grows
with every print of the day; the signals query answers exactly as from a log of every print, for
any look-back window, at any time (docs/recording-format.md, "Memory of a replay")."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tests.engine.conftest import PROPERTY_FEW, at, batch, bs_quotes, spy_chain
from tests.engine.regression_day import load_day
from zdte_tui.engine.flow_engine import FlowEngine, TradeLog
from zdte_tui.market.calendar import session_bounds_ns
from zdte_tui.service.views.signals import signals_body

WINDOWS = (1, 5, 30, 240, 10080)
COLUMNS = ("ts_ns", "contract", "price", "size", "aggressor", "side", "group")


@contextlib.contextmanager
def compacting_every(rows: int) -> Iterator[None]:
    saved = TradeLog.COMPACT_ROWS
    TradeLog.COMPACT_ROWS = rows
    try:
        yield
    finally:
        TradeLog.COMPACT_ROWS = saved


def signals(engine: FlowEngine, window: int, symbol: str = "SPY") -> dict:
    log = engine.books[symbol].log
    cols = {k: log.view(k).copy() for k in COLUMNS}
    return signals_body(engine.state(symbol), cols, engine.params, min_score=0, intent=None, structure=None,
                        window_minutes=window, limit=500, expiry=None)


def engines() -> tuple[FlowEngine, FlowEngine]:
    """(every print kept, the product's compacting log)."""
    return (FlowEngine(session_bounds=session_bounds_ns, audit_prints=True),
            FlowEngine(session_bounds=session_bounds_ns))


def test_the_regression_day_answers_the_same_signals_from_a_fraction_of_the_prints() -> None:
    chain, batches = load_day()
    every, compact = engines()
    compared = 0
    with compacting_every(64):  # compact after nearly every batch
        for engine in (every, compact):
            engine.apply(chain)
        for i, b in enumerate(batches):
            every.apply(b)
            compact.apply(b)
            if i % 10 == 9 or i == len(batches) - 1:
                for window in WINDOWS:
                    answer = signals(compact, window)
                    assert answer == signals(every, window), (i, window)
                    compared += answer["count"]
    assert compared > 100  # the day has signals to compare
    book = compact.books["SPY"]
    book.compact_log(force=True)  # settle the last batches too
    full, kept = every.books["SPY"].log, book.log
    assert kept.appended == full.n  # every print was counted (sweep group ids are the same)
    # the final rows are exactly the legs of groups with >= 2 legs and the block-sized prints; after them
    # wait the lone prints that are still their contract's last print, on a side
    _, inverse, counts = np.unique(full.view("group"), return_inverse=True, return_counts=True)
    signal_rows = (counts[inverse] >= 2) | (full.view("size") >= book.block_size)

    def keys(log, rows) -> np.ndarray:
        return np.sort(log.view("ts_ns")[rows] * 1000 + log.view("contract")[rows])

    np.testing.assert_array_equal(keys(kept, slice(0, kept.start)), keys(full, signal_rows))
    waiting = slice(kept.start, kept.n)
    assert (book.last_group[kept.view("contract")[waiting]] == kept.view("group")[waiting]).all()
    assert kept.n - kept.start <= chain.n_contracts
    assert kept.n < 0.8 * full.n, (kept.n, full.n)  # most prints are lone and small: dropped


@PROPERTY_FEW
@given(seed=st.integers(0, 2**32 - 1), cuts=st.lists(st.integers(31_000, 179_000), max_size=12),
       freeze_at=st.integers(0, 12))
def test_signals_are_the_same_from_the_compacting_log_for_any_stream_and_batch_cuts(seed, cuts, freeze_at):
    rng = np.random.default_rng(seed)
    chain = spy_chain(strikes=(600.0, 605.0))  # 4 contracts: many prints per contract, many sweeps
    q = bs_quotes(chain, at(1), 600.0)
    t = 31.0 + np.cumsum(rng.choice([0.05, 0.2, 0.4, 0.6, 3.0], size=300))  # gaps around the 500 ms window
    c = rng.integers(0, chain.n_contracts, len(t))
    px = np.where(rng.random(len(t)) < 0.5, q.bid[c], q.ask[c])
    px = np.where(rng.random(len(t)) < 0.15, 0.5 * (q.bid[c] + q.ask[c]), px)  # some mid prints
    size = np.where(rng.random(len(t)) < 0.05, 300, rng.integers(1, 40, len(t)))
    rows = [(at(float(ti)), int(ci), float(pi), int(si)) for ti, ci, pi, si in zip(t, c, px, size)]
    end = at(float(t[-1]) + 1)
    cut_ns = sorted({at(30), end, *(at(x / 1000) for x in cuts if at(x / 1000) < end)})
    every, compact = engines()
    with compacting_every(1):  # compact after every batch
        for engine in (every, compact):
            engine.apply(chain)
            engine.apply(batch(at(0), at(30), spot=[(at(1), 600.0)], option_quotes=q))
        for k, (a, b) in enumerate(zip(cut_ns[:-1], cut_ns[1:])):
            part = [r for r in rows if a < r[0] <= b]
            every.apply(batch(a, b, trade_rows=part))
            compact.apply(batch(a, b, trade_rows=part))
            if k == freeze_at:  # a seek checkpoint freezes the log there
                compact.books["SPY"].compact_log(force=True)
                compact.books["SPY"].log.freeze()
            for window in (1, 3, 240):
                assert signals(compact, window) == signals(every, window), (k, window)
    assert compact.books["SPY"].log.appended == every.books["SPY"].log.n == len(rows)
