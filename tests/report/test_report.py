"""The run report: numbers equal the stats table, sections present, offline, Chromium renders it."""

from __future__ import annotations

import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from tokenizers import Tokenizer, models, pre_tokenizers

from curation import columns as C
from curation.config import validate_config
from curation.datasets.sample import generate_corpus
from curation.delta import open_store
from curation.driver import Pipeline
from curation.errors import CurationError
from curation.report import write_report
from curation.report.gather import _layout
from curation.stages.quality import QualityConfig

RUN_ID = "report-demo"
EVIL_ID = "aaa-evil"  # sorts first, so it is among the samples shown for its reason
# Sentences, so that the quality stage's C4 line filter (which rewrites the stored text of every
# row, including rows an earlier stage dropped) keeps them.
EVIL_LINE = "The page had <script>alert(1)</script> and <img src=https://evil.test/x.png> in it."
MAX_WORDS = 1500


class Page(HTMLParser):
    """Every start tag with its attributes, and the text inside <style>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)

    def with_class(self, cls: str) -> list[dict[str, str]]:
        return [a for _, a in self.tags if cls in a.get("class", "").split()]

    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if "id" in a}


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


def word_tokenizer(path) -> str:
    """A tokenizer.json with one token per whitespace-separated word."""
    tok = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.save(str(path))
    return str(path)


@pytest.fixture(scope="module")
def demo(spark, tmp_path_factory):
    """A real run over 150 generated documents plus a hostile one, through every stage kind
    that needs no user-supplied model, counting tokens."""
    root = tmp_path_factory.mktemp("report")
    store = open_store(spark, "rust")
    corpus = generate_corpus(spark, 150, seed=11)
    evil = spark.createDataFrame(
        [(EVIL_ID, "\n".join([EVIL_LINE] * (MAX_WORDS // 9 + 1)))], "id string, text string"
    )
    store.write(corpus.unionByName(evil, allowMissingColumns=True), str(root / "input"))
    cfg = validate_config(
        {
            "input": {"path": str(root / "input"), "format": "delta"},
            "output": str(root / "out"),
            "storage": {"engine": "rust"},
            "tokenizer": word_tokenizer(root / "tokenizer.json"),
            "stages": [
                {"kind": "length", "min_words": 50, "max_words": MAX_WORDS},
                {"kind": "langid"},
                {"kind": "quality"},
                {"kind": "toxicity"},
                {"kind": "exact_dedup"},
            ],
        }
    )
    Pipeline(cfg, spark, store).run(RUN_ID)
    out = str(root / "out")
    path = write_report(spark, store, out, out_path=str(root / "report.html"))
    stats = [
        r.asDict() for r in store.read(f"{out}/stats").filter(F.col("run_id") == RUN_ID).collect()
    ]
    return {"store": store, "out": out, "html": Path(path), "stats": stats, "root": root}


def test_counts_equal_the_stats_table(demo):
    page = parse(demo["html"].read_text(encoding="utf-8"))
    stats = demo["stats"]
    totals = {r["stage"]: r for r in stats if r["reason"] is None}

    funnel = {a["data-stage"]: a for a in page.with_class("funnel")}
    assert set(funnel) == set(totals) - {"run"}
    for stage, a in funnel.items():
        assert int(a["data-rows-in"]) == totals[stage]["rows_in"]
        assert int(a["data-rows-kept"]) == totals[stage]["rows_kept"]
        assert int(a["data-rows-dropped"]) == totals[stage]["rows_dropped"]

    drops = {
        (a["data-stage"], a["data-reason"]): int(a["data-rows-dropped"])
        for a in page.with_class("drop")
    }
    assert drops == {(r["stage"], r["reason"]): r["rows_dropped"] for r in stats if r["reason"]}
    assert ("length", "length:too_many_words") in drops  # the hostile document

    summary = next(a for _, a in page.tags if "data-rows-in" in a and "data-run-id" in a)
    assert summary["data-run-id"] == RUN_ID
    assert int(summary["data-rows-in"]) == totals["run"]["rows_in"] == 151
    assert int(summary["data-rows-kept"]) == totals["run"]["rows_kept"]
    assert int(summary["data-rows-rejected"]) == totals["run"]["rows_dropped"]


def test_tokens_next_to_documents_equal_the_stats_table_and_the_tables(demo):
    page = parse(demo["html"].read_text(encoding="utf-8"))
    stats = demo["stats"]
    totals = {r["stage"]: r for r in stats if r["reason"] is None}
    funnel = {a["data-stage"]: a for a in page.with_class("funnel")}
    for stage, a in funnel.items():
        assert int(a["data-tokens-in"]) == totals[stage]["tokens_in"]
        assert int(a["data-tokens-kept"]) == totals[stage]["tokens_kept"]
        assert int(a["data-tokens-dropped"]) == totals[stage]["tokens_dropped"]
    drops = {
        (a["data-stage"], a["data-reason"]): int(a["data-tokens-dropped"])
        for a in page.with_class("drop")
    }
    assert drops == {(r["stage"], r["reason"]): r["tokens_dropped"] for r in stats if r["reason"]}

    # The stats table's sums are the tables' n_tokens: what a reason cost in tokens.
    store, out = demo["store"], demo["out"]
    rej = store.read(f"{out}/rejected").filter(F.col("run_id") == RUN_ID)
    docs = store.read(f"{out}/documents").filter(F.col("run_id") == RUN_ID)
    per_reason = {
        r[C.DROP_REASON]: r["t"]
        for r in rej.groupBy(C.DROP_REASON).agg(F.sum(C.N_TOKENS).alias("t")).collect()
    }
    assert drops == {
        (r["stage"], r["reason"]): per_reason[r["reason"]] for r in stats if r["reason"]
    }
    summary = next(a for _, a in page.tags if "data-tokens-in" in a and "data-run-id" in a)
    assert int(summary["data-tokens-kept"]) == docs.agg(F.sum(C.N_TOKENS)).first()[0] > 0
    assert int(summary["data-tokens-in"]) == totals["run"]["tokens_in"]
    text = demo["html"].read_text(encoding="utf-8")
    assert "no tokenizer in the recipe" not in text and "tokens kept" in text
    # The hostile page (dropped for too many words) holds as many tokens as words.
    evil = rej.filter(F.col(C.ID) == EVIL_ID).first()
    assert evil[C.N_TOKENS] == len(EVIL_LINE.split()) * (MAX_WORDS // 9 + 1)


def test_bytes_and_histograms_come_from_the_tables(demo, spark):
    store, out = demo["store"], demo["out"]
    page = parse(demo["html"].read_text(encoding="utf-8"))
    docs = store.read(f"{out}/documents").filter(F.col("run_id") == RUN_ID)
    rej = store.read(f"{out}/rejected").filter(F.col("run_id") == RUN_ID)
    rows = docs.unionByName(rej, allowMissingColumns=True)
    summary = next(a for _, a in page.tags if "data-bytes-in" in a and "data-run-id" in a)
    bytes_in = rows.agg(F.sum(F.octet_length(C.TEXT))).first()[0]
    bytes_kept = docs.agg(F.sum(F.octet_length(C.TEXT))).first()[0]
    assert int(summary["data-bytes-in"]) == bytes_in
    assert int(summary["data-bytes-kept"]) == bytes_kept

    hists = {a["data-column"]: a for a in page.with_class("hist")}
    assert {"len_words", "len_chars", "lang_score", "tox_sum"} <= set(hists)
    words = hists["len_words"]
    assert words["data-stage"] == "length"
    assert int(words["data-count"]) == rows.filter(F.col("len_words").isNotNull()).count()
    assert int(words["data-binned"]) == int(words["data-count"])  # every value is in a bin
    assert float(words["data-threshold-min-words"]) == 50
    assert float(words["data-threshold-max-words"]) == MAX_WORDS

    # Gopher/C4/FineWeb signals of the quality stage, with the stage's cut values marked.
    cut = QualityConfig().gopher_repetition.max_dup_line_frac
    dup_lines = hists["q_dup_line_frac"]
    assert float(dup_lines["data-threshold-gopher-repetition-max-dup-line-frac"]) == cut

    # Duplicates: cluster sizes from dup_of equal the rejected duplicates.
    dups = rej.filter(F.col(C.DUP_OF).isNotNull())
    clusters = next(a for _, a in page.tags if "data-clusters" in a)
    assert int(clusters["data-clusters"]) == dups.select(C.DUP_OF).distinct().count() > 0
    assert int(clusters["data-copies"]) == dups.count()
    assert "dup_cluster_size" in hists

    langs = {a["data-column"]: a for a in page.with_class("categories")}
    assert "lang" in langs and "tox_class" in langs
    en = rows.filter(F.col("lang") == "en").count()
    assert int(langs["lang"]["data-value-en"]) == en


def test_sections_present_and_empty_ones_say_so(demo):
    text = demo["html"].read_text(encoding="utf-8")
    page = parse(text)
    wanted = {
        "summary",
        "funnel",
        "drops",
        "heuristics",
        "language",
        "quality",
        "toxicity",
        "duplicates",
        "samples",
        "timings",
        "versions",
        "config",
    }
    assert wanted <= page.ids()
    # No quality classifier in this run (it needs a trained model): said briefly, not an error.
    start = text.index('<section id="quality">')
    assert "No data: no model-based quality stage" in text[start : text.index("</section>", start)]
    versions = {a["data-table"]: a["data-version"] for a in page.with_class("version")}
    assert versions["documents"] == "0" and versions["input"] == "0"
    timings = {a["data-stage"] for a in page.with_class("timing")}
    assert {"length", "langid", "quality", "toxicity", "exact_dedup"} <= timings
    assert "&quot;min_words&quot;: 50" in text  # the run's config, escaped


def test_samples_are_escaped_and_page_is_offline(demo):
    text = demo["html"].read_text(encoding="utf-8")
    page = parse(text)
    samples = page.with_class("sample")
    reasons = {a["data-reason"] for a in samples}
    assert "length:too_many_words" in reasons and "length:too_few_words" in reasons
    assert EVIL_ID in {a["data-id"] for a in samples}
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    # Nothing can load: no script, no external element, no attribute or style naming a URL.
    assert not [t for t, _ in page.tags if t in ("script", "link", "img", "iframe", "object")]
    for tag, attrs in page.tags:
        for key, value in attrs.items():
            if tag == "meta" and key == "content":
                continue
            assert not value.lower().startswith(("http:", "https:", "//")), (tag, key, value)
    css = "".join(page.styles)
    assert "url(" not in css and "@import" not in css


def test_rendered_by_headless_chromium(demo, tmp_path):
    html = demo["html"].read_text(encoding="utf-8")
    assert "<svg" in html  # the HTML assertions above hold with or without a browser
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium); HTML checked without it")
    png = tmp_path / "report.png"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    url = demo["html"].resolve().as_uri()
    subprocess.run(
        [browser, *flags, f"--screenshot={png}", "--window-size=1280,4000", url],
        check=True,
        capture_output=True,
        timeout=120,
    )
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 4000)
    assert len(data) > 50_000  # a blank page of this size compresses to a few KB
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", url],
        check=True,
        capture_output=True,
        timeout=120,
        text=True,
    ).stdout
    rendered = parse(dom)
    assert {a["data-stage"] for a in rendered.with_class("funnel")} == {
        r["stage"] for r in demo["stats"] if r["reason"] is None and r["stage"] != "run"
    }
    assert dom.count("<svg") == html.count("<svg")


def test_missing_run_and_missing_tables_are_clear_errors(demo, tmp_path, spark):
    with pytest.raises(CurationError, match="no-such-run"):
        write_report(
            spark,
            demo["store"],
            demo["out"],
            run_id="no-such-run",
            out_path=str(tmp_path / "r.html"),
        )
    with pytest.raises(CurationError, match="no 'stats' table"):
        write_report(
            spark, demo["store"], str(tmp_path / "nothing"), out_path=str(tmp_path / "r.html")
        )
    assert not (tmp_path / "r.html").exists()


def test_layout_clips_heavy_tails_and_pulls_thresholds_into_view():
    # A long tail (max 100k, p99 900): bins cover p1..p99; the threshold at 50 is in view.
    lay = _layout(3, 100_000, [10, 900], {"min_words": 50}, integer=True)
    assert lay["lo"] == 10 and lay["lo"] + lay["width"] * lay["bins"] >= 900
    # A threshold far beyond the body (100k vs a body of ~900) is not pulled in.
    lay = _layout(3, 100_000, [10, 900], {"max_words": 100_000}, integer=True)
    assert lay["lo"] + lay["width"] * lay["bins"] < 2000
    # Small integer ranges get one bin per value; a constant float column still gets a range.
    lay = _layout(0, 3, [0, 3], {}, integer=True)
    assert (lay["lo"], lay["width"], lay["bins"]) == (0, 1.0, 4)
    lay = _layout(0.5, 0.5, [0.5, 0.5], {}, integer=False)
    assert lay["width"] > 0 and lay["bins"] == 40
