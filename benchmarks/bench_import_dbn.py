"""`zdte import-dbn` at a real day's size: rows/s and peak RSS.

    python benchmarks/bench_import_dbn.py [--contracts 800] [--trades 1500000] [--seconds 23400]
                                          [--scale 1.0] [--plain] [--baseline /path/to/other/checkout]

Generates one SPY session (2025-02-20, 09:30-16:00 ET) as Databento OPRA files with the vendor's
own encoder (``databento_dbn``): a definition file and a statistics file (``InstrumentDefMsg`` /
``StatMsg`` objects), a trades file with ``--trades`` prints and a 1 s consolidated BBO
(``cbbo-1s``) with one record per contract per second (``--contracts`` x ``--seconds``; 800 x
23,400 = 18.7 M records, about 1.5 GB uncompressed). The bulk records are laid out by encoding one
record with ``databento_dbn`` and repeating its bytes in the record class's numpy layout
(``CBBOMsg._dtypes``), chunk by chunk, so the generator itself stays small; files are zstd-compressed
as Databento delivers them unless ``--plain``. ``--scale`` multiplies the trades and seconds.

Then it runs the importer in a child process (so the generator's memory is not counted) and reports
records read per CPU second (user + sys of the child; the machine is shared, so CPU time rather
than wall time), the child's peak RSS while streaming (before the recording is finalized) and its
peak RSS overall (the store's Parquet finalize, which streams the journal by (sym, kind), is included).
``--baseline DIR`` runs the same import with ``PYTHONPATH=DIR`` too (e.g. a checkout of another
commit), in the same run, for a before/after comparison.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

SESSION = dt.date(2025, 2, 20)
S = 1_000_000_000

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import zdte_tui.store.writer as w
from zdte_tui.sources.dbn_import import import_dbn

def peak_mb():  # VmHWM: this process's own peak (ru_maxrss would carry the parent's over exec)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM"))
before_finalize = {}
close = w.RecordingWriter.close
def timed_close(self, finalize=True):
    before_finalize["rss_mb"] = peak_mb()
    before_finalize["cpu_s"] = time.process_time()
    return close(self, finalize)
w.RecordingWriter.close = timed_close
files, out = json.loads(sys.argv[1]), sys.argv[2]
t0, c0 = time.perf_counter(), time.process_time()
summary = import_dbn(files, out)
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"cpu_s": ru.ru_utime + ru.ru_stime, "wall_s": time.perf_counter() - t0,
                  "stream_cpu_s": before_finalize.get("cpu_s", 0) - c0,
                  "stream_rss_mb": before_finalize.get("rss_mb"), "peak_rss_mb": peak_mb(),
                  "quotes": summary.quotes, "trades": summary.trades, "spot": summary.spot_ticks,
                  "max_rows_resident": getattr(summary, "max_rows_resident", None),
                  "out_mb": Path(out).stat().st_size / 1e6}))
"""


def et_ns(hhmm: str) -> int:
    from zdte_tui.market.calendar import et_clock_to_ns

    return et_clock_to_ns(SESSION, hhmm)


def template(record) -> np.ndarray:
    """One record encoded by databento_dbn, viewed in its class's numpy layout."""
    return np.frombuffer(bytes(record), dtype=np.dtype(type(record)._dtypes)).copy()


class Writer:
    """A DBN file written chunk by chunk (zstd unless plain)."""

    def __init__(self, path: Path, meta, plain: bool) -> None:
        import pyarrow as pa

        self.path = path
        self.out = open(path, "wb") if plain else pa.output_stream(str(path), compression="zstd")
        self.out.write(bytes(meta))
        self.records = 0

    def write(self, arr: np.ndarray) -> None:
        self.out.write(arr.tobytes())
        self.records += len(arr)

    def close(self) -> None:
        self.out.close()


