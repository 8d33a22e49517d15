"""Every FlowService method's output validates against the official SDK's TypedDicts
(flashalpha 1.3.0 ``types.py``), recursively: every declared key is present (the SDK marks them all
optional, so the few a response may leave out are listed here, with the reason) and has the
declared type."""

from __future__ import annotations

import json
import typing

import pytest
from flashalpha import types as fa

NoneType = type(None)

SNAPSHOT_VARIANT_KEYS = {"no_zero_dte", "session_closed", "last_session", "next_zero_dte_expiry", "message",
                         "warnings"}  # only in the degraded bodies, and "warnings" only near the close
MAY_BE_ABSENT = {
    "FlowZeroDteSnapshotResponse": SNAPSHOT_VARIANT_KEYS,
    "ZeroDteStrike": {"call_symbol", "put_symbol"},  # only when the source gives OCC symbols
}
# a symbol with no 0DTE today gets no analytics at all: only identity, the message and the envelope
NO_ZERO_DTE_ABSENT = {**MAY_BE_ABSENT, "FlowZeroDteSnapshotResponse": set(typing.get_type_hints(
    fa.FlowZeroDteSnapshotResponse)) - {"symbol", "as_of", "no_zero_dte", "next_zero_dte_expiry", "message", "body",
                                        "market_open", "endpoint_version", "data_as_of", "expiration"}}


def check(value, hint, path="$", absent=MAY_BE_ABSENT):
    """Assert ``value`` conforms to the type ``hint`` (TypedDict, Optional, List, Literal, scalars).
    A TypedDict must carry every declared key except those ``absent`` allows for its type."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is typing.Any:
        return
    if origin is typing.Union:
        errors = []
        for a in args:
            try:
                check(value, a, path, absent)
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
            check(v, args[0] if args else typing.Any, f"{path}[{i}]", absent)
        return
    if origin in (dict, dict):
        assert isinstance(value, dict), f"{path}: expected dict"
        return
    if isinstance(hint, type) and typing.is_typeddict(hint):
        assert isinstance(value, dict), f"{path}: expected object for {hint.__name__}, got {type(value).__name__}"
        hints = typing.get_type_hints(hint)
        missing = set(hints) - set(value) - absent.get(hint.__name__, set())
        assert not missing, f"{path}: {hint.__name__} lacks {sorted(missing)}"
        for k, v in value.items():
            if k in hints:
                check(v, hints[k], f"{path}.{k}", absent)
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


def test_checker_rejects_a_wrong_type(service):
    snap = service.snapshot("SPY")
    with pytest.raises(AssertionError, match=r"\$\.regime\.label"):
        check({**snap, "regime": {**snap["regime"], "label": 3}}, fa.FlowZeroDteSnapshotResponse)
    series = service.series("SPY", "1m", 30)
    bad_bar = {**series["bars"][0], "pin_score": 1.5}
    with pytest.raises(AssertionError, match=r"\$\.bars\[0\]\.pin_score: expected int"):
        check({**series, "bars": [bad_bar]}, fa.FlowZeroDteSeriesResponse)


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
]


def test_checker_rejects_a_missing_nested_key(service):
    snap = service.snapshot("SPY")
    check(snap, fa.FlowZeroDteSnapshotResponse)
    without_flip = {**snap, "regime": {k: v for k, v in snap["regime"].items() if k != "gamma_flip"}}
    with pytest.raises(AssertionError, match=r"\$\.regime: ZeroDteRegime lacks \['gamma_flip'\]"):
        check(without_flip, fa.FlowZeroDteSnapshotResponse)
    first = {k: v for k, v in snap["strikes"][0].items() if k != "call_gex"}
    with pytest.raises(AssertionError, match=r"\$\.strikes\[0\]: ZeroDteStrike lacks \['call_gex'\]"):
        check({**snap, "strikes": [first, *snap["strikes"][1:]]}, fa.FlowZeroDteSnapshotResponse)


@pytest.mark.parametrize("name,call,typed", CASES, ids=[c[0] for c in CASES])
def test_output_matches_sdk_types_and_is_strict_json(service, name, call, typed):
    out = call(service)
    check(out, typed)
    json.dumps(out, allow_nan=False)  # never NaN or infinity


def test_a_symbol_without_0dte_gets_the_degraded_snapshot_shape(service):
    out = service.snapshot("AAPL")
    check(out, fa.FlowZeroDteSnapshotResponse, absent=NO_ZERO_DTE_ABSENT)
    assert out["no_zero_dte"] is True and out["body"] is None
    json.dumps(out, allow_nan=False)


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
