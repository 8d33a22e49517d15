"""`zdte` entry point.

``zdte SPY`` (no subcommand) opens the monitor on one symbol; everything else is a
subcommand. Each subcommand registers only the options it takes (shared groups come from
parent parsers), so ``zdte <command> --help`` lists exactly what applies. Heavy modules are
imported lazily so ``zdte --help`` stays instant.

Bad input is one line on stderr and exit status 2, never a traceback: argparse errors for
malformed values (``--port 80000``, ``--speed -1``), :class:`zdte_tui.commands.UserError` for
values that need the calendar, a file or the settings (``--date``, ``--at``, ``--out``).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
from collections.abc import Sequence

SUBCOMMANDS = (
    "watch", "replay", "serve", "record", "simulate", "import-dbn", "import-cboe", "fetch-day", "doctor", "calibrate",
    "export", "snapshot", "series", "hedge-flow", "heatmap", "strike-flow", "leaderboard", "signals",
)


class Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line: ``zdte serve: error: ... (see --help)``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# --------------------------------------------------------------------------- value types


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def speed(text: str) -> float:
    """Session seconds per wall second: a finite number in (0, MAX_SPEED]."""
    from zdte_tui.sources.clock import MAX_SPEED

    value = _finite(text)
    if not 0 < value <= MAX_SPEED:
        raise argparse.ArgumentTypeError(
            f"expected session seconds per wall second in (0, {MAX_SPEED:g}], got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = _finite(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a TCP port 1-65535, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a TCP port 1-65535, got {text!r}")
    return value


# --------------------------------------------------------------------------- option groups


def _session_parent(*, speed_help: str = "session seconds per wall second (default 1)") -> Parser:
    p = Parser(add_help=False)
    g = p.add_argument_group("session")
    g.add_argument("--date", help="session date YYYY-MM-DD (sim: default today if a trading day, else the last one)")
    g.add_argument("--at", help="start the session clock at HH:MM ET with earlier history ingested")
    g.add_argument("--speed", type=speed, default=None, help=speed_help)
    return p


def _sim_parent() -> Parser:
    p = Parser(add_help=False)
    g = p.add_argument_group("simulator")
    g.add_argument("--seed", type=int, default=None, help="simulator seed (default [sim] seed)")
    g.add_argument("--scenario", default=None,
                   help="simulator scenario: auto, pin, squeeze, flip, trend, quiet (default [sim] scenario)")
    return p


def _source_parent() -> Parser:
    p = Parser(add_help=False)
    g = p.add_argument_group("data source")
    g.add_argument("--source", default="sim",
                   help="sim (default, SIMULATED), replay:PATH, cboe:PATH, or a live source "
                        "(massive, thetadata, tradier) configured in config.toml")
    return p


def _client_parent() -> Parser:
    p = Parser(add_help=False)
    g = p.add_argument_group("remote engine")
    g.add_argument("--server", default=None, help="use a `zdte serve` at this URL instead of the embedded engine")
    g.add_argument("--api-key", default=None, help="API key for --server")
    return p


QUERY_OPTIONS: dict[str, tuple[str, ...]] = {
    "snapshot": ("expiry",),
    "series": ("bar", "minutes"),
    "hedge-flow": ("side", "bar", "minutes"),
    "heatmap": ("metric", "mode", "bar", "minutes"),
    "strike-flow": ("bar", "minutes"),
    "leaderboard": ("metric", "n"),
    "signals": ("min_score", "intent", "structure", "window_minutes", "limit", "expiry"),
}
"""Each query command and the FlowService parameters it takes (docs/http-api.md)."""

_QUERY_ARGS: dict[str, dict] = {
    "expiry": {"help": "expiry YYYY-MM-DD (default: the session's own 0DTE expiry)"},
    "bar": {"help": "bar size, e.g. 30s, 1m, 5m"},
    "minutes": {"type": positive_int, "help": "how many minutes of history"},
    "metric": {"help": "which metric (see docs/http-api.md)"},
    "mode": {"help": "raw or delta"},
    "side": {"help": "calls, puts or both"},
    "n": {"type": positive_int, "help": "how many symbols"},
    "min_score": {"type": _finite, "help": "lowest signal score shown"},
    "intent": {"help": "only signals of this intent"},
    "structure": {"help": "only signals of this structure"},
    "window_minutes": {"type": positive_int, "help": "signals of the last N minutes"},
    "limit": {"type": positive_int, "help": "at most this many signals"},
}
QUERY_COMMANDS = tuple(QUERY_OPTIONS)
NO_CACHE_HELP = ("replay the day up to --at instead of reading the cached day "
                 "($XDG_CACHE_HOME/zdte/days; simulator and recordings)")


def build_parser() -> Parser:
    parser = Parser(
        prog="zdte",
        description="Terminal monitor for 0DTE options flow. `zdte SPY` opens the monitor on SPY.",
        epilog="subcommands: " + ", ".join(SUBCOMMANDS),
    )
    parser.add_argument("--config", default=None, help="config file (default $ZDTE_CONFIG or XDG config dir)")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    source, session, sim, client = _source_parent(), _session_parent(), _sim_parent(), _client_parent()
    viewer = [source, session, sim, client]

    p = sub.add_parser("monitor", parents=viewer, help="open the monitor on one symbol (same as `zdte SYMBOL`)")
    p.add_argument("symbol")
    p.add_argument("--expiry", default=None, help="with --source cboe:FILE: expiry YYYY-MM-DD to value "
                                                 "(default: the next session's 0DTE)")

    p = sub.add_parser("watch", parents=viewer, help="watch several symbols: a grid of cards")
    p.add_argument("symbols", nargs="+")

    p = sub.add_parser("replay", help="play a recorded session")
    p.add_argument("path")
    p.add_argument("--at", help="seek to HH:MM ET before playing")
    p.add_argument("--speed", type=speed, default=None, help="session seconds per wall second (default 1)")
    p.add_argument("--symbol", default=None, help="symbol to open (default: the first in the recording)")
    p.add_argument("--headless", action="store_true", help="no TUI: play to the end as fast as possible")
    p.add_argument("--json", action="store_true", help="with --headless: print the final snapshot as JSON")

    p = sub.add_parser("serve", parents=[source, session, sim],
                       help="serve the engine as a local HTTP API (FlashAlpha-compatible)")
    p.add_argument("--host", default=None, help="interface to bind (default [server] host, 127.0.0.1)")
    p.add_argument("--port", type=port, default=None, help="TCP port (default [server] port, 8787)")
    p.add_argument("--symbols", default=None, help="comma-separated symbols (default [general] symbols)")
    p.add_argument("--api-key", action="append", default=[], dest="api_keys", metavar="KEY[:PLAN]",
                   help="accepted API key with its plan (free, basic, growth, alpha); repeatable")

    p = sub.add_parser("record", parents=[source, session, sim],
                       help="record a source's events to a Parquet session file")
    p.add_argument("symbols", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--duration", type=positive_float, default=None, help="stop after this many wall seconds")
    p.add_argument("--force", action="store_true", help="replace --out if it exists (never while a recorder holds it)")

    p = sub.add_parser("simulate", parents=[sim], help="write a whole simulated session as fast as possible")
    p.add_argument("--date", default=None, help="session date YYYY-MM-DD (default today if a trading day)")
    p.add_argument("--symbols", default="SPY", help="comma-separated symbols (default SPY)")
    p.add_argument("--out", required=True)
    p.add_argument("--intensity", type=positive_float, default=1.0,
                   help="scale of the day: 1 (default); above 1 a real-scale day: prints x INTENSITY, every "
                        "strike from -15%% to +10%%, a 1-second NBBO for every contract (SPX at 4: ~1.5M "
                        "prints, ~18M quote rows)")

    p = sub.add_parser("import-dbn", help="convert Databento DBN (OPRA) files into a recording")
    p.add_argument("files", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--underlying", default=None, help="underlying symbol if it cannot be inferred")

    p = sub.add_parser("fetch-day", help="download one real session's 0DTE trades, NBBO, underlying and OI "
                                         "from a vendor into a recording")
    p.add_argument("symbol")
    p.add_argument("--date", required=True, help="session date YYYY-MM-DD (a past trading day)")
    p.add_argument("--vendor", required=True, choices=("databento", "massive", "thetadata"))
    p.add_argument("--out", required=True, help="recording to write (replay it with `zdte replay FILE`)")
    p.add_argument("--yes", action="store_true", help="do not ask before a paid download (the estimate is still shown)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--keep-parts", action="store_true", help="keep the downloaded parts (OUT.parts/) after converting")
    p.add_argument("--jobs", type=positive_int, default=4, help="massive: contracts downloaded at once (default 4)")

    p = sub.add_parser("doctor", help="check the configured live feed end to end and say what to fix")
    p.add_argument("--source", default=None, help="massive, thetadata or tradier (default: the one whose key is "
                                                  "set in the environment)")
    p.add_argument("--symbol", default="SPY", help="underlying to test with (default SPY)")
    p.add_argument("--timeout", type=positive_float, default=45.0, help="seconds for the whole check (default 45)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("import-cboe", help="load a Cboe delayed-quote chain CSV (quotedata.csv)")
    p.add_argument("file")
    p.add_argument("--out", default=None, help="write a one-snapshot recording instead of opening the TUI")
    p.add_argument("--json", action="store_true", help="print the snapshot as JSON instead of opening the TUI")
    p.add_argument("--at", default=None, help="value at HH:MM ET of the projected session (default: its open, "
                                             "or the file's own time for a file saved during the session)")
    p.add_argument("--expiry", default=None, help="expiry YYYY-MM-DD to value (default: the next session's 0DTE)")

    p = sub.add_parser("calibrate", help="fit pin/range probability calibration on recordings, "
                                         "keep the model only where it beats the baseline on held-out days")
    p.add_argument("recordings", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--holdout", nargs="+", default=None,
                   help="held-out recordings (default: the most recent third of RECORDINGS by session date)")
    p.add_argument("--method", choices=("isotonic", "platt"), default="isotonic")

    p = sub.add_parser("export", parents=viewer,
                       help="write heatmap, series, signals or levels as csv, json or parquet")
    p.add_argument("symbol")
    p.add_argument("--what", default="heatmap", help="heatmap (default), series, signals or levels")
    p.add_argument("--format", default="csv", help="csv (default), json or parquet")
    p.add_argument("--out", default=None, help="output file (default stdout; parquet needs a file)")
    p.add_argument("--metric", default=None, help="heatmap metric (default gex)")
    p.add_argument("--mode", default=None, help="heatmap mode raw (default) or delta")
    p.add_argument("--minutes", type=int, default=None, help="lookback in minutes (default the whole session)")
    p.add_argument("--no-cache", action="store_true", help=NO_CACHE_HELP)

    for name, options in QUERY_OPTIONS.items():
        p = sub.add_parser(name, parents=viewer, help=f"print one {name} response as JSON")
        if name != "leaderboard":
            p.add_argument("symbol")
        p.add_argument("--json", action="store_true", help="(default) print JSON")
        p.add_argument("--no-cache", action="store_true", help=NO_CACHE_HELP)
        g = p.add_argument_group(f"{name} options")
        for option in options:
            g.add_argument("--" + option.replace("_", "-"), default=None, **_QUERY_ARGS[option])
        p.set_defaults(query_options=options)
    return parser


def _normalize_argv(argv: Sequence[str]) -> list[str]:
    """`zdte SPY ...` -> `zdte monitor SPY ...` (global options may precede the symbol)."""
    args = list(argv)
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--config":
            i += 2
            continue
        if a.startswith("-"):
            return args
        if a in SUBCOMMANDS or a == "monitor":
            return args
        return args[:i] + ["monitor"] + args[i:]
    return args


BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def pin_blas_threads() -> None:
    """One BLAS thread unless the user set otherwise: the engine's arrays are small (a chain is ~10^3
    contracts), where a thread pool costs more than it saves and competes with the UI and feed threads.
    Effective only before numpy is first imported, which is why :func:`main` calls it first."""
    for var in BLAS_THREAD_VARS:
        os.environ.setdefault(var, "1")


TUI_COMMANDS = ("monitor", "watch")


def pause_gc_for_startup() -> None:
    """Pause the cyclic garbage collector while a TUI command starts: the start-up creates ~10^5
    long-lived objects (modules, classes, the settings, the first symbol's history) and the collector
    would scan them over and over as they accumulate (~0.1 s of a ~1.5 s launch). The command turns it
    back on before the app runs (:func:`zdte_tui.commands.resume_gc`), with those objects frozen out of
    later collections."""
    gc.disable()


def main(argv: Sequence[str] | None = None) -> int:
    pin_blas_threads()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(_normalize_argv(argv))
    if args.version:
        from zdte_tui import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    paused = args.command in TUI_COMMANDS and gc.isenabled()
    if paused:
        pause_gc_for_startup()
    from zdte_tui import commands

    try:
        return commands.dispatch(args)
    except KeyboardInterrupt:
        return 130
    except commands.UserError as exc:
        print(f"zdte: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, a path that cannot be written: the environment, not a bug
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"zdte: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    finally:
        if paused:
            gc.enable()  # if the command stopped before it turned the collector back on


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
