"""`zdte record` prints a sentence, not a dataclass repr."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from zdte_tui.market.calendar import et_clock_to_ns
from zdte_tui.sources.recorder import RecordSummary


def test_record_summary_reads_as_a_sentence_with_eastern_times():
    day = dt.date(2025, 2, 20)
    s = RecordSummary(path=Path("day.zdte"), events=1234, batches=56, rows=78901,
                      first_ns=et_clock_to_ns(day, "09:30"), last_ns=et_clock_to_ns(day, "16:00"),
                      stopped_by="duration", finalized=True)
    assert str(s) == ("wrote day.zdte: 1,234 events (56 batches, 78,901 rows), 2025-02-20 09:30:00-16:00:00 ET; "
                      "stopped by the duration elapsed")


def test_record_summary_without_timed_events_says_so():
    s = RecordSummary(path=Path("x.zdte"), events=0, batches=0, rows=3, first_ns=None, last_ns=None,
                      stopped_by="exhausted", finalized=True)
    assert str(s) == "wrote x.zdte: 0 events (0 batches, 3 rows), no events with a time; stopped by the source ended"
