"""Conformance of the quality stage with datatrove's four heuristic filters, document by document.

Runs datatrove's GopherQualityFilter, GopherRepetitionFilter, C4QualityFilter and
FineWebQualityFilter (defaults, English) in a separate venv, and our QualityStage in Spark
local[1] on the same documents, then reports per filter how often the keep/drop decisions agree,
which rules the disagreements come from, and how our tokenizer's counts compare with spaCy's.

Each filter is compared on its own, as datatrove runs it on the original text: Gopher and
FineWeb against our signals scored with C4's rewrite switched off, C4 against a second scoring
with the rewrite on (the rewritten text is compared too).

    python benchmarks/conformance_datatrove.py            # writes benchmarks/results/...json
    python benchmarks/conformance_datatrove.py --peer-python /path/to/python

The peer venv (gitignored): ``python -m venv .venv-peers && .venv-peers/bin/pip install
datatrove spacy regex``. datatrove tokenizes English with ``spacy.blank("en")``, which is
rule-based and needs no download, so the peer runs offline; its C4 sentence counter is spaCy's
rule-based ``sentencizer`` (no model either). NLTK is not needed for English.

Documents: the shared data folder's Wikipedia sample, Brown corpus, a deterministic sample of
SpamAssassin mails and Davidson tweets, the Dolma Common Crawl samples, plus generated junk
(repeated lines, lorem ipsum, code, bullet lists, hashtags, binary bytes, CJK, Arabic, nav
menus, empty and whitespace-only texts, one very long line).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
DEFAULT_PEER = ROOT / ".venv-peers" / "bin" / "python"
RESULTS = ROOT / "benchmarks" / "results"
FILTERS = ("gopher_repetition", "gopher_quality", "c4", "fineweb")

# datatrove's reason -> our rule name (family prefix added by the stage)
PEER_REASONS = {
    "gopher_quality": {
        "gopher_short_doc": "word_count",
        "gopher_long_doc": "word_count",
        "gopher_below_avg_threshold": "mean_word_length",
        "gopher_above_avg_threshold": "mean_word_length",
        "gopher_too_many_hashes": "hash_ratio",
        "gopher_too_many_ellipsis": "ellipsis_ratio",
        "gopher_too_many_bullets": "bullet_lines",
        "gopher_too_many_end_ellipsis": "ellipsis_lines",
        "gopher_below_alpha_threshold": "alpha_words",
        "gopher_enough_stop_words": "stop_words",
    },
    "gopher_repetition": {
        "empty": "empty",
        **{f"top_{n}_gram": f"top_{n}gram" for n in (2, 3, 4)},
        **{f"duplicated_{n}_n_grams": f"dup_{n}gram" for n in range(5, 11)},
    },
    "c4": {"too_few_sentences": "num_sentences"},
    "fineweb": {"list_ratio": "newline_ratio", "empty": "line_punct_ratio"},
}

# The peer side: runs inside the peer venv, reads JSONL docs, writes one JSON result per doc.
PEER_SCRIPT = r"""
import hashlib, json, sys, time
from importlib.metadata import version
from datatrove.data import Document
from datatrove.pipeline.filters import (
    C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter)
from datatrove.utils.text import PUNCTUATION_SET, split_into_words

src, dst, mode = sys.argv[1], sys.argv[2], sys.argv[3]
docs = [json.loads(line) for line in open(src, encoding="utf-8")]
filters = {"gopher_repetition": GopherRepetitionFilter(), "gopher_quality": GopherQualityFilter(),
           "c4": C4QualityFilter(), "fineweb": FineWebQualityFilter()}
split_into_words("warm up the tokenizer.")
out = {"versions": {"datatrove": version("datatrove"), "spacy": version("spacy")}}
if mode == "bench":
    out["docs"] = len(docs)
    # each filter on every document (what scoring every signal of every document costs)
    out["filter_cpu_seconds"] = {}
    for name, f in filters.items():
        t0 = time.process_time()
        for d in docs:
            f.filter(Document(text=d["text"], id=d["id"]))
        out["filter_cpu_seconds"][name] = time.process_time() - t0
    # the four as a pipeline: each sees the text the previous one left; a drop ends the doc
    t0 = time.process_time()
    for d in docs:
        doc = Document(text=d["text"], id=d["id"])
        for f in filters.values():
            if f.filter(doc) is not True:
                break
    out["pipeline_cpu_seconds"] = time.process_time() - t0
