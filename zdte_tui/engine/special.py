"""The five scipy special functions zdte uses, loaded without running ``scipy.special``'s package
``__init__``.

Why: ``import scipy.special`` runs the package's ``__init__``, which builds scipy's array-API backend
support (``scipy.special._support_alternative_backends`` pulls in array_api_compat, numpy.f2py and
numpy.testing) and imports every special-function submodule: about 0.24 s of CPU at every launch
(docs/architecture.md, "Start-up"). The engine and the simulator need five compiled ufuncs
(``ndtr``, ``ndtri``, ``erfc``, ``erfcx``, ``erfinv``) that live in the extension module
``scipy.special._ufuncs`` and load in about 0.03 s.

What: while this module is imported, a bare stand-in package named ``scipy.special`` (a module whose
``__path__`` is the real package's directory, and nothing else) sits in ``sys.modules``, so that
``scipy.special._ufuncs`` can be imported without executing the real ``__init__``; the stand-in is
removed again before this module's import finishes, whatever happens (``try``/``finally``). The
functions are scipy's own ufunc objects: a later ``import scipy.special`` runs the real ``__init__``,
which finds ``scipy.special._ufuncs`` already loaded and exports the very same objects
(``scipy.special.ndtr is ndtr``). The few extension submodules loaded under the stand-in are bound as
attributes of the real package when it is imported (:class:`_BindSubmodules`), as a plain import
would have bound them.

The plain ``from scipy.special import ...`` is used instead when ``scipy.special`` is already
imported, when scipy's array-API mode is on (``SCIPY_ARRAY_API``: the package then exports wrappers,
not the bare ufuncs), or if anything in the fast path fails.

Threads: the stand-in exists only while this module executes, on the importing thread, and Python's
per-module import lock lets one thread execute it. Another thread that imported ``scipy.special``
directly during those ~30 ms would get the stand-in; inside zdte every user of these functions
imports them from here (zdte_tui/engine/greeks.py, zdte_tui/engine/probabilities.py,
zdte_tui/sources/sim_model.py), and nothing zdte loads imports ``scipy.special`` at import time.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from collections.abc import Sequence
from typing import Any

__all__ = ["erfc", "erfcx", "erfinv", "ndtr", "ndtri", "LOADED_BY"]

_NAMES = ("erfc", "erfcx", "erfinv", "ndtr", "ndtri")
_PACKAGE = "scipy.special"


class _BindSubmodules:
    """A meta-path finder that finds nothing: the first time the real ``scipy.special`` imports one
    of its submodules (its ``__init__`` is then running), it binds the submodules loaded under the
    stand-in as attributes of the real package and removes itself from ``sys.meta_path``."""

    def __init__(self, submodules: Sequence[str]) -> None:
        self.submodules = tuple(submodules)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if not fullname.startswith(_PACKAGE + "."):
            return None
        package = sys.modules.get(_PACKAGE)
        if package is None:  # the stand-in's own imports happen before this finder is installed
            return None
        for name in self.submodules:
            module = sys.modules.get(name)
            attr = name.rpartition(".")[2]
            if module is not None and attr not in vars(package):
                setattr(package, attr, module)
        try:
            sys.meta_path.remove(self)
        except ValueError:  # another thread removed it first
            pass
        return None


def _load_without_package_init() -> tuple[Any, ...]:
    """The five ufuncs from ``scipy.special._ufuncs`` under a stand-in package (see the module doc)."""
    spec = importlib.util.find_spec(_PACKAGE)  # imports the top-level scipy package, not this one
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("scipy.special not found")
    stand_in = types.ModuleType(_PACKAGE)
    stand_in.__path__ = list(spec.submodule_search_locations)
    stand_in.__package__ = _PACKAGE
    before = set(sys.modules)
    sys.modules[_PACKAGE] = stand_in
    try:
        from scipy.special import _ufuncs  # resolved through the stand-in's __path__

        return tuple(getattr(_ufuncs, name) for name in _NAMES)
    finally:
        if sys.modules.get(_PACKAGE) is stand_in:
            del sys.modules[_PACKAGE]
        loaded = sorted(name for name in set(sys.modules) - before if name.startswith(_PACKAGE + "."))
        if loaded:
            sys.meta_path.insert(0, _BindSubmodules(loaded))


def _load() -> tuple[tuple[Any, ...], str]:
    """(the five functions in ``_NAMES`` order, how they were loaded: "ufuncs" or "package")."""
    if _PACKAGE not in sys.modules and not os.environ.get("SCIPY_ARRAY_API"):
        try:
            return _load_without_package_init(), "ufuncs"
        except Exception:  # noqa: BLE001 - any failure: the plain import below
            pass
    from scipy.special import erfc, erfcx, erfinv, ndtr, ndtri

    return (erfc, erfcx, erfinv, ndtr, ndtri), "package"


(erfc, erfcx, erfinv, ndtr, ndtri), LOADED_BY = _load()
