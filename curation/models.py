"""Model files: ship them from the driver to executors once, load them once per Python worker.

A stage that needs a model file (fastText quality or language ID, a toxicity model, the run's
tokenizer) calls ``ship_model(spark, path)`` in its ``prepare`` hook on the driver and keeps the
returned ``ModelRef`` (small, picklable). Its scorer, running in a Python worker, calls
``load_fasttext(ref)`` or ``load_tokenizer(ref)`` (or ``cached_model(ref, loader)`` for other
formats) and gets the model from a per-process cache, so a reused worker loads it once however
many batches and tasks it runs.

How the file reaches the workers:

* A URI (s3://, gs://, abfss://, hdfs://, dbfs:/) is first copied to a local temporary file
  through ``curation.storage`` (pyarrow.fs with the run's ``storage.options``), so a model on an
  object store needs no Hadoop connector and uses the same endpoint and credentials as the tables.
* classic Spark: ``SparkContext.addFile``; workers find it with ``SparkFiles.get(name)``.
* Spark Connect (no SparkContext on the client): ``spark.addArtifacts(path, file=True)``.
  The server gives each Connect session its own file directory
  (``SparkFiles.getRootDirectory()/<session artifact uuid>``) and, as read in pyspark 4.2
  (``PythonWorkerUtils.writeSparkFiles`` and ``PythonWorkerFactory``), tells the Python worker that
  directory as its SparkFiles root *and* starts the worker with it as the working directory. So
  workers look in the SparkFiles root, then in the working directory (for a remote-only
  ``pyspark-client`` install, where SparkFiles is not set up).
* Either way, when neither holds the file and the original path exists on the worker (local mode,
  a shared filesystem), that path is used.

A model is identified by its path: a file rewritten in place during a session is neither shipped
again nor reloaded by workers that already hold it; save a retrained model under a new path.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

import pyarrow.fs as pafs

from curation.errors import ConfigError
from curation.text.tokens import whole_document

T = TypeVar("T")


@dataclass(frozen=True)
class ModelRef:
    """Where a worker finds a model: the name it was shipped under and the path it came from.

    ``shipped`` is "files" (SparkContext.addFile), "artifact" (Spark Connect) or "none" (not
    shipped: only the original path is tried, e.g. a stage used without ``prepare``).
    """

    name: str
    path: str
    shipped: str = "none"

    @property
    def key(self) -> str:
        """Cache key: the original path (two refs to one file share the loaded model)."""
        return self.path


def local_ref(path: str) -> ModelRef:
    """A ref that is not shipped: workers use ``path`` as it is (local mode, shared storage)."""
    local = _local_path(path)
    return ModelRef(name=os.path.basename(local or path.rstrip("/")), path=local or path)


# --- driver side -----------------------------------------------------------------------------

# What each session has shipped: session key -> {shipped name: original path}. Shipping the same
# path twice is a no-op; two different files with one basename get distinct names.
_SHIPPED: dict[str, dict[str, str]] = {}
_SHIP_LOCK = threading.Lock()


def ship_model(spark: Any, path: str) -> ModelRef:
    """Make the model file at ``path`` (local path or Hadoop/fsspec URI) available to executors.

    Call on the driver, once per stage (repeat calls for one path and session ship nothing new).

    >>> ref = ship_model(spark, "models/quality.bin")   # then, in a worker: load_fasttext(ref)
    """
    from curation.session import is_connect

    connect = is_connect(spark)
    local = _local_path(path)
    if local is not None:
        if not os.path.isfile(local):
            raise ConfigError(
                f"model file {path!r} does not exist (or is not a file); fix the path"
            )
        source = local
    else:
        source = path
    session = _session_key(spark, connect)
    with _SHIP_LOCK:
        shipped = _SHIPPED.setdefault(session, {})
        for name, original in shipped.items():
            if original == source:
                return ModelRef(name=name, path=source, shipped=_how(connect))
        name = _free_name(source, shipped)
        to_send = _staged_copy(source, name, local is not None)
        if connect:
            spark.addArtifacts(to_send, file=True)
        else:
            spark.sparkContext.addFile(to_send)
        shipped[name] = source
    return ModelRef(name=name, path=source, shipped=_how(connect))


def _how(connect: bool) -> str:
    return "artifact" if connect else "files"


def _session_key(spark: Any, connect: bool) -> str:
    if connect:
        return f"connect:{spark.session_id}"
    return f"classic:{spark.sparkContext.applicationId}"


def _local_path(path: str) -> str | None:
    """Absolute local path for a plain or file:// path; None for other URI schemes."""
    parsed = urlparse(path)
    if parsed.scheme == "file":
        return os.path.abspath(parsed.path)
    # One-letter schemes are Windows drive letters, not URIs.
    if not parsed.scheme or len(parsed.scheme) == 1:
        return os.path.abspath(path)
    return None


def _free_name(source: str, taken: dict[str, str]) -> str:
    base = os.path.basename(source.rstrip("/")) or "model"
    if base not in taken:
        return base
    stem, ext = os.path.splitext(base)
    digest = hashlib.sha1(source.encode("utf-8")).hexdigest()[:10]
    return f"{stem}-{digest}{ext}"


