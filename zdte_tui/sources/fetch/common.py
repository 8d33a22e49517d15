"""What every ``zdte fetch-day`` vendor path shares: one-line errors, the resumable parts
directory, the HTTP helper that turns vendor refusals into those errors, progress reporting,
and the writer that turns normalized arrays into a recording.

**Resume.** A download is split into parts (a time chunk, a contract, an endpoint). Each part
is written to ``<out>.parts/<name>.tmp`` and renamed to ``<name>`` only once complete, so a
part file that exists is whole. Running the same command again skips the parts already there.
``manifest.json`` records what the directory holds (vendor, symbol, date, options); a run with
different options refuses to mix its parts with it. The directory is removed once the recording
is written (``--keep-parts`` keeps it).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import httpx
import numpy as np

from zdte_tui.market.calendar import session_bounds_ns
from zdte_tui.market.events import (
    NS_PER_SECOND,
    ChainDefinition,
    Event,
    EventBatch,
    OptionQuotes,
    OptionTrades,
    SpotTicks,
)
from zdte_tui.store.writer import write_recording

SLICE_NS = 30 * NS_PER_SECOND  # recording batches: 30 s, like the DBN import


class FetchError(Exception):
    """A download cannot go on; the message is one line naming the cause and the fix.

    ``kind``: ``missing_key`` | ``auth`` (HTTP 401) | ``entitlement`` (HTTP 403 / plan) |
    ``not_found`` (unknown symbol, no same-day expiry, no data) | ``request`` (the vendor
    refused the parameters) | ``network`` | ``vendor`` (5xx, a reply that is not the
    documented format) | ``resume`` (a parts directory of another download) | ``declined``.
    """

    def __init__(self, message: str, kind: str = "vendor") -> None:
        super().__init__(message)
        self.kind = kind


class Progress(Protocol):
    """Where a download reports what it does (the CLI draws a rich progress bar)."""

    def start(self, total: int, what: str) -> None: ...

    def advance(self, label: str, skipped: bool = False) -> None: ...

    def add_bytes(self, n: int) -> None: ...

    def note(self, text: str) -> None: ...


class NullProgress:
    """Records what a download reported (tests read it); draws nothing."""

    def __init__(self) -> None:
        self.total = 0
        self.done: list[tuple[str, bool]] = []
        self.notes: list[str] = []
        self.bytes = 0

    def start(self, total: int, what: str) -> None:
        self.total += total

    def advance(self, label: str, skipped: bool = False) -> None:
        self.done.append((label, skipped))

    def add_bytes(self, n: int) -> None:
        self.bytes += n

    def note(self, text: str) -> None:
        self.notes.append(text)


Confirm = Callable[[str], bool]
"""Asked before a paid download with the vendor's estimate; False stops the download."""


# ---------------------------------------------------------------------------- session


def session_window_ns(day: dt.date) -> tuple[int, int]:
    """The regular session of ``day`` (UTC ns); a weekend or holiday is a FetchError naming
    the sessions around it."""
    from zdte_tui.market import calendar

    try:
        return session_bounds_ns(day)
    except ValueError:
        raise FetchError(
            f"{day.isoformat()} is not a trading day (sessions around it: "
            f"{calendar.previous_trading_day(day).isoformat()} and {calendar.next_trading_day(day).isoformat()})",
            "not_found") from None


def time_chunks(start_ns: int, end_ns: int, minutes: int) -> list[tuple[int, int]]:
    """``[start, end)`` cut into ``minutes``-long pieces (the last one shorter)."""
    step = minutes * 60 * NS_PER_SECOND
    edges = list(range(start_ns, end_ns, step)) + [end_ns]
    return list(zip(edges[:-1], edges[1:]))


# ---------------------------------------------------------------------------- parts


class PartDir:
    """``<out>.parts/``: finished parts of one download (see the module docstring)."""

    def __init__(self, out: Path, identity: Mapping[str, Any]) -> None:
        self.path = out.with_name(out.name + ".parts")
        self.identity = dict(identity)
        manifest = self.path / "manifest.json"
        if manifest.exists():
            try:
                held = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                held = None
            if held != self.identity:
                raise FetchError(
                    f"{self.path} holds parts of another download ({_describe(held)}); remove it or "
                    f"choose another --out", "resume")
        self.path.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps(self.identity, sort_keys=True), encoding="utf-8")

    def file(self, name: str) -> Path:
        return self.path / name

    def done(self, name: str) -> bool:
        return (self.path / name).is_file()

    def finished(self) -> list[str]:
        return sorted(p.name for p in self.path.iterdir() if p.name != "manifest.json" and not p.name.endswith(".tmp"))

    @contextmanager
    def writing(self, name: str) -> Iterator[IO[bytes]]:
        """A file to write part ``name`` into; it becomes the part only if the block ends normally."""
        tmp = self.path / (name + ".tmp")
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path / name)

    def write_bytes(self, name: str, data: bytes) -> None:
        with self.writing(name) as f:
            f.write(data)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _describe(identity: Any) -> str:
    if not isinstance(identity, dict):
        return "unreadable manifest"
    return ", ".join(f"{k}={identity[k]}" for k in ("vendor", "symbol", "date") if k in identity) or "?"


