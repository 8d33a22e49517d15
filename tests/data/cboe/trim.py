"""Trim a real Cboe quotedata.csv: preamble verbatim, first N expiries, strikes within P% of Last."""
import csv
import re
import sys

src, dst, n_exp, pct = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
raw = open(src, newline="", encoding="utf-8-sig").read()
lines = raw.split("\n")
h = next(i for i, line in enumerate(lines) if line.startswith("Expiration Date,"))
spot = float(re.search(r"Last:\s*([0-9.]+)", "\n".join(lines[:h])).group(1))
out = lines[: h + 1]
exps = []
for ln in lines[h + 1:]:
    if not ln.strip():
        continue
    row = next(csv.reader([ln]))
    e = row[0]
    if e not in exps:
        exps.append(e)
    if len(exps) > n_exp and e not in exps[:n_exp]:
        continue
    try:
        k = float(row[11])
    except (ValueError, IndexError):
        continue
    if abs(k / spot - 1) * 100 <= pct:
        out.append(ln)
open(dst, "w", newline="").write("\n".join(out) + "\n")
print(dst, len(out) - h - 1, "rows", exps[:n_exp])
