"""The real `zdte SPY`, started in a pseudo-terminal: the panes render and `q` quits cleanly.

By default it runs this source tree (`python -m zdte_tui.cli`). With ``ZDTE_EXE`` set to an installed
`zdte` executable (``.ci/wheel-check`` points it at the one in a fresh pipx environment) it runs that
instead, from an empty directory with no ``PYTHONPATH``, so nothing can come from the source tree.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="uses a Linux pty")


def _read_until(fd: int, needles: list[bytes], deadline_s: float) -> bytes:
    """Read the pty until every needle was seen (or the generous deadline passes: a failure guard,
    not a speed assertion)."""
    import time

    buf = b""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end and not all(n in buf for n in needles):
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf


def test_zdte_spy_renders_its_panes_and_quits_on_q(tmp_path):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor", XDG_CONFIG_HOME=str(tmp_path),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("ZDTE_CONFIG", None)
    installed = env.pop("ZDTE_EXE", "")
    if installed:
        env.pop("PYTHONPATH", None)
        command = [installed, "SPY"]
    else:
        command = [sys.executable, "-m", "zdte_tui.cli", "SPY"]
    proc = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env,
                            cwd=tmp_path if installed else None, close_fds=True, start_new_session=True)
    os.close(slave)
    try:
        needles = [b"SIMULATED", b"Heatmap", b"Signals", b"Leaderboard", b"hedge flow", b"SPY"]
        out = _read_until(master, needles, 90)
        missing = [n for n in needles if n not in out]
        assert not missing, f"panes not rendered: {missing}"
        os.write(master, b"q")
        import time

        end = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < end:
            _read_until(master, [b"\x00never"], 0.5)  # keep draining: a full pty would block the app
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
