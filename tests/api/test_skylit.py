"""Skylit-compatible ``GET /v1/heatmap``: node rule, velocity, strike window, envelope, errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zdte_tui.api.server import create_app
from zdte_tui.api.skylit import (
    classify_nodes,
    nearest_strike_indices,
    velocity_pct,
    velocity_reference_index,
)

from .fake_service import FakeFlowService

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ALPHA = {"Authorization": "Bearer alpha-key"}


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(FakeFlowService(), api_keys={"alpha-key": "alpha", "growth-key": "growth"},
                                 rate_limit_per_minute=0))


# --------------------------------------------------------------------------- pure rules
def test_node_rule_hand_computed_positive_king():
    strikes = [95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105]
    values = [-30, 5, 40, 10, -2, 30, 100, 60, -50, 24, 25]

    types = classify_nodes(np.array(strikes, float), np.array(values, float), spot=99.4)

    # king 101 (|100|); 25 % threshold = 25; 100 sits between spot and king -> gatekeeper;
    # large negatives are contrarian to a positive king -> barney; 24 < 25 -> normal
    assert types == ["barney", "normal", "significant", "normal", "normal", "gatekeeper", "king",
                     "significant", "barney", "normal", "significant"]


def test_node_rule_hand_computed_negative_king_has_pika_and_gatekeeper():
    types = classify_nodes(np.array([10.0, 11, 12, 13]), np.array([-80.0, 30, 50, -10]), spot=12.6)

    # between 12.6 and the king at 10: 11 (30) and 12 (50), both >= 20 -> the larger is gatekeeper
    assert types == ["king", "pika", "gatekeeper", "normal"]


def test_node_rule_ties_and_zeros():
    assert classify_nodes(np.array([1.0, 3.0]), np.array([50.0, -50.0]), spot=2.9) == ["pika", "king"]
    assert classify_nodes(np.array([1.0, 2.0]), np.array([0.0, 0.0]), spot=1.5) == ["normal", "normal"]
    assert classify_nodes(np.array([]), np.array([]), spot=1.0) == []


def test_node_rule_a_zero_is_normal_even_beside_a_subnormal_king():
    # 25 % of the smallest subnormal rounds to 0: the zero strike between spot and the king must not
    # pass the threshold and become the gatekeeper
    assert classify_nodes(np.array([1.0, 2.0]), np.array([5e-324, 0.0]), spot=3.0) == ["king", "normal"]


def test_velocity_pct_hand_computed():
    out = velocity_pct(np.array([110.0, 50.0, 5.0]), np.array([100.0, -100.0, 0.0]))

    assert out[:2].tolist() == [10.0, 150.0] and math.isnan(out[2])


def test_velocity_reference_is_the_latest_bar_at_least_the_window_old():
    times = ["2026-06-05T18:39:30Z", "2026-06-05T18:40:30Z", "2026-06-05T18:44:30Z", "2026-06-05T18:45:00Z"]

    assert velocity_reference_index(times, 5) == 0
    assert velocity_reference_index(times, 4) == 1
    assert velocity_reference_index(times[2:], 5) == 0  # younger than the window: earliest bar
    assert velocity_reference_index(["x", "y", "z"], 1) == 1  # unparsable: one bar per minute


def test_nearest_strikes_prefer_the_lower_strike_on_ties_and_come_back_ascending():
    strikes = np.array([104.0, 100, 103, 101, 102])

    assert strikes[nearest_strike_indices(strikes, 102.5, 2)].tolist() == [102.0, 103.0]
    assert strikes[nearest_strike_indices(strikes, 102.5, 3)].tolist() == [101.0, 102.0, 103.0]
    assert strikes[nearest_strike_indices(strikes, 0.0, 10)].tolist() == [100.0, 101, 102, 103, 104]


@given(
    data=st.lists(st.tuples(st.integers(0, 400), st.floats(-1e9, 1e9, allow_nan=False)), min_size=1, max_size=40,
                  unique_by=lambda kv: kv[0]),
    spot=st.floats(0, 400, allow_nan=False),
)
@settings(max_examples=200, deadline=None)
def test_node_rule_properties(data, spot):
    strikes = np.array([k for k, _ in data], float)
    values = np.array([v for _, v in data], float)

    types = np.array(classify_nodes(strikes, values, spot))

    king_abs = np.abs(values).max()
    if king_abs == 0:
        assert (types == "normal").all()
        return
    assert (types == "king").sum() == 1
    king = int(np.flatnonzero(types == "king")[0])
    assert abs(values[king]) == king_abs
    large = (np.abs(values) >= 0.25 * king_abs) & (values != 0)
    others = np.arange(len(values)) != king
    assert ((types == "normal") == (~large & others)).all()
    gatekeepers = np.flatnonzero(types == "gatekeeper")
    assert len(gatekeepers) <= 1
    for g in gatekeepers:
        assert min(spot, strikes[king]) < strikes[g] < max(spot, strikes[king])
    king_sign = np.sign(values[king])
    assert (values[types == "pika"] > 0).all() and (np.sign(values[types == "pika"]) != king_sign).all()
    assert (values[types == "barney"] < 0).all() and (np.sign(values[types == "barney"]) != king_sign).all()
    assert (np.sign(values[types == "significant"]) == king_sign).all()


# --------------------------------------------------------------------------- endpoint
@pytest.mark.parametrize(("metric", "service_metric"), [("gamma", "gex"), ("vanna", "vex")])
def test_heatmap_shape_values_nodes_and_velocity(client, metric, service_metric):
    resp = client.get(f"/v1/heatmap?symbols=spy&metric={metric}&maxStrikes=7", headers=ALPHA)

    assert resp.status_code == 200
    body = resp.json()
    assert body["meta"] == {"metric": metric, "resolution": "1m", "mode": "live", "cached": False}
    [spy] = body["data"]["symbols"]
    assert set(spy) == {"symbol", "asOf", "spot", "previousClose", "priceChange", "priceChangePercent",
                        "expirations", "strikes"}
    reference = FakeFlowService().heatmap("SPY", metric=service_metric, minutes=7)
    latest = reference["bars"][-1]
    # latest bar 18:45:00 -> cutoff 18:40:00 -> the last bar stamped at or before it is 18:39:30
    [five_minutes_earlier] = [b for b in reference["bars"] if b["t"] == "2026-06-05T18:39:30Z"]
    assert latest["t"] == "2026-06-05T18:45:00Z"
    assert (spy["symbol"], spy["asOf"], spy["spot"]) == ("SPY", latest["t"], latest["spot"])
    assert spy["previousClose"] == 589.10
    assert spy["priceChange"] == pytest.approx(latest["spot"] - 589.10)
    assert spy["priceChangePercent"] == pytest.approx(100 * (latest["spot"] - 589.10) / 589.10, abs=1e-4)
    assert spy["expirations"] == ["2026-06-05"]
    strikes = [node["strike"] for node in spy["strikes"]]
    assert strikes == sorted(strikes) and len(strikes) == 7
    grid = reference["strikes_grid"]
    distances = sorted(abs(k - latest["spot"]) for k in grid)
    assert max(abs(k - latest["spot"]) for k in strikes) <= distances[6]
    full_types = classify_nodes(np.array(grid), np.array(latest["values"]), latest["spot"])
    for node in spy["strikes"]:
        i = grid.index(node["strike"])
        assert node["value"] == latest["values"][i]
        assert node["nodeType"] == full_types[i]
        then = five_minutes_earlier["values"][i]
        if then != 0:
            assert node["velocityPct"] == round(100 * (latest["values"][i] - then) / abs(then), 2)
        else:
            assert "velocityPct" not in node


def test_heatmap_defaults_to_92_strikes_and_keeps_symbol_order(client):
    body = client.get("/v1/heatmap?symbols=qqq,%20SPY,qqq", headers=ALPHA).json()

    assert [s["symbol"] for s in body["data"]["symbols"]] == ["QQQ", "SPY"]
    assert all(len(s["strikes"]) == 31 for s in body["data"]["symbols"])  # whole 31-strike grid < 92
    assert body["meta"]["metric"] == "gamma"


def test_every_nonzero_heatmap_has_exactly_one_king_in_the_full_window(client):
    body = client.get("/v1/heatmap?symbols=SPY,QQQ,IWM,SPX&maxStrikes=400", headers=ALPHA).json()

    for element in body["data"]["symbols"]:
        assert [n["nodeType"] for n in element["strikes"]].count("king") == 1


@pytest.mark.parametrize(("url", "headers", "status", "code"), [
    ("/v1/heatmap?symbols=SPY&metric=delta", ALPHA, 400, "invalid_metric"),
    ("/v1/heatmap?symbols=SPY&maxStrikes=0", ALPHA, 400, "invalid_parameter"),
    ("/v1/heatmap?symbols=SPY&maxStrikes=401", ALPHA, 400, "invalid_parameter"),
    ("/v1/heatmap?symbols=SPY&maxStrikes=many", ALPHA, 400, "invalid_parameter"),
    ("/v1/heatmap", ALPHA, 400, "invalid_parameter"),
    ("/v1/heatmap?symbols=%20,%20", ALPHA, 400, "invalid_symbols"),
    ("/v1/heatmap?symbols=" + ",".join(f"S{i}" for i in range(17)), ALPHA, 400, "invalid_symbols"),
    ("/v1/heatmap?symbols=SPY,NOPE", ALPHA, 404, "unknown_symbol"),
    ("/v1/heatmap?symbols=SPY", {}, 401, "unauthorized"),
    ("/v1/heatmap?symbols=SPY", {"X-API-Key": "growth-key"}, 403, "tier_restricted"),
])
def test_errors_use_the_skylit_envelope(client, url, headers, status, code):
    resp = client.get(url, headers=headers)

    assert resp.status_code == status
    error = resp.json()["error"]
    assert error["code"] == code and isinstance(error["message"], str) and error["message"]


def test_rate_limited_skylit_call_has_retry_after_and_skylit_envelope():
    client = TestClient(create_app(FakeFlowService(), api_keys={"k": "alpha"}, rate_limit_per_minute=1,
                                   clock=lambda: 0.0))

    ok = client.get("/v1/heatmap?symbols=SPY", headers={"X-Api-Key": "k"})
    limited = client.get("/v1/heatmap?symbols=SPY", headers={"X-Api-Key": "k"})

    assert ok.status_code == 200 and ok.headers["X-RateLimit-Limit"] == "1"
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"
    assert limited.json()["error"]["code"] == "rate_limited"
