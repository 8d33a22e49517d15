"""``zdte fetch-day --vendor databento`` against a loopback Databento historical API.

The server speaks the wire format of Databento's official client (github.com/databento/
databento-python: ``historical/api/timeseries.py`` ``POST /v0/timeseries.get_range`` with a form
body and ``encoding=dbn, compression=zstd``; ``historical/api/metadata.py`` ``POST
/v0/metadata.get_cost`` answering a bare JSON number; ``common/http.py`` HTTP Basic auth with the
key as user name and an empty password, errors as ``{"detail": ...}``). Its DBN replies are
encoded by Databento's own ``databento-dbn`` records (definitions, statistics, tcbbo, cbbo-1m,
bbo-1s); the no-0DTE case serves the real OPRA definition sample from databento-python's tests
(``tests/data/databento-opra-samples/``, Apache-2.0).
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import databento_dbn as db
import numpy as np
import pyarrow as pa
import pytest

from zdte_tui.market.calendar import et_clock_to_ns
from zdte_tui.store.reader import Recording

from .servers import LoopbackServer, Request

S = 1_000_000_000
DAY = dt.date(2025, 2, 20)  # a Thursday session
NEXT = dt.date(2025, 2, 21)
KEY = "db-TESTKEY0123456789abcdef"
STRIKES = [608.0, 610.0, 612.0]
COSTS = {"definition": 0.04, "statistics": 0.01, "tcbbo": 1.5, "cbbo-1m": 0.75, "bbo-1s": 0.02}
SAMPLES = Path(__file__).resolve().parents[2] / "data" / "databento-opra-samples"


def midnight_utc(d: dt.date) -> int:
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp()) * S


def osi(strike: float, call: bool, expiry: dt.date = DAY) -> str:
    return f"SPY   {expiry:%y%m%d}{'C' if call else 'P'}{int(strike * 1000):08d}"


def fixed(px: float) -> int:
    return int(round(px * 1e9))


CONTRACTS = [(1000 + 2 * i + (0 if c else 1), k, c, DAY) for i, k in enumerate(STRIKES) for c in (True, False)]
CONTRACTS.append((2000, 610.0, True, NEXT))  # tomorrow's expiry: never requested
RAW = {iid: osi(k, c, e) for iid, k, c, e in CONTRACTS}
SPY_ID = 15144
T_DEF = midnight_utc(DAY) + 3600 * S
TRADE_TIMES = ["09:45", "10:15", "11:05", "13:40", "15:50"]


def _records() -> dict[str, list]:
    defs = [db.InstrumentDefMsg(
        publisher_id=30, instrument_id=iid, ts_event=T_DEF, ts_recv=T_DEF, min_price_increment=db.UNDEF_PRICE,
        display_factor=db.UNDEF_PRICE, raw_symbol=RAW[iid], asset="SPY", security_type="OPT",
        instrument_class=db.InstrumentClass.CALL if c else db.InstrumentClass.PUT,
        security_update_action=db.SecurityUpdateAction.ADD, strike_price=fixed(k), expiration=midnight_utc(e),
        underlying="SPY") for iid, k, c, e in CONTRACTS]
    stats = [db.StatMsg(publisher_id=pub, instrument_id=iid, ts_event=T_DEF, ts_recv=T_DEF, ts_ref=db.UNDEF_TIMESTAMP,
                        price=db.UNDEF_PRICE, quantity=500 + iid, stat_type=db.StatType.OPEN_INTEREST)
             for iid, *_ in CONTRACTS for pub in (23, 31)]
    tcbbo = []
    for n, hhmm in enumerate(TRADE_TIMES):
        iid = CONTRACTS[n % 6][0]
        ts = et_clock_to_ns(DAY, hhmm) + 123
        tcbbo.append(db.CMBP1Msg(
            rtype=db.RType.TCBBO, publisher_id=30, instrument_id=iid, ts_event=ts, price=fixed(1.10 + n / 10),
            size=10 + n, action=db.Action.TRADE, side=db.Side.NONE, ts_recv=ts + 50,
            levels=db.ConsolidatedBidAskPair(bid_px=fixed(1.05 + n / 10), ask_px=fixed(1.15 + n / 10),
                                             bid_sz=20, ask_sz=30, bid_pb=23, ask_pb=37)))
    quotes = []
    for minute in range(0, 390, 30):
        ts = et_clock_to_ns(DAY, "09:30") + minute * 60 * S
        for iid, k, c, _e in CONTRACTS:
            mid = max(610.0 - k, 0.0) + 1.0 if c else max(k - 610.0, 0.0) + 1.0
            quotes.append(db.CBBOMsg(
                rtype=db.RType.CBBO_1M, publisher_id=30, instrument_id=iid, ts_event=ts - 1000, price=db.UNDEF_PRICE,
                size=0, side=db.Side.NONE, ts_recv=ts,
                levels=db.ConsolidatedBidAskPair(bid_px=fixed(mid - 0.05), ask_px=fixed(mid + 0.05), bid_sz=10,
                                                 ask_sz=12, bid_pb=23, ask_pb=37)))
    spy = []
    for minute in range(0, 390, 10):
        ts = et_clock_to_ns(DAY, "09:30") + minute * 60 * S + S
        px = 610.0 + np.sin(minute / 60)
        spy.append(db.BBOMsg(rtype=db.RType.BBO_1S, publisher_id=2, instrument_id=SPY_ID, ts_event=ts - 1000,
                             price=db.UNDEF_PRICE, size=0, side=db.Side.NONE, ts_recv=ts,
                             levels=db.BidAskPair(bid_px=fixed(px - 0.01), ask_px=fixed(px + 0.01), bid_sz=100,
                                                  ask_sz=100)))
    return {"definition": defs, "statistics": stats, "tcbbo": tcbbo, "cbbo-1m": quotes, "bbo-1s": spy}


RECORDS = _records()


def _dbn(schema: str, dataset: str, symbols: list[tuple[str, int]], records: list, start: int, end: int) -> bytes:
    mappings = [SimpleNamespace(raw_symbol=raw, intervals=[SimpleNamespace(
        start_date=DAY, end_date=DAY + dt.timedelta(days=1), symbol=str(iid))]) for raw, iid in symbols]
    meta = db.Metadata(dataset=dataset, start=start, stype_in=db.SType.RAW_SYMBOL, stype_out=db.SType.INSTRUMENT_ID,
                       schema=db.Schema.from_str(schema), symbols=[r for r, _ in symbols], mappings=mappings, end=end)
    raw = bytes(meta) + b"".join(bytes(r) for r in records)
    sink = pa.BufferOutputStream()
    with pa.output_stream(sink, compression="zstd") as out:
        out.write(raw)
    return sink.getvalue().to_pybytes()


class FakeDatabento:
    """The historical API's two endpoints over the records above."""

    def __init__(self, definitions: bytes | None = None) -> None:
        self.definitions = definitions
        self.fail: dict[str, tuple[int, dict]] = {}  # schema -> (status, body), both endpoints
        self.fail_range: dict[str, tuple[int, dict]] = {}  # schema -> (status, body), get_range only
        self.fail_after: tuple[str, int] | None = None  # (schema, n): the n-th get_range of schema fails
        self.seen: dict[str, int] = {}

    def _auth(self, req: Request):
        expected = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
        if req.headers.get("authorization") != expected:
            return 401, {"detail": "Authentication failed."}
        schema = req.form["schema"]
        if schema in self.fail:
            return self.fail[schema]
        return None

    def cost(self, req: Request):
        return self._auth(req) or (200, COSTS[req.form["schema"]])

    def get_range(self, req: Request):
        refused = self._auth(req)
        if refused:
            return refused
        f = req.form
        if f["schema"] in self.fail_range:
            return self.fail_range[f["schema"]]
        schema, start, end = f["schema"], int(f["start"]), int(f["end"])
        self.seen[schema] = self.seen.get(schema, 0) + 1
        if self.fail_after and self.fail_after[0] == schema and self.seen[schema] == self.fail_after[1]:
            return 500, {"detail": "Internal error."}
        if schema == "definition" and self.definitions is not None:
            return 200, self.definitions, {"Content-Type": "application/octet-stream"}
        if f["dataset"] == "OPRA.PILLAR":
            if f["stype_in"] == "parent":
                wanted = set(RAW) if f["symbols"] == "SPY.OPT" else set()  # another parent: no definitions
            else:
                names = set(f["symbols"].split(","))
                wanted = {iid for iid, raw in RAW.items() if raw in names}
            symbols = [(RAW[i], i) for i in sorted(wanted)]
        else:
            assert f["symbols"] == "SPY"
            wanted, symbols = {SPY_ID}, [("SPY", SPY_ID)]
        recs = [r for r in RECORDS[schema] if r.instrument_id in wanted and start <= r.ts_recv < end]
        return 200, _dbn(schema, f["dataset"], symbols, recs, start, end), {"Content-Type": "application/octet-stream"}

    def routes(self):
        return {("POST", "/v0/metadata.get_cost"): self.cost, ("POST", "/v0/timeseries.get_range"): self.get_range}


