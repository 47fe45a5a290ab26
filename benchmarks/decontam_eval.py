"""Accuracy of benchmark decontamination: recall on injected items, false drops on clean text.

Held-out data (the tests use Wikipedia articles 0-29 and Brown texts 0-59; nothing here was
tuned on these rows):

* benchmark: paragraphs of 40-150 words from Wikipedia articles 30-107, each split into a
  "question" (first sentence) and an "answer" (the rest); every third answer ends with a 12-word
  copyright line, as benchmark items scraped from one site share boilerplate;
* documents: Brown texts 60-499 cut into ~3 KB pieces at paragraph ends. With a fixed seed, each
  piece becomes one kind: *contaminated* (a whole item in one of five formattings, the answer
  alone, the question alone, a 20-word or a 13-word run of an item, an item glued mid-sentence)
  or *clean* (untouched, a 12-word run of an item, the copyright line, common phrases). Runs
  and lone answers come from the item's own text (not its boilerplate); a question or answer
  under 13 words alone cannot be found by 13-grams and such a draw becomes a clean document.

Scored: our stage (Spark ``local[2]``, defaults: 13-grams, drop on one shared n-gram) and, on the
same rows, datatrove 0.10's ``NGramsDecontFilter`` in its own venv, at its defaults (12-grams of
the answer plus those straddling question and answer) and with 13-grams and the question's
n-grams too (its English word tokenizer is spaCy's rule-based one; its constructor's lighteval
check is bypassed: we give it items directly, not lighteval tasks; xxhash 4 refuses the str that
datatrove 0.10.1 hashes, so the peer venv pins xxhash 3.5.0). ``remove_spans`` is scored on the contaminated documents: the share whose rewritten text
has all the host's words and nothing else (the shared boilerplate aside), and how many still
hold a benchmark n-gram.

    python benchmarks/decontam_eval.py [--peer-python /path/to/venv/bin/python]

Writes benchmarks/results/decontam_eval.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = ROOT.parent / "shared" / "data"
DEFAULT_PEER = ROOT / ".venv-peers" / "bin" / "python"
RESULTS = ROOT / "benchmarks" / "results"
SEED = 20261207
BOILERPLATE = "No part of this publication may be reproduced in any form without"
COMMON_PHRASES = (
    "As a matter of fact, on the other hand, at the end of the day",
    "In the United States and in the rest of the world",
    "For the first time in the history of the country",
    "It is one of the most important parts of the",
)
CONTAMINATED = (
    "whole_plain",
    "whole_upper",
    "whole_wrapped",
    "whole_curly_nbsp",
    "whole_fullwidth",
    "answer_only",
    "question_only",
    "run20",
    "run13",
    "glued_mid_sentence",
)
CLEAN = ("clean", "run12", "boilerplate", "common_phrases")


def load_items(data: Path, first_article: int = 30) -> list[dict]:
    """Benchmark items (qid, question, answer) from Wikipedia paragraphs of 40-150 words."""
    items = []
    with open(data / "text" / "wikipedia_sample.jsonl", encoding="utf-8") as fh:
        for k, line in enumerate(fh):
            if k < first_article:
                continue
            row = json.loads(line)
            paras = [p for p in row["text"].split("\n\n") if 40 <= len(p.split()) <= 150]
            for i, para in enumerate(paras):
                m = re.search(r"(?<=[.!?])\s+", para)
                if not m:
                    continue
                q, a = para[: m.start()], para[m.end() :]
                if len(items) % 3 == 0:
                    a = a + " " + BOILERPLATE + "."
                items.append({"qid": f"{row['id']}-{i}", "question": q, "answer": a})
    return items


def host_docs(data: Path, first_text: int = 60, target: int = 3000) -> list[str]:
    """~3 KB pieces of Brown texts, cut at paragraph ends."""
    pieces = []
    with open(data / "text" / "brown.jsonl", encoding="utf-8") as fh:
        for k, line in enumerate(fh):
            if k < first_text:
                continue
            cur = ""
            for para in json.loads(line)["text"].split("\n\n"):
                cur = f"{cur}\n\n{para}" if cur else para
                if len(cur) >= target:
                    pieces.append(cur)
                    cur = ""
    return pieces


def _words_of(text: str) -> list[str]:
    import pyarrow as pa

    from curation.text.ngrams_hash import normalize_words

    return normalize_words(pa.array([text]))[0].as_py().split()


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _at_paragraph(host: str, insert: str, rng: random.Random) -> str:
    cuts = [m.end() for m in re.finditer(r"\n\n", host)]
    at = rng.choice(cuts) if cuts else len(host)
    return host[:at] + insert + "\n\n" + host[at:]


def make_docs(items: list[dict], hosts: list[str], seed: int = SEED) -> list[dict]:
    """Each host piece becomes one document of one kind; the truth rides along."""
    rng = random.Random(seed)
    kinds = CONTAMINATED + CLEAN
    # about half the documents contaminated, the other half clean (three in four untouched)
    weights = [1.0] * len(CONTAMINATED) + [15.0, 3.0, 3.0, 3.0]
    docs = []
    for i, host in enumerate(hosts):
        kind = rng.choices(kinds, weights)[0]
        item = rng.choice(items)
        whole = item["question"] + " " + item["answer"]
        # the item's own text: runs and answers are drawn without the shared boilerplate
        answer = item["answer"].removesuffix(" " + BOILERPLATE + ".")
        words = _words_of(item["question"] + " " + answer)
        text = host
        if kind == "whole_plain":
            text = _at_paragraph(host, whole, rng)
        elif kind == "whole_upper":
            text = _at_paragraph(host, whole.upper(), rng)
        elif kind == "whole_wrapped":
            w = whole.split()
            text = _at_paragraph(
                host, "\n".join(" ".join(w[j : j + 8]) for j in range(0, len(w), 8)), rng
            )
        elif kind == "whole_curly_nbsp":
            text = _at_paragraph(host, whole.replace("'", "\u2019").replace(" ", "\u00a0"), rng)
        elif kind == "whole_fullwidth":
            text = _at_paragraph(host, _fullwidth(whole), rng)
        elif kind == "answer_only":
            if len(_words_of(answer)) < 13:
                kind = "clean"  # an answer under 13 words cannot be found alone: not a case
            else:
                text = _at_paragraph(host, answer, rng)
        elif kind == "question_only":
            if len(_words_of(item["question"])) < 13:
                kind = "clean"  # a question under 13 words cannot be found alone: not a case
            else:
                text = _at_paragraph(host, item["question"], rng)
        elif kind in ("run20", "run13", "run12"):
            size = int(kind[3:])
            start = rng.randrange(0, max(1, len(words) - size))
            text = _at_paragraph(
                host, " ".join(words[start : start + size]).capitalize() + ".", rng
            )
        elif kind == "glued_mid_sentence":
            at = rng.randrange(len(host) // 3, 2 * len(host) // 3)
            at = host.rfind(" ", 0, at)
            text = host[:at] + " " + whole + " " + host[at + 1 :]
        elif kind == "boilerplate":
            text = _at_paragraph(host, BOILERPLATE + ".", rng)
        elif kind == "common_phrases":
            text = _at_paragraph(host, ". ".join(rng.sample(COMMON_PHRASES, 3)) + ".", rng)
        contaminated = kind in CONTAMINATED
        docs.append(
            {
                "id": f"doc-{i:05d}",
                "text": text,
                "host": host,
                "kind": kind,
                "contaminated": contaminated,
                "source": f"bench:{item['qid']}" if contaminated else None,
            }
        )
    return docs


# -- ours ---------------------------------------------------------------------------------------


def run_ours(spark, bench_path: str, docs: list[dict], action: str) -> dict[str, dict]:
    from curation import columns as C
    from curation.stages.decontaminate import Decontaminate, DecontaminateConfig
    from curation.stages.rowwise import apply_row_stages

    cfg = DecontaminateConfig(
        benchmarks=[
            {
                "name": "bench",
                "path": bench_path,
                "fields": ["question", "answer"],
                "id_field": "qid",
            }
        ],
        action=action,
    )
    stage = Decontaminate(cfg)
    t0 = time.perf_counter()
    stage.prepare(spark)
    prepare_s = time.perf_counter() - t0
    df = spark.createDataFrame([(d["id"], d["text"]) for d in docs], "id string, text string")
    t0 = time.perf_counter()
    rows = df.transform(apply_row_stages, [stage]).collect()
    out = {
        r[C.ID]: {
            "dropped": r[C.DROP_REASON] is not None,
            "by": r["contaminated_by"],
            "text": r[C.TEXT],
        }
        for r in rows
    }
    out["_meta"] = {
        "prepare_seconds": round(prepare_s, 2),
        "score_seconds": round(time.perf_counter() - t0, 2),
        "details": stage.run_details(),
    }
    return out


# -- the peer -----------------------------------------------------------------------------------

PEER_SCRIPT = r"""
import json, os, sys, tempfile, time
from importlib.metadata import version
import numpy as np
from datatrove.data import Document
from datatrove.pipeline.decont import NGramsDecontConfig, NGramsDecontFilter, NGramsDecontIndexer

