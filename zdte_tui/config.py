"""zdte settings: one frozen, documented pydantic model read from TOML and the environment.

Where settings come from, later layers winning:

1. built-in defaults: the field defaults below, each defined once (engine numbers come from
   :class:`zdte_tui.engine.params.EngineParams`, live sections from ``sources/<provider>/config.py``);
   ``config.example.toml`` is generated from this model (``python -m zdte_tui.config``) and a
   test fails if the two drift;
2. one TOML file, the first of: the explicit ``--config PATH``; ``$ZDTE_CONFIG``;
   ``$XDG_CONFIG_HOME/zdte/config.toml`` (default ``~/.config/zdte/config.toml``). An explicit
   path or ``$ZDTE_CONFIG`` that does not exist is an error; a missing XDG file is not;
3. environment overrides ``ZDTE__SECTION__KEY=value`` (nested delimiter ``__``; the value is
   read as a TOML value, else as a plain string), e.g. ``ZDTE__SERVER__PORT=9000`` or
   ``ZDTE__ENGINE__BLOCK_SIZE__SPY=400``;
4. ``ZDTE_API_KEYS="KEY:PLAN,KEY:PLAN"``, merged into ``server.api_keys`` (same key: env wins).

Secrets are ``SecretStr`` and never appear in a message. Live feed keys stay out of the file:
each live section names the environment variable that holds its key. A config file that holds
API keys and is readable by group or others gets a warning (:attr:`Settings.warnings`).

Tables whose keys are symbols (``engine.block_size``, ``engine.dividend_yield``,
``calendar.weekly_expiries``, ``sim.levels``) are merged over the defaults per symbol; symbols are upper-cased.
Unknown keys and wrong types raise :class:`ConfigError` naming the file and the dotted key::

    config.toml: engine.sweep_window_ms: expected int, got str "fast"
"""

from __future__ import annotations

import contextvars
import difflib
import ipaddress
import json
import os
import re
import stat
import tomllib
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_core import core_schema

from zdte_tui.engine.params import DEALER_CONVENTIONS as DEALER_CONVENTIONS  # re-exported
from zdte_tui.engine.params import DealerConvention, EngineParams
from zdte_tui.market.calendar import WEEKDAY_NAMES, parse_weekday
from zdte_tui.sources.fetch.config import FetchSettings
from zdte_tui.sources.live.config import (
    DEFAULT_STRIKE_BAND_PCT,
    LiveSection,
    NonEmpty,
    Percent,
    Port,
    PositiveFloat,
    Section,
)
from zdte_tui.sources.massive.config import MassiveConfig
from zdte_tui.sources.thetadata.config import ThetaDataConfig
from zdte_tui.sources.tradier.config import TradierConfig

CONFIG_ENV_VAR = "ZDTE_CONFIG"
API_KEYS_ENV_VAR = "ZDTE_API_KEYS"
OVERRIDE_ENV_PREFIX = "ZDTE__"
ENV_NESTED_DELIMITER = "__"
API_PLANS = ("free", "basic", "growth", "alpha")
"""API plans, lowest first (as on FlashAlpha); an endpoint needs a minimum plan."""
DEFAULT_API_PLAN = "alpha"
Scenario = Literal["auto", "pin", "squeeze", "flip", "trend", "quiet"]
SCENARIOS: tuple[str, ...] = get_args(Scenario)

K = TypeVar("K")
V = TypeVar("V")
_ENGINE_DEFAULTS = EngineParams()


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

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._data) == dict(other)

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        key, value = get_args(source) or (str, Any)
        return core_schema.no_info_after_validator_function(
            cls, handler.generate_schema(dict[key, value]),  # type: ignore[valid-type]
            serialization=core_schema.plain_serializer_function_ser_schema(dict))


# --------------------------------------------------------------------------- value checks

_SYMBOL_RE = re.compile(r"[A-Z0-9][A-Z0-9./^:_-]{0,15}")
_CLOCK_RE = re.compile(r"(\d{1,2}):(\d{2})")


def _symbol(value: str) -> str:
    sym = value.strip().upper()
    if not _SYMBOL_RE.fullmatch(sym):
        raise ValueError(f"{value!r} is not a ticker symbol")
    return sym


