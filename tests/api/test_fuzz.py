"""Fuzz the OpenAPI surface with schemathesis: schema-valid and schema-invalid inputs never give a 5xx,
every status is one the schema documents, and every body is JSON.

Bounded (``max_examples`` per operation, derandomized) so the file runs in seconds.
"""

from __future__ import annotations

import warnings

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, not_a_server_error, status_code_conformance

from zdte_tui.api.server import create_app

from .fake_service import FakeFlowService

MAX_EXAMPLES = 30

app = create_app(FakeFlowService(), api_keys={"alpha-key": "alpha"}, rate_limit_per_minute=0)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
schema.config.update(headers={"X-Api-Key": "alpha-key"})
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=MAX_EXAMPLES,
                                with_security_parameters=False)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_input_gives_a_server_error_or_an_undocumented_status(case):
    response = case.call_and_validate(checks=[not_a_server_error, status_code_conformance,
                                              content_type_conformance])

    assert response.status_code < 500


# --------------------------------------------------------------------------- grammar-aware fuzz
# schemathesis mostly draws strings no service accepts; this mixes valid values with garbage so
# the deep paths (valid symbol, extreme minutes, odd bars) are exercised too.
from urllib.parse import quote  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

_client = TestClient(create_app(FakeFlowService(), api_keys={"alpha-key": "alpha"}, rate_limit_per_minute=0),
                     raise_server_exceptions=False, headers={"X-Api-Key": "alpha-key"})
_garbage = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


def _word(*valid: str):
    return st.one_of(st.sampled_from(valid), _garbage)


_number = st.one_of(st.integers(-10**7, 10**7).map(str), st.sampled_from(["abc", "1.5", "", "1e3", "-0", " 7", "nan"]),
                    st.floats(allow_nan=True, allow_infinity=True).map(repr))
_symbol = _word("SPY", " spy ", "QQQ", "SPX", "IWM", "NOPE")
_expiry = _word("2026-06-05", "2026-06-08", "2026-02-30", "20260605")

_REQUESTS = st.one_of(
    st.tuples(st.just("/v1/flow/zero-dte/snapshot/{}"), _symbol,
              st.fixed_dictionaries({}, optional={"expiry": _expiry})),
    st.tuples(st.just("/v1/flow/zero-dte/series/{}"), _symbol, st.fixed_dictionaries(
        {}, optional={"bar": _word("30s", "1m", "5m", "15m"), "minutes": _number})),
    st.tuples(st.just("/v1/flow/zero-dte/hedge-flow/{}"), _symbol, st.fixed_dictionaries(
        {}, optional={"side": _word("all", "calls", "puts"), "bar": _word("30s", "1m", "5m", "15m"),
                      "minutes": _number})),
    st.tuples(st.just("/v1/flow/zero-dte/heatmap/{}"), _symbol, st.fixed_dictionaries(
        {}, optional={"metric": _word("gex", "dex", "vex", "chex", "oi", "signed_flow"),
                      "mode": _word("raw", "delta"), "bar": _word("1m", "5m"), "minutes": _number})),
    st.tuples(st.just("/v1/flow/zero-dte/strike-flow/{}"), _symbol, st.fixed_dictionaries(
        {}, optional={"bar": _word("1m"), "minutes": _number})),
    st.tuples(st.just("/v1/flow/zero-dte/leaderboard"), st.just(""), st.fixed_dictionaries(
        {}, optional={"metric": _word("heat", "pin_risk", "abs_flow", "charm_intensity"), "n": _number})),
    st.tuples(st.just("/v1/flow/signals/{}"), _symbol, st.fixed_dictionaries(
        {}, optional={"minScore": _number, "intent": _word("bullish", "bearish", "neutral"),
                      "structure": _word("block", "sweep", "single"), "windowMinutes": _number,
                      "limit": _number, "expiry": _expiry})),
    st.tuples(st.just("/v1/heatmap"), st.just(""), st.fixed_dictionaries(
        {"symbols": _word("SPY", "spy,QQQ", "SPY,NOPE", ",")},
        optional={"metric": _word("gamma", "vanna"), "maxStrikes": _number})),
)


@given(request=_REQUESTS)
@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_mixed_valid_and_garbage_parameters_give_200_400_or_404_with_an_error_code(request):
    template, symbol, params = request
    path = template.format(quote(symbol, safe="")) if "{}" in template else template

    resp = _client.get(path, params=params)

    assert resp.status_code in (200, 400, 404), resp.text
    body = resp.json()
    if resp.status_code != 200:
        error = body["error"]["code"] if isinstance(body["error"], dict) else body["error"]
        assert isinstance(error, str) and error
