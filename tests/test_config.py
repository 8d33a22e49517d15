"""Settings: defaults, the documented example file, lookup order, env overrides, and errors."""

import os
import tomllib
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from zdte_tui.config import (
    DEALER_CONVENTIONS,
    SCENARIOS,
    ConfigError,
    EngineSettings,
    FrozenMap,
    Settings,
    SimSettings,
    config_path,
    default_settings,
    load_config,
    render_example,
)
from zdte_tui.engine.params import EngineParams

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"
NO_ENV: dict[str, str] = {}


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def env_with_home(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "xdg"), **extra}


def dotted_keys(obj, prefix=""):
    """Every leaf key of the settings model, e.g. 'engine.sweep_window_ms'."""
    for name in type(obj).model_fields:
        value = getattr(obj, name)
        if isinstance(value, BaseModel):
            yield from dotted_keys(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}"


def toml_keys(table, prefix=""):
    for key, value in table.items():
        if isinstance(value, dict) and key not in ("block_size", "dividend_yield", "weekly_expiries", "levels"):
            yield from toml_keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


# ---------------------------------------------------------------- defaults and the example


def test_defaults_load_when_no_file_exists(tmp_path):
    settings = load_config(env=env_with_home(tmp_path))
    assert isinstance(settings, Settings)
    assert settings == default_settings()
    assert settings.source_path is None
    assert settings.general.default_symbol == "SPY"
    assert settings.general.symbols == ("SPY", "QQQ", "IWM", "SPX")
    assert settings.sim.start_at == "10:30"
    assert settings.engine.sweep_window_ms == 500
    assert settings.server.port == 8787


def test_example_file_loads_and_equals_the_defaults():
    settings = load_config(EXAMPLE, env=NO_ENV)
    assert settings == default_settings()
    assert settings.source_path == EXAMPLE


def test_example_file_spells_out_every_key_of_the_model():
    optional = {f"live.{s}.strike_band_pct" for s in ("massive", "thetadata", "tradier")}
    documented = set(toml_keys(tomllib.loads(EXAMPLE.read_text())))
    assert set(dotted_keys(default_settings())) - optional == documented
    for key in optional:
        assert key.rpartition(".")[2] in EXAMPLE.read_text()


def test_example_file_is_the_one_generated_from_the_model():
    # regenerate with: python -m zdte_tui.config > config.example.toml
    assert EXAMPLE.read_text(encoding="utf-8") == render_example()


def test_engine_defaults_are_the_engine_params_the_benchmarks_use():
    assert default_settings().engine_params() == EngineParams()
    assert load_config(EXAMPLE, env=NO_ENV).engine_params() == EngineParams()


def test_live_strike_band_inherits_the_engine_band_unless_set(tmp_path):
    path = write(tmp_path, "[engine]\nstrike_band_pct = 2.5\n[live.tradier]\nstrike_band_pct = 6\n")
    settings = load_config(path, env=NO_ENV)
    assert settings.live.massive.strike_band_pct is None  # unset in the file ...
    assert settings.live_section("massive").strike_band_pct == 2.5  # ... so the adapter gets the engine band
    assert settings.live_section("thetadata").strike_band_pct == 2.5
    assert settings.live_section("tradier").strike_band_pct == 6.0
    assert default_settings().live_section("massive").strike_band_pct == 4.0


def test_settings_are_frozen_and_hashable():
    settings = default_settings()
    with pytest.raises(ValidationError, match="frozen"):
        settings.engine.sweep_window_ms = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.engine.block_size["SPY"] = 1  # type: ignore[index]
    assert hash(settings) == hash(default_settings())


# ---------------------------------------------------------------- helpers


def test_block_size_uses_the_symbol_table_then_the_default(tmp_path):
    settings = load_config(write(tmp_path, "[engine.block_size]\nTSLA = 150\n"), env=NO_ENV)
    assert settings.block_size("SPY") == 500  # default table entry survives the merge
    assert settings.block_size("tsla") == 150
    assert settings.block_size("AMD") == 250