else:
    rows = []
    for d in docs:
        row = {"id": d["id"]}
        for name, f in filters.items():
            doc = Document(text=d["text"], id=d["id"])
            try:
                res = f.filter(doc)
            except Exception as err:  # a crash is a finding, not a reason to stop
                row[name] = [None, f"error:{type(err).__name__}"]
                continue
            keep = res is True
            reason = None if keep else (res[1] if isinstance(res, tuple) else "dropped")
            row[name] = [keep, reason]
            if name == "c4" and keep:
                row["c4_text"] = [len(doc.text), hashlib.sha1(doc.text.encode()).hexdigest()]
        words = split_into_words(d["text"]) if d["text"] else []
        row["n_tokens"] = len(words)
        row["n_words"] = sum(1 for w in words if any(ch not in PUNCTUATION_SET for ch in w))
        rows.append(row)
    out["rows"] = rows
json.dump(out, open(dst, "w", encoding="utf-8"))
"""


# -- documents ---------------------------------------------------------------------------------


def _read(path: Path, every: int = 1, limit: int | None = None) -> list[dict]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i % every == 0:
                row = json.loads(line)
                out.append({"id": row["id"], "text": row["text"]})
                if limit and len(out) >= limit:
                    break
    return out


_WORDS_TEXT = (
    "the of and to in a is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there been one all we their has would when if so "
    "market price river village music school water history system court paper garden letter"
)
_WORDS = tuple(_WORDS_TEXT.split(" "))
_CJK = "今天天气很好我们一起去公园散步然后在湖边吃午饭。这个城市的历史非常悠久有很多古老的建筑。"
_ARABIC = (
    "ذهب الطالب إلى المكتبة صباحا ليقرأ كتابا عن تاريخ المدينة القديمة. "
    "وكانت الشمس مشرقة والطيور تغني في الحديقة القريبة من البيت. "
)


def generated_docs(seed: int = 7) -> list[dict]:
    """Junk and edge cases, deterministic. Each kind several times with random variation."""
    rnd = random.Random(seed)

    def sentence(k: int) -> str:
        words = [rnd.choice(_WORDS) for _ in range(k)]
        return " ".join(words).capitalize() + rnd.choice([".", ".", ".", "?", "!"])

    def prose(n_sent: int) -> str:
        return " ".join(sentence(rnd.randint(6, 18)) for _ in range(n_sent))

    docs: list[tuple[str, str]] = []
    for _ in range(12):
        line = sentence(rnd.randint(5, 12))
        docs.append(("repeated_lines", "\n".join([line] * rnd.randint(5, 40))))
        docs.append(("repeated_paras", "\n\n".join([prose(3)] * rnd.randint(2, 6) + [prose(4)])))
        docs.append(
            ("lorem", prose(4) + "\nLorem ipsum dolor sit amet, consectetur elit. " + prose(4))
        )
        code = "\n".join(
            f"function f{j}(x) {{ return x + {j}; }} // call it as f{j}(1)." for j in range(8)
        )
        docs.append(("code", prose(3) + "\n" + code + "\n" + prose(3)))
        docs.append(("bullets", "\n".join(f"• {sentence(rnd.randint(3, 9))}" for _ in range(30))))
        docs.append(("dash_list", "\n".join(f"- {rnd.choice(_WORDS)} {j}" for j in range(40))))
        docs.append(("hashtags", " ".join(f"#{rnd.choice(_WORDS)}" for _ in range(80))))
        docs.append(("ellipsis", "\n".join(sentence(8)[:-1] + "..." for _ in range(20))))
        menu = "\n".join(
            rnd.choice(["Home", "About us", "Contact", "Login", "Cart", "FAQ"]) for _ in range(30)
        )
        docs.append(("nav_menu", menu + "\n" + prose(3)))
        raw = bytes(rnd.randrange(256) for _ in range(rnd.randint(200, 3000)))
        docs.append(("binary_latin1", raw.decode("latin-1")))
        docs.append(("binary_utf8", raw.decode("utf-8", errors="replace")))
        docs.append(("cjk", "".join(rnd.sample(_CJK, len(_CJK))) * rnd.randint(1, 5)))
        docs.append(("arabic", _ARABIC * rnd.randint(2, 8)))
        docs.append(
            (
                "policy_js",
                prose(5)
                + "\nThis site uses cookies. Please enable JavaScript to view it.\n"
                + prose(5),
            )
        )
        docs.append(
            (
                "numbers",
                "\n".join(" ".join(str(rnd.randint(0, 9999)) for _ in range(8)) for _ in range(30)),
            )
        )
        docs.append(
            ("clean_prose", "\n\n".join(prose(rnd.randint(3, 7)) for _ in range(rnd.randint(2, 6))))
        )
        docs.append(("short", prose(1)))
    docs.append(("empty", ""))
    docs.append(("whitespace", " \n\t\n  \n"))
    docs.append(("newlines", "\n" * 50))
    docs.append(("long_line", " ".join(rnd.choice(_WORDS) for _ in range(20000)) + "."))
    docs.append(("long_word", prose(6) + " " + "x" * 1500 + " end of line.\n" + prose(6)))
    return [{"id": f"gen-{kind}-{i:03d}", "text": text} for i, (kind, text) in enumerate(docs)]


def load_docs(data: Path) -> list[dict]:
    docs = []
    docs += _read(data / "text" / "wikipedia_sample.jsonl")
    docs += _read(data / "text" / "brown.jsonl")
    docs += _read(data / "text" / "spamassassin.jsonl", every=8)
    docs += _read(data / "web" / "dolma_cc_samples.jsonl")
    docs += _read(data / "toxicity" / "davidson.jsonl", every=250)
    docs += generated_docs()
    return docs


def source_of(doc_id: str) -> str:
    if doc_id.startswith("gen-"):
        return "generated:" + doc_id.split("-")[1]
    return doc_id.split("-")[0]


# -- running both sides ------------------------------------------------------------------------


def run_peer(peer_python: Path, docs: list[dict], mode: str = "compare") -> dict:
    """Run datatrove's filters on ``docs`` in the peer venv; returns its JSON output."""
    if not peer_python.exists():
        raise SystemExit(
            f"peer python {peer_python} not found: python -m venv .venv-peers && "
            ".venv-peers/bin/pip install datatrove spacy regex"
        )
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "docs.jsonl", Path(tmp) / "out.json"
        with src.open("w", encoding="utf-8") as fh:
            for d in docs:
                fh.write(json.dumps(d, ensure_ascii=False) + "\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYSPARK")}
        env["HF_HUB_OFFLINE"] = "1"  # nothing may be downloaded: fail instead of fetching
        subprocess.run(
            [str(peer_python), "-c", PEER_SCRIPT, str(src), str(dst), mode], check=True, env=env
        )
        return json.loads(dst.read_text(encoding="utf-8"))


