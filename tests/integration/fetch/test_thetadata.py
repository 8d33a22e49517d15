"""``zdte fetch-day --vendor thetadata`` against a loopback Theta Terminal (REST v2, legacy JSON).

Replies follow ThetaData's documentation: http-docs.thetadata.us/operations/
``get-bulk_hist-option-trade_quote.html`` (every trade paired with the last NBBO quote, the
``exclusive`` parameter), ``get-bulk_hist-option-quote.html`` (``ivl=60000``),
``get-v2-hist-stock-quote.html`` and the bulk reply envelope ``{"header": {"format": [...],
"next_page": ...}, "response": [{"contract": {...}, "ticks": [[...]]}]}`` (strike in 1/10 cent);
the trade columns are those of ThetaData's trade tick (ms_of_day, sequence, ext_condition1-4,
condition, size, exchange, price, condition_flags, price_flags, volume_type, records_back) followed
by the quote's (ms_of_day2, bid_size, bid_exchange, bid, bid_condition, ask_size, ask_exchange, ask,
ask_condition) and date; status codes from docs.thetadata.us/Articles/Errors-Exchanges-Conditions/
Error-Codes.html (471 PERMISSION, 472 NO_DATA, 474 DISCONNECTED).
"""

from __future__ import annotations

import datetime as dt
import socket

import pytest

from zdte_tui.store.reader import Recording

from .servers import LoopbackServer, Request

DAY = dt.date(2025, 2, 20)
YMD = 20250220
TQ_FORMAT = ["ms_of_day", "sequence", "ext_condition1", "ext_condition2", "ext_condition3", "ext_condition4",
             "condition", "size", "exchange", "price", "condition_flags", "price_flags", "volume_type", "records_back",
             "ms_of_day2", "bid_size", "bid_exchange", "bid", "bid_condition", "ask_size", "ask_exchange", "ask",
             "ask_condition", "date"]
Q_FORMAT = ["ms_of_day", "bid_size", "bid_exchange", "bid", "bid_condition", "ask_size", "ask_exchange", "ask",
            "ask_condition", "date"]
OPEN_MS = 34_200_000  # 09:30 ET


def contract(strike: int, right: str) -> dict:
    return {"root": "SPY", "expiration": YMD, "strike": strike * 1000, "right": right}


def trade(ms: int, size: int, price: float, bid: float, ask: float) -> list:
    return [ms, 1, 255, 255, 255, 255, 18, size, 5, price, 7, 1, 0, 0, ms - 40, 10, 5, bid, 50, 12, 5, ask, 50, YMD]


class FakeTerminal:
    def __init__(self, url: dict) -> None:
        self.url = url
        self.status: dict[str, int] = {}  # path -> HTTP status to answer instead
        self.once: dict[str, int] = {}

    def _override(self, req: Request):
        if req.path in self.once:
            return self.once.pop(req.path), {"header": {"error_type": "DISCONNECTED"}}
        if req.path in self.status:
            return self.status[req.path], {"header": {"error_type": "PERMISSION"}} if self.status[req.path] == 471 \
                else "No data for the specified timeframe & contract."
        return None

    def trade_quote(self, req: Request):
        over = self._override(req)
        if over:
            return over
        assert (req.query["root"], req.query["exp"], req.query["exclusive"]) == ("SPY", str(YMD), "true")
        if req.query.get("page") == "2":
            return 200, {"header": {"format": TQ_FORMAT, "next_page": "null"},
                         "response": [{"contract": contract(612, "P"),
                                       "ticks": [trade(OPEN_MS + 6 * 3_600_000, 3, 2.5, 2.4, 2.6)]}]}
        return 200, {"header": {"format": TQ_FORMAT, "next_page": f"{self.url['url']}/v2/bulk_hist/option/"
                                                                   f"trade_quote?page=2&root=SPY&exp={YMD}&"
                                                                   f"exclusive=true"},
                     "response": [{"contract": contract(610, "C"),
                                   "ticks": [trade(OPEN_MS + 600_000, 5, 1.2, 1.1, 1.3),
                                             trade(OPEN_MS + 7_200_000, 2, 1.5, 1.4, 1.6),
                                             ["garbled"]]},
                                  {"contract": contract(610, "P"),
                                   "ticks": [trade(OPEN_MS + 3_600_000, 7, 0.9, 0.85, 0.95)]}]}

    def quotes(self, req: Request):
        over = self._override(req)
        if over:
            return over
        assert req.query["ivl"] == "60000"
        items = []
        for k in (608, 610, 612):
            for r in "CP":
                ticks = [[OPEN_MS + m * 60_000, 10, 5, 1.0, 50, 12, 5, 1.2, 50, YMD] for m in range(390)]
                ticks[0] = [OPEN_MS, 0, 0, 0.0, 0, 0, 0, 0.0, 0, YMD]  # nothing quoted yet at the open
                items.append({"contract": contract(k, r), "ticks": ticks})
        return 200, {"header": {"format": Q_FORMAT, "next_page": "null"}, "response": items}

    def open_interest(self, req: Request):
        over = self._override(req)
        if over:
            return over
        items = [{"contract": contract(k, r), "ticks": [[23_400_000, 1000 + k + (1 if r == "P" else 0), YMD]]}
                 for k in (608, 610, 612) for r in "CP"]
        return 200, {"header": {"format": ["ms_of_day", "open_interest", "date"], "next_page": "null"},
                     "response": items}

    def stock_quote(self, req: Request):
        over = self._override(req)
        if over:
            return over
        rows = [[OPEN_MS + s * 1000, 100, 1, 609.99, 0, 100, 1, 610.01, 0, YMD] for s in range(0, 23_400, 10)]
        return 200, {"header": {"format": Q_FORMAT, "next_page": "null"}, "response": rows}

    def routes(self):
        return {("GET", "/v2/bulk_hist/option/trade_quote"): self.trade_quote,
                ("GET", "/v2/bulk_hist/option/quote"): self.quotes,
                ("GET", "/v2/bulk_hist/option/open_interest"): self.open_interest,
                ("GET", "/v2/hist/stock/quote"): self.stock_quote}


