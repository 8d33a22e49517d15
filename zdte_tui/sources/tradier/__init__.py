"""Tradier live adapter."""

from zdte_tui.sources.tradier.config import TradierConfig
from zdte_tui.sources.tradier.source import TradierSource

__all__ = ["TradierConfig", "TradierSource"]
