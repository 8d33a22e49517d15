"""Make ``v1_spy_qqq.zdte`` and ``v1_spy_qqq.events.json`` with the format-1 writer and reader.

Runs only against zdte_tui at commit aeb39e9 (format 1), from the repository root:
``python tests/data/store/make_v1_fixture.py tests/data/store/v1_spy_qqq.zdte tests/data/store/v1_spy_qqq.events.json``
"""

import datetime as dt
import json
import sys
import zlib

import numpy as np

sys.path.insert(0, "tests")
from store.test_store import OPEN_NS, SESSION, S, batch, chain  # noqa: E402

from zdte_tui.market.events import EventBatch, FeedStatus, VolContext  # noqa: E402
from zdte_tui.store.reader import Recording  # noqa: E402
from zdte_tui.store.writer import write_recording  # noqa: E402

events = [chain("SPY")]
for i in range(12):
    for j, s in enumerate(("SPY", "QQQ")):
        events.append(batch(s, OPEN_NS + i * 10 * S, OPEN_NS + (i + 1) * 10 * S, seed=100 * i + j))
        if i == 0 and s == "SPY":
            events.append(chain("QQQ", base=520.0))  # defined after SPY's first batch, as the simulator does
events.insert(5, VolContext("SPY", OPEN_NS + 5 * S, term_expiry=dt.date(2025, 2, 27), term_atm_iv=0.18, vix=17.0,
                            origin="fixture"))
events.append(FeedStatus("gap_start", OPEN_NS + 40 * S, "QQQ", "equity_feed", "stale", count=2))
write_recording(sys.argv[1], events, source="sim", simulated=True, session_date=SESSION, symbols=("SPY", "QQQ"),
                notes=["format-1 fixture"], truth={"SPY": {"customer_side": np.array([1, -1, 1], dtype=np.int8)}})
out = []
for e in Recording.open(sys.argv[1]).events():
    if isinstance(e, EventBatch):
        crc = 0
        for part in (e.spot, e.quotes, e.trades):
            for f in part.__dataclass_fields__:
                crc = zlib.crc32(getattr(part, f).tobytes(), crc)
        out.append(["EventBatch", e.underlying, e.start_ns, e.end_ns, len(e.spot), len(e.quotes), len(e.trades), crc])
    else:
        out.append([type(e).__name__, e.underlying])
with open(sys.argv[2], "w") as fh:
    json.dump(out, fh, indent=0)
