"""``zdte fetch-day --vendor thetadata``: one session from ThetaData's history endpoints, through
the locally running Theta Terminal (it holds the login: no key passes through zdte).

Wire format (Theta Terminal REST v2, "legacy JSON"; http-docs.thetadata.us/operations/...):

- ``GET /v2/bulk_hist/option/trade_quote?root=&exp=YYYYMMDD&start_date=&end_date=&exclusive=true``
  (``get-bulk_hist-option-trade_quote``): every OPRA trade of every contract of the expiry
  paired with the last NBBO quote before it; reply ``{"header": {"format": [column names],
  "next_page": "null" | url}, "response": [{"contract": {"root", "expiration", "strike" (1/10
  cent), "right"}, "ticks": [[...], ...]}]}``; columns used by name: ``ms_of_day`` (ms after
  midnight ET), ``size``, ``exchange``, ``price``, ``ms_of_day2`` (the quote's time), ``bid``,
  ``ask``, ``bid_size``, ``ask_size``, ``date``;
- ``GET /v2/bulk_hist/option/quote?...&ivl=60000`` (``get-bulk_hist-option-quote``): the NBBO in
  force at each minute;
- ``GET /v2/bulk_hist/option/open_interest?...`` : ``ms_of_day``, ``open_interest``, ``date`` (the
  prior session's settled OI, reported ~06:30 ET);
- the underlying: ``GET /v2/hist/stock/quote?root=&start_date=&end_date=&ivl=1000`` (the NBBO mid
  each second) or, for an index, ``GET /v2/hist/index/price?...&ivl=1000`` (``price``);
- status codes (docs.thetadata.us/Articles/Errors-Exchanges-Conditions/Error-Codes.html): 471
  PERMISSION (the subscription does not cover it), 472 NO_DATA, 473 INVALID_PARAMS, 474
  DISCONNECTED (the terminal lost its data server), 429 OS_LIMIT.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np

from zdte_tui.market.occ import OptionSymbol, format_occ
from zdte_tui.market.roots import is_index, same_day_root
from zdte_tui.sources.fetch.common import (
    Confirm,
    DayArrays,
    FetchError,
    FetchSummary,
    PartDir,
    Progress,
    VendorHttp,
    load_arrays,
    save_arrays,
    session_window_ns,
    write_day,
)
from zdte_tui.sources.thetadata.config import ThetaDataConfig
from zdte_tui.sources.thetadata.parsing import et_ms_to_ns, yyyymmdd

PERMISSION, NO_DATA, INVALID_PARAMS, DISCONNECTED = 471, 472, 473, 474
MAX_PAGES = 10_000


def _detail(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("header"), dict):
        return body["header"].get("error_message") or body["header"].get("error_type")
    return body if isinstance(body, str) else None


def _table(payload: Any, what: str) -> tuple[list[str], list[tuple[dict, list]]]:
    """(column names, [(contract, ticks)]) of a bulk reply, or of a single-security reply
    (``response`` a list of rows: one item with an empty contract)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("header"), dict):
        raise FetchError(f"thetadata: {what}: the reply has no header", "vendor")
    fmt = payload["header"].get("format")
    if not isinstance(fmt, list):
        raise FetchError(f"thetadata: {what}: header.format is not a list", "vendor")
    rows = payload.get("response") or []
    if rows and isinstance(rows[0], dict):
        return [str(c) for c in fmt], [(r.get("contract") or {}, r.get("ticks") or []) for r in rows
                                       if isinstance(r, dict)]
    return [str(c) for c in fmt], [({}, rows)]


