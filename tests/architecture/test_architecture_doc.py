"""docs/architecture.md stays true: every path it names exists, every ``file.py::Name`` or
``file.py::Class.method`` it names is defined there, and its layer picture lists every layer of
tests/architecture/test_layers.py."""

from __future__ import annotations

import ast
import re

from tests.architecture.imports import ROOT
from tests.architecture.test_layers import MAY_IMPORT

DOC = ROOT / "docs" / "architecture.md"
PATH_RE = re.compile(r"`((?:zdte_tui|tests|docs|benchmarks)/[\w./-]*|pyproject\.toml|config\.example\.toml)"
                     r"(?:::([\w.]+))?`")


def references(text: str) -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(2)) for m in PATH_RE.finditer(text)]


def defines(path, dotted: str) -> bool:
    """True if ``dotted`` (``func``, ``Class`` or ``Class.method``) is defined at the top of ``path``."""
    scope: list[ast.stmt] = ast.parse(path.read_text(encoding="utf-8")).body
    for part in dotted.split("."):
        node = next((n for n in scope if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            return False
        scope = node.body
    return True


def test_reference_parser_on_a_hand_example():
    text = "see `zdte_tui/engine/rows.py::exposure_rows`, `zdte_tui/ui/` and `pyproject.toml`"
    assert references(text) == [("zdte_tui/engine/rows.py", "exposure_rows"), ("zdte_tui/ui/", None),
                                ("pyproject.toml", None)]
    assert defines(ROOT / "zdte_tui/engine/flow_engine.py", "FlowEngine.apply")
    assert not defines(ROOT / "zdte_tui/engine/flow_engine.py", "FlowEngine.no_such_method")


def test_every_file_and_function_the_architecture_page_names_exists():
    refs = references(DOC.read_text(encoding="utf-8"))
    assert len(refs) > 40
    missing = [f"{path}::{name}" if name else path for path, name in refs
               if not (ROOT / path).exists() or (name and not defines(ROOT / path, name))]
    assert missing == []


def test_the_trade_path_names_functions_in_every_layer_it_crosses():
    named = {path.split("/")[1] for path, name in references(DOC.read_text(encoding="utf-8")) if name}
    assert {"sources", "market", "service", "engine", "ui", "api"} <= named


def test_the_layer_picture_lists_every_layer():
    text = DOC.read_text(encoding="utf-8")
    picture = text[text.index("```"):text.index("```", text.index("```") + 3)]
    layers = set(MAY_IMPORT) - {"package"}
    assert [layer for layer in sorted(layers) if not re.search(rf"^\s*{layer}\b", picture, re.M)
            and f"| {layer}" not in picture and f"{layer} |" not in picture] == []
