"""Pure parsers of Massive's (formerly Polygon.io) wire formats.

WebSocket (``wss://socket.massive.com/{options,stocks,indices}``): every frame is a JSON
array of events. Used here:

- ``{"ev":"status","status":"connected"|"auth_success"|"auth_failed"|"success"|...,"message":...}``
- options/stocks trade ``{"ev":"T","sym":"O:SPY260605C00590000","x":exchange,"p":price,
  "s":size,"c":[conditions],"t":unix_ms,"q":sequence}``
- options quote ``{"ev":"Q","sym":...,"bx":..,"ax":..,"bp":bid,"ap":ask,"bs":bid_size,
  "as":ask_size,"t":unix_ms,"q":sequence}``
- index value ``{"ev":"V","val":value,"T":"I:SPX","t":unix_ms}``

REST option chain snapshot ``GET /v3/snapshot/options/{underlying}``: ``results[]`` with
``details.{ticker,strike_price,contract_type,expiration_date}``, ``open_interest`` and
``underlying_asset.price`` (a stock underlying) or ``underlying_asset.value`` (an index underlying:
"The value of the underlying index" in the vendor's OpenAPI spec); more pages at ``next_url``.

Every shape above is exercised by ``tests/sources/live/test_vendor_wire.py`` with the examples of
the vendor's own spec and client tests (``tests/data/vendor-wire/README.md``).
"""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Any

from zdte_tui.market.occ import parse_occ
from zdte_tui.sources.live.errors import MalformedMessage
from zdte_tui.sources.live.records import (
    ContractSpec,
    ParsedFrame,
    QuoteTick,
    SpotTick,
    TradeTick,
    int_field,
    json_messages,
    number_field,
    same_day_contract,
)
from zdte_tui.sources.live.term import TermRow

NS_PER_MS = 1_000_000
_QUIET_STATUSES = frozenset({"connected", "auth_success", "success"})


def _ts_ns(ev: dict) -> int:
    t = int_field(ev, "t")
    if t <= 0:
        raise MalformedMessage("timestamp must be positive")
    return t * NS_PER_MS


def parse_event(ev: Any) -> SpotTick | QuoteTick | TradeTick | None:
    """One event of a frame; ``None`` for events we do not use. Raises MalformedMessage."""
    if not isinstance(ev, dict):
        raise MalformedMessage("event is not an object")
    kind = ev.get("ev")
    if kind == "T":
        sym = ev["sym"]
        if not isinstance(sym, str) or not sym:
            raise MalformedMessage("trade without symbol")
        price, size = number_field(ev, "p"), int_field(ev, "s")
        if price <= 0 or size <= 0:
            raise MalformedMessage("trade price and size must be positive")
        ts = _ts_ns(ev)
        if sym.startswith("O:"):
            return TradeTick(sym, ts, price, size, int_field(ev, "x", 0))
        return SpotTick(sym, ts, price)
    if kind == "Q":
        sym = ev["sym"]
        if not isinstance(sym, str) or not sym.startswith("O:"):
            return None  # stock quotes are not used (spot comes from trades)
        bid, ask = number_field(ev, "bp"), number_field(ev, "ap")
        if bid < 0 or ask < 0:
            raise MalformedMessage("negative quote")
        return QuoteTick(sym, _ts_ns(ev), bid, ask, int_field(ev, "bs", 0), int_field(ev, "as", 0))
    if kind == "V":
        sym = ev["T"]
        if not isinstance(sym, str) or not sym:
            raise MalformedMessage("index value without ticker")
        return SpotTick(sym, _ts_ns(ev), number_field(ev, "val"))
    if kind is None:
        raise MalformedMessage("event without 'ev'")
    return None


def parse_ws_frame(data: str | bytes) -> ParsedFrame:
    """Parse one websocket frame (a JSON array of events; a lone object is accepted too)."""
    out = ParsedFrame()
    events = json_messages(data)
    if events is None:
        out.malformed = 1
        return out
    for ev in events:
        if isinstance(ev, dict) and ev.get("ev") == "status":
            status = str(ev.get("status", ""))
            if status == "auth_failed":
                out.auth_failure = f"authentication failed ({ev.get('message', '')})"
            elif status not in _QUIET_STATUSES:
                out.notices.append(f"{status}: {ev.get('message', '')}")
            continue
        out.add(parse_event, ev)
    return out


