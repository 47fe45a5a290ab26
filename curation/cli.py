"""The ``curation`` command line: run, stats, explain, report, whatif, train-classifier,
train-toxicity, eval-toxicity, sample.

Output goes through ``logging`` (curation/logs.py): progress and results on stdout, warnings and
errors on stderr, Spark's own log kept to errors unless ``-v``. User errors (bad config, missing
tables, no pyspark) print one line on stderr and exit 2, no traceback; ``-v`` adds the traceback.
Checks that need no Spark run before a JVM starts; ``--version`` and ``--help`` import no pyspark.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from curation import logs
from curation.errors import CurationError

log = logging.getLogger("curation.cli")  # also under `python -m curation.cli`


def _session(master: str | None = None):
    from pydantic import ValidationError

    from curation.errors import ConfigError
    from curation.session import MASTER_FORMS, SparkSettings, get_session

    try:
        settings = SparkSettings(master=master) if master else None
    except ValidationError:
        raise ConfigError(
            f"--master {master!r} is not a Spark master URL; use {MASTER_FORMS}"
        ) from None
    return get_session(settings)


def _store(spark, engine: str = "auto"):
    from curation.delta import open_store

    return open_store(spark, engine)


def cmd_run(args: argparse.Namespace) -> int:
    from curation.config import read_yaml, validate_config
    from curation.driver import run_pipeline
    from curation.plan import check_plan
    from curation.preflight import preflight
    from curation.run_layout import RESULT_TABLES
    from curation.stages import build_stage
    from curation.summary import SparkTables, format_stats, format_totals, run_stats

    # The command line's options reach the recipe's own storage (a recipe on S3) and the run.
    options = _storage_options(args)
    raw = read_yaml(args.config, args.set or [])
    if options:
        storage_section = raw.setdefault("storage", {})
        if isinstance(storage_section, dict):
            storage_section["options"] = {**(storage_section.get("options") or {}), **options}
    cfg = validate_config(raw, source=args.config)
    from curation import storage

    storage.set_options(cfg.storage.options)  # preflight writes a probe file to the output
    # Before the JVM starts (seconds, and a stack on some failures): what needs no Spark.
    check_plan([build_stage(s) for s in cfg.stages])
    preflight(cfg)
    t0 = time.monotonic()

    def progress(msg: str) -> None:
        log.info("%8.1fs %s", time.monotonic() - t0, msg)

    from curation.delta import open_store
    from curation.session import get_session

    spark = get_session(cfg.spark, delta_jars=cfg.storage.engine == "spark")
    store = open_store(spark, cfg.storage.engine)
    where = cfg.output_root if cfg.output_catalog is None else f"catalog {cfg.output_catalog}"
    progress(f"Spark {spark.version}, Delta engine: {store.engine}, output: {where}")
    result = run_pipeline(cfg, spark=spark, run_id=args.run_id, progress=progress)
    _, rows = run_stats(SparkTables(store, cfg.output_root, cfg.output_catalog), result.run_id)
    tables = "\n".join(f"  {name:<10} {result.table(name)}" for name in RESULT_TABLES)
    log.info("\n%s\n%s\n\n%s", format_totals(result.run_id, rows), format_stats(rows), tables)
    return 0


def _read_results(root: str, master: str | None, read: Callable[[Any], Any]) -> Any:
    """``read(tables)`` with delta-rs in this process, so no JVM starts for a few small reads;
    through Spark when ``--master`` asks for it or delta-rs cannot read the tables (a storage
    pyarrow cannot reach, deletion vectors)."""
    from curation.errors import DeltaError, StorageError
    from curation.storage import check_spark_reaches
    from curation.summary import ArrowTables, SparkTables

    if master is None:
        from deltalake.exceptions import DeltaError as RustDeltaError

        try:
            return read(ArrowTables(root))
        except StorageError:
            raise  # a URI or option problem: Spark would not do better
        except (DeltaError, RustDeltaError, OSError) as err:
            log.warning("delta-rs cannot read %s (%s); reading it with Spark", root, err)
    spark = _session(master)
    store = _store(spark)
    if store.engine == "spark":  # the rust engine reads files Spark cannot reach with pyarrow
        check_spark_reaches(spark, root, "output root")
    return read(SparkTables(store, root))


def cmd_stats(args: argparse.Namespace) -> int:
    from curation.summary import format_stats, run_stats

    run_id, rows = _read_results(args.output_root, args.master, lambda t: run_stats(t, args.run_id))
    log.info("run %s\n%s", run_id, format_stats(rows))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from curation.summary import explain, format_explain

    info = _read_results(args.output_root, args.master, lambda t: explain(t, args.id))
    log.info("%s", format_explain(info))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from curation.report import write_report

    spark = _session(args.master)
    path = write_report(
        spark,
        _store(spark),
        args.output_root,
        args.run_id,
        args.output,
        progress=log.info,
    )
    log.info("report written to %s", path)
    return 0


def cmd_whatif(args: argparse.Namespace) -> int:
    from curation.whatif import whatif

    spark = _session(args.master)
    result = whatif(spark, _store(spark), args.output_root, args.set or [], args.run_id)
    log.info("%s", result.format())
    return 0


def cmd_train_classifier(args: argparse.Namespace) -> int:
    from curation.train import load_train_config, train_classifier

    cfg = load_train_config(args.config, args.set or [])
    spark = _session(args.master)
    result = train_classifier(spark, cfg)
    log.info("%s", result.summary())
    return 0


def cmd_train_toxicity(args: argparse.Namespace) -> int:
    from curation.train.toxicity import load_toxicity_config, train_toxicity

    train_toxicity(load_toxicity_config(args.config, args.set or []))
    return 0


def cmd_eval_toxicity(args: argparse.Namespace) -> int:
    from curation.train.toxicity import load_toxicity_config
    from curation.train.toxicity_eval import evaluate_loso, markdown, write_results

    cfg = load_toxicity_config(args.config, args.set or [])
    result = evaluate_loso(cfg, use_peer=not args.no_peer)
    paths = write_results(result, args.out)
    print(markdown(result))
    print(f"wrote {' and '.join(paths)}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from curation.datasets.sample import resolve_options, write_sample_corpus
    from curation.errors import ConfigError

    # Before Spark starts, so a missing shared folder is a one-line error; the pool is cached.
    try:
        resolve_options(args.base, args.lengths, args.edits)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    spark = _session(args.master)
    info = write_sample_corpus(
        spark,
        args.out,
        n_docs=args.docs,
        seed=args.seed,
        base=args.base,
        lengths=args.lengths,
        edits=args.edits,
        fmt=args.format,
    )
    log.info("%s", info)
    return 0


ROOT_HELP = "a run's output root (the recipe's output:), e.g. out/demo"
NO_SPARK_UNLESS_MASTER = (
    "read the tables with Spark on this master; by default delta-rs reads them, without a JVM"
)


VERBOSE_HELP = "also show Spark's WARN lines, py4j's log and, on an error, its traceback"
MASTER_HELP = "Spark master URL for a session this command builds, e.g. local[4]; default local[*]"
SET_HELP = "override a setting of the recipe (repeatable)"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="curation", description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    # Also after the command (`curation run x.yaml -v`); SUPPRESS keeps a -v given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP
    )
    common.add_argument(
        "--storage-option",
        action="append",
        metavar="KEY=VALUE",
        help="a storage option for delta-rs and pyarrow (aws_endpoint_url=..., "
        "aws_access_key_id=${AWS_ACCESS_KEY_ID}, ...); repeatable; a run adds them to the "
        "recipe's storage.options",
    )
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", parents=[common], help="run a pipeline recipe")
    r.add_argument("config", help="YAML recipe, e.g. conf/local_demo.yaml")
    r.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a setting, e.g. stages.langid.min_score=0.5 (repeatable)",
    )
    r.add_argument("--run-id", help="resume or name a run; a re-run with the same id resumes")
    r.set_defaults(func=cmd_run)

    s = sub.add_parser("stats", parents=[common], help="counts per stage and reason for a run")
    s.add_argument("output_root", help=ROOT_HELP)
    s.add_argument("--run-id", help="default: the latest finished run")
    s.add_argument("--master", help=NO_SPARK_UNLESS_MASTER)
    s.set_defaults(func=cmd_stats)

    e = sub.add_parser("explain", parents=[common], help="why a document was kept or dropped")
    e.add_argument("output_root", help=ROOT_HELP)
    e.add_argument("--id", required=True, help="document id")
    e.add_argument("--master", help=NO_SPARK_UNLESS_MASTER)
    e.set_defaults(func=cmd_explain)

    rep = sub.add_parser("report", parents=[common], help="a self-contained HTML report of a run")
    rep.add_argument("output_root", help=ROOT_HELP)
    rep.add_argument("--run-id", help="default: the latest finished run")
    rep.add_argument("-o", "--output", default="report.html", help="HTML file to write")
    rep.add_argument("--master", help=MASTER_HELP)
    rep.set_defaults(func=cmd_report)

    w = sub.add_parser(
        "whatif", parents=[common], help="re-apply other thresholds to a run's stored signals"
    )
    w.add_argument("output_root", help=ROOT_HELP)
    w.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        required=True,
        help="e.g. stages.quality.gopher_quality.min_stop_words=3 (repeatable)",
    )
    w.add_argument("--run-id", help="default: the latest finished run")
    w.add_argument("--master", help=MASTER_HELP)
    w.set_defaults(func=cmd_whatif)

    t = sub.add_parser(
        "train-classifier", parents=[common], help="train a fastText classifier from tables"
    )
    t.add_argument("config", help="YAML training recipe, e.g. conf/train_demo.yaml")
    t.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="e.g. output=models/q.bin; " + SET_HELP
    )
    t.add_argument("--master", help=MASTER_HELP)
    t.set_defaults(func=cmd_train_classifier)

    tt = sub.add_parser(
        "train-toxicity",
        parents=[common],
        help="train the semantic toxicity heads (and a fastText screen) from labelled sources",
    )
    tt.add_argument("config", help="e.g. conf/train_toxicity.yaml")
    tt.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="e.g. output=models/h.npz; " + SET_HELP
    )
    tt.set_defaults(func=cmd_train_toxicity)

    ev = sub.add_parser(
        "eval-toxicity",
        parents=[common],
        help="leave-one-source-out evaluation of every toxicity backend and the peer",
    )
    ev.add_argument("config", help="the train-toxicity config naming the sources")
    ev.add_argument("--set", action="append", metavar="KEY=VALUE", help=SET_HELP)
    ev.add_argument(
        "--out",
        default="benchmarks/results/toxicity_loso.json",
        help="results file; a .md table is written beside it (default %(default)s)",
    )
    ev.add_argument("--no-peer", action="store_true", help="leave alt-profanity-check out")
    ev.set_defaults(func=cmd_eval_toxicity)

    g = sub.add_parser(
        "sample", parents=[common], help="generate the seeded sample corpus as a Delta table"
    )
    g.add_argument("out", help="table path, e.g. data/sample")
    g.add_argument("--docs", type=int, default=3000, help="number of documents (default 3000)")
    g.add_argument(
        "--seed", type=int, default=42, help="generator seed: one seed, the same rows (default 42)"
    )
    g.add_argument(
        "--base",
        default="builtin",
        help="builtin (generated prose, default), shared (real sentences from ../shared/data), "
        "auto (shared if present) or a directory of JSONL files with a text field",
    )
    g.add_argument(
        "--lengths", choices=["sample", "web"], default="sample", help="web: long-tailed, to 200 KB"
    )
    g.add_argument(
        "--edits",
        choices=["auto", "light", "recorded"],
        default="auto",
        help="near-duplicate editor; auto: recorded unless base and lengths are the defaults",
    )
    g.add_argument(
        "--format",
        choices=["delta", "jsonl"],
        default="delta",
        help="a Delta table, or gzip JSONL part files (read back with input.format: jsonl)",
    )
    g.add_argument("--master", help=MASTER_HELP)
    g.set_defaults(func=cmd_sample)
    return p


def _storage_options(args: argparse.Namespace) -> dict[str, str]:
    """``--storage-option KEY=VALUE`` pairs (values may be ``${NAME}``, expanded when used)."""
    from curation.errors import ConfigError

    options = {}
    for item in getattr(args, "storage_option", None) or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--storage-option {item!r}: expected KEY=VALUE, e.g. "
                "aws_endpoint_url=http://localhost:9000"
            )
        options[key.strip()] = value
    return options


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(args.verbose)
    try:
        from curation import storage

        # Every command reads through curation.storage; a run replaces these with its recipe's.
        storage.set_options(_storage_options(args))
        return args.func(args)
    except CurationError as exc:
        _fail(args, one_line(str(exc)))
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in _SPARK_MODULES:
            raise
        _fail(args, f"{top} is not installed: {_SPARK_MODULES[top]}")
    raise AssertionError("unreachable")  # pragma: no cover - _fail exits


# The wheel leaves Spark to the runtime; a laptop without it gets one line, not a stack.
_SPARK_MODULES = {
    "pyspark": "this command needs Spark; pip install 'curation[spark]' (pyspark 3.5-4.3), or "
    "run it where Spark is installed",
    "delta": "the spark storage engine needs delta-spark's Python API; pip install "
    "'curation[spark]', or set storage.engine: rust",
}


def _fail(args: argparse.Namespace, message: str) -> None:
    if args.verbose:
        traceback.print_exc()
    log.error("error: %s", message)
    # Raised, not returned: a Databricks python_wheel_task calls this entry point as a
    # function and ignores its return value, so only an exit marks the task failed.
    raise SystemExit(2) from None


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("curation")
    except metadata.PackageNotFoundError:  # a source checkout on PYTHONPATH, not installed
        from curation import __version__

        return __version__


def one_line(message: str) -> str:
    """A message on one line: a header ending in ':' then its items, joined with '; '.

    >>> one_line("cfg.yaml: 2 invalid setting(s):\n  a: bad\n  b: bad")
    'cfg.yaml: 2 invalid setting(s): a: bad; b: bad'
    """
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith(":"):
        return f"{lines[0]} {'; '.join(lines[1:])}"
    return "; ".join(lines)


if __name__ == "__main__":
    sys.exit(main())