@functools.cache
def staging_dir() -> str:
    """This process's folder for files handed to addFile/addArtifacts, removed when it exits.

    Executors fetch a shipped file from the driver when their first task needs it, so the file
    must outlive the call that ships it; it cannot outlive the driver, though, and a folder per
    shipped file left in /tmp filled small disks over many runs.
    """
    folder = tempfile.mkdtemp(prefix="curation-ship-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _staged_copy(source: str, name: str, is_local: bool) -> str:
    """A local file named ``name`` with the model's bytes (or the URI itself for addFile).

    addFile and addArtifacts name the shipped file after the path's basename, so a renamed file
    needs a staged link; a remote URI is downloaded first (see the module docstring).
    """
    if is_local and os.path.basename(source) == name:
        return source
    target = os.path.join(tempfile.mkdtemp(dir=staging_dir()), name)
    if is_local:
        # Not a symlink: addFile canonicalises the path, which would resolve the link back to
        # the original basename and let two different files collide on executors.
        try:
            os.link(source, target)
        except OSError:  # another filesystem, or links not allowed
            shutil.copyfile(source, target)
    else:
        _download(source, target)
    return target


def _download(uri: str, target: str) -> None:
    from curation.errors import StorageError
    from curation.storage import Location

    try:
        loc = Location.of(uri)
        if loc.fs.get_file_info(loc.fs_path).type != pafs.FileType.File:
            raise ConfigError(f"model file {uri!r} does not exist (or is not a file); fix the path")
        with loc.fs.open_input_stream(loc.fs_path) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, length=8 << 20)
    except (OSError, StorageError) as exc:
        raise ConfigError(f"model {uri!r} could not be downloaded for shipping: {exc}") from None


# --- worker side -----------------------------------------------------------------------------

_CACHE: dict[tuple[str, str], Any] = {}
_LOADS: dict[tuple[str, str], int] = {}
_LOAD_LOCK = threading.Lock()


def resolve_path(ref: ModelRef) -> str:
    """The local file for ``ref`` in this process (worker or driver). Raises FileNotFoundError."""
    tried = []
    for candidate in _candidates(ref):
        if candidate in tried:
            continue
        tried.append(candidate)
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f"model {ref.path!r} (shipped as {ref.name!r} via {ref.shipped}) not found; looked in: "
        + ", ".join(tried)
        + ". Call the stage's prepare(spark) on the driver so the file is shipped."
    )


def _candidates(ref: ModelRef) -> list[str]:
    out = []
    if ref.shipped != "none":
        root = _spark_files_root()
        if root:
            out.append(os.path.join(root, ref.name))
        out.append(os.path.join(os.getcwd(), ref.name))
    local = _local_path(ref.path)
    if local is not None:
        out.append(local)
    return out


def _spark_files_root() -> str | None:
    """SparkFiles' directory when running in a Python worker (no JVM call needed there)."""
    try:
        from pyspark.core.files import SparkFiles
    except ImportError:  # remote-only pyspark-client: SparkFiles is not set up on workers
        return None
    if SparkFiles._is_running_on_worker:  # noqa: SLF001 - the public getter needs a JVM off-worker
        return SparkFiles._root_directory  # noqa: SLF001
    return None


def cached_model(ref: ModelRef, loader: Callable[[str], T]) -> T:
    """The model for ``ref`` loaded with ``loader(local_path)``, at most once per process."""
    key = (ref.key, f"{loader.__module__}.{getattr(loader, '__qualname__', repr(loader))}")
    model = _CACHE.get(key)
    if model is not None:
        return model
    with _LOAD_LOCK:
        if key not in _CACHE:
            _CACHE[key] = loader(resolve_path(ref))
            _LOADS[key] = _LOADS.get(key, 0) + 1
        return _CACHE[key]


# The distribution that provides the ``fasttext`` module we train and load with (several builds
# install a module of that name); reports and model sidecars record its version.
FASTTEXT_DIST = "fasttext-community"


def load_fasttext(ref: ModelRef) -> Any:
    """The fastText model for ``ref``, loaded once per Python worker."""
    return cached_model(ref, _fasttext_loader)


def _fasttext_loader(path: str) -> Any:
    import fasttext

    return fasttext.load_model(path)


def load_tokenizer(ref: ModelRef) -> Any:
    """The ``tokenizers`` tokenizer in the ``tokenizer.json`` of ``ref``, loaded once per Python
    worker, with truncation and padding off (counts are of whole documents)."""
    return cached_model(ref, _tokenizer_loader)


def _tokenizer_loader(path: str) -> Any:
    from tokenizers import Tokenizer

    return whole_document(Tokenizer.from_file(path))


def load_count(ref_or_path: ModelRef | str) -> int:
    """How many times this process has loaded the model (any loader); 1 after a cached run."""
    key = ref_or_path.key if isinstance(ref_or_path, ModelRef) else ref_or_path
    return sum(n for (path, _), n in _LOADS.items() if path == key)
