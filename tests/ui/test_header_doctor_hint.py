"""The header points at `zdte doctor` when a live feed fails, and only then."""

from __future__ import annotations

from zdte_tui.ui.widgets.header import DOCTOR_HINT, header_lines

LIVE = {"source": "massive", "label": "MASSIVE LIVE SPY", "session_time": "2026-06-05T18:45:00Z"}


def test_a_feed_that_is_down_points_at_zdte_doctor():
    status = {**LIVE, "feed_health": {"channels": {"options": {"connected": False, "retry_in_s": 3.6}}}}
    top, _ = header_lines(status, {}, "SPY", [], "monitor")
    assert "FEED DOWN options (retry 4s)" in top.plain and "run `zdte doctor`" in top.plain


def test_a_live_feed_error_points_at_zdte_doctor():
    status = {**LIVE, "errors": ["massive: /v3/snapshot/options/SPY refused (HTTP 401)"],
              "feed_health": {"channels": {}}}
    _, bottom = header_lines(status, {}, "SPY", [], "monitor")
    assert "HTTP 401" in bottom.plain and DOCTOR_HINT in bottom.plain


def test_a_healthy_feed_and_the_simulator_have_no_hint():
    healthy = {**LIVE, "feed_health": {"channels": {"options": {"connected": True, "stale": False}}}}
    sim = {"source": "sim", "simulated": True, "session_time": "2026-06-05T18:45:00Z", "errors": ["heatmap: boom"]}
    for status in (healthy, sim):
        top, bottom = header_lines(status, {}, "SPY", [], "monitor")
        assert "zdte doctor" not in top.plain + bottom.plain
