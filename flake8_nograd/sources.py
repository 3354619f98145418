"""Reading and writing source files the way Python reads them: coding cookie, BOM, newlines kept."""
from __future__ import annotations

import io
import os
import stat
import tempfile
import tokenize
from dataclasses import dataclass


class SourceError(Exception):
    """A file that cannot be read as Python source (missing, unreadable, undecodable)."""


@dataclass(frozen=True)
class SourceFile:
    path: str
    raw: bytes
    text: str  # decoded, BOM removed, newlines as in the file
    encoding: str  # "utf-8", "utf-8-sig" (had a BOM), "latin-1", ...

    def encode(self, text: str) -> bytes:
        return text.encode(self.encoding)


def read_source(path: str) -> SourceFile:
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or device would block or never end
            raise SourceError("not a regular file; it was not read")
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise SourceError(f"{type(error).__name__}: {error.strerror or error}") from error
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        text = raw.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError) as error:
        raise SourceError(
            f"{type(error).__name__}: cannot decode the file ({error}); save it as UTF-8 or add a coding cookie"
        ) from error
    return SourceFile(path, raw, text, encoding)


def write_atomically(path: str, data: bytes) -> None:
    """Replace `path` with `data` in one step (temp file in the same folder, then os.replace), keeping
    its permission bits; a crash midway leaves the old file intact."""
    directory = os.path.dirname(os.path.abspath(path))
    mode = os.stat(path).st_mode & 0o7777
    handle, temp_path = tempfile.mkstemp(prefix=".flake8-nograd-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.chmod(temp_path, mode)
        os.replace(temp_path, path)
    except BaseException:
        if os.path.exists(temp_path):
            os.unlink(temp_path)
        raise
