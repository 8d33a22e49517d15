"""zdte_tui/engine/special.py: scipy's own ufuncs, loaded without scipy.special's package __init__
(issue 17, "Fast start"). Each case runs in a new process, where nothing has imported scipy.special
yet; how long the import takes is measured by benchmarks/bench_launch_pty.py, never asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

NAMES = ("erfc", "erfcx", "erfinv", "ndtr", "ndtri")


def _run(code: str, **env: str) -> dict:
    """Run ``code`` in a new interpreter; it leaves its findings in the dict ``out``."""
    script = f"import json, sys\nout = {{}}\n{code}\nprint(json.dumps(out))"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          env=dict(os.environ, **env))
    return json.loads(proc.stdout.strip().splitlines()[-1])


SAME_AS_PACKAGE = f"""
import scipy.special as ss
out["same_objects"] = all(getattr(ss, n) is getattr(sp, n) for n in {NAMES!r})
out["stand_in_left"] = not hasattr(sys.modules["scipy.special"], "gamma")
out["gamma_5"] = float(ss.gamma(5.0))
out["dir"] = sorted(dir(ss))
"""


def _clean_dir() -> list[str]:
    return _run("import scipy.special as ss\nout['dir'] = sorted(dir(ss))")["dir"]


def test_the_functions_are_scipys_ufuncs_loaded_without_the_package_init():
    out = _run("import zdte_tui.engine.special as sp\n"
               "out['by'] = sp.LOADED_BY\n"
               "out['package_loaded'] = 'scipy.special' in sys.modules\n"
               "out['backends_loaded'] = 'scipy.special._support_alternative_backends' in sys.modules\n"
               "out['values'] = [float(sp.ndtr(0.0)), float(sp.erfc(0.0)), float(sp.erfinv(0.0)),"
               " float(sp.erfcx(0.0)), float(sp.ndtri(0.5))]\n" + SAME_AS_PACKAGE)
    assert out["by"] == "ufuncs"
    assert not out["package_loaded"] and not out["backends_loaded"]
    # by hand: Phi(0) = 1/2, erfc(0) = 1, erfinv(0) = 0, erfcx(0) = e^0 erfc(0) = 1, Phi^-1(1/2) = 0
    assert out["values"] == [0.5, 1.0, 0.0, 1.0, 0.0]
    # a later `import scipy.special` is the whole package, exporting the very same objects
    assert out["same_objects"] and not out["stand_in_left"] and out["gamma_5"] == 24.0
    assert out["dir"] == _clean_dir()  # including the extension submodules loaded under the stand-in


def test_a_failure_in_the_fast_path_falls_back_to_the_package_and_leaves_no_stand_in():
    # the first import of scipy.special._ufuncs fails (under the stand-in); the plain import then works
    out = _run("class FailOnce:\n"
               "    failed = False\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name == 'scipy.special._ufuncs' and not self.failed:\n"
               "            self.failed = True\n"
               "            raise ImportError('simulated failure')\n"
               "failer = FailOnce()\n"
               "sys.meta_path.insert(0, failer)\n"
               "import zdte_tui.engine.special as sp\n"
               "out['by'] = sp.LOADED_BY\n"
               "out['failed'] = failer.failed\n"
               + SAME_AS_PACKAGE)
    assert out["failed"] and out["by"] == "package"
    assert out["same_objects"] and not out["stand_in_left"] and out["gamma_5"] == 24.0


def test_an_already_imported_package_is_used_as_it_is():
    out = _run("import scipy.special\nimport zdte_tui.engine.special as sp\nout['by'] = sp.LOADED_BY\n"
               + SAME_AS_PACKAGE)
    assert out["by"] == "package" and out["same_objects"]


def test_scipys_array_api_mode_uses_the_packages_wrappers():
    # with SCIPY_ARRAY_API the package exports array-API wrappers, not the bare ufuncs: use those
    out = _run("import zdte_tui.engine.special as sp\nout['by'] = sp.LOADED_BY\n" + SAME_AS_PACKAGE,
               SCIPY_ARRAY_API="1")
    assert out["by"] == "package" and out["same_objects"]
