"""zdte settings: a frozen, documented model read from TOML.

Where settings come from, later layers winning:

1. built-in defaults (:func:`default_settings`; ``config.example.toml`` documents every key);
2. one TOML file, the first of: the explicit ``--config PATH``; ``$ZDTE_CONFIG``;
   ``$XDG_CONFIG_HOME/zdte/config.toml`` (default ``~/.config/zdte/config.toml``). An explicit
   path or ``$ZDTE_CONFIG`` that does not exist is an error; a missing XDG file is not;
3. environment overrides ``ZDTE__SECTION__KEY=value`` (value read as a TOML value, else as a
   plain string), e.g. ``ZDTE__SERVER__PORT=9000`` or ``ZDTE__ENGINE__BLOCK_SIZE__SPY=400``;
4. ``ZDTE_API_KEYS="KEY:PLAN,KEY:PLAN"``, merged into ``server.api_keys`` (same key: env wins).

Secrets stay out of the file: live sources name the environment variable that holds their
key (``live.massive.api_key_env``), read with ``settings.live.massive.api_key()``.

Tables whose keys are symbols (``engine.block_size``, ``engine.dividend_yield``,
``calendar.weekly_expiries``) are merged over the defaults per symbol; symbols are upper-cased.
Unknown keys and wrong types raise :class:`ConfigError` naming the file and the dotted key::

    config.toml: engine.sweep_window_ms: expected int, got str "fast"
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import json
import math
import os
import re
import tomllib
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from zdte_tui.market.calendar import WEEKDAY_NAMES, parse_weekday

CONFIG_ENV_VAR = "ZDTE_CONFIG"
API_KEYS_ENV_VAR = "ZDTE_API_KEYS"
OVERRIDE_ENV_PREFIX = "ZDTE__"
API_PLANS = ("free", "basic", "growth", "alpha")
DEFAULT_API_PLAN = "alpha"
SCENARIOS = ("auto", "pin", "squeeze", "flip", "trend", "quiet")
DEALER_CONVENTIONS = ("long_calls_short_puts", "short_calls_long_puts", "customer_flow")

K = TypeVar("K")
V = TypeVar("V")


class ConfigError(ValueError):
    """A settings problem; the message names the file (or env var) and the dotted key."""

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.key = key


class FrozenMap(Mapping, Generic[K, V]):
    """An immutable, hashable mapping (settings stay frozen all the way down)."""

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[K, V] | None = None) -> None:
        self._data: dict[K, V] = dict(data or {})
        self._hash: int | None = None

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


# --------------------------------------------------------------------------- validators
# Each takes the type-checked value and returns it (possibly normalized) or raises ValueError.

_SYMBOL_RE = re.compile(r"[A-Z0-9][A-Z0-9./^:_-]{0,15}")
_CLOCK_RE = re.compile(r"(\d{1,2}):(\d{2})")
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _symbol(value: str) -> str:
    sym = value.strip().upper()
    if not _SYMBOL_RE.fullmatch(sym):
        raise ValueError(f"{value!r} is not a ticker symbol")
    return sym


def _symbols(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_symbol(v) for v in values))  # upper-case, first occurrence wins


def _positive(value: float) -> float:
    if not value > 0:
        raise ValueError(f"must be > 0, got {value}")
    return value


def _non_negative(value: float) -> float:
    if not value >= 0:
        raise ValueError(f"must be >= 0, got {value}")
    return value


def _percent(value: float) -> float:
    if not 0 < value <= 100:
        raise ValueError(f"must be a percentage in (0, 100], got {value}")
    return value


def _rate(value: float) -> float:
    if not -1 < value < 1:
        raise ValueError(f"must be an annual rate as a fraction (0.045 = 4.5%), got {value}")
    return value


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"must be a TCP port 1-65535, got {value}")
    return value


def _at_least(minimum: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if value < minimum:
            raise ValueError(f"must be >= {minimum}, got {value}")
        return value

    return check


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def _clock(value: str) -> str:
    match = _CLOCK_RE.fullmatch(value.strip())
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"{value!r} is not an ET clock time HH:MM (24-hour)")
    return f"{int(match[1]):02d}:{match[2]}"


def _env_name(value: str) -> str:
    if not _ENV_NAME_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


def _url(*schemes: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not value.startswith(tuple(f"{s}://" for s in schemes)):
            raise ValueError(f"{value!r} must start with " + " or ".join(f"{s}://" for s in schemes))
        return value.rstrip("/")

    return check


def _api_key(value: str) -> str:
    """``"KEY:PLAN"`` (or bare ``"KEY"``, plan alpha) -> ``"KEY:plan"``."""
    key, _, plan = value.strip().partition(":")
    plan = (plan or DEFAULT_API_PLAN).strip().lower()
    if not key or any(c.isspace() or c == "," for c in key):
        raise ValueError(f"{value!r}: the key must be non-empty, without spaces or commas")
    if plan not in API_PLANS:
        raise ValueError(f"{value!r}: plan must be one of {', '.join(API_PLANS)}")
    return f"{key}:{plan}"


def _api_keys(values: tuple[str, ...]) -> tuple[str, ...]:
    by_key: dict[str, str] = {}
    for value in values:
        normalized = _api_key(value)
        by_key[normalized.rpartition(":")[0]] = normalized  # a later entry for a key wins
    return tuple(by_key.values())


def _ip_networks(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        try:
            ipaddress.ip_network(str(value).strip(), strict=False)
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8)") from None
    return tuple(str(v).strip() for v in values)


def _weekdays(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(WEEKDAY_NAMES[parse_weekday(v)] for v in values))


def _setting(
    default: Any,
    doc: str,
    check: Callable[[Any], Any] | None = None,
    *,
    check_each: Callable[[Any], Any] | None = None,
) -> Any:
    """A dataclass field with a docstring and the loader's validator.

    ``check`` validates the whole value; ``check_each`` each value of a symbol table.
    """
    return field(default=default, metadata={"doc": doc, "check": check, "check_each": check_each})


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class GeneralSettings:
    """``[general]``: what the TUI opens on and how it looks and alerts."""

    default_symbol: str = _setting("SPY", "symbol opened by a bare `zdte`", _symbol)
    symbols: tuple[str, ...] = _setting(
        ("SPY", "QQQ", "IWM", "SPX"), "symbols tracked for the leaderboard and `zdte watch`", _symbols
    )
    refresh_seconds: float = _setting(30.0, "seconds between refreshes of slow panes", _positive)
    theme: str = _setting("textual-dark", "Textual theme name", _non_empty)
    bell_on_alert: bool = _setting(False, "ring the terminal bell on a new alert")
    notify_on_alert: bool = _setting(False, "send a desktop notification on a new alert")
    truecolor: Literal["auto", "always", "never"] = _setting(
        "auto", "24-bit colour: auto-detect, always, never"
    )


@dataclass(frozen=True)
class SimSettings:
    """``[sim]``: the built-in simulator (the default, SIMULATED source)."""

    seed: int = _setting(7, "random seed; the same seed replays the same session")
    scenario: Literal["auto", "pin", "squeeze", "flip", "trend", "quiet"] = _setting(
        "auto", "session shape; auto picks pin/squeeze/flip/trend/quiet from the seed"
    )
    speed: float = _setting(1.0, "session seconds per wall second (0 = as fast as possible)", _non_negative)
    start_at: str = _setting("10:30", "default --at for `zdte SYMBOL`: HH:MM ET", _clock)


@dataclass(frozen=True)
class EngineSettings:
    """``[engine]``: flow-engine model parameters."""

    risk_free_rate: float = _setting(0.045, "annual risk-free rate, continuous, as a fraction", _rate)
    min_time_to_expiry_seconds: float = _setting(
        60.0, "floor on time to expiry in greeks near the close (seconds)", _positive
    )
    sweep_window_ms: int = _setting(
        500, "prints of one contract within this window form a sweep", _at_least(1)
    )
    dealer_convention: Literal["long_calls_short_puts", "short_calls_long_puts", "customer_flow"] = _setting(
        "long_calls_short_puts", "dealer positioning assumed for settled OI / how flow is signed"
    )
    block_size_default: int = _setting(250, "contracts in one print that make it a block", _at_least(1))
    strike_band_pct: float = _setting(4.0, "strikes within this % of spot are tracked", _percent)
    flip_grid_points: int = _setting(161, "spot grid points searched for the gamma flip", _at_least(3))
    flip_grid_pct: float = _setting(5.0, "gamma-flip search grid spans spot +/- this %", _percent)
    block_size: FrozenMap[str, int] = _setting(
        FrozenMap({"SPY": 500, "SPX": 100, "QQQ": 300, "IWM": 300}),
        "per-symbol block threshold (contracts), overrides block_size_default",
        check_each=_at_least(1),
    )
    dividend_yield: FrozenMap[str, float] = _setting(
        FrozenMap({"SPY": 0.012, "QQQ": 0.006, "IWM": 0.012, "SPX": 0.013}),
        "per-symbol continuous dividend yield as a fraction (default 0)",
        check_each=_rate,
    )


@dataclass(frozen=True)
class CalendarSettings:
    """``[calendar]``: 0DTE listings beyond the daily roots (SPY, QQQ, IWM, SPX, ...)."""

    weekly_expiries: FrozenMap[str, tuple[str, ...]] = _setting(
        FrozenMap(), "symbol -> weekdays with listed expiries, e.g. TSLA = [\"mon\", \"wed\", \"fri\"]",
        check_each=_weekdays,
    )


@dataclass(frozen=True)
class ProbabilitySettings:
    """``[probabilities]``: pin / range probability model."""

    calibration_file: str = _setting("", "calibration table from `zdte calibrate` (\"\" = built-in)")
    pin_band_pct: float = _setting(0.1, "a close within this % of a strike counts as a pin", _percent)


@dataclass(frozen=True)
class ServerSettings:
    """``[server]``: `zdte serve`, the local FlashAlpha-compatible HTTP API."""

    host: str = _setting("127.0.0.1", "interface to bind", _non_empty)
    port: int = _setting(8787, "TCP port", _port)
    api_keys: tuple[str, ...] = _setting(
        (), "accepted keys as \"KEY:PLAN\" (plan: free, basic, growth, alpha; bare KEY = alpha)", _api_keys
    )
    rate_limit_per_minute: int = _setting(600, "requests per key per minute (0 = unlimited)", _at_least(0))
    trusted_proxies: tuple[str, ...] = _setting(
        (), "reverse-proxy addresses (IP or CIDR) whose X-Forwarded-For is believed; empty = header ignored",
        _ip_networks)

    def api_key_plans(self) -> dict[str, str]:
        """``{key: plan}`` of the accepted API keys (a bare ``KEY`` has plan ``alpha``)."""
        out = {}
        for entry in self.api_keys:
            key, sep, plan = entry.rpartition(":")
            out[key if sep else plan] = plan if sep else "alpha"
        return out


@dataclass(frozen=True)
class RecordSettings:
    """``[record]``: `zdte record` Parquet writer."""

    flush_seconds: float = _setting(1.0, "seconds between flushes to disk", _positive)


def _secret(env_var: str, env: Mapping[str, str] | None) -> str | None:
    value = (os.environ if env is None else env).get(env_var, "").strip()
    return value or None


@dataclass(frozen=True)
class MassiveSettings:
    """``[live.massive]``: Massive (formerly Polygon.io) OPRA WebSocket + REST."""

    api_key_env: str = _setting("MASSIVE_API_KEY", "environment variable holding the API key", _env_name)
    ws_url: str = _setting("wss://socket.massive.com/options", "options WebSocket", _url("wss", "ws"))
    rest_url: str = _setting("https://api.massive.com", "REST base URL", _url("https", "http"))
    strike_band_pct: float | None = _setting(None, "subscribe strikes within this % of spot", _percent)

    def api_key(self, env: Mapping[str, str] | None = None) -> str | None:
        """The API key from ``$<api_key_env>``, or None if unset."""
        return _secret(self.api_key_env, env)


@dataclass(frozen=True)
class ThetaDataSettings:
    """``[live.thetadata]``: a local ThetaData Terminal."""

    host: str = _setting("127.0.0.1", "Theta Terminal host", _non_empty)
    port: int = _setting(25510, "Theta Terminal REST port", _port)
    ws_port: int = _setting(25520, "Theta Terminal streaming port", _port)
    strike_band_pct: float | None = _setting(None, "subscribe strikes within this % of spot", _percent)


@dataclass(frozen=True)
class TradierSettings:
    """``[live.tradier]``: Tradier market-data REST + streaming."""

    token_env: str = _setting("TRADIER_TOKEN", "environment variable holding the access token", _env_name)
    rest_url: str = _setting("https://api.tradier.com/v1", "REST base URL", _url("https", "http"))
    stream_url: str = _setting(
        "wss://ws.tradier.com/v1/markets/events", "market events stream", _url("wss", "ws", "https", "http")
    )
    strike_band_pct: float | None = _setting(None, "subscribe strikes within this % of spot", _percent)

    def token(self, env: Mapping[str, str] | None = None) -> str | None:
        """The access token from ``$<token_env>``, or None if unset."""
        return _secret(self.token_env, env)


@dataclass(frozen=True)
class LiveSettings:
    """``[live.*]``: live feed adapters. ``strike_band_pct`` unset = ``engine.strike_band_pct``."""

    massive: MassiveSettings = field(default_factory=MassiveSettings)
    thetadata: ThetaDataSettings = field(default_factory=ThetaDataSettings)
    tradier: TradierSettings = field(default_factory=TradierSettings)


@dataclass(frozen=True)
class Settings:
    """All zdte settings. Build with :func:`load_config` or :func:`default_settings`."""

    general: GeneralSettings = field(default_factory=GeneralSettings)
    sim: SimSettings = field(default_factory=SimSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    probabilities: ProbabilitySettings = field(default_factory=ProbabilitySettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    record: RecordSettings = field(default_factory=RecordSettings)
    live: LiveSettings = field(default_factory=LiveSettings)
    source_path: Path | None = field(default=None, compare=False)
    """The TOML file these settings were read from (None = built-in defaults only)."""

    def block_size(self, symbol: str) -> int:
        """Block threshold in contracts for ``symbol`` (``engine.block_size``, else the default)."""
        return self.engine.block_size.get(symbol.strip().upper(), self.engine.block_size_default)

    def dividend_yield(self, symbol: str) -> float:
        """Continuous dividend yield of ``symbol`` as a fraction (``engine.dividend_yield``, else 0)."""
        return self.engine.dividend_yield.get(symbol.strip().upper(), 0.0)


# --------------------------------------------------------------------------- loading


class _Invalid(Exception):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


_TOML_TYPE_NAMES = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "table"}


def _describe(value: Any) -> str:
    kind = _TOML_TYPE_NAMES.get(type(value), type(value).__name__)
    if isinstance(value, dict):
        return kind
    text = json.dumps(value, default=str)
    return f"{kind} {text if len(text) <= 60 else text[:57] + '...'}"


def _type_name(hint: Any) -> str:
    origin = get_origin(hint)
    if origin is tuple:
        return f"list of {_type_name(get_args(hint)[0])}"
    if origin is Literal:
        return "one of " + ", ".join(json.dumps(a) for a in get_args(hint))
    if origin is FrozenMap or dataclasses.is_dataclass(hint):
        return "table"
    return getattr(hint, "__name__", str(hint))


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Type-check one TOML value against a field annotation (no range checks)."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        return _coerce(value, next(a for a in args if a is not type(None)), key)
    ok = False
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise _Invalid(key, f"expected a finite float, got {_describe(value)}")
            return float(value)
    elif hint is str:
        ok = isinstance(value, str)
    elif origin is Literal:
        ok = isinstance(value, str) and value in args
    elif origin is tuple:
        if isinstance(value, list):
            return tuple(_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
    elif origin is FrozenMap:
        if isinstance(value, dict):
            return {k: _coerce(v, args[1], f"{key}.{k}") for k, v in value.items()}
    if ok:
        return value
    raise _Invalid(key, f"expected {_type_name(hint)}, got {_describe(value)}")


def _apply(obj: Any, table: Mapping[str, Any], prefix: str = "") -> Any:
    """``obj`` (a settings dataclass) with the values of ``table`` applied, checked, normalized."""
    fields = {f.name: f for f in dataclasses.fields(obj) if f.name != "source_path"}
    hints = get_type_hints(type(obj))
    changes: dict[str, Any] = {}
    for name, raw in table.items():
        key = f"{prefix}{name}"
        spec = fields.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(fields)})"
            raise _Invalid(key, f"unknown key{hint}")
        hint = hints[name]
        current = getattr(obj, name)
        if dataclasses.is_dataclass(hint):
            if not isinstance(raw, dict):
                raise _Invalid(key, f"expected table, got {_describe(raw)}")
            changes[name] = _apply(current, raw, f"{key}.")
            continue
        value = _coerce(raw, hint, key)
        if get_origin(hint) is FrozenMap:  # symbol tables merge over the current entries
            merged = dict(current)
            check_each = spec.metadata.get("check_each") or (lambda item: item)
            for sym, item in value.items():
                try:
                    merged[_symbol(sym)] = check_each(item)
                except ValueError as exc:
                    raise _Invalid(f"{key}.{sym}", str(exc)) from None
            value = FrozenMap(merged)
        check = spec.metadata.get("check")
        if check is not None:
            try:
                value = check(value)
            except ValueError as exc:
                raise _Invalid(key, str(exc)) from None
        changes[name] = value
    return dataclasses.replace(obj, **changes) if changes else obj


def _apply_layer(settings: Settings, table: Mapping[str, Any], source: str) -> Settings:
    try:
        return _apply(settings, table)
    except _Invalid as exc:
        raise ConfigError(f"{source}: {exc.key}: {exc.message}", source=source, key=exc.key) from None


def _inherit_strike_bands(settings: Settings) -> Settings:
    band = settings.engine.strike_band_pct
    live = settings.live
    resolved = {
        name: dataclasses.replace(sub, strike_band_pct=band) if sub.strike_band_pct is None else sub
        for name, sub in (("massive", live.massive), ("thetadata", live.thetadata), ("tradier", live.tradier))
    }
    return dataclasses.replace(settings, live=dataclasses.replace(live, **resolved))


def _env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _env_overrides(env: Mapping[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """``ZDTE__A__B=value`` -> ``("environment ZDTE__A__B", {"a": {"b": value}})``, sorted by name."""
    layers = []
    for name in sorted(env):
        if not name.upper().startswith(OVERRIDE_ENV_PREFIX):
            continue
        path = [part.lower() for part in name[len(OVERRIDE_ENV_PREFIX):].split("__")]
        if not all(path):
            label = f"environment {name}"
            raise ConfigError(f"{label}: expected ZDTE__SECTION__KEY", source=label)
        table: dict[str, Any] = {path[-1]: _env_value(env[name])}
        for part in reversed(path[:-1]):
            table = {part: table}
        layers.append((f"environment {name}", table))
    return layers


def config_path(path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    """The config file to read: ``path``, else ``$ZDTE_CONFIG``, else the XDG file if it exists.

    None means built-in defaults. Raises ConfigError if an explicit path or ``$ZDTE_CONFIG``
    names a file that does not exist.
    """
    env = os.environ if env is None else env
    if path is not None:
        explicit, origin = Path(path).expanduser(), "--config"
    elif env.get(CONFIG_ENV_VAR, "").strip():
        explicit, origin = Path(env[CONFIG_ENV_VAR].strip()).expanduser(), f"${CONFIG_ENV_VAR}"
    else:
        xdg = env.get("XDG_CONFIG_HOME", "").strip()
        if xdg and Path(xdg).is_absolute():
            base = Path(xdg)
        else:  # unset or relative (invalid per the XDG spec): ~/.config
            base = Path(env.get("HOME") or Path.home()) / ".config"
        candidate = base / "zdte" / "config.toml"
        return candidate if candidate.is_file() else None
    if not explicit.is_file():
        raise ConfigError(f"{explicit}: no such config file (from {origin})", source=str(explicit))
    return explicit


def default_settings() -> Settings:
    """The built-in settings (what ``config.example.toml`` spells out)."""
    return _inherit_strike_bands(Settings())


def load_config(path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read settings: defaults, then the config file (see :func:`config_path`), then env overrides.

    ``env`` defaults to ``os.environ``. Raises :class:`ConfigError` naming the file and key.
    """
    env = os.environ if env is None else env
    settings = Settings()
    source = config_path(path, env)
    if source is not None:
        try:
            table = tomllib.loads(source.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: invalid TOML: {exc}", source=str(source)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source}: cannot read config file: {exc}", source=str(source)) from None
        settings = _apply_layer(settings, table, str(source))
    for label, table in _env_overrides(env):
        settings = _apply_layer(settings, table, label)
    env_keys = [k for k in env.get(API_KEYS_ENV_VAR, "").split(",") if k.strip()]
    if env_keys:
        merged = list(settings.server.api_keys) + env_keys
        settings = _apply_layer(settings, {"server": {"api_keys": merged}}, f"environment {API_KEYS_ENV_VAR}")
    settings = dataclasses.replace(settings, source_path=source)
    return _inherit_strike_bands(settings)
