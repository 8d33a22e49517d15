"""OCC/OSI option symbols: parsing the vendor spellings, formatting, and round trips."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zdte_tui.market.occ import OptionSymbol, format_occ, parse_occ

SPY_590_CALL = OptionSymbol(root="SPY", expiry=date(2026, 6, 5), right="C", strike=590.0)


@pytest.mark.parametrize(
    "text",
    [
        "SPY   260605C00590000",  # OSI: root space-padded to 6, 21 characters
        "O:SPY260605C00590000",  # Massive / Polygon
        "SPY260605C00590000",  # compact, unpadded
        "  spy   260605c00590000\n",  # case and surrounding whitespace are forgiven
    ],
)
def test_parse_reads_every_spelling_of_the_same_contract(text):
    assert parse_occ(text) == SPY_590_CALL


def test_parse_reads_spxw_root_and_fractional_strike():
    sym = parse_occ("SPXW  251219P05937500")
    assert sym == OptionSymbol(root="SPXW", expiry=date(2025, 12, 19), right="P", strike=5937.5)
    assert not sym.is_call
    assert sym.strike_milli == 5_937_500


def test_parse_strike_is_eight_digits_in_thousandths():
    assert parse_occ("IWM250117C00212345").strike == pytest.approx(212.345)
    assert parse_occ("O:XSP260102P00000500").strike == pytest.approx(0.5)


def test_parse_six_character_root_fills_the_osi_field():
    assert parse_occ("BRKB12260116C00450000").root == "BRKB12"


@pytest.mark.parametrize(
    "style, expected",
    [
        ("osi", "SPY   260605C00590000"),
        ("massive", "O:SPY260605C00590000"),
        ("compact", "SPY260605C00590000"),
    ],
)
def test_format_writes_each_style(style, expected):
    assert format_occ(SPY_590_CALL, style) == expected


def test_format_osi_is_21_characters_for_every_root_length():
    for root in ("A", "SPXW", "ABCDEF"):
        sym = OptionSymbol(root=root, expiry=date(2026, 1, 2), right="P", strike=1.0)
        assert len(format_occ(sym)) == 21


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("SPY   261305C00590000", "bad expiry date '261305'"),  # month 13
        ("SPY   260231C00590000", "bad expiry date '260231'"),  # 31 Feb
        ("SPY   26O605C00590000", "not six digits"),
        ("SPY   260605X00590000", "bad right 'X'"),
        ("SPY   260605C0059O000", "bad strike digits '0059O000'"),
        ("SPY   260605C00000000", "strike is zero"),
        ("ABCDEFG260605C00590000", "longer than 6"),
        ("S-Y260605C00590000", "letters and digits only"),
        ("260605C00590000", "too short"),
        ("O:260605C00590000", "too short"),
        ("", "too short"),
        ("SPY    260605C00590000", "padded past 6"),
    ],
)
def test_parse_rejects_bad_text_quoting_it_and_saying_what_is_wrong(text, complaint):
    with pytest.raises(ValueError) as info:
        parse_occ(text)
    message = str(info.value)
    assert repr(text) in message
    assert complaint in message


@pytest.mark.parametrize(
    "kwargs, complaint",
    [
        (dict(root="spy"), "root"),
        (dict(root="TOOLONG"), "root"),
        (dict(right="X"), "right"),
        (dict(strike=0.0), "0.001 to 99999.999"),
        (dict(strike=100_000.0), "0.001 to 99999.999"),
        (dict(strike=1.0005), "thousandths"),
        (dict(strike=float("nan")), "positive number"),
        (dict(expiry=date(1999, 12, 31)), "two digits"),
    ],
)
def test_option_symbol_rejects_fields_occ_cannot_encode(kwargs, complaint):
    fields = dict(root="SPY", expiry=date(2026, 6, 5), right="C", strike=590.0) | kwargs
    with pytest.raises(ValueError, match=complaint):
        OptionSymbol(**fields)


def test_format_rejects_unknown_style():
    with pytest.raises(ValueError, match="'bloomberg'"):
        format_occ(SPY_590_CALL, "bloomberg")  # type: ignore[arg-type]


option_symbols = st.builds(
    OptionSymbol,
    root=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=6),
    expiry=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    right=st.sampled_from(["C", "P"]),
    strike=st.integers(min_value=1, max_value=99_999_999).map(lambda milli: milli / 1000),
)


@given(option_symbols, st.sampled_from(["osi", "massive", "compact"]))
def test_format_then_parse_round_trips(sym, style):
    assert parse_occ(format_occ(sym, style)) == sym


@given(option_symbols)
def test_every_style_parses_to_the_same_contract(sym):
    spellings = {format_occ(sym, style) for style in ("osi", "massive", "compact")}
    assert {parse_occ(text) for text in spellings} == {sym}
    assert format_occ(parse_occ(format_occ(sym, "massive")), "osi") == format_occ(sym, "osi")
