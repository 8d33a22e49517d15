"""Alerts that reach the trader: what fires (pure detection) and where it goes (delivery helpers).

Rules (each can be switched off in ``[alerts] rules``), compared between two successive snapshots
of one symbol, so the first snapshot only sets the baseline:

- ``flip``: spot crossed the gamma flip (either way);
- ``walls``: spot broke above the call wall or below the put wall;
- ``regime``: the gamma regime changed (``+GAMMA`` <-> ``-GAMMA``);
- ``pin``: the pin probability rose through ``pin_threshold``;
- ``signal``: a new scored signal at or above ``signal_score``;
- ``severity``: the headline severity became ``alert``.

Delivery: a toast and the terminal bell always (when enabled); a desktop notification where the
OS has a notifier (``notify-send`` on Linux, ``osascript`` on macOS, detected with
:func:`desktop_command`); an optional webhook (one JSON body that Discord reads as ``content``
and Slack as ``text``) posted with retries by :func:`post_webhook`; every alert appended as a JSON
line to the alert log file (:func:`default_log_path`).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zdte_tui.ui import formatting as fmt

if TYPE_CHECKING:
    import httpx

RULES = ("flip", "walls", "regime", "pin", "signal", "severity")


@dataclass(frozen=True)
class AlertRules:
    """What fires and where it goes (the ``[alerts]`` config section maps onto this)."""

    enabled: bool = True
    bell: bool = True
    desktop: bool = True
    webhook_url: str = ""
    webhook_retries: int = 3
    pin_threshold: float = 0.5
    signal_score: int = 85
    rules: frozenset[str] = field(default_factory=lambda: frozenset(RULES))
    log_file: str = ""  # "" = default_log_path()


@dataclass(frozen=True)
class Alert:
    symbol: str
    rule: str
    message: str
    at: str | None = None  # session time (ISO UTC) of the snapshot that fired it

    def to_json(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "rule": self.rule, "message": self.message, "at": self.at}

    @property
    def line(self) -> str:
        return f"{fmt.et_clock(self.at, seconds=True)} {self.symbol} {self.message}"


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _crossed(prev_spot: float | None, spot: float | None, prev_level: float | None, level: float | None) -> int:
    """+1 when spot went from below to at/above the level, -1 for the reverse, else 0."""
    if None in (prev_spot, spot, prev_level, level):
        return 0
    before, after = prev_spot >= prev_level, spot >= level  # type: ignore[operator]
    return 0 if before == after else (1 if after else -1)


def detect_alerts(
    symbol: str,
    previous: Mapping[str, Any] | None,
    snapshot: Mapping[str, Any] | None,
    rules: AlertRules,
    signals: Sequence[Mapping[str, Any]] = (),
    seen_signal_ts: str | None = None,
) -> list[Alert]:
    """Alerts between two snapshots (none on the first one) plus new signals after ``seen_signal_ts``."""
    if not rules.enabled or not snapshot or not previous:
        return []
    out: list[Alert] = []
    at = snapshot.get("as_of")
    spot, prev_spot = _num(snapshot.get("underlying_price")), _num(previous.get("underlying_price"))

    def level(snap: Mapping[str, Any], *keys: str) -> float | None:
        return _num(fmt.dig(snap, *keys))

    if "flip" in rules.rules:
        flip = level(snapshot, "regime", "gamma_flip")
        way = _crossed(prev_spot, spot, level(previous, "regime", "gamma_flip"), flip)
        if way:
            out.append(
                Alert(
                    symbol,
                    "flip",
                    f"spot {fmt.price(spot)} crossed the gamma flip {fmt.strike(flip)} "
                    f"{'upward' if way > 0 else 'downward'}",
                    at,
                )
            )
    if "walls" in rules.rules:
        cw = level(snapshot, "levels", "call_wall")
        if _crossed(prev_spot, spot, level(previous, "levels", "call_wall"), cw) > 0:
            out.append(Alert(symbol, "walls", f"spot {fmt.price(spot)} broke above the call wall {fmt.strike(cw)}", at))
        pw = level(snapshot, "levels", "put_wall")
        if _crossed(prev_spot, spot, level(previous, "levels", "put_wall"), pw) < 0:
            out.append(Alert(symbol, "walls", f"spot {fmt.price(spot)} broke below the put wall {fmt.strike(pw)}", at))
    if "regime" in rules.rules:
        regime, before = fmt.dig(snapshot, "regime", "label"), fmt.dig(previous, "regime", "label")
        if regime and before and regime != before:
            out.append(Alert(symbol, "regime", f"regime flipped to {fmt.regime_name(regime)}", at))
    if "pin" in rules.rules:
        pin, before = level(snapshot, "probabilities", "pin", "value"), level(previous, "probabilities", "pin", "value")
        if pin is not None and before is not None and before < rules.pin_threshold <= pin:
            strike = fmt.dig(snapshot, "pin_risk", "magnet_strike")
            out.append(
                Alert(
                    symbol,
                    "pin",
                    f"pin odds at {fmt.strike(strike)} rose to {fmt.percent(pin)} "
                    f"(threshold {fmt.percent(rules.pin_threshold)})",
                    at,
                )
            )
    if "severity" in rules.rules:
        severity, before = fmt.dig(snapshot, "headline", "severity"), fmt.dig(previous, "headline", "severity")
        if severity == "alert" and before != "alert":
            out.append(
                Alert(
                    symbol, "severity", fmt.dig(snapshot, "headline", "narrative", default="severity is now ALERT"), at
                )
            )
    if "signal" in rules.rules and seen_signal_ts is not None:
        for s in sorted(signals, key=lambda s: s.get("ts") or ""):
            if (s.get("ts") or "") > seen_signal_ts and (s.get("score") or 0) >= rules.signal_score:
                out.append(
                    Alert(
                        symbol,
                        "signal",
                        f"signal {s.get('score')}: {fmt.strike(s.get('strike'))}"
                        f"{s.get('right') or ''} {s.get('structure') or ''} "
                        f"{fmt.money_short(s.get('premium'))} {s.get('intent') or ''}".rstrip(),
                        s.get("ts") or at,
                    )
                )
    return out


def newest_signal_ts(signals: Sequence[Mapping[str, Any]]) -> str:
    return max((s.get("ts") or "" for s in signals), default="")


# ------------------------------------------------------------------ delivery
def default_log_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/zdte/alerts.log`` (``~/.local/state/zdte/alerts.log``)."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "zdte" / "alerts.log"


def append_log(path: Path, alert: Alert) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(alert.to_json()) + "\n")


def desktop_command(
    alert: Alert, *, system: str | None = None, which: Callable[[str], str | None] = shutil.which
) -> list[str] | None:
    """The argv that shows ``alert`` as a desktop notification, or None where there is no notifier."""
    system = system or platform.system()
    title = f"zdte {alert.symbol}"
    if system == "Darwin" and which("osascript"):
        script = f"display notification {json.dumps(alert.message)} with title {json.dumps(title)}"
        return ["osascript", "-e", script]
    if which("notify-send"):
        return ["notify-send", "--app-name=zdte", title, alert.message]
    return None


def webhook_body(alert: Alert) -> dict[str, Any]:
    """One JSON body for both: Discord shows ``content``, Slack shows ``text``."""
    text = f"**{alert.symbol}** {alert.message}" if alert.at is None else f"**{alert.symbol}** {alert.line}"
    return {"content": text, "text": text, "username": "zdte", "zdte": alert.to_json()}


def post_webhook(
    url: str,
    alert: Alert,
    *,
    retries: int = 3,
    timeout: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    client: httpx.Client | None = None,
) -> int:
    """POST the alert; retry on network errors, 429 and 5xx with 0.5 s, 1 s, 2 s... backoff
    (honouring a numeric ``Retry-After``). Returns the attempts made; raises ``RuntimeError``
    with the last failure when every attempt failed (a 4xx other than 429 is not retried)."""
    import httpx  # only when a webhook is sent: ~0.1 s of import kept off the start path

    own = client is None
    http = client or httpx.Client(timeout=timeout)
    last = "no attempt"
    try:
        for attempt in range(1, max(1, retries) + 1):
            delay = 0.5 * 2 ** (attempt - 1)
            try:
                resp = http.post(url, json=webhook_body(alert))
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code < 300:
                    return attempt
                last = f"HTTP {resp.status_code}"
                if resp.status_code != 429 and resp.status_code < 500:
                    break
                retry_after = resp.headers.get("Retry-After", "")
                if retry_after.replace(".", "", 1).isdigit():
                    delay = min(30.0, float(retry_after))
            if attempt < retries:
                sleep(delay)
        raise RuntimeError(f"webhook failed after {attempt} attempt(s): {last}")
    finally:
        if own:
            http.close()
