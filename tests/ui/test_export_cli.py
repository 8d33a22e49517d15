"""`zdte export SYMBOL --what ... --format ...` (issue 13, Export): the TUI's tables from the CLI."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest

from zdte_tui import cli
from zdte_tui.export_cmd import fetch_table, write_table

from .fake_service import FakeFlowService

TABLE = (["level", "value"], [["spot", 591.87], ["gamma_flip", 587.5], ["regime", "positive_gamma"]])


def test_write_table_in_every_format(tmp_path, capsys):
    write_table(TABLE, "csv", None)
    assert list(csv.reader(io.StringIO(capsys.readouterr().out)))[1] == ["spot", "591.87"]
    write_table(TABLE, "json", tmp_path / "t.json")
    assert json.loads((tmp_path / "t.json").read_text())[1] == {"level": "gamma_flip", "value": 587.5}
    write_table((["t", "v"], [["10:00", 1.5], ["10:01", None]]), "parquet", tmp_path / "t.parquet")
    assert pq.read_table(tmp_path / "t.parquet").to_pydict() == {"t": ["10:00", "10:01"], "v": [1.5, None]}


@pytest.mark.parametrize("what", ["heatmap", "series", "signals", "levels"])
def test_fetch_table_reads_each_export_from_the_service(what):
    header, rows = fetch_table(FakeFlowService(), "SPY", what, minutes=30)
    assert header and rows
    if what in ("heatmap", "series"):
        assert len(rows) == 30


@pytest.mark.parametrize("argv, message", [
    (["export", "SPY", "--what", "bogus"], "--what must be one of"),
    (["export", "SPY", "--format", "xlsx"], "--format must be one of"),
    (["export", "SPY", "--format", "parquet"], "--format parquet needs --out"),
])
def test_bad_export_options_are_one_line_errors(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_export_levels_from_the_simulator_at_a_time(capsys):
    assert cli.main(["export", "SPY", "--what", "levels", "--format", "json", "--at", "11:00"]) == 0
    rows = {r["level"]: r["value"] for r in json.loads(capsys.readouterr().out)}
    assert rows["as_of"].endswith("T16:00:00Z") or rows["as_of"].endswith("T15:00:00Z")  # 11:00 ET
    assert isinstance(rows["spot"], float) and rows["regime"] in ("positive_gamma", "negative_gamma")
