"""The `zdte` command line: script output, errors, and a simulate -> headless replay round trip."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from zdte_tui.cli import _normalize_argv, build_parser


def run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zdte_tui.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_a_bare_symbol_means_the_monitor():
    assert _normalize_argv(["SPY", "--at", "10:00"]) == ["monitor", "SPY", "--at", "10:00"]
    assert _normalize_argv(["--config", "c.toml", "SPY"]) == ["--config", "c.toml", "monitor", "SPY"]
    assert _normalize_argv(["watch", "SPY", "QQQ"]) == ["watch", "SPY", "QQQ"]
    args = build_parser().parse_args(["monitor", "SPY", "--source", "replay:x.parquet", "--speed", "5"])
    assert (args.symbol, args.source, args.speed) == ("SPY", "replay:x.parquet", 5.0)


def test_snapshot_json_prints_one_flashalpha_shaped_response():
    out = run("snapshot", "SPY", "--json", "--date", "2026-11-20", "--at", "11:00", "--seed", "3")
    assert out.returncode == 0, out.stderr
    snap = json.loads(out.stdout)
    assert snap["symbol"] == "SPY" and snap["body"] is not None
    assert snap["as_of"] == "2026-11-20T16:00:00Z"
    assert {"regime", "headline", "setup", "probabilities", "flow_direction"} <= set(snap)


def test_a_documented_error_code_is_printed_and_the_exit_code_is_1():
    out = run("heatmap", "SPY", "--metric", "theta", "--date", "2026-11-20", "--at", "10:00")
    assert out.returncode == 1
    assert json.loads(out.stderr)["error"] == "invalid_metric"


def test_bad_flags_and_missing_files_are_clear_errors():
    out = run("replay", "/nonexistent/recording.parquet", "--headless")
    assert out.returncode == 2 and "recording not found" in out.stderr
    out = run("snapshot", "SPY", "--date", "06/05/2026")
    assert out.returncode == 2 and "--date must be YYYY-MM-DD" in out.stderr
    out = run("series", "SPY", "--metric", "gex")  # series registers only --bar and --minutes
    assert out.returncode == 2 and "unrecognized arguments: --metric gex" in out.stderr
    out = run("simulate", "--symbols", "SPX", "--intensity", "0", "--out", "never-written.zdte")
    assert out.returncode == 2 and "--intensity" in out.stderr


@pytest.mark.slow
def test_simulate_then_headless_replay_prints_the_final_snapshot(tmp_path):
    path = tmp_path / "iwm.parquet"
    out = run("simulate", "--date", "2026-11-20", "--symbols", "IWM", "--seed", "5", "--out", str(path))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["symbols"] == ["IWM"]
    out = run("replay", str(path), "--headless", "--json")
    assert out.returncode == 0, out.stderr
    snap = json.loads(out.stdout)
    assert snap["symbol"] == "IWM" and snap["as_of"] == "2026-11-20T21:00:00Z"
    assert snap["body"] is not None and snap["time_to_close_hours"] == 0.0


def test_a_server_that_is_not_an_http_url_is_a_one_line_error():
    """`zdte SPY --server notaurl` used to open the app and say "unreachable"; it is a typo, not an outage."""
    for bad in ("notaurl", "ftp://127.0.0.1:8765", "http://", "http://127.0.0.1:99999"):
        out = run("snapshot", "SPY", "--server", bad)
        assert out.returncode == 2, (bad, out.stderr)
        assert "--server" in out.stderr and "http://127.0.0.1:8765" in out.stderr
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    out = run("SPY", "--server", "notaurl")  # the monitor refuses it before drawing anything
    assert out.returncode == 2 and "not an http(s) URL" in out.stderr
