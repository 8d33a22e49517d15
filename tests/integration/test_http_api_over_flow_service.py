"""The server on the real embedded ``FlowService`` (simulator, paused): the SDK, the client and the
Skylit endpoint see exactly what the service returns, and odd inputs never give a 5xx."""

from __future__ import annotations

import warnings

import pytest
from flashalpha import FlashAlpha, NotFoundError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zdte_tui.api.client import FlowClient
from zdte_tui.api.server import ServerThread, create_app
from zdte_tui.service.protocol import ServiceError

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

KEYS = {"alpha-key": "alpha"}


@pytest.fixture(scope="module")
def service():
    from zdte_tui.service import FlowService

    svc = FlowService.from_sim(["SPY", "QQQ"], seed=7, at="10:00", speed=1.0, date="2026-06-05")
    svc.start()
    assert svc.wait_ready(timeout=120)
    svc.control("pause")
    yield svc
    try:
        svc.stop()
    except RuntimeError:  # FlowService.stop() races its own loop closing ("Event loop is closed"); reported
        pass


@pytest.fixture(scope="module")
def asgi_client(service):
    return TestClient(create_app(service, api_keys=KEYS, rate_limit_per_minute=0), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def server(service):
    with ServerThread(create_app(service, api_keys=KEYS, rate_limit_per_minute=0)) as srv:
        yield srv


def _settled(service, fetch_remote, fetch_direct):
    """(remote, direct) taken while no event was ingested in between (a batch already in flight when
    the clock paused may still land once)."""
    for _ in range(3):
        before = service.status()["events_ingested"]
        remote, direct = fetch_remote(), fetch_direct()
        if service.status()["events_ingested"] == before:
            return remote, direct
    raise AssertionError("the paused service kept ingesting events")


CALLS = [
    (lambda fa: fa.flow_zero_dte_snapshot("spy"), lambda s: s.snapshot("SPY")),
    (lambda fa: fa.flow_zero_dte_series("SPY", bar="1m", minutes=20), lambda s: s.series("SPY", "1m", 20)),
    (lambda fa: fa.flow_zero_dte_hedge_flow("QQQ", side="calls", bar="5m", minutes=60),
     lambda s: s.hedge_flow("QQQ", "calls", "5m", 60)),
    (lambda fa: fa.flow_zero_dte_heatmap("SPY", metric="gex", mode="delta", minutes=10),
     lambda s: s.heatmap("SPY", "gex", "delta", "1m", 10)),
    (lambda fa: fa.flow_zero_dte_strike_flow("SPY", minutes=5), lambda s: s.strike_flow("SPY", "1m", 5)),
    (lambda fa: fa.flow_zero_dte_leaderboard(metric="heat", n=5), lambda s: s.leaderboard("heat", 5)),
    (lambda fa: fa.flow_signals("SPY", window_minutes=60, limit=5), lambda s: s.signals("SPY", 0, None, None, 60, 5)),
]


@pytest.mark.parametrize(("sdk_call", "service_call"), CALLS)
def test_sdk_against_the_real_service_equals_a_direct_call(service, server, sdk_call, service_call):
    fa = FlashAlpha("alpha-key", base_url=server.base_url, timeout=30)

    remote, direct = _settled(service, lambda: sdk_call(fa), lambda: service_call(service))

    assert remote == direct
    assert remote["endpoint_version"] and set(remote["data_as_of"]) >= {"node", "flow_feed", "oi_feed"}


def test_client_against_the_real_service_equals_a_direct_call(service, server):
    with FlowClient(server.base_url, api_key="alpha-key", timeout=30) as client:
        remote, direct = _settled(service, lambda: client.snapshot("SPY"), lambda: service.snapshot("SPY"))
        tide_remote, tide_direct = _settled(service, lambda: client.series("SPY", "1m", 390),
                                            lambda: service.series("SPY", "1m", 390))
        status = client.status()

    assert remote == direct
    # `zdte SPY --server` draws the same net-premium tide as the embedded service
    assert tide_remote == tide_direct and "net_put_premium_cumulative" in tide_remote["bars"][-1]
    assert status["source"] == "sim" and status["simulated"] is True and status["clock"]["paused"] is True


def test_real_service_errors_reach_sdk_and_client(server):
    fa = FlashAlpha("alpha-key", base_url=server.base_url, timeout=30)
    with pytest.raises(NotFoundError):
        fa.flow_zero_dte_heatmap("IWM")  # has a 0DTE but is not tracked here
    with FlowClient(server.base_url, api_key="alpha-key", timeout=30) as client:
        with pytest.raises(ServiceError) as bad_symbol:
            client.snapshot("bad symbol!")
        with pytest.raises(ServiceError) as bad_score:
            client.signals("SPY", min_score=101)

    assert (bad_symbol.value.code, bad_symbol.value.status) == ("invalid_symbol", 400)
    assert (bad_score.value.code, bad_score.value.status) == ("invalid_min_score", 400)


def test_skylit_heatmap_on_the_real_service(service, server):
    with FlowClient(server.base_url, api_key="alpha-key", timeout=30) as client:
        body = client.skylit_heatmap("SPY,QQQ", metric="gamma", max_strikes=20)
    snapshot = service.snapshot("SPY")

    spy, qqq = body["data"]["symbols"]
    assert (spy["symbol"], qqq["symbol"]) == ("SPY", "QQQ")
    assert spy["previousClose"] == snapshot["previous_close"]
    assert spy["expirations"] == [snapshot["expiration"]]
    for element in (spy, qqq):
        strikes = [node["strike"] for node in element["strikes"]]
        assert strikes == sorted(strikes) and 0 < len(strikes) <= 20
        assert sum(node["nodeType"] == "king" for node in element["strikes"]) <= 1


_odd_text = st.one_of(st.sampled_from(["SPY", "qqq", "IWM", "", "gex", "1m", "30s", "all", "delta", "0", "-1",
                                       "2026-06-05", "nan", "1e9", "bullish", "sweep"]),
                      st.text(max_size=8))


@given(path=st.sampled_from(["/v1/flow/zero-dte/snapshot/SPY", "/v1/flow/zero-dte/series/SPY",
                             "/v1/flow/zero-dte/hedge-flow/QQQ", "/v1/flow/zero-dte/heatmap/SPY",
                             "/v1/flow/zero-dte/strike-flow/SPY", "/v1/flow/zero-dte/leaderboard",
                             "/v1/flow/signals/SPY", "/v1/heatmap"]),
       params=st.dictionaries(st.sampled_from(["expiry", "bar", "minutes", "side", "metric", "mode", "n", "minScore",
                                               "intent", "structure", "windowMinutes", "limit", "symbols",
                                               "maxStrikes"]), _odd_text, max_size=4))
@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_odd_parameters_never_give_a_5xx_on_the_real_service(asgi_client, path, params):
    resp = asgi_client.get(path, params=params, headers={"X-Api-Key": "alpha-key"})

    assert resp.status_code in (200, 400, 404), resp.text
