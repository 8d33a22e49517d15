"""`zdte serve` HTTP contract: paths, query names, envelope, errors, auth, plans, rate limit.

In-process (Starlette TestClient) against the deterministic fake service; the SDK and the
client tests run the same app under a real uvicorn server.
"""

from __future__ import annotations

import asyncio
import math
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zdte_tui.api import server as server_module
from zdte_tui.api.auth import RateLimiter, is_loopback_host, is_remote_client, parse_api_keys
from zdte_tui.api.server import DATA_AS_OF_FEEDS, ENDPOINT_PLANS, create_app, serve
from zdte_tui.service.protocol import ENDPOINT_VERSION, ServiceError

from .fake_service import FakeFlowService

with warnings.catch_warnings():  # starlette warns that its TestClient will move to httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

KEYS = {"free-key": "free", "basic-key": "basic", "growth-key": "growth", "alpha-key": "alpha"}
ALPHA = {"X-Api-Key": "alpha-key"}
Z = "/v1/flow/zero-dte"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(FakeFlowService(), api_keys=KEYS, rate_limit_per_minute=0))


# (url, service method name, kwargs): the URL's query names map to exactly these arguments
ENDPOINT_CALLS = [
    (f"{Z}/snapshot/SPY", "snapshot", {"symbol": "SPY"}),
    (f"{Z}/snapshot/SPY?expiry=2026-06-05", "snapshot", {"symbol": "SPY", "expiry": "2026-06-05"}),
    (f"{Z}/series/QQQ", "series", {"symbol": "QQQ"}),
    (f"{Z}/series/QQQ?bar=5m&minutes=120", "series", {"symbol": "QQQ", "bar": "5m", "minutes": 120}),
    (f"{Z}/series/QQQ?minutes=0", "series", {"symbol": "QQQ", "minutes": 0}),
    (f"{Z}/hedge-flow/SPX?side=puts&bar=1m&minutes=30", "hedge_flow",
     {"symbol": "SPX", "side": "puts", "bar": "1m", "minutes": 30}),
    (f"{Z}/heatmap/SPY?metric=vex&mode=delta&bar=1m&minutes=15", "heatmap",
     {"symbol": "SPY", "metric": "vex", "mode": "delta", "bar": "1m", "minutes": 15}),
    (f"{Z}/strike-flow/IWM?minutes=5", "strike_flow", {"symbol": "IWM", "minutes": 5}),
    (f"{Z}/leaderboard?metric=pin_risk&n=2", "leaderboard", {"metric": "pin_risk", "n": 2}),
    ("/v1/flow/signals/SPY?minScore=20&intent=bullish&structure=sweep&windowMinutes=120&limit=3&expiry=2026-06-05",
     "signals", {"symbol": "SPY", "min_score": 20.0, "intent": "bullish", "structure": "sweep",
                 "window_minutes": 120, "limit": 3, "expiry": "2026-06-05"}),
]


@pytest.mark.parametrize(("url", "method", "kwargs"), ENDPOINT_CALLS)
def test_endpoint_returns_the_service_dict_plus_envelope(client, url, method, kwargs):
    resp = client.get(url, headers=ALPHA)

    assert resp.status_code == 200
    body = resp.json()
    assert body.pop("endpoint_version") == ENDPOINT_VERSION
    data_as_of = body.pop("data_as_of")
    assert body == getattr(FakeFlowService(), method)(**kwargs)
    assert set(data_as_of) == {"node", *DATA_AS_OF_FEEDS}
    assert data_as_of["node"] == "zdte-fake" and data_as_of["index_feed"] is None


def test_symbol_is_trimmed_and_upper_cased(client):
    resp = client.get(f"{Z}/snapshot/%20spy%20", headers=ALPHA)

    assert resp.status_code == 200 and resp.json()["symbol"] == "SPY"


