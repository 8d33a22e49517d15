"""Suite-wide settings: Hypothesis draws the same examples on every run (fixed seeds everywhere)."""

from hypothesis import settings

settings.register_profile("zdte", derandomize=True, print_blob=True)
settings.load_profile("zdte")
