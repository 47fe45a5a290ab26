"""Where a table or file lives: one path as Spark, delta-rs and pyarrow.fs each want it.

The one module that turns a user's path or URI into a file system, so every reader and writer
agrees on where the bytes are. A local path is made absolute and given to Spark as ``file://``;
Hadoop's ``s3a://`` is plain ``s3://`` for delta-rs and pyarrow.

    loc = Location.of("out/documents")   # run from /work
    loc.spark, loc.delta, loc.fs_path    # 'file:///work/out/documents', '/work/out/documents', ...
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.fs as pafs

from curation.errors import StorageError


@dataclass(frozen=True)
class Location:
    """One table or file path as Spark, delta-rs and pyarrow.fs each want it."""

    shown: str  # the path as the user gave it, for messages
    spark: str  # for Spark reads and writes
    delta: str  # for delta-rs
    fs: pafs.FileSystem
    fs_path: str  # the path inside ``fs``

    @classmethod
    def of(cls, path: str) -> Location:
        if not isinstance(path, str) or not path:
            raise StorageError(f"a table path must be a non-empty string, not {path!r}")
        parsed = urlparse(path)
        if len(parsed.scheme) <= 1 or parsed.scheme == "file":
            # No scheme (or a Windows drive letter): a local path. Made absolute so executors
            # and delta-rs agree on it, and file:// for Spark so a cluster whose default file
            # system is HDFS still writes where pyarrow.fs and delta-rs look.
            local = parsed.path if parsed.scheme == "file" else path
            local = os.path.abspath(local).rstrip("/") or "/"
            return cls(path, "file://" + local, local, pafs.LocalFileSystem(), local)
        path = path.rstrip("/")
        # Hadoop's S3A scheme is plain s3 for delta-rs and pyarrow.
        arrow_uri = "s3" + path[3:] if parsed.scheme == "s3a" else path
        try:
            fs, fs_path = pafs.FileSystem.from_uri(arrow_uri)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as err:
            raise StorageError(
                f"cannot open {path!r} with pyarrow.fs ({err}); the rust engine needs storage "
                "pyarrow can list (local, s3, gs, abfs, hdfs)"
            ) from err
        return cls(path, path, arrow_uri, fs, fs_path)

    def child(self, name: str) -> Location:
        return Location(
            f"{self.shown}/{name}",
            f"{self.spark}/{name}",
            f"{self.delta}/{name}",
            self.fs,
            posixpath.join(self.fs_path, name),
        )

    def spark_file(self, relative_or_absolute: str) -> str:
        """A file of the table as Spark should read it (Delta paths are URL-encoded)."""
        path = unquote(relative_or_absolute)
        if urlparse(relative_or_absolute).scheme:
            return path  # an absolute path (shallow clones)
        return f"{self.spark}/{path}"