@pytest.fixture
def vendor(monkeypatch):
    fake = FakeDatabento()
    with LoopbackServer(fake.routes()) as srv:
        monkeypatch.setenv("ZDTE__FETCH__DATABENTO__HIST_URL", srv.url)
        monkeypatch.setenv("DATABENTO_API_KEY", KEY)
        yield fake, srv


def fetch(zdte, out: Path, *extra: str):
    return zdte("fetch-day", "SPY", "--date", DAY.isoformat(), "--vendor", "databento", "--out", str(out), *extra)


def test_a_day_is_downloaded_converted_and_replays(zdte, vendor, tmp_path):
    fake, srv = vendor
    out = tmp_path / "spy.parquet"
    run = fetch(zdte, out, "--yes")
    assert run.code == 0, run.err
    # the estimate is shown before the paid download even with --yes
    assert "estimated $0.04" in run.err and "6 SPY contracts expiring 2025-02-20" in run.err
    assert "estimated $2.28" in run.err  # statistics 0.01 + tcbbo 1.50 + cbbo-1m 0.75 + bbo-1s 0.02
    rec = Recording.open(out)
    d = rec.definitions["SPY"]
    assert d.expiry == DAY and d.n_contracts == 6  # tomorrow's contract was never asked for
    assert d.settled_oi.tolist() == [500 + iid for iid, *_ in CONTRACTS[:6]]
    assert "5 trades" in run.out and "0DTE: 6 contracts" in run.out
    assert not (tmp_path / "spy.parquet.parts").exists()  # parts removed after a good conversion
    replay = zdte("replay", str(out), "--headless", "--json")
    assert replay.code == 0, replay.err
    snap = replay.json()
    assert snap["symbol"] == "SPY" and snap["body"] is not None
    assert snap["levels"]["call_wall"] in STRIKES and snap["levels"]["put_wall"] in STRIKES  # OI-based levels


