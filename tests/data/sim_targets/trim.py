"""Rebuild the files in this folder from a checkout of github.com/Alexduanran/spx-0dte-archive.

    python tests/data/sim_targets/trim.py /path/to/spx-0dte-archive

Keeps only the columns the realism targets use (see README.md); drops the gamma-exposure
columns (derived, not observed) and everything the targets do not read.
"""

from __future__ import annotations

import csv
import gzip
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(src: Path) -> None:
    # 1. daily OHLC of every archived session (index.csv: open/high/low/close of the regular session)
    with open(src / "index.csv") as f, open(HERE / "spx_daily_ohlc.csv", "w", newline="") as out:
        w = csv.writer(out)
        w.writerow(["date", "bars", "resolution", "open", "high", "low", "close"])
        for row in csv.DictReader(f):
            w.writerow([row["date"], row["bars"], row["resolution"], row["open"], row["high"], row["low"],
                        row["close"]])
    # 2. 1-minute closes of the sessions archived at 1-minute resolution
    with gzip.open(HERE / "spx_1m_close.csv.gz", "wt", newline="") as out:
        w = csv.writer(out)
        w.writerow(["date", "time", "high", "low", "close"])
        for p in sorted((src / "spx-1m").glob("*.csv")):
            for row in csv.DictReader(open(p)):
                w.writerow([p.stem, row["time"], row["high"], row["low"], row["close"]])
    # 3. 15-minute 0DTE SPXW snapshots (strikes within +-2 % of spot): spot, OI and cumulative volume
    with gzip.open(HERE / "spxw_0dte_snapshots.csv.gz", "wt", newline="") as out:
        w = csv.writer(out)
        w.writerow(["date", "time", "spot", "strike", "call_oi", "put_oi", "call_volume", "put_volume"])
        for p in sorted((src / "gex" / "profile").glob("*.csv")):
            day, hhmm = p.stem.split("_")
            lines = open(p).read().splitlines()
            spot = lines[0].split("spot=")[1].split()[0]
            for row in csv.DictReader(lines[1:]):
                w.writerow([day, f"{hhmm[:2]}:{hhmm[2:]}", spot, row["strike"], row["coi"], row["poi"],
                            row["cvol"], row["pvol"]])
    # 4. the whole listed 0DTE chain's open interest on 2026-08-13 (strikes 7000-8100)
    lines = [ln for ln in open(src / "gex" / "2026-08-13.csv").read().splitlines() if not ln.startswith("#")]
    with open(HERE / "spxw_0dte_oi_2026-08-13.csv", "w", newline="") as out:
        w = csv.writer(out)
        w.writerow(["strike", "call_oi", "put_oi"])
        for row in csv.DictReader(lines):
            w.writerow([row["strike"], row["coi"] or 0, row["poi"] or 0])


if __name__ == "__main__":
    main(Path(sys.argv[1]))
