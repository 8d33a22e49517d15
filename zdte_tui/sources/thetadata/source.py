"""ThetaData live adapter through the local Theta Terminal: OPRA NBBO quotes and trades per
contract plus underlying trades (index prices for SPX/NDX...) on ``/v1/events``; strikes and
settled open interest from the terminal's REST v2 API.

Docs followed: https://docs.thetadata.us/Streaming/Getting-Started.html (single
``ws://127.0.0.1:25520/v1/events`` connection), .../Streaming/US-Options/Trade-Stream.html
(``STREAM`` request payload, strike in 1/10 cent, incrementing ``id``),
https://http-docs.thetadata.us/operations/get-bulk_snapshot-option-open_interest.html
(``/v2/bulk_snapshot/option/open_interest?root=&exp=``, OI reported ~06:30 ET for the prior
session), .../Streaming/US-Indices/Trade-Stream.html (index ``TRADE`` stream). Message
bodies follow QuantConnect's Lean.DataSource.ThetaData models (``WebSocketTrade``/``Quote``).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import connect

from zdte_tui.market.occ import parse_occ
from zdte_tui.market.roots import is_index, same_day_root
from zdte_tui.market.term import pick_term_expiry
from zdte_tui.sources.live.errors import MalformedMessage, SourceAuthError
from zdte_tui.sources.live.http import RestLiveSource
from zdte_tui.sources.live.paging import PageGuard
from zdte_tui.sources.live.records import ChainSnapshot, ParsedFrame
from zdte_tui.sources.live.term import TermRow
from zdte_tui.sources.thetadata import parsing
from zdte_tui.sources.thetadata.config import ThetaDataConfig

log = logging.getLogger(__name__)

HTTP_PERMISSION = 471  # Theta Terminal v2 error codes (see docs/data-sources.md)
HTTP_NO_DATA = 472


class ThetaDataSource(RestLiveSource):
    """Live 0DTE chain of ``symbols`` from a local Theta Terminal (which holds the login)."""

    name = "thetadata"
    config_class = ThetaDataConfig
    config: ThetaDataConfig

    def __init__(self, symbols: Iterable[str], **kwargs: Any) -> None:
        super().__init__(symbols, **kwargs)
        self._rest_notes: list[str] = []
        self._req_ids = itertools.count()
        self._fpss_status: str | None = None

    # ---- REST --------------------------------------------------------------------

    def _rest_base(self) -> str:
        return self.config.rest_url

    async def _get(self, path: str, params: dict) -> Any | None:
        """JSON reply (following ``next_page``), ``None`` when the terminal has no data."""
        url: str | None = path
        merged: Any = None
        host = urlsplit(self.config.rest_url).netloc
        guard = PageGuard(f"thetadata: {path}", self.config.max_pages)
        while url and guard.admit(url if params is None else f"{url}?{sorted(params.items())}"):
            resp = await self._client().get(url, params=params)
            if resp.status_code in (401, 403, HTTP_PERMISSION):
                raise SourceAuthError(
                    f"thetadata: Theta Terminal refused {path} (HTTP {resp.status_code}): check "
                    f"that the terminal is logged in and your subscription covers this data")
            if resp.status_code == HTTP_NO_DATA:
                return merged
            resp.raise_for_status()
            try:
                payload = resp.json()
            except ValueError:
                raise MalformedMessage(f"{path}: reply is not JSON") from None
            if merged is None:
                merged = payload
            elif isinstance(payload.get("response"), list):
                merged["response"].extend(payload["response"])
            url, params = parsing.next_page(payload), None
            if url and urlsplit(url).netloc not in ("", host):
                url = None
        if guard.note:
            self._rest_notes.append(guard.note)
        return merged

    async def _fetch_chain(self, underlying: str, expiry: date) -> ChainSnapshot:
        root = same_day_root(underlying)
        exp = parsing.yyyymmdd(expiry)
        strikes_reply = await self._get("/v2/list/strikes", {"root": root, "exp": exp})
        oi_reply = await self._get("/v2/bulk_snapshot/option/open_interest", {"root": root, "exp": exp})
        strikes, bad_strikes = parsing.parse_strikes(strikes_reply) if strikes_reply else ([], 0)
        oi, bad_oi = parsing.parse_bulk_open_interest(oi_reply) if oi_reply else ({}, 0)
        if is_index(underlying):
            spot_reply = await self._get("/v2/snapshot/index/price", {"root": underlying})
        else:
            spot_reply = await self._get("/v2/snapshot/stock/quote", {"root": underlying})
        try:
            spot = parsing.parse_spot_snapshot(spot_reply) if spot_reply else None
        except MalformedMessage:
            spot = None  # the stream's first underlying print will center the band
        contracts = parsing.contracts_from(root, expiry, strikes, oi)
        notes, self._rest_notes = tuple(self._rest_notes), []
        return ChainSnapshot(underlying, expiry, tuple(contracts), spot=spot, malformed=bad_strikes + bad_oi,
                             notes=notes)

    async def _fetch_term_rows(self, underlying: str, spot: float) -> list[TermRow]:
        """The root's listed expiries (``/v2/list/expirations``), then the bulk quote snapshot of the
        one nearest 7 days after today (``/v2/bulk_snapshot/option/quote``)."""
        root = same_day_root(underlying)
        listed = await self._get("/v2/list/expirations", {"root": root})
        term = pick_term_expiry(parsing.parse_expirations(listed) if listed else [], self.session_date)
        if term is None:
            return []
        reply = await self._get("/v2/bulk_snapshot/option/quote", {"root": root, "exp": parsing.yyyymmdd(term)})
        rows, _ = parsing.parse_bulk_quotes(reply, root) if reply else ([], 0)
        return [r for r in rows if r.expiry == term]

    # ---- streaming ---------------------------------------------------------------

    def _channels(self) -> tuple[str, ...]:
        return ("events",)

    async def _open_channel(self, channel: str) -> Any:
        return await connect(self.config.ws_url, open_timeout=self.config.open_timeout_s,
                             max_queue=64, close_timeout=1, logger=self._ws_logger)

    def _requests(self, key: str, add: bool) -> list[str]:
        if key in self.symbols:  # underlying
            sec = "INDEX" if is_index(key) else "STOCK"
            return [parsing.stream_request(sec, "TRADE", add, next(self._req_ids), {"root": key})]
        sym = parse_occ(key)
        contract = {"root": sym.root, "expiration": parsing.yyyymmdd(sym.expiry),
                    "strike": sym.strike_milli, "right": sym.right}
        return [parsing.stream_request("OPTION", req, add, next(self._req_ids), contract)
                for req in ("TRADE", "QUOTE")]

    async def _send_subscriptions(self, channel: str, ws: Any, add: Sequence[str],
                                  remove: Sequence[str], full: Sequence[str]) -> None:
        for keys, flag in ((remove, False), (add, True)):
            for key in keys:
                for text in self._requests(key, flag):
                    await ws.send(text)

    def _parse_frame(self, channel: str, data: str | bytes) -> ParsedFrame:
        parsed = parsing.parse_ws_frame(data)
        status = parsed.vendor_status
        if status and status != self._fpss_status:
            if status == "DISCONNECTED" and self._fpss_status == "CONNECTED":
                parsed.notices.append("Theta Terminal lost its FPSS data connection")
            elif status == "CONNECTED" and self._fpss_status == "DISCONNECTED":
                parsed.notices.append("Theta Terminal FPSS data connection restored")
            self._fpss_status = status
        return parsed
