"""Market facts about option roots and underlyings, shared by every source.

One table, :data:`ROOTS`, says for each option root which underlying it is written on, whether
it is an index (cash-settled) root, and whether it settles on the closing value (``PM``) or on a
special opening quotation (``AM``). Everything else here is derived from it, so the simulator,
replay, the DBN importer, the Cboe reader and the live adapters agree.

Facts (Cboe and Nasdaq product specifications; summarized in ``docs/market.md``):

- S&P 500: ``SPX`` standard third-Friday options are AM-settled; ``SPXW`` (weeklys, end of month,
  every weekday) are PM-settled. ``XSP`` (Mini-SPX, 1/10 of SPX) is PM-settled under its own root.
- Nasdaq-100: ``NDX`` monthlies are AM-settled; ``NDXP`` weeklys are PM-settled.
- Russell 2000: ``RUT`` monthlies are AM-settled; ``RUTW`` weeklys (every weekday since January
  2024) are PM-settled. ``MRUT`` (Mini-RUT) is PM-settled.
- ``VIX`` options (and ``VIXW`` weeklys) settle on a special opening quotation: AM.
- ``DJX`` (1/100 of the Dow) is AM-settled; ``OEX`` (American) and ``XEO`` (European) S&P 100
  options are PM-settled.
- Equity and ETF options (SPY, QQQ, IWM, ...) are PM-settled by delivery of shares; their root is
  the ticker itself.

Same-day ("0DTE") contracts of an index trade under its *weekly* root (SPX -> SPXW): the AM
monthly root never expires at the close of a session. :data:`DAILY_EXPIRY_SYMBOLS` lists the
symbols with an expiry every trading day (used by :mod:`zdte_tui.market.calendar`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

Settlement = Literal["AM", "PM"]


@dataclass(frozen=True)
class OptionRoot:
    """One option root: the underlying it is written on, index or not, AM/PM settlement."""

    root: str
    underlying: str
    is_index: bool
    settlement: Settlement


def _table(*roots: OptionRoot) -> Mapping[str, OptionRoot]:
    return MappingProxyType({r.root: r for r in roots})


ROOTS: Mapping[str, OptionRoot] = _table(
    OptionRoot("SPX", "SPX", True, "AM"),
    OptionRoot("SPXW", "SPX", True, "PM"),
    OptionRoot("XSP", "XSP", True, "PM"),
    OptionRoot("NDX", "NDX", True, "AM"),
    OptionRoot("NDXP", "NDX", True, "PM"),
    OptionRoot("RUT", "RUT", True, "AM"),
    OptionRoot("RUTW", "RUT", True, "PM"),
    OptionRoot("MRUT", "MRUT", True, "PM"),
    OptionRoot("VIX", "VIX", True, "AM"),
    OptionRoot("VIXW", "VIX", True, "AM"),
    OptionRoot("DJX", "DJX", True, "AM"),
    OptionRoot("OEX", "OEX", True, "PM"),
    OptionRoot("XEO", "XEO", True, "PM"),
)
"""Every index option root zdte knows. A root not in this table is an equity/ETF root: its
underlying is the root itself and it is PM-settled."""

INDEX_SYMBOLS: frozenset[str] = frozenset(r.underlying for r in ROOTS.values())
"""Cash indices: their spot comes from an index feed, their options are cash-settled."""

WEEKLY_ROOTS: Mapping[str, str] = MappingProxyType({
    r.underlying: r.root for r in ROOTS.values() if r.root != r.underlying})
"""Index -> the root of its weekly (and daily) expiries, where it differs from the index:
SPX -> SPXW, NDX -> NDXP, RUT -> RUTW, VIX -> VIXW."""

DAILY_EXPIRY_SYMBOLS: tuple[str, ...] = ("SPY", "QQQ", "IWM", "SPX", "SPXW", "XSP", "NDX", "RUT")
"""Symbols (and the SPXW root) with an option expiry listed on every trading day."""


def _norm(symbol: str) -> str:
    return symbol.strip().upper()


def is_index(symbol: str) -> bool:
    """True for a cash index (SPX, NDX, RUT, XSP, VIX, ...) or one of its option roots (SPXW)."""
    s = _norm(symbol)
    return s in INDEX_SYMBOLS or s in ROOTS


def same_day_root(symbol: str) -> str:
    """Option root of the contracts of ``symbol`` that expire at the close of a session:
    the weekly root of an index (SPX -> SPXW), else the symbol itself (SPY -> SPY, XSP -> XSP)."""
    s = _norm(symbol)
    return WEEKLY_ROOTS.get(s, s)


def underlying_of_root(root: str) -> str:
    """Underlying symbol of an option root (SPXW -> SPX, NDXP -> NDX); unknown roots are equity
    or ETF roots and are their own underlying."""
    r = _norm(root)
    known = ROOTS.get(r)
    return known.underlying if known is not None else r


def settlement_of(root: str) -> Settlement:
    """``"AM"`` or ``"PM"`` settlement of an option root (equity and ETF roots: PM)."""
    known = ROOTS.get(_norm(root))
    return known.settlement if known is not None else "PM"


def feed_names(symbol: str) -> tuple[str, str]:
    """``(spot feed, options feed)`` names under which a source reports data of ``symbol``."""
    if is_index(symbol):
        return "index_feed", "index_options_feed"
    return "equity_feed", "equity_options_feed"
