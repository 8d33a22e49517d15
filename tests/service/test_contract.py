"""Every FlowService method's output validates against the official SDK's TypedDicts
(flashalpha 1.3.0 ``types.py``): each present key has the declared type, recursively."""

from __future__ import annotations

import json
import typing

import pytest
from flashalpha import types as fa

NoneType = type(None)


def check(value, hint, path="$"):
    """Assert ``value`` conforms to the type ``hint`` (TypedDict, Optional, List, Literal, scalars)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is typing.Any:
        return
    if origin is typing.Union:
        errors = []
        for a in args:
            try:
                check(value, a, path)
                return
            except AssertionError as e:
                errors.append(str(e))
        raise AssertionError(f"{path}: {value!r} matches none of {hint}: {errors}")
    if origin is typing.Literal:
        assert value in args, f"{path}: {value!r} not in {args}"
        return
    if origin in (list, list):
        assert isinstance(value, list), f"{path}: expected list, got {type(value).__name__}"
        for i, v in enumerate(value):
            check(v, args[0] if args else typing.Any, f"{path}[{i}]")
        return
    if origin in (dict, dict):
        assert isinstance(value, dict), f"{path}: expected dict"
        return
    if isinstance(hint, type) and typing.is_typeddict(hint):
        assert isinstance(value, dict), f"{path}: expected object for {hint.__name__}, got {type(value).__name__}"
        hints = typing.get_type_hints(hint)
        for k, v in value.items():
            if k in hints:
                check(v, hints[k], f"{path}.{k}")
        return
    if hint is float:
        assert isinstance(value, (int, float)) and not isinstance(value, bool), \
            f"{path}: expected number, got {value!r}"
        return
    if hint is int:
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: expected int, got {value!r}"
        return
    if hint is NoneType:
        assert value is None, f"{path}: expected null"
        return
    assert isinstance(value, hint), f"{path}: expected {hint}, got {type(value).__name__}"


def test_checker_rejects_a_wrong_type():
    with pytest.raises(AssertionError):
        check({"regime": {"label": 3}}, fa.FlowZeroDteSnapshotResponse)
    with pytest.raises(AssertionError):
        check({"bars": [{"pin_score": 1.5}]}, fa.FlowZeroDteSeriesResponse)


CASES = [
    ("snapshot", lambda s: s.snapshot("SPY"), fa.FlowZeroDteSnapshotResponse),
    ("series", lambda s: s.series("SPY", "1m", 30), fa.FlowZeroDteSeriesResponse),
    ("series_30s", lambda s: s.series("SPY", "30s", 390), fa.FlowZeroDteSeriesResponse),
    ("hedge_flow", lambda s: s.hedge_flow("SPY", "puts", "5m", 60), fa.FlowZeroDteHedgeFlowResponse),
    ("heatmap", lambda s: s.heatmap("SPY", "gex", "delta", "1m", 30), fa.FlowZeroDteHeatmapResponse),
    ("heatmap_flow", lambda s: s.heatmap("SPY", "signed_flow"), fa.FlowZeroDteHeatmapResponse),
    ("strike_flow", lambda s: s.strike_flow("SPY"), fa.FlowZeroDteStrikeFlowResponse),
    ("leaderboard", lambda s: s.leaderboard("heat", 5), fa.FlowZeroDteLeaderboardResponse),
    ("signals", lambda s: s.signals("SPY"), fa.FlowSignalsResponse),
    ("no_zero_dte", lambda s: s.snapshot("AAPL"), fa.FlowZeroDteSnapshotResponse),
]


@pytest.mark.parametrize("name,call,typed", CASES, ids=[c[0] for c in CASES])
def test_output_matches_sdk_types_and_is_strict_json(service, name, call, typed):
    out = call(service)
    check(out, typed)
    json.dumps(out, allow_nan=False)  # never NaN or infinity


def test_snapshot_carries_every_zero_dte_block(service):
    snap = service.snapshot("SPY")
    for key in typing.get_type_hints(fa.FlowZeroDteSnapshotResponse):
        if key in ("no_zero_dte", "session_closed", "last_session", "next_zero_dte_expiry", "message", "warnings"):
            continue
        assert key in snap, key
    for block in ("flow_direction", "headline", "setup", "probabilities", "body"):
        assert snap[block] is not None
    assert set(snap["pin_risk"]["components"]) == {"oi_score", "proximity_score", "time_score", "gamma_score"}
    assert set(k for k in snap["hedging"] if k.startswith("spot_")) == {
        f"spot_{d}_{m}" for d in ("up", "down") for m in ("10bp", "25bp", "half_pct", "1pct")}
