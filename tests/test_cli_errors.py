"""Bad command-line input: one line on stderr, exit status 2, never a traceback. Each case
is checked before any session is simulated, so these run in a fraction of a second."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

from zdte_tui.cli import QUERY_OPTIONS, build_parser


def run(*args: str, env: dict | None = None, preexec_fn=None, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zdte_tui.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, preexec_fn=preexec_fn)


def assert_one_line_error(out: subprocess.CompletedProcess, *fragments: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "Traceback" not in out.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("argv, fragments", [
    (["snapshot", "SPY", "--date", "2019-01-01"], ["2019-01-01 is not a trading day", "2018-12-31", "2019-01-02"]),
    (["snapshot", "SPY", "--date", "2300-01-05"], ["outside the supported sessions", "1970-01-02", "2261-12-31"]),
    (["snapshot", "SPY", "--at", "25:00"], ["--at", "hour must be 0-23"]),
    (["SPY", "--at", "noon"], ["--at", "HH:MM"]),
    (["snapshot", "SPY", "--speed", "-5"], ["--speed", "(0, 100000]"]),
    (["snapshot", "SPY", "--speed", "-1"], ["--speed", "(0, 100000]"]),
    (["snapshot", "SPY", "--speed", "0"], ["--speed", "(0, 100000]"]),
    (["snapshot", "SPY", "--speed", "nan"], ["--speed", "finite"]),
    (["snapshot", "SPY", "--speed", "inf"], ["--speed", "finite"]),
    (["snapshot", "SPY", "--scenario", "bogus"], ["bogus", "auto, pin, squeeze, flip, trend, quiet"]),
    (["XYZ"], ["no profile for XYZ", "SPY, QQQ, IWM, SPX", "synthetic_symbols"]),
    (["snapshot", "XYZ"], ["no profile for XYZ"]),
    (["serve", "--port", "80000"], ["--port", "1-65535"]),
    (["series", "SPY", "--metric", "gex"], ["unrecognized arguments: --metric gex"]),
])
def test_bad_input_is_a_one_line_error_with_exit_status_2(argv, fragments):
    assert_one_line_error(run(*argv), *fragments)


def test_an_unknown_symbol_is_simulated_when_configured(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[sim]\nsynthetic_symbols = ["XYZ"]\n')
    out = run("--config", str(config), "snapshot", "XYZ", "--date", "2026-11-20", "--at", "10:00")
    assert out.returncode == 0, out.stderr


def test_an_out_path_that_cannot_be_written_is_refused_before_any_work(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert_one_line_error(run("simulate", "--out", str(blocker / "day.parquet")), "--out", "not an existing directory")
    assert_one_line_error(run("record", "SPY", "--out", str(tmp_path)), "--out", "is a directory")


def test_a_full_disk_while_writing_is_a_one_line_error(tmp_path):
    def small_files() -> None:  # the child may write at most 64 KiB per file (ulimit -f)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    out = run("simulate", "--date", "2026-11-20", "--symbols", "IWM", "--out", str(tmp_path / "day.parquet"),
              preexec_fn=small_files)
    assert_one_line_error(out, "File too large")


def test_replaying_a_symbol_the_recording_does_not_hold_names_the_ones_it_does(tmp_path):
    path = tmp_path / "qqq.parquet"
    assert run("simulate", "--date", "2026-11-20", "--symbols", "QQQ", "--out", str(path)).returncode == 0
    assert_one_line_error(run("replay", str(path), "--symbol", "SPY", "--headless"), "holds QQQ, not SPY")


def test_a_config_file_with_keys_readable_by_others_is_warned_about(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[server]\napi_keys = ["k1:growth"]\n')
    config.chmod(0o644)
    out = run("--config", str(config), "snapshot", "SPY", "--date", "2019-01-01")
    assert "zdte: warning:" in out.stderr and "chmod 600" in out.stderr


# ---------------------------------------------------------------- each command takes only its own options


def _option_strings(command: str) -> set[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return {s for action in sub.choices[command]._actions for s in action.option_strings}


@pytest.mark.parametrize("command, options", QUERY_OPTIONS.items())
def test_each_query_command_registers_exactly_its_own_query_options(command, options):
    every = {"--" + o.replace("_", "-") for opts in QUERY_OPTIONS.values() for o in opts}
    own = {"--" + o.replace("_", "-") for o in options}
    assert _option_strings(command) & every == own


def test_commands_without_a_source_do_not_offer_source_options():
    for command in ("replay", "import-dbn", "import-cboe", "calibrate"):
        assert not {"--source", "--seed", "--server"} & _option_strings(command)
    assert "--watch" not in _option_strings("monitor")
    assert "--server" not in _option_strings("serve") and "--port" in _option_strings("serve")


def test_help_of_a_query_command_lists_only_what_applies():
    out = run("series", "--help")
    assert out.returncode == 0
    assert "--bar" in out.stdout and "--minutes" in out.stdout
    assert "--metric" not in out.stdout and "--min-score" not in out.stdout


class _StubService:
    stopped = False

    def stop(self) -> None:
        self.stopped = True


def test_serve_binds_the_host_and_port_of_the_config_and_the_environment(tmp_path, monkeypatch):
    from zdte_tui import commands
    from zdte_tui.api import server
    from zdte_tui.config import load_config

    config = tmp_path / "config.toml"
    config.write_text('[server]\nhost = "127.0.0.2"\nport = 9001\n')
    settings = load_config(config, env={"ZDTE__SERVER__PORT": "9002"})
    bound: dict = {}
    monkeypatch.setattr(server, "serve", lambda svc, **kw: bound.update(kw))
    monkeypatch.setattr(commands, "_embedded_service", lambda *a, **kw: _StubService())
    assert commands.cmd_serve(build_parser().parse_args(["serve"]), settings) == 0
    assert (bound["host"], bound["port"]) == ("127.0.0.2", 9002)
    assert commands.cmd_serve(build_parser().parse_args(["serve", "--port", "9003"]), settings) == 0
    assert bound["port"] == 9003
