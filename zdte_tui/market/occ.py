"""OCC option symbols (the OSI format) and the vendor spellings of it.

An OCC/OSI symbol names one listed option in 21 characters::

    SPY   260605C00590000
    └root┘└date┘│└strike┘
     6 chars YYMMDD  8 digits = strike in thousandths of a dollar (590.000)
    (space-padded)  C/P

Vendors drop the padding (``SPY260605C00590000``) and Massive (formerly Polygon) adds an
``O:`` prefix (``O:SPY260605C00590000``). :func:`parse_occ` reads all three;
:func:`format_occ` writes any of them (``style="osi" | "massive" | "compact"``).
Index weeklies use their own root (``SPXW``), which is kept as-is: the root is the option
root, not the underlying.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

OccStyle = Literal["osi", "massive", "compact"]

ROOT_MAX_CHARS = 6
STRIKE_DIGITS = 8
STRIKE_MILLI_MAX = 10**STRIKE_DIGITS - 1  # 99999.999 dollars
MASSIVE_PREFIX = "O:"
_TAIL_CHARS = 6 + 1 + STRIKE_DIGITS  # YYMMDD + right + strike
_ROOT_RE = re.compile(r"[A-Z0-9]{1,6}")


@dataclass(frozen=True)
class OptionSymbol:
    """One option contract: option root, expiry date, right (``"C"``/``"P"``), strike in dollars."""

    root: str
    expiry: date
    right: Literal["C", "P"]
    strike: float

    def __post_init__(self) -> None:
        if not _ROOT_RE.fullmatch(self.root):
            raise ValueError(f"option root {self.root!r}: expected 1-6 upper-case letters or digits")
        if self.right not in ("C", "P"):
            raise ValueError(f"option right {self.right!r}: expected 'C' or 'P'")
        if not 2000 <= self.expiry.year <= 2099:
            raise ValueError(f"expiry {self.expiry}: OCC years are two digits (2000-2099)")
        _strike_milli(self.strike)  # raises on strikes OCC cannot encode

    @property
    def is_call(self) -> bool:
        return self.right == "C"

    @property
    def strike_milli(self) -> int:
        """Strike in thousandths of a dollar, the 8-digit OCC field (590.0 -> 590000)."""
        return _strike_milli(self.strike)


def _strike_milli(strike: float) -> int:
    if isinstance(strike, bool) or not isinstance(strike, (int, float)) or not math.isfinite(strike):
        raise ValueError(f"strike {strike!r}: expected a positive number of dollars")
    milli = round(strike * 1000)
    if abs(strike * 1000 - milli) > 1e-6 * max(1.0, abs(strike)):
        raise ValueError(f"strike {strike!r}: OCC strikes are whole thousandths of a dollar")
    if not 1 <= milli <= STRIKE_MILLI_MAX:
        raise ValueError(f"strike {strike!r}: expected 0.001 to 99999.999 dollars")
    return milli


def parse_occ(text: str) -> OptionSymbol:
    """Parse ``"SPY   260605C00590000"``, ``"SPY260605C00590000"`` or ``"O:SPY260605C00590000"``.

    Surrounding whitespace is ignored and letters may be lower case. Raises ``ValueError``
    quoting ``text`` and naming the bad part (root, date, right or strike digits).
    """
    if not isinstance(text, str):
        raise ValueError(f"OCC symbol {text!r}: expected a string")
    body = text.strip().upper()
    if body.startswith(MASSIVE_PREFIX):
        body = body[len(MASSIVE_PREFIX):]
    if len(body) < _TAIL_CHARS + 1:
        raise ValueError(
            f"OCC symbol {text!r}: too short: expected ROOT + YYMMDD + C/P + 8 strike digits"
        )
    head, tail = body[:-_TAIL_CHARS], body[-_TAIL_CHARS:]
    yymmdd, right, strike_digits = tail[:6], tail[6], tail[7:]

    root = head.rstrip(" ")
    if not root:
        raise ValueError(f"OCC symbol {text!r}: missing option root")
    if len(root) > ROOT_MAX_CHARS:
        raise ValueError(f"OCC symbol {text!r}: root {root!r} is longer than {ROOT_MAX_CHARS} characters")
    if not _ROOT_RE.fullmatch(root):
        raise ValueError(f"OCC symbol {text!r}: root {root!r} must be letters and digits only")
    if len(head) > ROOT_MAX_CHARS:
        raise ValueError(f"OCC symbol {text!r}: root field is padded past {ROOT_MAX_CHARS} characters")
    if not (yymmdd.isascii() and yymmdd.isdigit()):
        raise ValueError(f"OCC symbol {text!r}: expiry {yymmdd!r} is not six digits YYMMDD")
    try:
        expiry = date(2000 + int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6]))
    except ValueError as exc:
        raise ValueError(f"OCC symbol {text!r}: bad expiry date {yymmdd!r} ({exc})") from None
    if right not in ("C", "P"):
        raise ValueError(f"OCC symbol {text!r}: bad right {right!r}: expected 'C' or 'P'")
    if not (strike_digits.isascii() and strike_digits.isdigit()):
        raise ValueError(f"OCC symbol {text!r}: bad strike digits {strike_digits!r}: expected 8 digits")
    strike_milli = int(strike_digits)
    if strike_milli == 0:
        raise ValueError(f"OCC symbol {text!r}: strike is zero")
    return OptionSymbol(root=root, expiry=expiry, right="C" if right == "C" else "P", strike=strike_milli / 1000)


def format_occ(sym: OptionSymbol, style: OccStyle = "osi") -> str:
    """Write ``sym`` as OSI (21 chars, root space-padded to 6), Massive (``O:`` + compact) or compact."""
    tail = f"{sym.expiry:%y%m%d}{sym.right}{sym.strike_milli:08d}"
    if style == "osi":
        return f"{sym.root:<{ROOT_MAX_CHARS}}{tail}"
    if style == "compact":
        return sym.root + tail
    if style == "massive":
        return MASSIVE_PREFIX + sym.root + tail
    raise ValueError(f"OCC style {style!r}: expected 'osi', 'massive' or 'compact'")
