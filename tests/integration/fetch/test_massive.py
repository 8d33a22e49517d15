"""``zdte fetch-day --vendor massive`` against a loopback Massive (formerly Polygon.io) REST API.

Reply layouts follow the official client's test fixtures (github.com/polygon-io/client-python,
now massive-com/client-python): ``test_rest/mocks/v3/reference/options/contracts.json`` (contract
rows: cfi, contract_type, exercise_style, expiration_date, primary_exchange, shares_per_contract,
strike_price, ticker, underlying_ticker; ``status``, ``request_id``, ``next_url``) and
``test_rest/mocks/v3/quotes/AAPL.json`` (ask_exchange, ask_price, ask_size, bid_exchange,
bid_price, bid_size, participant_timestamp, sequence_number, sip_timestamp, tape). Trades rows
follow massive.com/docs/rest/options/trades-quotes/trades.md (conditions, exchange, price,
sip_timestamp, size), second bars massive.com/docs/rest/stocks/aggregates (t in ms, o/h/l/c/v),
the error bodies the ``status``/``error``/``message`` fields the client's ``BadResponse`` carries.
The last two tests serve the client's own fixtures byte for byte (``tests/data/fetch-day/``).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest

from zdte_tui.market.calendar import et_clock_to_ns
from zdte_tui.sources.fetch.common import NullProgress, PartDir
from zdte_tui.sources.fetch.massive import MassiveFetch, reduce_quotes
from zdte_tui.sources.massive.config import MassiveConfig
from zdte_tui.store.reader import Recording

from .servers import LoopbackServer, Request

S = 1_000_000_000
DAY = dt.date(2025, 2, 20)
KEY = "mk-TEST-0123456789"
STRIKES = [608, 610, 612]
UNAUTHORIZED = {"status": "ERROR", "request_id": "a1", "error": "Unknown API Key"}
NOT_ENTITLED = {"status": "NOT_AUTHORIZED", "request_id": "a2",
                "message": "You are not entitled to this data. Please upgrade your plan at https://massive.com/pricing"}


def ticker(k: int, right: str) -> str:
    return f"O:SPY{DAY:%y%m%d}{right}{k * 1000:08d}"


def contract_row(k: int, right: str) -> dict:
    return {"cfi": "OCASPS" if right == "C" else "OPASPS", "contract_type": "call" if right == "C" else "put",
            "exercise_style": "american", "expiration_date": DAY.isoformat(), "primary_exchange": "BATO",
            "shares_per_contract": 100, "strike_price": k, "ticker": ticker(k, right), "underlying_ticker": "SPY"}


TICKERS = [ticker(k, r) for k in STRIKES for r in "CP"]
TRADE_AT = {TICKERS[0]: ["09:45:10", "11:00:00"], TICKERS[3]: ["10:15:30"], TICKERS[4]: ["15:59:00"]}


def ns(hms: str) -> int:
    h, m, s = (int(x) for x in hms.split(":"))
    return et_clock_to_ns(DAY, f"{h:02d}:{m:02d}") + s * S


class FakeMassive:
    def __init__(self, url_holder: dict) -> None:
        self.url = url_holder
        self.refuse: dict[str, tuple[int, dict]] = {}  # path prefix -> reply
        self.fail_once: set[str] = set()

    def _check(self, req: Request):
        if req.headers.get("authorization") != f"Bearer {KEY}":
            return 401, UNAUTHORIZED
        for prefix, reply in self.refuse.items():
            if req.path.startswith(prefix):
                return reply
        if req.path in self.fail_once:
            self.fail_once.discard(req.path)
            return 500, {"status": "ERROR", "request_id": "a3", "error": "Internal server error"}
        return None

    def contracts(self, req: Request):
        bad = self._check(req)
        if bad:
            return bad
        rows = [contract_row(k, r) for k in STRIKES for r in "CP"]
        if req.query.get("cursor") == "p2":  # the cursor carries the first page's filters
            return 200, {"status": "OK", "request_id": "c2", "results": rows[4:]}
        if req.query.get("underlying_ticker") != "SPY" or req.query.get("expiration_date") != DAY.isoformat():
            return 200, {"status": "OK", "request_id": "c0", "results": []}
        return 200, {"status": "OK", "request_id": "c1", "results": rows[:4],
                     "next_url": f"{self.url['url']}/v3/reference/options/contracts?cursor=p2"}

    def trades(self, req: Request):
        bad = self._check(req)
        if bad:
            return bad
        t = req.path.rsplit("/", 1)[1]
        rows = [{"conditions": [209], "exchange": 312, "price": 1.2 + n / 10, "sip_timestamp": ns(hms), "size": 5 + n}
                for n, hms in enumerate(TRADE_AT.get(t, []))]
        return 200, {"status": "OK", "request_id": "t1", "results": rows}

    def quotes(self, req: Request):
        bad = self._check(req)
        if bad:
            return bad
        start, end = int(req.query["timestamp.gte"]), int(req.query["timestamp.lt"])
        ts = np.arange(start + S // 2, end, 20 * S)  # a quote every 20 s all day
        rows = [{"ask_exchange": 316, "ask_price": 1.3, "ask_size": 12, "bid_exchange": 323, "bid_price": 1.1,
                 "bid_size": 10, "participant_timestamp": int(x) - 200, "sequence_number": i,
                 "sip_timestamp": int(x)} for i, x in enumerate(ts)]
        if req.query.get("cursor") == "q2":
            return 200, {"status": "OK", "request_id": "q2", "results": rows[len(rows) // 2:]}
        t = req.path.rsplit("/", 1)[1]
        return 200, {"status": "OK", "request_id": "q1", "results": rows[:len(rows) // 2],
                     "next_url": f"{self.url['url']}/v3/quotes/{t}?cursor=q2&timestamp.gte={start}&timestamp.lt={end}"}

    def aggs(self, req: Request):
        bad = self._check(req)
        if bad:
            return bad
        t0 = et_clock_to_ns(DAY, "09:30") // 1_000_000
        rows = [{"v": 100, "vw": 610.0, "o": 610.0, "c": 610.0 + np.sin(i / 600), "h": 611.0, "l": 609.0,
                 "t": t0 + i * 1000, "n": 3} for i in range(0, 23400, 5)]
        return 200, {"ticker": "SPY", "queryCount": len(rows), "resultsCount": len(rows), "adjusted": True,
                     "results": rows, "status": "OK", "request_id": "g1", "count": len(rows)}

    def routes(self):
        return {("GET", "/v3/reference/options/contracts"): self.contracts, ("GET", "/v3/trades/*"): self.trades,
                ("GET", "/v3/quotes/*"): self.quotes, ("GET", "/v2/aggs/ticker/*"): self.aggs}


@pytest.fixture
def vendor(monkeypatch):
    holder: dict = {}
    fake = FakeMassive(holder)
    with LoopbackServer(fake.routes()) as srv:
        holder["url"] = srv.url
        monkeypatch.setenv("ZDTE__LIVE__MASSIVE__REST_URL", srv.url)
        monkeypatch.setenv("MASSIVE_API_KEY", KEY)
        yield fake, srv


def fetch(zdte, out, *extra):
    return zdte("fetch-day", "SPY", "--date", DAY.isoformat(), "--vendor", "massive", "--out", str(out), *extra)


def test_quotes_kept_are_those_in_force_at_each_trade_and_the_last_of_each_minute():
    m = 60 * S
    q = np.array([1, 20 * S, 50 * S, m + 5 * S, m + 30 * S, 2 * m + S])
    trades = np.array([25 * S, m + 5 * S, 0])  # in force: index 1, index 3 (same ns), none before the first
    assert reduce_quotes(q, trades).tolist() == [1, 2, 3, 4, 5]  # at-trade {1, 3} + last per minute {2, 4, 5}
    assert reduce_quotes(np.empty(0, np.int64), trades).tolist() == []


def test_a_day_is_downloaded_and_replays(zdte, vendor, tmp_path):
    fake, srv = vendor
    out = tmp_path / "spy.parquet"
    run = fetch(zdte, out)  # Massive has no per-download cost: no question asked
    assert run.code == 0, run.err
    rec = Recording.open(out)
    d = rec.definitions["SPY"]
    assert d.n_contracts == 6 and d.expiry == DAY and d.strikes.tolist() == [608, 608, 610, 610, 612, 612]
    assert d.settled_oi.tolist() == [0] * 6
    assert any("settled OI unavailable" in n for n in rec.metadata.notes)
    assert "4 trades" in run.out and "4680 underlying prints" in run.out  # 23,400 s / 5 s bars
    assert "/v3/reference/options/contracts" in srv.paths()
    auth = {r.headers.get("authorization") for r in srv.requests}
    assert auth == {f"Bearer {KEY}"} and not any(KEY in r.path or KEY in str(r.query) for r in srv.requests)
    replay = zdte("replay", str(out), "--headless", "--json")
    assert replay.code == 0, replay.err
    assert replay.json()["symbol"] == "SPY"


def test_each_contracts_quotes_are_reduced_to_what_classifies_its_trades(vendor, tmp_path):
    fake, srv = vendor
    f = MassiveFetch("SPY", DAY, config=MassiveConfig(rest_url=srv.url), api_key=KEY, today=dt.date(2026, 1, 5))
    out = tmp_path / "x.parquet"
    summary = f.run(out, PartDir(out, f.identity()), NullProgress(), confirm=lambda text: True)
    # quotes at open + 0.5 s + 20 s k; 390 minutes each end with one; the trades at 09:45:10 (quote of
    # 09:45:00.5, not a minute's last), 11:00:00 (10:59:40.5: the minute's last), 10:15:30 (10:15:20.5)
    # and 15:59:00 (15:58:40.5: last) add 2 quotes to 6 x 390
    assert summary.quotes == 6 * 390 + 2
    assert summary.trades == 4


def test_missing_and_refused_keys_are_one_line_errors(zdte, vendor, tmp_path, monkeypatch):
    fake, srv = vendor
    monkeypatch.delenv("MASSIVE_API_KEY")
    run = fetch(zdte, tmp_path / "a.parquet")
    assert run.code == 2 and "no API key: set the environment variable $MASSIVE_API_KEY" in run.err
    monkeypatch.setenv("MASSIVE_API_KEY", "mk-WRONG")
    run = fetch(zdte, tmp_path / "a.parquet")
    assert run.code == 2 and "the API key was refused (HTTP 401: Unknown API Key); check $MASSIVE_API_KEY" in run.err
    monkeypatch.setenv("MASSIVE_API_KEY", KEY)
    fake.refuse["/v3/trades/"] = (403, NOT_ENTITLED)
    run = fetch(zdte, tmp_path / "a.parquet")
    assert run.code == 2 and re.search(r"your plan does not include trades of O:SPY250220[CP]006\d{5} \(HTTP 403: "
                                       r"You are not entitled to this data", run.err)
    assert "Traceback" not in run.err


def test_an_underlying_outside_the_plan_gives_spot_from_put_call_parity(zdte, vendor, tmp_path):
    fake, srv = vendor
    fake.refuse["/v2/aggs/"] = (403, NOT_ENTITLED)
    out = tmp_path / "a.parquet"
    run = fetch(zdte, out)
    assert run.code == 0, run.err
    assert "spot from put-call parity" in run.err
    assert any("put-call parity" in n for n in Recording.open(out).metadata.notes)


def test_an_unknown_symbol_says_so(zdte, vendor, tmp_path):
    run = zdte("fetch-day", "ZZZZ", "--date", DAY.isoformat(), "--vendor", "massive", "--out", str(tmp_path / "a"))
    assert run.code == 2 and "no ZZZZ options expiring 2025-02-20 for ZZZZ (unknown symbol, or no 0DTE" in run.err


def test_a_broken_download_resumes_with_the_contracts_not_yet_fetched(zdte, vendor, tmp_path):
    fake, srv = vendor
    out = tmp_path / "spy.parquet"
    fake.fail_once.add(f"/v3/quotes/{TICKERS[2]}")
    run = fetch(zdte, out)
    assert run.code == 2 and "HTTP 500" in run.err and "kept in" in run.err
    before = len(srv.requests)
    run = fetch(zdte, out)
    assert run.code == 0, run.err
    again = [r.path for r in srv.requests[before:] if r.path.startswith("/v3/")]
    assert f"/v3/trades/{TICKERS[0]}" not in again and f"/v3/trades/{TICKERS[1]}" not in again
    assert f"/v3/quotes/{TICKERS[2]}" in again and f"/v3/trades/{TICKERS[2]}" not in again


def test_todays_download_reads_settled_oi_from_the_chain_snapshot(vendor, tmp_path):
    fake, srv = vendor

    def snapshot(req: Request):  # layout of client-python's test_rest/mocks/v3/snapshot/options/AAPL.json
        rows = [{"details": {"contract_type": "call" if r == "C" else "put", "exercise_style": "american",
                             "expiration_date": DAY.isoformat(), "shares_per_contract": 100, "strike_price": k,
                             "ticker": ticker(k, r)},
                 "open_interest": 1000 + k + (1 if r == "P" else 0),
                 "underlying_asset": {"price": 610.0, "ticker": "SPY"}} for k in STRIKES for r in "CP"]
        return 200, {"status": "OK", "request_id": "s1", "results": rows}

    srv.routes[("GET", "/v3/snapshot/options/SPY")] = snapshot
    f = MassiveFetch("SPY", DAY, config=MassiveConfig(rest_url=srv.url), api_key=KEY, today=DAY)
    out = tmp_path / "x.parquet"
    summary = f.run(out, PartDir(out, f.identity()), NullProgress(), confirm=lambda text: True)
    assert Recording.open(out).definitions["SPY"].settled_oi.tolist() == [1608, 1609, 1610, 1611, 1612, 1613]
    assert "settled OI from Massive's option chain snapshot" in summary.notes


def test_parallel_downloads_write_the_same_recording_as_one_at_a_time(vendor, tmp_path):
    fake, srv = vendor
    files = []
    for jobs in (1, 4):
        f = MassiveFetch("SPY", DAY, config=MassiveConfig(rest_url=srv.url), api_key=KEY, today=dt.date(2026, 1, 5),
                         jobs=jobs)
        out = tmp_path / f"jobs{jobs}.parquet"
        f.run(out, PartDir(out, f.identity()), NullProgress(), confirm=lambda text: True)
        files.append(out.read_bytes())
    assert files[0] == files[1]


# ---------------------------------------------------------------- the official client's own fixtures

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "fetch-day"


def test_the_clients_contracts_fixture_gives_the_days_contracts_and_no_foreign_next_url(tmp_path):
    body = (FIXTURES / "massive_v3_reference_options_contracts.json").read_bytes()
    with LoopbackServer({("GET", "/v3/reference/options/contracts"): lambda req: (200, body)}) as srv:
        f = MassiveFetch("A", dt.date(2022, 5, 20), config=MassiveConfig(rest_url=srv.url), api_key=KEY,
                         today=dt.date(2026, 1, 5))
        specs = f.contracts()
        paths = srv.paths()
    assert [s.strike for s in specs] == [65, 70, 75, 80, 85, 90, 95, 100, 105, 110]
    assert all(s.is_call for s in specs) and specs[0].key == "O:A220520C00065000"
    assert specs[0].occ == "A     220520C00065000"
    assert paths == ["/v3/reference/options/contracts"]  # next_url on api.polygon.io: never followed


def test_the_clients_quotes_fixture_parses_to_time_ordered_nbbo_columns(tmp_path):
    body = (FIXTURES / "massive_v3_quotes_AAPL.json").read_bytes()
    with LoopbackServer({("GET", "/v3/quotes/*"): lambda req: (200, body)}) as srv:
        f = MassiveFetch("AAPL", dt.date(2022, 5, 10), config=MassiveConfig(rest_url=srv.url), api_key=KEY)
        q = f._ticks("quotes", "O:AAPL220510C00155000", 0, 2**62)
    # the fixture lists newest first; the columns come out oldest first
    assert q["ts"].tolist()[0] == 1652191872690661000 and q["ts"].tolist()[-1] == 1652191872800638700
    assert np.all(np.diff(q["ts"]) > 0) and len(q["ts"]) == 10
    assert (q["bid"][0], q["ask"][0], q["bid_size"][0], q["ask_size"][0]) == (155.86, 155.87, 2, 2)
    assert (q["bid"][-1], q["bid_size"][-1], q["ask_size"][-1]) == (155.85, 4, 3)
    assert f.malformed == 0