@pytest.mark.parametrize("url", [
    f"{Z}/series/SPY?minutes=abc",
    f"{Z}/series/SPY?minutes=1.5",
    f"{Z}/series/SPY?minutes=",
    f"{Z}/hedge-flow/SPY?minutes=99999999999999999999999",
    f"{Z}/leaderboard?n=ten",
    "/v1/flow/signals/SPY?minScore=nan",
    "/v1/flow/signals/SPY?minScore=inf",
    "/v1/flow/signals/SPY?minScore=high",
    "/v1/flow/signals/SPY?windowMinutes=1e3",
    "/v1/flow/signals/SPY?limit=%00",
    f"{Z}/series/SPY?bar=" + "x" * 100,
    f"{Z}/snapshot/" + "A" * 40,
])
def test_garbage_query_values_are_400_never_422_or_5xx(client, url):
    resp = client.get(url, headers=ALPHA)

    assert resp.status_code == 400
    assert resp.json()["error"] in ("invalid_parameter", "invalid_symbol")
    assert resp.json()["message"]


@pytest.mark.parametrize(("url", "status", "code"), [
    (f"{Z}/series/SPY?bar=2m", 400, "invalid_bar"),
    (f"{Z}/hedge-flow/SPY?bar=1h", 400, "invalid_bar"),
    (f"{Z}/hedge-flow/SPY?side=both", 400, "invalid_side"),
    (f"{Z}/heatmap/SPY?bar=5m", 400, "bar_unavailable"),
    (f"{Z}/strike-flow/SPY?bar=30s", 400, "bar_unavailable"),
    (f"{Z}/heatmap/SPY?metric=theta", 400, "invalid_metric"),
    (f"{Z}/heatmap/SPY?mode=log", 400, "invalid_mode"),
    (f"{Z}/leaderboard?metric=volume", 400, "invalid_metric"),
    (f"{Z}/snapshot/SPY?expiry=06/05/2026", 400, "invalid_expiry"),
    (f"{Z}/snapshot/SPY?expiry=2026-02-30", 400, "invalid_expiry"),
    ("/v1/flow/signals/SPY?intent=up", 400, "invalid_intent"),
    ("/v1/flow/signals/SPY?structure=spread", 400, "invalid_structure"),
    ("/v1/flow/signals/SPY?expiry=tomorrow", 400, "invalid_expiry"),
    (f"{Z}/snapshot/NOPE", 404, "unknown_symbol"),
    (f"{Z}/snapshot/SPY?expiry=2026-06-08", 404, "expiry_unavailable"),
    ("/v1/flow/signals/NOPE", 404, "unknown_symbol"),
    ("/v1/flow/zero-dte/unknown/SPY", 404, "not_found"),
])
def test_documented_error_codes_use_the_flashalpha_envelope(client, url, status, code):
    resp = client.get(url, headers=ALPHA)

    assert resp.status_code == status
    body = resp.json()
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]


def _expected_status(plan: str, required: str) -> int:
    order = ["free", "basic", "growth", "alpha"]
    return 200 if order.index(plan) >= order.index(required) else 403


GATED_URLS = {
    f"{Z}/snapshot/{{symbol}}": f"{Z}/snapshot/SPY",
    f"{Z}/series/{{symbol}}": f"{Z}/series/SPY",
    f"{Z}/hedge-flow/{{symbol}}": f"{Z}/hedge-flow/SPY",
    f"{Z}/heatmap/{{symbol}}": f"{Z}/heatmap/SPY",
    f"{Z}/strike-flow/{{symbol}}": f"{Z}/strike-flow/SPY",
    f"{Z}/leaderboard": f"{Z}/leaderboard",
    "/v1/flow/signals/{symbol}": "/v1/flow/signals/SPY",
    "/v1/heatmap": "/v1/heatmap?symbols=SPY",
    "/v1/zdte/status": "/v1/zdte/status",
}