def _symbols(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_symbol(v) for v in values))  # upper-case, first occurrence wins


def _non_negative(value: float) -> float:
    if not value >= 0:
        raise ValueError(f"must be >= 0, got {value}")
    return value


def _rate(value: float) -> float:
    if not -1 < value < 1:
        raise ValueError(f"must be an annual rate as a fraction (0.045 = 4.5%), got {value}")
    return value


def _clock(value: str) -> str:
    match = _CLOCK_RE.fullmatch(value.strip())
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"{value!r} is not an ET clock time HH:MM (24-hour)")
    return f"{int(match[1]):02d}:{match[2]}"


def _ip_networks(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        try:
            ipaddress.ip_network(str(value).strip(), strict=False)
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8)") from None
    return tuple(str(v).strip() for v in values)


def _weekdays(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(WEEKDAY_NAMES[parse_weekday(v)] for v in values))


def _at_least(minimum: int):
    def check(value: int) -> int:
        if value < minimum:
            raise ValueError(f"must be >= {minimum}, got {value}")
        return value

    return AfterValidator(check)


Symbol = Annotated[str, AfterValidator(_symbol)]
Rate = Annotated[float, AfterValidator(_rate)]
Clock = Annotated[str, AfterValidator(_clock)]
Weekdays = Annotated[tuple[str, ...], AfterValidator(_weekdays), Field(strict=False)]
Symbols = Annotated[tuple[str, ...], AfterValidator(_symbols), Field(strict=False)]


def _symbol_table(defaults: Mapping[str, Any]):
    """A ``symbol -> value`` table merged over ``defaults``, symbols upper-cased."""

    def merge(value: FrozenMap) -> FrozenMap:
        merged = dict(defaults)
        for sym, item in value.items():
            try:
                merged[_symbol(sym)] = item
            except ValueError as exc:
                raise ValueError(f"{sym}: {exc}") from None
        return FrozenMap(merged)

    return AfterValidator(merge)


# --------------------------------------------------------------------------- API keys


class ApiKey(BaseModel, frozen=True):
    """One accepted API key and its plan. The key is a secret: never shown."""

    key: SecretStr
    plan: Literal["free", "basic", "growth", "alpha"]


def parse_api_key(entry: str, *, label: str = "API key entry") -> ApiKey:
    """``"KEY:PLAN"`` (plan after the *last* colon, so a key may hold colons) or a bare ``"KEY"``
    (plan alpha). The one parser for ``--api-key``, ``ZDTE_API_KEYS`` and ``[server] api_keys``.
    Errors describe the entry (``label``) without ever repeating the key."""
    text = entry.strip()
    key, sep, plan = text.rpartition(":")
    if not sep:
        key, plan = text, DEFAULT_API_PLAN
    key, plan = key.strip(), plan.strip().lower()
    if not key:
        raise ValueError(f"{label} has an empty key")
    if any(c.isspace() or c == "," for c in key):
        raise ValueError(f"{label}: a key must not contain spaces or commas")
    if plan not in API_PLANS:
        raise ValueError(f"{label}: plan must be one of {', '.join(API_PLANS)}, got {plan[:20]!r}")
    return ApiKey(key=SecretStr(key), plan=plan)  # type: ignore[arg-type]


def parse_api_keys(entries: list[str] | tuple[str, ...], *, label: str = "API key entry") -> tuple[ApiKey, ...]:
    """Every non-empty entry parsed (``label N`` in errors); a later entry for a key wins."""
    by_key: dict[str, ApiKey] = {}
    for i, entry in enumerate(entries, 1):
        if isinstance(entry, ApiKey):
            by_key[entry.key.get_secret_value()] = entry
            continue
        if not isinstance(entry, str):
            raise ValueError(f"{label} {i}: expected str, got {type(entry).__name__}")
        if entry.strip():
            parsed = parse_api_key(entry, label=f"{label} {i}")
            by_key[parsed.key.get_secret_value()] = parsed
    return tuple(by_key.values())


# --------------------------------------------------------------------------- the model


