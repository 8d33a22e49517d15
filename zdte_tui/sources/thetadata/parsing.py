"""Pure parsers of ThetaData's Theta Terminal formats (REST v2 "legacy JSON" and the
``/v1/events`` streaming socket).

Streaming messages (one JSON object per frame)::

    {"header": {"type": "STATUS", "status": "CONNECTED"}}                       # every second
    {"header": {"type": "TRADE", "status": "CONNECTED"},
     "contract": {"security_type": "OPTION", "root": "SPY", "expiration": 20260605,
                  "strike": 590000, "right": "C"},                     # strike in 1/10 cent
     "trade": {"ms_of_day": 36000123, "sequence": 1, "size": 5, "condition": 0,
               "price": 1.25, "exchange": 65, "date": 20260605}}
    {"header": {"type": "QUOTE", ...}, "contract": {...},
     "quote": {"ms_of_day", "bid_size", "bid_exchange", "bid", "bid_condition",
               "ask_size", "ask_exchange", "ask", "ask_condition", "date"}}

Stock/index messages carry ``{"security_type": "STOCK" | "INDEX", "root": "SPY"}``.
``ms_of_day`` counts milliseconds since midnight America/New_York of ``date``.

REST v2 replies: ``{"header": {"format": [column names], "next_page": "null" | url,
"error_type": ...}, "response": [...]}``; bulk endpoints give ``response`` items
``{"contract": {...}, "ticks": [[...], ...]}``.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from zdte_tui.market.calendar import ET
from zdte_tui.market.occ import OptionSymbol, format_occ
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
    settled_oi,
)
from zdte_tui.sources.live.term import TermRow

NS_PER_MS = 1_000_000


@lru_cache(maxsize=64)
def _midnight_et_ns(yyyymmdd: int) -> int:
    d = date(yyyymmdd // 10000, yyyymmdd // 100 % 100, yyyymmdd % 100)
    return int(datetime(d.year, d.month, d.day, tzinfo=ET).timestamp()) * 1_000_000_000


def et_ms_to_ns(yyyymmdd: int, ms_of_day: int) -> int:
    """UTC epoch ns of ``ms_of_day`` milliseconds after midnight ET on ``yyyymmdd``."""
    if not (19000101 <= yyyymmdd <= 21001231) or not (0 <= ms_of_day < 86_400_000 + 3_600_000):
        raise MalformedMessage("date or ms_of_day out of range")
    try:
        return _midnight_et_ns(yyyymmdd) + ms_of_day * NS_PER_MS
    except ValueError:
        raise MalformedMessage("invalid date") from None


def yyyymmdd(d: date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


def option_key(root: str, expiration: int, strike_tenth_cent: int, right: str) -> str:
    """Routing key of an option contract: its compact OCC symbol (``SPY260605C00590000``)."""
    exp = date(expiration // 10000, expiration // 100 % 100, expiration % 100)
    return format_occ(OptionSymbol(root, exp, right, strike_tenth_cent / 1000), "compact")


def parse_message(msg: Any) -> tuple[SpotTick | QuoteTick | TradeTick | None, str | None]:
    """``(tick or None, header status)`` of one streaming message. Raises MalformedMessage."""
    if not isinstance(msg, dict) or not isinstance(msg.get("header"), dict):
        raise MalformedMessage("message without header")
    header = msg["header"]
    kind, status = header.get("type"), header.get("status")
    if kind not in ("TRADE", "QUOTE"):
        return None, status if isinstance(status, str) else None
    contract = msg["contract"]
    body = msg["trade" if kind == "TRADE" else "quote"]
    if not isinstance(contract, dict) or not isinstance(body, dict):
        raise MalformedMessage("contract/body is not an object")
    sec, root = contract.get("security_type"), contract.get("root")
    if not isinstance(root, str) or not root:
        raise MalformedMessage("contract without root")
    ts = et_ms_to_ns(int_field(body, "date"), int_field(body, "ms_of_day"))
    if sec == "OPTION":
        right = contract.get("right")
        if right not in ("C", "P"):
            raise MalformedMessage("right must be C or P")
        try:
            key = option_key(root, int_field(contract, "expiration"), int_field(contract, "strike"), right)
        except ValueError as exc:
            raise MalformedMessage(str(exc)) from None
        if kind == "TRADE":
            price, size = number_field(body, "price"), int_field(body, "size")
            if price <= 0 or size <= 0:
                raise MalformedMessage("trade price and size must be positive")
            return TradeTick(key, ts, price, size, int_field(body, "exchange", 0)), status
        bid, ask = number_field(body, "bid"), number_field(body, "ask")
        if bid < 0 or ask < 0:
            raise MalformedMessage("negative quote")
        return QuoteTick(key, ts, bid, ask, int_field(body, "bid_size", 0), int_field(body, "ask_size", 0)), status
    if sec in ("STOCK", "INDEX") and kind == "TRADE":
        price = number_field(body, "price")
        if price <= 0:
            raise MalformedMessage("non-positive price")
        return SpotTick(root, ts, price), status
    return None, status


def parse_ws_frame(data: str | bytes) -> ParsedFrame:
    """Parse one frame (normally one JSON object; a JSON array of them is accepted too)."""
    out = ParsedFrame()
    messages = json_messages(data)
    if messages is None:
        out.malformed = 1
        return out
    for msg in messages:
        if isinstance(msg, dict) and isinstance(msg.get("header"), dict) \
                and msg["header"].get("type") == "REQ_RESPONSE":
            response = str(msg["header"].get("response", ""))
            if response in ("INVALID_PERMS", "PERMISSION"):
                out.auth_failure = (f"Theta Terminal refused a stream request ({response}): "
                                    f"check the terminal login and your subscription")
            elif response not in ("SUBSCRIBED", ""):
                out.notices.append(f"stream request {msg['header'].get('req_id')}: {response}")
            continue
        try:
            tick, status = parse_message(msg)
        except (MalformedMessage, KeyError, TypeError, ValueError):
            out.malformed += 1
            continue
        if status:
            out.vendor_status = status
        if tick is not None:
            out.ticks.append(tick)
    return out


def stream_request(sec_type: str, req_type: str, add: bool, req_id: int,
                   contract: dict[str, Any]) -> str:
    """A ``STREAM`` request (documented payload: msg_type, sec_type, req_type, add, id, contract)."""
    return json.dumps({"msg_type": "STREAM", "sec_type": sec_type, "req_type": req_type,
                       "add": add, "id": req_id, "contract": contract})


def _columns(payload: Any) -> list[str]:
    if not isinstance(payload, dict) or not isinstance(payload.get("header"), dict):
        raise MalformedMessage("reply without header")
    fmt = payload["header"].get("format") or []
    if not isinstance(fmt, list):
        raise MalformedMessage("header.format is not a list")
    return [str(c) for c in fmt]


def next_page(payload: Any) -> str | None:
    nxt = payload.get("header", {}).get("next_page") if isinstance(payload, dict) else None
    return nxt if isinstance(nxt, str) and nxt and nxt != "null" else None


def parse_strikes(payload: Any) -> tuple[list[int], int]:
    """``/v2/list/strikes`` reply -> (strikes in 1/10 cent, malformed entries skipped)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("response"), list):
        raise MalformedMessage("strike list without response")
    good = [int(v) for v in payload["response"]
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 and v == v and v != float("inf")]
    return good, len(payload["response"]) - len(good)