def save_arrays(parts: PartDir, name: str, **arrays: np.ndarray) -> None:
    with parts.writing(name) as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]


def load_arrays(parts: PartDir, name: str) -> dict[str, np.ndarray]:
    with np.load(parts.file(name)) as z:
        return {k: z[k] for k in z.files}


# ---------------------------------------------------------------------------- HTTP


@dataclass
class VendorHttp:
    """A synchronous httpx client for one vendor whose refusals become :class:`FetchError`.

    ``key_hint`` names where the key comes from (``$DATABENTO_API_KEY``); ``detail`` pulls the
    vendor's message out of an error body (its documented error field)."""

    vendor: str
    base_url: str
    key_hint: str
    detail: Callable[[Any], str | None]
    auth: httpx.Auth | tuple[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    transport: httpx.BaseTransport | None = None
    timeout_s: float = 60.0
    extra_codes: Mapping[int, tuple[str, str]] = field(default_factory=dict)
    _client: httpx.Client | None = None

    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url=self.base_url, auth=self.auth, headers=dict(self.headers),
                                        transport=self.transport, timeout=self.timeout_s)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _refusal(self, resp: httpx.Response, what: str) -> FetchError:
        try:
            body: Any = resp.json()
        except ValueError:
            body = resp.text
        try:
            said = self.detail(body)
        except Exception:  # an error body of another shape: say what we got
            said = None
        said = " ".join(str(said or (body if isinstance(body, str) else "")).split())[:200]
        code = resp.status_code
        quoted = f" ({said})" if said else ""
        if code in self.extra_codes:
            kind, text = self.extra_codes[code]
            return FetchError(f"{self.vendor}: {what}: {text}{quoted}", kind)
        if code == 401:
            return FetchError(f"{self.vendor}: the API key was refused (HTTP 401{': ' + said if said else ''}); "
                              f"check {self.key_hint}", "auth")
        if code == 403:
            return FetchError(f"{self.vendor}: your plan does not include {what} "
                              f"(HTTP 403{': ' + said if said else ''})", "entitlement")
        if code in (400, 404, 422):
            return FetchError(f"{self.vendor}: {what} refused (HTTP {code}{': ' + said if said else ''})", "request")
        if code == 429:
            return FetchError(f"{self.vendor}: rate limited (HTTP 429); wait a minute and rerun the same command "
                              f"to resume", "vendor")
        return FetchError(f"{self.vendor}: {what} failed (HTTP {code}{quoted}); rerun the same command to resume",
                          "vendor")

    def _send(self, method: str, url: str, what: str, stream: bool = False, **kw: Any) -> httpx.Response:
        try:
            req = self.client().build_request(method, url, **kw)
            return self.client().send(req, stream=stream)
        except httpx.TransportError as exc:
            raise FetchError(f"{self.vendor}: cannot reach {self.base_url} ({type(exc).__name__}: "
                             f"{str(exc)[:120]}); rerun the same command to resume", "network") from None

    def json(self, method: str, url: str, what: str, **kw: Any) -> Any:
        resp = self._send(method, url, what, **kw)
        if resp.status_code != 200:
            raise self._refusal(resp, what)
        try:
            return resp.json()
        except ValueError:
            raise FetchError(f"{self.vendor}: {what}: the reply is not JSON", "vendor") from None

    def status_and_json(self, method: str, url: str, what: str, ok: Sequence[int] = (200,), **kw: Any
                        ) -> tuple[int, Any]:
        """Like :meth:`json` but statuses in ``ok`` are returned (e.g. ThetaData's 472 = no data)."""
        resp = self._send(method, url, what, **kw)
        if resp.status_code not in ok:
            raise self._refusal(resp, what)
        if resp.status_code != 200:
            return resp.status_code, None
        try:
            return 200, resp.json()
        except ValueError:
            raise FetchError(f"{self.vendor}: {what}: the reply is not JSON", "vendor") from None

    def download(self, method: str, url: str, what: str, sink: IO[bytes], progress: Progress, **kw: Any) -> int:
        """Stream the body into ``sink``; returns the bytes written."""
        resp = self._send(method, url, what, stream=True, **kw)
        try:
            if resp.status_code != 200:
                resp.read()
                raise self._refusal(resp, what)
            n = 0
            try:
                for chunk in resp.iter_bytes(1 << 16):
                    sink.write(chunk)
                    n += len(chunk)
                    progress.add_bytes(len(chunk))
            except httpx.TransportError as exc:
                raise FetchError(f"{self.vendor}: {what}: the download broke off ({type(exc).__name__}); "
                                 f"rerun the same command to resume", "network") from None
            return n
        finally:
            resp.close()