src, dst = sys.argv[1], sys.argv[2]
job = json.load(open(src, encoding="utf-8"))
out = {"versions": {k: version(k) for k in ("datatrove", "spacy", "xxhash")}, "runs": {}}
for name, kw in job["configs"].items():
    config = NGramsDecontConfig(**kw)
    folder = tempfile.mkdtemp()
    filt = NGramsDecontFilter(index_folder=folder, config=config)
    # the indexer's constructor insists on lighteval (for its task registry), which we do not
    # use: build it without its constructor, with the filter's tokenizer and hash, and call
    # datatrove's own compute_hashes
    indexer = object.__new__(NGramsDecontIndexer)
    indexer.config, indexer.tokenizer, indexer.hash_func = config, filt.tokenizer, filt.hash_func
    t0 = time.process_time()
    hashes = set()
    for item in job["items"]:
        hashes.update(indexer.compute_hashes(item["answer"], item["question"]))
    np.array(sorted(hashes), dtype="<u8").tofile(os.path.join(folder, "bench.index.hashes"))
    index_s = time.process_time() - t0
    t0 = time.process_time()
    dropped = {}
    for d in job["docs"]:
        doc = Document(text=d["text"], id=d["id"])
        kept = filt.filter(doc)
        dropped[d["id"]] = kept is not True
    out["runs"][name] = {"dropped": dropped, "index_cpu_seconds": index_s,
                         "filter_cpu_seconds": time.process_time() - t0, "index_ngrams": len(hashes)}