def parse_bulk_open_interest(payload: Any) -> tuple[dict[tuple[int, str], int], int]:
    """``/v2/bulk_snapshot/option/open_interest`` -> ``({(strike_tenth_cent, right): OI}, malformed)``:
    rows without a contract, ticks or a non-negative whole open interest are skipped and counted."""
    cols = _columns(payload)
    if "open_interest" not in cols:
        raise MalformedMessage("open interest reply without an open_interest column")
    i_oi = cols.index("open_interest")
    out: dict[tuple[int, str], int] = {}
    malformed = 0
    for item in payload.get("response") or []:
        try:
            c, ticks = item["contract"], item["ticks"]
            row = ticks[-1]
            out[(int(c["strike"]), str(c["right"]))] = settled_oi(row[i_oi])
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            malformed += 1
            continue
    return out, malformed


def parse_spot_snapshot(payload: Any) -> float | None:
    """Spot from ``/v2/snapshot/stock/quote`` (bid/ask mid) or ``/v2/snapshot/index/price``."""
    cols = _columns(payload)
    rows = payload.get("response") or []
    if not rows or not isinstance(rows[-1], list):
        return None
    row = rows[-1]
    if "price" in cols:
        px = row[cols.index("price")]
        return float(px) if isinstance(px, (int, float)) and px > 0 else None
    if "bid" in cols and "ask" in cols:
        bid, ask = row[cols.index("bid")], row[cols.index("ask")]
        if isinstance(bid, (int, float)) and isinstance(ask, (int, float)) and 0 < bid <= ask:
            return (bid + ask) / 2
    return None


def contracts_from(root: str, expiry: date, strikes: list[int],
                   oi: dict[tuple[int, str], int]) -> list[ContractSpec]:
    """Both rights of every listed strike, settled OI from the bulk snapshot (0 if absent)."""
    exp = yyyymmdd(expiry)
    out = []
    for k in sorted(set(strikes) | {s for s, _ in oi}):
        for right in ("C", "P"):
            key = option_key(root, exp, k, right)
            sym = OptionSymbol(root, expiry, right, k / 1000)
            out.append(ContractSpec(key=key, occ=format_occ(sym, "osi"), strike=k / 1000,
                                    is_call=right == "C", settled_oi=oi.get((k, right), 0)))
    return out


def _yyyymmdd_date(v: int) -> date:
    return date(v // 10000, v // 100 % 100, v % 100)


def parse_expirations(payload: Any) -> list[date]:
    """``/v2/list/expirations`` -> the listed expiries (``response`` of YYYYMMDD integers);
    entries that are not such a date are skipped."""
    out = []
    for v in (payload.get("response") or []) if isinstance(payload, dict) else []:
        try:
            if isinstance(v, int) and not isinstance(v, bool):
                out.append(_yyyymmdd_date(v))
        except ValueError:
            continue
    return out


def parse_bulk_quotes(payload: Any, root: str) -> tuple[list[TermRow], int]:
    """``/v2/bulk_snapshot/option/quote`` -> one :class:`TermRow` per contract of ``root`` (the last
    tick's ``bid``/``ask`` by the header's ``format``) and the number of malformed rows skipped."""
    cols = _columns(payload)
    if "bid" not in cols or "ask" not in cols:
        raise MalformedMessage("quote reply without bid/ask columns")
    i_bid, i_ask = cols.index("bid"), cols.index("ask")
    rows: list[TermRow] = []
    malformed = 0
    for item in payload.get("response") or []:
        try:
            c, tick = item["contract"], item["ticks"][-1]
            bid, ask = tick[i_bid], tick[i_ask]
            if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (bid, ask)):
                raise ValueError("quote is not numeric")
            if c["right"] not in ("C", "P"):
                raise ValueError("right must be C or P")
            row = TermRow(_yyyymmdd_date(int(c["expiration"])), int(c["strike"]) / 1000, c["right"] == "C",
                          float(bid), float(ask))
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            malformed += 1
            continue
        if str(c.get("root", root)) == root:
            rows.append(row)
    return rows, malformed
