"""Suite-wide settings: Hypothesis draws the same examples on every run (fixed seeds everywhere), and
caches (the calendar's, the query commands' days) live in a temporary directory, and the state
directory is a fresh temporary one, so a developer's own `zdte record` history (the last recorded
levels the simulator starts from) never changes what a test sees."""

import os
import tempfile

import pytest
from hypothesis import settings

os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="zdte-test-state-")

settings.register_profile("zdte", derandomize=True, print_blob=True)
settings.load_profile("zdte")


@pytest.fixture(autouse=True, scope="session")
def _cache_in_tmp(tmp_path_factory):
    """Query commands cache days under $XDG_CACHE_HOME (service/daycache.py): never in the real home."""
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    yield
    mp.undo()
