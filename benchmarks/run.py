"""`make bench`: every stage and the whole pipeline on a generated corpus, beside the peers.

    .venv/bin/python benchmarks/run.py                 # quick mode, a few minutes
    .venv/bin/python benchmarks/run.py --mode full     # 100k, 300k and 1M documents

One invocation:

1. generates the corpus (``curation sample --base auto --lengths web``: real text from
   ../shared/data when present, with junk, duplicates, near-duplicates, foreign and toxic pages
   injected at known rates and the truth in ``gen_*`` columns) at each size, cached by size and
   generator source under benchmarks/work/;
2. trains the demo quality classifier on it (``conf/train_demo.yaml``);
3. runs our stages with ``curation run`` as a user would, each in a fresh process (one Spark
   application, ``local[2]``), sampling peak memory of the driver, the JVM (driver and executors
   in local mode) and the Python workers: each stage alone (full mode, at the first size), the
   near-duplicate stage alone (on the corpus as Delta, plain Parquet and JSONL: ``--formats``)
   and the whole default pipeline at every size;
4. runs the peers on the same corpus from the peer venv (.venv-peers): datatrove's four
   heuristic filters, datatrove's MinHash pipeline (on the JSONL and the Parquet export, as
   ours), text-dedup 0.3.1's Spark MinHash script (full mode: its fixed 512 tasks make small runs
   slow), and Spark MLlib's MinHashLSH;
5. runs the kernel benchmarks (quality signals vs datatrove, fastText in Spark vs raw predict,
   toxicity lexicon, MinHash signatures);
6. writes ``benchmarks/results/harness_<mode>.json`` and ``.md`` after every step.

Rates per core divide by the cores Spark was given (2 here). Ratios between tools measured in
this one run are the figures to quote; absolute seconds move with the machine's load, which is
recorded before and after each measurement.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

import accuracy as acc  # noqa: E402 - sibling module, not a package
from memory import run_measured  # noqa: E402

PY = sys.executable
DATA = ROOT.parent / "shared" / "data"
PEER_PY = ROOT / ".venv-peers" / "bin" / "python"
WORK = ROOT / "benchmarks" / "work"
RESULTS = ROOT / "benchmarks" / "results"
CORES = 2
SEED = 42
THRESHOLD = 0.8
# A peer that has not finished by then is recorded as such (text-dedup's fixed 512 tasks per
# step crawl on 2 cores).
PEER_TIMEOUT = 3600
GENERATOR_SOURCES = (
    "curation/datasets/sample.py",
    "curation/datasets/builtin_text.py",
    "curation/datasets/real_text.py",
)


# Input formats near dedup is run on (ours: each; datatrove's MinHash: JSONL and Parquet, its two
# readers; our Delta and Parquet runs are compared with its Parquet run).
FORMATS = ("delta", "jsonl", "parquet")


def peer_format(fmt: str) -> str:
    """The input the peers read for one of ours: JSONL for JSONL, Parquet otherwise."""
    return "jsonl" if fmt == "jsonl" else "parquet"


# Stages the demo recipe does not hold, run alone on the same corpus; each needs an input the
# harness makes under WORK (``Harness.extra_stage``): a benchmark file, a block list, a tokenizer.
# "tokens" is the recipe's `tokenizer:` (the n_tokens column), not a stage kind.
EXTRA_KINDS = ("url_filter", "pii", "decontaminate", "tokens")
# decontaminate: every this-many-th document lends a 60-word window to the benchmark file, so
# those documents (and their copies) must be dropped
DECON_EVERY = 100
# url_filter: hosts example-0.test ... example-<n-1>.test are listed (the generator draws from
# 5,000), so about a tenth of the rows are on a blocked domain
BLOCKED_HOSTS = 500


@dataclass(frozen=True)
class Mode:
    sizes: tuple[int, ...]
    stages_alone: tuple[str, ...]  # stage kinds run alone at the first size
    filter_peer_docs: int  # datatrove's filters run on this many documents (one core)
    peers: tuple[str, ...]
    kernels: tuple[tuple[str, ...], ...]


MODES = {
    "quick": Mode(
        sizes=(3_000,),
        stages_alone=("quality", "near_dedup", *EXTRA_KINDS),
        filter_peer_docs=200,
        peers=("datatrove_minhash", "mllib_runner"),
        kernels=(
            ("bench_quality.py", "--docs", "150", "--spark-copies", "4"),
            ("bench_toxicity.py", "--docs", "3000"),
            ("bench_fasttext.py", "--docs", "3000", "--repeat", "1"),
        ),
    ),
    "full": Mode(
        sizes=(100_000, 300_000, 1_000_000),
        stages_alone=(
            "langid",
            "quality",
            "toxicity",
            "fasttext_quality",
            "exact_dedup",
            "near_dedup",
            *EXTRA_KINDS,
        ),
        filter_peer_docs=1_000,
        peers=("datatrove_minhash", "mllib_runner", "textdedup_spark"),
        kernels=(
            ("bench_quality.py", "--docs", "1000"),
            ("bench_fasttext.py",),
            ("bench_toxicity.py",),
            ("bench_dedup.py", "kernel", "spark-sign", "--sizes", "20000"),
        ),
    ),
}


class Harness:
    def __init__(
        self,
        mode: str,
        sizes: tuple[int, ...],
        skip: set[str],
        name: str | None = None,
        peers: tuple[str, ...] | None = None,
        stages: tuple[str, ...] | None = None,
        formats: tuple[str, ...] = FORMATS,
        driver_memory: str | None = None,
    ):
        self.mode_name, self.mode, self.sizes, self.skip = mode, MODES[mode], sizes, skip
        self.formats = formats
        self.driver_memory = driver_memory
        if stages is not None:
            self.mode = dataclasses.replace(self.mode, stages_alone=stages)
        self.peer_names = peers if peers is not None else self.mode.peers
        self.out_json = RESULTS / f"{name or f'harness_{mode}'}.json"
        self.results: dict = {"mode": mode, "machine": machine(), "started": now(), "runs": []}
        if driver_memory:
            self.results["driver_memory"] = driver_memory
        self.env = {**os.environ, "PYSPARK_PYTHON": PY, "PYTHONUNBUFFERED": "1"}

    # -- bookkeeping ---------------------------------------------------------------------------

    def record(self, entry: dict) -> dict:
        entry.setdefault("load_after", round(os.getloadavg()[0], 2))
        self.results["runs"].append(entry)
        self.save()
        brief = {
            k: v
            for k, v in entry.items()
            if k in ("what", "docs", "seconds", "docs_per_s_per_core")
        }
        print(f"   -> {json.dumps(brief)}", flush=True)
        return entry

    def save(self) -> None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        self.results["finished"] = now()
        self.out_json.write_text(json.dumps(self.results, indent=1))
        self.out_json.with_suffix(".md").write_text(markdown(self.results))

    def measured(
        self, what: str, cmd: list[str], timeout: float = 7200, **extra
    ) -> tuple[dict, object]:
        print(f"== {what}: {' '.join(map(str, cmd))}", flush=True)
        load = round(os.getloadavg()[0], 2)
        m = run_measured([str(c) for c in cmd], env=self.env, timeout=timeout)
        if m.returncode != 0:
            tail = (m.stderr or m.stdout)[-3000:]
            raise RuntimeError(f"{what} failed with exit {m.returncode}:\n{tail}")
        return {
            "what": what,
            "wall_seconds": round(m.seconds, 1),
            "memory_mib": m.memory_mib,
            "load_before": load,
            **extra,
        }, m

    # -- corpus and model ----------------------------------------------------------------------

    def corpus(self, n: int) -> Path:
        digest = hashlib.sha1(
            b"".join((ROOT / f).read_bytes() for f in GENERATOR_SOURCES if (ROOT / f).exists())
        ).hexdigest()[:8]
        path = WORK / f"corpus-{n}-s{SEED}-{digest}"
        if not (path / "_delta_log").is_dir():
            shutil.rmtree(path, ignore_errors=True)
            cmd = [
                PY,
                "-m",
                "curation.cli",
                "sample",
                path,
                "--docs",
                n,
                "--seed",
                SEED,
                "--base",
                "auto",
                "--lengths",
                "web",
                "--master",
                f"local[{CORES}]",
            ]
            entry, _ = self.measured(f"generate {n:,}", cmd, docs=n)
            self.record(entry)
        return path

    def exported(self, corpus: Path, fmt: str) -> Path:
        """The corpus' id and text as plain ``fmt`` files (jsonl or parquet), one per core, cached
        beside it: what the peers read, and our input for that format."""
        path = WORK / f"{corpus.name}-{fmt}{CORES}"
        if not path.is_dir():
            print(f"== export {corpus.name} as {fmt} ({CORES} files)", flush=True)
            acc.export_text(corpus, path, fmt, CORES)
        return path

    def model(self, corpus: Path) -> Path:
        path = WORK / f"quality-{corpus.name}.bin"
        if not path.exists():
            cmd = [
                PY,
                "-m",
                "curation.cli",
                "train-classifier",
                ROOT / "conf/train_demo.yaml",
                "--set",
                f"tables.sample.path={corpus}",
                "--set",
                f"output={path}",
                "--master",
                f"local[{CORES}]",
            ]
            entry, _ = self.measured("train demo classifier", cmd)
            self.record(entry)
        return path

    # -- our runs ------------------------------------------------------------------------------

    def ours(
        self,
        what: str,
        corpus: Path,
        stages: list[dict],
        n: int,
        nbytes: int,
        extra: dict | None = None,
        fmt: str = "delta",
    ) -> dict:
        """``extra``: more top-level recipe keys (``tokenizer``); ``fmt``: read the corpus as
        this format (its export for jsonl and parquet)."""
        out = WORK / "out" / what.replace(" ", "_")
        shutil.rmtree(out, ignore_errors=True)
        source = corpus if fmt == "delta" else self.exported(corpus, fmt)
        cfg = {
            "input": {"path": str(source), "format": fmt},
            "output": str(out),
            "spark": {
                "master": f"local[{CORES}]",
                "shuffle_partitions": 8,
                "ui": False,
                # unset: the recipe default (half the machine's memory)
                **({"driver_memory": self.driver_memory} if self.driver_memory else {}),
            },
            "stages": stages,
            **(extra or {}),
        }
        cfg_path = WORK / "configs" / f"{what.replace(' ', '_')}.yaml"
        cfg_path.parent.mkdir(parents=True, exist_ok=True)
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        cmd = [PY, "-m", "curation.cli", "run", cfg_path, "--run-id", "bench"]
        entry, _ = self.measured(what, cmd, docs=n, mb=round(nbytes / 1e6, 1), input_format=fmt)
        stats = acc.read_table(
            out / "stats", ["stage", "kind", "reason", "rows_in", "rows_kept", "seconds"]
        ).to_pylist()
        totals = [r for r in stats if r["reason"] is None and r["stage"] not in ("run", "read")]
        entry["run_seconds"] = next(
            round(r["seconds"], 1) for r in stats if r["stage"] == "run" and r["reason"] is None
        )
        # Fused row stages share one pass, so each reports that pass's seconds.
        entry["stages"] = [
            {k: r[k] for k in ("stage", "kind", "rows_in", "rows_kept", "seconds")} for r in totals
        ]
        # A stage alone is timed by its own pass (read, score, decide, materialise); the pipeline
        # by the driver's clock for the whole run (plus the final commits of documents, rejected
        # and stats). Neither includes Spark's start-up, which a long run amortises.
        seconds = totals[0]["seconds"] if len(totals) == 1 else entry["run_seconds"]
        entry["seconds"] = round(seconds, 1)
        entry.update(rates(n, nbytes, seconds))
        entry["output"] = str(out)
        return entry

    # -- the plan ------------------------------------------------------------------------------

    def run(self) -> None:
        demo = yaml.safe_load((ROOT / "conf/local_demo.yaml").read_text())["stages"]
        first = self.sizes[0]
        corpus0 = self.corpus(first)
        scored = "pipeline" not in self.skip or (
            "stages" not in self.skip and "fasttext_quality" in self.mode.stages_alone
        )
        if scored:  # only those runs score with the model
            model = self.model(corpus0)
            for stage in demo:
                if stage["kind"] == "fasttext_quality":
                    stage["model_path"] = str(model)
        near = next(s for s in demo if s["kind"] == "near_dedup")

        for n in self.sizes:
            corpus = self.corpus(n)
            nbytes = text_bytes(corpus)
            # The dedup truth reads every clean text: only when a dedup run is scored.
            truth = functools.cache(lambda c=corpus: acc.copy_jaccards(c))
            self.results.setdefault("corpora", {})[str(n)] = {
                "path": str(corpus),
                "mb": round(nbytes / 1e6, 1),
            }
            alone = [near]
            if n == first and "stages" not in self.skip:
                alone = [s for s in demo if s["kind"] in self.mode.stages_alone]
            for stage in alone:
                if "dedup" in stage["kind"] and "dedup" in self.skip:
                    continue
                # Near dedup on every input format; the other stages read the Delta corpus.
                formats = self.formats if stage["kind"] == "near_dedup" else ("delta",)
                for fmt in formats:
                    what = f"ours {stage['kind']}{'' if fmt == 'delta' else ' ' + fmt} {n}"
                    entry = self.ours(what, corpus, [stage], n, nbytes, fmt=fmt)
                    out = Path(entry["output"])
                    entry["accuracy"] = self.stage_accuracy(stage["kind"], out, truth)
                    self.record(entry)
            if n == first and "stages" not in self.skip:
                for kind in (k for k in self.mode.stages_alone if k in EXTRA_KINDS):
                    self.extra_stage(kind, corpus, n, nbytes)
            if "pipeline" not in self.skip:
                entry = self.ours(f"ours pipeline {n}", corpus, demo, n, nbytes)
                table = acc.outcomes(entry["output"])
                entry["kept_share_per_kind"] = {
                    k: round(1 - v["share"], 4)
                    for k, v in acc.per_kind(table, table.column("dropped").to_numpy()).items()
                }
                self.record(entry)
            if n == first and "peers" not in self.skip:
                self.peers(corpus, n, nbytes, truth)
        if "kernels" not in self.skip:
            self.kernels()

    def extra_stage(self, kind: str, corpus: Path, n: int, nbytes: int) -> None:
        """One of EXTRA_KINDS alone, with the input it needs, and what it found."""
        extra: dict = {}
        if kind == "tokens":
            tokenizer = self.tokenizer()
            if tokenizer is None:
                self.record({"what": f"ours tokens {n}", "skipped": f"needs {DATA}"})
                return
            stages, extra = [], {"tokenizer": str(tokenizer)}
        elif kind == "url_filter":
            lists = WORK / "url_lists"
            lists.mkdir(parents=True, exist_ok=True)
            hosts = lists / "blocked_domains.txt"
            hosts.write_text("".join(f"example-{i}.test\n" for i in range(BLOCKED_HOSTS)))
            stages = [{"kind": "url_filter", "domain_lists": [str(hosts)]}]
        elif kind == "decontaminate":
            items, planted = decon_items(corpus, WORK / f"decon-items-{corpus.name}.jsonl")
            stages = [
                {
                    "kind": "decontaminate",
                    "benchmarks": [
                        {
                            "name": "planted",
                            "path": str(items),
                            "fields": ["text"],
                            "id_field": "id",
                        }
                    ],
                }
            ]
        else:
            stages = [{"kind": kind}]
        entry = self.ours(f"ours {kind} {n}", corpus, stages, n, nbytes, extra)
        entry["accuracy"] = extra_accuracy(kind, corpus, Path(entry["output"]), locals())
        self.record(entry)

    def tokenizer(self) -> Path | None:
        """bench_tokens.py's byte-level BPE of 32,000 trained on the shared text (cached)."""
        path = WORK / "tokenizer-bpe32000.json"
        if not path.exists():
            if not DATA.is_dir():
                return None
            from bench_tokens import train_tokenizer

            WORK.mkdir(parents=True, exist_ok=True)
            train_tokenizer(DATA, 32_000, path)
        return path

    def stage_accuracy(self, kind: str, out: Path, truth) -> dict:
        if kind == "near_dedup":
            return acc.dedup_accuracy(*truth(), acc.removed_by_dedup(out), THRESHOLD)
        if kind == "exact_dedup":
            return acc.dedup_accuracy(*truth(), acc.removed_by_dedup(out), 1.0)
        return acc.filter_accuracy(out, kind)

    # -- peers ---------------------------------------------------------------------------------

    def peers(self, corpus: Path, n: int, nbytes: int, truth) -> None:
        if not PEER_PY.exists():
            self.record(
                {
                    "what": "peers",
                    "skipped": f"{PEER_PY} missing: run `make .venv-peers/.installed`",
                }
            )
            return
        text_dir = self.exported(corpus, "parquet")
        peer_out = WORK / "peers"
        peer_out.mkdir(parents=True, exist_ok=True)

        k = min(n, self.mode.filter_peer_docs)
        res = peer_out / "datatrove_filters.json"
        cmd = [
            PEER_PY,
            ROOT / "benchmarks/peers/datatrove_filters.py",
            "--input",
            text_dir,
            "--limit",
            k,
            "--out",
            res,
        ]
        entry, _ = self.measured(f"datatrove filters {k}", cmd, docs=k)
        got = json.loads(res.read_text())
        entry.update(
            {
                "seconds": got["seconds"],
                "docs_per_s_per_core": got["docs_per_s_per_core"],
                "version": got["version"],
            }
        )
        entry["accuracy"] = peer_filter_accuracy(corpus, got["ids"], got["dropped"])
        ours = WORK / "out" / f"ours_quality_{n}"
        if (ours / "rejected").is_dir():
            entry["ours_on_same_docs"] = peer_filter_accuracy(corpus, got["ids"], ours_drops(ours))
        self.record(entry)

        runners = {
            "datatrove_minhash": (PEER_PY, "datatrove MinHash (14x8, LocalPipelineExecutor)"),
            "textdedup_spark": (PEER_PY, "text-dedup 0.3.1 Spark MinHash script"),
            "mllib_runner": (PY, "Spark MLlib MinHashLSH.approxSimilarityJoin"),
        }
        for name in self.peer_names:
            python, label = runners[name]
            # datatrove's MinHash reads the format of each of our runs; the others Parquet.
            formats = ["parquet"]
            if name == "datatrove_minhash":
                formats = sorted({peer_format(f) for f in self.formats})
            for fmt in formats:
                self.peer_dedup(name, python, f"{label} on {fmt}", fmt, corpus, n, nbytes, truth)

    def peer_dedup(self, name, python, label, fmt, corpus, n, nbytes, truth) -> None:
        res = WORK / "peers" / f"{name}-{fmt}.json"
        cmd = [
            python,
            ROOT / f"benchmarks/peers/{name}.py",
            "--input",
            self.exported(corpus, fmt),
            "--threshold",
            THRESHOLD,
            "--workers",
            CORES,
            "--out",
            res,
        ]
        try:
            entry, _ = self.measured(
                f"{label} {n}",
                cmd,
                timeout=PEER_TIMEOUT,
                docs=n,
                mb=round(nbytes / 1e6, 1),
                input_format=fmt,
            )
        except RuntimeError as err:
            self.record({"what": f"{label} {n}", "failed": str(err)[-1500:]})
            return
        got = json.loads(res.read_text())
        removed = set(Path(got["removed_ids_file"]).read_text().split())
        entry.update(
            {"seconds": got["seconds"], "version": got.get("version"), "params": got.get("params")}
        )
        entry.update(rates(n, nbytes, got["seconds"]))
        entry["accuracy"] = acc.dedup_accuracy(*truth(), removed, THRESHOLD)
        self.record(entry)

    # -- kernels -------------------------------------------------------------------------------

    def kernels(self) -> None:
        for script, *args in self.mode.kernels:
            out = RESULTS / f"harness_{self.mode_name}_{Path(script).stem}.json"
            out.unlink(missing_ok=True)  # bench_dedup.py appends
            cmd = [PY, ROOT / "benchmarks" / script, *args, "--out", out]
            try:
                entry, _ = self.measured(f"kernel {script}", cmd)
            except RuntimeError as err:
                self.record({"what": f"kernel {script}", "failed": str(err)[-1500:]})
                continue
            entry["result_file"] = str(out.relative_to(ROOT))
            text = out.read_text()
            try:
                data = json.loads(text)
            except json.JSONDecodeError:  # bench_dedup.py appends one JSON object per line
                data = {"lines": [json.loads(x) for x in text.splitlines() if x.strip()]}
            entry["headline"] = kernel_headline(script, data)
            self.record(entry)


