"""DBN import streams: files are read in chunks and rows wait only until every file has read past
them, so what is held in memory depends on the chunk size and the data's density, not on the
file's length (the real-scale figures are in ``benchmarks/bench_import_dbn.py``)."""

from __future__ import annotations

import databento_dbn as db
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zdte_tui.market.events import EventBatch
from zdte_tui.sources.dbn_import import DbnStream, ImportSummary, import_dbn, read_dbn
from zdte_tui.store.reader import Recording

from .test_dbn_import import SAMPLES, T0, S, contracts, fixed, metadata, occ, option_mids, write_dbn

CHUNK = 64


def cbbo_file(path, seconds: int):
    """A 1 s consolidated BBO of the 10 generated contracts for ``seconds`` seconds."""
    quotes = []
    for sec in range(1, seconds + 1):
        for iid, k, c in contracts():
            mid = option_mids(sec % 120, k)[0 if c else 1]
            quotes.append(db.CBBOMsg(
                rtype=db.RType.CBBO_1S, publisher_id=30, instrument_id=iid, ts_event=T0 + sec * S - 1000,
                price=db.UNDEF_PRICE, size=0, side=db.Side.NONE, ts_recv=T0 + sec * S,
                levels=db.ConsolidatedBidAskPair(bid_px=fixed(mid - 0.05), ask_px=fixed(mid + 0.05),
                                                 bid_sz=10, ask_sz=12, bid_pb=23, ask_pb=37)))
    syms = [(occ(k, c), iid) for iid, k, c in contracts()]
    return write_dbn(path, metadata(db.Schema.CBBO_1S, syms), quotes)