def test_requests_follow_the_official_clients_wire_format(zdte, vendor, tmp_path):
    fake, srv = vendor
    assert fetch(zdte, tmp_path / "a.parquet", "--yes").code == 0
    ranges = [r for r in srv.requests if r.path == "/v0/timeseries.get_range"]
    first = ranges[0].form
    assert first["schema"] == "definition" and first["stype_in"] == "parent" and first["symbols"] == "SPY.OPT"
    assert (first["encoding"], first["compression"], first["stype_out"]) == ("dbn", "zstd", "instrument_id")
    tcbbo = [r.form for r in ranges if r.form["schema"] == "tcbbo"]
    assert len(tcbbo) == 13  # 09:30-16:00 in 30-minute parts
    assert tcbbo[0]["symbols"].split(",") == sorted(RAW[i] for i, *_ in CONTRACTS[:6])
    assert int(tcbbo[0]["start"]) == et_clock_to_ns(DAY, "09:30") and int(tcbbo[-1]["end"]) == et_clock_to_ns(
        DAY, "16:00")
    costs = [r.form for r in srv.requests if r.path == "/v0/metadata.get_cost"]
    assert all(c["mode"] == "historical-streaming" for c in costs)


def test_without_a_terminal_a_paid_download_needs_yes(zdte, vendor, tmp_path):
    fake, srv = vendor
    run = fetch(zdte, tmp_path / "a.parquet")
    assert run.code == 2
    assert "estimated $0.04" in run.err and "rerun with --yes" in run.err
    assert "/v0/timeseries.get_range" not in srv.paths()  # nothing paid was downloaded


