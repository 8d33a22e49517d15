"""The simulator's price level comes from the configuration or the last recording seen, never only from a
dated constant (docs/simulator.md, "Price level": explicit > [sim] levels > last recorded spot > reference)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from zdte_tui.commands import SourceOptions, make_source, sim_levels
from zdte_tui.config import ConfigError, load_config
from zdte_tui.market.events import ChainDefinition, EventBatch, OptionQuotes, OptionTrades, SpotTicks
from zdte_tui.sources.base import EventSource
from zdte_tui.sources.levels import note_last_levels, read_last_levels, resolve_levels, state_path
from zdte_tui.sources.recorder import record
from zdte_tui.sources.sim_model import PROFILES, simulate_spot

DAY = dt.date(2026, 8, 21)


def test_state_path_follows_xdg_state_home_and_falls_back_to_home(tmp_path):
    assert state_path({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "zdte" / "last_levels.json"
    # unset or relative (invalid per the XDG spec): ~/.local/state
    assert state_path({"XDG_STATE_HOME": "relative/ignored", "HOME": "/nowhere"}) == \
        Path("/nowhere/.local/state/zdte/last_levels.json")
    assert state_path({"HOME": "/nowhere"}) == Path("/nowhere/.local/state/zdte/last_levels.json")


def test_a_later_recorded_spot_replaces_an_earlier_one_and_invalid_prices_are_not_written(tmp_path):
    path = tmp_path / "last.json"
    note_last_levels({"spy": (671.2, 2_000)}, "massive", path)
    note_last_levels({"SPY": (600.0, 1_000), "QQQ": (500.5, 1_500), "IWM": (float("nan"), 3_000)}, "tradier", path)
    last = read_last_levels(path)
    assert {k: (v.spot, v.ts_ns, v.source) for k, v in last.levels.items()} == {
        "SPY": (671.2, 2_000, "massive"), "QQQ": (500.5, 1_500, "tradier")}
    assert last.problems == ()


def test_a_damaged_state_file_is_counted_not_fatal(tmp_path):
    path = tmp_path / "last.json"
    path.write_text(json.dumps({"SPY": {"spot": 671.2}, "QQQ": {"spot": -3}, "IWM": "x"}))
    last = read_last_levels(path)
    assert list(last.levels) == ["SPY"] and len(last.problems) == 2
    path.write_text("{not json")
    assert read_last_levels(path).levels == {} and len(read_last_levels(path).problems) == 1


def test_configured_level_wins_over_the_recorded_one_which_wins_over_the_reference(tmp_path):
    path = tmp_path / "last.json"
    note_last_levels({"SPY": (650.0, 1), "QQQ": (520.0, 1)}, "massive", path)
    got = resolve_levels(["SPY", "QQQ", "IWM"], {"spy": 671.2}, path=path)
    assert got.levels == {"SPY": 671.2, "QQQ": 520.0}
    assert got.origin == {"SPY": "config", "QQQ": "recording"}  # IWM: its dated reference level
    assert resolve_levels(["QQQ"], {}, use_last_recorded=False, path=path).levels == {}


def test_config_sim_levels_is_a_symbol_table_of_positive_prices(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text("[sim]\nlevels = { spy = 671.2, SPX = 6712 }\n")
    assert dict(load_config(good, env={}).sim.levels) == {"SPY": 671.2, "SPX": 6712.0}
    bad = tmp_path / "bad.toml"
    bad.write_text("[sim]\nlevels = { SPY = -1 }\n")
    with pytest.raises(ConfigError, match="sim.levels"):
        load_config(bad, env={})


def test_make_source_draws_the_day_around_the_configured_level(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[sim]\nlevels = { SPY = 500.0 }\nuse_last_recorded = false\n")
    settings = load_config(cfg, env={})
    assert sim_levels(["SPY", "QQQ"], settings) == {"SPY": 500.0}
    src = make_source(SourceOptions(spec="sim", date=DAY), ["SPY"], settings, linger=False)
    assert src.levels == {"SPY": 500.0}
    chain = src.session("SPY").chain
    # the prior close is the level x exp(N(0, 1 %)): within 5 % of 500, far from the 767 reference
    assert abs(chain.prev_close / 500.0 - 1) < 0.05
    assert abs(PROFILES["SPY"].spot_usd / 500.0 - 1) > 0.3


def test_the_same_level_gives_the_same_day_and_a_level_only_rescales_the_prior_close():
    a = simulate_spot("SPY", DAY, 3, level=500.0)[0]
    b = simulate_spot("SPY", DAY, 3, level=500.0)[0]
    ref = simulate_spot("SPY", DAY, 3)[0]
    assert a.prev_close == b.prev_close
    assert a.prev_close / 500.0 == pytest.approx(ref.prev_close / PROFILES["SPY"].spot_usd, rel=1e-4)


class _TwoBatchSource(EventSource):
    """Two batches of SPY spot prints; ``simulated`` set per test."""

    name = "fake-live"

    def __init__(self, simulated: bool) -> None:
        self.symbols = ("SPY",)
        self.simulated = simulated
        self.session_date = DAY

    async def events(self):
        chain = ChainDefinition(underlying="SPY", expiry=DAY, strikes=np.array([670.0, 670.0]),
                                is_call=np.array([True, False]), settled_oi=np.array([10, 10]),
                                occ_symbols=("SPY   260821C00670000", "SPY   260821P00670000"), prev_close=670.0)
        yield chain
        for k, price in enumerate((670.10, 671.25)):
            ts = 1_787_340_000_000_000_000 + k * 30_000_000_000
            e64, f64, i32 = np.array([], np.int64), np.array([], np.float64), np.array([], np.int32)
            yield EventBatch("SPY", ts - 30_000_000_000, ts, SpotTicks(np.array([ts]), np.array([price])),
                             OptionQuotes(e64, i32, f64, f64, i32, i32),
                             OptionTrades(e64, i32, f64, i32, np.array([], np.int16)))


@pytest.mark.parametrize("simulated", [False, True])
def test_recording_a_real_source_notes_its_last_spot_and_a_simulated_one_does_not(tmp_path, simulated):
    path = tmp_path / "state.json"
    asyncio.run(record(_TwoBatchSource(simulated), tmp_path / "r.zdte", handle_signals=False, levels_path=path))
    noted = read_last_levels(path).levels
    if simulated:
        assert noted == {}
    else:
        assert noted["SPY"].spot == 671.25 and noted["SPY"].source == "fake-live"
