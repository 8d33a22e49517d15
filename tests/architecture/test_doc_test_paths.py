"""Every test file the docs and the README cite as proof exists (tests move; the citations must follow)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_test_file_cited_in_the_docs_exists():
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    cited = {(doc.name, path) for doc in docs
             for path in re.findall(r"tests/[\w/.-]+?\.py", doc.read_text(encoding="utf-8"))}
    assert cited, "no doc cites a test file"
    missing = sorted((doc, path) for doc, path in cited if not (ROOT / path).is_file())
    assert not missing, missing