@pytest.fixture
def vendor(monkeypatch):
    holder: dict = {}
    fake = FakeTerminal(holder)
    with LoopbackServer(fake.routes()) as srv:
        holder["url"] = srv.url
        monkeypatch.setenv("ZDTE__LIVE__THETADATA__PORT", str(srv.port))
        yield fake, srv


def fetch(zdte, out, *extra):
    return zdte("fetch-day", "SPY", "--date", DAY.isoformat(), "--vendor", "thetadata", "--out", str(out), *extra)


def test_a_day_is_downloaded_and_replays(zdte, vendor, tmp_path):
    out = tmp_path / "spy.parquet"
    run = fetch(zdte, out)
    assert run.code == 0, run.err
    rec = Recording.open(out)
    d = rec.definitions["SPY"]
    assert d.n_contracts == 6 and d.strikes.tolist() == [608, 608, 610, 610, 612, 612]
    assert d.settled_oi.tolist() == [1608, 1609, 1610, 1611, 1612, 1613]
    # 4 trades (one on the second page), one garbled row counted; quotes: 4 at trades + 6 x 389 minutes
    assert "4 trades, 2338 quotes, 2340 underlying prints" in run.out
    assert "1 malformed row(s) of Theta Terminal replies skipped" in run.err
    replay = zdte("replay", str(out), "--headless", "--json")
    assert replay.code == 0, replay.err
    snap = replay.json()
    assert snap["symbol"] == "SPY" and snap["levels"]["call_wall"] in (608.0, 610.0, 612.0)


def test_permission_no_data_and_a_stopped_terminal_are_one_line_errors(zdte, vendor, tmp_path, monkeypatch):
    fake, srv = vendor
    fake.status["/v2/bulk_hist/option/trade_quote"] = 471
    run = fetch(zdte, tmp_path / "a.parquet")
    assert run.code == 2 and "your ThetaData subscription does not include it (471 PERMISSION)" in run.err
    fake.status["/v2/bulk_hist/option/trade_quote"] = 472
    run = zdte("fetch-day", "SPY", "--date", DAY.isoformat(), "--vendor", "thetadata", "--out",
               str(tmp_path / "b.parquet"))
    assert run.code == 2 and "no SPY trades expiring 2025-02-20 (472 NO_DATA" in run.err
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    monkeypatch.setenv("ZDTE__LIVE__THETADATA__PORT", str(free))
    run = zdte("fetch-day", "SPY", "--date", DAY.isoformat(), "--vendor", "thetadata", "--out",
               str(tmp_path / "c.parquet"))
    assert run.code == 2 and "cannot reach the Theta Terminal at http://127.0.0.1:" in run.err
    assert "is it running and logged in?" in run.err


def test_a_stock_subscription_missing_gives_spot_from_parity(zdte, vendor, tmp_path):
    fake, srv = vendor
    fake.status["/v2/hist/stock/quote"] = 471
    out = tmp_path / "a.parquet"
    run = fetch(zdte, out)
    assert run.code == 0, run.err
    assert any("put-call parity" in n for n in Recording.open(out).metadata.notes)


def test_a_disconnect_midway_resumes_with_the_endpoints_not_yet_fetched(zdte, vendor, tmp_path):
    fake, srv = vendor
    out = tmp_path / "spy.parquet"
    fake.once["/v2/bulk_hist/option/open_interest"] = 474
    run = fetch(zdte, out)
    assert run.code == 2 and "474 DISCONNECTED" in run.err and "2 finished part(s) kept" in run.err
    before = len(srv.requests)
    run = fetch(zdte, out)
    assert run.code == 0, run.err
    assert [r.path for r in srv.requests[before:]] == ["/v2/bulk_hist/option/open_interest", "/v2/hist/stock/quote"]
