"""The official ``flashalpha`` SDK (1.3.0) works against ``zdte serve`` as a drop-in base URL.

A real uvicorn server on a free loopback port; the SDK builds the URLs, query names and
headers itself, and its exception classes are what 400/401/403/404/429 must map to.
"""

from __future__ import annotations

import pytest
from flashalpha import (
    AuthenticationError,
    FlashAlpha,
    FlashAlphaError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TierRestrictedError,
)

from zdte_tui.api.server import ServerThread, create_app
from zdte_tui.service.protocol import ENDPOINT_VERSION

from .fake_service import FakeFlowService

KEYS = {"alpha-key": "alpha", "growth-key": "growth", "basic-key": "basic"}


@pytest.fixture(scope="module")
def server():
    with ServerThread(create_app(FakeFlowService(), api_keys=KEYS, rate_limit_per_minute=0)) as srv:
        yield srv


@pytest.fixture(scope="module")
def fa(server) -> FlashAlpha:
    return FlashAlpha("alpha-key", base_url=server.base_url, timeout=10)


def _without_envelope(body: dict) -> dict:
    assert body.pop("endpoint_version") == ENDPOINT_VERSION
    assert body.pop("data_as_of")["node"] == "zdte-fake"
    return body


@pytest.mark.parametrize(("sdk_call", "service_call"), [
    (lambda fa: fa.flow_zero_dte_snapshot("spy"), lambda s: s.snapshot("SPY")),
    (lambda fa: fa.flow_zero_dte_snapshot("SPY", expiry="2026-06-05"), lambda s: s.snapshot("SPY", "2026-06-05")),
    (lambda fa: fa.flow_zero_dte_series("QQQ", bar="1m", minutes=20), lambda s: s.series("QQQ", "1m", 20)),
    (lambda fa: fa.flow_zero_dte_hedge_flow("SPY", side="puts", bar="15m", minutes=390),
     lambda s: s.hedge_flow("SPY", "puts", "15m", 390)),
    (lambda fa: fa.flow_zero_dte_heatmap("SPX", metric="chex", mode="delta", bar="1m", minutes=5),
     lambda s: s.heatmap("SPX", "chex", "delta", "1m", 5)),
    (lambda fa: fa.flow_zero_dte_strike_flow("IWM", bar="1m", minutes=4), lambda s: s.strike_flow("IWM", "1m", 4)),
    (lambda fa: fa.flow_zero_dte_leaderboard(metric="abs_flow", n=3), lambda s: s.leaderboard("abs_flow", 3)),
    (lambda fa: fa.flow_signals("SPY", min_score=30, intent="bullish", structure="block", window_minutes=300,
                                limit=5, expiry="2026-06-05"),
     lambda s: s.signals("SPY", 30, "bullish", "block", 300, 5, "2026-06-05")),
])
def test_sdk_call_returns_the_service_response(fa, sdk_call, service_call):
    assert _without_envelope(sdk_call(fa)) == service_call(FakeFlowService())


def test_sdk_health(fa):
    assert fa.health() == {"status": "ok"}


def test_sdk_400_is_flashalpha_error_with_the_documented_code(fa):
    with pytest.raises(FlashAlphaError) as err:
        fa.flow_zero_dte_heatmap("SPY", bar="5m")

    assert type(err.value) is FlashAlphaError
    assert err.value.status_code == 400 and err.value.response["error"] == "bar_unavailable"


def test_sdk_garbage_number_is_400_not_422(server):
    raw = FlashAlpha("alpha-key", base_url=server.base_url)
    with pytest.raises(FlashAlphaError) as err:
        raw._get("/v1/flow/zero-dte/series/SPY", {"minutes": "abc"})

    assert err.value.status_code == 400 and err.value.response["error"] == "invalid_parameter"


def test_sdk_404_is_not_found_error(fa):
    with pytest.raises(NotFoundError) as err:
        fa.flow_zero_dte_snapshot("NOPE")

    assert err.value.response["error"] == "unknown_symbol"


@pytest.mark.parametrize("key", ["", "not-a-key"])
def test_sdk_401_is_authentication_error(server, key):
    with pytest.raises(AuthenticationError) as err:
        FlashAlpha(key, base_url=server.base_url).flow_zero_dte_snapshot("SPY")

    assert err.value.status_code == 401 and err.value.response["error"] == "unauthorized"


@pytest.mark.parametrize(("key", "call", "current", "required"), [
    ("growth-key", lambda fa: fa.flow_zero_dte_heatmap("SPY"), "Growth", "Alpha"),
    ("growth-key", lambda fa: fa.flow_signals("SPY"), "Growth", "Alpha"),
    ("basic-key", lambda fa: fa.flow_zero_dte_snapshot("SPY"), "Basic", "Growth"),
])
def test_sdk_403_is_tier_restricted_error_with_plan_names(server, key, call, current, required):
    with pytest.raises(TierRestrictedError) as err:
        call(FlashAlpha(key, base_url=server.base_url))

    assert (err.value.current_plan, err.value.required_plan) == (current, required)


def test_sdk_429_is_rate_limit_error_with_retry_after():
    app = create_app(FakeFlowService(), api_keys={"k": "alpha"}, rate_limit_per_minute=2, clock=lambda: 0.0)
    with ServerThread(app) as srv:
        fa = FlashAlpha("k", base_url=srv.base_url, timeout=10)
        fa.flow_zero_dte_leaderboard()
        fa.flow_zero_dte_leaderboard()
        with pytest.raises(RateLimitError) as err:
            fa.flow_zero_dte_leaderboard()

    assert err.value.retry_after == 30 and err.value.response["error"] == "rate_limited"


def test_sdk_never_sees_a_server_error_for_odd_inputs(fa):
    odd_calls = [
        lambda: fa.flow_zero_dte_series("SPY", minutes=-5),
        lambda: fa.flow_zero_dte_series("SPY", minutes=10**6),
        lambda: fa.flow_zero_dte_leaderboard(n=0),
        lambda: fa.flow_signals("SPY", min_score=-1, window_minutes=0, limit=10**5),
        lambda: fa.flow_zero_dte_snapshot("S P Y"),
        lambda: fa.flow_zero_dte_snapshot("../etc"),
    ]
    for call in odd_calls:
        try:
            call()
        except ServerError as exc:  # pragma: no cover - the failure we are guarding against
            pytest.fail(f"5xx: {exc}")
        except FlashAlphaError as exc:
            assert 400 <= exc.status_code < 500
