"""What a change of the PII kernel finds or stops finding on unlabelled text: the false-positive
check run before a change is scored on a held-out split.

The kernel of a git revision (``--rev``) and the working tree's kernel each run over every
document of the shared text sets (all SpamAssassin mails, Wikipedia, Brown, Dolma CC, and the
tweets and statements of the toxicity sets); the spans one finds and the other does not are
printed with a little context, to be read. Only counts and offsets are written to
``results/pii_diff.json`` (no text of ../shared/data).

    .venv/bin/python benchmarks/pii_diff.py --rev f6c6c36
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
SOURCES = (
    "text/spamassassin.jsonl",
    "text/wikipedia_sample.jsonl",
    "text/brown.jsonl",
    "web/dolma_cc_samples.jsonl",
    "toxicity/davidson.jsonl",
    "toxicity/ethos.jsonl",
    "toxicity/toxigen_statements.jsonl",
)

# run in a fresh interpreter whose sys.path starts at the kernel's checkout
FIND = r"""
import json, sys
from curation.text.pii import find_pii
out = {}
for path in sys.argv[2:]:
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            d = json.loads(line)
            key = path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1] + ":" + str(d.get("id", n))
            out[key] = [[s.kind, s.start, s.end] for s in find_pii(d["text"])]
json.dump(out, open(sys.argv[1], "w"))
"""


def spans_of(checkout: Path, paths: list[Path]) -> dict[str, set[tuple]]:
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / "spans.json"
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        cmd = [sys.executable, "-c", FIND, str(dst), *map(str, paths)]
        subprocess.run(cmd, check=True, env=env, cwd=checkout)
        found = json.loads(dst.read_text(encoding="utf-8"))
    return {k: {tuple(s) for s in v} for k, v in found.items()}


def texts(paths: list[Path]) -> dict[str, str]:
    out = {}
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh):
                d = json.loads(line)
                out[f"{path.parent.name}/{path.name}:{d.get('id', n)}"] = d["text"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rev", required=True, help="git revision of the kernel to compare with")
    args = ap.parse_args(argv)
    paths = [DATA / s for s in SOURCES]
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", args.rev, "curation"], check=True, capture_output=True
    ).stdout
    with tempfile.TemporaryDirectory() as old_root:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(old_root, filter="data")
        before = spans_of(Path(old_root), paths)
    after = spans_of(ROOT, paths)
    docs = texts(paths)
    changes = {"new": [], "gone": []}
    for key in docs:
        for label, a, b in (("new", after, before), ("gone", before, after)):
            for kind, s, e in sorted(a[key] - b[key], key=lambda x: x[1]):
                changes[label].append({"doc": key, "kind": kind, "start": s, "end": e})
    for label, rows in changes.items():
        print(f"## spans {label} with the working tree's kernel: {len(rows)}")
        for r in rows:
            t = docs[r["doc"]]
            ctx = t[max(0, r["start"] - 40) : r["start"]] + "[[" + t[r["start"] : r["end"]] + "]]"
            ctx += t[r["end"] : r["end"] + 20]
            print(f"{r['doc']}\t{r['kind']}\t{r['start']}\t{ctx!r}")
    result = {
        "rev": args.rev,
        "documents": len(docs),
        "spans_before": dict(Counter(k for v in before.values() for k, _, _ in v)),
        "spans_after": dict(Counter(k for v in after.values() for k, _, _ in v)),
        **changes,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pii_diff.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