class GeneralSettings(Section):
    """What the TUI opens on and how it looks and alerts."""

    default_symbol: Symbol = "SPY"
    """Symbol opened by a bare `zdte` with no symbol."""
    symbols: Symbols = ("SPY", "QQQ", "IWM", "SPX")
    """Symbols tracked for the leaderboard and `zdte watch`."""
    refresh_seconds: PositiveFloat = 30.0
    """Seconds between refreshes of the slower panes (leaderboard, probabilities)."""
    theme: NonEmpty = "textual-dark"
    """Textual theme name (e.g. "textual-dark", "textual-light", "nord", "gruvbox")."""
    truecolor: Literal["auto", "always", "never"] = "auto"
    """24-bit colour: "auto" (detect from COLORTERM), "always", "never" (256 colours)."""


class SimSettings(Section):
    """The simulator is the default source (shown as SIMULATED). The same seed, scenario and
    date replay exactly the same session."""

    seed: int = 7
    """Random seed; the same seed replays the same session."""
    scenario: Scenario = "auto"
    """Session shape: "auto" (chosen by seed), "pin", "squeeze", "flip", "trend", "quiet"."""
    speed: Annotated[float, AfterValidator(_non_negative)] = 1.0
    """Session seconds per wall second (0 = as fast as possible)."""
    start_at: Clock = "10:30"
    """Default --at for `zdte SYMBOL`: the session clock starts at this ET time (HH:MM, 24-hour), with the earlier part of the session already ingested."""
    synthetic_symbols: Symbols = ()
    """Symbols without a built-in profile (the simulator knows SPY, QQQ, IWM, SPX) that may be simulated with a made-up profile; any other unknown symbol is refused."""
    levels: Annotated[FrozenMap[str, PositiveFloat], _symbol_table({})] = FrozenMap()
    """Price level per symbol the simulated day is drawn around, e.g. { SPY = 671.2 } (dollars). Unset symbols use the last spot `zdte record` saw for them (a real, not simulated, source), else their dated reference level (docs/simulator.md, "Price level")."""
    use_last_recorded: bool = True
    """Use the last spot per symbol noted by `zdte record` of a real source ($XDG_STATE_HOME/zdte/last_levels.json) when [sim] levels does not set one."""


class EngineSettings(Section):
    """Flow-engine model parameters (defaults: zdte_tui/engine/params.py, docs/model.md)."""

    risk_free_rate: Rate = _ENGINE_DEFAULTS.risk_free_rate
    """Annual risk-free rate (continuously compounded, fraction) used in the greeks."""
    min_time_to_expiry_seconds: PositiveFloat = _ENGINE_DEFAULTS.min_time_to_expiry_seconds
    """Floor on time to expiry in the greeks near the close, in seconds (keeps gamma finite)."""
    sweep_window_ms: Annotated[int, _at_least(1)] = int(_ENGINE_DEFAULTS.sweep_window_ms)
    """Prints of one contract on the same side within this many milliseconds form one sweep."""
    dealer_convention: DealerConvention = _ENGINE_DEFAULTS.dealer_convention  # type: ignore[assignment]
    """Assumed dealer positioning: "long_calls_short_puts" (customers sell calls / buy puts: the usual GEX convention), "short_calls_long_puts" (the mirror image), "customer_flow" (dealers hold the other side of the classified customer flow)."""
    block_size_default: Annotated[int, _at_least(1)] = _ENGINE_DEFAULTS.block_size_default
    """A single print of at least this many contracts is a block (per-symbol values below win)."""
    strike_band_pct: Percent = DEFAULT_STRIKE_BAND_PCT
    """Contracts with strikes within this % of spot are tracked; live sources subscribe this band unless their section sets its own."""
    flip_grid_points: Annotated[int, _at_least(3)] = _ENGINE_DEFAULTS.flip_grid_points
    """The gamma flip is bracketed on this many spot points (then refined to 1e-7 x spot) ..."""
    flip_grid_pct: Percent = _ENGINE_DEFAULTS.flip_grid_pct
    """... spanning spot +/- this %."""
    block_size: Annotated[FrozenMap[str, Annotated[int, _at_least(1)]],
                          _symbol_table(_ENGINE_DEFAULTS.block_size)] = FrozenMap(_ENGINE_DEFAULTS.block_size)
    """Per-symbol block threshold in contracts; symbols not listed use block_size_default. Entries are merged over these defaults."""
    dividend_yield: Annotated[FrozenMap[str, Rate],
                              _symbol_table(_ENGINE_DEFAULTS.dividend_yield)] = FrozenMap(_ENGINE_DEFAULTS.dividend_yield)
    """Per-symbol continuous dividend yield (fraction); symbols not listed use 0. Entries are merged over these defaults."""


