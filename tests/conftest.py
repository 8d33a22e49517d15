"""Suite-wide settings: Hypothesis draws the same examples on every run (fixed seeds everywhere), and
the state directory is a fresh temporary one, so a developer's own `zdte record` history (the last
recorded levels the simulator starts from) never changes what a test sees."""

import os
import tempfile

from hypothesis import settings

os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="zdte-test-state-")

settings.register_profile("zdte", derandomize=True, print_blob=True)
settings.load_profile("zdte")
