"""Throughput and agreement of the URL filter, beside datatrove's URLFilter on the same rows.

Rows: every distinct URL found in the shared data (the links in SpamAssassin mail, the Dolma
Common Crawl sample's page URLs), topped up with generated URLs (schemes or none, ``www.``,
ports, userinfo, upper case, Unicode and punycode hosts, paths and queries), some of them planted
under listed domains, URL prefixes, words and allowed domains, plus null, empty and unparseable
values (a generated "clean" host may by chance be a listed one: names are short random words). Lists, in UT1's layout: ~100,000 generated domains (plus the parent domains of every
twentieth real host), ~10,000 host/path prefixes, 200 words, 100 allowed domains.

Measured, in one invocation:

a. building the compact list file from the UT1 folder (the driver's ``prepare``), its size, and
   loading it (what each Python worker does once);
b. the kernel alone (``UrlLists.classify`` over 10,000-row Arrow batches), one core, CPU time;
c. the stage inside Spark ``local[1]`` (score and decide, ``noop`` sink) on the rows with a URL
   and an id only, and again with ~3.3 KB of text per row as real documents carry; each beside a
   pass-through row stage on the same rows, so the filter's own cost is the difference;
d. datatrove 0.10.1's ``URLFilter`` (tldextract + a set for domains, Aho-Corasick for subwords)
   in its own venv on the same URLs with the same domains and words, CPU time; and the
   agreement of its decisions with ours, row by row, with examples of each disagreement.

    python benchmarks/bench_url_filter.py [--rows 100000] [--domains 100000]
        [--peer-python .venv-peers/bin/python | --skip-peer]

Writes benchmarks/results/bench_url_filter.json. The machine is shared: the load average before
and after is recorded, and CPU time is given wherever one process does all the work.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_quality import time_noop_pass, write_result  # noqa: E402 - sibling script, not a package

DEFAULT_DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_PEER = ROOT / ".venv-peers" / "bin" / "python"
LINK = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)
TLDS = ["com", "net", "org", "de", "fr", "ru", "info", "co.uk", "com.br", "io", "xyz", "jp"]
UNICODE_LABELS = ["bücher", "münchen", "café", "straße-shop", "пример", "παράδειγμα", "日本語"]
TEXT_CHARS = 3300


def real_urls(data: Path) -> list[str]:
    """Distinct URLs as they appear in the shared data: mail links and crawled page URLs."""
    found: list[str] = []
    with (data / "text" / "spamassassin.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            found += [u.rstrip(".,;:!?>") for u in LINK.findall(json.loads(line)["text"])]
    with (data / "web" / "dolma_cc_samples.jsonl").open(encoding="utf-8") as fh:
        found += [json.loads(line)["url"] for line in fh]
    return sorted(set(found))


def _word(rng: random.Random, lo: int = 3, hi: int = 10) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(lo, hi)))


def _domain(rng: random.Random) -> str:
    name = _word(rng) if rng.random() < 0.6 else f"{_word(rng)}-{_word(rng, 2, 6)}"
    # "www.co.uk" would be listed as co.uk: a leading www. is not a name of its own.
    name = "x" + name if name.startswith("www") else name
    return f"{name}.{rng.choice(TLDS)}"


def _punycode(host: str) -> str:
    """The ASCII form of a lowercase Unicode host, label by label (IDNA2008 keeps "ß"; the
    stdlib's IDNA2003 codec would turn it into "ss", another domain since 2010)."""
    return ".".join(
        label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
        for label in host.split(".")
    )


def _registered(host: str) -> str:
    """example.co.uk, example.com: the name a registrar sold (a short heuristic, no PSL)."""
    labels = host.lower().removeprefix("www.").split(".")
    if len(labels) < 2 or labels[-1].isdigit():
        return ""
    sld = len(labels[-1]) == 2 and labels[-2] in ("co", "com", "org", "net", "ac", "gov", "edu")
    keep = 3 if sld else 2
    return ".".join(labels[-keep:]) if len(labels) >= keep else ""


def _spell(rng: random.Random, host: str, path: str) -> str:
    """A URL for ``host`` the way crawls and link dumps write them."""
    if rng.random() < 0.3:
        host = "www." + host
    if rng.random() < 0.05:
        host = host.upper()
    if rng.random() < 0.005:
        host = "user:pw@" + host
    if rng.random() < 0.02:
        host += f":{rng.choice([80, 443, 8080, 8443])}"
    scheme = rng.choices(["https://", "http://", "", "//"], [60, 28, 10, 2])[0]
    return scheme + host + path


def _path(rng: random.Random) -> str:
    parts = "/".join(_word(rng, 2, 9) for _ in range(rng.randint(0, 4)))
    query = f"?{_word(rng, 1, 5)}={_word(rng, 1, 8)}" if rng.random() < 0.2 else ""
    return "/" + parts + query


def build_case(data: Path, n_rows: int, n_domains: int, seed: int = 11):
    """Rows (id, url, planted kind) and the lists, in UT1's folder layout under a temp dir."""
    from urllib.parse import urlsplit

    rng = random.Random(seed)
    real = real_urls(data)
    domains = {_domain(rng) for _ in range(n_domains)}
    # Real hosts under the list too: the registered domain of every twentieth real URL's host.
    real_parents = {_registered(urlsplit(url).hostname or "") for url in real[::20]} - {""}
    domains |= real_parents
    domains_list = sorted(domains)
    unicode_blocked = [f"{w}.{rng.choice(TLDS)}" for w in UNICODE_LABELS]
    prefix_hosts = [_domain(rng) for _ in range(10_000)]
    prefixes = [f"{h}/{_word(rng, 3, 8)}/" for h in prefix_hosts]
    words = sorted({_word(rng, 6, 10) for _ in range(200)})
    # Allowed: listed domains too (the allow list must win), from the generated ones only, so
    # real URLs are judged by the block list alone.
    allowed = rng.sample(sorted(d for d in domains if d not in real_parents), 100)

    rows: list[tuple[str, str | None, str]] = [(u, "real") for u in real]  # type: ignore[misc]
    while len(rows) < n_rows:
        r = rng.random()
        if r < 0.05:  # under a listed domain, at any depth
            sub = "".join(f"{_word(rng, 1, 6)}." for _ in range(rng.randint(0, 2)))
            rows.append((_spell(rng, sub + rng.choice(domains_list), _path(rng)), "domain"))
        elif r < 0.052:  # a listed Unicode domain, written in Unicode or in punycode
            host = rng.choice(unicode_blocked)
            host = host if rng.random() < 0.5 else _punycode(host)
            rows.append((_spell(rng, host, _path(rng)), "domain"))
        elif r < 0.062:  # under a listed URL prefix
            entry = rng.choice(prefixes)
            rows.append(
                (
                    _spell(rng, entry.split("/")[0], "/" + entry.split("/", 1)[1] + _word(rng)),
                    "prefix",
                )
            )
        elif r < 0.072:  # a listed word in the host or the path
            w = rng.choice(words)
            host = (
                f"{w}{_word(rng, 0, 4)}.{rng.choice(TLDS)}" if rng.random() < 0.5 else _domain(rng)
            )
            path = _path(rng) + (f"/{w}" if not host.startswith(w) else "")
            rows.append((_spell(rng, host, path), "word"))
        elif r < 0.077:  # an allowed domain that is also listed
            rows.append((_spell(rng, rng.choice(allowed), _path(rng)), "allowed"))
        elif r < 0.087:
            rows.append((rng.choice([None, "", " "]), "missing"))
        elif r < 0.092:
            rows.append(
                (
                    rng.choice(["javascript:void(0)", "mailto:", "/relative", "http://a b/"]),
                    "unparseable",
                )
            )
        else:
            rows.append((_spell(rng, _domain(rng), _path(rng)), "clean"))
    rng.shuffle(rows)
    root = Path(tempfile.mkdtemp(prefix="bench-url-lists-"))
    (root / "adult").mkdir()
    (root / "gambling").mkdir()
    half = len(domains_list) // 2
    (root / "adult" / "domains").write_text("\n".join(domains_list[:half] + unicode_blocked) + "\n")
    (root / "gambling" / "domains").write_text("\n".join(domains_list[half:]) + "\n")
    (root / "adult" / "urls").write_text("\n".join(prefixes + words) + "\n")
    (root / "allow.txt").write_text("\n".join(allowed) + "\n")
    lists = {
        "domains": domains_list + unicode_blocked,
        "prefixes": prefixes,
        "words": words,
        "allowed": allowed,
    }
    return [(f"r{i:06d}", u, kind) for i, (u, kind) in enumerate(rows)], root, lists


def stage_config(root: Path):
    from curation.stages.url_filter import UrlFilterConfig

    return UrlFilterConfig(
        ut1_path=str(root),
        categories=["adult", "gambling"],
        allow_lists=[str(root / "allow.txt")],
    )


def bench_lists(root: Path) -> dict:
    from curation.stages.url_filter import compact_lists
    from curation.text.urls import UrlLists

    c0, w0 = time.process_time(), time.perf_counter()
    path, lists, _ = compact_lists(stage_config(root))
    build_cpu, build_wall = time.process_time() - c0, time.perf_counter() - w0
    c0 = time.process_time()
    UrlLists.load(path)
    return {
        **lists.sizes(),
        "build_cpu_seconds": round(build_cpu, 3),
        "build_wall_seconds": round(build_wall, 3),
        "file_bytes": os.path.getsize(path),
        "load_cpu_seconds": round(time.process_time() - c0, 4),
        "path": path,
    }


def bench_kernel(path: str, urls: list[str | None], repeats: int = 3) -> tuple[dict, list[str]]:
    import pyarrow as pa

    from curation.text.urls import UrlLists

    lists = UrlLists.load(path)
    batches = [
        pa.array(urls[i : i + 10_000], type=pa.string()) for i in range(0, len(urls), 10_000)
    ]
    lists.classify(batches[0])  # warm-up
    best = float("inf")
    statuses: list[str] = []
    for _ in range(repeats):
        c0 = time.process_time()
        out = [lists.classify(b) for b in batches]
        best = min(best, time.process_time() - c0)
    for o in out:
        statuses += o["status"].to_pylist()
    return {
        "rows": len(urls),
        "cpu_seconds": round(best, 3),
        "rows_per_cpu_second": round(len(urls) / best),
        "us_per_row_cpu": round(best / len(urls) * 1e6, 2),
        "batch_rows": 10_000,
    }, statuses


def bench_spark(root: Path, rows: list[tuple], text_chars: int, repeats: int = 3) -> dict:
    from pyspark.sql.types import StructField

    from curation.session import SparkSettings, get_session
    from curation.stages.base import RowStage
    from curation.stages.rowwise import apply_row_stages
    from curation.stages.url_filter import UrlFilter

    class PassThrough(RowStage):
        """The same Arrow pass with a scorer that adds one constant column: the floor."""

        config_class = type(stage_config(root))
        decision_fields = frozenset()

        def output_fields(self):
            from pyspark.sql.types import StringType

            return [StructField("pass", StringType())]

        def scorer(self):
            import pyarrow as pa

            return lambda batch: {"pass": pa.nulls(batch.num_rows, pa.string())}

        def rules(self, scored, cutoffs):
            return []

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = get_session(
        SparkSettings(
            master="local[1]",
            ui=False,
            shuffle_partitions=1,
            driver_memory="3g",
            conf={"spark.python.worker.reuse": "true", "spark.sql.adaptive.enabled": "false"},
        )
    )
    filler = ("Lorem ipsum dolor sit amet, a plain sentence of filler text. " * 60)[:text_chars]
    data = [(i, filler, u) for i, u, _ in rows]
    df = spark.createDataFrame(data, "id string, text string, url string").repartition(1).cache()
    df.count()
    out: dict = {"master": "local[1]", "rows": len(rows), "text_chars": text_chars}
    for label, stage in (
        ("pass_through", PassThrough(stage_config(root))),
        ("url_filter", UrlFilter(stage_config(root))),
    ):
        stage.prepare(spark)
        job = df.transform(apply_row_stages, [stage])
        t = time_noop_pass(spark, job, len(rows), repeats)
        out[label] = {
            "wall_seconds": t["wall_seconds"],
            "rows_per_second_per_core": round(t["docs_per_second_per_core"]),
            "cpu_seconds_jvm_and_python": t["cpu_seconds_jvm_and_python"],
            "rows_per_cpu_second": round(t["docs_per_cpu_second"]),
            "load_average_1min": t["load_average_1min"],
        }
    out["url_filter_share_of_pass_through_rate"] = round(
        out["url_filter"]["rows_per_second_per_core"]
        / out["pass_through"]["rows_per_second_per_core"],
        3,
    )
    df.unpersist()
    spark.stop()
    return out


PEER_SCRIPT = r"""
import json, sys, time
from importlib import metadata
from datatrove.data import Document
from datatrove.pipeline.filters.url_filter import URLFilter
from tldextract import TLDExtract

case = json.load(open(sys.argv[1]))
f = URLFilter(extra_domains=case["domains"], banned_subwords=case["words"], use_integrated_lists=False)
# The public suffix list snapshot bundled with tldextract: no network fetch.
f.tldextractor = TLDExtract(suffix_list_urls=())
docs = [Document(text="", id=i, metadata={"url": u}) for i, u in case["rows"]]
f.filter(docs[0])  # warm-up
c0 = time.process_time()
out = {}
for d in docs:
    r = f.filter(d)
    out[d.id] = "kept" if r is True else r[1]
cpu = time.process_time() - c0
versions = {p: metadata.version(p) for p in ("datatrove", "tldextract", "pyahocorasick")}
json.dump({"cpu_seconds": cpu, "decisions": out, "versions": versions}, open(sys.argv[2], "w"))
"""


def bench_peer(peer: Path, rows: list[tuple], lists: dict, ours: dict[str, str]) -> dict:
    """datatrove's URLFilter on the rows with a URL (it asserts one), same domains and words."""
    work = Path(tempfile.mkdtemp(prefix="bench-url-peer-"))
    usable = [(i, u) for i, u, _ in rows if u and u.strip()]
    case = {"rows": usable, "domains": lists["domains"], "words": lists["words"]}
    (work / "case.json").write_text(json.dumps(case))
    (work / "peer.py").write_text(PEER_SCRIPT)
    subprocess.run(
        [str(peer), str(work / "peer.py"), str(work / "case.json"), str(work / "out.json")],
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    got = json.loads((work / "out.json").read_text())
    shutil.rmtree(work, ignore_errors=True)
    theirs = got["decisions"]
    kind = {i: k for i, _, k in rows}
    url = {i: u for i, u, _ in rows}
    # Compared on what both can express: domains and words. datatrove has no allow list and no
    # host/path prefixes, so rows we allowed and planted prefix rows are left out.
    compared = [i for i, _ in usable if kind[i] != "prefix" and ours[i] != "allowed"]

    def ours_blocks(i: str) -> bool:
        return ours[i] in ("blocked_domain", "blocked_substring")

    def theirs_blocks(i: str) -> bool:
        return theirs[i] != "kept"

    both = sum(ours_blocks(i) and theirs_blocks(i) for i in compared)
    only_ours = [i for i in compared if ours_blocks(i) and not theirs_blocks(i)]
    only_theirs = [i for i in compared if theirs_blocks(i) and not ours_blocks(i)]
    agree = len(compared) - len(only_ours) - len(only_theirs)
    by_kind: dict[str, dict[str, int]] = {}
    by_cause: dict[str, int] = {}
    cause_examples: dict[str, list[str]] = {}
    mine = set(only_ours)
    for i in only_ours + only_theirs:
        side = "only_ours" if i in mine else "only_datatrove"
        by_kind.setdefault(kind[i], {}).setdefault(side, 0)
        by_kind[kind[i]][side] += 1
        cause = f"{side}: {_cause(url[i])}"
        by_cause[cause] = by_cause.get(cause, 0) + 1
        if len(cause_examples.setdefault(cause, [])) < 4:
            cause_examples[cause].append(url[i])
    return {
        **got["versions"],
        "rows": len(usable),
        "cpu_seconds": round(got["cpu_seconds"], 3),
        "rows_per_cpu_second": round(len(usable) / got["cpu_seconds"]),
        "compared_rows": len(compared),
        "agreement": round(agree / len(compared), 5),
        "both_block": both,
        "only_ours_block": len(only_ours),
        "only_datatrove_blocks": len(only_theirs),
        "disagreements_by_planted_kind": by_kind,
        "disagreements_by_cause": by_cause,
        "examples_by_cause": cause_examples,
        "examples_only_ours": [(url[i], ours[i]) for i in only_ours[:8]],
        "examples_only_datatrove": [(url[i], theirs[i]) for i in only_theirs[:8]],
    }


def _cause(url: str) -> str:
    """What sets a URL apart that a host-level comparison could trip on."""
    from urllib.parse import urlsplit

    netloc = urlsplit(url if "//" in url else "//" + url).netloc.rpartition("@")[2]
    host = netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc
    if not host.isascii() or "xn--" in host.lower():
        return "internationalised host"
    if host != host.lower():
        return "upper-case letters in the host"
    return "other"


def planted_recall(rows: list[tuple], statuses: list[str]) -> dict:
    """Per planted kind: how many rows got the status the plant calls for."""
    want = {
        "domain": "blocked_domain",
        "prefix": "blocked_substring",
        "word": "blocked_substring",
        "allowed": "allowed",
        "missing": "missing",
        "unparseable": "unparseable",
    }
    out: dict[str, dict] = {}
    for (_, _, kind), status in zip(rows, statuses, strict=True):
        slot = out.setdefault(kind, {"rows": 0, "as_planted": 0, "statuses": {}})
        slot["rows"] += 1
        slot["statuses"][status] = slot["statuses"].get(status, 0) + 1
        if want.get(kind) == status:
            slot["as_planted"] += 1
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--domains", type=int, default=100_000)
    ap.add_argument("--peer-python", type=Path, default=DEFAULT_PEER)
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--skip-text", action="store_true", help="skip the ~3.3 KB text Spark run")
    ap.add_argument("--out", type=Path, default=RESULTS / "bench_url_filter.json")
    args = ap.parse_args(argv)
    result: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
        }
    }
    rows, root, lists = build_case(args.data, args.rows, args.domains)
    result["rows"] = {
        "total": len(rows),
        "real_urls": sum(k == "real" for _, _, k in rows),
        "planted": {k: sum(x == k for _, _, x in rows) for k in sorted({k for _, _, k in rows})},
    }
    result["lists"] = bench_lists(root)
    print("lists", result["lists"], file=sys.stderr)
    urls = [u for _, u, _ in rows]
    result["kernel_one_core"], statuses = bench_kernel(result["lists"].pop("path"), urls)
    print("kernel", result["kernel_one_core"], file=sys.stderr)
    result["planted_rows"] = planted_recall(rows, statuses)
    result["spark_url_only"] = bench_spark(root, rows, 0)
    print("spark url only", result["spark_url_only"], file=sys.stderr)
    if not args.skip_text:
        result["spark_with_text"] = bench_spark(root, rows, TEXT_CHARS)
        print("spark with text", result["spark_with_text"], file=sys.stderr)
    if not args.skip_peer and args.peer_python.exists():
        ours = {i: s for (i, _, _), s in zip(rows, statuses, strict=True)}
        result["datatrove"] = bench_peer(args.peer_python, rows, lists, ours)
        print(
            "datatrove",
            {k: v for k, v in result["datatrove"].items() if "examples" not in k},
            file=sys.stderr,
        )
        result["kernel_speedup_vs_datatrove_cpu"] = round(
            result["kernel_one_core"]["rows_per_cpu_second"]
            / result["datatrove"]["rows_per_cpu_second"],
            1,
        )
    shutil.rmtree(root, ignore_errors=True)
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
