"""URL filter: drop pages whose URL falls under a block list of domains, URL prefixes or words.

Lists come in UT1's layout (a folder per category holding ``domains`` and ``urls`` files: the
Université Toulouse Capitole blacklists RefinedWeb used) or as plain files, plus an allow list
that overrides them; matching rules are in ``curation.text.urls``. ``prepare`` reads every list
on the driver into one compact file named after its content and ships it like a model, so each
Python worker loads it once (``curation.models``).

Columns: ``url_status`` (missing | unparseable | allowed | blocked_domain | blocked_substring |
clean), ``url_block_category`` (the blocking entry's category) and ``url_match`` (the entry that
decided: a domain, a host-anchored URL prefix or a word). A row without a usable URL is kept:
its status says why, and the run's count of each status is in the stats table's details (the
report charts the same column as a category).

Lists are identified by content: edit a list and the next ``prepare`` ships a new file. But a
Spark session's reused Python workers keep the scorer they built for an unchanged config, so
within one session give an edited list a new path (or restart the session).

>>> cfg = UrlFilterConfig(ut1_path="lists/blacklists", categories=["adult", "gambling"])
>>> df.transform(apply_row_stages, [UrlFilter(cfg)])   # adds url_*, drops blocked pages
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import tempfile
from collections.abc import Sequence
from typing import Any, Literal

import pyarrow as pa
import pyarrow.fs as pafs
from pydantic import Field, field_validator, model_validator
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField

from curation import columns as C
from curation.errors import ConfigError
from curation.models import ModelRef, cached_model, local_ref, ship_model
from curation.stages.base import NO_CUTOFFS, Cutoffs, ReportSection, RowStage, StageConfig
from curation.storage import Location
from curation.text import urls as U

STATUS, CATEGORY, MATCH = "url_status", "url_block_category", "url_match"
REASON_DOMAIN = "url_filter:blocked_domain"
REASON_SUBSTRING = "url_filter:blocked_substring"
# RefinedWeb (Penedo et al. 2023, appendix G.1.1) blocks these ten UT1 categories.
REFINEDWEB_CATEGORIES = (
    "adult",
    "phishing",
    "dating",
    "gambling",
    "filehosting",
    "ddos",
    "agressif",
    "chat",
    "mixed_adult",
    "arjel",
)
_CATEGORY = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"
_ARCHIVES = (".tar.gz", ".tgz", ".tar", ".zip")
log = logging.getLogger(__name__)

Policy = Literal["drop", "flag"]


def _as_tuple(value: object, what: str) -> object:
    """A YAML string where a list belongs is the one-item list the user meant."""
    if isinstance(value, str):
        return (value,)
    if value is not None and not isinstance(value, (list, tuple)):
        raise ValueError(f"must be a list of {what}")
    return value


class UrlFilterConfig(StageConfig):
    """Where the URL is, which block and allow lists apply, and what a block does."""

    kind: Literal["url_filter"] = "url_filter"
    # Dolma, FineWeb and RefinedWeb rows carry the page address in a field named url.
    url_column: str = Field(
        "url",
        min_length=1,
        max_length=256,
        description="Input column holding the page URL (a top-level field; with or without "
        "scheme). Rows where it is null, empty or not a URL are kept.",
    )
    # UT1 is not shipped: the lists are the user's (see curation/data/url_lists/README.md).
    ut1_path: str | None = Field(
        None,
        min_length=1,
        description="Folder in UT1's layout: one folder per category, each with a domains "
        "and/or a urls file (local path or URI). Null: no UT1 lists.",
    )
    # RefinedWeb's ten UT1 categories (appendix G.1.1).
    categories: tuple[str, ...] = Field(
        REFINEDWEB_CATEGORIES,
        min_length=1,
        max_length=200,
        description="UT1 categories (folder names under ut1_path) to block.",
    )
    domain_lists: tuple[str, ...] = Field(
        (),
        max_length=100,
        description="Plain files of domains to block, one per line (.gz/.bz2/.zst read as "
        "such); the category is the file name without extension (or its folder's name for a "
        "file named domains).",
    )
    url_lists: tuple[str, ...] = Field(
        (),
        max_length=100,
        description="Plain files of URL entries to block, one per line: host/path prefixes "
        "(example.com/videos/) or words matched anywhere in the URL (casino).",
    )
    allow_lists: tuple[str, ...] = Field(
        (),
        max_length=100,
        description="Files of domains or host/path prefixes that are never blocked.",
    )
    allow: tuple[str, ...] = Field(
        (),
        max_length=10_000,
        description="Allow entries written in the recipe, same syntax as allow_lists.",
    )
    # Drop, as RefinedWeb and datatrove's URLFilter do; flag keeps the row with its url_status.
    on_blocked_domain: Policy = Field("drop", description="drop | flag a URL on a listed domain.")
    # Words catch unrelated pages too (datatrove's "sex" in "essex"); flag lets a run measure it.
    on_blocked_substring: Policy = Field(
        "drop", description="drop | flag a URL matching a listed URL prefix or word."
    )

    @field_validator("categories", mode="before")
    @classmethod
    def _categories_list(cls, value: object) -> object:
        return _as_tuple(value, "UT1 category names, e.g. categories: [adult, gambling]")

    @field_validator("domain_lists", "url_lists", "allow_lists", mode="before")
    @classmethod
    def _paths_list(cls, value: object) -> object:
        return _as_tuple(value, "file paths, e.g. [lists/blocked.txt]")

    @field_validator("allow", mode="before")
    @classmethod
    def _allow_list(cls, value: object) -> object:
        return _as_tuple(value, "domains or host/path prefixes, e.g. allow: [wikipedia.org]")

    @field_validator("categories")
    @classmethod
    def _category_names(cls, categories: tuple[str, ...]) -> tuple[str, ...]:
        for name in categories:
            if not re.fullmatch(_CATEGORY, name) or name in (".", ".."):
                raise ValueError(f"{name!r} is not a UT1 category folder name (e.g. adult)")
        return categories

    @model_validator(mode="after")
    def _categories_need_ut1(self) -> UrlFilterConfig:
        if "categories" in self.model_fields_set and self.ut1_path is None:
            raise ValueError(
                f"categories={list(self.categories)} picks folders of a UT1 list, but ut1_path "
                "is not set; set ut1_path to the folder holding them (or remove categories)"
            )
        return self


class UrlFilter(RowStage):
    config_class = UrlFilterConfig
    config: UrlFilterConfig
    decision_fields = frozenset({"on_blocked_domain", "on_blocked_substring"})
    report_section = ReportSection("urls", "URLs", "no URL filter stage in this run")

    def __init__(self, config: UrlFilterConfig):
        super().__init__(config)
        self._lists: ModelRef | None = None
        self._facts: dict[str, Any] = {}

    def requires(self) -> Sequence[str]:
        return (C.ID, self.config.url_column)

    def output_fields(self):
        return [StructField(c, StringType()) for c in (STATUS, CATEGORY, MATCH)]

    def prepare(self, spark) -> None:
        """Read every list once on the driver and ship the compact result to the executors."""
        path, lists, builder = compact_lists(self.config)
        self._facts = {"lists": os.path.basename(path), **lists.sizes()}
        if builder.skipped:
            self._facts["skipped_entries"] = builder.skipped
            log.warning(
                "%s: skipped %d list entries that are neither a domain nor a URL, e.g. %s",
                self.name,
                builder.skipped,
                "; ".join(builder.skipped_examples),
            )
        if lists.blocks_nothing:
            log.warning(
                "%s: the block lists are empty (no ut1_path, domain_lists or url_lists "
                "entries): nothing is blocked, url_status is only recorded",
                self.name,
            )
        self._lists = ship_model(spark, path)

    def scorer(self):
        ref = self._lists or local_ref(compact_lists(self.config)[0])
        column, name = self.config.url_column, self.name

        def run(batch: pa.RecordBatch) -> dict[str, pa.Array]:
            lists = cached_model(ref, U.UrlLists.load)
            urls = batch.column(column)
            t = urls.type
            if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)):
                raise ConfigError(
                    f"{name}.url_column={column!r} holds {t} values, not text; "
                    "set url_column to the field holding the page URL"
                )
            out = lists.classify(urls)
            return {STATUS: out["status"], CATEGORY: out["category"], MATCH: out["match"]}

        return run

    def cutoffs(self, scored: DataFrame) -> Cutoffs:
        """Rows of each url_status among those the stage scored (for the stats table).

        In a run this reads one stored column of the segment's table; over a DataFrame that
        was not materialised (a notebook's ``apply_row_stages``) Spark scores the rows again.
        """
        found = {
            r[STATUS]: r["n"]
            for r in scored.filter(F.col(STATUS).isNotNull())
            .groupBy(STATUS)
            .agg(F.count(F.lit(1)).alias("n"))
            .collect()
        }
        total = sum(found.values())
        if total and found.get(U.MISSING, 0) == total:
            log.warning(
                "%s: none of the %d rows has a URL in column %r; is url_column right?",
                self.name,
                total,
                self.config.url_column,
            )
        return {f"rows_{s}": int(found.get(s, 0)) for s in U.STATUSES}

    def rules(self, scored: DataFrame, cutoffs: Cutoffs):
        cfg, status, rules = self.config, F.col(STATUS), []
        if cfg.on_blocked_domain == "drop":
            rules.append((REASON_DOMAIN, status == F.lit(U.BLOCKED_DOMAIN)))
        if cfg.on_blocked_substring == "drop":
            rules.append((REASON_SUBSTRING, status == F.lit(U.BLOCKED_SUBSTRING)))
        return rules

    def run_details(self, cutoffs: Cutoffs = NO_CUTOFFS) -> dict[str, Any]:
        """Rows per url_status, and the lists used (entries per kind, the compact file)."""
        return {**dict(cutoffs), "url_column": self.config.url_column, **self._facts}


# -- reading the lists (driver side, or a worker when the stage was not prepared) --------------


def compact_lists(cfg: UrlFilterConfig) -> tuple[str, U.UrlLists, U.ListBuilder]:
    """Every configured list read, normalised and saved to one file named by its content.

    Equal lists give the same path, so a second run in a session ships and loads nothing new.
    """
    builder = U.ListBuilder()
    if cfg.ut1_path is not None:
        _read_ut1(builder, cfg)
    for path in cfg.domain_lists:
        builder.add_domains(_lines(path, cfg, "domain_lists"), _category_of(path), path)
    for path in cfg.url_lists:
        builder.add_urls(_lines(path, cfg, "url_lists"), _category_of(path), path)
    for path in cfg.allow_lists:
        builder.add_allowed(_lines(path, cfg, "allow_lists"), path)
    builder.add_allowed(cfg.allow, f"{cfg.stage_name}.allow")
    lists = builder.build()
    folder = os.path.join(tempfile.gettempdir(), "curation-url-lists")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"url-lists-{lists.fingerprint()}.npz")
    if not os.path.isfile(path):
        # Written aside and renamed: a concurrent run never reads half a file.
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
        os.close(fd)
        lists.save(tmp)
        os.replace(tmp, path)
    return path, lists, builder


def _category_of(path: str) -> str:
    """``lists/porn.txt`` -> porn; ``ut1/adult/domains`` -> adult (a UT1 file named directly)."""
    parts = path.rstrip("/").split("/")
    base = parts[-1]
    for ext in (".gz", ".txt", ".lst", ".list"):
        base = base.removesuffix(ext)
    if base in ("domains", "urls") and len(parts) > 1:
        return parts[-2]
    return base or "custom"


def _info(loc: Location) -> pafs.FileType:
    return loc.fs.get_file_info(loc.fs_path).type


def _lines(path: str, cfg: UrlFilterConfig, field: str) -> list[str]:
    loc = Location.of(path)
    kind = _info(loc)
    if kind == pafs.FileType.NotFound:
        raise ConfigError(f"{cfg.stage_name}.{field}: {path!r} does not exist; fix the path")
    if kind != pafs.FileType.File:
        raise ConfigError(
            f"{cfg.stage_name}.{field}: {path!r} is not a file; name a file with one entry "
            "per line (a UT1 folder goes in ut1_path)"
        )
    # pyarrow decompresses by extension (.gz, .bz2, .zst, .lz4).
    with loc.fs.open_input_stream(loc.fs_path) as fh:
        data = fh.read()
    # UT1 is mostly ASCII; a stray Latin-1 byte becomes an entry that fails to parse and is
    # skipped with a count, instead of stopping the run.
    return data.decode("utf-8", errors="replace").splitlines()


def _read_ut1(builder: U.ListBuilder, cfg: UrlFilterConfig) -> None:
    root = Location.of(cfg.ut1_path or "")
    where = f"{cfg.stage_name}.ut1_path={cfg.ut1_path!r}"
    kind = _info(root)
    if kind == pafs.FileType.File and cfg.ut1_path.endswith(_ARCHIVES):  # type: ignore[union-attr]
        raise ConfigError(
            f"{where} is an archive; extract it (tar xzf blacklists.tar.gz) and set ut1_path "
            "to the folder holding one folder per category"
        )
    if kind != pafs.FileType.Directory:
        raise ConfigError(f"{where} is not a folder; set it to the folder holding the categories")
    found = root.fs.get_file_info(pafs.FileSelector(root.fs_path))
    available = sorted(
        posixpath.basename(i.path) for i in found if i.type == pafs.FileType.Directory
    )
    missing = [c for c in cfg.categories if c not in available]
    if missing:
        raise ConfigError(
            f"{cfg.stage_name}.categories: {', '.join(missing)} not found under {cfg.ut1_path!r} "
            f"(it has: {', '.join(available) or 'no folders'}); set categories to folders it has"
        )
    for category in cfg.categories:
        folder = root.child(category)
        files = {name: folder.child(name) for name in ("domains", "urls")}
        present = {n: f for n, f in files.items() if _info(f) == pafs.FileType.File}
        if not present:
            raise ConfigError(
                f"{where}: category folder {category!r} has neither a domains nor a urls file"
            )
        for name, loc in present.items():
            lines = _lines(loc.shown, cfg, "ut1_path")
            if name == "domains":
                builder.add_domains(lines, category, loc.shown)
            else:
                builder.add_urls(lines, category, loc.shown)
