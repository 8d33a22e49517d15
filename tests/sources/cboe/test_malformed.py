"""Malformed variants of a real download: nothing vanishes silently, no traceback on any input.

Every variant is made from tests/data/cboe/spy_2023-09-14_1631.csv (a real SPY download): a
truncated file, OI of N/A / blank / negative / text, a duplicated row, CRLF line ends, a BOM, no
leading blank line, trailing empty columns, a missing header / Last / Date. Dropped and defaulted
rows are counted by reason (``metadata.input_counts``, stderr, the TUI label) and lower
``data_quality_score``; a duplicated (expiry, strike, side) is de-duplicated, not summed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zdte_tui import cli
from zdte_tui.service import FlowService
from zdte_tui.sources.cboe import CboeFormatError, CboeSnapshotSource, load_cboe_chain

REAL = Path(__file__).parents[2] / "data" / "cboe" / "spy_2023-09-14_1631.csv"
LINES = REAL.read_text().split("\n")
HEADER_AT = next(i for i, ln in enumerate(LINES) if ln.startswith("Expiration Date,"))
# a 2023-09-15 row near the money: 450 strike (call OI is column 10, put OI column 21)
ROW_AT = next(i for i, ln in enumerate(LINES) if ln.startswith("Fri Sep 15 2023,SPY230915C00450000"))


def variant(tmp_path: Path, lines: list[str], name: str = "quotedata.csv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join(lines))
    return p


def with_cell(row_at: int, col: int, value: str) -> list[str]:
    lines = list(LINES)
    cells = lines[row_at].split(",")
    cells[col] = value
    lines[row_at] = ",".join(cells)
    return lines


def snapshot(path: Path) -> dict:
    return FlowService(CboeSnapshotSource(path)).run_to_end().snapshot("SPY")


BASE = snapshot(REAL)


def test_the_untouched_file_has_nothing_to_report():
    assert BASE["metadata"]["input_counts"] == {}


def test_truncated_file_counts_its_cut_row(tmp_path):
    text = REAL.read_text()
    at = text.index("SPY230915C00451000")
    p, clean = tmp_path / "cut.csv", tmp_path / "clean.csv"
    p.write_text(text[: at + 30])  # stops in the middle of a row
    clean.write_text(text[: text.rindex("\n", 0, at) + 1])  # the same rows, ending on a full line
    snap, whole = snapshot(p), snapshot(clean)
    assert snap["metadata"]["input_counts"] == {"dropped:short_row": 1}
    assert whole["metadata"]["input_counts"] == {}
    assert snap["metadata"]["data_quality_score"] < whole["metadata"]["data_quality_score"]


@pytest.mark.parametrize("value, reason", [
    ("N/A", "defaulted:oi_blank_as_0"), ("", "defaulted:oi_blank_as_0"),
    ("-5", "defaulted:oi_negative_as_0"), ("lots", "defaulted:oi_unreadable_as_0"),
])
def test_bad_open_interest_is_read_as_zero_and_counted(tmp_path, value, reason):
    snap = snapshot(variant(tmp_path, with_cell(ROW_AT, 10, value)))
    assert snap["metadata"]["input_counts"] == {reason: 1}
    assert snap["metadata"]["data_quality_score"] < BASE["metadata"]["data_quality_score"]
    k450 = next(s for s in snap["strikes"] if s["strike"] == 450.0)
    assert k450["call_oi"] == 0


def test_duplicated_row_is_deduplicated_not_summed(tmp_path):
    lines = list(LINES)
    lines.insert(ROW_AT + 1, lines[ROW_AT])
    snap = snapshot(variant(tmp_path, lines))
    assert snap["metadata"]["input_counts"] == {"dropped:duplicate": 2}  # its call and its put
    assert snap["exposures"]["net_gex"] == BASE["exposures"]["net_gex"]
    assert snap["strikes"] == BASE["strikes"]


@pytest.mark.parametrize("edit", ["crlf", "bom", "no_blank_first_line", "trailing_empty_columns"])
def test_layout_variants_of_real_downloads_read_the_same(tmp_path, edit):
    lines = list(LINES)
    if edit == "no_blank_first_line":
        lines = lines[1:]
    if edit == "trailing_empty_columns":  # as in tests/data/cboe/spx_2022-07-12_1155.csv
        lines = [ln + ",,,,," if i in (1, 2) else ln for i, ln in enumerate(lines)]
    text = ("\r\n" if edit == "crlf" else "\n").join(lines)
    p = tmp_path / "v.csv"
    p.write_bytes(("\ufeff" if edit == "bom" else "").encode() + text.encode())
    snap = snapshot(p)
    assert snap["metadata"]["input_counts"] == {} and snap["strikes"] == BASE["strikes"]


@pytest.mark.parametrize("drop, message", [
    (HEADER_AT, "no header row; expected 'Expiration Date,Calls"),
    (1, "no 'Last: <price>' before the header"),
    (2, "no 'Date:' line before the header"),
])
def test_missing_preamble_or_header_is_a_one_line_error(tmp_path, drop, message):
    lines = [ln for i, ln in enumerate(LINES) if i != drop]
    with pytest.raises(CboeFormatError, match=message):
        load_cboe_chain(variant(tmp_path, lines))


def test_counts_reach_stderr_json_and_the_label(tmp_path, capsys):
    lines = with_cell(ROW_AT, 21, "N/A")
    lines.insert(ROW_AT + 1, lines[ROW_AT])
    p = variant(tmp_path, lines)
    assert cli.main(["import-cboe", str(p), "--json"]) == 0
    out = capsys.readouterr()
    counts = {"defaulted:oi_blank_as_0": 1, "dropped:duplicate": 2}
    assert json.loads(out.out)["metadata"]["input_counts"] == counts
    assert "defaulted:oi_blank_as_0=1, dropped:duplicate=2" in out.err
    assert "3 row(s)/cell(s) left out or defaulted" in CboeSnapshotSource(p).label


def test_not_a_file_and_binary_input_exit_2(tmp_path, capsys):
    assert cli.main(["import-cboe", str(tmp_path / "missing.csv"), "--json"]) == 2
    p = tmp_path / "bin.csv"
    p.write_bytes(b"\x00\xff\xfe garbage")
    assert cli.main(["import-cboe", str(p), "--json"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(e.startswith("zdte: error: ") for e in err)


# ------------------------------------------------------------------------------ fuzz
MANGLERS = st.sampled_from(["delete_line", "replace_cell", "truncate", "insert_bytes", "swap_lines", "dup_line"])


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(MANGLERS, st.integers(0, 10_000), st.text(max_size=12)), min_size=1, max_size=4))
def test_no_traceback_on_any_mangled_real_file(tmp_path, capsys, edits):
    """Property: whatever is done to a real download, the CLI exits 0 (levels) or 2 with a one-line
    message; it never raises."""
    lines = list(LINES)
    data = None
    for op, n, junk in edits:
        i = n % max(1, len(lines))
        if op == "delete_line" and lines:
            del lines[i]
        elif op == "replace_cell" and lines:
            cells = lines[i].split(",")
            cells[n % len(cells)] = junk.replace("\n", " ")
            lines[i] = ",".join(cells)
        elif op == "swap_lines" and len(lines) > 1:
            j = (n // 7) % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "dup_line" and lines:
            lines.insert(i, lines[i])
        elif op == "truncate":
            text = "\n".join(lines)
            lines = text[: n % max(1, len(text))].split("\n")
        elif op == "insert_bytes":
            data = "\n".join(lines).encode()
            k = n % max(1, len(data))
            data = data[:k] + junk.encode("utf-8", "surrogatepass")[:8] + bytes([n % 256]) + data[k:]
            lines = None
            break
    p = tmp_path / "fuzz.csv"
    p.write_bytes(data if lines is None else "\n".join(lines).encode())
    code = cli.main(["import-cboe", str(p), "--json"])
    out = capsys.readouterr()
    assert code in (0, 2)
    if code == 2:
        assert out.err.count("\n") == 1 and out.err.startswith("zdte: error: ")
    else:
        json.loads(out.out)