def generate(d: Path, n_contracts: int, n_trades: int, n_seconds: int, plain: bool) -> list[Path]:
    from types import SimpleNamespace

    import databento_dbn as db

    rng = np.random.default_rng(20250220)
    open_ns = et_ns("09:30")
    strikes = 590.0 + 0.5 * (np.arange(n_contracts // 2) - n_contracts // 4)
    iids = np.arange(n_contracts, dtype=np.uint32) + 100_000
    k = np.repeat(strikes, 2)
    call = np.tile([True, False], n_contracts // 2)
    occ = [f"SPY   250220{'C' if c else 'P'}{int(round(x * 1000)):08d}" for x, c in zip(k, call)]
    expiry_ns = int(dt.datetime(2025, 2, 20, tzinfo=dt.UTC).timestamp()) * S

    def meta(schema):
        mappings = [SimpleNamespace(raw_symbol=raw, intervals=[SimpleNamespace(
            start_date=SESSION, end_date=SESSION + dt.timedelta(days=1), symbol=str(i))]) for raw, i in zip(occ, iids)]
        return db.Metadata(dataset="OPRA.PILLAR", start=open_ns - 3600 * S, stype_in=db.SType.RAW_SYMBOL,
                           stype_out=db.SType.INSTRUMENT_ID, schema=schema, symbols=occ, mappings=mappings,
                           end=open_ns + n_seconds * S)

    ext = ".dbn" if plain else ".dbn.zst"
    files = []
    w = Writer(d / f"spy.definition{ext}", meta(db.Schema.DEFINITION), plain)
    for i, x, c, raw in zip(iids.tolist(), k.tolist(), call.tolist(), occ):
        w.write(template(db.InstrumentDefMsg(
            publisher_id=30, instrument_id=i, ts_event=open_ns - 3600 * S, ts_recv=open_ns - 3600 * S,
            min_price_increment=db.UNDEF_PRICE, display_factor=db.UNDEF_PRICE, raw_symbol=raw, asset="SPY",
            security_type="OPT", instrument_class=db.InstrumentClass.CALL if c else db.InstrumentClass.PUT,
            security_update_action=db.SecurityUpdateAction.ADD, strike_price=int(round(x * 1e9)),
            expiration=expiry_ns, underlying="SPY")))
    w.close()
    files.append(w.path)
    w = Writer(d / f"spy.statistics{ext}", meta(db.Schema.STATISTICS), plain)
    for i in iids.tolist():
        w.write(template(db.StatMsg(publisher_id=30, instrument_id=i, ts_event=open_ns - 3 * 3600 * S,
                                    ts_recv=open_ns - 3 * 3600 * S, ts_ref=db.UNDEF_TIMESTAMP, price=db.UNDEF_PRICE,
                                    quantity=int(rng.integers(0, 50_000)), stat_type=db.StatType.OPEN_INTEREST)))
    w.close()
    files.append(w.path)

    # a spot path (1 s), and option mids consistent with put-call parity on it
    spot = 590.0 + np.cumsum(rng.normal(0.0, 0.03, n_seconds))
    close_ns = et_ns("16:00")

    def mids(sec: np.ndarray, j: np.ndarray | None = None) -> np.ndarray:
        """Mids at seconds ``sec``: of every contract (shape (len(sec), n_contracts)), or of
        contract ``j[i]`` at ``sec[i]`` (shape (len(sec),))."""
        s = spot[sec] if j is not None else spot[sec][:, None]
        years = np.maximum(close_ns - (open_ns + (sec + 1) * S), S) / (365 * 86400 * S)
        years = years if j is not None else years[:, None]
        kk, cc = (k[j], call[j]) if j is not None else (k, call)
        tv = 0.4 * s * 0.15 * np.sqrt(years) * np.exp(-((s - kk) / (s * 0.15 * np.sqrt(years) + 0.5)) ** 2)
        c_mid = np.maximum(s - kk, 0.0) + tv
        return np.where(cc, c_mid, c_mid - s + kk * np.exp(-0.04 * years))

    tpl = template(db.CBBOMsg(rtype=db.RType.CBBO_1S, publisher_id=30, instrument_id=0, ts_event=0,
                              price=db.UNDEF_PRICE, size=0, side=db.Side.NONE, ts_recv=0,
                              levels=db.ConsolidatedBidAskPair(bid_px=0, ask_px=0, bid_sz=10, ask_sz=12,
                                                               bid_pb=23, ask_pb=37)))
    w = Writer(d / f"spy.cbbo-1s{ext}", meta(db.Schema.CBBO_1S), plain)
    step = 300
    for a in range(0, n_seconds, step):
        sec = np.arange(a, min(a + step, n_seconds))
        m = np.maximum(mids(sec), 0.05)
        arr = np.repeat(tpl, m.size)
        arr["instrument_id"] = np.tile(iids, len(sec))
        t = open_ns + (np.repeat(sec, n_contracts) + 1) * S
        arr["ts_event"], arr["ts_recv"] = t - 1000, t
        arr["bid_px_00"] = np.round((m.ravel() - 0.02) * 1e9).astype(np.int64)
        arr["ask_px_00"] = np.round((m.ravel() + 0.02) * 1e9).astype(np.int64)
        w.write(arr)
    w.close()
    files.append(w.path)

    tpl = template(db.TradeMsg(publisher_id=23, instrument_id=0, ts_event=0, price=0, size=1,
                               action=db.Action.TRADE, side=db.Side.NONE, depth=0, ts_recv=0, sequence=0))
    ts = np.sort(rng.integers(open_ns + S, open_ns + n_seconds * S, n_trades))
    which = rng.integers(0, n_contracts, n_trades)
    w = Writer(d / f"spy.trades{ext}", meta(db.Schema.TRADES), plain)
    step = 250_000
    for a in range(0, n_trades, step):
        sl = slice(a, min(a + step, n_trades))
        arr = np.repeat(tpl, sl.stop - sl.start)
        sec = np.minimum((ts[sl] - open_ns) // S, n_seconds - 1)
        arr["instrument_id"] = iids[which[sl]]
        arr["ts_event"], arr["ts_recv"] = ts[sl], ts[sl] + 400_000
        arr["price"] = np.round(np.maximum(mids(sec, which[sl]), 0.05) * 1e9).astype(np.int64)
        arr["size"] = rng.integers(1, 50, len(sec))
        arr["publisher_id"] = rng.choice([23, 26, 37, 41], len(sec))
        arr["sequence"] = np.arange(sl.start, sl.stop)
        w.write(arr)
    w.close()
    files.append(w.path)
    return files


def run_import(files: list[Path], out: Path, pythonpath: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    res = subprocess.run([sys.executable, "-c", CHILD, json.dumps([str(f) for f in files]), str(out)],
                         capture_output=True, text=True, env=env, cwd=out.parent)  # cwd: not this checkout
    if res.returncode != 0:
        raise SystemExit(f"import failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def report(tag: str, r: dict, n_records: int) -> None:
    print(f"{tag}: {n_records:,} records in {r['cpu_s']:.1f} CPU s ({n_records / r['cpu_s']:,.0f} records/CPU s; "
          f"wall {r['wall_s']:.1f} s)")
    print(f"  streaming part {r['stream_cpu_s']:.1f} CPU s ({n_records / max(r['stream_cpu_s'], 1e-9):,.0f} "
          f"records/CPU s), peak RSS while streaming {r['stream_rss_mb']:.0f} MB, peak RSS overall "
          f"{r['peak_rss_mb']:.0f} MB (incl. the Parquet finalize)")
    print(f"  wrote {r['quotes']:,} quotes, {r['trades']:,} trades, {r['spot']:,} parity spot ticks; "
          f"{r['out_mb']:.0f} MB; most rows resident at once: {r['max_rows_resident']}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contracts", type=int, default=800)
    ap.add_argument("--trades", type=int, default=1_500_000)
    ap.add_argument("--seconds", type=int, default=23_400)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--plain", action="store_true", help="uncompressed .dbn instead of .dbn.zst")
    ap.add_argument("--baseline", type=Path, help="also import with PYTHONPATH=this checkout")
    args = ap.parse_args()
    n_trades, n_seconds = int(args.trades * args.scale), int(args.seconds * args.scale)
    with tempfile.TemporaryDirectory(prefix="zdte-bench-dbn-") as tmp:
        d = Path(tmp)
        files = generate(d, args.contracts, n_trades, n_seconds, args.plain)
        n_records = 2 * args.contracts + n_trades + args.contracts * n_seconds
        size = sum(f.stat().st_size for f in files) / 1e6
        print(f"generated {n_records:,} records ({args.contracts} contracts, {n_trades:,} trades, "
              f"{args.contracts} x {n_seconds:,} s cbbo-1s) in {len(files)} files, {size:,.0f} MB on disk")
        report("this checkout", run_import(files, d / "out.zdte", ROOT), n_records)
        if args.baseline:
            report(f"baseline {args.baseline}", run_import(files, d / "base.zdte", args.baseline), n_records)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
