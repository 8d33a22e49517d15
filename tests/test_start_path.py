"""What `zdte SYMBOL` loads before its first screen (issue 17, "Fast start"): the settings model
without pydantic-settings, and BLAS pinned to one thread unless the user chose otherwise. Import
cost itself is measured by benchmarks/bench_launch_pty.py, never asserted here."""

from __future__ import annotations

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
