"""ThetaData (Theta Terminal) live adapter."""

from zdte_tui.sources.thetadata.config import ThetaDataConfig
from zdte_tui.sources.thetadata.source import ThetaDataSource

__all__ = ["ThetaDataConfig", "ThetaDataSource"]
