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
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from pydantic import SecretStr
from websockets.asyncio.client import connect

from zdte_tui.market.roots import same_day_root
from zdte_tui.market.term import pick_term_expiry
from zdte_tui.sources.live.http import RestLiveSource
from zdte_tui.sources.live.records import ChainSnapshot, ParsedFrame
from zdte_tui.sources.live.term import TermRow
from zdte_tui.sources.tradier import parsing
from zdte_tui.sources.tradier.config import TradierConfig

log = logging.getLogger(__name__)


class TradierSource(RestLiveSource):
    """Live 0DTE chain of ``symbols`` from Tradier."""

    name = "tradier"
    config_class = TradierConfig
    secret_env_field = "token_env"
    config: TradierConfig

    def __init__(self, symbols: Iterable[str], *, token: str | SecretStr | None = None,
                 **kwargs: Any) -> None:
        super().__init__(symbols, secret=token, **kwargs)
        self._sessions: dict[int, SecretStr] = {}  # id(ws) -> stream session id

    # ---- REST --------------------------------------------------------------------

    def _rest_base(self) -> str:
        return self.config.api_base

    def _rest_headers(self) -> dict[str, str]:
        return {**super()._rest_headers(), "Accept": "application/json"}

    def _auth_advice(self) -> str:
        return f"check ${self.config.token_env} and that the token's account has market data"

    async def _fetch_chain(self, underlying: str, expiry: date) -> ChainSnapshot:
        chain = await self._rest_json("GET", "/v1/markets/options/chains",
                                    {"symbol": underlying, "expiration": expiry.isoformat(),
                                     "greeks": "false"})
        contracts, malformed = parsing.parse_chain(chain, expiry, same_day_root(underlying))
        quotes = await self._rest_json("GET", "/v1/markets/quotes", {"symbols": underlying})
        last, prev_close = parsing.parse_quote(quotes, underlying)
        return ChainSnapshot(underlying, expiry, tuple(contracts), spot=last, prev_close=prev_close,
                             malformed=malformed)

    async def _fetch_term_rows(self, underlying: str, spot: float) -> list[TermRow]:
        """The listed expiries (``includeAllRoots``: SPX's weeklies are SPXW), then the chain of the
        one nearest 7 days after today."""
        listed = parsing.parse_expirations(await self._rest_json(
            "GET", "/v1/markets/options/expirations", {"symbol": underlying, "includeAllRoots": "true"}))
        term = pick_term_expiry(listed, self.session_date)
        if term is None:
            return []
        chain = await self._rest_json("GET", "/v1/markets/options/chains",
                                      {"symbol": underlying, "expiration": term.isoformat(), "greeks": "false"})
        rows, _ = parsing.parse_chain_quotes(chain, same_day_root(underlying))
        return [r for r in rows if r.expiry == term]

    # ---- streaming ---------------------------------------------------------------

    def _channels(self) -> tuple[str, ...]:
        return ("events",)

    async def _open_channel(self, channel: str) -> Any:
        # a fresh session per connection: a session id is valid for 5 minutes before use
        session = parsing.parse_session(await self._rest_json("POST", "/v1/markets/events/session"))
        ws = await connect(self.config.events_url, open_timeout=self.config.open_timeout_s,
                           max_queue=64, close_timeout=1, compression=None, logger=self._ws_logger)
        self._sessions = {id(ws): SecretStr(session)}
        return ws

    async def _send_subscriptions(self, channel: str, ws: Any, add: Sequence[str],
                                  remove: Sequence[str], full: Sequence[str]) -> None:
        session = self._sessions.get(id(ws))
        if session is None or not full:
            return
        await ws.send(parsing.subscription_payload(list(full), session.get_secret_value()))

    def _parse_frame(self, channel: str, data: str | bytes) -> ParsedFrame:
        return parsing.parse_ws_frame(data)
