"""The package's own import graph, read from the source with :mod:`ast` (nothing is executed).

Every ``import`` counts, including the ones inside functions: a function-local import is still a
dependency (and the usual way a cycle hides)."""

from __future__ import annotations

import ast
import functools
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
PKG = "zdte_tui"


def module_files() -> dict[str, pathlib.Path]:
    """``{dotted module name: path}`` for every ``.py`` file of the package."""
    out = {}
    for path in sorted((ROOT / PKG).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imported_names(path: pathlib.Path, module: str) -> set[str]:
    """Every dotted name ``path`` imports (``from a import b`` gives ``a`` and ``a.b``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg_parts = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[: len(pkg_parts) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names.add(target)
            names.update(f"{target}.{a.name}" for a in node.names)
    return names


def resolve(name: str, modules: dict[str, pathlib.Path]) -> str | None:
    """The package module a dotted name refers to (``a.b.func`` -> ``a.b``), or None."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


@functools.cache
def package_imports() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """``(module, path relative to the repo, package modules it imports)`` for every module."""
    modules = module_files()
    out = []
    for module, path in modules.items():
        targets = {resolve(n, modules) for n in imported_names(path, module) if n.split(".")[0] == PKG}
        targets.discard(None)
        targets.discard(module)
        out.append((module, str(path.relative_to(ROOT)), tuple(sorted(t for t in targets if t))))
    return tuple(out)


def import_graph() -> dict[str, set[str]]:
    """``{module: modules it imports}``; a package importing its own submodule is not an edge back."""
    graph: dict[str, set[str]] = {}
    for module, _, targets in package_imports():
        graph[module] = {t for t in targets if not module.startswith(t + ".")}
    return graph