def test_missing_key_bad_key_and_entitlement_are_one_line_errors(zdte, vendor, tmp_path, monkeypatch):
    fake, srv = vendor
    monkeypatch.delenv("DATABENTO_API_KEY")
    run = fetch(zdte, tmp_path / "a.parquet", "--yes")
    assert run.code == 2 and "no API key: set the environment variable $DATABENTO_API_KEY" in run.err
    monkeypatch.setenv("DATABENTO_API_KEY", "db-WRONG")
    run = fetch(zdte, tmp_path / "a.parquet", "--yes")
    assert run.code == 2
    assert "API key was refused (HTTP 401: Authentication failed.); check $DATABENTO_API_KEY" in run.err
    assert "db-WRONG" not in run.err
    monkeypatch.setenv("DATABENTO_API_KEY", KEY)
    fake.fail["definition"] = (403, {"detail": "Your license does not include OPRA.PILLAR."})
    run = fetch(zdte, tmp_path / "a.parquet", "--yes")
    assert run.code == 2 and "your plan does not include definition of OPRA.PILLAR (HTTP 403" in run.err
    for r in (run,):
        assert len(r.err.strip().splitlines()) <= 2 and "Traceback" not in r.err


def test_an_equities_dataset_outside_the_plan_falls_back_to_parity(zdte, vendor, tmp_path):
    fake, srv = vendor
    fake.fail["bbo-1s"] = (403, {"detail": "Not licensed for EQUS.MINI."})
    run = fetch(zdte, tmp_path / "a.parquet", "--yes")
    assert run.code == 0, run.err
    assert "EQUS.MINI is not in your Databento plan" in run.err and "put-call parity" in run.err
    assert not any(r.form.get("dataset") == "EQUS.MINI" for r in srv.requests if r.path.endswith("get_range"))


def test_an_equities_refusal_at_download_time_also_falls_back_to_parity(zdte, vendor, tmp_path):
    fake, srv = vendor
    fake.fail_range["bbo-1s"] = (403, {"detail": "Not licensed for EQUS.MINI."})
    out = tmp_path / "a.parquet"
    run = fetch(zdte, out, "--yes")
    assert run.code == 0, run.err
    assert "spot from put-call parity" in run.err
    assert sum(r.form.get("dataset") == "EQUS.MINI" for r in srv.requests if r.path.endswith("get_range")) == 1
    assert Recording.open(out).definitions["SPY"].n_contracts == 6


def test_a_broken_download_resumes_at_the_part_it_stopped_in(zdte, vendor, tmp_path):
    fake, srv = vendor
    out = tmp_path / "spy.parquet"
    fake.fail_after = ("tcbbo", 4)  # the 10:00-10:30 ... 4th part fails with HTTP 500
    run = fetch(zdte, out, "--yes")
    assert run.code == 2 and "HTTP 500" in run.err and "finished part(s) kept" in run.err
    kept = sorted(p.name for p in (tmp_path / "spy.parquet.parts").iterdir())
    assert "definition.dbn.zst" in kept and "tcbbo-0930.dbn.zst" in kept and "tcbbo-1100.dbn.zst" not in kept
    fake.fail_after = None
    before = len(srv.requests)
    run = fetch(zdte, out, "--yes")
    assert run.code == 0, run.err
    again = [r.form for r in srv.requests[before:] if r.path.endswith("get_range")]
    assert [f["schema"] for f in again].count("tcbbo") == 10  # 13 parts, 3 kept from the first run
    assert all(f["schema"] != "definition" for f in again)
    assert "5 trades" in run.out