json.dump(out, open(dst, "w", encoding="utf-8"))
"""
PEER_CONFIGS = {
    "datatrove defaults (12-grams of answer + straddling)": {},
    "datatrove 13-grams, question n-grams too": {"n_grams": 13, "find_query_ngrams": True},
}


def run_peer(peer_python: Path, items: list[dict], docs: list[dict]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "job.json", Path(tmp) / "out.json"
        job = {
            "configs": PEER_CONFIGS,
            "items": items,
            "docs": [{"id": d["id"], "text": d["text"]} for d in docs],
        }
        src.write_text(json.dumps(job), encoding="utf-8")
        subprocess.run([str(peer_python), "-c", PEER_SCRIPT, str(src), str(dst)], check=True)
        return json.loads(dst.read_text(encoding="utf-8"))


# -- scoring ------------------------------------------------------------------------------------


def score(docs: list[dict], dropped: dict[str, bool], by: dict[str, str | None] | None) -> dict:
    per_kind: dict[str, Counter] = {}
    for d in docs:
        c = per_kind.setdefault(d["kind"], Counter())
        c["docs"] += 1
        c["dropped"] += int(dropped[d["id"]])
        if by is not None and d["contaminated"] and dropped[d["id"]]:
            c["named_right"] += int(by.get(d["id"]) == d["source"])
    cont = [d for d in docs if d["contaminated"]]
    clean = [d for d in docs if not d["contaminated"]]
    found = sum(dropped[d["id"]] for d in cont)
    false = sum(dropped[d["id"]] for d in clean)
    out = {
        "recall": round(found / len(cont), 4),
        "false_drop_rate": round(false / len(clean), 4),
        "contaminated_docs": len(cont),
        "clean_docs": len(clean),
        "found": int(found),
        "false_drops": int(false),
        "per_kind": {k: dict(v) for k, v in sorted(per_kind.items())},
    }
    if by is not None:
        out["named_right_share_of_found"] = round(
            sum(v["named_right"] for v in per_kind.values()) / max(found, 1), 4
        )
    return out


def _only_host_left(words: list[str], host: list[str]) -> bool:
    """All host words, in order, and nothing else but boilerplate words: the boilerplate is
    template, not item text, so the cut may leave (part of) it."""
    boiler = set(_words_of(BOILERPLATE))
    i = 0
    for w in words:
        if i < len(host) and w == host[i]:
            i += 1
        elif w not in boiler:
            return False
    return i == len(host)


def score_cuts(docs: list[dict], cut: dict[str, dict], items: list[dict]) -> dict:
    """remove_spans: are the host's words all kept, and is any benchmark n-gram left?"""
    import pyarrow as pa

    from curation.stages.decontaminate import DecontaminateConfig
    from curation.text.ngrams_hash import build_index, match_documents

    defaults = DecontaminateConfig(benchmarks=[{"name": "b", "path": "-", "fields": ["q"]}])
    index, _ = build_index(
        pa.array([i["question"] + "\n" + i["answer"] for i in items]),
        defaults.ngram,
        defaults.min_item_words,
        defaults.template_min_items,
    )
    cont = [d for d in docs if d["contaminated"]]
    texts = [cut[d["id"]]["text"] or "" for d in cont]
    left = match_documents(index, pa.array(texts), defaults.ngram).matched
    ok = [
        _only_host_left(_words_of(t), _words_of(d["host"]))
        for t, d in zip(texts, cont, strict=True)
    ]
    kept = sum(ok)
    not_kept = Counter(d["kind"] for d, good in zip(cont, ok, strict=True) if not good)
    clean = [d for d in docs if not d["contaminated"]]
    return {
        "contaminated_docs": len(cont),
        "host_words_all_kept_nothing_else_left": round(kept / len(cont), 4),
        "not_so_by_kind": dict(sorted(not_kept.items())),
        "docs_with_a_benchmark_ngram_left": int((left > 0).sum()),
        "dropped_as_mostly_benchmark": int(sum(cut[d["id"]]["dropped"] for d in cont)),
        "clean_docs_rewritten": int(sum(cut[d["id"]]["text"] != d["text"] for d in clean)),
    }


