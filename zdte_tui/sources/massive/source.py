"""Massive (formerly Polygon.io) live adapter: OPRA trades + quotes over the options socket,
underlying trades over the stocks socket (index values over the indices socket), settled OI
from the REST option-chain snapshot.

Docs followed: https://massive.com/docs/websocket/options/trades.md,
https://massive.com/docs/websocket/options/quotes.md,
https://massive.com/docs/websocket/stocks/trades.md,
https://massive.com/docs/rest/options/snapshots/option-chain-snapshot.md and the official
client (github.com/massive-com/client-python: ``massive/websocket/__init__.py`` handshake,
``massive/rest/base.py`` Bearer auth and ``next_url`` pagination).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr
from websockets.asyncio.client import connect

from zdte_tui.market.roots import is_index, same_day_root
from zdte_tui.sources.live.errors import SourceAuthError
from zdte_tui.sources.live.http import RestLiveSource
from zdte_tui.sources.live.paging import PageGuard
from zdte_tui.sources.live.records import ChainSnapshot, ParsedFrame
from zdte_tui.sources.live.secrets import redact
from zdte_tui.sources.live.term import TERM_WINDOW_DAYS, TermRow
from zdte_tui.sources.massive import parsing
from zdte_tui.sources.massive.config import MassiveConfig

log = logging.getLogger(__name__)

DELAYED_NO_QUOTES = ("massive: the delayed cluster streams option trades but no option quotes (the vendor's "
                     "socket spec lists /options/Q as real-time only): trades cannot be classified against "
                     "the NBBO; use the real-time cluster for quotes")

class MassiveSource(RestLiveSource):
    """Live 0DTE chain of ``symbols`` from Massive. See :mod:`zdte_tui.sources.live.base`."""

    name = "massive"
    config_class = MassiveConfig
    secret_env_field = "api_key_env"
    max_option_keys = 1000  # documented: at most 1,000 quoted option contracts per connection
    config: MassiveConfig

    def __init__(self, symbols: Iterable[str], *, api_key: str | SecretStr | None = None,
                 **kwargs: Any) -> None:
        super().__init__(symbols, secret=api_key, **kwargs)

    # ---- REST --------------------------------------------------------------------

    def _rest_base(self) -> str:
        return self.config.rest_url

    def _key(self) -> str:
        assert self._secret is not None
        return self._secret.get_secret_value()

    def _auth_advice(self) -> str:
        return f"check ${self.config.api_key_env} and your plan's entitlements"

    async def _fetch_chain(self, underlying: str, expiry: date) -> ChainSnapshot:
        asset = f"I:{underlying}" if is_index(underlying) else underlying
        root = same_day_root(underlying)
        rest_host = urlsplit(self.config.rest_url).netloc
        url: str | None = f"/v3/snapshot/options/{asset}"
        params: dict | None = {"expiration_date": expiry.isoformat(), "limit": self.config.page_limit}
        contracts, spot, malformed = [], None, 0
        guard = PageGuard(f"massive: {underlying} chain", self.config.max_pages)
        while url and guard.admit(url):
            payload = await self._rest_json("GET", url, params)
            page, page_spot, next_url, bad = parsing.parse_chain_page(payload, expiry, root)
            contracts.extend(page)
            malformed += bad
            spot = page_spot if page_spot is not None else spot
            params = None  # next_url carries the cursor and filters
            if next_url and urlsplit(next_url).netloc not in ("", rest_host):
                log.warning("massive: ignoring next_url on another host")  # never leak the key
                next_url = None
            url = next_url
        log.info("massive: %s %s: %d contracts in %d page(s)", underlying, expiry, len(contracts), guard.pages)
        notes = [guard.note] if guard.note else []
        if self.delayed_cluster:
            notes.append(DELAYED_NO_QUOTES)
        return ChainSnapshot(underlying, expiry, tuple(contracts), spot=spot, malformed=malformed,
                             notes=tuple(notes))

    async def _fetch_term_rows(self, underlying: str, spot: float) -> list[TermRow]:
        """Quotes of the expiries after today within two weeks, strikes within 3 % of spot, from
        the chain snapshot (``expiration_date.gt/lte``, ``strike_price.gte/lte`` filters)."""
        asset = f"I:{underlying}" if is_index(underlying) else underlying
        rest_host = urlsplit(self.config.rest_url).netloc
        url: str | None = f"/v3/snapshot/options/{asset}"
        params: dict | None = {
            "expiration_date.gt": self.session_date.isoformat(),
            "expiration_date.lte": (self.session_date + timedelta(days=TERM_WINDOW_DAYS)).isoformat(),
            "strike_price.gte": round(spot * 0.97, 2), "strike_price.lte": round(spot * 1.03, 2),
            "limit": self.config.page_limit}
        rows: list[TermRow] = []
        guard = PageGuard(f"massive: {underlying} later expiries", self.config.max_pages)
        while url and guard.admit(url):
            payload = await self._rest_json("GET", url, params)
            page, next_url, _ = parsing.parse_term_page(payload, same_day_root(underlying), self.session_date)
            rows.extend(page)
            params = None
            url = next_url if next_url and urlsplit(next_url).netloc in ("", rest_host) else None
        return rows

    @property
    def delayed_cluster(self) -> bool:
        """True for the 15-minute delayed socket cluster (``delayed.massive.com``)."""
        return (urlsplit(self.config.ws_url).hostname or "").startswith("delayed.")

    # ---- WebSocket ---------------------------------------------------------------

    def _channels(self) -> tuple[str, ...]:
        chans = ["options"]
        if any(not is_index(s) for s in self.symbols):
            chans.append("stocks")
        if any(is_index(s) for s in self.symbols):
            chans.append("indices")
        return tuple(chans)

    def _spot_key(self, underlying: str) -> str:
        return f"I:{underlying}" if is_index(underlying) else underlying

    def _channel_for_spot(self, key: str) -> str:
        return "indices" if key.startswith("I:") else "stocks"

    def _channel_for_option(self, key: str) -> str:
        return "options"

    def _channel_feed(self, channel: str) -> str | None:
        if channel == "stocks":
            return "equity_feed"
        if channel == "indices":
            return "index_feed"
        kinds = {is_index(s) for s in self.symbols}
        if kinds == {True}:
            return "index_options_feed"
        return "equity_options_feed" if kinds == {False} else None

    async def _open_channel(self, channel: str) -> Any:
        url = f"{self.config.ws_base}/{channel}"
        ws = await connect(url, open_timeout=self.config.open_timeout_s, max_queue=64,
                           close_timeout=1, logger=self._ws_logger)
        try:
            await ws.send(json.dumps({"action": "auth", "params": self._key()}))
            deadline = asyncio.get_running_loop().time() + self.config.open_timeout_s
            while True:  # skip the "connected" status, wait for the auth verdict
                left = deadline - asyncio.get_running_loop().time()
                async with asyncio.timeout(max(0.01, left)):  # not wait_for: it can drop a cancel on 3.11
                    reply = await ws.recv()
                status, message = parsing.auth_reply(reply)
                if status == "auth_success":
                    return ws
                if status == "auth_failed":
                    raise SourceAuthError(
                        f"massive: authentication failed on {channel} "
                        f"({redact(message, self._secret)}); check ${self.config.api_key_env}")
        except BaseException:
            await ws.close()
            raise

    async def _send_subscriptions(self, channel: str, ws: Any, add: Sequence[str],
                                  remove: Sequence[str], full: Sequence[str]) -> None:
        n = self.config.subscribe_chunk
        for action, keys in (("unsubscribe", list(remove)), ("subscribe", list(add))):
            for i in range(0, len(keys), n):
                params = parsing.subscription_params(channel, keys[i:i + n])
                await ws.send(json.dumps({"action": action, "params": params}))

    def _parse_frame(self, channel: str, data: str | bytes) -> ParsedFrame:
        return parsing.parse_ws_frame(data)