# -- helpers ------------------------------------------------------------------------------------


def decon_items(corpus: Path, path: Path) -> tuple[Path, set[str]]:
    """A benchmark file of 60-word windows from every DECON_EVERY-th document (by id order)."""
    table = acc.read_table(corpus, ["id", "text"]).sort_by("id")
    ids, texts = table.column("id").to_pylist(), table.column("text").to_pylist()
    planted, lines = set(), []
    for doc_id, text in zip(ids[::DECON_EVERY], texts[::DECON_EVERY], strict=True):
        words = (text or "").split()
        if len(words) < 80:
            continue
        mid = len(words) // 2 - 30
        planted.add(doc_id)
        lines.append(json.dumps({"id": doc_id, "text": " ".join(words[mid : mid + 60])}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, planted


def extra_accuracy(kind: str, corpus: Path, out: Path, ctx: dict) -> dict:
    """What an EXTRA_KINDS stage found, against what the harness planted where it planted any."""
    if kind == "tokens":
        stats = acc.read_table(out / "stats", ["stage", "reason", "tokens_in"]).to_pylist()
        total = next(r["tokens_in"] for r in stats if r["stage"] == "run" and r["reason"] is None)
        return {"note": f"{total:,} tokens counted"}
    dropped = set(ours_drops(out))
    if kind == "decontaminate":
        planted = ctx["planted"]
        hit = len(planted & dropped)
        return {
            "note": f"{hit}/{len(planted)} planted items' documents dropped; "
            f"{len(dropped - planted)} others sharing a 13-gram with an item (copies, and pages "
            "the generator built from the same source paragraphs)"
        }
    if kind == "url_filter":
        host = re.compile(r"//example-(\d+)\.test/")
        blocked = set()
        for r in acc.read_table(corpus, ["id", "url"]).to_pylist():
            m = host.search(r["url"] or "")
            if m and int(m.group(1)) < BLOCKED_HOSTS:
                blocked.add(r["id"])
        return {
            "note": f"{len(blocked & dropped)}/{len(blocked)} rows on listed hosts dropped; "
            f"{len(dropped - blocked)} others"
        }
    import pyarrow.compute as pc

    cols = [f"pii_{k}" for k in ("email", "phone", "ipv4", "ipv6", "credit_card", "iban", "ssn")]
    kept = acc.read_table(out / "documents", cols)
    found = {c[4:]: int(pc.sum(kept.column(c)).as_py() or 0) for c in cols}
    spans = ", ".join(f"{k} {v:,}" for k, v in found.items() if v)
    return {"note": "spans redacted: " + (spans or "none (the corpus holds no PII)")}


def rates(n: int, nbytes: int, seconds: float) -> dict:
    if not seconds:
        return {}
    return {
        "docs_per_s": round(n / seconds, 1),
        "docs_per_s_per_core": round(n / seconds / CORES, 1),
        "mb_per_s_per_core": round(nbytes / 1e6 / seconds / CORES, 2),
    }


def text_bytes(corpus: Path) -> int:
    """UTF-8 bytes of the corpus' text column, read batch by batch."""
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    data = DeltaTable(str(corpus)).to_pyarrow_dataset()
    nbytes = 0
    for batch in data.to_batches(columns=["text"], batch_size=8192):
        nbytes += pc.sum(pc.binary_length(batch.column(0).cast("binary"))).as_py() or 0
    return nbytes


def peer_filter_accuracy(corpus: Path, ids: list[str], dropped: dict[str, str]) -> dict:
    """Drops per injected kind among ``ids``: recall on junk, false drops on clean prose."""
    table = acc.read_table(corpus, ["id", "gen_kind"])
    kind = dict(
        zip(table.column("id").to_pylist(), table.column("gen_kind").to_pylist(), strict=True)
    )
    seen = pa.table({"gen_kind": [kind[d] for d in ids]})
    flag = np.array([d in dropped for d in ids], dtype=bool)
    return acc.summarise(acc.per_kind(seen, flag), "quality")


def ours_drops(out: Path) -> dict[str, str]:
    gone = acc.read_table(out / "rejected", ["id", "drop_reason"])
    return dict(
        zip(gone.column("id").to_pylist(), gone.column("drop_reason").to_pylist(), strict=True)
    )


def kernel_headline(script: str, data: dict) -> dict:
    """The few numbers each kernel benchmark exists for."""
    if script == "bench_quality.py":
        return {
            "ours_vs_datatrove_all_four_cpu": data.get("speedup_vs_datatrove_all_four_cpu"),
            "spark_local1": data.get("spark_local1"),
        }
    if script == "bench_fasttext.py":
        return {
            k: {m: v.get(m) for m in ("spark_vs_raw_loop_wall", "spark_vs_raw_loop_cpu")}
            for k, v in data.items()
            if isinstance(v, dict) and "spark" in v
        }
    if script == "bench_toxicity.py":
        return {
            k: data.get(k)
            for k in (
                "lexicon_scorer_cpu_docs_per_s",
                "lexicon_docs_per_s",
                "fasttext_stage_vs_raw",
            )
        }
    if script == "bench_dedup.py":
        by = {x.get("bench"): x for x in data.get("lines", [])}
        kernel, sign = by.get("kernel", {}), by.get("spark-sign", {})
        return {
            "signatures_one_core_docs_per_s": kernel.get("fast", {}).get("docs_per_s"),
            "datasketch_bulk_docs_per_s": kernel.get(
                "datasketch_library_bulk_after_shingling", {}
            ).get("docs_per_s"),
            "signatures_in_spark_docs_per_s_per_core": sign.get("docs_per_s_per_core_wall"),
        }
    return {k: v for k, v in data.items() if not isinstance(v, (dict, list))}


def kernel_lines(runs: list[dict]) -> list[str]:
    """One line per kernel benchmark with the numbers it exists for."""
    out = []
    for r in runs:
        if r.get("headline"):
            out.append(f"- {r['what']} ({r['result_file']}): {json.dumps(r['headline'])}")
    return out


def machine() -> dict:
    import psutil

    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "java": java[0] if java else None,
        "platform": platform.platform(),
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [
        f"Mode `{results['mode']}`, {results['started']} to {results.get('finished')}; "
        f"{m['cpus']} cores, {m['memory_gib']} GiB, Python {m['python']}, {m['java']}; "
        f"load average at start {m['load_at_start'][0]}."
        + (
            f" Our runs' `spark.driver_memory`: {results['driver_memory']}."
            if results.get("driver_memory")
            else ""
        ),
        "",
        "| run | docs | MB | timed s | process wall s | docs/s/core | MB/s/core | peak MiB driver / JVM / py workers / total | accuracy | load |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for r in results["runs"]:
        if "failed" in r or "skipped" in r:
            lines.append(
                f"| {r['what']} | | | | | | | | {'failed' if 'failed' in r else r['skipped']} | |"
            )
            continue
        mem = r.get("memory_mib", {})
        mem_s = " / ".join(
            f"{mem.get(k, 0):,.0f}" for k in ("driver_python", "jvm", "python_workers", "total")
        )
        lines.append(
            f"| {r['what']} | {r.get('docs', ''):,} | {r.get('mb', '')} | {r.get('seconds', '')} | "
            f"{r.get('wall_seconds', '')} | {r.get('docs_per_s_per_core', '')} | "
            f"{r.get('mb_per_s_per_core', '')} | {mem_s} | {brief_accuracy(r)} | {r.get('load_before', '')} |"
            if isinstance(r.get("docs"), int)
            else f"| {r['what']} | | | {r.get('seconds', '')} | {r.get('wall_seconds', '')} | | | {mem_s} | {brief_accuracy(r)} | {r.get('load_before', '')} |"
        )
    lines += [
        "",
        "timed s: a stage alone is timed by its own pass (read, score, decide, materialise); a "
        "pipeline by the driver's clock for the whole run; peers by their own work. process wall "
        "s: the whole command, Spark start-up included. Per-core rates divide by the 2 cores "
        "Spark (or the peer) was given. Peak memory is RSS sampled every 0.2 s (driver Python / "
        "JVM, which hosts the executors in local mode / Python workers / all at one instant). "
        "load: the 1-minute load average when the run started.",
        "",
        *ratio_lines(results["runs"]),
        "",
        *kernel_lines(results["runs"]),
    ]
    return "\n".join(lines) + "\n"


def brief_accuracy(r: dict) -> str:
    a = r.get("accuracy")
    if a and "note" in a:
        return a["note"]
    if r.get("headline"):
        return "see " + r.get("result_file", "")
    if not a:
        if "kept_share_per_kind" in r:
            k = r["kept_share_per_kind"]
            return "kept: " + ", ".join(f"{kind} {share:.0%}" for kind, share in sorted(k.items()))
        return ""
    if "f1" in a:
        return f"P {a['precision']:.3f} R {a['recall']:.3f} F1 {a['f1']:.3f}"
    if "recall" in a:
        clean = a.get("clean_flagged_share")
        return f"recall {a['recall']} on {'+'.join(a['target_kinds'])}; clean hit {clean}"
    return json.dumps(a)[:120]


def ratio_lines(runs: list[dict]) -> list[str]:
    """Ours / peer, for the pairs measured in this run at the same size."""
    by = {r["what"]: r for r in runs if "docs_per_s_per_core" in r}
    ours = [r for w, r in by.items() if w.startswith("ours near_dedup")]
    out = []
    for r in ours:
        if r.get("input_format", "delta") != "delta":
            continue
        for peer in ("text-dedup", "Spark MLlib"):
            p = next(
                (v for k, v in by.items() if k.startswith(peer) and v["docs"] == r["docs"]), None
            )
            if p:
                out.append(
                    f"- near-dedup at {r['docs']:,} docs: ours / {peer} = "
                    f"{r['docs_per_s_per_core'] / p['docs_per_s_per_core']:.1f}x docs/s per core"
                )
    table = []
    for r in ours:
        fmt = r.get("input_format", "delta")
        p = next(
            (
                v
                for k, v in by.items()
                if k.startswith("datatrove MinHash")
                and v["docs"] == r["docs"]
                and v.get("input_format") == peer_format(fmt)
            ),
            None,
        )
        if p is None:
            continue
        f1 = "/".join(f"{x.get('accuracy', {}).get('f1', float('nan')):.3f}" for x in (r, p))
        table.append(
            f"| {r['docs']:,} | {fmt} | {p['input_format']} | {r['seconds']} | {p['seconds']} | "
            f"{p['seconds'] / r['seconds']:.1f}x | {r['wall_seconds']} | {p['wall_seconds']} | "
            f"{p['wall_seconds'] / r['wall_seconds']:.1f}x | {f1} |"
        )
    if table:
        out += [
            "",
            "Near dedup against datatrove's MinHash by input format (ratio: datatrove's seconds "
            "over ours; stage: each tool's own timing of its work; process: the whole command, "
            "Spark's or Python's start-up included):",
            "",
            "| docs | ours reads | datatrove reads | ours stage s | datatrove s | stage ratio "
            "| ours process s | datatrove process s | process ratio | F1 ours / datatrove |",
            "|---:|---|---|---:|---:|---:|---:|---:|---:|---|",
            *table,
            "",
        ]
    q = next((r for w, r in by.items() if w.startswith("ours quality")), None)
    d = next((r for w, r in by.items() if w.startswith("datatrove filters")), None)
    if q and d:
        out.append(
            f"- quality signals: ours / datatrove's four filters = "
            f"{q['docs_per_s_per_core'] / d['docs_per_s_per_core']:.0f}x docs/s per core"
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=sorted(MODES), default="quick")
    ap.add_argument("--sizes", type=int, nargs="+", help="override the mode's corpus sizes")
    ap.add_argument("--name", help="results file stem (default harness_<mode>)")
    ap.add_argument(
        "--peers",
        nargs="*",
        choices=["datatrove_minhash", "mllib_runner", "textdedup_spark"],
        help="near-dedup peers to run (default: the mode's)",
    )
    ap.add_argument(
        "--skip", nargs="*", default=[], choices=["stages", "dedup", "pipeline", "peers", "kernels"]
    )
    ap.add_argument(
        "--stages",
        nargs="+",
        help="stage kinds to run alone at the first size (default: the mode's), e.g. "
        + " ".join(EXTRA_KINDS),
    )
    ap.add_argument(
        "--formats",
        nargs="+",
        choices=FORMATS,
        default=list(FORMATS),
        help="input formats near dedup runs on (default: all)",
    )
    ap.add_argument(
        "--driver-memory",
        help="spark.driver_memory of our runs, e.g. 4g (in local mode the executors share this "
        "heap; default: the recipe default, half the machine's memory)",
    )
    args = ap.parse_args()
    sizes = tuple(args.sizes) if args.sizes else MODES[args.mode].sizes
    peers = tuple(args.peers) if args.peers is not None else None
    stages = tuple(args.stages) if args.stages else None
    harness = Harness(
        args.mode,
        sizes,
        set(args.skip),
        args.name,
        peers,
        stages,
        tuple(args.formats),
        args.driver_memory,
    )
    t0 = time.monotonic()
    try:
        harness.run()
    finally:
        harness.results["total_seconds"] = round(time.monotonic() - t0, 1)
        harness.save()
    print(harness.out_json.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
