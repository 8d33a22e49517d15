"""Engine parameters: the numbers the engine's models depend on, all documented in docs/model.md."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, get_args

DealerConvention = Literal["long_calls_short_puts", "short_calls_long_puts", "customer_flow"]
DEALER_CONVENTIONS: tuple[str, ...] = get_args(DealerConvention)

SAMPLE_SECONDS = 30


def _frozen(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class EngineParams:
    """Model settings. Units: rates annual continuous; times in seconds unless named."""

    risk_free_rate: float = 0.045
    dividend_yield: Mapping[str, float] = field(default_factory=lambda: _frozen(
        {"SPY": 0.012, "QQQ": 0.006, "IWM": 0.012, "SPX": 0.013}))
    min_time_to_expiry_seconds: float = 60.0
    sweep_window_ms: float = 500.0
    block_size_default: int = 250
    block_size: Mapping[str, int] = field(default_factory=lambda: _frozen(
        {"SPY": 500, "SPX": 100, "QQQ": 300, "IWM": 300}))
    dealer_convention: str = "long_calls_short_puts"
    flip_grid_points: int = 41  # brackets the crossing nearest spot; refined to 1e-7 x spot (rows.gamma_flip_rows)
    flip_grid_pct: float = 5.0
    pin_band_pct: float = 0.1
    # Effective-OI model (docs/model.md, "Effective open interest")
    open_prob_open: float = 0.68       # P(print opens) at the open bell
    open_prob_close: float = 0.32      # P(print opens) at the closing bell (linear in between)
    open_prob_aggressor_boost: float = 0.06   # at/through the quote: more likely a new position
    open_prob_mid_shrink: float = 0.5  # mid prints: pull P(open) halfway to 0.5 (transfers)
    bias_threshold: float = 0.10       # |net OI delta| / volume beyond which a bias is called

    def __post_init__(self) -> None:
        if self.dealer_convention not in DEALER_CONVENTIONS:
            raise ValueError(f"dealer_convention must be one of {DEALER_CONVENTIONS}, got {self.dealer_convention!r}")
        object.__setattr__(self, "dividend_yield", _frozen(self.dividend_yield))
        object.__setattr__(self, "block_size", _frozen(self.block_size))

    def q_for(self, symbol: str) -> float:
        return float(self.dividend_yield.get(symbol.upper(), 0.0))

    def block_size_for(self, symbol: str) -> int:
        return int(self.block_size.get(symbol.upper(), self.block_size_default))
