"""flow_direction: the live-vs-settled GEX label, pct shift and SDK key set."""

import math

import pytest
from flashalpha.types import ZeroDteFlowDirection
from hypothesis import given
from hypothesis import strategies as st

from zdte_tui.engine.decision import FLOW_DIRECTION_LABELS, flow_direction

FLOW = dict(contracts_with_flow=120, total_abs_delta_contracts=4_000)


def test_keys_are_exactly_the_sdk_flow_direction_keys():
    out = flow_direction(1e9, 1.2e9, **FLOW)
    assert set(out) == set(ZeroDteFlowDirection.__annotations__)


def test_no_intraday_flow_is_no_flow_even_when_gex_differs():
    out = flow_direction(1e9, 1.5e9, contracts_with_flow=0, total_abs_delta_contracts=0)
    assert out["label"] == "no_flow"
    assert out["flow_gex_adjustment"] == pytest.approx(0.5e9)


def test_sign_change_is_regime_flip():
    out = flow_direction(1e9, -1e8, **FLOW)
    assert out["label"] == "regime_flip"
    assert out["flow_gex_pct_shift"] == pytest.approx(-110.0)
    assert "negative gamma" in out["description"]


@pytest.mark.parametrize("settled, live, label", [
    (1e9, 1.04e9, "neutral"),          # +4%
    (1e9, 0.96e9, "neutral"),          # -4%
    (1e9, 1.05e9, "amplifying"),       # exactly +5% is not "under 5%"
    (1e9, 0.95e9, "dampening"),        # exactly -5%
    (-1e9, -1.3e9, "amplifying"),      # negative gamma grew: more fragility
    (-1e9, -0.5e9, "dampening"),
    (1e9, 0.0, "dampening"),           # collapsed to zero is not a sign change
])
def test_labels_and_the_five_percent_boundary(settled, live, label):
    out = flow_direction(settled, live, **FLOW)
    assert out["label"] == label
    assert out["flow_gex_pct_shift"] == pytest.approx(100 * (live - settled) / abs(settled))


def test_settled_zero_has_no_pct_shift():
    grew = flow_direction(0.0, 2e8, **FLOW)
    assert grew["flow_gex_pct_shift"] is None
    assert grew["label"] == "amplifying"
    flat = flow_direction(0.0, 0.0, **FLOW)
    assert flat["label"] == "neutral" and flat["flow_gex_pct_shift"] is None


finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)
# GEX is in dollars: a settled book is either exactly 0 or at least $1 in magnitude
settled_gex = st.one_of(st.just(0.0), st.floats(min_value=1.0, max_value=1e12),
                        st.floats(min_value=-1e12, max_value=-1.0))


@given(settled=settled_gex, live=finite, cwf=st.integers(0, 5), tad=st.integers(0, 5))
def test_property_label_in_vocabulary_and_numbers_finite(settled, live, cwf, tad):
    out = flow_direction(settled, live, cwf, tad)
    assert out["label"] in FLOW_DIRECTION_LABELS
    assert out["flow_gex_adjustment"] == pytest.approx(live - settled)
    assert (out["flow_gex_pct_shift"] is None) == (settled == 0)
    for k in ("settled_net_gex", "live_net_gex", "flow_gex_adjustment", "flow_gex_pct_shift"):
        assert out[k] is None or math.isfinite(out[k])
    if cwf == 0 or tad == 0:
        assert out["label"] == "no_flow"