def test_plan_table_matches_the_flashalpha_guide():
    growth = {p for p, plan in ENDPOINT_PLANS.items() if plan == "growth"}
    alpha = {p for p, plan in ENDPOINT_PLANS.items() if plan == "alpha"}

    assert growth == {f"{Z}/snapshot/{{symbol}}", f"{Z}/series/{{symbol}}", f"{Z}/hedge-flow/{{symbol}}",
                      "/v1/zdte/status", "/v1/zdte/control"}
    assert alpha == {f"{Z}/heatmap/{{symbol}}", f"{Z}/strike-flow/{{symbol}}", f"{Z}/leaderboard",
                     "/v1/flow/signals/{symbol}", "/v1/heatmap"}


@pytest.mark.parametrize("plan", ["free", "basic", "growth", "alpha"])
@pytest.mark.parametrize("template", sorted(GATED_URLS))
def test_plan_gating(client, template, plan):
    resp = client.get(GATED_URLS[template], headers={"X-Api-Key": f"{plan}-key"})

    expected = _expected_status(plan, ENDPOINT_PLANS[template])
    assert resp.status_code == expected
    if expected == 403:
        body = resp.json()
        detail = body["error"] if template == "/v1/heatmap" else body
        code = detail["code"] if template == "/v1/heatmap" else detail["error"]
        assert code == "tier_restricted"
        assert detail["current_plan"] == plan.capitalize()
        assert detail["required_plan"] == ENDPOINT_PLANS[template].capitalize()