def spark_session(master: str = "local[1]"):
    from curation.session import SparkSettings, get_session

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return get_session(
        SparkSettings(
            master=master,
            ui=False,
            shuffle_partitions=1,
            driver_memory="2g",
            conf={"spark.python.worker.reuse": "true", "spark.sql.adaptive.enabled": "false"},
        )
    )


def run_ours(spark, docs: list[dict]) -> dict[str, dict]:
    """Our per-family decisions and signals, each family decided on its own like the peer's."""
    from pyspark.sql import functions as F

    from curation.stages.quality import QualityConfig, QualityStage
    from curation.stages.rowwise import decide, score

    df = spark.createDataFrame(
        [(d["id"], d["text"]) for d in docs], "id string, text string"
    ).repartition(1)
    off = {f: {"enabled": False} for f in FILTERS}
    out: dict[str, dict] = {d["id"]: {} for d in docs}
    for rewrite, families in (
        (False, ("gopher_repetition", "gopher_quality", "fineweb")),
        (True, ("c4",)),
    ):
        base = QualityConfig(c4_line_filter={"enabled": rewrite})
        scored = score(df, [QualityStage(base)]).cache()
        for fam in families:
            cfg = QualityConfig(c4_line_filter={"enabled": rewrite}, **{**off, fam: {}})
            decided, _ = decide(scored, [QualityStage(cfg)])
            extra = [F.col("text")] if fam == "c4" else [F.col("q_n_tokens"), F.col("q_word_count")]
            for row in decided.select("id", "drop_reason", *extra).collect():
                rec = out[row["id"]]
                rec[fam] = row["drop_reason"]
                if fam == "c4":
                    text = row["text"] or ""
                    rec["c4_text"] = [len(text), hashlib.sha1(text.encode()).hexdigest()]
                else:
                    rec["n_tokens"], rec["n_words"] = row["q_n_tokens"], row["q_word_count"]
        scored.unpersist()
    return out