def test_dividend_yield_uses_the_symbol_table_then_zero():
    settings = default_settings()
    assert settings.dividend_yield("SPY") == 0.012
    assert settings.dividend_yield("qqq") == 0.006
    assert settings.dividend_yield("TSLA") == 0.0


def test_values_are_normalized(tmp_path):
    path = write(
        tmp_path,
        '[general]\ndefault_symbol = "qqq"\nsymbols = ["spy", "SPY", "nvda"]\n'
        '[sim]\nstart_at = "9:45"\n'
        '[calendar.weekly_expiries]\ntsla = ["Monday", "WED", "fri"]\n'
        '[server]\napi_keys = ["k1:Growth", "k2"]\n',
    )
    settings = load_config(path, env=NO_ENV)
    assert settings.general.default_symbol == "QQQ"
    assert settings.general.symbols == ("SPY", "NVDA")
    assert settings.sim.start_at == "09:45"
    assert settings.calendar.weekly_expiries == FrozenMap({"TSLA": ("mon", "wed", "fri")})
    assert settings.server.api_key_plans() == {"k1": "growth", "k2": "alpha"}


def test_live_keys_are_named_by_env_variable_and_never_stored(tmp_path):
    path = write(tmp_path, '[live.massive]\napi_key_env = "MY_MASSIVE"\n')
    settings = load_config(path, env=NO_ENV)
    assert settings.live.massive.api_key_env == "MY_MASSIVE"
    with pytest.raises(ConfigError, match="live.massive.api_key: unknown key"):
        load_config(write(tmp_path, '[live.massive]\napi_key = "k"\n'), env=NO_ENV)


# ---------------------------------------------------------------- errors