def auth_reply(data: str | bytes) -> tuple[str | None, str]:
    """``("auth_success" | "auth_failed" | None, message)`` of a status frame."""
    try:
        payload = json.loads(data)
    except (ValueError, TypeError):
        return None, ""
    for ev in payload if isinstance(payload, list) else [payload]:
        if isinstance(ev, dict) and ev.get("ev") == "status":
            status = ev.get("status")
            if status in ("auth_success", "auth_failed"):
                return status, str(ev.get("message", ""))
    return None, ""


def subscription_params(channel: str, keys: list[str]) -> str:
    """``params`` of a subscribe/unsubscribe message: ``T.x,Q.x`` per option contract,
    ``T.x`` per stock, ``V.x`` per index."""
    if channel == "options":
        return ",".join(f"{p}.{k}" for k in keys for p in ("T", "Q"))
    prefix = "V" if channel == "indices" else "T"
    return ",".join(f"{prefix}.{k}" for k in keys)


def underlying_value(ua: Any) -> float | None:
    """Spot from a snapshot row's ``underlying_asset``: ``price`` for a stock, ``value`` for an
    index (both documented; an index row carries ``value``, not ``price``). None if neither is a
    positive number."""
    if not isinstance(ua, dict):
        return None
    for key in ("price", "value"):
        v = ua.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 and v == v and v != float("inf"):
            return float(v)
    return None


def parse_chain_page(payload: Any, expiry: date, root: str
                     ) -> tuple[list[ContractSpec], float | None, str | None, int]:
    """Contracts of ``root`` expiring ``expiry`` in one snapshot page, the underlying price
    (if present), ``next_url`` and the number of malformed rows skipped (no ticker, a ticker
    that is not an OCC symbol, an open interest that is not a non-negative number). Raises
    MalformedMessage only when the page has no results list."""
    if not isinstance(payload, dict) or not isinstance(payload.get("results", []), list):
        raise MalformedMessage("chain snapshot without a results list")
    contracts: list[ContractSpec] = []
    spot: float | None = None
    malformed = 0
    for item in payload.get("results") or []:
        try:
            spec = same_day_contract(item["details"]["ticker"], item.get("open_interest"), expiry, root, "massive")
        except (KeyError, TypeError, ValueError, AttributeError):
            malformed += 1
            continue
        if spec is None:
            continue
        contracts.append(spec)
        spot = underlying_value(item.get("underlying_asset")) or spot
    next_url = payload.get("next_url")
    return contracts, spot, next_url if isinstance(next_url, str) and next_url else None, malformed


def parse_term_page(payload: Any, root: str, after: date) -> tuple[list[TermRow], str | None, int]:
    """Later-expiry quotes of one chain-snapshot page (the vol context): rows of ``root`` expiring
    after ``after`` with their ``last_quote`` bid/ask, ``next_url``, and the number of rows skipped
    as malformed (no ticker, not an OCC symbol, a quote that is not two numbers). A row without a
    ``last_quote`` (no quote on the plan) is kept with NaN bid/ask and yields no IV."""
    if not isinstance(payload, dict) or not isinstance(payload.get("results", []), list):
        raise MalformedMessage("chain snapshot without a results list")
    rows: list[TermRow] = []
    malformed = 0
    for item in payload.get("results") or []:
        try:
            sym = parse_occ(item["details"]["ticker"])
            quote = item.get("last_quote") or {}
            bid, ask = quote.get("bid", math.nan), quote.get("ask", math.nan)
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (bid, ask)):
                raise ValueError("quote is not numeric")
        except (KeyError, TypeError, ValueError, AttributeError):
            malformed += 1
            continue
        if sym.root == root and sym.expiry > after:
            rows.append(TermRow(sym.expiry, sym.strike, sym.is_call, float(bid), float(ask)))
    next_url = payload.get("next_url")
    return rows, next_url if isinstance(next_url, str) and next_url else None, malformed
