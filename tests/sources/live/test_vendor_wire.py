"""The live adapters' parsers read what the vendors themselves publish.

Every frame comes from a vendor's own client tests, spec or documentation (files and commits in
``tests/data/vendor-wire/README.md``); the expected values are read off the frames by hand.
Two parsing differences these frames exposed are fixed and pinned here:

- Massive index chains carry the underlying's level in ``underlying_asset.value``, not ``price``;
- Tradier's documented stream examples are pretty-printed over several lines (and payloads
  without ``linebreak`` arrive back to back): a frame is read value by value, not line by line.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zdte_tui.sources.live.records import QuoteTick, SpotTick, TradeTick
from zdte_tui.sources.massive import parsing as massive
from zdte_tui.sources.thetadata import parsing as theta
from zdte_tui.sources.tradier import parsing as tradier

WIRE = Path(__file__).resolve().parents[2] / "data" / "vendor-wire"


def _text(rel: str) -> str:
    return (WIRE / rel).read_text()


def _ns(*args: int) -> int:
    """UTC epoch ns of ``datetime(*args, tzinfo=UTC)`` (microsecond precision)."""
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1_000_000) * 1000


# ----------------------------------------------------------------------------- Massive


def test_massive_spec_option_trade_example_is_a_trade_tick():
    frame = massive.parse_ws_frame(_text("massive/ws_options_T.json"))
    assert frame.malformed == 0
    assert frame.ticks == [TradeTick("O:AMC210827C00037000", 1629820676333 * 1_000_000, 1.54, 1, 65)]


def test_massive_spec_option_quote_example_is_a_quote_tick():
    frame = massive.parse_ws_frame(_text("massive/ws_options_Q.json"))
    assert frame.ticks == [QuoteTick("O:SPY241220P00720000", 1644506128351 * 1_000_000, 9.71, 9.81, 17, 24)]


def test_massive_spec_stock_trade_and_index_value_are_spot():
    stock = massive.parse_ws_frame(_text("massive/ws_stocks_T.json"))
    index = massive.parse_ws_frame(_text("massive/ws_indices_V.json"))
    assert stock.ticks == [SpotTick("MSFT", 1536036818784 * 1_000_000, 114.125)]
    assert index.ticks == [SpotTick("I:SPX", 1678220098130 * 1_000_000, 3988.5)]


def test_massive_client_mock_server_frames_parse_without_notices():
    frames = [massive.parse_ws_frame(line) for line in _text("massive/ws_mock_server_frames.txt").splitlines()]
    assert [f.malformed for f in frames] == [0] * 5
    assert [f.notices for f in frames] == [[]] * 5  # connected, auth_success, success: quiet statuses
    assert massive.auth_reply(_text("massive/ws_mock_server_frames.txt").splitlines()[1]) == \
        ("auth_success", "authenticated")
    ticks = [t for f in frames for t in f.ticks]
    assert ticks == [SpotTick("AAPL", 1651684192462 * 1_000_000, 161.87),
                     SpotTick("AMZN", 1651684192536 * 1_000_000, 161.87),
                     SpotTick("AMZN", 1651684192717 * 1_000_000, 161.87)]


def test_massive_client_chain_snapshot_mock_gives_contract_oi_and_spot():
    payload = json.loads(_text("massive/rest_v3_snapshot_options_AAPL.json"))
    contracts, spot, next_url, bad = massive.parse_chain_page(payload, date(2023, 6, 16), "AAPL")
    assert (spot, next_url, bad) == (159.9606, None, 0)
    [c] = contracts
    assert (c.key, c.occ, c.strike, c.is_call, c.settled_oi) == \
        ("O:AAPL230616C00150000", "AAPL  230616C00150000", 150.0, True, 8133)


def test_massive_index_chain_spot_comes_from_underlying_value():
    # The spec's UnderlyingAsset has `value` ("The value of the underlying index") beside `price`;
    # an index row without `price` used to leave the band waiting for the first index print.
    payload = json.loads(_text("massive/rest_v3_snapshot_options_AAPL.json"))
    row = payload["results"][0]
    row["details"]["ticker"] = "O:SPXW230616C04400000"
    row["underlying_asset"] = {"change_to_break_even": 12.5, "last_updated": 1651254263172073152,
                               "ticker": "I:SPX", "timeframe": "REAL-TIME", "value": 4409.53}
    contracts, spot, _, bad = massive.parse_chain_page(payload, date(2023, 6, 16), "SPXW")
    assert (spot, bad, [c.strike for c in contracts]) == (4409.53, 0, [4400.0])


@pytest.mark.parametrize("ua, expected", [
    ({"price": 159.9606}, 159.9606), ({"value": 3988.5}, 3988.5), ({"price": 0, "value": 3988.5}, 3988.5),
    ({"price": None}, None), ({"value": "n/a"}, None), ({"value": True}, None), (None, None), ([], None)])
def test_massive_underlying_value_reads_price_then_value(ua, expected):
    assert massive.underlying_value(ua) == expected


# ----------------------------------------------------------------------------- ThetaData


def test_thetadata_lean_stock_quote_is_read_and_not_used():
    frame = theta.parse_ws_frame(_text("thetadata/ws_stock_quote_lean_test.json"))
    assert (frame.ticks, frame.malformed, frame.vendor_status) == ([], 0, "CONNECTED")


def test_thetadata_documented_subscribed_reply_is_quiet():
    frame = theta.parse_ws_frame(_text("thetadata/ws_req_response_docs.json"))
    assert (frame.ticks, frame.malformed, frame.notices, frame.auth_failure) == ([], 0, [], None)


@pytest.mark.parametrize("response, notice, fatal", [
    ("MAX_STREAMS_REACHED", True, False), ("ERROR", True, False), ("INVALID_PERMS", False, True)])
def test_thetadata_documented_refusals_are_surfaced(response, notice, fatal):
    msg = json.loads(_text("thetadata/ws_req_response_docs.json"))
    msg["header"]["response"], msg["header"]["req_id"] = response, 7
    frame = theta.parse_ws_frame(json.dumps(msg))
    assert bool(frame.notices) is notice and (frame.auth_failure is not None) is fatal
    assert frame.malformed == 0


def test_thetadata_documented_option_trade_is_a_trade_tick():
    # 2023-12-19 is EST (UTC-5): 34,389,945 ms after midnight ET = 09:33:09.945 ET = 14:33:09.945 UTC
    frame = theta.parse_ws_frame(_text("thetadata/ws_option_trade_docs.json"))
    assert frame.malformed == 0
    assert frame.ticks == [TradeTick("AAPL231222C00200000", _ns(2023, 12, 19, 14, 33, 9, 945000), 0.31, 10, 31)]


def test_thetadata_trade_with_a_negative_sequence_is_still_a_trade():
    msg = json.loads(_text("thetadata/ws_option_trade_docs.json"))
    msg["trade"]["sequence"] = -600833752  # a signed 32-bit field (Lean's WebSocketTrade.Sequence)
    assert len(theta.parse_ws_frame(json.dumps(msg)).ticks) == 1


def test_thetadata_documented_option_quote_is_a_quote_tick():
    # 26,622,025 ms = 07:23:42.025 ET on 2023-12-19 (EST) = 12:23:42.025 UTC
    frame = theta.parse_ws_frame(_text("thetadata/ws_option_quote_docs.json"))
    assert frame.ticks == [QuoteTick("SPXW240315C04800000", _ns(2023, 12, 19, 12, 23, 42, 25000), 110.2, 110.5, 7, 7)]


def test_thetadata_documented_stock_trade_is_spot():
    # 38,437,607 ms = 10:40:37.607 ET on 2024-05-03 (EDT) = 14:40:37.607 UTC
    frame = theta.parse_ws_frame(_text("thetadata/ws_stock_trade_docs.json"))
    assert frame.ticks == [SpotTick("AAPL", _ns(2024, 5, 3, 14, 40, 37, 607000), 184.5099)]


def test_thetadata_bulk_open_interest_rows_by_strike_and_right():
    oi, bad = theta.parse_bulk_open_interest(json.loads(_text("thetadata/rest_v2_bulk_snapshot_oi_constructed.json")))
    assert (oi, bad) == ({(4800000, "C"): 1520, (4800000, "P"): 310}, 0)
    assert theta.next_page(json.loads(_text("thetadata/rest_v2_bulk_snapshot_oi_constructed.json"))) is None


# ----------------------------------------------------------------------------- Tradier


def test_tradier_documented_examples_pretty_printed_in_one_frame():
    frame = tradier.parse_ws_frame(_text("tradier/stream_docs_examples.txt"))
    # quote of the underlying: not used; trade: spot; summary, timesale, tradex: not used
    assert frame.malformed == 0
    assert frame.ticks == [SpotTick("SPY", 1557757190000 * 1_000_000, 281.85)]


def test_tradier_documented_quote_of_an_option_symbol_is_a_quote_tick():
    example = json.loads(_text("tradier/stream_docs_examples.txt").split("}\n{")[0] + "}")
    example["symbol"] = "VXX190517P00016000"  # the option symbol of the documented subscription example
    frame = tradier.parse_ws_frame(json.dumps(example))
    # biddate 1557757189000, askdate 1557757190000: the later one stamps the quote
    assert frame.ticks == [QuoteTick("VXX190517P00016000", 1557757190000 * 1_000_000, 281.84, 281.85, 60, 6)]


def test_tradier_documented_error_payload_is_a_notice():
    frame = tradier.parse_ws_frame(_text("tradier/stream_docs_error.json"))
    assert (frame.notices, frame.malformed) == (["stream error: 1234 is not a valid symbol"], 0)


def test_tradier_payloads_back_to_back_and_a_bad_stretch_counted_once():
    trade = '{"type":"trade","symbol":"SPY","exch":"J","price":"281.85","size":"100","date":"1557757190000"}'
    frame = tradier.parse_ws_frame(trade + trade + "\n{not json\n" + trade)
    assert (len(frame.ticks), frame.malformed) == (3, 1)


@given(st.lists(st.sampled_from(["", " ", "\n", "\r\n", "\n\n"]), min_size=4, max_size=4))
def test_tradier_any_whitespace_between_payloads_reads_the_same(seps):
    trade = '{"type":"trade","symbol":"SPY","price":"1.5","size":"1","date":"1000"}'
    frame = tradier.parse_ws_frame(seps[0] + trade + seps[1] + trade + seps[2] + trade + seps[3])
    assert (len(frame.ticks), frame.malformed) == (3, 0)


def test_tradier_client_chain_fixture_keeps_the_root_and_skips_adjusted_roots():
    payload = json.loads(_text("tradier/rest_chain_AAPL_tradier_rb.json"))
    contracts, bad = tradier.parse_chain(payload, date(2015, 1, 17), "AAPL")
    assert bad == 0  # the AAPL7 rows are another root, not malformed
    assert [(c.key, c.strike, c.is_call, c.settled_oi) for c in contracts] == [
        ("AAPL150117C01000000", 1000.0, True, 5444), ("AAPL150117C01010000", 1010.0, True, 395),
        ("AAPL150117C01020000", 1020.0, True, 414), ("AAPL150117C01030000", 1030.0, True, 389),
        ("AAPL150117P01000000", 1000.0, False, 469), ("AAPL150117P01010000", 1010.0, False, 78)]


def test_tradier_client_quote_and_session_fixtures():
    assert tradier.parse_quote(json.loads(_text("tradier/rest_quote_tradier_rb.json")), "AAPL") == (438.89, None)
    assert tradier.parse_session(json.loads(_text("tradier/rest_session_tradier_rb.json"))) == \
        "316908ae-c98d-4cc4-bb3b-32a3dc58aca0"
