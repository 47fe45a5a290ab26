"""Run configuration: pydantic models, YAML loading, dotted ``--set`` overrides, readable errors.

>>> cfg = load_config("conf/local_demo.yaml", ["stages.length.min_words=20"])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import Discriminator, Field, Tag, ValidationError, field_validator

from curation.errors import ConfigError, StorageError
from curation.existing_ids import ExistingIds
from curation.frozen import FrozenModel
from curation.readers import InputConfig
from curation.session import SparkSettings
from curation.stages import STAGE_CLASSES
from curation.stages.tokens import TokenizerConfig
from curation.storage import SCHEMA_NAME, Location

# The discriminated union of every registered stage config, keyed by `kind`.
StageConfigUnion = Annotated[
    Union[tuple(cls.config_class for cls in STAGE_CLASSES)],  # noqa: UP007 - built at runtime
    Field(discriminator="kind"),
]


class StorageConfig(FrozenModel):
    """Where and how Delta tables are written."""

    engine: Literal["auto", "spark", "rust"] = Field(
        "auto",
        description="auto: delta-spark when its jars are on the classpath, else delta-rs commits.",
    )
    # delta-rs' (object_store's) keys, so a user copies them from delta-rs or MinIO docs as
    # they are; curation.storage maps them for pyarrow.fs. ${NAME} is expanded when used, so the
    # run record keeps the reference, not the secret.
    options: dict[str, str] = Field(
        default_factory=dict,
        description="Storage options for delta-rs and pyarrow.fs, e.g. aws_endpoint_url, "
        "aws_region, aws_access_key_id, aws_secret_access_key, aws_allow_http; a value "
        "${NAME} is read from the environment variable NAME.",
    )

    @field_validator("options", mode="before")
    @classmethod
    def _scalars_as_text(cls, value: Any) -> Any:
        # YAML reads `aws_allow_http: true` as a bool; delta-rs wants the text "true".
        if isinstance(value, dict):
            return {
                k: str(v).lower() if isinstance(v, bool) else str(v) if isinstance(v, int) else v
                for k, v in value.items()
            }
        return value

    def secrets_hidden(self) -> dict[str, str]:
        """The options as a run record keeps them: literal values of secret keys hidden."""
        return {
            k: v if "${" in v or not _is_secret(k) else "<hidden>" for k, v in self.options.items()
        }


def _is_secret(key: str) -> bool:
    return any(word in key.lower() for word in ("secret", "key", "token", "password", "sas"))


class CatalogOutput(FrozenModel):
    """Result tables as catalog tables (``catalog.schema.documents`` ...), written by delta-spark."""

    catalog: str = Field(
        min_length=1,
        max_length=512,
        pattern=SCHEMA_NAME,
        description="catalog.schema (or schema) where documents, rejected, stats and "
        "dedup_index are created or appended as tables.",
    )
    # Run records are JSON files and segment work tables are scratch: neither belongs in a
    # governed catalog, and both must outlive a failed run so it can resume.
    work: str = Field(
        min_length=1,
        description="A path or URI for run records and segment work tables (resume points), "
        "e.g. a Unity Catalog volume /Volumes/main/curation/work or s3://bucket/curation-work.",
    )


def _output_kind(value: Any) -> str:
    return "catalog" if isinstance(value, (dict, CatalogOutput)) else "path"


# Tagged, so a mistake in one form is reported for that form only (output.catalog.work), not
# once per form.
OutputSpec = Annotated[
    Union[Annotated[str, Tag("path")], Annotated[CatalogOutput, Tag("catalog")]],  # noqa: UP007
    Discriminator(_output_kind),
]


class RunConfig(FrozenModel):
    """One pipeline run: an input, an output root, Spark settings and ordered stages."""

    input: InputConfig = Field(description="The documents to filter.")
    output: OutputSpec = Field(
        description="Output root (a path or URI): Delta tables documents, rejected, stats, "
        "dedup_index live here. Or {catalog: cat.schema, work: PATH}: the tables are catalog "
        "tables (spark engine) and run records live under work.",
    )
    storage: StorageConfig = Field(default_factory=StorageConfig)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    stages: list[StageConfigUnion] = Field(
        default_factory=list, description="Stages in the order they run."
    )
    # skip by default: a daily run over an overlapping crawl must neither duplicate what the root
    # holds nor change it unasked. replace is for sources that re-publish edited documents under
    # the same id. Top level, not under input: it is about the output root's contents.
    existing_ids: ExistingIds = Field(
        "skip",
        description="A row whose id an earlier run into this output root decided (kept, or "
        "dropped by a stage): 'skip' rejects it in stage read as read:already_present; "
        "'replace' processes it as new, and the earlier version leaves documents (moved to "
        "rejected as read:replaced) and dedup_index.",
    )
    # No default tokenizer: token counts are only reported for the tokenizer a user trains with.
    tokenizer: TokenizerConfig | None = Field(
        None,
        description="A tokenizer.json path (or {path, add_special_tokens, count_eos_token}): "
        "adds n_tokens in the first row pass; stats, what-if and the report then sum it.",
    )

    @field_validator("output")
    @classmethod
    def _not_empty(cls, output: str | CatalogOutput) -> str | CatalogOutput:
        if isinstance(output, str) and not output.strip():
            raise ValueError("give a path or URI, or {catalog: cat.schema, work: PATH}")
        return output

    @property
    def output_root(self) -> str:
        """Where run records and work tables live (and, without a catalog, the result tables)."""
        return self.output.work if isinstance(self.output, CatalogOutput) else self.output

    @property
    def output_catalog(self) -> str | None:
        """The catalog schema of the result tables, or None when they are paths."""
        return self.output.catalog if isinstance(self.output, CatalogOutput) else None

    @field_validator("stages")
    @classmethod
    def _unique_names(cls, stages: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for s in stages:
            if s.stage_name in seen:
                raise ValueError(
                    f"two stages are named {s.stage_name!r}; give one a distinct `name:`"
                )
            seen.add(s.stage_name)
        return stages


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> RunConfig:
    """Read a YAML recipe, apply ``key.path=value`` overrides, validate."""
    return validate_config(read_yaml(path, overrides), source=str(path))


def read_yaml(path: str | Path, overrides: Iterable[str] = ()) -> dict[str, Any]:
    """A YAML mapping from ``path`` (a local path or a URI that curation.storage opens, with
    the options of ``storage.set_options``) with ``key.path=value`` overrides applied."""
    path = str(path)
    try:
        text = Location.of(path).read_bytes().decode("utf-8")
    except StorageError as err:
        raise ConfigError(f"config file {path!r}: {err}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path!r} is not UTF-8 text") from None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(raw).__name__}")
    for item in overrides:
        apply_override(raw, item)
    return raw


def validate_config(raw: dict[str, Any], source: str = "config") -> RunConfig:
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, raw, source)) from None


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Set ``a.b.c=value`` in ``raw``. In ``stages``, a segment names a stage (name or kind) or index.

    Values are parsed as YAML, so ``0.75`` is a number, ``true`` a bool, ``[en, de]`` a list.
    """
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. stages.length.min_words=20")
    key, _, text = item.partition("=")
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set {item!r}: empty key")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        nxt = _child(node, part, parts[: i + 1], item)
        node = nxt
    last = parts[-1]
    if isinstance(node, list):
        node[stage_index(node, last, parts, item)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(f"--set {item!r}: {'.'.join(parts[:-1])} is not a mapping")


def _child(node: Any, part: str, path: Sequence[str], item: str) -> Any:
    if isinstance(node, list):
        return node[stage_index(node, part, path, item)]
    if not isinstance(node, dict):
        raise ConfigError(f"--set {item!r}: {'.'.join(path[:-1])} is not a mapping")
    if node.get(part) is None:
        node[part] = {}
    return node[part]


def stage_index(stages: list[Any], part: str, path: Sequence[str], item: str) -> int:
    """Index in a raw ``stages`` list of the stage named (or of kind) ``part``, or at index ``part``."""
    names = [(s.get("name") or s.get("kind")) if isinstance(s, dict) else None for s in stages]
    if part in names:
        return names.index(part)
    if part.isdigit() and int(part) < len(stages):
        return int(part)
    raise ConfigError(
        f"--set {item!r}: no stage named {part!r} in {'.'.join(path[:-1]) or 'stages'}; "
        f"stages are: {', '.join(str(n) for n in names) or '(none)'}"
    )


def format_validation_error(exc: ValidationError, raw: dict[str, Any], source: str) -> str:
    """One line per problem: dotted field path (stages by name), the bad value, what is allowed."""
    lines = [f"{source}: {exc.error_count()} invalid setting(s):"]
    for err in exc.errors():
        path = _readable_loc(err["loc"], raw)
        value = err.get("input")
        shown = _short(value)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            lines.append(f"  {path}: unknown setting (value {shown}); remove it or check spelling")
        elif err["type"] == "missing":
            lines.append(f"  {path}: required; add it")
        elif err["type"] == "union_tag_invalid":
            kinds = ", ".join(
                sorted(cls.config_class.model_fields["kind"].default for cls in STAGE_CLASSES)
            )
            tag = value.get("kind") if isinstance(value, dict) else value
            lines.append(f"  {path}: unknown stage kind {tag!r}; use one of: {kinds}")
        else:
            lines.append(f"  {path}: {shown} is invalid: {msg}")
    return "\n".join(lines)


def _readable_loc(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    out: list[str] = []
    node: Any = raw
    skip_tag = False
    for part in loc:
        if skip_tag:  # pydantic inserts the union tag (the kind) after a stage index
            skip_tag = False
            if isinstance(node, dict) and node.get("kind") == part:
                continue
        if isinstance(part, int) and isinstance(node, list):
            item = node[part] if part < len(node) else None
            label = (item.get("name") or item.get("kind")) if isinstance(item, dict) else None
            out.append(str(label) if label else str(part))
            node = item
            skip_tag = True
            continue
        out.append(str(part))
        node = node.get(part) if isinstance(node, dict) else None
    return ".".join(out) or "(top level)"


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
