"""Databento DBN import: the real OPRA samples, and generated multi-contract files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import databento_dbn as db
import numpy as np
import pyarrow as pa
import pytest

from zdte_tui.market.calendar import et_clock_to_ns
from zdte_tui.market.events import NS_PER_SECOND, ChainDefinition, EventBatch
from zdte_tui.sources.dbn_import import DbnImportError, import_dbn, parity_spot, read_dbn
from zdte_tui.store.reader import Recording

# Real OPRA samples (Apache-2.0, from databento/databento-python tests/data/OPRA.PILLAR/; see the README there)
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "databento-opra-samples"
SAMPLE_FILES = sorted(SAMPLES.glob("*.dbn.zst"))
assert len(SAMPLE_FILES) == 6, f"the six DBN sample files are missing from {SAMPLES}"
S = NS_PER_SECOND
SAMPLE_SYMBOL = "AAPL  250221C00250000"


def all_batches(rec: Recording) -> list[EventBatch]:
    return [e for e in rec.events() if isinstance(e, EventBatch)]


def cat(batches, get):
    return np.concatenate([get(b) for b in batches]) if batches else np.empty(0)


# ---------------------------------------------------------------- the real samples

def test_the_sample_directory_holds_the_six_schemas():
    assert {p.name.split(".")[1] for p in SAMPLE_FILES} == {"trades", "tbbo", "mbp-1", "cbbo-1s", "definition",
                                                            "statistics"}


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name.split(".")[1])
def test_every_sample_file_decodes_identically_on_the_fast_and_library_paths(path):
    fast, slow = read_dbn(path), read_dbn(path, force_decoder=True)
    assert fast.fast_path and not slow.fast_path
    assert fast.records.keys() == slow.records.keys()
    assert fast.n_records == (1 if "definition" in path.name else 4)
    for rtype in fast.records:
        np.testing.assert_array_equal(fast.records[rtype], slow.records[rtype])


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name.split(".")[1])
def test_every_sample_file_imports_alone(tmp_path, path):
    summary = import_dbn([path], tmp_path / "one.zdte")
    rec = Recording.open(summary.out)
    d = rec.definitions["AAPL"]
    assert (d.strikes.tolist(), d.is_call.tolist(), d.occ_symbols) == ([250.0], [True], (SAMPLE_SYMBOL,))
    assert d.expiry == dt.date(2025, 2, 21) and d.multiplier == 100
    assert summary.session_date == dt.date(2025, 2, 20) == rec.metadata.session_date
    assert rec.metadata.source == "databento" and not rec.metadata.simulated
    assert summary.spot_source == "unavailable"
    assert any("spot unavailable" in n for n in rec.metadata.notes)


def test_the_definition_sample_gives_strike_expiry_date_and_default_multiplier(tmp_path):
    summary = import_dbn([SAMPLES / "test_data.definition.dbn.zst"], tmp_path / "d.zdte")
    d = Recording.open(summary.out).definitions["AAPL"]
    # strike_price 250000000000 x 1e-9; expiration 2025-02-21T00:00Z names the expiry date
    assert d.strikes[0] == 250.0 and d.expiry == dt.date(2025, 2, 21) and d.multiplier == 100


def test_statistics_open_interest_is_deduplicated_across_publishers(tmp_path):
    summary = import_dbn([SAMPLES / "test_data.statistics.dbn.zst"], tmp_path / "oi.zdte")
    rec = Recording.open(summary.out)
    assert rec.definitions["AAPL"].settled_oi.tolist() == [57924]  # 4 publishers, one value
    assert any("4 report(s) de-duplicated" in n for n in rec.metadata.notes)


def test_trades_and_tbbo_samples_give_the_same_four_prints_once(tmp_path):
    both = import_dbn([SAMPLES / "test_data.trades.dbn.zst", SAMPLES / "test_data.tbbo.dbn.zst"],
                      tmp_path / "t.zdte")
    batches = all_batches(Recording.open(both.out))
    assert both.trades == 4
    assert cat(batches, lambda b: b.trades.price).tolist() == [0.24, 0.2, 0.19, 0.19]
    assert cat(batches, lambda b: b.trades.size).tolist() == [1, 2, 1, 4]
    assert cat(batches, lambda b: b.trades.exchange).tolist() == [23, 26, 26, 37]  # publisher ids
    assert cat(batches, lambda b: b.trades.ts_ns)[0] == 1_740_061_800_817_657_088


def test_venue_bbo_is_used_only_without_a_consolidated_quote_and_says_so(tmp_path):
    venue = import_dbn([SAMPLES / "test_data.tbbo.dbn.zst"], tmp_path / "v.zdte")
    assert venue.quote_source == "venue"
    assert any("not the NBBO" in n for n in Recording.open(venue.out).metadata.notes)
    both = import_dbn([SAMPLES / "test_data.tbbo.dbn.zst", SAMPLES / "test_data.cbbo-1s.dbn.zst"],
                      tmp_path / "c.zdte")
    assert both.quote_source == "consolidated"
    rec = Recording.open(both.out)
    assert not any("not the NBBO" in n for n in rec.metadata.notes)
    batches = all_batches(rec)
    bids = cat(batches, lambda b: b.quotes.bid)
    # cbbo-1s: the pre-open sample has no quote (NaN), then 0.10, 0.18, 0.22 (not tbbo's 0.24 ...)
    assert np.isnan(bids[0]) and bids[1:].tolist() == [0.1, 0.18, 0.22]
    # sampled quotes are stamped just after their last update (ts_event + 1 ns)
    assert cat(batches, lambda b: b.quotes.ts_ns)[1] == 1_740_061_800_817_657_089


def test_all_sample_files_together(tmp_path):
    summary = import_dbn(SAMPLE_FILES, tmp_path / "all.zdte")
    rec = Recording.open(summary.out)
    assert (summary.contracts, summary.trades, summary.quote_source) == (1, 4, "consolidated")
    assert rec.definitions["AAPL"].settled_oi.tolist() == [57924]
    assert len(all_batches(rec)) > 0


def test_a_file_that_is_not_dbn_is_an_error_naming_it(tmp_path):
    bad = tmp_path / "bad.dbn"
    bad.write_bytes(b"not dbn at all")
    with pytest.raises(DbnImportError, match=r"bad\.dbn: not a DBN file"):
        import_dbn([bad], tmp_path / "x.zdte")


# ---------------------------------------------------------------- generated files

SESSION = dt.date(2025, 2, 20)
T0 = et_clock_to_ns(SESSION, "10:00")
CLOSE = et_clock_to_ns(SESSION, "16:00")
EXPIRY_MIDNIGHT_UTC = int(dt.datetime(2025, 2, 20, tzinfo=dt.UTC).timestamp()) * S
STRIKES = [586.0, 588.0, 590.0, 592.0, 594.0]
RATE = 0.04
N_SECONDS = 120


def true_spot(second: int) -> float:
    return 590.0 + 1.5 * np.sin(second / 20.0)


def occ(strike: float, call: bool) -> str:
    return f"SPY   250220{'C' if call else 'P'}{int(strike * 1000):08d}"


def contracts():
    return [(1000 + 2 * i + (0 if call else 1), k, call) for i, k in enumerate(STRIKES) for call in (True, False)]


def fixed(price: float) -> int:
    return int(round(price * 1e9))


def metadata(schema, symbols, dataset="OPRA.PILLAR"):
    mappings = [SimpleNamespace(raw_symbol=raw, intervals=[SimpleNamespace(
        start_date=SESSION, end_date=SESSION + dt.timedelta(days=1), symbol=str(iid))]) for raw, iid in symbols]
    return db.Metadata(dataset=dataset, start=T0 - 3600 * S, stype_in=db.SType.RAW_SYMBOL,
                       stype_out=db.SType.INSTRUMENT_ID, schema=schema, symbols=[r for r, _ in symbols],
                       mappings=mappings, end=CLOSE)


def write_dbn(path: Path, meta, records) -> Path:
    path.write_bytes(bytes(meta) + b"".join(bytes(r) for r in records))
    return path


def option_mids(second: int, strike: float) -> tuple[float, float]:
    """Call and put mids consistent with put-call parity at the true spot."""
    s = true_spot(second)
    years = (CLOSE - (T0 + second * S)) / (365 * 24 * 3600 * S)
    call = max(s - strike, 0.0) + 1.0
    put = call - s + strike * np.exp(-RATE * years)
    return call, put


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    d = tmp_path_factory.mktemp("dbn")
    syms = [(occ(k, c), iid) for iid, k, c in contracts()]
    defs = [db.InstrumentDefMsg(
        publisher_id=30, instrument_id=iid, ts_event=T0 - 3600 * S, ts_recv=T0 - 3600 * S,
        min_price_increment=db.UNDEF_PRICE, display_factor=db.UNDEF_PRICE, raw_symbol=occ(k, c), asset="SPY",
        security_type="OPT", instrument_class=db.InstrumentClass.CALL if c else db.InstrumentClass.PUT,
        security_update_action=db.SecurityUpdateAction.ADD, strike_price=fixed(k),
        expiration=EXPIRY_MIDNIGHT_UTC, underlying="SPY") for iid, k, c in contracts()]
    quotes = []
    for sec in range(1, N_SECONDS + 1):
        for iid, k, c in contracts():
            mid = option_mids(sec, k)[0 if c else 1]
            quotes.append(db.CBBOMsg(
                rtype=db.RType.CBBO_1S, publisher_id=30, instrument_id=iid, ts_event=T0 + sec * S - 1000,
                price=db.UNDEF_PRICE, size=0, side=db.Side.NONE, ts_recv=T0 + sec * S,
                levels=db.ConsolidatedBidAskPair(bid_px=fixed(mid - 0.05), ask_px=fixed(mid + 0.05),
                                                 bid_sz=10, ask_sz=12, bid_pb=23, ask_pb=37)))
    trades = [db.TradeMsg(publisher_id=23 + (n % 3), instrument_id=1004 + (n % 2), ts_event=T0 + n * 7 * S + 5,
                          price=fixed(1.25 + n / 100), size=1 + n, action=db.Action.TRADE, side=db.Side.NONE,
                          depth=0, ts_recv=T0 + n * 7 * S + 9, sequence=n) for n in range(12)]
    stats = [db.StatMsg(publisher_id=pub, instrument_id=iid, ts_event=T0 - 3600 * S, ts_recv=T0 - 3600 * S,
                        ts_ref=db.UNDEF_TIMESTAMP, price=db.UNDEF_PRICE, quantity=100 + iid - 1000,
                        stat_type=db.StatType.OPEN_INTEREST) for iid, _, _ in contracts() for pub in (23, 31, 37)]
    files = {
        "definition": write_dbn(d / "def.dbn", metadata(db.Schema.DEFINITION, syms), defs),
        "cbbo": write_dbn(d / "cbbo.dbn", metadata(db.Schema.CBBO_1S, syms), quotes),
        "trades": write_dbn(d / "trades.dbn", metadata(db.Schema.TRADES, syms), trades),
        "statistics": write_dbn(d / "stats.dbn", metadata(db.Schema.STATISTICS, syms), stats),
    }
    equity = [db.TradeMsg(publisher_id=2, instrument_id=15144, ts_event=T0 + n * S, price=fixed(true_spot(n)),
                          size=100, action=db.Action.TRADE, side=db.Side.NONE, depth=0, ts_recv=T0 + n * S + 3)
              for n in range(1, 30)]
    files["equity"] = write_dbn(d / "spy.dbn", metadata(db.Schema.TRADES, [("SPY", 15144)], "XNAS.ITCH"), equity)
    return d, files


def test_generated_chain_imports_with_spot_from_put_call_parity(generated, tmp_path):
    _, f = generated
    summary = import_dbn([f["definition"], f["cbbo"], f["trades"], f["statistics"]], tmp_path / "p.zdte")
    rec = Recording.open(summary.out)

    d = rec.definitions["SPY"]
    assert d.expiry == SESSION and d.n_contracts == 10
    assert d.strikes.tolist() == sorted(STRIKES * 2) and d.is_call.tolist() == [True, False] * 5
    assert d.settled_oi.tolist() == list(range(100, 110))  # three publishers each, de-duplicated
    assert summary.spot_source == "put-call parity"
    assert any("spot derived from put-call parity" in n for n in rec.metadata.notes)

    batches = all_batches(rec)
    spot_ts, spot_px = cat(batches, lambda b: b.spot.ts_ns), cat(batches, lambda b: b.spot.price)
    seconds = (spot_ts - T0) // S
    assert len(spot_ts) == N_SECONDS and seconds.tolist() == list(range(1, N_SECONDS + 1))
    np.testing.assert_allclose(spot_px, [true_spot(s) for s in seconds], atol=1e-6)
    assert summary.quotes == 10 * N_SECONDS and summary.trades == 12
    assert cat(batches, lambda b: b.trades.size).tolist() == list(range(1, 13))


def test_generated_equities_file_gives_spot_from_underlying_trades(generated, tmp_path):
    _, f = generated
    summary = import_dbn([f["definition"], f["cbbo"], f["equity"]], tmp_path / "e.zdte")
    rec = Recording.open(summary.out)
    assert summary.spot_source == "equities"
    spot = cat(all_batches(rec), lambda b: b.spot.price)
    np.testing.assert_allclose(spot, [true_spot(n) for n in range(1, 30)], atol=1e-9)


def test_without_definitions_contracts_come_from_the_occ_symbols(generated, tmp_path):
    _, f = generated
    summary = import_dbn([f["cbbo"]], tmp_path / "o.zdte")
    rec = Recording.open(summary.out)
    d: ChainDefinition = rec.definitions["SPY"]
    assert d.strikes.tolist() == sorted(STRIKES * 2) and d.expiry == SESSION
    assert d.occ_symbols[0] == occ(586.0, True)
    assert any("from OCC raw symbols" in n for n in rec.metadata.notes)


def test_zstd_compressed_generated_file_reads_like_the_plain_one(generated, tmp_path):
    _, f = generated
    zst = tmp_path / "cbbo.dbn.zst"
    with pa.output_stream(str(zst), compression="zstd") as out:
        out.write(f["cbbo"].read_bytes())
    plain, packed = read_dbn(f["cbbo"]), read_dbn(zst)
    np.testing.assert_array_equal(plain.records[192], packed.records[192])


def test_parity_spot_medians_the_strikes_nearest_the_money():
    # One second, three strikes; the far strike's pair is off by +10 and must be ignored.
    strikes = np.array([90.0, 90.0, 100.0, 100.0, 130.0, 130.0])
    is_call = np.array([True, False] * 3)
    spot, k_disc = 101.0, np.exp(-0.0)
    call = np.array([12.0, 2.0, 5.0])
    put = call - spot + strikes[::2] * k_disc
    put[2] -= 10.0
    mids = np.ravel(np.column_stack([call, put]))
    ts = np.full(6, 5 * S - 1)
    t, s = parity_spot(ts, np.arange(6), mids - 0.01, mids + 0.01, strikes, is_call, 5 * S, rate=0.0, n_strikes=2)
    assert t.tolist() == [5 * S] and s[0] == pytest.approx(101.0)
