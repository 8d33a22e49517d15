"""What `zdte SYMBOL` loads before its first screen (issue 17, "Fast start"): the settings model
without pydantic-settings, BLAS pinned to one thread unless the user chose otherwise, and the garbage
collector paused until the app runs. Import cost itself is measured by benchmarks/bench_launch_pty.py,
never asserted here."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys

from zdte_tui import cli


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True, env=dict(os.environ))
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_loading_the_settings_does_not_import_pydantic_settings():
    loaded = _modules_after("from zdte_tui.config import load_config\nload_config(None)")
    assert "pydantic_settings" not in loaded
    assert "zdte_tui.config" in loaded


def test_pin_blas_threads_sets_one_thread_where_the_user_set_nothing(monkeypatch):
    for var in cli.BLAS_THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's choice stays
    cli.pin_blas_threads()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert os.environ["MKL_NUM_THREADS"] == "1"
    assert os.environ["OMP_NUM_THREADS"] == "3"


def test_the_collector_is_paused_while_a_tui_command_starts_and_only_then(monkeypatch):
    from zdte_tui import commands

    seen: dict[str, bool] = {}
    monkeypatch.setattr(commands, "dispatch", lambda args: seen.setdefault(args.command, gc.isenabled()) and 0)
    assert gc.isenabled()
    cli.main(["SPY"])
    cli.main(["watch", "SPY,QQQ"])
    cli.main(["snapshot", "SPY"])
    assert seen == {"monitor": False, "watch": False, "snapshot": True}
    assert gc.isenabled()  # on again when the command returns, whatever it did


def test_the_monitor_turns_the_collector_back_on_before_the_app_runs(monkeypatch):
    import zdte_tui.ui.app as app_module
    from zdte_tui import commands
    from zdte_tui.config import default_settings

    seen: dict[str, bool] = {}

    def fake_run_tui(service, **options) -> int:
        seen["enabled"] = gc.isenabled()
        seen["frozen"] = gc.get_freeze_count() > 0
        return 0

    monkeypatch.setattr(app_module, "run_tui", fake_run_tui)
    monkeypatch.setattr(commands, "build_service", lambda *a, **k: object())
    gc.disable()
    try:
        assert commands.cmd_monitor(cli.build_parser().parse_args(["monitor", "SPY"]), default_settings()) == 0
    finally:
        gc.enable()
        gc.unfreeze()
    assert seen == {"enabled": True, "frozen": True}  # the start-up's objects are left out of later passes
