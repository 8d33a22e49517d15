"""Normalized records of the live adapters: contracts and chain snapshots from REST, ticks from
the sockets, and the result of parsing one websocket frame."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from zdte_tui.market.occ import format_occ, parse_occ
from zdte_tui.sources.live.errors import PARSE_ERRORS, MalformedMessage


def json_messages(data: str | bytes) -> list[Any] | None:
    """The messages of one JSON frame: an array's items, or a lone object as a one-item list;
    ``None`` when the frame is not JSON (the caller counts it as malformed)."""
    try:
        payload = json.loads(data)
    except (ValueError, TypeError):
        return None
    return payload if isinstance(payload, list) else [payload]


def number_field(obj: dict, key: str) -> float:
    """``obj[key]`` as a finite float; anything else (missing, bool, str, NaN) is a MalformedMessage."""
    v = obj[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise MalformedMessage(f"field {key!r} is not a finite number")
    return float(v)


def int_field(obj: dict, key: str, default: int | None = None) -> int:
    """``obj[key]`` as an int (``default`` when absent, if given); non-integers are malformed."""
    if key not in obj and default is not None:
        return default
    v = number_field(obj, key)
    if v != int(v):
        raise MalformedMessage(f"field {key!r} is not an integer")
    return int(v)



@dataclass(frozen=True)
class ContractSpec:
    """One option contract as the vendor names it (``key``) plus its OCC identity and OI."""

    key: str  # vendor subscription key / routing key
    occ: str  # OSI 21-char symbol
    strike: float
    is_call: bool
    settled_oi: int = 0


@dataclass(frozen=True)
class ChainSnapshot:
    """What a REST call knows at start-up: same-day contracts with settled OI, maybe spot."""

    underlying: str
    expiry: date
    contracts: tuple[ContractSpec, ...]
    spot: float | None = None
    prev_close: float | None = None
    malformed: int = 0  # rows of the REST reply that were skipped (counted, reported)
    notes: tuple[str, ...] = ()  # e.g. pagination stopped by the page cap or a loop


@dataclass(frozen=True, slots=True)
class SpotTick:
    key: str
    ts_ns: int
    price: float


@dataclass(frozen=True, slots=True)
class QuoteTick:
    key: str
    ts_ns: int
    bid: float
    ask: float
    bid_size: int
    ask_size: int


@dataclass(frozen=True, slots=True)
class TradeTick:
    key: str
    ts_ns: int
    price: float
    size: int
    exchange: int = 0


Tick = SpotTick | QuoteTick | TradeTick


@dataclass
class ParsedFrame:
    """Result of parsing one websocket frame: good ticks, how many events were malformed,
    and vendor notices worth surfacing (e.g. ``max_connections``)."""

    ticks: list[Tick] = field(default_factory=list)
    malformed: int = 0
    notices: list[str] = field(default_factory=list)
    auth_failure: str | None = None  # vendor says the credentials/entitlements are bad: fatal
    vendor_status: str | None = None  # e.g. Theta Terminal's CONNECTED / DISCONNECTED

    def add(self, parse: Callable[[Any], Tick | None], event: Any) -> None:
        """Parse one vendor event into a tick and keep it; a malformed event is counted, never raised."""
        try:
            tick = parse(event)
        except PARSE_ERRORS:
            self.malformed += 1
            return
        if tick is not None:
            self.ticks.append(tick)


def settled_oi(value: object) -> int:
    """An open-interest field as a non-negative int. Missing/null is 0 (the vendor has none);
    anything that is not a non-negative whole number (``"n/a"``, ``-3``, ``1.5``, NaN, ``True``)
    raises ``ValueError`` so the row is counted as malformed instead of failing the chain."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError(f"open interest {value!r} is not a number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise ValueError(f"open interest {value!r} is not a whole number")
    if number < 0:
        raise ValueError(f"open interest {value!r} is negative")
    return number


def same_day_contract(occ_symbol: str, open_interest: object, expiry: date, root: str,
                      key_style: str) -> ContractSpec | None:
    """One REST chain row as a :class:`ContractSpec`: the vendor's spelling of the OCC symbol
    (``key_style``, see :func:`zdte_tui.market.occ.format_occ`) and the settled OI. None for a
    row of another expiry or root; a malformed symbol or OI raises (``ValueError``,
    ``TypeError``, ``AttributeError``) and the caller counts the row as malformed."""
    sym = parse_occ(occ_symbol)
    if sym.expiry != expiry or sym.root != root:
        return None
    return ContractSpec(key=format_occ(sym, key_style), occ=format_occ(sym, "osi"), strike=sym.strike,
                        is_call=sym.is_call, settled_oi=settled_oi(open_interest))