def test_parts_of_another_download_are_not_mixed_in(zdte, vendor, tmp_path):
    out = tmp_path / "spy.parquet"
    parts = tmp_path / "spy.parquet.parts"
    parts.mkdir()
    (parts / "manifest.json").write_text('{"vendor": "massive", "symbol": "QQQ", "date": "2025-02-19"}')
    run = fetch(zdte, out, "--yes")
    assert run.code == 2 and "holds parts of another download (vendor=massive, symbol=QQQ" in run.err


def test_a_weekend_or_holiday_is_refused_with_the_sessions_around_it(zdte, vendor, tmp_path):
    run = zdte("fetch-day", "SPY", "--date", "2025-02-17", "--vendor", "databento", "--out", str(tmp_path / "a"))
    assert run.code == 2 and "2025-02-14 and 2025-02-18" in run.err  # Presidents' Day
    run = zdte("fetch-day", "SPY", "--date", "2025-02-22", "--vendor", "databento", "--out", str(tmp_path / "a"))
    assert run.code == 2 and "not a trading day" in run.err


def test_a_symbol_without_a_same_day_expiry_names_the_nearest_one(zdte, monkeypatch, tmp_path):
    # The real OPRA sample: one AAPL contract listed on 2025-02-20, expiring 2025-02-21.
    fake = FakeDatabento(definitions=(SAMPLES / "test_data.definition.dbn.zst").read_bytes())
    with LoopbackServer(fake.routes()) as srv:
        monkeypatch.setenv("ZDTE__FETCH__DATABENTO__HIST_URL", srv.url)
        monkeypatch.setenv("DATABENTO_API_KEY", KEY)
        run = zdte("fetch-day", "AAPL", "--date", "2025-02-20", "--vendor", "databento", "--out",
                   str(tmp_path / "a.parquet"), "--yes")
    assert run.code == 2
    assert "AAPL has no contract expiring 2025-02-20 (no 0DTE that day) (nearest later expiry: 2025-02-21)" in run.err


def test_the_progress_bar_counts_parts_and_megabytes():
    import io

    from rich.console import Console

    from zdte_tui.commands import _RichProgress

    screen = io.StringIO()
    bar = _RichProgress(Console(file=screen, force_terminal=False, width=100))
    with bar:
        bar.start(13, "SPY 2025-02-20")
        bar.add_bytes(2_500_000)
        bar.advance("tcbbo 0930")
        bar.advance("tcbbo 1000", skipped=True)
    assert "tcbbo 1000 (kept)" in screen.getvalue() and "2/13 parts  2.5 MB" in screen.getvalue()


def test_an_unknown_symbol_is_a_one_line_error(zdte, vendor, tmp_path):
    run = zdte("fetch-day", "ZZZZ", "--date", DAY.isoformat(), "--vendor", "databento", "--out",
               str(tmp_path / "a.parquet"), "--yes")
    assert run.code == 2 and "no options found for ZZZZ (ZZZZ.OPT) on 2025-02-20 in OPRA.PILLAR" in run.err


def test_the_question_is_asked_on_a_terminal_and_no_means_no(monkeypatch, capsys):
    from zdte_tui.commands import _confirm_prompt

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    answers = iter(["n", "y"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    confirm = _confirm_prompt(assume_yes=False)
    assert confirm("estimated $2.28") is False and confirm("estimated $2.28") is True
    assert capsys.readouterr().err.count("estimated $2.28") == 2
