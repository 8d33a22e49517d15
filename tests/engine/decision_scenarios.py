"""Constructed market scenarios (DecisionInputs) shared by the decision-layer headline and setup tests."""

from zdte_tui.engine.decision import DecisionInputs, pin_score

SIGMA_PIN = 1.2


def pin_into_close() -> DecisionInputs:
    """Positive gamma, spot at the 590 magnet, 30 min left, quiet two-way hedge flow."""
    score, _ = pin_score(590.1, 590.0, 0.5, 6.5, SIGMA_PIN, 45.0, 0.8e9, 3e9)
    return DecisionInputs(
        spot=590.1, time_to_close_hours=0.5, net_gex_live_usd=2e9, net_gex_settled_usd=1.6e9,
        gross_gex_usd=4e9, contracts_with_flow=300, total_abs_delta_contracts=50_000, gamma_flip=584.0,
        call_wall=595.0, put_wall=585.0, magnet=590.0, expected_move_remaining_1sd_usd=SIGMA_PIN,
        pin_score=score, pin_probability=0.72,
        hedge_flow_recent_bars_usd=(1e6, -2e6, 1.5e6, -1e6, 0.5e6, -0.2e6), spot_recent_start=590.3,
        charm_hedge_usd_per_hour=5e6)


def squeeze_through_call_wall() -> DecisionInputs:
    """Negative gamma, spot 596.20 through the 595 call wall, dealers buying faster every bar."""
    return DecisionInputs(
        spot=596.2, time_to_close_hours=2.0, net_gex_live_usd=-1.5e9, net_gex_settled_usd=-0.8e9,
        gross_gex_usd=4e9, contracts_with_flow=500, total_abs_delta_contracts=80_000, gamma_flip=606.0,
        call_wall=595.0, put_wall=585.0, magnet=590.0, expected_move_remaining_1sd_usd=2.0, pin_score=15,
        hedge_flow_recent_bars_usd=(2e6, 3e6, 4e6, 6e6, 9e6, 14e6), spot_recent_start=594.0)


def flip_cross_down() -> DecisionInputs:
    """Spot fell from 589.10 through the 588.50 gamma flip; flow turned the book negative."""
    return DecisionInputs(
        spot=588.2, time_to_close_hours=1.5, net_gex_live_usd=-0.2e9, net_gex_settled_usd=0.5e9,
        gross_gex_usd=4e9, contracts_with_flow=500, total_abs_delta_contracts=80_000, gamma_flip=588.5,
        call_wall=595.0, put_wall=580.0, magnet=590.0, expected_move_remaining_1sd_usd=1.8, pin_score=30,
        hedge_flow_recent_bars_usd=(-1e6, -1e6, -1e6, -1e6, -1e6, -1e6), spot_recent_start=589.1)


def low_signal_morning() -> DecisionInputs:
    """9:30-ish: no intraday flow, every level more than 1 sigma away, weak pin."""
    return DecisionInputs(
        spot=590.4, time_to_close_hours=5.5, net_gex_live_usd=0.3e9, net_gex_settled_usd=0.3e9,
        gross_gex_usd=4e9, contracts_with_flow=0, total_abs_delta_contracts=0, gamma_flip=570.0,
        call_wall=605.0, put_wall=575.0, magnet=600.0, expected_move_remaining_1sd_usd=4.0, pin_score=10)
