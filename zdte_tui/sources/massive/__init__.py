"""Massive (formerly Polygon.io) live adapter."""

from zdte_tui.sources.massive.config import MassiveConfig
from zdte_tui.sources.massive.source import MassiveSource

__all__ = ["MassiveConfig", "MassiveSource"]
