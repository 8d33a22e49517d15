"""One-way data flow, enforced: source -> engine -> FlowService -> (TUI | HTTP).

Every module of the package belongs to exactly one layer (a new module that fits none fails
:func:`test_every_module_belongs_to_a_layer`), and a module imports only its own layer and the
layers its layer may use (:data:`MAY_IMPORT`). An AST check of the package's own imports, function-
local ones included (no execution); the same picture is written as import-linter contracts in
``pyproject.toml`` (``lint-imports`` in CI) and drawn in ``docs/architecture.md``. Plus import-hygiene
checks: the engine pulls in no UI or web stack, the TUI no engine (harlequin's test_import_hygiene).
"""

from __future__ import annotations

import subprocess
import sys

from tests.architecture.imports import PKG, package_imports

# module (or package prefix) -> layer; the longest matching prefix wins
LAYER_OF = {
    PKG: "package",                      # zdte_tui/__init__.py: the version only
    f"{PKG}.errors": "errors",
    f"{PKG}.market": "market",
    f"{PKG}.engine": "engine",
    f"{PKG}.store": "store",
    f"{PKG}.sources": "sources",
    f"{PKG}.config": "config",
    f"{PKG}.service.protocol": "protocol",
    f"{PKG}.service": "service",
    f"{PKG}.evaluation": "evaluation",
    f"{PKG}.api": "api",
    f"{PKG}.ui": "ui",
    f"{PKG}.commands": "cli",
    f"{PKG}.export_cmd": "cli",
    f"{PKG}.cli": "cli",
}

_BASE = {"package", "errors"}
MAY_IMPORT = {
    "package": set(),
    "errors": set(),
    "market": _BASE,
    "engine": _BASE | {"market"},
    "store": _BASE | {"market"},
    "sources": _BASE | {"market", "engine", "store"},
    "config": _BASE | {"market", "engine", "sources"},
    "protocol": _BASE,
    "service": _BASE | {"market", "engine", "store", "sources", "config", "protocol"},
    "evaluation": _BASE | {"market", "engine", "store", "sources", "config", "protocol", "service"},
    "api": _BASE | {"market", "config", "protocol"},
    "ui": _BASE | {"market", "config", "protocol"},
    "cli": set(LAYER_OF.values()),
}
# (importer, imported) pairs allowed across the layers, each with its reason; keep this short
EXCEPTIONS = {
    ("zdte_tui.api.auth", "zdte_tui.sources.live.config"):
        "is_loopback_host is shared with the live adapters' TLS rule; it belongs in a lower module (follow-up)",
}
WHY = {
    "engine": "the engine is pure: no I/O, no views",
    "market": "domain facts depend on nothing",
    "ui": "the TUI renders FlowService responses only (via service.protocol)",
    "api": "the server and client speak the query protocol, not the engine",
    "sources": "sources feed the engine and know no views",
    "store": "the recording format knows no views",
}


def layer_of(module: str) -> str | None:
    best = None
    for prefix in LAYER_OF:
        if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best)):
            best = prefix
    return LAYER_OF[best] if best else None


def forbidden_imports() -> list[str]:
    broken = []
    for module, path, targets in package_imports():
        src = layer_of(module)
        for target in targets:
            dst = layer_of(target)
            if dst is None or dst == src or dst in MAY_IMPORT.get(src, set()) or (module, target) in EXCEPTIONS:
                continue
            broken.append(f"{path} imports {target} ({WHY.get(src, f'{src} may not import {dst}')})")
    return sorted(set(broken))


def test_every_module_belongs_to_a_layer():
    assert [m for m, _, _ in package_imports() if layer_of(m) in (None, "package") and m != PKG] == []


def test_no_module_imports_across_the_layers():
    assert forbidden_imports() == []


def test_the_layer_check_catches_a_forbidden_import():
    assert layer_of("zdte_tui.service.protocol") == "protocol"
    assert layer_of("zdte_tui.service.views.snapshot") == "service"
    assert "service" not in MAY_IMPORT["ui"] and "engine" not in MAY_IMPORT["api"]
    assert "sources" not in MAY_IMPORT["engine"] and "service" not in MAY_IMPORT["sources"]


def _loaded(modules: str, watch: tuple[str, ...]) -> list[str]:
    code = (f"import sys, {modules}; "
            f"print(','.join(m for m in {watch!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_engine_imports_no_ui_or_web_stack():
    modules = ("zdte_tui.engine.flow_engine, zdte_tui.engine.decision, zdte_tui.engine.scoring, "
               "zdte_tui.engine.probabilities")
    assert _loaded(modules, ("textual", "httpx", "fastapi", "uvicorn", "starlette", "rich")) == []


def test_tui_imports_no_engine_sources_or_service_internals():
    watch = ("zdte_tui.engine.flow_engine", "zdte_tui.sources.sim", "zdte_tui.store.reader",
             "zdte_tui.service.queries", "zdte_tui.service.pump", "scipy")
    assert _loaded("zdte_tui.ui.app", watch) == []
