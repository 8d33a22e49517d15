"""Shared fixtures of the fetch-day tests: an isolated config, and running the CLI in-process."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from zdte_tui.cli import main


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def zdte(monkeypatch, tmp_path, capsys):
    """``zdte(*args) -> Run``: the CLI in this process (the loopback server runs on a thread)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("ZDTE_CONFIG", raising=False)
    for var in ("DATABENTO_API_KEY", "MASSIVE_API_KEY", "TRADIER_TOKEN"):
        monkeypatch.delenv(var, raising=False)

    def run(*args: str) -> Run:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run
