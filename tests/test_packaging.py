"""What the distribution declares: the licence, one version, and package data covering every
non-Python file the app ships. Nothing is built here; `.ci/wheel-check` builds and installs the wheel."""

from __future__ import annotations

import glob
import hashlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import zdte_tui

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

# MD5 of https://www.apache.org/licenses/LICENSE-2.0.txt (also Debian's /usr/share/common-licenses/Apache-2.0).
APACHE_2_0_MD5 = "3b83ef96387f14655fc854ddc3c6bd57"


def _package_files() -> list[Path]:
    """Files under zdte_tui/ that are part of the source: git's view when there is one (so editor
    and build droppings are not counted), otherwise everything but bytecode."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "zdte_tui"],
                             cwd=ROOT, capture_output=True, check=True).stdout.decode()
        files = [ROOT / p for p in out.split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        files = [p for p in (ROOT / "zdte_tui").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return [p for p in files if p.exists()]


def _declared_package_data() -> set[Path]:
    """Files matched by [tool.setuptools.package-data], globbed the way setuptools globs them
    (relative to each package's directory, ``**`` recursive)."""
    matched: set[Path] = set()
    for package, patterns in PYPROJECT["tool"]["setuptools"]["package-data"].items():
        assert package != "*" and package, "a package-data key must name a package"
        base = ROOT.joinpath(*package.split("."))
        for pattern in patterns:
            matched.update(Path(p).resolve() for p in glob.glob(str(base / pattern), recursive=True))
    return matched


def test_every_non_python_file_in_the_package_is_declared_package_data():
    data_files = [p for p in _package_files() if p.suffix not in (".py", ".pyc")]
    assert any(p.suffix == ".tcss" for p in data_files), "the app's stylesheet should be among them"
    declared = _declared_package_data()
    missing = [str(p.relative_to(ROOT)) for p in data_files if p.resolve() not in declared]
    assert not missing, f"not in [tool.setuptools.package-data], so not in the wheel: {missing}"


def test_the_version_lives_only_in_the_package():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "zdte_tui.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?(?:\.dev\d+)?", zdte_tui.__version__)


def test_zdte_version_prints_the_package_version():
    out = subprocess.run([sys.executable, "-m", "zdte_tui.cli", "--version"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == zdte_tui.__version__


def test_the_changelog_has_an_unreleased_section_and_one_for_the_current_version():
    headings = re.findall(r"^## \[([^\]]+)\]", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.M)
    assert headings[0] == "Unreleased"
    assert zdte_tui.__version__ in headings


def test_the_licence_file_is_the_unmodified_apache_2_0_text_and_is_declared():
    assert hashlib.md5((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_0_MD5
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]


def test_every_test_file_the_ci_scripts_name_exists():
    # .ci/wheel-check runs one test file by path against the installed wheel: a test move must not
    # silently turn that step into "file not found"
    root = Path(__file__).resolve().parents[1]
    named = {m for script in (root / ".ci").iterdir() if script.is_file()
             for m in re.findall(r"tests/[\w/]+\.py", script.read_text(encoding="utf-8"))}
    assert named, "the CI scripts name no test file"
    assert all((root / path).is_file() for path in named), sorted(p for p in named if not (root / p).is_file())
