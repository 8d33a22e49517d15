"""The engine's outputs on a fixed recorded day agree with the golden values captured from the engine
before the incremental-sample work (issue 17), to the tolerances documented in docs/model.md
("Incremental samples: tolerances")."""

from __future__ import annotations

import numpy as np
import pytest

from tests.engine.regression_day import DATA, replay

# docs/model.md, "Incremental samples: tolerances"
IV_ABS = 1e-6               # implied vol (1e-4 vol points)
DOLLARS_REL = 1e-5          # exposures and hedge flows, relative to the row's largest magnitude
FLIP_REL = 2e-6             # gamma flip, relative to spot
GREEK_REL = 1e-5            # per-contract greeks, relative to the array's largest magnitude


@pytest.fixture(scope="module")
def outputs() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    with np.load(DATA / "golden.npz") as z:
        golden = {k: z[k] for k in z.files}
    return golden, replay()


def _close_rel_to_scale(new: np.ndarray, old: np.ndarray, rel: float) -> None:
    """Equal NaN patterns; |new - old| <= rel * (largest |old| of the row)."""
    new, old = np.atleast_2d(new).astype(np.float64), np.atleast_2d(old).astype(np.float64)
    np.testing.assert_array_equal(np.isnan(new), np.isnan(old))
    scale = np.nanmax(np.abs(old), axis=-1, keepdims=True, initial=0.0)
    err = np.abs(np.nan_to_num(new) - np.nan_to_num(old))
    assert (err <= rel * scale + 1e-9).all(), float(np.max(err - rel * scale))


def test_same_slots_are_sampled(outputs) -> None:
    golden, new = outputs
    np.testing.assert_array_equal(new["filled"], golden["filled"])
    assert golden["filled"].sum() == 781  # every slot of the session


def test_spot_regime_and_discrete_levels_are_unchanged(outputs) -> None:
    golden, new = outputs
    for f in ("spot", "regime", "call_wall", "put_wall", "magnet"):
        np.testing.assert_array_equal(new[f"series_{f}"], golden[f"series_{f}"], err_msg=f)
    for f in ("call_wall", "put_wall", "max_pain"):
        np.testing.assert_array_equal(new[f"state_{f}"], golden[f"state_{f}"], err_msg=f)


def test_gamma_flip_agrees_within_two_millionths_of_spot(outputs) -> None:
    golden, new = outputs
    spot = golden["series_spot"]
    np.testing.assert_array_equal(np.isnan(new["series_gamma_flip"]), np.isnan(golden["series_gamma_flip"]))
    err = np.abs(new["series_gamma_flip"] - golden["series_gamma_flip"])
    assert np.nanmax(err / spot) <= FLIP_REL
    state_err = np.abs(new["state_gamma_flip"] - golden["state_gamma_flip"])
    assert np.nanmax(state_err / golden["state_gamma_flip"]) <= FLIP_REL


def test_implied_vols_agree_within_a_ten_thousandth_of_a_vol_point(outputs) -> None:
    golden, new = outputs
    for key in ("iv", "state_iv", "series_atm_iv", "state_atm_iv"):
        np.testing.assert_array_equal(np.isnan(new[key]), np.isnan(golden[key]), err_msg=key)
        assert np.nanmax(np.abs(new[key].astype(np.float64) - golden[key])) <= IV_ABS, key


@pytest.mark.parametrize("key", ["strike_gex", "strike_dex", "strike_vex", "strike_chex", "strike_oi",
                                 "strike_flow_delta_cum", "strike_flow_gamma_cum", "strike_flow_contracts_cum",
                                 "state_call_gex", "state_put_gex", "state_call_dex", "state_put_dex",
                                 "state_strike_vex", "state_strike_chex"])
def test_per_strike_dollars_agree_to_a_hundred_thousandth(outputs, key: str) -> None:
    golden, new = outputs
    _close_rel_to_scale(new[key], golden[key], DOLLARS_REL)


@pytest.mark.parametrize("key", ["series_net_gex", "series_net_dex", "series_gross_gex", "series_magnet_gex",
                                 "series_charm_dollars_per_hour", "series_hedge_flow_call_cumulative",
                                 "series_hedge_flow_put_cumulative", "series_pin_score", "state_net_gex",
                                 "state_net_dex", "state_net_vex", "state_net_chex",
                                 "state_hedge_flow_call_cumulative", "state_hedge_flow_put_cumulative"])
def test_totals_agree_to_a_hundred_thousandth(outputs, key: str) -> None:
    golden, new = outputs
    _close_rel_to_scale(new[key][None, :], golden[key][None, :], DOLLARS_REL)


def test_prints_are_classified_identically_and_valued_alike(outputs) -> None:
    golden, new = outputs
    for f in ("side", "aggressor", "group"):
        np.testing.assert_array_equal(new[f"log_{f}"], golden[f"log_{f}"], err_msg=f)
    _close_rel_to_scale(new["log_delta"][None, :], golden["log_delta"][None, :], GREEK_REL)
    _close_rel_to_scale(new["log_gamma"][None, :], golden["log_gamma"][None, :], GREEK_REL)


@pytest.mark.parametrize("key", ["state_delta", "state_gamma", "state_effective_oi", "state_position"])
def test_point_in_time_contract_values_agree(outputs, key: str) -> None:
    golden, new = outputs
    _close_rel_to_scale(new[key], golden[key], GREEK_REL)
