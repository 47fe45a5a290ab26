"""The URL filter stage in Spark: UT1 and plain lists, the allow list, rows without a URL,
what-if, the report, list shipping and the errors a user meets."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pytest
from pydantic import ValidationError
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

from curation import columns as C
from curation.config import validate_config
from curation.delta import open_store
from curation.driver import Pipeline
from curation.errors import ConfigError, PlanError
from curation.plan import check_plan
from curation.report import gather
from curation.run_layout import RunLayout
from curation.stages import STAGES_BY_KIND
from curation.stages.base import ensure_decision_columns
from curation.stages.rowwise import apply_row_stages, decide, score
from curation.stages.url_filter import UrlFilter, UrlFilterConfig, compact_lists
from curation.text import urls as U
from curation.whatif import whatif

SCHEMA = StructType(
    [
        StructField("id", StringType(), False),
        StructField("text", StringType()),
        StructField("url", StringType()),
    ]
)
TEXT = "A page of ordinary words that the length stage keeps."
PACKAGED_EXAMPLE = (
    Path(__file__).resolve().parents[2] / "curation" / "data" / "url_lists" / "example"
)


def write(path: Path, lines: list[str]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def make_ut1(root: Path) -> str:
    """A small list in UT1's layout; `news` is a category no test selects."""
    write(root / "adult" / "domains", ["# adult", "adult-site.test", "bücher-xxx.test"])
    write(root / "adult" / "urls", ["free-host.test/~pics/", "nsfw"])
    write(root / "gambling" / "domains", ["0.0.0.0 casino.test", "*.poker.example"])
    write(root / "news" / "domains", ["daily-news.test"])
    return str(root)


@pytest.fixture
def ut1(tmp_path) -> str:
    return make_ut1(tmp_path / "blacklists")


ROWS = {
    "blocked-domain": "http://www.Adult-Site.test:8080/page",
    "blocked-sub": "https://eu.adult-site.test/",
    "punycode": "http://shop.xn--bcher-xxx-q9a.test/",
    "hosts-file": "casino.test/roulette",
    "wildcard": "//a.b.poker.example",
    "prefix": "free-host.test/~pics/1.jpg",
    "prefix-other": "free-host.test/~docs/1.html",
    "word": "http://blog.test/2020/nsfw-warning",
    "allowed": "https://good.adult-site.test/nsfw",
    "lookalike": "http://notadult-site.test/",
    "other-category": "http://daily-news.test/",
    "no-scheme": "plain.test/a?b=c",
    "null": None,
    "empty": "  ",
    "javascript": "javascript:void(0)",
}
EXPECTED = {  # id -> (url_status, url_block_category, drop_reason)
    "blocked-domain": (U.BLOCKED_DOMAIN, "adult", "url_filter:blocked_domain"),
    "blocked-sub": (U.BLOCKED_DOMAIN, "adult", "url_filter:blocked_domain"),
    "punycode": (U.BLOCKED_DOMAIN, "adult", "url_filter:blocked_domain"),
    "hosts-file": (U.BLOCKED_DOMAIN, "gambling", "url_filter:blocked_domain"),
    "wildcard": (U.BLOCKED_DOMAIN, "gambling", "url_filter:blocked_domain"),
    "prefix": (U.BLOCKED_SUBSTRING, "adult", "url_filter:blocked_substring"),
    "prefix-other": (U.CLEAN, None, None),
    "word": (U.BLOCKED_SUBSTRING, "adult", "url_filter:blocked_substring"),
    "allowed": (U.ALLOWED, None, None),
    "lookalike": (U.CLEAN, None, None),
    "other-category": (U.CLEAN, None, None),
    "no-scheme": (U.CLEAN, None, None),
    "null": (U.MISSING, None, None),
    "empty": (U.MISSING, None, None),
    "javascript": (U.UNPARSEABLE, None, None),
}


def frame(spark, rows: dict[str, str | None]):
    return spark.createDataFrame([(k, TEXT, v) for k, v in rows.items()], SCHEMA).repartition(2)


def run_stage(spark, cfg: UrlFilterConfig, rows: dict[str, str | None]) -> dict[str, dict]:
    stage = UrlFilter(cfg)
    stage.prepare(spark)
    return {r[C.ID]: r.asDict() for r in apply_row_stages(frame(spark, rows), [stage]).collect()}


def outcome(row: dict) -> tuple:
    return row["url_status"], row["url_block_category"], row[C.DROP_REASON]


# ---- the pipeline: UT1 lists, allow list, rows without a URL, stats, what-if, report ----------


