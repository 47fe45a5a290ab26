"""Near-dedup accuracy against brute-force ground truth on real text with recorded edits.

Corpus: real text from ../shared/data (Brown, Wikipedia, SpamAssassin) cut into ~3 KB documents
at word boundaries (the base set), plus near-duplicates of a sample of them made by recorded
edits at controlled rates: word insertions / deletions / replacements, paragraph shuffles,
added boilerplate, truncation. Natural duplicates (SpamAssassin has many) stay in.

Ground truth: the word 5-gram shingle sets of all documents (``curation.text.shingles``), the
exact Jaccard of every pair that shares a shingle (sparse X @ X.T: brute force over exactly the
pairs that can be similar), and true clusters = connected components of pairs with J >= t.

Score: a true cluster of k documents calls for k - 1 removals, whichever member survives. For
each true cluster, removed members count as true positives up to k - 1; removals beyond that
and removals of true singletons are false positives; missing removals are false negatives.

Also reported: how many true-duplicate removals verifying only star-shaped candidate pairs
loses against verifying every pair in every LSH bucket (the transitivity question), for one
star and for the stage's two stars, computed offline from the same band hashes.

Run: ``.venv/bin/python benchmarks/dedup_accuracy.py [--base 5000] [--out results.json]``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
from scipy import sparse
from scipy.sparse.csgraph import connected_components

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curation.text import shingles as sh  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "text"
BOILERPLATE = [
    "Copyright 2024 All rights reserved. Terms of use and privacy policy apply to this site. "
    "Subscribe to our newsletter for the latest updates, offers and news from our partners.",
    "This article was originally published on our website. Share it on social media and leave a "
    "comment below. Click here to read more stories like this one from the archive.",
    "Advertisement. Continue reading below. Sign up for free to get unlimited access to all our "
    "content and exclusive member benefits delivered to your inbox every week.",
]


# ---- corpus -----------------------------------------------------------------------------------


def base_documents(n: int, size: int = 3000, seed: int = 0) -> list[tuple[str, str]]:
    """(id, text) pieces of ~``size`` characters cut at whitespace from the real-text files."""
    pieces: list[tuple[str, str]] = []
    for name in ("brown.jsonl", "wikipedia_sample.jsonl", "spamassassin.jsonl"):
        with open(DATA / name, encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                text = row["text"]
                if len(text) < size // 3:
                    continue
                pos, part = 0, 0
                while pos < len(text):
                    end = min(len(text), pos + size)
                    if end < len(text):
                        cut = text.rfind(" ", pos + size // 2, end)
                        end = cut if cut > 0 else end
                    piece = text[pos:end].strip()
                    if len(piece) >= size // 3:
                        pieces.append((f"{row['id']}#{part}", piece))
                    pos, part = end, part + 1
    rng = random.Random(seed)
    rng.shuffle(pieces)
    if len(pieces) < n:
        raise SystemExit(f"only {len(pieces)} base pieces available, asked for {n}")
    return pieces[:n]


def edit(text: str, rng: random.Random, vocab: list[str]) -> tuple[str, list[dict]]:
    """A near-duplicate of ``text`` and the list of edits applied."""
    ops: list[dict] = []
    n_ops = rng.choice([1, 1, 2])
    for kind in rng.sample(["words", "words", "shuffle", "boilerplate", "truncate"], n_ops):
        if kind == "words":
            rate = rng.choice([0.005, 0.01, 0.02, 0.03, 0.04, 0.06, 0.1])
            words = text.split(" ")
            out, counts = [], {"insert": 0, "delete": 0, "replace": 0}
            for w in words:
                r = rng.random()
                if r < rate / 3:
                    counts["delete"] += 1
                    continue
                if r < 2 * rate / 3:
                    out.append(rng.choice(vocab))
                    counts["replace"] += 1
                    continue
                out.append(w)
                if r < rate:
                    out.append(rng.choice(vocab))
                    counts["insert"] += 1
            text = " ".join(out)
            ops.append({"op": "words", "rate": rate, **counts})
        elif kind == "shuffle":
            paras = [p for p in text.split("\n") if p.strip()]
            rng.shuffle(paras)
            text = "\n".join(paras)
            ops.append({"op": "shuffle_paragraphs", "paragraphs": len(paras)})
        elif kind == "boilerplate":
            bp = rng.choice(BOILERPLATE)
            where = rng.choice(["prepend", "append"])
            text = f"{bp}\n{text}" if where == "prepend" else f"{text}\n{bp}"
            ops.append({"op": "boilerplate", "where": where, "words": len(bp.split())})
        else:
            frac = rng.choice([0.6, 0.7, 0.8, 0.9, 0.95])
            text = text[: int(len(text) * frac)]
            ops.append({"op": "truncate", "keep": frac})
    return text, ops


def build_corpus(n_base: int, dup_frac: float = 0.3, seed: int = 0):
    """Documents (id, text) and the recorded edits of every generated near-duplicate."""
    rng = random.Random(seed)
    base = base_documents(n_base, seed=seed)
    vocab = [w for _, t in base[:200] for w in t.split()][:20000]
    docs = list(base)
    edits = {}
    for doc_id, text in rng.sample(base, int(n_base * dup_frac)):
        for v in range(rng.choice([1, 1, 1, 2, 3])):
            new_text, ops = edit(text, rng, vocab)
            new_id = f"{doc_id}~v{v}"
            docs.append((new_id, new_text))
            edits[new_id] = {"source": doc_id, "ops": ops}
    rng.shuffle(docs)
    return docs, edits


# ---- ground truth -----------------------------------------------------------------------------


def shingle_matrix(texts: list[str], n: int = 5) -> sparse.csr_matrix:
    """Binary docs x shingles matrix of the distinct word n-gram shingles of every text."""
    hashes, offsets = sh.shingle_hashes(pa.array(texts, type=pa.large_string()), n, "word")
    uh, uo = sh.unique_per_doc(hashes, offsets)
    _, cols = np.unique(uh, return_inverse=True)
    rows = np.repeat(np.arange(len(texts)), np.diff(uo))
    data = np.ones(len(cols), dtype=np.float32)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(texts), int(cols.max()) + 1))


def pair_jaccard(x: sparse.csr_matrix) -> sparse.coo_matrix:
    """Upper-triangular Jaccard of every pair of rows that share at least one column."""
    inter = sparse.triu(x @ x.T, k=1).tocoo()
    sizes = np.asarray(x.sum(axis=1)).ravel()
    j = inter.data / (sizes[inter.row] + sizes[inter.col] - inter.data)
    return sparse.coo_matrix((j, (inter.row, inter.col)), shape=inter.shape)


def clusters_at(jac: sparse.coo_matrix, t: float, n: int) -> np.ndarray:
    keep = jac.data >= t
    g = sparse.coo_matrix((np.ones(keep.sum()), (jac.row[keep], jac.col[keep])), shape=(n, n))
    return connected_components(g, directed=False)[1]


def score(labels: np.ndarray, removed: np.ndarray) -> dict:
    """Precision / recall / F1 of removals against true clusters (k docs -> k-1 removals)."""
    size = np.bincount(labels)
    removed_per = np.bincount(labels[removed], minlength=len(size))
    need = size - 1
    tp = np.minimum(removed_per, need).sum()
    n_removed = int(removed.sum())
    p = tp / n_removed if n_removed else 1.0
    r = tp / need.sum() if need.sum() else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "precision": round(float(p), 4),
        "recall": round(float(r), 4),
        "f1": round(float(f1), 4),
        "removed": n_removed,
        "true_removals": int(need.sum()),
    }


# ---- our stage --------------------------------------------------------------------------------


def spark_session():
    import os

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from curation.session import SparkSettings, get_session

    return get_session(
        SparkSettings(
            master="local[2]",
            ui=False,
            shuffle_partitions=8,
            conf={"spark.sql.adaptive.enabled": "true"},
        )
    )


def run_stage(spark, docs, cfg) -> tuple[np.ndarray, dict]:
    from curation.stages.dedup.near import run_near_dedup

    df = spark.createDataFrame([(i, t) for i, t in docs], "id string, text string").repartition(8)
    t0 = time.perf_counter()
    run = run_near_dedup(df, cfg)
    rows = run.rows.select("id", "drop_reason").collect()
    secs = time.perf_counter() - t0
    dropped = {r.id for r in rows if r.drop_reason is not None}
    pos = {d[0]: k for k, d in enumerate(docs)}
    removed = np.zeros(len(docs), dtype=bool)
    removed[[pos[i] for i in dropped]] = True
    info = {
        "seconds": round(secs, 1),
        "candidates": run.candidates.count(),
        "edges": run.edges.count(),
        "cc_rounds": run.rounds,
    }
    return removed, info


def candidate_shapes(spark, docs, cfg, jac: sparse.coo_matrix, labels: np.ndarray) -> dict:
    """Scores when the pairs of each LSH bucket that get verified are: a star to the smallest
    member, that plus a second star to the second smallest (what the stage does), or every
    pair (the most verification can find; buckets over 200 members skipped). Same band hashes.
    """
    from curation.stages.dedup.signatures import with_minhash_signature

    df = spark.createDataFrame([(i, t) for i, t in docs], "id string, text string")
    rows = with_minhash_signature(df, cfg).select("id", "dup_bands").collect()
    pos = {d[0]: k for k, d in enumerate(docs)}
    # Identical texts are one node in the stage; here they simply share every bucket.
    buckets = defaultdict(list)
    for r in rows:
        if r.dup_bands is not None:
            for b, h in enumerate(r.dup_bands):
                buckets[(b, h)].append(pos[r.id])
    jmap = {(int(a), int(b)): float(v) for a, b, v in zip(jac.row, jac.col, jac.data, strict=True)}

    def sim(a, b):
        return 1.0 if a == b else jmap.get((min(a, b), max(a, b)), 0.0)

    def removals(pairs):
        keep = [(a, b) for a, b in pairs if sim(a, b) >= cfg.threshold]
        n = len(docs)
        if not keep:
            return np.zeros(n, dtype=bool)
        a, b = np.array(keep).T
        comp = connected_components(
            sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)), directed=False
        )[1]
        removed = np.ones(n, dtype=bool)
        removed[np.unique(comp, return_index=True)[1]] = False
        return removed

    shapes: dict[str, set] = {"star": set(), "double_star": set(), "all_pairs": set()}
    ids = [d[0] for d in docs]
    for members in buckets.values():
        if len(members) < 2:
            continue
        m = sorted(members, key=lambda k: ids[k])
        shapes["star"].update((x, m[0]) for x in m[1:])
        shapes["double_star"].update((x, m[0]) for x in m[1:])
        shapes["double_star"].update((x, m[1]) for x in m[2:])
        if len(m) <= 200:
            shapes["all_pairs"].update((a, b) for i, a in enumerate(m) for b in m[i + 1 :])
    return {
        name: {"pairs": len(pairs), **score(labels, removals(pairs))}
        for name, pairs in shapes.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", type=int, default=5000, help="base documents (before near-dups)")
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.7, 0.8])
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    ap.add_argument("--edits-out", type=Path, help="write the recorded edits as JSON here")
    ap.add_argument("--quick", action="store_true", help="only the default configuration")
    args = ap.parse_args()

    from curation.stages.dedup import NearDedupConfig

    t0 = time.perf_counter()
    docs, edits = build_corpus(args.base)
    texts = [t for _, t in docs]
    x = shingle_matrix(texts)
    jac = pair_jaccard(x)
    print(
        f"corpus: {len(docs)} docs ({args.base} base, {len(edits)} edited copies), "
        f"mean {np.mean([len(t) for t in texts]):.0f} chars; {jac.nnz} pairs share a shingle; "
        f"ground truth in {time.perf_counter() - t0:.1f}s",
        flush=True,
    )
    if args.edits_out:
        args.edits_out.write_text(json.dumps(edits, indent=1))
    spark = spark_session()
    results = {"docs": len(docs), "base": args.base, "edited": len(edits), "runs": []}
    for t in args.thresholds:
        labels = clusters_at(jac, t, len(docs))
        configs = {
            "ours (default: derived bands, exact verification)": NearDedupConfig(threshold=t),
            "ours, verify=signature": NearDedupConfig(threshold=t, verify="signature"),
            "ours, verify=none": NearDedupConfig(threshold=t, verify="none"),
            "FineWeb/datatrove shape (112 perms, 14x8, no verification)": NearDedupConfig(
                threshold=t, num_perm=112, bands=14, rows=8, verify="none"
            ),
        }
        if args.quick:
            configs = dict(list(configs.items())[:1])
        for name, cfg in configs.items():
            removed, info = run_stage(spark, docs, cfg)
            res = {"threshold": t, "config": name, "bands_rows": cfg.lsh_params, **info}
            res.update(score(labels, removed))
            results["runs"].append(res)
            print(json.dumps(res), flush=True)
        cfg = NearDedupConfig(threshold=t)
        shapes = candidate_shapes(spark, docs, cfg, jac, labels)
        results.setdefault("candidate_shapes", {})[str(t)] = shapes
        print(json.dumps({"threshold": t, "candidate_shapes": shapes}), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
