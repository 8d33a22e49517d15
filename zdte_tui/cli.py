"""`zdte` entry point.

``zdte SPY`` (no subcommand) opens the monitor on one symbol; everything else is a
subcommand. Heavy modules are imported lazily so ``zdte --help`` stays instant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

SUBCOMMANDS = (
    "watch", "replay", "serve", "record", "simulate", "import-dbn", "import-cboe", "calibrate",
    "snapshot", "series", "hedge-flow", "heatmap", "strike-flow", "leaderboard", "signals",
)
QUERY_COMMANDS = ("snapshot", "series", "hedge-flow", "heatmap", "strike-flow", "leaderboard", "signals")


def _add_source_args(p: argparse.ArgumentParser, *, default_source: str = "sim", client: bool = True) -> None:
    g = p.add_argument_group("data source")
    g.add_argument("--source", default=default_source,
                   help="sim (default, SIMULATED), replay:PATH, cboe:PATH, or a live source "
                        "(massive, thetadata, tradier) configured in config.toml")
    g.add_argument("--date", help="session date YYYY-MM-DD (sim: default today if a trading day, else the last one)")
    g.add_argument("--at", help="start the session clock at HH:MM ET with earlier history ingested")
    g.add_argument("--speed", type=float, default=None, help="session seconds per wall second (default 1)")
    g.add_argument("--seed", type=int, default=None, help="simulator seed")
    g.add_argument("--scenario", default=None, help="simulator scenario: auto, pin, squeeze, flip, trend, quiet")
    if client:
        g.add_argument("--server", default=None, help="use a `zdte serve` at this URL instead of the embedded engine")
        g.add_argument("--api-key", default=None, help="API key for --server")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zdte",
        description="Terminal monitor for 0DTE options flow. `zdte SPY` opens the monitor on SPY.",
        epilog="subcommands: " + ", ".join(SUBCOMMANDS),
    )
    parser.add_argument("--config", default=None, help="config file (default $ZDTE_CONFIG or XDG config dir)")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("monitor", help="open the monitor on one symbol (same as `zdte SYMBOL`)")
    p.add_argument("symbol")
    _add_source_args(p)
    p.add_argument("--watch", nargs="*", default=None, help="extra symbols for the leaderboard")
    p.add_argument("--expiry", default=None, help="with --source cboe:FILE: expiry YYYY-MM-DD to value "
                                                 "(default: the next session's 0DTE)")

    p = sub.add_parser("watch", help="watch several symbols: a grid of cards")
    p.add_argument("symbols", nargs="+")
    _add_source_args(p)

    p = sub.add_parser("replay", help="play a recorded session")
    p.add_argument("path")
    p.add_argument("--at", help="seek to HH:MM ET before playing")
    p.add_argument("--speed", type=float, default=None, help="session seconds per wall second (default 1)")
    p.add_argument("--symbol", default=None, help="symbol to open (default: the first in the recording)")
    p.add_argument("--headless", action="store_true", help="no TUI: play to the end as fast as possible")
    p.add_argument("--json", action="store_true", help="with --headless: print the final snapshot as JSON")

    p = sub.add_parser("serve", help="serve the engine as a local HTTP API (FlashAlpha-compatible)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8787)
    p.add_argument("--symbols", default=None, help="comma-separated symbols (default from config)")
    p.add_argument("--api-key", action="append", default=[], dest="api_keys", metavar="KEY[:PLAN]",
                   help="accepted API key with its plan (free, basic, growth, alpha); repeatable")
    _add_source_args(p, client=False)

    p = sub.add_parser("record", help="record a source's events to a Parquet session file")
    p.add_argument("symbols", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--duration", type=float, default=None, help="stop after this many wall seconds")
    p.add_argument("--force", action="store_true", help="replace --out if it exists (never while a recorder holds it)")
    _add_source_args(p, client=False)

    p = sub.add_parser("simulate", help="write a whole simulated session as fast as possible")
    p.add_argument("--date", default=None)
    p.add_argument("--symbols", default="SPY")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--scenario", default=None)

    p = sub.add_parser("import-dbn", help="convert Databento DBN (OPRA) files into a recording")
    p.add_argument("files", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--underlying", default=None, help="underlying symbol if it cannot be inferred")

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

    for name in QUERY_COMMANDS:
        p = sub.add_parser(name, help=f"print one {name} response as JSON")
        if name != "leaderboard":
            p.add_argument("symbol")
        p.add_argument("--json", action="store_true", help="(default) print JSON")
        p.add_argument("--expiry", default=None)
        p.add_argument("--bar", default=None)
        p.add_argument("--minutes", type=int, default=None)
        p.add_argument("--metric", default=None)
        p.add_argument("--mode", default=None)
        p.add_argument("--side", default=None)
        p.add_argument("--n", type=int, default=None)
        p.add_argument("--min-score", type=float, default=None)
        p.add_argument("--intent", default=None)
        p.add_argument("--structure", default=None)
        p.add_argument("--window-minutes", type=int, default=None)
        p.add_argument("--limit", type=int, default=None)
        _add_source_args(p)
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


def main(argv: Sequence[str] | None = None) -> int:
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
    from zdte_tui import commands

    try:
        return commands.dispatch(args)
    except KeyboardInterrupt:
        return 130
    except commands.UserError as exc:
        print(f"zdte: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