# ---------------------------------------------------------------------------- the recording


@dataclass
class DayArrays:
    """One underlying's session in columns, contract indices into ``contracts``."""

    symbol: str
    session_date: dt.date
    expiry: dt.date
    occ: list[str]
    strikes: np.ndarray
    is_call: np.ndarray
    settled_oi: np.ndarray
    trades: OptionTrades
    quotes: OptionQuotes
    spot: SpotTicks
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FetchSummary:
    """What fetch-day wrote."""

    out: Path
    vendor: str
    symbol: str
    session_date: dt.date
    contracts: int
    trades: int
    quotes: int
    spot_ticks: int
    notes: tuple[str, ...]

    def __str__(self) -> str:
        return (f"{self.out}: {self.vendor} {self.symbol} {self.session_date} 0DTE: {self.contracts} contracts, "
                f"{self.trades} trades, {self.quotes} quotes, {self.spot_ticks} underlying prints")


def _sorted(ts: np.ndarray) -> np.ndarray:
    return np.argsort(ts, kind="stable")


def batches_of(symbol: str, spot: SpotTicks, quotes: OptionQuotes, trades: OptionTrades) -> list[EventBatch]:
    """30 s batches ``(kW, (k+1)W]`` from the first event to the last (quiet slices included)."""
    all_ts = np.concatenate([spot.ts_ns, quotes.ts_ns, trades.ts_ns])
    if not len(all_ts):
        return []
    k0, k1 = (int(all_ts.min()) - 1) // SLICE_NS, (int(all_ts.max()) - 1) // SLICE_NS
    edges = np.arange(k0, k1 + 2, dtype=np.int64) * SLICE_NS
    # (start, end]: an event at exactly an edge belongs to the slice that ends there
    cs, cq, ct = (np.searchsorted(a.ts_ns, edges, side="right") for a in (spot, quotes, trades))
    out = []
    for k in range(len(edges) - 1):
        s, q, t = slice(cs[k], cs[k + 1]), slice(cq[k], cq[k + 1]), slice(ct[k], ct[k + 1])
        out.append(EventBatch(
            underlying=symbol, start_ns=int(edges[k]), end_ns=int(edges[k + 1]),
            spot=SpotTicks(ts_ns=spot.ts_ns[s], price=spot.price[s]),
            quotes=OptionQuotes(ts_ns=quotes.ts_ns[q], contract=quotes.contract[q], bid=quotes.bid[q],
                                ask=quotes.ask[q], bid_size=quotes.bid_size[q], ask_size=quotes.ask_size[q]),
            trades=OptionTrades(ts_ns=trades.ts_ns[t], contract=trades.contract[t], price=trades.price[t],
                                size=trades.size[t], exchange=trades.exchange[t])))
    return out


def write_day(out: Path, vendor: str, day: DayArrays, extra: Mapping[str, str] | None = None) -> FetchSummary:
    """Sort the day's arrays by time and write them as one recording (the store's writer)."""
    so, qo, to = _sorted(day.spot.ts_ns), _sorted(day.quotes.ts_ns), _sorted(day.trades.ts_ns)
    spot = SpotTicks(ts_ns=day.spot.ts_ns[so], price=day.spot.price[so])
    q = day.quotes
    quotes = OptionQuotes(ts_ns=q.ts_ns[qo], contract=q.contract[qo], bid=q.bid[qo], ask=q.ask[qo],
                          bid_size=q.bid_size[qo], ask_size=q.ask_size[qo])
    t = day.trades
    trades = OptionTrades(ts_ns=t.ts_ns[to], contract=t.contract[to], price=t.price[to], size=t.size[to],
                          exchange=t.exchange[to])
    definition = ChainDefinition(underlying=day.symbol, expiry=day.expiry, strikes=day.strikes,
                                 is_call=day.is_call, settled_oi=day.settled_oi, occ_symbols=tuple(day.occ))
    events: list[Event] = [definition, *batches_of(day.symbol, spot, quotes, trades)]
    write_recording(out, events, source=vendor, simulated=False, session_date=day.session_date,
                    symbols=[day.symbol], notes=day.notes, extra=dict(extra or {}))
    return FetchSummary(out=out, vendor=vendor, symbol=day.symbol, session_date=day.session_date,
                        contracts=len(day.occ), trades=len(trades), quotes=len(quotes), spot_ticks=len(spot),
                        notes=tuple(day.notes))
