"""One dollar formatter for the decision text and the TUI (zdte_tui/market/money.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zdte_tui.market.money import usd_short


@pytest.mark.parametrize("value, kwargs, expected", [
    (1.84e9, {}, "$1.84B"),
    (-9.2e6, {}, "-$9.20M"),
    (123.4e6, {}, "$123M"),
    (950.0, {}, "$950"),
    (0.0, {"signed": True}, "$0"),
    (2.5e3, {"signed": True}, "+$2.50K"),
    (1.84e9, {"signed": True, "digits": 1}, "+$1.8B"),       # the decision layer's sentences
    (-3.0e12, {"digits": 1}, "-$3.0T"),
    (np.int64(4_000_000), {}, "$4.00M"),
    (None, {}, "--"),
    (None, {"missing": "n/a"}, "n/a"),
    (math.nan, {}, "--"),
    (math.inf, {}, "--"),
    ("12", {}, "--"),
    (True, {}, "--"),
])
def test_usd_short_hand_cases(value, kwargs, expected):
    assert usd_short(value, **kwargs) == expected
