"""`make compat`: the same runs on every supported pyspark, compared with the reference.

One virtual environment per pyspark version under ``.venv-compat/<version>`` (built on first use:
that pyspark over the reference .venv's other packages, see install_steps), and one process per
version that runs, on one local[2] session:

- the demo recipe (conf/local_demo.yaml) over the generated 3,000-document sample;
- a near-dedup run over the same documents as JSONL (plain and gzip files) with malformed
  records added, so the JSONL reader's reasons are compared too (its Spark 3.5 path parses in
  Python, see curation/readers/json_python.py).

The inputs (sample, demo classifier, JSONL) are made once by the reference interpreter (the
project's .venv) so every version reads the same bytes and scores with the same model. Each
run's kept ids and drop reasons (with ``dup_of`` for duplicates) must equal the reference's.
Results: benchmarks/results/compat.{json,md}.

    python benchmarks/compat.py                        # every version in VERSIONS
    python benchmarks/compat.py --versions 3.5.9,4.3.0 # what CI runs (tests/platforms/test_compat.py)
    python benchmarks/compat.py run-one WORK OUT.json  # one version's runs (inside its venv)
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parents[1]
VENVS = ROOT / ".venv-compat"
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / "work" / "compat"
REFERENCE_PYTHON = ROOT / ".venv" / "bin" / "python"
# The supported range, oldest to newest: the latest patch release of each minor version. The
# reference is the project's own .venv (pyspark 4.2.0, what `make run` and `make test` use).
VERSIONS = ["3.5.9", "4.0.5", "4.1.4", "4.2.1", "4.3.0"]
# 1,000 documents hold every kind the sample generates (the demo keeps 674 on every version)
# and keep the six processes to minutes on two cores; --docs 3000 for a larger sample.
DOCS = 1000


# --------------------------------------------------------------------------------------------
# environments: the install command lives here and only here


def install_steps(version: str, python: str) -> list[list[str]]:
    """A venv holding only pyspark ``version`` (and its py4j) and this checkout, which sees the
    reference .venv's packages after its own: every other dependency is the reference's, at the
    reference's versions, so a version's run differs from the reference by Spark alone, and no
    venv installs numpy, pandas, pyarrow and the rest again (minutes of a CI run)."""
    venv = VENVS / version
    py = str(venv / "bin" / "python")
    # A .pth line that imports runs at start-up: addsitedir appends the reference's
    # site-packages (and reads its .pth files) after the venv's own, which therefore win.
    line = f"import site; site.addsitedir({str(_reference_site())!r})\n"
    shared = (
        "import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()['purelib'], "
        f"'compat-reference.pth').write_text({line!r})"
    )
    pip = [py, "-m", "pip", "install", "-q"]
    return [
        [python, "-m", "venv", str(venv)],
        [py, "-c", shared],
        [*pip, "--no-deps", "-e", str(ROOT)],
        [*pip, f"pyspark=={version}"],
    ]


def _check_same_python(python: str) -> None:
    """The venvs load the reference's compiled packages: refuse another Python version."""
    want = _reference_site().parent.name  # e.g. python3.11
    got = subprocess.run(
        [python, "-c", "import sys; print('python%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if got != want:
        _refuse(
            f"--python {python} is {got or 'not runnable'}, but the venvs share the reference "
            f".venv's packages, built for {want}; pass an interpreter of that version"
        )


def _reference_site() -> Path:
    """The reference .venv's site-packages."""
    found = sorted((ROOT / ".venv" / "lib").glob("python3*/site-packages"))
    if not found:
        _refuse(f"no site-packages under {ROOT / '.venv'}: run `make test` first")
    return found[0]


def _refuse(message: str) -> NoReturn:
    """A usage error: one line on stderr, exit code 2."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def ensure_venv(version: str, python: str) -> tuple[Path, float]:
    """The venv's interpreter and the seconds spent installing it (0 when it was there)."""
    venv = VENVS / version
    steps = install_steps(version, python)
    stamp = venv / ".compat-installed"
    want = hashlib.sha256(json.dumps(steps[1:]).encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == want:
        return venv / "bin" / "python", 0.0
    _check_same_python(python)
    t0 = time.monotonic()
    # Built afresh: packages an older install put in the venv would shadow the reference's.
    shutil.rmtree(venv, ignore_errors=True)
    VENVS.mkdir(exist_ok=True)
    log = VENVS / f"{version}.install.log"
    print(f"installing pyspark {version} into {venv} (log: {log})", flush=True)
    with log.open("w") as out:
        for step in steps:
            out.write(" ".join(step) + "\n")
            out.flush()
            subprocess.run(step, check=True, stdout=out, stderr=subprocess.STDOUT)
    stamp.write_text(want)
    return venv / "bin" / "python", time.monotonic() - t0


# --------------------------------------------------------------------------------------------
# inputs, made once by the reference


def prepare(work: Path, docs: int) -> None:
    """The sample (Delta), the demo classifier and the JSONL copy with malformed records."""
    from curation.datasets.sample import write_sample_corpus
    from curation.delta import read_arrow
    from curation.session import SparkSettings, get_session
    from curation.train import load_train_config, train_classifier

    spark = get_session(SparkSettings(master="local[2]", ui=False, shuffle_partitions=8))
    write_sample_corpus(spark, str(work / "sample"), n_docs=docs, seed=42)
    train_cfg = load_train_config(
        ROOT / "conf" / "train_demo.yaml",
        [f"tables.sample.path={work / 'sample'}", f"output={work / 'models' / 'demo.bin'}"],
    )
    train_classifier(spark, train_cfg)
    rows = read_arrow(str(work / "sample")).sort_by("id").to_pylist()
    jsonl = work / "jsonl"
    jsonl.mkdir(parents=True, exist_ok=True)
    half = len(rows) // 2
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    (jsonl / "part-0.jsonl").write_text("\n".join(lines[:half]) + "\n")
    with gzip.open(jsonl / "part-1.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(lines[half:]) + "\n")
    (jsonl / "part-2.jsonl").write_bytes(b"\n".join(_malformed(rows[0])) + b"\n")
    spark.stop()


def _malformed(first: dict) -> list[bytes]:
    """One record per read reason, and values whose string form VARIANT fixes (ids, nesting)."""
    meta = {k: v for k, v in first.items() if k not in ("id", "text")}

    def rec(**fields) -> bytes:
        return json.dumps({**meta, **fields}, ensure_ascii=False).encode()

    return [
        b'{"id": "bad-json", "text": "no end"',
        b'["an", "array"]',
        rec(id="missing-text"),
        rec(id="null-text", text=None),
        rec(id="number-text", text=42),
        rec(id="object-text", text={"a": 1}),
        b'{"id": "invalid-utf8", "text": "\xff\xfe"}',
        rec(id="trailing", text="x") + b" garbage",
        b'{"id": "repeated-key", "text": "a", "text": "b"}',
        b'{"id": "nan", "text": "a", "score": NaN}',
        b'{"id": "surrogate", "text": "\\ud800 alone"}',
        rec(id=first["id"], text="a repeated id"),
        rec(id=1.50, text="a decimal id, read as 1.5"),
        rec(id=12345678901234567890, text="an id past the long range"),
        rec(id=1e20, text="an exponent id"),
        rec(text="no id at all: one is derived from the text"),
        "\ufeff".encode() + rec(id="bom", text="a byte order mark before the record"),
    ]


# --------------------------------------------------------------------------------------------
# one version's runs (inside its venv)


def run_one(work: Path, out: Path) -> None:
    import pyspark
    import yaml

    from curation.config import validate_config
    from curation.delta import read_arrow
    from curation.driver import run_pipeline
    from curation.session import get_session

    demo = yaml.safe_load((ROOT / "conf" / "local_demo.yaml").read_text())
    demo["input"]["path"] = str(work / "sample")
    demo["output"] = str(out.parent / "demo")
    demo["spark"]["master"] = "local[2]"
    demo["spark"]["ui"] = False
    for stage in demo["stages"]:
        if stage["kind"] == "fasttext_quality":
            stage["model_path"] = str(work / "models" / "demo.bin")
    near = {
        "input": {"path": str(work / "jsonl"), "format": "jsonl"},
        "output": str(out.parent / "near"),
        "spark": demo["spark"],
        "stages": [{"kind": "near_dedup", "threshold": 0.8}],
    }
    result = {"pyspark": pyspark.__version__, "python": platform.python_version(), "seconds": {}}
    spark = None
    for name, raw in (("demo", demo), ("near_dedup", near)):
        cfg = validate_config(raw, name)
        spark = spark or get_session(cfg.spark)
        result["spark"] = spark.version
        t0 = time.monotonic()
        run = run_pipeline(cfg, spark=spark)
        result["seconds"][name] = round(time.monotonic() - t0, 1)
        decided = {}
        for table, columns in (
            ("documents", ["id"]),
            ("rejected", ["id", "drop_reason", "dup_of"]),
        ):
            rows = read_arrow(run.table(table)).select(columns).to_pylist()
            for r in rows:
                reason = r.get("drop_reason") or "kept"
                # A read:duplicate_id row shares its id with the row kept first: keyed apart.
                key = r["id"] if r["id"] not in decided else f"{r['id']} (again)"
                decided[key] = reason + (f" of {r['dup_of']}" if r.get("dup_of") else "")
        result[name] = decided
    out.write_text(json.dumps(result, sort_keys=True))


# --------------------------------------------------------------------------------------------
# the matrix


def compare(reference: dict, other: dict, name: str) -> dict:
    ref, got = reference[name], other[name]
    differ = sorted(i for i in ref.keys() | got.keys() if ref.get(i) != got.get(i))
    reasons: dict[str, int] = {}
    for reason in got.values():
        key = reason.split(" of ")[0]
        reasons[key] = reasons.get(key, 0) + 1
    return {
        "rows": len(got),
        "kept": reasons.get("kept", 0),
        "reasons": dict(sorted(reasons.items())),
        "differences": len(differ),
        "examples": [{"id": i, "reference": ref.get(i), "this": got.get(i)} for i in differ[:10]],
    }


def _env(python: Path) -> dict[str, str]:
    # This checkout's curation first: the reference .venv may hold another checkout's editable
    # install. Spark's Python workers inherit the variables.
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYSPARK_PYTHON": str(python),
        "PYSPARK_DRIVER_PYTHON": str(python),
    }


def run_version(python: Path, work: Path, label: str) -> tuple[dict, float]:
    out = work / "runs" / label / "result.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    env = _env(python)
    t0 = time.monotonic()
    subprocess.run([str(python), __file__, "run-one", str(work), str(out)], check=True, env=env)
    return json.loads(out.read_text()), time.monotonic() - t0


def matrix(versions: list[str], python: str, docs: int, work: Path, results: Path) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.time()
    load_before = os.getloadavg()
    envs = {v: ensure_venv(v, python) for v in versions}
    t0 = time.monotonic()
    subprocess.run(
        [str(REFERENCE_PYTHON), __file__, "prepare", str(work), "--docs", str(docs)],
        check=True,
        env=_env(REFERENCE_PYTHON),
    )
    prepare_s = time.monotonic() - t0
    reference, ref_s = run_version(REFERENCE_PYTHON, work, "reference")
    rows = [_row("reference", reference, ref_s, 0.0, None)]
    report: dict = {"runs": rows, "all_equal": True}
    for version, (py, install_s) in envs.items():
        got, seconds = run_version(py, work, version)
        rows.append(_row(version, got, seconds, install_s, reference))
        # Written after every version, so an interrupted matrix still shows what it ran.
        report = {
            "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started)),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "cores": os.cpu_count(),
            "docs": docs,
            "versions_asked": versions,
            "prepare_seconds": round(prepare_s, 1),
            "total_seconds": round(time.time() - started, 1),
            "runs": rows,
            "all_equal": all(r["equal"] for r in rows),
        }
        results.mkdir(parents=True, exist_ok=True)
        (results / "compat.json").write_text(json.dumps(report, indent=2) + "\n")
        (results / "compat.md").write_text(_markdown(report))
    return report


def _row(label: str, got: dict, seconds: float, install_s: float, reference: dict | None) -> dict:
    runs = {name: compare(reference or got, got, name) for name in ("demo", "near_dedup")}
    return {
        "label": label,
        "pyspark": got["pyspark"],
        "spark": got["spark"],
        "process_seconds": round(seconds, 1),
        "install_seconds": round(install_s, 1),
        "seconds": got["seconds"],
        "runs": runs,
        "equal": all(r["differences"] == 0 for r in runs.values()),
    }


def _markdown(report: dict) -> str:
    lines = [
        "# Spark compatibility matrix (`make compat`)",
        "",
        f"Started {report['started_utc']} UTC, {report['cores']} cores, load average "
        f"{report['load_average_before'][0]} before and {report['load_average_after'][0]} after; "
        f"{report['docs']} documents; inputs made in {report['prepare_seconds']} s; "
        f"{report['total_seconds']} s in all.",
        "",
        "| pyspark | process s | demo s | near dedup s | venv install s | demo kept / rows "
        "| near dedup kept / rows | same as reference |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in report["runs"]:
        d, n = r["runs"]["demo"], r["runs"]["near_dedup"]
        same = (
            "reference"
            if r["label"] == "reference"
            else (
                "yes" if r["equal"] else f"no ({d['differences']} + {n['differences']} ids differ)"
            )
        )
        lines.append(
            f"| {r['pyspark']} | {r['process_seconds']} | {r['seconds']['demo']} "
            f"| {r['seconds']['near_dedup']} | {r['install_seconds']} | {d['kept']} / {d['rows']} "
            f"| {n['kept']} / {n['rows']} | {same} |"
        )
    ref = report["runs"][0]["runs"]
    for name in ("demo", "near_dedup"):
        lines += [
            "",
            f"Reasons in the reference's {name} run: "
            + ", ".join(f"{k} {v}" for k, v in ref[name]["reasons"].items()),
        ]
    for r in report["runs"][1:]:
        for name, run in r["runs"].items():
            for ex in run["examples"]:
                lines.append(f"- {r['pyspark']} {name}: {ex}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd")
    p = sub.add_parser("prepare")
    p.add_argument("work", type=Path)
    p.add_argument("--docs", type=int, default=DOCS)
    o = sub.add_parser("run-one")
    o.add_argument("work", type=Path)
    o.add_argument("out", type=Path)
    parser.add_argument("--versions", default=",".join(VERSIONS))
    parser.add_argument("--python", default="python3", help="interpreter the venvs are made from")
    parser.add_argument("--docs", type=int, default=DOCS)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.cmd == "prepare":
        prepare(args.work, args.docs)
        return 0
    if args.cmd == "run-one":
        run_one(args.work, args.out)
        return 0
    report = matrix(args.versions.split(","), args.python, args.docs, args.work, args.results)
    print((args.results / "compat.md").read_text())
    return 0 if report["all_equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