def to_markdown(res: dict) -> str:
    lines = [
        "# Benchmark decontamination: recall and false drops",
        "",
        f"Run {res['when']}, load average before/after {res['load_before']} / {res['load_after']}"
        f" ({res['machine']}). Command: `{res['command']}`.",
        "",
        f"Benchmark: {res['items']} items (Wikipedia paragraphs, question = first sentence); "
        f"documents: {res['docs']} pieces of Brown texts (~3 KB), {res['ours']['contaminated_docs']}"
        f" contaminated, {res['ours']['clean_docs']} clean. Held out from the tests.",
        "",
        "| scorer | recall (contaminated dropped) | false drops (clean dropped) | named the injected item |",
        "|---|---:|---:|---:|",
    ]
    o = res["ours"]
    lines.append(
        f"| ours (13-grams, defaults) | {o['recall']:.2%} ({o['found']}/{o['contaminated_docs']}) | "
        f"{o['false_drop_rate']:.2%} ({o['false_drops']}/{o['clean_docs']}) | "
        f"{o['named_right_share_of_found']:.2%} |"
    )
    for name, p in res.get("peer", {}).get("runs", {}).items():
        lines.append(
            f"| {name} | {p['recall']:.2%} ({p['found']}/{p['contaminated_docs']}) | "
            f"{p['false_drop_rate']:.2%} ({p['false_drops']}/{p['clean_docs']}) | n/a |"
        )
    kinds = list(o["per_kind"])
    peers = list(res.get("peer", {}).get("runs", {}).items())
    lines += ["", "Dropped per kind (dropped / documents):", ""]
    lines.append("| kind | contaminated? | ours | " + " | ".join(n for n, _ in peers) + " |")
    lines.append("|---|---|---:|" + "---:|" * len(peers))
    for k in kinds:
        c = o["per_kind"][k]
        row = f"| {k} | {'yes' if k in CONTAMINATED else 'no'} | {c['dropped']}/{c['docs']} |"
        for _, p in peers:
            pc = p["per_kind"][k]
            row += f" {pc['dropped']}/{pc['docs']} |"
        lines.append(row)
    cut = res["remove_spans"]
    lines += [
        "",
        f"`action: remove_spans` on the {cut['contaminated_docs']} contaminated documents: "
        f"the host's words all kept and nothing else left (boilerplate aside) in "
        f"{cut['host_words_all_kept_nothing_else_left']:.2%} (the others, by kind: "
        f"{cut['not_so_by_kind']}); "
        f"{cut['docs_with_a_benchmark_ngram_left']} with a benchmark n-gram left; "
        f"{cut['dropped_as_mostly_benchmark']} dropped as mostly benchmark; "
        f"{cut['clean_docs_rewritten']} clean documents rewritten.",
        "",
        f"Index: {json.dumps(res['ours_details'])}",
    ]
    if "peer" in res:
        lines += ["", f"Peer versions: {json.dumps(res['peer']['versions'])}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--peer-python", type=Path, default=DEFAULT_PEER)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS / "decontam_eval.json")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        raise SystemExit(f"data folder {args.data} not found (needs ../shared/data)")
    from conformance_datatrove import spark_session

    load_before = [round(x, 2) for x in os.getloadavg()]
    items = load_items(args.data)
    docs = make_docs(items, host_docs(args.data))
    spark = spark_session("local[2]")
    with tempfile.TemporaryDirectory() as tmp:
        bench = Path(tmp) / "bench.jsonl"
        bench.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
        ours = run_ours(spark, str(bench), docs, "drop")
        cut = run_ours(spark, str(bench), docs, "remove_spans")
    meta = ours.pop("_meta")
    cut.pop("_meta")
    res = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": "python benchmarks/decontam_eval.py" + (" --no-peer" if args.no_peer else ""),
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "items": len(items),
        "docs": len(docs),
        "seed": SEED,
        "ours": score(
            docs, {k: v["dropped"] for k, v in ours.items()}, {k: v["by"] for k, v in ours.items()}
        ),
        "ours_details": {**meta["details"], "prepare_seconds": meta["prepare_seconds"]},
        "remove_spans": score_cuts(docs, cut, items),
    }
    if not args.no_peer:
        if not args.peer_python.exists():
            raise SystemExit(
                f"peer python {args.peer_python} not found: python -m venv VENV && "
                "VENV/bin/pip install datatrove==0.10.1 spacy xxhash==3.5.0; pass --peer-python "
                "VENV/bin/python (or --no-peer)"
            )
        peer = run_peer(args.peer_python, items, docs)
        res["peer"] = {
            "versions": peer["versions"],
            "runs": {
                name: {
                    **score(docs, run["dropped"], None),
                    "index_ngrams": run["index_ngrams"],
                    "filter_cpu_seconds": round(run["filter_cpu_seconds"], 2),
                }
                for name, run in peer["runs"].items()
            },
        }
    res["load_after"] = [round(x, 2) for x in os.getloadavg()]
    res["load_before"] = load_before
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(to_markdown(res), encoding="utf-8")
    print(to_markdown(res))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())