@pytest.fixture(scope="module")
def ut1_run(spark, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("url_filter")
    ut1 = make_ut1(tmp_path / "blacklists")
    store = open_store(spark, "rust")
    source = str(tmp_path / "in")
    store.write(frame(spark, ROWS), source)
    out = str(tmp_path / "out")
    raw = {
        "input": {"path": source, "format": "delta"},
        "output": out,
        "storage": {"engine": "rust"},
        "stages": [
            {
                "kind": "url_filter",
                "ut1_path": ut1,
                "categories": ["adult", "gambling"],
                "allow": ["good.adult-site.test"],
                "on_blocked_substring": "flag",
            },
            {"kind": "length", "min_words": 1},
        ],
    }
    result = Pipeline(validate_config(raw), spark, store).run("urls")
    return store, out, result


def test_ut1_lists_through_the_driver_whatif_and_report(spark, ut1_run):
    store, out, result = ut1_run
    rows = {r[C.ID]: r.asDict() for r in RunLayout(out).run_rows(store, "urls").collect()}
    for key, (status, category, reason) in EXPECTED.items():
        # The run flags substring blocks: those rows are kept with their status.
        kept_reason = None if reason == "url_filter:blocked_substring" else reason
        assert outcome(rows[key]) == (status, category, kept_reason), key
    assert rows["blocked-domain"]["url_match"] == "adult-site.test"
    assert rows["allowed"]["url_match"] == "good.adult-site.test"
    assert rows["prefix"]["url_match"] == "free-host.test/~pics/"

    # Stats: drops per reason, and every status counted (rows kept without a URL included).
    stage = next(s for s in result.stages if s.stage == "url_filter")
    assert stage.dropped == {"url_filter:blocked_domain": 5}
    details = stage.details
    assert (details["rows_missing"], details["rows_unparseable"], details["rows_allowed"]) == (
        2,
        1,
        1,
    )
    assert details["rows_blocked_substring"] == 2 and details["rows_clean"] == 4
    assert details["blocked_domains"] == 4 and details["blocked_url_prefixes"] == 1
    assert details["blocked_words"] == 1 and details["url_column"] == "url"

    # What-if: substrings may go from flag to drop (a decision field); the list may not.
    replay = whatif(spark, store, out, ["stages.url_filter.on_blocked_substring=drop"], "urls")
    assert replay.kept_run - replay.kept_whatif == 2
    with pytest.raises(ConfigError, match="not a pure threshold"):
        whatif(spark, store, out, ["stages.url_filter.allow=[x.test]"], "urls")

    # Report: url_status charted as a category in the stage's own section.
    data = gather(spark, store, out, "urls")
    assert "urls" in [s.id for s in data.sections]
    cats = {c.signal.column: c for c in data.categories}
    status = dict(cats["url_status"].values)
    assert cats["url_status"].signal.section == "urls"
    assert sum(status[U.MISSING]) == 2 and status[U.BLOCKED_DOMAIN] == [0, 5, 0]


def test_the_stats_table_keeps_the_status_counts(spark, ut1_run):
    store, out, _ = ut1_run
    stats = store.read(RunLayout(out).table("stats")).collect()
    row = next(r for r in stats if r["stage"] == "url_filter" and r["reason"] is None)
    assert json.loads(row["details"])["rows_missing"] == 2


# ---- plain lists ------------------------------------------------------------------------------


def test_plain_lists_name_their_category_after_the_file(spark, tmp_path):
    domains = write(tmp_path / "porn_sites.txt", ["adult-site.test"])
    gz = tmp_path / "betting.lst.gz"
    gz.write_bytes(gzip.compress(b"casino.test\n"))
    urls = write(tmp_path / "lists" / "spam" / "urls", ["free-host.test/~pics/", "nsfw"])
    allow = write(tmp_path / "allow.txt", ["good.adult-site.test", "free-host.test/~pics/ok/"])
    cfg = UrlFilterConfig(
        domain_lists=[domains, str(gz)], url_lists=urls, allow_lists=[allow], allow=["blog.test"]
    )
    rows = {
        "a": "adult-site.test/x",
        "b": "casino.test",
        "c": "free-host.test/~pics/1",
        "d": "free-host.test/~pics/ok/2",
        "e": "good.adult-site.test",
        "f": "blog.test/nsfw",
        "g": "other.test/nsfw",
    }
    got = {k: outcome(v) for k, v in run_stage(spark, cfg, rows).items()}
    assert got == {
        "a": (U.BLOCKED_DOMAIN, "porn_sites", "url_filter:blocked_domain"),
        "b": (U.BLOCKED_DOMAIN, "betting", "url_filter:blocked_domain"),
        "c": (U.BLOCKED_SUBSTRING, "spam", "url_filter:blocked_substring"),
        "d": (U.ALLOWED, None, None),
        "e": (U.ALLOWED, None, None),
        "f": (U.ALLOWED, None, None),
        "g": (U.BLOCKED_SUBSTRING, "spam", "url_filter:blocked_substring"),
    }


def test_another_url_column_and_flagged_domains(spark, tmp_path):
    domains = write(tmp_path / "d.txt", ["adult-site.test"])
    cfg = UrlFilterConfig(url_column="page", domain_lists=[domains], on_blocked_domain="flag")
    df = spark.createDataFrame(
        [("x", TEXT, "adult-site.test")], "id string, text string, page string"
    )
    stage = UrlFilter(cfg)
    stage.prepare(spark)
    (row,) = apply_row_stages(df, [stage]).collect()
    assert (row["url_status"], row[C.DROP_REASON]) == (U.BLOCKED_DOMAIN, None)
    assert stage.requires() == (C.ID, "page")


# ---- rows without a URL, empty lists ----------------------------------------------------------


def test_empty_block_list_blocks_nothing_and_says_so(spark, caplog):
    cfg = UrlFilterConfig(allow=["wikipedia.org"])
    with caplog.at_level(logging.WARNING, logger="curation.stages.url_filter"):
        got = run_stage(spark, cfg, {"a": "casino.test", "b": "en.wikipedia.org/wiki/X", "c": None})
    assert "nothing is blocked" in caplog.text
    assert {k: outcome(v) for k, v in got.items()} == {
        "a": (U.CLEAN, None, None),
        "b": (U.ALLOWED, None, None),
        "c": (U.MISSING, None, None),
    }


def test_a_url_column_without_urls_is_reported(spark, tmp_path, caplog):
    stage = UrlFilter(UrlFilterConfig(domain_lists=[write(tmp_path / "d.txt", ["a.test"])]))
    stage.prepare(spark)
    df = ensure_decision_columns(frame(spark, {"a": None, "b": ""}))
    with caplog.at_level(logging.WARNING, logger="curation.stages.url_filter"):
        _, used = decide(score(df, [stage]), [stage])
    assert used["url_filter"]["rows_missing"] == 2
    assert "none of the 2 rows has a URL in column 'url'" in caplog.text


# ---- shipping the lists -----------------------------------------------------------------------


def test_lists_ship_as_one_file_named_by_content(spark, tmp_path):
    first = write(tmp_path / "a" / "d.txt", ["adult-site.test", "casino.test"])
    same = write(tmp_path / "b" / "d.txt", ["casino.test", "# same entries", "adult-site.test"])
    other = write(tmp_path / "c" / "d.txt", ["casino.test"])
    refs = []
    for path in (first, same, other):
        stage = UrlFilter(UrlFilterConfig(domain_lists=[path]))
        stage.prepare(spark)
        refs.append(stage._lists)
    assert refs[0].shipped == "files" and refs[0].name.startswith("url-lists-")
    assert refs[0] == refs[1] and refs[0].name != refs[2].name

    ref = refs[0]

    def where(batches):
        from curation import models

        for _ in batches:
            yield pa.RecordBatch.from_pydict({"path": [models.resolve_path(ref)]})

    (row,) = spark.range(1, numPartitions=1).mapInArrow(where, "path string").collect()
    # Workers read the copy Spark shipped (its userFiles directory), not the driver's file.
    assert row["path"] != ref.path and row["path"].endswith("/" + ref.name)


def test_unprepared_stage_reads_the_lists_itself(spark, tmp_path):
    """Notebook use without prepare(): workers build the lists from the configured paths."""
    stage = UrlFilter(UrlFilterConfig(domain_lists=[write(tmp_path / "d.txt", ["np.test"])]))
    (row,) = apply_row_stages(frame(spark, {"x": "www.np.test"}), [stage]).collect()
    assert row[C.DROP_REASON] == "url_filter:blocked_domain"


# ---- errors a user meets ----------------------------------------------------------------------


def test_config_errors_name_the_field_and_the_fix(ut1, tmp_path):
    with pytest.raises(
        ConfigError, match=r"categories: dating not found under .*it has: adult, gambling, news"
    ):
        compact_lists(UrlFilterConfig(ut1_path=ut1, categories=["adult", "dating"]))
    with pytest.raises(ConfigError, match="ut1_path=.* is not a folder"):
        compact_lists(UrlFilterConfig(ut1_path=str(tmp_path / "nowhere"), categories=["adult"]))
    archive = tmp_path / "blacklists.tar.gz"
    archive.write_bytes(b"\x1f\x8b")
    with pytest.raises(ConfigError, match=r"is an archive; extract it"):
        compact_lists(UrlFilterConfig(ut1_path=str(archive), categories=["adult"]))
    with pytest.raises(ConfigError, match=r"domain_lists: .* does not exist; fix the path"):
        compact_lists(UrlFilterConfig(domain_lists=[str(tmp_path / "missing.txt")]))
    with pytest.raises(ConfigError, match=r"url_lists: .* is not a file"):
        compact_lists(UrlFilterConfig(url_lists=[ut1]))
    (Path(ut1) / "empty").mkdir()
    with pytest.raises(ConfigError, match="'empty' has neither a domains nor a urls file"):
        compact_lists(UrlFilterConfig(ut1_path=ut1, categories=["empty"]))
    with pytest.raises(ValidationError, match="set ut1_path to the folder holding them"):
        UrlFilterConfig(categories=["adult"])
    with pytest.raises(ValidationError, match="not a UT1 category folder name"):
        UrlFilterConfig(ut1_path=ut1, categories=["../etc"])
    with pytest.raises(ValidationError, match="drop"):
        UrlFilterConfig(on_blocked_domain="remove")
    # A YAML string where a list belongs is the one-item list meant.
    assert UrlFilterConfig(ut1_path=ut1, categories="adult").categories == ("adult",)


def test_a_missing_url_column_is_a_plan_error(tmp_path):
    stage = UrlFilter(UrlFilterConfig())
    with pytest.raises(PlanError, match="needs column 'url': no stage produces it"):
        check_plan([stage], ["id", "text", "link"])


def test_a_url_column_of_numbers_fails_with_the_fix(spark):
    stage = UrlFilter(UrlFilterConfig(url_column="n"))
    df = spark.createDataFrame(
        [("a", TEXT, 1)],
        StructType([*SCHEMA.fields[:2], StructField("n", IntegerType())]),
    )
    with pytest.raises(Exception, match="url_column='n' holds int32 values, not text"):
        apply_row_stages(df, [stage]).collect()


# ---- the packaged example and real crawl URLs ---------------------------------------------------


def test_packaged_example_names_only_reserved_domains(spark):
    entries = []
    for path in PACKAGED_EXAMPLE.glob("*/*"):
        lines = path.read_text(encoding="utf-8").splitlines()
        entries += [ln.split("/")[0] for ln in lines if ln and not ln.startswith("#") and "." in ln]
    assert entries and all(e.endswith((".test", ".example")) for e in entries), entries
    cfg = UrlFilterConfig(ut1_path=str(PACKAGED_EXAMPLE), categories=["adult", "gambling"])
    got = run_stage(
        spark,
        cfg,
        {"a": "https://www.lucky-casino.test/", "b": "gewinnspiel-glück.test", "c": "x.test"},
    )
    assert [got[k]["url_status"] for k in "abc"] == [U.BLOCKED_DOMAIN, U.BLOCKED_DOMAIN, U.CLEAN]


def test_real_crawl_urls_are_blocked_exactly_under_listed_domains(spark, shared_data, tmp_path):
    """Dolma's Common Crawl sample: list the parent domain of every third page's host; the
    stage must block exactly the pages whose host (as urllib reads it) is under one of them."""
    lines = (shared_data / "web" / "dolma_cc_samples.jsonl").read_text(encoding="utf-8")
    docs = [json.loads(line) for line in lines.splitlines()]
    hosts = {d["id"]: urlsplit(d["url"]).hostname.removeprefix("www.") for d in docs}
    listed = {".".join(hosts[d["id"]].split(".")[-2:]) for d in docs[::3]}
    expected = {i for i, h in hosts.items() if any(h == p or h.endswith("." + p) for p in listed)}
    cfg = UrlFilterConfig(domain_lists=[write(tmp_path / "d.txt", sorted(listed))])
    got = run_stage(spark, cfg, {d["id"]: d["url"] for d in docs})
    assert {
        i for i, r in got.items() if r[C.DROP_REASON] == "url_filter:blocked_domain"
    } == expected
    assert {r["url_status"] for i, r in got.items() if i not in expected} == {U.CLEAN}


def test_registered_and_first_in_the_fineweb_recipe():
    import yaml

    assert STAGES_BY_KIND["url_filter"] is UrlFilter
    recipe = Path(__file__).resolve().parents[2] / "conf" / "fineweb_en.yaml"
    assert yaml.safe_load(recipe.read_text())["stages"][0]["kind"] == "url_filter"
