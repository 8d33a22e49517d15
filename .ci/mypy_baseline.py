#!/usr/bin/env python3
"""Hold the type errors of the whole package to a baseline that may only shrink.

The strict packages (``[tool.mypy] files`` in pyproject.toml) must have no error at all (plain
``mypy``); this script runs mypy over all of ``zdte_tui`` (imports followed, so the rest of the
package is checked too), counts the errors, and fails when the count is above the number in
``.ci/mypy-baseline.txt``. When it is below, it says so: lower the baseline in the same change
(``python .ci/mypy_baseline.py --update``) so it cannot grow back.

Usage: ``python .ci/mypy_baseline.py [--update]``; exit 0 ok, 1 over the baseline, 2 mypy crashed.
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / ".ci" / "mypy-baseline.txt"
ERROR = re.compile(r"^(?P<path>[^:\s]+\.py):\d+: error: ")


def count_errors() -> tuple[int, collections.Counter[str]]:
    cmd = [sys.executable, "-m", "mypy", "zdte_tui", "--follow-imports=normal", "--no-error-summary"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if out.returncode not in (0, 1):  # 2: mypy itself failed (bad config, crash)
        sys.stderr.write(out.stdout + out.stderr)
        raise SystemExit(2)
    per_file = collections.Counter(m["path"] for m in map(ERROR.match, out.stdout.splitlines()) if m)
    return sum(per_file.values()), per_file


def read_baseline() -> int:
    for line in BASELINE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            return int(line.split()[0])
    raise SystemExit(f"{BASELINE}: no error count in it")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="write the current count as the new baseline")
    args = parser.parse_args(argv)
    total, per_file = count_errors()
    if args.update:
        BASELINE.write_text("# mypy errors in zdte_tui (python .ci/mypy_baseline.py); may only go down\n"
                            f"{total}\n", encoding="utf-8")
        print(f"mypy baseline set to {total}")
        return 0
    allowed = read_baseline()
    worst = ", ".join(f"{path} {n}" for path, n in per_file.most_common(5))
    if total > allowed:
        print(f"mypy: {total} errors, above the baseline of {allowed} ({BASELINE.name}); "
              f"run `python -m mypy zdte_tui` and fix the new ones. Most: {worst}", file=sys.stderr)
        return 1
    note = f"; lower {BASELINE.name} to {total} (--update)" if total < allowed else ""
    print(f"mypy: {total} errors, baseline {allowed}{note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