def test_unknown_key_error_names_file_and_dotted_key(tmp_path):
    path = write(tmp_path, "[engine]\nsweep_windw_ms = 250\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env=NO_ENV)
    assert str(info.value) == (
        f"{path}: engine.sweep_windw_ms: unknown key (did you mean 'sweep_window_ms'?)"
    )
    assert info.value.key == "engine.sweep_windw_ms"
    assert info.value.source == str(path)


def test_the_old_general_alert_switches_move_to_the_alerts_section(tmp_path):
    """[general] bell_on_alert / notify_on_alert could only add to [alerts] bell / desktop (both on by
    default), so `bell_on_alert = false` never silenced the bell. An old file still loads: each value
    goes to its new key, with a warning naming both."""
    path = tmp_path / "old.toml"
    path.write_text("[general]\nbell_on_alert = false\nnotify_on_alert = false\n")
    settings = load_config(path, env={})
    assert settings.alerts.bell is False and settings.alerts.desktop is False
    assert settings.warnings == (
        f"{path}: [general] bell_on_alert is now [alerts] bell; applied as bell = false",
        f"{path}: [general] notify_on_alert is now [alerts] desktop; applied as desktop = false")


def test_an_old_alert_switch_gives_way_to_the_new_key(tmp_path):
    path = tmp_path / "both.toml"
    path.write_text("[general]\nbell_on_alert = true\n[alerts]\nbell = false\n")
    settings = load_config(path, env={})
    assert settings.alerts.bell is False
    assert settings.warnings == (f"{path}: [general] bell_on_alert is ignored: [alerts] bell is set "
                                 "(the old key moved there)",)


def test_unknown_section_is_an_error(tmp_path):
    path = write(tmp_path, "[engin]\nsweep_window_ms = 250\n")
    with pytest.raises(ConfigError, match=r": engin: unknown key \(did you mean 'engine'\?\)"):
        load_config(path, env=NO_ENV)


@pytest.mark.parametrize(
    "toml, message",
    [
        ('[engine]\nsweep_window_ms = "fast"', 'engine.sweep_window_ms: expected int, got str "fast"'),
        ("[engine]\nsweep_window_ms = 1.5", "engine.sweep_window_ms: expected int, got float 1.5"),
        ("[alerts]\nbell = 1", "alerts.bell: expected bool, got int 1"),
        ("[server]\nport = true", "server.port: expected int, got bool true"),
        ('[general]\nsymbols = "SPY"', 'general.symbols: expected list of str, got str "SPY"'),
        ("[general]\nsymbols = [\"SPY\", 3]", "general.symbols[1]: expected str, got int 3"),
        (
            '[general]\ntruecolor = "yes"',
            'general.truecolor: expected one of "auto", "always", "never", got str "yes"',
        ),
        ('[engine]\nblock_size = 5', "engine.block_size: expected table, got int 5"),
        ('[engine.block_size]\nSPY = "big"', 'engine.block_size.SPY: expected int, got str "big"'),
        ('engine = 3', "engine: expected table, got int 3"),
    ],
)
def test_wrong_type_error_names_key_expected_and_actual_type(tmp_path, toml, message):
    path = write(tmp_path, toml + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env=NO_ENV)
    assert str(info.value) == f"{path}: {message}"


@pytest.mark.parametrize(
    "toml, key, complaint",
    [
        ("[server]\nport = 70000", "server.port", "1-65535"),
        ("[engine]\nsweep_window_ms = 0", "engine.sweep_window_ms", ">= 1"),
        ("[engine]\nstrike_band_pct = -1.0", "engine.strike_band_pct", "percentage"),
        ("[engine]\nrisk_free_rate = 4.5", "engine.risk_free_rate", "fraction"),
        ("[engine.block_size]\nSPY = 0", "engine.block_size.SPY", ">= 1"),
        ('[sim]\nstart_at = "25:00"', "sim.start_at", "HH:MM"),
        ('[sim]\nscenario = "crash"', "sim.scenario", "expected one of"),
        ('[general]\ndefault_symbol = "S P Y"', "general.default_symbol", "not a ticker"),
        ('[calendar.weekly_expiries]\nTSLA = ["sat"]', "calendar.weekly_expiries.TSLA", "weekend"),
        ('[server]\napi_keys = ["k:platinum"]', "server.api_keys", "plan must be one of"),
        ('[live.massive]\nws_url = "https://x"', "live.massive.ws_url", "wss://"),
        ('[live.massive]\napi_key_env = "MY KEY"', "live.massive.api_key_env", "environment variable"),
        ("[sim]\nspeed = nan", "sim.speed", "finite"),
    ],
)
def test_out_of_range_values_name_the_key(tmp_path, toml, key, complaint):
    path = write(tmp_path, toml + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env=NO_ENV)
    assert str(info.value).startswith(f"{path}: {key}: ")
    assert complaint in str(info.value)


def test_invalid_toml_names_the_file(tmp_path):
    path = write(tmp_path, "[engine\n")
    with pytest.raises(ConfigError, match=rf"^{path}: invalid TOML"):
        load_config(path, env=NO_ENV)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_choice_constants_match_the_model():
    hints = typing.get_type_hints(SimSettings)
    assert typing.get_args(hints["scenario"]) == SCENARIOS
    assert typing.get_args(typing.get_type_hints(EngineSettings)["dealer_convention"]) == DEALER_CONVENTIONS


# ---------------------------------------------------------------- lookup order


def test_explicit_path_wins_over_zdte_config_and_xdg(tmp_path):
    explicit = write(tmp_path, "[server]\nport = 1001\n", "explicit.toml")
    from_env = write(tmp_path, "[server]\nport = 1002\n", "env.toml")
    write(tmp_path, "[server]\nport = 1003\n", "xdg/zdte/config.toml")
    env = env_with_home(tmp_path, ZDTE_CONFIG=str(from_env))
    assert load_config(explicit, env=env).server.port == 1001
    assert load_config(env=env).server.port == 1002
    del env["ZDTE_CONFIG"]
    assert load_config(env=env).server.port == 1003
    assert config_path(env=env) == tmp_path / "xdg" / "zdte" / "config.toml"


def test_xdg_default_is_dot_config_under_home(tmp_path):
    write(tmp_path, "[server]\nport = 1004\n", "home/.config/zdte/config.toml")
    env = {"HOME": str(tmp_path / "home")}
    assert load_config(env=env).server.port == 1004
    assert load_config(env=dict(env, XDG_CONFIG_HOME="relative/ignored")).server.port == 1004


def test_lookup_reads_the_real_environment_by_default(tmp_path, monkeypatch):
    path = write(tmp_path, "[server]\nport = 1005\n")
    monkeypatch.setenv("ZDTE_CONFIG", str(path))
    monkeypatch.delenv("ZDTE_API_KEYS", raising=False)
    assert load_config().server.port == 1005
    monkeypatch.delenv("ZDTE_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "empty"))
    assert load_config() == default_settings()


@pytest.mark.parametrize("source", ["explicit", "env"])
def test_missing_explicit_or_env_file_is_an_error(tmp_path, source):
    missing = tmp_path / "nope.toml"
    env = env_with_home(tmp_path, **({"ZDTE_CONFIG": str(missing)} if source == "env" else {}))
    with pytest.raises(ConfigError, match=f"{missing}: no such config file"):
        load_config(missing if source == "explicit" else None, env=env)


# ---------------------------------------------------------------- environment overrides


def test_env_api_keys_merge_into_the_file_keys(tmp_path):
    path = write(tmp_path, '[server]\napi_keys = ["filekey:growth", "shared:free"]\n')
    env = {"ZDTE_API_KEYS": "envkey:alpha, shared:basic ,"}
    settings = load_config(path, env=env)
    assert settings.server.api_key_plans() == {"filekey": "growth", "shared": "basic", "envkey": "alpha"}


def test_env_api_keys_errors_name_the_variable_and_entry_never_the_key(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(env=env_with_home(tmp_path, ZDTE_API_KEYS="good-key, s3cr3t-k3y:gold"))
    assert str(info.value).startswith("environment ZDTE_API_KEYS: server.api_keys: entry 2: plan must be one of")
    assert "s3cr3t" not in str(info.value)


def test_a_malformed_key_in_the_file_is_not_echoed(tmp_path):
    path = write(tmp_path, '[server]\napi_keys = ["s3cr3t k3y:alpha"]\n')
    with pytest.raises(ConfigError, match="server.api_keys: API key entry 1: a key must not contain spaces") as info:
        load_config(path, env=NO_ENV)
    assert "s3cr3t" not in str(info.value)


def test_keys_are_secrets_in_repr_and_dumps(tmp_path):
    settings = load_config(write(tmp_path, '[server]\napi_keys = ["s3cr3t:growth"]\n'), env=NO_ENV)
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in str(settings.model_dump())


def test_the_same_key_string_is_accepted_from_flag_file_and_environment(tmp_path):
    from zdte_tui.api.auth import parse_api_keys

    entry = "team:a:growth"  # a key holding a colon: the plan follows the last colon
    assert parse_api_keys([entry]) == {"team:a": "growth"}
    assert load_config(env=env_with_home(tmp_path, ZDTE_API_KEYS=entry)).server.api_key_plans() == {"team:a": "growth"}
    path = write(tmp_path, f'[server]\napi_keys = ["{entry}"]\n')
    assert load_config(path, env=NO_ENV).server.api_key_plans() == {"team:a": "growth"}


def test_a_key_file_readable_by_others_gets_a_warning(tmp_path):
    path = write(tmp_path, '[server]\napi_keys = ["k1:growth"]\n')
    os.chmod(path, 0o644)
    assert any("chmod 600" in w for w in load_config(path, env=NO_ENV).warnings)
    os.chmod(path, 0o600)
    assert load_config(path, env=NO_ENV).warnings == ()
    other = write(tmp_path, "[server]\nport = 9000\n", "nokeys.toml")
    os.chmod(other, 0o644)
    assert load_config(other, env=NO_ENV).warnings == ()


@pytest.mark.parametrize("section, key, url", [
    ("live.massive", "ws_url", "ws://feed.example.com"),
    ("live.massive", "rest_url", "http://api.example.com"),
    ("live.tradier", "stream_url", "ws://ws.example.com/v1/markets/events"),
    ("live.tradier", "rest_url", "http://api.example.com"),
])
def test_keyed_endpoints_require_tls_except_on_loopback(tmp_path, section, key, url):
    with pytest.raises(ConfigError, match=f"{section}.{key}: .* must start with"):
        load_config(write(tmp_path, f'[{section}]\n{key} = "{url}"\n'), env=NO_ENV)
    local = url.replace("feed.example.com", "127.0.0.1").replace("api.example.com", "localhost") \
               .replace("ws.example.com", "[::1]")
    assert load_config(write(tmp_path, f'[{section}]\n{key} = "{local}"\n'), env=NO_ENV)


def test_server_port_from_the_environment_uses_the_nested_delimiter(tmp_path):
    assert load_config(env=env_with_home(tmp_path, ZDTE__SERVER__PORT="9123")).server.port == 9123


def test_env_overrides_win_over_the_file(tmp_path):
    path = write(tmp_path, "[server]\nport = 1006\nhost = \"0.0.0.0\"\n")
    env = {
        "ZDTE__SERVER__PORT": "9000",
        "ZDTE__GENERAL__THEME": "nord",  # not a TOML value: read as a plain string
        "ZDTE__GENERAL__SYMBOLS": '["SPY", "TSLA"]',
        "ZDTE__ENGINE__BLOCK_SIZE__TSLA": "120",
    }
    settings = load_config(path, env=env)
    assert settings.server.port == 9000
    assert settings.server.host == "0.0.0.0"
    assert settings.general.theme == "nord"
    assert settings.general.symbols == ("SPY", "TSLA")
    assert settings.block_size("TSLA") == 120 and settings.block_size("SPY") == 500


def test_env_override_errors_name_the_variable_and_key(tmp_path):
    env = env_with_home(tmp_path, ZDTE__ENGINE__SWEEP_WINDOW_MS="fast")
    with pytest.raises(ConfigError) as info:
        load_config(env=env)
    assert str(info.value) == (
        'environment ZDTE__ENGINE__SWEEP_WINDOW_MS: engine.sweep_window_ms: expected int, got str "fast"'
    )
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(env=env_with_home(tmp_path, ZDTE__ENGINE__WARP="1"))



def test_bare_api_key_gets_the_alpha_plan():
    from zdte_tui.config import ServerSettings

    assert ServerSettings(api_keys=["k1:growth", "k2"]).api_key_plans() == {"k1": "growth", "k2": "alpha"}


def test_every_key_is_documented_by_the_docstring_under_it_which_the_example_file_shows():
    from zdte_tui.config import GeneralSettings, _attribute_docs
    from zdte_tui.sources.massive.config import MassiveConfig

    docs = _attribute_docs(GeneralSettings)
    assert docs["refresh_seconds"] == "Seconds between refreshes of the slower panes (leaderboard, probabilities)."
    # inherited keys carry their base class's docstring
    assert _attribute_docs(MassiveConfig)["strike_band_pct"] == (
        "Subscribe strikes within this % of spot (unset: [engine] strike_band_pct).")

    def leaves(model: type[BaseModel]):
        for name, info in model.model_fields.items():
            if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
                yield from leaves(info.annotation)  # a section: documented by its class docstring
            else:
                yield model, name

    undocumented = [f"{m.__name__}.{k}" for m, k in leaves(Settings) if not _attribute_docs(m).get(k)]
    assert not undocumented