@pytest.mark.parametrize("headers", [{}, {"X-Api-Key": "wrong"}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": "Basic alpha-key"}, {"X-Api-Key": "  "}])
def test_missing_or_unknown_key_is_401_unauthorized(client, headers):
    resp = client.get(f"{Z}/snapshot/SPY", headers=headers)

    assert resp.status_code == 401
    assert resp.json()["error"] == "unauthorized" and resp.json()["message"]


def test_bearer_token_is_accepted_like_x_api_key(client):
    assert client.get(f"{Z}/heatmap/SPY", headers={"Authorization": "Bearer alpha-key"}).status_code == 200
    assert client.get(f"{Z}/heatmap/SPY", headers={"authorization": "bearer alpha-key"}).status_code == 200


def test_health_openapi_and_docs_are_public(client):
    health = client.get("/")
    openapi = client.get("/openapi.json")

    assert health.status_code == 200
    assert health.json() == {"ok": True, "version": health.json()["version"], "endpoint_version": ENDPOINT_VERSION,
                             "source": "fake", "label": "FAKE (tests)", "simulated": True,
                             "symbols": ["IWM", "QQQ", "SPX", "SPY"], "auth": "api key"}
    assert client.get("/health").json() == {"status": "ok"}
    assert openapi.status_code == 200
    paths = openapi.json()["paths"]
    assert set(GATED_URLS) | {"/", "/health", "/v1/zdte/control"} <= set(paths)
    assert all("422" not in op["responses"] for item in paths.values() for op in item.values())


def test_rate_limit_is_a_token_bucket_per_key_with_retry_after():
    clock = FakeClock()
    client = TestClient(create_app(FakeFlowService(), api_keys=KEYS, rate_limit_per_minute=3, clock=clock))
    url = f"{Z}/leaderboard"

    first_three = [client.get(url, headers=ALPHA) for _ in range(3)]
    refused = client.get(url, headers=ALPHA)
    other_key = client.get(f"{Z}/snapshot/SPY", headers={"X-Api-Key": "growth-key"})
    clock.now += 19.0  # 3/min refills one token every 20 s
    still_refused = client.get(url, headers=ALPHA)
    clock.now += 1.0
    refilled = client.get(url, headers=ALPHA)

    assert [r.status_code for r in first_three] == [200, 200, 200]
    assert [r.headers["X-RateLimit-Remaining"] for r in first_three] == ["2", "1", "0"]
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "20"
    assert refused.json()["error"] == "rate_limited" and refused.json()["retry_after"] == 20
    assert other_key.status_code == 200
    assert still_refused.status_code == 429 and still_refused.headers["Retry-After"] == "1"
    assert refilled.status_code == 200


def test_public_endpoints_are_not_rate_limited():
    client = TestClient(create_app(FakeFlowService(), api_keys=KEYS, rate_limit_per_minute=1, clock=FakeClock()))

    assert [client.get("/").status_code for _ in range(3)] == [200, 200, 200]


@given(rate=st.integers(1, 10_000), requests=st.integers(1, 200))
@settings(max_examples=50, deadline=None)
def test_rate_limiter_admits_exactly_capacity_at_a_frozen_clock(rate, requests):
    limiter = RateLimiter(rate, clock=lambda: 5.0)

    admitted = sum(limiter.take("k")[0] for _ in range(requests))

    assert admitted == min(rate, requests)


def test_without_keys_the_app_is_open_to_loopback_clients_only():
    app = create_app(FakeFlowService(), api_keys=None)
    local = TestClient(app, client=("127.0.0.1", 40000))
    local_v6 = TestClient(app, client=("::1", 40000))
    remote = TestClient(app, client=("203.0.113.9", 40000))

    assert local.get(f"{Z}/heatmap/SPY").status_code == 200  # open means every endpoint, as Alpha
    assert local_v6.get("/v1/flow/signals/SPY").status_code == 200
    refused = remote.get(f"{Z}/snapshot/SPY")
    assert refused.status_code == 403 and refused.json()["error"] == "loopback_only"
    assert local.get("/").json()["auth"] == "open (loopback only)"


def test_require_auth_true_without_keys_rejects_everyone():
    client = TestClient(create_app(FakeFlowService(), api_keys=None, require_auth=True))

    assert client.get(f"{Z}/snapshot/SPY", headers=ALPHA).status_code == 401


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
def test_serve_refuses_a_non_loopback_bind_without_keys_before_binding(monkeypatch, host):
    def must_not_bind(*args, **kwargs):
        raise AssertionError("serve() reached uvicorn")

    monkeypatch.setattr(server_module, "uvicorn_server", must_not_bind)

    with pytest.raises(ValueError, match="without API keys"):
        serve(FakeFlowService(), host=host, port=0, api_keys=None)


def test_serve_accepts_a_non_loopback_bind_with_keys(monkeypatch):
    bound = {}

    class NoRun:
        def run(self):
            bound["ran"] = True

    monkeypatch.setattr(server_module, "uvicorn_server",
                        lambda app, host, port, **kw: bound.update(host=host) or NoRun())

    serve(FakeFlowService(), host="0.0.0.0", port=0, api_keys={"k": "alpha"})

    assert bound == {"host": "0.0.0.0", "ran": True}


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("LOCALHOST", True), ("0.0.0.0", False), ("::", False), ("10.0.0.1", False), ("", False),
    ("example.com", False),
])
def test_is_loopback_host(host, loopback):
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(("peer", "remote"), [
    ("127.0.0.1", False), ("::1", False), ("::ffff:127.0.0.1", False), ("testclient", False), (None, False),
    ("203.0.113.9", True), ("::ffff:203.0.113.9", True), ("fe80::1", True),
])
def test_is_remote_client(peer, remote):
    assert is_remote_client(peer) is remote


def test_parse_api_keys_from_flags_and_env():
    keys = parse_api_keys(["K1:growth", "K2", " K3 : Basic "], env_value="E1:alpha, E2:free,,")

    assert keys == {"E1": "alpha", "E2": "free", "K1": "growth", "K2": "alpha", "K3": "basic"}
    assert parse_api_keys(["a:b:growth"]) == {"a:b": "growth"}
    assert parse_api_keys([], env_value=None) == {}


@pytest.mark.parametrize("spec", ["K:platinum", ":alpha", "K:"])
def test_parse_api_keys_rejects_bad_entries(spec):
    with pytest.raises(ValueError):
        parse_api_keys([spec])