class CalendarSettings(Section):
    """Sessions, holidays and 13:00 ET early closes come from the XNYS calendar of exchange_calendars. SPY, QQQ, IWM, SPX, SPXW, XSP, NDX and RUT list an expiry every trading day; other symbols have a 0DTE only on the weekdays listed here."""

    weekly_expiries: Annotated[FrozenMap[str, Weekdays], _symbol_table({})] = FrozenMap()
    """Symbol -> weekdays ("mon".."fri") with a listed expiry, e.g. TSLA = ["mon", "wed", "fri"]. When that weekday is an exchange holiday the expiry moves to the previous trading day."""


class ProbabilitySettings(Section):
    """Pin / range probability model."""

    calibration_file: str = ""
    """Calibration table written by `zdte calibrate` ("" = the built-in model)."""
    pin_band_pct: Percent = _ENGINE_DEFAULTS.pin_band_pct
    """A close within this % of a strike counts as pinning it."""


class ServerSettings(Section):
    """`zdte serve`: the local FlashAlpha-compatible HTTP API."""

    host: NonEmpty = "127.0.0.1"
    """Interface to bind (beyond loopback, API keys are required)."""
    port: Port = 8787
    """TCP port."""
    api_keys: Annotated[tuple[ApiKey, ...], Field(strict=False)] = ()
    """Accepted API keys as "KEY:PLAN" (plan: free, basic, growth, alpha; a bare "KEY" is alpha). ZDTE_API_KEYS="KEY:PLAN,KEY:PLAN" adds keys from the environment."""
    rate_limit_per_minute: Annotated[int, _at_least(0)] = 600
    """Requests per API key per minute (0 = unlimited)."""
    trusted_proxies: Annotated[tuple[str, ...], AfterValidator(_ip_networks), Field(strict=False)] = ()
    """Reverse proxies (IP or CIDR) whose X-Forwarded-For header is believed; empty = the header is ignored and the peer address is the client (docs/http-api.md, "Behind a reverse proxy")."""

    @field_validator("api_keys", mode="before")
    @classmethod
    def _parse_keys(cls, value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            return value
        return parse_api_keys(list(value))

    def api_key_plans(self) -> dict[str, str]:
        """``{key: plan}`` of the accepted API keys."""
        return {k.key.get_secret_value(): k.plan for k in self.api_keys}


class RecordSettings(Section):
    """`zdte record`: the Parquet session writer."""

    flush_seconds: PositiveFloat = 1.0
    """Seconds between flushes of the Parquet session file."""


ALERT_RULES = ("flip", "walls", "regime", "pin", "signal", "severity")  # = zdte_tui.ui.alerts.RULES (tested)


def _alert_rules(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        if value not in ALERT_RULES:
            raise ValueError(f"{value!r} is not an alert rule ({', '.join(ALERT_RULES)})")
    return tuple(dict.fromkeys(values))


def _fraction(value: float) -> float:
    if not 0 < value < 1:
        raise ValueError(f"must be a fraction in (0, 1), got {value}")
    return value


def _webhook(value: str) -> str:
    if value and not value.startswith(("https://", "http://")):
        raise ValueError(f"{value!r} must start with https:// or http://")
    return value


class AlertSettings(Section):
    """The TUI's alerts, on by default: a toast and the bell on each event, a desktop notification
    where the OS has one, an optional webhook, a log file. `a` in the TUI lists this run's alerts."""

    enabled: bool = True
    """Alert at all (a toast on each event)."""
    bell: bool = True
    """Ring the terminal bell on each alert."""
    desktop: bool = True
    """Desktop notification where the OS has a notifier (notify-send, osascript)."""
    webhook_url: Annotated[str, AfterValidator(_webhook)] = ""
    """POST each alert as Discord/Slack-compatible JSON to this URL ("" = off)."""
    webhook_retries: Annotated[int, _at_least(1)] = 3
    """Webhook attempts on network errors, 429 and 5xx (0.5 s, 1 s, 2 s... apart)."""
    pin_threshold: Annotated[float, AfterValidator(_fraction)] = 0.5
    """Alert when the pin probability rises through this fraction."""
    signal_score: Annotated[int, _at_least(0)] = 85
    """Alert on each new signal scoring at least this."""
    rules: Annotated[tuple[str, ...], AfterValidator(_alert_rules), Field(strict=False)] = ALERT_RULES
    """Which rules fire: flip, walls, regime, pin, signal, severity."""
    log_file: str = ""
    """Alert log, JSON lines ("" = $XDG_STATE_HOME/zdte/alerts.log)."""


class LiveSettings(Section):
    """Live sources. Each may set strike_band_pct (% of spot to subscribe); unset, it inherits [engine] strike_band_pct."""

    massive: MassiveConfig = MassiveConfig()
    thetadata: ThetaDataConfig = ThetaDataConfig()
    tradier: TradierConfig = TradierConfig()


_LOAD: contextvars.ContextVar[tuple[Path | None, Mapping[str, str]]] = contextvars.ContextVar("_LOAD")


class Settings(BaseModel):
    """All zdte settings. Build with :func:`load_config` or :func:`default_settings`.

    A plain pydantic model: :func:`load_config` merges the file and the ``ZDTE__SECTION__KEY``
    environment layers itself (``_env_layers``) before validating, so no settings-source machinery
    (pydantic-settings) is imported."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, allow_inf_nan=False)

    general: GeneralSettings = GeneralSettings()
    sim: SimSettings = SimSettings()
    engine: EngineSettings = EngineSettings()
    calendar: CalendarSettings = CalendarSettings()
    probabilities: ProbabilitySettings = ProbabilitySettings()
    server: ServerSettings = ServerSettings()
    record: RecordSettings = RecordSettings()
    alerts: AlertSettings = AlertSettings()
    live: LiveSettings = LiveSettings()
    fetch: FetchSettings = FetchSettings()

    _source_path: Path | None = None
    _warnings: tuple[str, ...] = ()

    @property
    def source_path(self) -> Path | None:
        """The TOML file these settings were read from (None = built-in defaults only)."""
        return self._source_path

    @property
    def warnings(self) -> tuple[str, ...]:
        """Problems worth telling the user that do not stop zdte (e.g. a world-readable key file)."""
        return self._warnings

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Settings):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in type(self).model_fields)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, name) for name in type(self).model_fields))

    def block_size(self, symbol: str) -> int:
        """Block threshold in contracts for ``symbol`` (``engine.block_size``, else the default)."""
        return self.engine.block_size.get(symbol.strip().upper(), self.engine.block_size_default)

    def dividend_yield(self, symbol: str) -> float:
        """Continuous dividend yield of ``symbol`` as a fraction (``engine.dividend_yield``, else 0)."""
        return self.engine.dividend_yield.get(symbol.strip().upper(), 0.0)

    def live_section(self, name: str) -> LiveSection:
        """``[live.<name>]`` with its strike band resolved (unset: ``engine.strike_band_pct``)."""
        section: LiveSection = getattr(self.live, name)
        if section.strike_band_pct is None:
            section = section.model_copy(update={"strike_band_pct": self.engine.strike_band_pct})
        return section

    def engine_params(self) -> EngineParams:
        """The engine's parameters as configured (the benchmarks use the same defaults)."""
        e = self.engine
        return EngineParams(
            risk_free_rate=e.risk_free_rate, dividend_yield=dict(e.dividend_yield),
            min_time_to_expiry_seconds=e.min_time_to_expiry_seconds, sweep_window_ms=float(e.sweep_window_ms),
            block_size_default=e.block_size_default, block_size=dict(e.block_size),
            dealer_convention=e.dealer_convention, flip_grid_points=e.flip_grid_points,
            flip_grid_pct=e.flip_grid_pct, pin_band_pct=self.probabilities.pin_band_pct)


# --------------------------------------------------------------------------- loading


_TOML_TYPE_NAMES = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "table",
                    tuple: "list"}


def _describe(value: Any) -> str:
    kind = _TOML_TYPE_NAMES.get(type(value), type(value).__name__)
    if isinstance(value, dict):
        return kind
    text = json.dumps(value, default=str)
    return f"{kind} {text if len(text) <= 60 else text[:57] + '...'}"


def _strip_annotated(hint: Any) -> Any:
    while get_origin(hint) is Annotated:
        hint = get_args(hint)[0]
    if get_origin(hint) in (Union, types.UnionType):
        hint = next(a for a in get_args(hint) if a is not type(None))
        return _strip_annotated(hint)
    return hint


def _type_name(hint: Any) -> str:
    hint = _strip_annotated(hint)
    origin = get_origin(hint)
    if origin is tuple:
        return f"list of {_type_name(get_args(hint)[0])}"
    if origin is Literal:
        return "one of " + ", ".join(json.dumps(a) for a in get_args(hint))
    if origin is FrozenMap or (isinstance(hint, type) and issubclass(hint, BaseModel) and hint is not ApiKey):
        return "table"
    if hint is ApiKey or hint is SecretStr:
        return "str"
    return getattr(hint, "__name__", str(hint))


def _hint_at(loc: tuple[Any, ...]) -> tuple[Any, BaseModel | None]:
    """The annotation of the value at ``loc`` and the model holding it (for suggestions)."""
    hint: Any = Settings
    parent: Any = None
    for part in loc:
        base = _strip_annotated(hint)
        if isinstance(base, type) and issubclass(base, BaseModel):
            parent = base
            field = base.model_fields.get(str(part))
            if field is None:
                return None, parent
            hint = field.annotation if not field.metadata else Annotated[(field.annotation, *field.metadata)]
        elif get_origin(base) is tuple:
            hint = get_args(base)[0]
        elif get_origin(base) is FrozenMap:
            hint = get_args(base)[1]
        else:
            return hint, parent
    return hint, parent


def _message(err: Mapping[str, Any]) -> tuple[str, str]:
    """(dotted key, message) of one pydantic error, in zdte's words."""
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    kind, value = err["type"], err.get("input")
    if kind == "extra_forbidden":
        loc_key = ".".join(str(p) for p in loc)
        _, parent = _hint_at(loc)
        names = list(parent.model_fields) if parent is not None else []
        close = difflib.get_close_matches(str(loc[-1]), names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(names)})"
        return loc_key, f"unknown key{hint}"
    key = ""
    for p in loc:
        key += f"[{p}]" if isinstance(p, int) else (f".{p}" if key else str(p))
    if kind == "value_error":
        return key, str(err["ctx"]["error"])
    if kind == "finite_number":
        return key, f"expected a finite float, got {_describe(value)}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return key, f"{err['msg'].lower().replace('input should be', 'must be')}, got {value}"
    hint, _ = _hint_at(loc)
    return key, f"expected {_type_name(hint)}, got {_describe(value)}"


