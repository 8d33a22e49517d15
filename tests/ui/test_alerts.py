"""Alerts (issue 13, "alerts that reach the trader"): what fires between two snapshots, the
webhook with retries against a loopback HTTP server, the desktop notifier, and the app's toast,
bell, log file and log screen."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from zdte_tui.ui.alerts import Alert, AlertRules, desktop_command, detect_alerts, post_webhook
from zdte_tui.ui.screens.alert_log import AlertLogScreen

from .fake_service import FakeFlowService
from .helpers import settle


def snap(spot, flip=590.0, cw=595.0, pw=585.0, regime="positive_gamma", pin=0.3, severity="info"):
    return {"underlying_price": spot, "as_of": "2026-06-05T18:45:00Z",
            "regime": {"label": regime, "gamma_flip": flip}, "levels": {"call_wall": cw, "put_wall": pw},
            "probabilities": {"pin": {"value": pin}}, "pin_risk": {"magnet_strike": 590.0},
            "headline": {"severity": severity, "narrative": "pin locking"}}


RULES = AlertRules(desktop=False)


def rules_of(alerts):
    return [a.rule for a in alerts]


def test_first_snapshot_only_sets_the_baseline():
    assert detect_alerts("SPY", None, snap(591.0), RULES) == []


def test_spot_crossing_the_flip_fires_once_each_way():
    down = detect_alerts("SPY", snap(590.4), snap(589.6), RULES)
    assert rules_of(down) == ["flip"] and "crossed the gamma flip 590 downward" in down[0].message
    assert rules_of(detect_alerts("SPY", snap(589.6), snap(590.0), RULES)) == ["flip"]  # at the flip = above
    assert detect_alerts("SPY", snap(591.0), snap(592.0), RULES) == []


def test_walls_fire_on_a_break_above_the_call_wall_or_below_the_put_wall():
    up = detect_alerts("SPY", snap(594.5), snap(595.2), RULES)
    assert rules_of(up) == ["walls"] and "above the call wall 595" in up[0].message
    down = detect_alerts("SPY", snap(585.3, flip=580), snap(584.9, flip=580), RULES)
    assert rules_of(down) == ["walls"] and "below the put wall 585" in down[0].message


def test_regime_pin_and_severity():
    fired = detect_alerts("SPY", snap(591.0), snap(591.0, regime="negative_gamma", pin=0.55, severity="alert"), RULES)
    assert rules_of(fired) == ["regime", "pin", "severity"]
    assert "pin odds at 590 rose to 55% (threshold 50%)" in fired[1].message


def test_signals_over_the_score_fire_once_and_rules_can_be_switched_off():
    signals = [{"ts": "2026-06-05T18:44:00Z", "score": 90, "strike": 595.0, "right": "C", "structure": "sweep",
                "premium": 1.2e6, "intent": "bullish"},
               {"ts": "2026-06-05T18:44:30Z", "score": 60},
               {"ts": "2026-06-05T18:40:00Z", "score": 99}]  # already seen
    fired = detect_alerts("SPY", snap(591), snap(591), RULES, signals, seen_signal_ts="2026-06-05T18:43:00Z")
    assert rules_of(fired) == ["signal"] and "signal 90: 595C sweep $1.20M bullish" in fired[0].message
    off = AlertRules(desktop=False, rules=frozenset({"walls"}))
    assert detect_alerts("SPY", snap(590.4), snap(589.6, regime="negative_gamma"), off) == []
    assert detect_alerts("SPY", snap(590.4), snap(589.6), AlertRules(enabled=False)) == []


def test_desktop_notifier_is_detected_per_os():
    alert = Alert("SPY", "flip", "crossed")
    assert desktop_command(alert, system="Linux", which=lambda n: "/usr/bin/" + n if n == "notify-send" else None)[0] \
        == "notify-send"
    assert desktop_command(alert, system="Darwin", which=lambda n: "/usr/bin/osascript")[0] == "osascript"
    assert desktop_command(alert, system="Linux", which=lambda n: None) is None


class _Hook(BaseHTTPRequestHandler):
    statuses: list[int] = []
    bodies: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server API
        length = int(self.headers.get("Content-Length") or 0)
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        status = type(self).statuses.pop(0) if type(self).statuses else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook_server():
    _Hook.statuses, _Hook.bodies = [], []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Hook
    server.shutdown()
    server.server_close()


def test_webhook_retries_server_errors_then_delivers_discord_and_slack_json(hook_server):
    url, hook = hook_server
    hook.statuses = [500, 503, 200]
    waits = []
    attempts = post_webhook(url, Alert("SPY", "flip", "crossed the flip", "2026-06-05T18:45:00Z"), retries=3,
                            sleep=waits.append)
    assert attempts == 3 and waits == [0.5, 1.0]
    body = hook.bodies[-1]
    assert body["content"] == body["text"] and "SPY" in body["text"] and "crossed the flip" in body["text"]


def test_webhook_gives_up_on_a_client_error_without_retrying(hook_server):
    url, hook = hook_server
    hook.statuses = [404]
    with pytest.raises(RuntimeError, match="HTTP 404"):
        post_webhook(url, Alert("SPY", "flip", "x"), retries=3, sleep=lambda s: None)
    assert len(hook.bodies) == 1


def test_webhook_reports_an_unreachable_server_after_every_retry():
    with pytest.raises(RuntimeError, match="3 attempt"):
        post_webhook("http://127.0.0.1:9/none", Alert("SPY", "flip", "x"), retries=3, sleep=lambda s: None, timeout=1)


async def test_pin_odds_crossing_in_replay_toasts_rings_logs_and_lists(make_app, tmp_path):
    service = FakeFlowService(source="replay", at="10:00")
    log = tmp_path / "alerts.log"
    app = make_app(mode="replay", service=service,
                   alert_rules=AlertRules(desktop=False, rules=frozenset({"pin"}), log_file=str(log)))
    bells = []
    app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
    assert service.snapshot("SPY")["probabilities"]["pin"]["value"] < 0.5
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        assert app.alert_log == []
        await pilot.press("g")
        await pilot.pause()
        await pilot.press(*"15:30", "enter")
        await settle(pilot)
        assert service.snapshot("SPY")["probabilities"]["pin"]["value"] >= 0.5
        assert [a.rule for a in app.alert_log] == ["pin"] and bells == [1]
        assert any("pin" in (n.title or "") for n in app._notifications)
        await app.workers.wait_for_complete()
        logged = [json.loads(line) for line in log.read_text().splitlines()]
        assert logged[0]["rule"] == "pin" and logged[0]["symbol"] == "SPY" and "pin odds at 590" in logged[0]["message"]
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AlertLogScreen)


def test_config_alert_section_loads_and_names_the_same_rules(tmp_path):
    from zdte_tui.config import ALERT_RULES, ConfigError, load_config
    from zdte_tui.ui.alerts import RULES

    assert tuple(ALERT_RULES) == RULES
    path = tmp_path / "config.toml"
    path.write_text('[alerts]\nrules = ["flip", "pin"]\npin_threshold = 0.6\nwebhook_url = "http://127.0.0.1:9/x"\n')
    alerts = load_config(str(path)).alerts
    assert alerts.rules == ("flip", "pin") and alerts.pin_threshold == 0.6 and alerts.enabled
    path.write_text('[alerts]\nrules = ["flips"]\n')
    with pytest.raises(ConfigError, match="alerts.rules"):
        load_config(str(path))


def test_the_alert_log_lists_newest_session_time_first_and_names_the_symbol_once():
    """Try-out (replay x60): a signal alert is found a poll after its print, so arrival order read
    10:32:39 regime, 10:28:12 signal, 10:28:52 flip; and each row said `SPY ... SPY`."""
    from zdte_tui.ui.alerts import Alert
    from zdte_tui.ui.screens.alert_log import alert_log_markup

    arrived = [Alert("SPY", "flip", "spot 764.04 crossed the gamma flip 765.03 downward", "2026-12-01T15:28:52Z"),
               Alert("SPY", "regime", "regime flipped to -GAMMA", "2026-12-01T15:32:39Z"),
               Alert("SPY", "signal", "signal 96: 764P sweep $5.00M bearish", "2026-12-01T15:28:12Z")]
    rows = [line for line in alert_log_markup(arrived, None).splitlines() if line.startswith("[b cyan]SPY")]
    assert [row.split("[/b cyan] ")[1][:8] for row in rows] == ["10:32:39", "10:28:52", "10:28:12"]
    assert all(row.count("SPY") == 1 for row in rows)