def test_status_and_control_round_trip(client):
    headers = {"X-Api-Key": "growth-key"}

    before = client.get("/v1/zdte/status", headers=headers).json()
    paused = client.post("/v1/zdte/control", json={"action": "pause"}, headers=headers).json()
    stepped = client.post("/v1/zdte/control", json={"action": "step", "value": 60}, headers=headers).json()
    seeked = client.post("/v1/zdte/control", json={"action": "seek", "value": "10:15"}, headers=headers).json()

    assert before["clock"]["paused"] is False and paused["clock"]["paused"] is True
    assert stepped["session_time"] == "2026-06-05T18:46:00Z"
    assert seeked["session_time"] == "2026-06-05T14:15:00Z"


@pytest.mark.parametrize(("body", "code"), [
    ({"action": "rewind"}, "invalid_action"),
    ({"action": "step", "value": "soon"}, "invalid_value"),
    ({"action": "seek", "value": "25:99"}, "invalid_value"),
    ({"value": 1}, "invalid_parameter"),
    ({"action": ["pause"]}, "invalid_parameter"),
    ("not json", "invalid_parameter"),
])
def test_control_errors_are_400(client, body, code):
    headers = {"X-Api-Key": "growth-key"}
    if isinstance(body, str):
        resp = client.post("/v1/zdte/control", content=body, headers={**headers, "Content-Type": "application/json"})
    else:
        resp = client.post("/v1/zdte/control", json=body, headers=headers)

    assert resp.status_code == 400 and resp.json()["error"] == code


def test_control_on_a_live_source_reports_the_service_status_code():
    client = TestClient(create_app(FakeFlowService(controllable=False), api_keys=KEYS, rate_limit_per_minute=0))

    resp = client.post("/v1/zdte/control", json={"action": "pause"}, headers=ALPHA)

    assert resp.status_code == 409 and resp.json()["error"] == "not_controllable"


class _QuirkyService(FakeFlowService):
    """Returns NaN and numpy scalars, fails unexpectedly on one call, and notes where it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.ran_inside_event_loop: list[bool] = []

    def snapshot(self, symbol, expiry=None):
        try:
            asyncio.get_running_loop()
            self.ran_inside_event_loop.append(True)
        except RuntimeError:
            self.ran_inside_event_loop.append(False)
        import numpy as np

        return {"symbol": symbol, "underlying_price": np.float32(1.5), "pin": float("nan"), "n": np.int64(3),
                "levels": [math.inf, 2.0]}

    def leaderboard(self, metric="heat", n=10):
        raise RuntimeError("engine exploded")


def test_service_runs_in_the_thread_pool_and_non_finite_floats_become_null():
    service = _QuirkyService()
    client = TestClient(create_app(service, api_keys=KEYS))

    body = client.get(f"{Z}/snapshot/SPY", headers=ALPHA).json()

    assert service.ran_inside_event_loop == [False]
    assert (body["underlying_price"], body["pin"], body["n"], body["levels"]) == (1.5, None, 3, [None, 2.0])


def test_an_unexpected_service_failure_is_500_internal_error():
    client = TestClient(create_app(_QuirkyService(), api_keys=KEYS), raise_server_exceptions=False)

    resp = client.get(f"{Z}/leaderboard", headers=ALPHA)

    assert resp.status_code == 500 and resp.json()["error"] == "internal_error"


def test_service_error_extras_are_passed_through():
    class Extra(FakeFlowService):
        def series(self, symbol, bar="30s", minutes=60):
            raise ServiceError("no_strike_data_for_window", "legacy rows only", status=400, window_minutes=minutes)

    client = TestClient(create_app(Extra(), api_keys=KEYS))

    body = client.get(f"{Z}/series/SPY?minutes=7", headers=ALPHA).json()

    assert body == {"error": "no_strike_data_for_window", "message": "legacy rows only", "window_minutes": 7}
