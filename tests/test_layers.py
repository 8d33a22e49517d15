"""One-way data flow, enforced: source -> engine -> FlowService -> (TUI | HTTP).

An AST check of the package's own imports (no execution), plus an import-hygiene check that
the engine pulls in no UI or web stack (harlequin's test_import_hygiene)."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
PKG = "zdte_tui"
RULES = [
    ("engine", ("ui", "api", "sources", "store", "service", "views", "cli", "commands", "config"),
     "the engine is pure: no I/O, no views"),
    ("market", ("engine", "ui", "api", "sources", "store", "service", "views", "cli", "commands"),
     "domain types depend on nothing"),
    ("ui", ("engine", "sources", "store", "service", "views"), "the TUI renders FlowService snapshots only"),
    ("api", ("ui",), "the server knows no screen"),
    ("sources", ("ui", "api", "service", "views"), "sources feed the engine and know no views"),
    ("store", ("ui", "api", "service", "views"), "the recording format knows no views"),
]


def _imports(path: pathlib.Path, module: str):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg_parts = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[: len(pkg_parts) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target
            for a in node.names:
                yield f"{target}.{a.name}"


def forbidden_imports() -> list[str]:
    broken = []
    for path in sorted((ROOT / PKG).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        module = ".".join(parts)
        layer = parts[1] if len(parts) > 1 else ""
        for src, forbidden, why in RULES:
            if layer != src:
                continue
            for target in set(_imports(path, module)):
                t = target.split(".")
                if t[0] == PKG and len(t) > 1 and t[1] in forbidden:
                    broken.append(f"{path.relative_to(ROOT)} imports {target} ({why})")
    return sorted(set(broken))


def test_no_module_imports_across_the_layers():
    assert forbidden_imports() == []


def test_engine_imports_no_ui_or_web_stack():
    code = ("import sys, zdte_tui.engine.flow_engine, zdte_tui.engine.decision, zdte_tui.engine.scoring, "
            "zdte_tui.engine.probabilities; "
            "bad = [m for m in ('textual', 'httpx', 'fastapi', 'uvicorn', 'starlette', 'rich') if m in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