# -- comparison --------------------------------------------------------------------------------


def compare(docs: list[dict], peer_rows: list[dict], ours: dict[str, dict]) -> dict:
    peer = {r["id"]: r for r in peer_rows}
    report: dict = {}
    for fam in FILTERS:
        cells = Counter()
        pairs = Counter()
        by_source = Counter()
        reason_same = reason_both = 0
        examples = []
        for d in docs:
            p_keep, p_reason = peer[d["id"]][fam]
            o_reason = ours[d["id"]][fam]
            o_keep = o_reason is None
            if p_keep is None:
                cells["peer_error"] += 1
                pairs[(p_reason, o_reason)] += 1
                continue
            key = {
                (True, True): "both_keep",
                (False, False): "both_drop",
                (True, False): "only_peer_drop",
                (False, True): "only_ours_drop",
            }[(o_keep, p_keep)]
            cells[key] += 1
            mapped = None if p_keep else f"{fam}:" + PEER_REASONS[fam].get(p_reason, p_reason)
            if key == "both_drop":
                reason_both += 1
                reason_same += mapped == o_reason
            if key in ("only_ours_drop", "only_peer_drop"):
                pairs[(mapped or "(kept)", o_reason or "(kept)")] += 1
                by_source[source_of(d["id"])] += 1
                if len(examples) < 12:
                    examples.append(
                        {"id": d["id"], "peer": mapped or "(kept)", "ours": o_reason or "(kept)"}
                    )
        n = sum(cells.values())
        agree = cells["both_keep"] + cells["both_drop"]
        report[fam] = {
            "docs": n,
            "agreement": round(agree / n, 4) if n else None,
            **{k: cells[k] for k in ("both_keep", "both_drop", "only_ours_drop", "only_peer_drop")},
            "peer_errors": cells["peer_error"],
            "same_reason_when_both_drop": round(reason_same / reason_both, 4)
            if reason_both
            else None,
            "disagreements_by_rule": [
                {"peer": a, "ours": b, "docs": c} for (a, b), c in pairs.most_common()
            ],
            "disagreements_by_source": dict(by_source.most_common()),
            "examples": examples,
        }
    both_kept = [d["id"] for d in docs if peer[d["id"]]["c4"][0] and ours[d["id"]]["c4"] is None]
    same_text = sum(peer[i].get("c4_text") == ours[i]["c4_text"] for i in both_kept)
    report["c4"]["rewritten_text_identical_when_both_keep"] = (
        round(same_text / len(both_kept), 4) if both_kept else None
    )
    report["tokenizer"] = _tokenizer_stats(docs, peer, ours)
    return report


