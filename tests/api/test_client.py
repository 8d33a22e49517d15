"""``FlowClient`` over a real uvicorn server returns what the service returns, errors included."""

from __future__ import annotations

import socket

import pytest

from zdte_tui.api.client import FlowClient
from zdte_tui.api.server import ServerThread, create_app
from zdte_tui.service.protocol import ENDPOINT_VERSION, FlowServiceAPI, ServiceError

from .fake_service import FakeFlowService

KEYS = {"alpha-key": "alpha", "growth-key": "growth", "limited-key": "alpha"}


@pytest.fixture(scope="module")
def server():
    with ServerThread(create_app(FakeFlowService(), api_keys=KEYS, rate_limit_per_minute=0)) as srv:
        yield srv


@pytest.fixture
def client(server):
    with FlowClient(server.base_url, api_key="alpha-key", timeout=5.0) as c:
        yield c


ROUND_TRIPS = [
    ("snapshot", ("SPY",), {}),
    ("snapshot", ("spy",), {"expiry": "2026-06-05"}),
    ("series", ("QQQ",), {"bar": "1m", "minutes": 45}),
    ("hedge_flow", ("SPX",), {"side": "calls", "bar": "5m", "minutes": 390}),
    ("heatmap", ("SPY",), {"metric": "signed_flow", "mode": "delta", "minutes": 10}),
    ("heatmap", ("IWM",), {"metric": "oi"}),
    ("strike_flow", ("SPY",), {"minutes": 3}),
    ("leaderboard", (), {"metric": "charm_intensity", "n": 3}),
    ("signals", ("SPY",), {"min_score": 10.5, "intent": "bearish", "window_minutes": 390, "limit": 4}),
    ("signals", ("QQQ",), {"structure": "block", "expiry": "2026-06-05"}),
]


def test_flow_client_implements_the_protocol(client):
    assert isinstance(client, FlowServiceAPI)


@pytest.mark.parametrize(("method", "args", "kwargs"), ROUND_TRIPS)
def test_client_round_trip_equals_a_direct_service_call(client, method, args, kwargs):
    remote = getattr(client, method)(*args, **kwargs)

    # the fake leaves the envelope to the server (the real FlowService adds its own)
    assert remote.pop("endpoint_version") == ENDPOINT_VERSION
    assert remote.pop("data_as_of")["node"] == "zdte-fake"
    assert remote == getattr(FakeFlowService(), method)(*args, **kwargs)


@pytest.mark.parametrize(("call", "code", "status"), [
    (lambda c: c.series("SPY", bar="2m"), "invalid_bar", 400),
    (lambda c: c.heatmap("SPY", bar="5m"), "bar_unavailable", 400),
    (lambda c: c.heatmap("SPY", metric="rho"), "invalid_metric", 400),
    (lambda c: c.hedge_flow("SPY", side="straddles"), "invalid_side", 400),
    (lambda c: c.snapshot("SPY", expiry="2026-13-01"), "invalid_expiry", 400),
    (lambda c: c.signals("SPY", intent="maybe"), "invalid_intent", 400),
    (lambda c: c.signals("SPY", structure="combo"), "invalid_structure", 400),
    (lambda c: c.snapshot("ZZZZ"), "unknown_symbol", 404),
    (lambda c: c.snapshot("SPY", expiry="2026-06-09"), "expiry_unavailable", 404),
    (lambda c: c.snapshot("  "), "invalid_symbol", 400),
])
def test_client_errors_match_direct_service_errors(client, call, code, status):
    with pytest.raises(ServiceError) as remote:
        call(client)
    with pytest.raises(ServiceError) as local:
        call(FakeFlowService())

    assert (remote.value.code, remote.value.status) == (code, status)
    assert (local.value.code, local.value.status) == (code, status)
    assert remote.value.message == local.value.message


def test_client_maps_auth_and_plan_errors(server):
    with FlowClient(server.base_url, api_key="growth-key") as growth, FlowClient(server.base_url) as anonymous:
        with pytest.raises(ServiceError) as restricted:
            growth.heatmap("SPY")
        with pytest.raises(ServiceError) as unauthorized:
            anonymous.snapshot("SPY")

    assert (restricted.value.code, restricted.value.status) == ("tier_restricted", 403)
    assert restricted.value.extra == {"current_plan": "Growth", "required_plan": "Alpha"}
    assert (unauthorized.value.code, unauthorized.value.status) == ("unauthorized", 401)


def test_client_maps_429_with_retry_after():
    app = create_app(FakeFlowService(), api_keys={"k": "alpha"}, rate_limit_per_minute=1, clock=lambda: 0.0)
    with ServerThread(app) as srv, FlowClient(srv.base_url, api_key="k") as c:
        c.leaderboard()
        with pytest.raises(ServiceError) as limited:
            c.leaderboard()

    assert (limited.value.code, limited.value.status) == ("rate_limited", 429)
    assert limited.value.extra["retry_after"] == 60


def test_status_control_and_health_round_trip():
    with ServerThread(create_app(FakeFlowService(), api_keys=KEYS)) as srv, \
            FlowClient(srv.base_url, api_key="growth-key") as client:
        health = client.health()
        status = client.status()
        stepped = client.control("step", 30)
        with pytest.raises(ServiceError) as bad:
            client.control("seek", "noon")

    assert health["ok"] is True and health["symbols"] == ["IWM", "QQQ", "SPX", "SPY"]
    assert status == FakeFlowService().status()
    assert stepped["session_time"] == "2026-06-05T18:45:30Z"
    assert (bad.value.code, bad.value.status) == ("invalid_value", 400)


def test_skylit_heatmap_from_the_client(client):
    body = client.skylit_heatmap(["spy", "qqq"], metric="vanna", max_strikes=3)

    assert [s["symbol"] for s in body["data"]["symbols"]] == ["SPY", "QQQ"]
    assert all(len(s["strikes"]) == 3 for s in body["data"]["symbols"])


def test_unreachable_server_is_service_error_503():
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with FlowClient(f"http://127.0.0.1:{port}", api_key="k", timeout=2.0) as c, pytest.raises(ServiceError) as err:
        c.snapshot("SPY")

    assert (err.value.code, err.value.status) == ("unreachable", 503)


def test_server_thread_listens_on_a_tcp_protocol_socket_so_asyncio_sets_nodelay():
    # with proto 0 asyncio skips TCP_NODELAY on accepted sockets and each response stalls ~40 ms
    srv = ServerThread(create_app(FakeFlowService(), api_keys=KEYS))
    try:
        assert srv._socket.proto == socket.IPPROTO_TCP
        assert srv.base_url == f"http://127.0.0.1:{srv.port}"
    finally:
        srv.stop()
