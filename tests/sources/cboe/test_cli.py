"""`zdte import-cboe` / `--source cboe:FILE` options on a real download: --at, --expiry, the symbol."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zdte_tui import cli

FILE = str(Path(__file__).parents[2] / "data" / "cboe" / "spy_2023-09-14_1631.csv")


def run(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, (json.loads(out.out) if code == 0 and out.out.strip() else None), out.err


def test_at_projects_to_another_time_of_the_session(capsys):
    code, snap, _ = run(capsys, "import-cboe", FILE, "--json", "--at", "14:00")
    assert code == 0 and snap["as_of"] == "2023-09-15T18:00:00Z"
    label = "DELAYED SNAPSHOT of 2023-09-14 16:31 ET - projected to the 2023-09-15 14:00 ET"
    assert snap["metadata"]["source_label"] == label


def test_expiry_and_bad_options_are_one_line_errors(capsys):
    assert run(capsys, "import-cboe", FILE, "--json", "--expiry", "2023-09-14")[0] == 2  # expired before the file
    for argv in (("--at", "25:00"), ("--at", "18:00"), ("--expiry", "Friday"), ("--expiry", "2023-09-22")):
        code, _, err = run(capsys, "import-cboe", FILE, "--json", *argv)
        assert code == 2 and err.count("\n") == 1 and err.startswith("zdte: error: "), argv


def test_snapshot_command_on_a_cboe_source_and_a_symbol_mismatch(capsys):
    code, snap, err = run(capsys, "snapshot", "SPY", "--source", f"cboe:{FILE}")
    assert code == 0 and snap["expiration"] == "2023-09-15" and err.startswith("cboe: spy_2023-09-14_1631.csv")
    code, _, err = run(capsys, "snapshot", "QQQ", "--source", f"cboe:{FILE}")
    assert code == 2 and "is a SPY chain, not QQQ" in err


@pytest.mark.parametrize("at", ["open"])
def test_at_open_is_the_default(capsys, at):
    code, snap, _ = run(capsys, "import-cboe", FILE, "--json", "--at", at)
    assert code == 0 and snap["as_of"] == "2023-09-15T13:30:00Z"