def trades_file(path, seconds: int):
    trades = [db.TradeMsg(publisher_id=23, instrument_id=1004 + (n % 2), ts_event=T0 + n * 3 * S + 5,
                          price=fixed(1.25), size=1, action=db.Action.TRADE, side=db.Side.NONE,
                          depth=0, ts_recv=T0 + n * 3 * S + 9, sequence=n) for n in range(seconds // 3)]
    syms = [(occ(k, c), iid) for iid, k, c in contracts()]
    return write_dbn(path, metadata(db.Schema.TRADES, syms), trades)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("stream")
    return {n: (cbbo_file(d / f"cbbo{n}.dbn", n), trades_file(d / f"trades{n}.dbn", n)) for n in (120, 600)}


def test_a_stream_never_yields_more_than_the_chunk_size(files):
    path = files[600][0]
    chunks = list(DbnStream(path, chunk_records=CHUNK).chunks())
    assert max(len(a) for _, a in chunks) == CHUNK
    assert sum(len(a) for _, a in chunks) == 6000 and {rt for rt, _ in chunks} == {192}


@settings(max_examples=15, deadline=None)
@given(chunk=st.integers(min_value=1, max_value=300), decoder=st.booleans())
def test_chunks_concatenate_to_the_whole_file_for_any_chunk_size(files, chunk, decoder):
    path = files[120][0]
    whole = read_dbn(path).records[192]
    parts = [a for _, a in DbnStream(path, chunk_records=chunk, force_decoder=decoder).chunks()]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_rows_resident_do_not_grow_with_the_file_length(files, tmp_path):
    short = import_dbn(list(files[120]), tmp_path / "short.zdte", chunk_records=CHUNK)
    long = import_dbn(list(files[600]), tmp_path / "long.zdte", chunk_records=CHUNK)
    assert long.quotes == 5 * short.quotes == 6000
    # one chunk per file in flight, plus the rows of the 5 s tolerance and of the open 30 s slice:
    # 10 quotes/s x 35 s + 2 chunks; the same bound for a file five times longer
    bound = 2 * CHUNK + 10 * 35 + CHUNK
    assert 0 < short.max_rows_resident <= bound and 0 < long.max_rows_resident <= bound


def test_the_recording_does_not_depend_on_the_chunk_size(files, tmp_path):
    a = import_dbn(list(files[120]), tmp_path / "a.zdte", chunk_records=7)
    b = import_dbn(list(files[120]), tmp_path / "b.zdte")
    assert a.max_rows_resident < b.max_rows_resident
    ea = [e for e in Recording.open(a.out).events() if isinstance(e, EventBatch)]
    eb = [e for e in Recording.open(b.out).events() if isinstance(e, EventBatch)]
    assert [(x.start_ns, x.end_ns) for x in ea] == [(x.start_ns, x.end_ns) for x in eb]
    for x, y in zip(ea, eb):
        for get in (lambda e: e.quotes.ts_ns, lambda e: e.quotes.bid, lambda e: e.trades.ts_ns,
                    lambda e: e.spot.ts_ns, lambda e: e.spot.price):
            np.testing.assert_array_equal(get(x), get(y))


def test_a_truncated_last_record_is_counted_not_fatal(files, tmp_path):
    cut = tmp_path / "cut.dbn"
    cut.write_bytes(files[120][0].read_bytes()[:-30])  # the last 80-byte record loses 30 bytes
    summary = import_dbn([cut], tmp_path / "cut.zdte")
    assert summary.quotes == 1199
    assert any("50 trailing byte(s) of an incomplete record ignored" in n for n in summary.notes)


def test_the_printed_summary_is_human_readable(tmp_path):
    summary = import_dbn(sorted(SAMPLES.glob("*.dbn.zst")), tmp_path / "all.zdte")
    text = str(summary)
    assert "ImportSummary(" not in text
    assert text.splitlines()[0] == f"wrote {tmp_path / 'all.zdte'}: AAPL session 2025-02-20"
    assert "1 contracts, 4 quotes (consolidated NBBO), 4 trades, 0 spot ticks (no spot)" in text
    assert "test_data.trades.dbn.zst (trades, 4 records)" in text


def test_import_dbn_cli_prints_the_summary(tmp_path, capsys):
    from zdte_tui.cli import main

    out = tmp_path / "cli.zdte"
    assert main(["import-dbn", str(SAMPLES / "test_data.trades.dbn.zst"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"wrote {out}: AAPL session 2025-02-20") and "Summary(" not in printed


def test_import_summary_keeps_its_fields():
    assert [f for f in ImportSummary.__dataclass_fields__][:11] == [
        "out", "session_date", "underlyings", "contracts", "quotes", "trades", "spot_ticks", "quote_source",
        "spot_source", "notes", "files"]


def test_a_record_far_behind_its_file_order_lands_in_the_next_slice_and_is_counted(tmp_path):
    trades = [db.TradeMsg(publisher_id=23, instrument_id=1004, ts_event=T0 + n * S, price=fixed(1.25), size=1,
                          action=db.Action.TRADE, side=db.Side.NONE, depth=0, ts_recv=T0 + n * S + 9, sequence=n)
              for n in range(1, 201)]
    trades.append(db.TradeMsg(publisher_id=23, instrument_id=1004, ts_event=T0 + 10 * S, price=fixed(9.99), size=7,
                              action=db.Action.TRADE, side=db.Side.NONE, depth=0, ts_recv=T0 + 201 * S,
                              sequence=999))  # 191 s behind the file's order
    syms = [(occ(k, c), iid) for iid, k, c in contracts()]
    path = write_dbn(tmp_path / "late.dbn", metadata(db.Schema.TRADES, syms), trades)
    summary = import_dbn([path], tmp_path / "late.zdte", chunk_records=16)
    assert summary.trades == 201
    assert any(n.startswith("1 trade(s) more than 5 s behind their file's order") for n in summary.notes)
    batches = [e for e in Recording.open(summary.out).events() if isinstance(e, EventBatch)]
    late = [(b.end_ns, t) for b in batches for t, px in zip(b.trades.ts_ns.tolist(), b.trades.price.tolist())
            if px == 9.99]
    [(end, ts)] = late
    assert ts > T0 + 10 * S and (ts - 1) % (30 * S) == 0 and ts <= end  # stamped just after a written slice