def _tokenizer_stats(docs: list[dict], peer: dict, ours: dict) -> dict:
    out = {}
    for key in ("n_tokens", "n_words"):
        rel = []
        for d in docs:
            a, b = peer[d["id"]][key], ours[d["id"]][key]
            if a:
                rel.append((b - a) / a)
        rel.sort()
        out[key] = {
            "docs": len(rel),
            "mean_relative_difference": round(sum(rel) / len(rel), 4) if rel else None,
            "median_relative_difference": round(rel[len(rel) // 2], 4) if rel else None,
            "within_5_percent": round(sum(abs(r) <= 0.05 for r in rel) / len(rel), 4)
            if rel
            else None,
        }
    return out


# Why decisions differ where they do (checked by reading the disagreeing documents and diffing
# the two token streams; see curation/text/words.py for the tokenizer rules).
EXPLANATIONS = {
    "tokenizer": "Our regex tokenizer follows spaCy's English rules where they matter for these "
    "filters (single-character punctuation tokens, period runs, hyphen runs, clitics 's 've, "
    "initials and common abbreviations keep their period, URLs whole, hyphen/colon joined before "
    "digits). It still differs on: don't/cannot (1 token, spaCy 2), abbreviations outside our "
    "list (Ala.), symbols spaCy leaves glued to words (a|b, -word-, •item), and CJK text, where "
    "spaCy's English rules keep a whole paragraph with its inner ，。 as one token. Median token "
    "count difference 0; the mean is pulled up by junk and CJK documents.",
    "gopher_quality:alpha_words": "The share of tokens containing a letter depends on how many "
    "punctuation tokens there are; documents near the 0.8 cut (mail with ASCII art, emoticons, "
    "'--' and '|' tables, unlisted abbreviations) flip either way.",
    "gopher_repetition:top_ngram": "n-grams include punctuation tokens in both implementations. "
    "For short texts (tweets, CJK, empty) datatrove's top n-gram of count 1 (the first n-gram) "
    "decides, so its length, i.e. the tokenization of the first few tokens (@mentions, CJK "
    "paragraphs, URLs), flips the decision; the rest are mails near the threshold.",
    "gopher_repetition:empty": "datatrove's repetition filter drops an empty text with reason "
    "'empty'; ours leaves empty text to gopher_quality:word_count (and c4:num_sentences).",
    "c4:num_sentences": "Sentences are counted with a regex (terminal punctuation, optional "
    "closing quotes, space, more text; no break after initials or listed abbreviations) instead "
    "of spaCy's sentencizer, which also skips breaks after unlisted abbreviations and emoticons "
    "and breaks 'word.Word' without a space; only documents near 5 sentences differ.",
    "c4:lorem_ipsum/curly_bracket": "datatrove stops at the first lorem-ipsum or '{' line and "
    "reports that reason; we record both flags and report lorem ipsum first (no disagreement in "
    "keep/drop).",
    "fineweb:newline_ratio": "newlines per token: token counts differ slightly (see tokenizer), "
    "which moves list-like mails across the 0.3 cut.",
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    ap.add_argument("--peer-python", type=Path, default=DEFAULT_PEER, help="peer venv python")
    ap.add_argument("--out", type=Path, default=RESULTS / "conformance_datatrove.json")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        raise SystemExit(f"data folder {args.data} not found (needs ../shared/data)")
    docs = load_docs(args.data)
    print(f"{len(docs)} documents", file=sys.stderr)
    t0 = time.time()
    peer = run_peer(args.peer_python, docs)
    t_peer = time.time() - t0
    spark = spark_session()
    t0 = time.time()
    ours = run_ours(spark, docs)
    t_ours = time.time() - t0
    report = {
        "docs": len(docs),
        "sources": dict(Counter(source_of(d["id"]).split(":")[0] for d in docs)),
        "peer": {**peer["versions"], "tokenizer": 'spacy.blank("en") (rule-based, offline)'},
        "wall_seconds": {"peer_four_filters": round(t_peer, 1), "ours_spark": round(t_ours, 1)},
        "filters": compare(docs, peer["rows"], ours),
        "explanations": EXPLANATIONS,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for fam in FILTERS:
        r = report["filters"][fam]
        print(
            f"{fam:18s} agreement {r['agreement']:.3f}  both keep {r['both_keep']:4d}  both drop "
            f"{r['both_drop']:4d}  only ours drop {r['only_ours_drop']:3d}  only peer drop "
            f"{r['only_peer_drop']:3d}  same reason {r['same_reason_when_both_drop']}"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
