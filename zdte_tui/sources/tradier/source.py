"""Tradier live adapter: trades and quotes for the underlying and the band's option
contracts over the market-events WebSocket, settled OI from the REST option chain.

Docs followed: https://docs.tradier.com/reference/websocket-market-data-streaming and
https://documentation.tradier.com/brokerage-api/streaming/wss-market-websocket (payload
``{"symbols", "sessionid", "filter", "linebreak", "validOnly"}``, resent whole to change
symbols), https://documentation.tradier.com/brokerage-api/streaming/create-market-session
(``POST /v1/markets/events/session``, Bearer token, session valid 5 minutes, one session at
a time), https://documentation.tradier.com/brokerage-api/markets/get-options-chains
(``GET /v1/markets/options/chains?symbol=&expiration=&greeks=``); payload fields from
the AsyncAPI description github.com/api-evangelist/tradier ``asyncapi/tradier-asyncapi.yml``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import httpx
from websockets.asyncio.client import connect

from zdte_tui.market.roots import same_day_root
from zdte_tui.sources.live.base import LiveSource
from zdte_tui.sources.live.errors import MalformedMessage, SourceAuthError
from zdte_tui.sources.live.records import ChainSnapshot, ParsedFrame
from zdte_tui.sources.live.secrets import Secret, redact, resolve_secret, ws_logger
from zdte_tui.sources.tradier import parsing
from zdte_tui.sources.tradier.config import TradierConfig

log = logging.getLogger(__name__)

_CONFIG_FIELDS = ("token_env", "rest_url", "stream_url", "open_timeout_s", "rest_timeout_s")


class TradierSource(LiveSource):
    """Live 0DTE chain of ``symbols`` from Tradier."""

    name = "tradier"
    config_fields = _CONFIG_FIELDS

    def __init__(self, symbols: Iterable[str], *, token: str | Secret | None = None,
                 config: TradierConfig | None = None,
                 http_transport: httpx.AsyncBaseTransport | None = None, **kwargs: Any) -> None:
        self.config = config or TradierConfig()
        self._token = resolve_secret(token, self.config.token_env, "tradier", "token_env")
        super().__init__(symbols, **kwargs)
        self._transport = http_transport
        self._http: httpx.AsyncClient | None = None
        self._sessions: dict[int, Secret] = {}  # id(ws) -> stream session id
        self._ws_logger = ws_logger("tradier", self._token)

    @classmethod
    def from_settings(cls, symbols: Iterable[str], section: Mapping[str, Any]) -> "TradierSource":
        cfg, rest = cls.config_from_section(section)
        return cls(symbols, config=TradierConfig(**cfg), **rest)

    # ---- REST --------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=self.config.api_base, transport=self._transport,
                timeout=self.config.rest_timeout_s,
                headers={"Authorization": f"Bearer {self._token.reveal()}",
                         "Accept": "application/json"})
        return self._http

    async def _request(self, method: str, path: str, params: dict | None = None) -> Any:
        resp = await self._client().request(method, path, params=params,
                                            content=b"" if method == "POST" else None)
        if resp.status_code in (401, 403):
            raise SourceAuthError(
                f"tradier: {path} refused (HTTP {resp.status_code}: "
                f"{redact(resp.text[:200], self._token)}); check ${self.config.token_env} "
                f"and that the token's account has market data")
        resp.raise_for_status()
        try:
            return resp.json()
        except ValueError:
            raise MalformedMessage(f"{path}: reply is not JSON") from None

    async def _fetch_chain(self, underlying: str, expiry: date) -> ChainSnapshot:
        chain = await self._request("GET", "/v1/markets/options/chains",
                                    {"symbol": underlying, "expiration": expiry.isoformat(),
                                     "greeks": "false"})
        contracts, malformed = parsing.parse_chain(chain, expiry, same_day_root(underlying))
        quotes = await self._request("GET", "/v1/markets/quotes", {"symbols": underlying})
        last, prev_close = parsing.parse_quote(quotes, underlying)
        return ChainSnapshot(underlying, expiry, tuple(contracts), spot=last, prev_close=prev_close,
                             malformed=malformed)

    # ---- streaming ---------------------------------------------------------------

    def _channels(self) -> tuple[str, ...]:
        return ("events",)

    async def _open_channel(self, channel: str) -> Any:
        # a fresh session per connection: a session id is valid for 5 minutes before use
        session = parsing.parse_session(await self._request("POST", "/v1/markets/events/session"))
        ws = await connect(self.config.events_url, open_timeout=self.config.open_timeout_s,
                           max_queue=64, close_timeout=1, compression=None, logger=self._ws_logger)
        self._sessions = {id(ws): Secret(session)}
        return ws

    async def _send_subscriptions(self, channel: str, ws: Any, add: Sequence[str],
                                  remove: Sequence[str], full: Sequence[str]) -> None:
        session = self._sessions.get(id(ws))
        if session is None or not full:
            return
        await ws.send(parsing.subscription_payload(list(full), session.reveal()))

    def _parse_frame(self, channel: str, data: str | bytes) -> ParsedFrame:
        return parsing.parse_ws_frame(data)

    async def _close_extra(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
