"""``zdte fetch-day --vendor massive``: one session from Massive's (formerly Polygon.io) REST API.

Wire format (the official client github.com/massive-com/client-python, formerly
polygon-io/client-python: ``rest/base.py`` sends ``Authorization: Bearer KEY`` and follows
``next_url``; its test fixtures ``test_rest/mocks/v3/reference/options/contracts.json`` and
``v3/quotes/AAPL.json`` give the reply layouts; the docs massive.com/docs/rest/options/...):

- ``GET /v3/reference/options/contracts?underlying_ticker=&expiration_date=&as_of=&expired=&limit=1000``
  -> ``results[]`` with ``ticker`` (``O:SPY250220C00610000``), ``strike_price``, ``contract_type``;
- ``GET /v3/trades/{optionsTicker}?timestamp.gte=&timestamp.lt=&order=asc&sort=timestamp&limit=50000``
  -> ``results[]`` with ``sip_timestamp`` (ns), ``price``, ``size``, ``exchange``;
- ``GET /v3/quotes/{optionsTicker}`` (same parameters) -> ``results[]`` with ``sip_timestamp``,
  ``bid_price``, ``ask_price``, ``bid_size``, ``ask_size`` (the OPRA NBBO);
- ``GET /v2/aggs/ticker/{SPY | I:SPX}/range/1/second/{date}/{date}?adjusted=true&sort=asc&limit=50000``
  -> ``results[]`` with ``t`` (bar start, ms) and ``c`` (close): the underlying, one price per second
  stamped at the bar's end;
- refusals: ``{"status": "ERROR", "error": ...}`` (401) / ``{"status": "NOT_AUTHORIZED", "message":
  ...}`` (403); ``next_url`` pages are followed on the configured host only.

Quotes: Massive serves every NBBO change, millions a day for an at-the-money 0DTE contract.
Each contract's quotes are reduced as they arrive to the quote in force at each of its trades
(the last at or before the trade) and the last quote of each minute, the same information as
Databento's tcbbo + cbbo-1m. Settled open interest: Massive has it only in today's chain
snapshot (``/v3/snapshot/options``), so a past day has OI 0 (noted; OI-based levels are then
empty) and today's download reads it from the snapshot.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np

from zdte_tui.market.calendar import ET
from zdte_tui.market.events import NS_PER_SECOND, OptionQuotes, OptionTrades, SpotTicks
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
from zdte_tui.sources.live.records import same_day_contract
from zdte_tui.sources.massive.config import MassiveConfig

PAGE_LIMIT = 50_000  # documented maximum of /v3/trades and /v3/quotes
CONTRACTS_LIMIT = 1000
MAX_PAGES = 10_000
NS_PER_MINUTE = 60 * NS_PER_SECOND


def _detail(body: Any) -> str | None:
    if isinstance(body, dict):
        return body.get("error") or body.get("message") or body.get("status")
    return None


def reduce_quotes(q_ts: np.ndarray, trade_ts: np.ndarray) -> np.ndarray:
    """Indices of the quotes to keep: the one in force at each trade (the last with
    ``ts <= trade``) and the last of each minute. ``q_ts`` ascending."""
    if not len(q_ts):
        return np.empty(0, np.int64)
    at_trade = np.searchsorted(q_ts, trade_ts, side="right") - 1
    minute = q_ts // NS_PER_MINUTE
    last_of_minute = np.flatnonzero(np.r_[minute[1:] != minute[:-1], True])
    return np.union1d(at_trade[at_trade >= 0], last_of_minute).astype(np.int64)


class MassiveFetch:
    """One session of ``symbol`` from Massive (see the module docstring)."""

    vendor = "massive"

    def __init__(self, symbol: str, day: dt.date, *, config: MassiveConfig, api_key: str | None = None,
                 transport: httpx.BaseTransport | None = None, today: dt.date | None = None, jobs: int = 4) -> None:
        self.symbol = symbol.strip().upper()
        self.day = day
        self.config = config
        key = (api_key or os.environ.get(self.config.api_key_env, "")).strip()
        if not key:
            raise FetchError(f"massive: no API key: set the environment variable ${self.config.api_key_env} "
                             f"(name configurable as [live.massive] api_key_env)", "missing_key")
        self.root = same_day_root(self.symbol)
        self.today = today or dt.datetime.now(tz=ET).date()
        self._host = urlsplit(self.config.rest_url).netloc
        self.http = VendorHttp("massive", self.config.rest_url, key_hint=f"${self.config.api_key_env}",
                               detail=_detail, headers={"Authorization": f"Bearer {key}"}, transport=transport,
                               timeout_s=max(self.config.rest_timeout_s, 60.0))
        self.malformed = 0
        self.jobs = max(1, int(jobs))
        self._lock = threading.Lock()

    def identity(self) -> dict[str, Any]:
        return {"vendor": self.vendor, "symbol": self.symbol, "date": self.day.isoformat(),
                "quotes": "at-trades+last-per-minute"}

    # ---- wire ----------------------------------------------------------------

    def _pages(self, path: str, params: dict[str, Any] | None, what: str) -> list[dict]:
        """Every ``results`` row of ``path`` and its ``next_url`` pages (on the configured host)."""
        rows: list[dict] = []
        url: str | None = path
        seen: set[str] = set()
        while url and len(seen) < MAX_PAGES and url not in seen:
            seen.add(url)
            payload = self.http.json("GET", url, what, params=params)
            params = None  # next_url carries the cursor and the filters
            if not isinstance(payload, dict) or not isinstance(payload.get("results", []), list):
                raise FetchError(f"massive: {what}: the reply has no results list", "vendor")
            rows.extend(r for r in payload.get("results") or [] if isinstance(r, dict))
            nxt = payload.get("next_url")
            url = nxt if isinstance(nxt, str) and nxt and urlsplit(nxt).netloc in ("", self._host) else None
        return rows

    def _columns(self, rows: list[dict], fields: dict[str, Callable[[Any], Any]]) -> dict[str, list]:
        """Rows with every field well-formed, as columns; the others are counted as malformed."""
        out: dict[str, list] = {name: [] for name in fields}
        for r in rows:
            try:
                values = {name: conv(r[key]) for (name, conv), key in zip(fields.items(), _keys(fields))}
            except (KeyError, TypeError, ValueError):
                with self._lock:
                    self.malformed += 1
                continue
            for name, v in values.items():
                out[name].append(v)
        return out

    def contracts(self) -> list:
        expired = "true" if self.day < self.today else "false"
        rows = self._pages("/v3/reference/options/contracts",
                           {"underlying_ticker": self.symbol, "expiration_date": self.day.isoformat(),
                            "as_of": self.day.isoformat(), "expired": expired, "limit": CONTRACTS_LIMIT},
                           f"options contracts of {self.symbol}")
        specs = []
        for r in rows:
            try:
                spec = same_day_contract(r["ticker"], None, self.day, self.root, "massive")
            except (KeyError, TypeError, ValueError, AttributeError):
                self.malformed += 1
                continue
            if spec is not None:
                specs.append(spec)
        return sorted({s.key: s for s in specs}.values(), key=lambda s: (s.strike, not s.is_call))

    def _ticks(self, kind: str, ticker: str, open_ns: int, close_ns: int) -> dict[str, np.ndarray]:
        params = {"timestamp.gte": open_ns, "timestamp.lt": close_ns, "order": "asc", "sort": "timestamp",
                  "limit": PAGE_LIMIT}
        rows = self._pages(f"/v3/{kind}/{ticker}", params, f"{kind} of {ticker}")
        if kind == "trades":
            cols = self._columns(rows, {"ts": int, "price": float, "size": int, "exchange": int})
        else:
            cols = self._columns(rows, {"ts": int, "bid": float, "ask": float, "bid_size": int, "ask_size": int})
        arrays = {k: np.asarray(v) for k, v in cols.items()}
        order = np.argsort(arrays["ts"], kind="stable")
        return {k: v[order] for k, v in arrays.items()}

    def _spot(self, open_ns: int, close_ns: int) -> dict[str, np.ndarray]:
        ticker = f"I:{self.symbol}" if is_index(self.symbol) else self.symbol
        d = self.day.isoformat()
        rows = self._pages(f"/v2/aggs/ticker/{ticker}/range/1/second/{d}/{d}",
                           {"adjusted": "true", "sort": "asc", "limit": PAGE_LIMIT}, f"second bars of {ticker}")
        cols = self._columns(rows, {"t": int, "c": float})
        ts = np.asarray(cols["t"], np.int64) * 1_000_000 + NS_PER_SECOND  # the bar's end
        px = np.asarray(cols["c"], np.float64)
        keep = (ts > open_ns) & (ts <= close_ns) & np.isfinite(px) & (px > 0)
        return {"ts": ts[keep], "price": px[keep]}

    def _open_interest(self) -> dict[str, int]:
        from zdte_tui.sources.massive.parsing import parse_chain_page

        asset = f"I:{self.symbol}" if is_index(self.symbol) else self.symbol
        url: str | None = f"/v3/snapshot/options/{asset}"
        params: dict | None = {"expiration_date": self.day.isoformat(), "limit": self.config.page_limit}
        oi: dict[str, int] = {}
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            payload = self.http.json("GET", url, f"the option chain snapshot of {asset}", params=params)
            params = None
            specs, _spot, nxt, bad = parse_chain_page(payload, self.day, self.root)
            self.malformed += bad
            oi.update({s.occ: s.settled_oi for s in specs})
            url = nxt if nxt and urlsplit(nxt).netloc in ("", self._host) else None
        return oi

    # ---- the run -------------------------------------------------------------

    def _one_contract(self, ticker: str, parts: PartDir, progress: Progress, open_ns: int, close_ns: int) -> None:
        """Trades then quotes of one contract (the quotes are reduced against its trades)."""
        tname, qname = f"trades-{ticker[2:]}.npz", f"quotes-{ticker[2:]}.npz"
        if parts.done(tname):
            progress.advance(f"trades {ticker}", skipped=True)
        else:
            save_arrays(parts, tname, **self._ticks("trades", ticker, open_ns, close_ns))
            progress.advance(f"trades {ticker}")
        if parts.done(qname):
            progress.advance(f"quotes {ticker}", skipped=True)
            return
        q = self._ticks("quotes", ticker, open_ns, close_ns)
        keep = reduce_quotes(q["ts"], load_arrays(parts, tname)["ts"])
        save_arrays(parts, qname, **{k: v[keep] for k, v in q.items()})
        progress.advance(f"quotes {ticker}")

    def _contracts_in_parallel(self, specs: list, parts: PartDir, progress: Progress, open_ns: int,
                               close_ns: int) -> None:
        """``jobs`` contracts at a time; the first failure stops the ones not started (those
        running finish and keep their parts) and is raised."""
        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="massive") as pool:
            futures = [pool.submit(self._one_contract, s.key, parts, progress, open_ns, close_ns) for s in specs]
            try:
                for fut in as_completed(futures):
                    fut.result()
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise

    def run(self, out: Path, parts: PartDir, progress: Progress, confirm: Confirm) -> FetchSummary:
        open_ns, close_ns = session_window_ns(self.day)
        notes: list[str] = []
        try:
            specs = self.contracts()
            if not specs:
                raise FetchError(f"massive: no {self.root} options expiring {self.day} for {self.symbol} "
                                 f"(unknown symbol, or no 0DTE that day)", "not_found")
            progress.note(f"massive: {len(specs)} {self.root} contracts expiring {self.day}; trades and quotes "
                          f"of each (the plan's flat rate: no per-download cost)")
            progress.start(2 * len(specs) + 1, f"{self.symbol} {self.day}")
            if parts.done("underlying.npz"):
                progress.advance("underlying", skipped=True)
            else:
                try:
                    save_arrays(parts, "underlying.npz", **self._spot(open_ns, close_ns))
                except FetchError as exc:
                    if exc.kind != "entitlement":
                        raise
                    save_arrays(parts, "underlying.npz", ts=np.empty(0, np.int64), price=np.empty(0))
                    notes.append(f"underlying: {exc}; spot from put-call parity")
                progress.advance("underlying")
            self._contracts_in_parallel(specs, parts, progress, open_ns, close_ns)
            oi: dict[str, int] = {}
            if self.day >= self.today:
                oi = self._open_interest()
                notes.append("settled OI from Massive's option chain snapshot")
            else:
                notes.append("settled OI unavailable: Massive serves open interest only in today's chain snapshot; "
                             "OI is 0 (OI-based levels are empty, flow is not)")
        finally:
            self.http.close()
        return write_day(out, self.vendor, self._assemble(specs, parts, oi, notes, close_ns),
                         extra={"vendor": self.vendor, "rest_url": self.config.rest_url})

    def _assemble(self, specs: list, parts: PartDir, oi: dict[str, int], notes: list[str],
                  close_ns: int) -> DayArrays:
        from zdte_tui.sources.dbn_import import parity_spot

        t_parts, q_parts = [], []
        for i, s in enumerate(specs):
            t = load_arrays(parts, f"trades-{s.key[2:]}.npz")
            q = load_arrays(parts, f"quotes-{s.key[2:]}.npz")
            t_parts.append((np.full(len(t["ts"]), i, np.int32), t))
            q_parts.append((np.full(len(q["ts"]), i, np.int32), q))

        def cat(chunks: list, key: str, dtype: Any) -> np.ndarray:
            arrays = [c[1][key] if key != "contract" else c[0] for c in chunks]
            return np.concatenate(arrays).astype(dtype) if arrays else np.empty(0, dtype)

        trades = OptionTrades(ts_ns=cat(t_parts, "ts", np.int64), contract=cat(t_parts, "contract", np.int32),
                              price=cat(t_parts, "price", np.float64), size=cat(t_parts, "size", np.int32),
                              exchange=cat(t_parts, "exchange", np.int16))
        quotes = OptionQuotes(ts_ns=cat(q_parts, "ts", np.int64), contract=cat(q_parts, "contract", np.int32),
                              bid=cat(q_parts, "bid", np.float64), ask=cat(q_parts, "ask", np.float64),
                              bid_size=cat(q_parts, "bid_size", np.int32), ask_size=cat(q_parts, "ask_size", np.int32))
        strikes = np.array([s.strike for s in specs], np.float64)
        is_call = np.array([s.is_call for s in specs], bool)
        u = load_arrays(parts, "underlying.npz")
        spot = SpotTicks(ts_ns=u["ts"].astype(np.int64), price=u["price"].astype(np.float64))
        if not len(spot):
            order = np.argsort(quotes.ts_ns, kind="stable")
            ts, px = parity_spot(quotes.ts_ns[order], quotes.contract[order], quotes.bid[order], quotes.ask[order],
                                 strikes, is_call, close_ns)
            spot = SpotTicks(ts_ns=ts, price=px)
            notes.append("spot derived from put-call parity on the quotes (no underlying bars)")
        else:
            notes.append("spot: the underlying's 1-second bars (close), stamped at each bar's end")
        notes.append("quotes: the OPRA NBBO in force at each trade and the last of each minute")
        if self.malformed:
            notes.append(f"{self.malformed} malformed row(s) of Massive replies skipped")
        return DayArrays(symbol=self.symbol, session_date=self.day, expiry=self.day, occ=[s.occ for s in specs],
                         strikes=strikes, is_call=is_call,
                         settled_oi=np.array([oi.get(s.occ, 0) for s in specs], np.int64),
                         trades=trades, quotes=quotes, spot=spot, notes=notes)


_WIRE_KEYS = {"ts": "sip_timestamp", "price": "price", "size": "size", "exchange": "exchange", "bid": "bid_price",
              "ask": "ask_price", "bid_size": "bid_size", "ask_size": "ask_size", "t": "t", "c": "c"}


def _keys(fields: dict[str, Any]) -> list[str]:
    return [_WIRE_KEYS[name] for name in fields]


__all__ = ["MassiveFetch", "reduce_quotes"]