class ThetaDataFetch:
    """One session of ``symbol`` from a running Theta Terminal (see the module docstring)."""

    vendor = "thetadata"

    def __init__(self, symbol: str, day: dt.date, *, config: ThetaDataConfig,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.symbol = symbol.strip().upper()
        self.day = day
        self.config = config
        self.root = same_day_root(self.symbol)
        self._host = urlsplit(self.config.rest_url).netloc
        self.http = VendorHttp(
            "thetadata", self.config.rest_url, key_hint="the Theta Terminal login", detail=_detail,
            transport=transport, timeout_s=max(self.config.rest_timeout_s, 120.0),
            extra_codes={PERMISSION: ("entitlement", "your ThetaData subscription does not include it (471 "
                                                     "PERMISSION)"),
                         INVALID_PARAMS: ("request", "the terminal refused the parameters (473 INVALID_PARAMS); "
                                                     "update the Theta Terminal"),
                         DISCONNECTED: ("network", "the Theta Terminal lost its connection to ThetaData (474 "
                                                   "DISCONNECTED); rerun the same command to resume")})
        self.malformed = 0

    def identity(self) -> dict[str, Any]:
        return {"vendor": self.vendor, "symbol": self.symbol, "date": self.day.isoformat(), "quotes": "trade+1m"}

    # ---- wire ----------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any] | None, what: str) -> list[Any] | None:
        """Every page of ``path`` (``next_page``), ``None`` when the terminal says 472 NO_DATA."""
        pages: list[Any] = []
        url: str | None = path
        seen: set[str] = set()
        while url and url not in seen and len(seen) < MAX_PAGES:
            seen.add(url)
            try:
                status, payload = self.http.status_and_json("GET", url, what, ok=(200, NO_DATA), params=params)
            except FetchError as exc:
                if exc.kind == "network" and "cannot reach" in str(exc):
                    raise FetchError(f"thetadata: cannot reach the Theta Terminal at {self.config.rest_url}: is it "
                                     f"running and logged in? ([live.thetadata] host/port)", "network") from None
                raise
            if status == NO_DATA:
                return pages or None
            pages.append(payload)
            params = None  # next_page carries the query
            nxt = payload.get("header", {}).get("next_page") if isinstance(payload, dict) else None
            url = nxt if isinstance(nxt, str) and nxt not in ("", "null") and urlsplit(nxt).netloc in (
                "", self._host) else None
        return pages

    def _rows(self, pages: list[Any], what: str, need: tuple[str, ...]) -> list[tuple[dict, np.ndarray, dict]]:
        """Per contract: its ``ticks`` as a float array (malformed rows counted and dropped) and
        the column index of every name in ``need``."""
        out = []
        for payload in pages:
            cols, items = _table(payload, what)
            missing = [n for n in need if n not in cols]
            if missing:
                raise FetchError(f"thetadata: {what}: the reply has no {', '.join(missing)} column", "vendor")
            index = {n: cols.index(n) for n in cols}
            for contract, ticks in items:
                try:  # the common case: every row well-formed, one vectorized conversion
                    table = np.asarray(ticks, dtype=np.float64)
                    if table.ndim == 2 and table.shape[1] == len(cols) or (table.size == 0 and not len(ticks)):
                        out.append((contract, table.reshape(len(ticks), len(cols)), index))
                        continue
                except (TypeError, ValueError):
                    pass
                good = []
                for row in ticks:
                    try:
                        values = [float(v) for v in row]
                        if len(values) != len(cols):
                            raise ValueError
                    except (TypeError, ValueError):
                        self.malformed += 1
                        continue
                    good.append(values)
                out.append((contract, np.asarray(good, np.float64).reshape(len(good), len(cols)), index))
        return out

    def _ts(self, dates: np.ndarray, ms: np.ndarray) -> np.ndarray:
        """UTC ns of ``ms`` milliseconds after midnight ET of each ``date`` (YYYYMMDD)."""
        if not len(ms):
            return np.empty(0, np.int64)
        days, inverse = np.unique(dates.astype(np.int64), return_inverse=True)
        midnight = np.array([et_ms_to_ns(int(d), 0) for d in days], np.int64)
        return midnight[inverse] + ms.astype(np.int64) * 1_000_000

    def _params(self, **extra: Any) -> dict[str, Any]:
        d = yyyymmdd(self.day)
        return {"root": self.root, "exp": d, "start_date": d, "end_date": d, **extra}

    # ---- parts ---------------------------------------------------------------

    def _contract_key(self, c: dict) -> tuple[int, str]:
        right = str(c["right"])
        if right not in ("C", "P"):
            raise ValueError(f"right {right!r}")
        return int(c["strike"]), right

    def _trade_quote(self) -> dict[str, np.ndarray]:
        pages = self._get("/v2/bulk_hist/option/trade_quote", self._params(exclusive="true"),
                          f"trades of {self.root} {self.day}")
        if not pages:
            raise FetchError(f"thetadata: no {self.root} trades expiring {self.day} (472 NO_DATA: unknown root, or "
                             f"no 0DTE that day)", "not_found")
        cols: dict[str, list] = {k: [] for k in ("strike", "call", "ts", "q_ts", "price", "size", "exchange", "bid",
                                                 "ask", "bid_size", "ask_size")}
        for contract, a, ix in self._rows(pages, "trade_quote", ("ms_of_day", "size", "price", "bid", "ask", "date")):
            try:
                strike, right = self._contract_key(contract)
            except (KeyError, TypeError, ValueError):
                self.malformed += len(a)
                continue
            ok = (a[:, ix["price"]] > 0) & (a[:, ix["size"]] > 0) if len(a) else np.zeros(0, bool)
            self.malformed += int((~ok).sum())
            a = a[ok]
            ts = self._ts(a[:, ix["date"]], a[:, ix["ms_of_day"]])
            q_ms = a[:, ix["ms_of_day2"]] if "ms_of_day2" in ix else a[:, ix["ms_of_day"]]
            cols["strike"].append(np.full(len(a), strike))
            cols["call"].append(np.full(len(a), right == "C"))
            cols["ts"].append(ts)
            cols["q_ts"].append(np.minimum(self._ts(a[:, ix["date"]], q_ms), ts - 1))
            for name in ("price", "size", "bid", "ask"):
                cols[name].append(a[:, ix[name]])
            for name in ("exchange", "bid_size", "ask_size"):
                cols[name].append(a[:, ix[name]] if name in ix else np.zeros(len(a)))
        return {k: np.concatenate(v) if v else np.empty(0) for k, v in cols.items()}

    def _minute_quotes(self) -> dict[str, np.ndarray]:
        pages = self._get("/v2/bulk_hist/option/quote", self._params(ivl=60000), f"quotes of {self.root} {self.day}")
        cols: dict[str, list] = {k: [] for k in ("strike", "call", "ts", "bid", "ask", "bid_size", "ask_size")}
        for contract, a, ix in self._rows(pages or [], "quote", ("ms_of_day", "bid", "ask", "date")):
            try:
                strike, right = self._contract_key(contract)
            except (KeyError, TypeError, ValueError):
                self.malformed += len(a)
                continue
            ok = (a[:, ix["bid"]] >= 0) & (a[:, ix["ask"]] > 0) if len(a) else np.zeros(0, bool)
            a = a[ok]  # a minute before the contract's first quote reads 0/0: nothing in force, not malformed
            cols["strike"].append(np.full(len(a), strike))
            cols["call"].append(np.full(len(a), right == "C"))
            cols["ts"].append(self._ts(a[:, ix["date"]], a[:, ix["ms_of_day"]]))
            for name in ("bid", "ask", "bid_size", "ask_size"):
                cols[name].append(a[:, ix[name]] if name in ix else np.zeros(len(a)))
        return {k: np.concatenate(v) if v else np.empty(0) for k, v in cols.items()}

    def _open_interest(self) -> dict[str, np.ndarray]:
        pages = self._get("/v2/bulk_hist/option/open_interest", self._params(), f"open interest of {self.root}")
        strikes, calls, ois = [], [], []
        for contract, a, ix in self._rows(pages or [], "open_interest", ("open_interest",)):
            try:
                strike, right = self._contract_key(contract)
            except (KeyError, TypeError, ValueError):
                self.malformed += 1
                continue
            if not len(a) or a[-1, ix["open_interest"]] < 0:
                continue
            strikes.append(strike)
            calls.append(right == "C")
            ois.append(int(a[-1, ix["open_interest"]]))
        return {"strike": np.array(strikes, np.int64), "call": np.array(calls, bool), "oi": np.array(ois, np.int64)}

    def _underlying(self) -> dict[str, np.ndarray]:
        d = yyyymmdd(self.day)
        if is_index(self.symbol):
            path, what = "/v2/hist/index/price", f"index prices of {self.symbol}"
        else:
            path, what = "/v2/hist/stock/quote", f"stock quotes of {self.symbol}"
        pages = self._get(path, {"root": self.symbol, "start_date": d, "end_date": d, "ivl": 1000}, what)
        ts_parts, px_parts = [], []
        for _c, a, ix in self._rows(pages or [], what, ("ms_of_day", "date")):
            if "price" in ix:
                px = a[:, ix["price"]]
            elif "bid" in ix and "ask" in ix:
                px = np.where((a[:, ix["bid"]] > 0) & (a[:, ix["ask"]] >= a[:, ix["bid"]]),
                              (a[:, ix["bid"]] + a[:, ix["ask"]]) / 2, np.nan)
            else:
                raise FetchError(f"thetadata: {what}: the reply has no price or bid/ask columns", "vendor")
            keep = np.isfinite(px) & (px > 0)
            ts_parts.append(self._ts(a[keep, ix["date"]], a[keep, ix["ms_of_day"]]))
            px_parts.append(px[keep])
        return {"ts": np.concatenate(ts_parts) if ts_parts else np.empty(0, np.int64),
                "price": np.concatenate(px_parts) if px_parts else np.empty(0)}

    # ---- the run -------------------------------------------------------------

    def run(self, out: Path, parts: PartDir, progress: Progress, confirm: Confirm) -> FetchSummary:
        open_ns, close_ns = session_window_ns(self.day)
        notes: list[str] = []
        steps = [("trade_quote.npz", "trades with the NBBO in force", self._trade_quote),
                 ("quotes.npz", "NBBO each minute", self._minute_quotes),
                 ("open_interest.npz", "settled open interest", self._open_interest),
                 ("underlying.npz", f"{self.symbol} each second", self._underlying)]
        progress.start(len(steps), f"{self.symbol} {self.day}")
        try:
            for name, label, fetch in steps:
                if parts.done(name):
                    progress.advance(label, skipped=True)
                    continue
                try:
                    arrays = fetch()
                except FetchError as exc:
                    if name == "trade_quote.npz" or exc.kind != "entitlement":
                        raise
                    notes.append(f"{label}: {exc}")
                    arrays = {}
                save_arrays(parts, name, **arrays)
                progress.advance(label)
        finally:
            self.http.close()
        return write_day(out, self.vendor, self._assemble(parts, notes, open_ns, close_ns),
                         extra={"vendor": self.vendor, "terminal": self.config.rest_url})

    def _assemble(self, parts: PartDir, notes: list[str], open_ns: int, close_ns: int) -> DayArrays:
        from zdte_tui.market.events import OptionQuotes, OptionTrades, SpotTicks
        from zdte_tui.sources.dbn_import import parity_spot

        tq, mq = load_arrays(parts, "trade_quote.npz"), load_arrays(parts, "quotes.npz")
        oi, u = load_arrays(parts, "open_interest.npz"), load_arrays(parts, "underlying.npz")

        def codes(arrays: dict[str, np.ndarray]) -> np.ndarray:
            """One int per row: strike (1/10 cent) x 2 + (1 for a put), so calls sort first."""
            if "strike" not in arrays:
                return np.empty(0, np.int64)
            return arrays["strike"].astype(np.int64) * 2 + (~arrays["call"].astype(bool)).astype(np.int64)

        universe = np.unique(np.concatenate([codes(tq), codes(mq), codes(oi)]))
        contracts = [(int(c) // 2, not bool(c % 2)) for c in universe]

        def idx(arrays: dict[str, np.ndarray]) -> np.ndarray:
            return np.searchsorted(universe, codes(arrays)).astype(np.int32)

        t_idx, m_idx = idx(tq), idx(mq)
        in_session = (tq.get("ts", np.empty(0)) > open_ns) & (tq.get("ts", np.empty(0)) <= close_ns)
        trades = OptionTrades(ts_ns=tq["ts"][in_session].astype(np.int64) if len(t_idx) else np.empty(0, np.int64),
                              contract=t_idx[in_session], price=tq["price"][in_session] if len(t_idx) else np.empty(0),
                              size=tq["size"][in_session].astype(np.int32) if len(t_idx) else np.empty(0, np.int32),
                              exchange=tq["exchange"][in_session].astype(np.int16) if len(t_idx)
                              else np.empty(0, np.int16))
        q_ts = np.concatenate([tq["q_ts"][in_session] if len(t_idx) else np.empty(0), mq.get("ts", np.empty(0))])

        def both(name: str) -> np.ndarray:
            return np.concatenate([tq[name][in_session] if len(t_idx) else np.empty(0), mq.get(name, np.empty(0))])

        quotes = OptionQuotes(ts_ns=q_ts.astype(np.int64), contract=np.concatenate([t_idx[in_session], m_idx]),
                              bid=both("bid"), ask=both("ask"), bid_size=both("bid_size").astype(np.int32),
                              ask_size=both("ask_size").astype(np.int32))
        strikes = np.array([k[0] / 1000 for k in contracts], np.float64)
        is_call = np.array([k[1] for k in contracts], bool)
        settled = np.zeros(len(contracts), np.int64)
        if "strike" in oi and len(oi["strike"]):
            settled[idx(oi)] = oi["oi"]
            notes.append(f"settled OI from ThetaData's open_interest history for {len(oi['strike'])} contract(s)")
        else:
            notes.append("no open interest from ThetaData: settled OI is 0")
        if "ts" in u and len(u["ts"]):
            spot = SpotTicks(ts_ns=u["ts"].astype(np.int64), price=u["price"].astype(np.float64))
            notes.append("spot: the underlying each second (stock NBBO mid, or the index price)")
        else:
            order = np.argsort(quotes.ts_ns, kind="stable")
            ts, px = parity_spot(quotes.ts_ns[order], quotes.contract[order], quotes.bid[order], quotes.ask[order],
                                 strikes, is_call, close_ns)
            spot = SpotTicks(ts_ns=ts, price=px)
            notes.append("spot derived from put-call parity on the quotes (no underlying history)")
        notes.append("quotes: the NBBO before each trade (trade_quote, exclusive) and the NBBO each minute")
        if self.malformed:
            notes.append(f"{self.malformed} malformed row(s) of Theta Terminal replies skipped")
        occ = [format_occ(OptionSymbol(self.root, self.day, "C" if c else "P", k / 1000)) for k, c in contracts]
        return DayArrays(symbol=self.symbol, session_date=self.day, expiry=self.day, occ=occ, strikes=strikes,
                         is_call=is_call, settled_oi=settled, trades=trades, quotes=quotes, spot=spot, notes=notes)
