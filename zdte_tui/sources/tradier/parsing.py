"""Pure parsers of Tradier's market-data formats.

Streaming (``wss://ws.tradier.com/v1/markets/events``) payloads, one JSON object per line::

    {"type":"trade","symbol":"SPY","exch":"Q","price":"590.1","size":"100","cvol":"...",
     "date":"1780668001000","last":"590.1"}                               # date: epoch ms
    {"type":"quote","symbol":"SPY260605C00590000","bid":1.2,"bidsz":10,"bidexch":"C",
     "biddate":"1780668001000","ask":1.25,"asksz":12,"askexch":"X","askdate":"1780668001000"}

(``summary``, ``timesale`` and ``tradex`` payloads are not used; a validation problem comes back as
``{"error": "..."}`` and is reported as a notice.) The payload examples of the vendor's streaming
page are parsed in ``tests/sources/live/test_vendor_wire.py``. REST: option chain
``GET /v1/markets/options/chains`` -> ``{"options": {"option": [...]}}`` (a lone object
when there is one contract, ``null`` when none), quotes ``GET /v1/markets/quotes`` ->
``{"quotes": {"quote": {...} | [...]}}``, session ``POST /v1/markets/events/session`` ->
``{"stream": {"url": ..., "sessionid": ...}}``.
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
    same_day_contract,
)
from zdte_tui.sources.live.term import TermRow

NS_PER_MS = 1_000_000


def _num(obj: dict, key: str) -> float:
    v = obj[key]
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            raise MalformedMessage(f"{key} is not a number") from None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise MalformedMessage(f"{key} is not a finite number")
    return float(v)


def _int(obj: dict, key: str, default: int = 0) -> int:
    if obj.get(key) in (None, ""):
        return default
    v = _num(obj, key)
    if v != int(v):
        raise MalformedMessage(f"{key} is not an integer")
    return int(v)


def _ms_ns(obj: dict, *keys: str) -> int:
    ms = max(_int(obj, k) for k in keys)
    if ms <= 0:
        raise MalformedMessage("missing timestamp")
    return ms * NS_PER_MS


def exchange_code(exch: Any) -> int:
    """One-letter venue code as an int (its character code); 0 when unknown."""
    return ord(exch) if isinstance(exch, str) and len(exch) == 1 else 0


def is_option_symbol(symbol: str) -> bool:
    if len(symbol) < 16:
        return False
    try:
        parse_occ(symbol)
    except ValueError:
        return False
    return True


def parse_payload(msg: Any) -> SpotTick | QuoteTick | TradeTick | None:
    """One streaming payload; ``None`` for types not used. Raises MalformedMessage."""
    if not isinstance(msg, dict):
        raise MalformedMessage("payload is not an object")
    kind, symbol = msg.get("type"), msg.get("symbol")
    if kind not in ("trade", "quote"):
        if kind is None:
            raise MalformedMessage("payload without type")
        return None
    if not isinstance(symbol, str) or not symbol:
        raise MalformedMessage("payload without symbol")
    option = is_option_symbol(symbol)
    if kind == "trade":
        price = _num(msg, "price")
        if price <= 0:
            raise MalformedMessage("non-positive price")
        ts = _ms_ns(msg, "date")
        if not option:
            return SpotTick(symbol, ts, price)
        size = _int(msg, "size")
        if size <= 0:
            raise MalformedMessage("non-positive size")
        return TradeTick(symbol, ts, price, size, exchange_code(msg.get("exch")))
    if not option:
        return None  # underlying quotes are not used
    bid, ask = _num(msg, "bid"), _num(msg, "ask")
    if bid < 0 or ask < 0:
        raise MalformedMessage("negative quote")
    return QuoteTick(symbol, _ms_ns(msg, "biddate", "askdate"), bid, ask,
                     _int(msg, "bidsz"), _int(msg, "asksz"))


_DECODER = json.JSONDecoder()


def json_payloads(text: str) -> tuple[list[Any], int]:
    """The JSON values of one frame and the number of unreadable stretches skipped.

    Tradier sends one payload per frame, or several: one per line with ``linebreak: true``,
    back to back without it; its documentation prints them pretty-printed over several lines.
    Values are read one after another whatever whitespace separates them; an unreadable
    stretch is counted once and skipped up to the next line."""
    out: list[Any] = []
    bad = 0
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        try:
            value, i = _DECODER.raw_decode(text, i)
        except ValueError:
            bad += 1
            nl = text.find("\n", i)
            i = n if nl < 0 else nl + 1
            continue
        out.append(value)
    return out, bad


def parse_ws_frame(data: str | bytes) -> ParsedFrame:
    """Parse one frame: one payload or several (see :func:`json_payloads`)."""
    out = ParsedFrame()
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    payloads, out.malformed = json_payloads(text)
    for msg in payloads:
        if isinstance(msg, dict) and "error" in msg and "type" not in msg:
            out.notices.append(f"stream error: {str(msg['error'])[:200]}")
            continue
        out.add(parse_payload, msg)
    return out


def _as_list(node: Any) -> list:
    if node is None:
        return []
    return node if isinstance(node, list) else [node]


def parse_chain(payload: Any, expiry: date, root: str) -> tuple[list[ContractSpec], int]:
    """Contracts of ``root`` expiring ``expiry`` with their ``open_interest``, and the number of
    malformed rows skipped (no symbol, not an OCC symbol, an open interest that is not a
    non-negative whole number)."""
    if not isinstance(payload, dict) or "options" not in payload:
        raise MalformedMessage("chain reply without 'options'")
    options = payload["options"]
    items = _as_list(options.get("option") if isinstance(options, dict) else None)
    out = []
    malformed = 0
    for item in items:
        try:
            spec = same_day_contract(item["symbol"], item.get("open_interest"), expiry, root, "compact")
        except (KeyError, TypeError, ValueError, AttributeError):
            malformed += 1
            continue
        if spec is not None:
            out.append(spec)
    return out, malformed


def parse_quote(payload: Any, symbol: str) -> tuple[float | None, float | None]:
    """``(last, prevclose)`` of ``symbol`` from a ``/v1/markets/quotes`` reply."""
    quotes = payload.get("quotes") if isinstance(payload, dict) else None
    for q in _as_list(quotes.get("quote") if isinstance(quotes, dict) else None):
        if isinstance(q, dict) and q.get("symbol") == symbol:
            last, prev = q.get("last"), q.get("prevclose")
            return (float(last) if isinstance(last, (int, float)) and last > 0 else None,
                    float(prev) if isinstance(prev, (int, float)) and prev > 0 else None)
    return None, None


def parse_session(payload: Any) -> str:
    try:
        sid = payload["stream"]["sessionid"]
    except (KeyError, TypeError):
        raise MalformedMessage("session reply without stream.sessionid") from None
    if not isinstance(sid, str) or not sid:
        raise MalformedMessage("empty sessionid")
    return sid


def subscription_payload(symbols: list[str], sessionid: str) -> str:
    """The documented subscription payload; resent whole to change the symbol list."""
    return json.dumps({"symbols": symbols, "sessionid": sessionid, "filter": ["trade", "quote"],
                       "linebreak": True, "validOnly": True})


def parse_expirations(payload: Any) -> list[date]:
    """``/v1/markets/options/expirations`` -> the listed dates (``{"expirations": {"date": [...]}}``;
    a lone date as a string, ``null`` when none). Unreadable dates are skipped."""
    node = payload.get("expirations") if isinstance(payload, dict) else None
    out = []
    for d in _as_list(node.get("date") if isinstance(node, dict) else None):
        try:
            out.append(date.fromisoformat(str(d)))
        except ValueError:
            continue
    return out


def parse_chain_quotes(payload: Any, root: str) -> tuple[list[TermRow], int]:
    """Quotes of a chain reply (the vol context): one :class:`TermRow` per ``root`` contract with
    its ``bid``/``ask`` (NaN when absent), and the number of malformed rows skipped."""
    if not isinstance(payload, dict) or "options" not in payload:
        raise MalformedMessage("chain reply without 'options'")
    options = payload["options"]
    rows: list[TermRow] = []
    malformed = 0
    for item in _as_list(options.get("option") if isinstance(options, dict) else None):
        try:
            sym = parse_occ(item["symbol"])
            bid, ask = (_num(item, k) if item.get(k) is not None else math.nan for k in ("bid", "ask"))
        except (KeyError, TypeError, ValueError, AttributeError):
            malformed += 1
            continue
        if sym.root == root:
            rows.append(TermRow(sym.expiry, sym.strike, sym.is_call, bid, ask))
    return rows, malformed