def _deep_merge(base: dict[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in layer.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _deep_merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def _env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _env_layers(env: Mapping[str, str]) -> list[tuple[str, tuple[str, ...], dict[str, Any]]]:
    """``ZDTE__A__B=value`` -> ``("environment ZDTE__A__B", ("a", "b"), {"a": {"b": value}})``."""
    layers = []
    for name in sorted(env):
        if not name.upper().startswith(OVERRIDE_ENV_PREFIX):
            continue
        path = tuple(part.lower() for part in name[len(OVERRIDE_ENV_PREFIX):].split(ENV_NESTED_DELIMITER))
        label = f"environment {name}"
        if not all(path):
            raise ConfigError(f"{label}: expected ZDTE__SECTION__KEY", source=label)
        if len(path) >= 3 and path[:2] in (("engine", "block_size"), ("engine", "dividend_yield"),
                                         ("calendar", "weekly_expiries"), ("sim", "levels")):
            path = (*path[:2], path[2].upper(), *path[3:])
        table: dict[str, Any] = {path[-1]: _env_value(env[name])}
        for part in reversed(path[:-1]):
            table = {part: table}
        layers.append((label, path, table))
    return layers


def _validate(raw: Mapping[str, Any], labels: list[tuple[tuple[str, ...], str]]) -> Settings:
    """``Settings`` from the merged ``raw`` table; an error names the layer that set the key."""
    try:
        return Settings(**raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        key, message = _message(err)
        loc = tuple(str(p) for p in err["loc"])
        source = labels[0][1] if labels else "settings"
        for prefix, label in reversed(labels):
            if loc[: len(prefix)] == prefix:
                source = label
                break
        raise ConfigError(f"{source}: {key}: {message}", source=source, key=key) from None


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
    return Settings()


def _permission_warning(path: Path, table: Mapping[str, Any]) -> str | None:
    server = table.get("server")
    if not (isinstance(server, Mapping) and server.get("api_keys")):
        return None
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (f"{path} holds API keys and is readable by other users (mode {stat.S_IMODE(mode):o}); "
                f"run: chmod 600 {path}")
    return None


# Keys that moved: (old section, old key) -> (new section, new key). A file that still sets the old
# key keeps working: its value goes to the new key unless the file also sets that, with a warning.
MOVED_KEYS = {("general", "bell_on_alert"): ("alerts", "bell"),
              ("general", "notify_on_alert"): ("alerts", "desktop")}


def _move_old_keys(raw: dict[str, Any], source: Path) -> tuple[dict[str, Any], list[str]]:
    """``raw`` with the keys of :data:`MOVED_KEYS` under their new names, and one warning per key moved.

    ``[general] bell_on_alert`` / ``notify_on_alert`` were switches that could only add to ``[alerts]
    bell`` / ``desktop`` (both on by default), so ``bell_on_alert = false`` never silenced the bell."""
    warnings: list[str] = []
    for (old_section, old_key), (new_section, new_key) in MOVED_KEYS.items():
        old_table = raw.get(old_section)
        if not isinstance(old_table, Mapping) or old_key not in old_table:
            continue
        value = old_table[old_key]
        raw = {**raw, old_section: {k: v for k, v in old_table.items() if k != old_key}}
        new_table = raw.get(new_section)
        if new_table is None or (isinstance(new_table, Mapping) and new_key not in new_table):
            raw = {**raw, new_section: {**(new_table or {}), new_key: value}}
            warnings.append(f"{source}: [{old_section}] {old_key} is now [{new_section}] {new_key}; "
                            f"applied as {new_key} = {_toml_value(value)}")
        else:
            warnings.append(f"{source}: [{old_section}] {old_key} is ignored: [{new_section}] {new_key} "
                            "is set (the old key moved there)")
    return raw, warnings


def _toml_value(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else repr(value)


def load_config(path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read settings: defaults, then the config file (see :func:`config_path`), then env overrides.

    ``env`` defaults to ``os.environ``. Raises :class:`ConfigError` naming the file and key.
    """
    env = os.environ if env is None else env
    source = config_path(path, env)
    raw: dict[str, Any] = {}
    labels: list[tuple[tuple[str, ...], str]] = []
    warnings: list[str] = []
    if source is not None:
        try:
            raw = tomllib.loads(source.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: invalid TOML: {exc}", source=str(source)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source}: cannot read config file: {exc}", source=str(source)) from None
        labels.append(((), str(source)))
        warning = _permission_warning(source, raw)
        if warning:
            warnings.append(warning)
        raw, moved = _move_old_keys(raw, source)
        warnings.extend(moved)
        _validate(raw, labels)  # file errors are reported before any override is applied
    for label, key_path, table in _env_layers(env):
        raw = _deep_merge(raw, table)
        labels.append((key_path, label))
    env_keys = [k for k in env.get(API_KEYS_ENV_VAR, "").split(",") if k.strip()]
    if env_keys:
        label = f"environment {API_KEYS_ENV_VAR}"
        try:
            extra = parse_api_keys(env_keys, label="entry")
        except ValueError as exc:
            raise ConfigError(f"{label}: server.api_keys: {exc}", source=label, key="server.api_keys") from None
        server = dict(raw.get("server") or {}) if isinstance(raw.get("server"), Mapping) else {}
        server["api_keys"] = [*(server.get("api_keys") or []), *extra]
        raw = _deep_merge(raw, {"server": server})
        labels.append((("server", "api_keys"), label))
    settings = _validate(raw, labels)
    settings._source_path = source
    settings._warnings = tuple(warnings)
    return settings


# --------------------------------------------------------------------------- the example file

_EXAMPLE_HEADER = """\
# zdte configuration: every key, set to its built-in default.
# Generated from the settings model (zdte_tui/config.py): python -m zdte_tui.config > config.example.toml
#
# Copy to ~/.config/zdte/config.toml (or $XDG_CONFIG_HOME/zdte/config.toml) and keep only the
# keys you change. zdte reads the first of:
#   1. zdte --config PATH
#   2. $ZDTE_CONFIG
#   3. $XDG_CONFIG_HOME/zdte/config.toml   (default ~/.config/zdte/config.toml)
# and otherwise runs on the defaults below. Unknown keys and wrong types are errors that name
# the file and the key, e.g.  config.toml: engine.sweep_window_ms: expected int, got str "fast"
#
# Environment overrides win over the file:
#   ZDTE__SECTION__KEY=value     e.g. ZDTE__SERVER__PORT=9000, ZDTE__ENGINE__BLOCK_SIZE__SPY=400,
#                                ZDTE__LIVE__MASSIVE__WS_URL=wss://delayed.massive.com
#                                (value read as a TOML value, else as a plain string)
#   ZDTE_API_KEYS="KEY:PLAN,..." merged into [server] api_keys
# Secrets (live feed keys) are never stored here: each live source names the environment
# variable that holds its key. A file holding [server] api_keys should be chmod 600.
#
# Times are US/Eastern (ET). Percentages are percent (4.0 = 4%); rates and yields are
# fractions (0.045 = 4.5%).
"""


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _comment(text: str | None, width: int = 96) -> list[str]:
    import textwrap

    return [f"# {line}" for line in textwrap.wrap(" ".join((text or "").split()), width - 2)]


def _attribute_docs(cls: type) -> dict[str, str]:
    """``{field: docstring}``: the string literal under each annotated field of ``cls`` and its bases
    (a subclass's wins). The settings models document their keys this way; the docstrings are read
    from the source here, for the example file, rather than by pydantic's ``use_attribute_docstrings``
    at every import (about 0.05 s of each launch)."""
    import ast
    import inspect
    import textwrap

    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, BaseModel)) or klass is BaseModel:
            continue
        node = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0]
        assert isinstance(node, ast.ClassDef)
        for stmt, nxt in zip(node.body, node.body[1:]):
            if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                    and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                    and isinstance(nxt.value.value, str)):
                docs[stmt.target.id] = inspect.cleandoc(nxt.value.value)
    return docs


def _render_section(name: str, model: BaseModel) -> list[str]:
    cls = type(model)
    lines = ["", f"[{name}]", *_comment(cls.__doc__)]
    docs = _attribute_docs(cls)
    tables: list[tuple[str, str | None, Mapping[str, Any]]] = []
    for field_name in cls.model_fields:
        value = getattr(model, field_name)
        if isinstance(value, BaseModel):
            continue
        if isinstance(value, Mapping):
            tables.append((field_name, docs.get(field_name), value))
            continue
        lines += _comment(docs.get(field_name))
        if value is None:  # optional: unset inherits (the only such key is a live strike band)
            lines.append(f"# {field_name} = {_toml(DEFAULT_STRIKE_BAND_PCT)}")
        elif field_name == "api_keys":
            lines.append(f"{field_name} = []")
        else:
            lines.append(f"{field_name} = {_toml(value)}")
    for field_name, doc, table in tables:
        lines += ["", f"[{name}.{field_name}]", *_comment(doc)]
        lines += [f"{k} = {_toml(v)}" for k, v in table.items()] or ["# (none)"]
    for field_name in cls.model_fields:
        value = getattr(model, field_name)
        if isinstance(value, BaseModel):
            lines += _render_section(f"{name}.{field_name}", value)
    return lines


def render_example() -> str:
    """``config.example.toml``: every section and key of the model, at its default, documented."""
    settings = default_settings()
    lines = [_EXAMPLE_HEADER.rstrip("\n")]
    for name in Settings.model_fields:
        lines += _render_section(name, getattr(settings, name))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(render_example(), end="")
