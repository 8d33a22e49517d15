"""``zdte fetch-day --vendor databento``: one session of OPRA data from Databento's historical
HTTP API, converted by the DBN importer (:func:`zdte_tui.sources.dbn_import.import_dbn`).

Wire format (as Databento's official client speaks it: github.com/databento/databento-python
``databento/historical/api/timeseries.py``, ``api/metadata.py``, ``common/http.py``):

- base ``https://hist.databento.com/v0``; HTTP Basic auth, the API key as the user name and an
  empty password;
- ``POST /v0/timeseries.get_range`` with a form body ``dataset, symbols (comma-separated, at most
  2,000), schema, start, end (ns since the epoch, end exclusive), stype_in, stype_out,
  encoding=dbn, compression=zstd`` answers a zstd-compressed DBN stream;
- ``POST /v0/metadata.get_cost`` with the same fields plus ``mode=historical-streaming``
  answers the cost in US dollars as a bare JSON number;
- a refusal is an HTTP 4xx/5xx with a JSON body whose ``detail`` is the message.

Steps (each paid one estimated with ``metadata.get_cost`` and confirmed first):

1. the definitions of every contract of the parent symbol (``SPY.OPT``, ``SPXW.OPT``: the
   same-day root, ``stype_in=parent``) for the session;
2. from them, the raw symbols of the contracts expiring that day;
3. for those: ``statistics`` (settled open interest), ``tcbbo`` (every trade with the NBBO in
   force, cut into ``chunk_minutes`` parts), the configured consolidated quotes (``cbbo-1m`` by
   default) and the underlying's ``bbo-1s`` from ``EQUS.MINI`` (stocks and ETFs; indices get
   spot from put-call parity in the importer);
4. the importer reads all parts into one recording.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa

from zdte_tui.market.roots import is_index, same_day_root
from zdte_tui.sources.fetch.common import (
    Confirm,
    FetchError,
    FetchSummary,
    PartDir,
    Progress,
    VendorHttp,
    session_window_ns,
    time_chunks,
)
from zdte_tui.sources.fetch.config import DatabentoHistConfig

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
NS_PER_DAY = 86_400 * 1_000_000_000


def _detail(body: Any) -> str | None:
    return body.get("detail") if isinstance(body, dict) else None


@dataclass(frozen=True)
class _Request:
    part: str  # file name of the part
    label: str
    schema: str
    symbols: tuple[str, ...]
    stype_in: str
    start_ns: int
    end_ns: int
    dataset: str


def _decompress(raw: bytes) -> bytes:
    if raw.startswith(ZSTD_MAGIC):
        with pa.input_stream(pa.BufferReader(raw), compression="zstd") as stream:
            return stream.read()
    return raw


def same_day_raw_symbols(definition_bytes: bytes, day: dt.date) -> tuple[list[str], list[dt.date]]:
    """Raw (OCC) symbols of the call and put definitions expiring on ``day`` (DBN ``expiration``
    is midnight UTC of the expiry date), and every expiry date seen (for the error message)."""
    import databento_dbn

    data = _decompress(definition_bytes)
    if not data.startswith(b"DBN"):
        raise FetchError("databento: the definitions reply is not DBN data", "vendor")
    dec = databento_dbn.DBNDecoder()
    dec.write(data)
    symbols: set[str] = set()
    expiries: set[dt.date] = set()
    for rec in dec.decode()[1:]:
        if not isinstance(rec, databento_dbn.InstrumentDefMsg):
            continue
        cls = str(getattr(rec.instrument_class, "value", rec.instrument_class))
        if cls not in ("C", "P") or rec.expiration >= 2**63:
            continue
        expiry = dt.datetime.fromtimestamp(rec.expiration / 1e9, dt.UTC).date()
        expiries.add(expiry)
        if expiry == day:
            symbols.add(str(rec.raw_symbol))
    return sorted(symbols), sorted(expiries)


class DatabentoFetch:
    """One session of ``symbol`` from Databento (see the module docstring)."""

    vendor = "databento"

    def __init__(self, symbol: str, day: dt.date, *, config: DatabentoHistConfig,
                 api_key: str | None = None, transport: httpx.BaseTransport | None = None) -> None:
        self.symbol = symbol.strip().upper()
        self.day = day
        self.config = config
        key = (api_key or os.environ.get(self.config.api_key_env, "")).strip()
        if not key:
            raise FetchError(f"databento: no API key: set the environment variable ${self.config.api_key_env} "
                             f"(name configurable as [fetch.databento] api_key_env)", "missing_key")
        self.root = same_day_root(self.symbol)
        self.http = VendorHttp("databento", self.config.hist_url.rstrip("/") + "/v0",
                               key_hint=f"${self.config.api_key_env}", detail=_detail, auth=(key, ""),
                               headers={"accept": "application/json"}, transport=transport,
                               timeout_s=self.config.timeout_s)

    def identity(self) -> dict[str, Any]:
        c = self.config
        return {"vendor": self.vendor, "symbol": self.symbol, "date": self.day.isoformat(), "dataset": c.dataset,
                "quotes": c.quotes_schema, "equities": f"{c.equities_dataset}:{c.equities_schema}",
                "chunk_minutes": c.chunk_minutes}

    # ---- wire ----------------------------------------------------------------

    def _form(self, r: _Request) -> dict[str, str]:
        return {"dataset": r.dataset, "symbols": ",".join(r.symbols), "schema": r.schema,
                "start": str(r.start_ns), "end": str(r.end_ns), "stype_in": r.stype_in,
                "stype_out": "instrument_id"}

    def cost(self, r: _Request) -> float:
        form = {**self._form(r), "mode": "historical-streaming"}
        value = self.http.json("POST", "/metadata.get_cost", f"{r.schema} of {r.dataset}", data=form)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FetchError(f"databento: metadata.get_cost answered {str(value)[:60]!r}, not a number", "vendor")
        return float(value)

    def _download(self, parts: PartDir, r: _Request, progress: Progress) -> None:
        form = {**self._form(r), "encoding": "dbn", "compression": "zstd"}
        with parts.writing(r.part) as sink:
            self.http.download("POST", "/timeseries.get_range", f"{r.schema} of {r.dataset}", sink, progress,
                               data=form)

    # ---- the plan ------------------------------------------------------------

    def _window(self) -> tuple[int, int, int]:
        """(start of the UTC day, session open, session close) in ns."""
        open_ns, close_ns = session_window_ns(self.day)
        day_start = int(dt.datetime(self.day.year, self.day.month, self.day.day, tzinfo=dt.UTC).timestamp()) * 10**9
        return day_start, open_ns, close_ns

    def _data_requests(self, raw_symbols: Sequence[str], equities: bool) -> list[_Request]:
        c = self.config
        day_start, open_ns, close_ns = self._window()
        batches = [tuple(raw_symbols[i:i + c.max_symbols]) for i in range(0, len(raw_symbols), c.max_symbols)]
        chunks = time_chunks(open_ns, close_ns, c.chunk_minutes)
        out: list[_Request] = []
        for b, syms in enumerate(batches):
            tag = f"-b{b}" if len(batches) > 1 else ""
            out.append(_Request(f"statistics{tag}.dbn.zst", f"open interest{tag}", "statistics", syms, "raw_symbol",
                                day_start, close_ns, c.dataset))
            schemas = ["tcbbo"] + ([c.quotes_schema] if c.quotes_schema != "none" else [])
            for schema in schemas:
                for s, e in chunks:
                    hhmm = _et_hhmm(s)
                    out.append(_Request(f"{schema}{tag}-{hhmm}.dbn.zst", f"{schema} {hhmm}{tag}", schema, syms,
                                        "raw_symbol", s, e, c.dataset))
        if equities:
            for s, e in chunks:
                hhmm = _et_hhmm(s)
                out.append(_Request(f"underlying-{c.equities_schema}-{hhmm}.dbn.zst",
                                    f"{self.symbol} {c.equities_schema} {hhmm}", c.equities_schema, (self.symbol,),
                                    "raw_symbol", s, e, c.equities_dataset))
        return out

    def run(self, out: Path, parts: PartDir, progress: Progress, confirm: Confirm) -> FetchSummary:
        from zdte_tui.sources.dbn_import import DbnImportError, import_dbn

        c = self.config
        day_start, open_ns, close_ns = self._window()
        notes: list[str] = []
        try:
            defs = _Request("definition.dbn.zst", "definitions", "definition", (f"{self.root}.OPT",), "parent",
                            day_start, close_ns, c.dataset)
            if not parts.done(defs.part):
                cost = self.cost(defs)
                if not confirm(f"Databento: definitions of {self.root}.OPT on {self.day} "
                               f"(every listed contract, to find the same-day ones): estimated ${cost:,.2f}"):
                    raise FetchError("databento: download declined", "declined")
                progress.start(1, "definitions")
                self._download(parts, defs, progress)
                progress.advance(defs.label)
            raw_symbols, expiries = same_day_raw_symbols(parts.file(defs.part).read_bytes(), self.day)
            if not raw_symbols:
                if not expiries:
                    raise FetchError(f"databento: no options found for {self.symbol} ({self.root}.OPT) on "
                                     f"{self.day} in {c.dataset}: unknown symbol?", "not_found")
                later = [e for e in expiries if e > self.day]
                hint = f" (nearest later expiry: {later[0]})" if later else ""
                raise FetchError(f"databento: {self.symbol} has no contract expiring {self.day} (no 0DTE that "
                                 f"day){hint}", "not_found")
            equities = bool(c.equities_dataset) and not is_index(self.symbol)
            requests = self._data_requests(raw_symbols, equities)
            todo = [r for r in requests if not parts.done(r.part)]
            if todo:
                total, by_schema = self._estimate(todo, notes)
                if any(n.startswith("underlying:") for n in notes):
                    todo = [r for r in todo if r.dataset == c.dataset]
                    requests = [r for r in requests if r.dataset == c.dataset]
                lines = ", ".join(f"{k} ${v:,.2f}" for k, v in by_schema.items())
                if not confirm(f"Databento: {len(raw_symbols)} {self.root} contracts expiring {self.day}, "
                               f"{len(todo)} part(s) ({lines}): estimated ${total:,.2f}"):
                    raise FetchError("databento: download declined", "declined")
            progress.start(len(requests), f"{self.symbol} {self.day}")
            refused_dataset: str | None = None
            for r in requests:
                if parts.done(r.part) or r.dataset == refused_dataset:
                    progress.advance(r.label, skipped=True)
                    continue
                try:
                    self._download(parts, r, progress)
                except FetchError as exc:
                    if r.dataset == c.dataset or exc.kind != "entitlement":
                        raise
                    refused_dataset = r.dataset  # the underlying's dataset: go on with parity spot
                    notes.append(f"underlying: {exc}; spot from put-call parity")
                progress.advance(r.label)
            requests = [r for r in requests if r.dataset != refused_dataset]
        finally:
            self.http.close()
        files = [parts.file(n) for n in [defs.part, *(r.part for r in requests)] if parts.file(n).stat().st_size]
        try:
            summary = import_dbn(files, out, underlying=self.symbol)
        except DbnImportError as exc:
            raise FetchError(f"databento: the downloaded data could not be converted: {exc}", "vendor") from None
        return FetchSummary(out=out, vendor=self.vendor, symbol=self.symbol, session_date=summary.session_date,
                            contracts=summary.contracts, trades=summary.trades, quotes=summary.quotes,
                            spot_ticks=summary.spot_ticks, notes=(*notes, *summary.notes))

    def _estimate(self, todo: list[_Request], notes: list[str]) -> tuple[float, dict[str, float]]:
        """Cost of the remaining parts, one estimate per schema and symbol batch over the whole
        window (the chunks of one schema add up to it). An equities dataset the plan does not
        include is left out with a note (spot then comes from put-call parity)."""
        groups: dict[tuple[str, str, tuple[str, ...]], list[_Request]] = {}
        for r in todo:
            groups.setdefault((r.dataset, r.schema, r.symbols), []).append(r)
        total, by_schema = 0.0, dict[str, float]()
        for (dataset, schema, symbols), rs in groups.items():
            span = _Request("", "", schema, symbols, rs[0].stype_in, min(r.start_ns for r in rs),
                            max(r.end_ns for r in rs), dataset)
            try:
                cost = self.cost(span)
            except FetchError as exc:
                if dataset != self.config.dataset and exc.kind == "entitlement":
                    notes.append(f"underlying: {dataset} is not in your Databento plan ({exc}); spot from "
                                 f"put-call parity")
                    continue
                raise
            total += cost
            by_schema[schema] = by_schema.get(schema, 0.0) + cost
        return total, by_schema


def _et_hhmm(ts_ns: int) -> str:
    from zdte_tui.market.calendar import ns_to_et

    return ns_to_et(ts_ns).strftime("%H%M")
