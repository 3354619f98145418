"""Reading and writing source files the way Python reads them: coding cookie, BOM, newlines kept."""
from __future__ import annotations

import codecs
import errno
import io
import os
import stat
import tokenize
from dataclasses import dataclass
from typing import BinaryIO, Optional


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
    return source_from_bytes(path, raw)


def source_from_bytes(path: str, raw: bytes) -> SourceFile:
    """The source in `raw` (a file's bytes, or standard input's) decoded as Python decodes it."""
    if _plain_utf8(raw):
        try:
            return SourceFile(path, raw, raw.decode("utf-8"), "utf-8")
        except UnicodeDecodeError:
            pass  # reported as detect_encoding reports it
    try:
        encoding = source_encoding(raw)
        text = raw.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError) as error:
        raise SourceError(
            f"{type(error).__name__}: cannot decode the file ({error}); save it as UTF-8 or add a coding cookie"
        ) from error
    return SourceFile(path, raw, text, encoding)


def source_encoding(raw: bytes) -> str:
    """The encoding Python reads the source in: its coding cookie or BOM, else UTF-8."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    return encoding


def decode_source(raw: bytes) -> str:
    """The text of a source file as Python reads it (raises SyntaxError, UnicodeDecodeError or
    LookupError for a bad cookie or bytes)."""
    return raw.decode("utf-8" if _plain_utf8(raw) else source_encoding(raw))


def _plain_utf8(raw: bytes) -> bool:
    """The common file, decided without tokenize: no BOM and no coding cookie in its first two
    lines (where detect_encoding looks), so UTF-8; any other file takes detect_encoding's path."""
    return not raw.startswith(codecs.BOM_UTF8) and b"coding" not in b"\n".join(raw.split(b"\n", 2)[:2])


class ChangedMeanwhile(OSError):
    """The file's content is not what was read and fixed: something else wrote it meanwhile."""


def write_fixed(path: str, data: bytes, expected: Optional[bytes] = None) -> None:
    """Write the fixed `data` to the file the user's tools see at `path`.

    A symlink is written through: its target is replaced (atomically, beside the target) and the
    link stays a link. A file with other hard links (st_nlink > 1) is written in place, so every
    name keeps sharing the new content (see write_in_place for what that can and cannot promise).
    Any other file is replaced atomically. With `expected`, the file must still hold those bytes
    (what was read and fixed), or nothing is written."""
    target = os.path.realpath(path)
    if expected is not None:
        with open(target, "rb") as handle:
            if handle.read() != expected:
                raise ChangedMeanwhile(f"{path} changed while it was being fixed; it was not written")
    if os.stat(target).st_nlink > 1:
        write_in_place(target, data, expected)
    else:
        write_atomically(target, data)


def write_atomically(path: str, data: bytes) -> None:
    """Replace `path` with `data` in one step (temp file in the same folder, then os.replace), keeping
    its permission bits; a crash midway leaves the old file intact."""
    directory = os.path.dirname(os.path.abspath(path))
    mode = os.stat(path).st_mode & 0o7777
    import tempfile  # only when a fix is written: the check path does not pay for importing it

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


def write_in_place(path: str, data: bytes, original: Optional[bytes] = None) -> None:
    """Overwrite `path` itself (same inode: hard links keep sharing it), never leaving it half-written
    on an error or an interrupt.

    The full new content goes to a temp file beside it first (synced: a complete copy exists before
    the original is touched), space for it is reserved in the original, then it is written over the
    original, synced and read back. Any error or interrupt (disk full, I/O error, Ctrl-C) before the
    read-back matches writes the original bytes back, checks them and re-raises; the temp file is
    removed. What no program can promise for a write in place: if the process is killed outright
    (SIGKILL) or the machine loses power during the copy itself, the file may be mixed; the complete
    fixed text is then left beside it in `.flake8-nograd-*.tmp`."""
    if original is None:
        with open(path, "rb") as handle:
            original = handle.read()
    directory = os.path.dirname(os.path.abspath(path))
    import tempfile  # only when a fix is written: the check path does not pay for importing it

    handle, temp_path = tempfile.mkstemp(prefix=".flake8-nograd-", suffix=".tmp", dir=directory)
    keep_copy = False
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        with open(path, "r+b") as target:
            if hasattr(os, "posix_fallocate") and len(data) > len(original):
                try:
                    os.posix_fallocate(target.fileno(), 0, len(data))  # a full disk fails here, nothing written
                except OSError as error:
                    if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                        raise
            try:
                _overwrite(target, data)
            except BaseException:
                try:
                    _overwrite(target, original)  # the original fits where it was: no new space needed
                except BaseException:
                    keep_copy = True  # the file may be mixed: the complete fixed text stays beside it
                    raise
                raise
    except BaseException:
        if not keep_copy and os.path.exists(temp_path):
            os.unlink(temp_path)
        raise
    os.unlink(temp_path)


def _overwrite(target: BinaryIO, data: bytes) -> None:
    """`data` as the whole content of the open file, synced, then read back and compared."""
    target.seek(0)
    target.write(data)
    target.truncate()
    target.flush()
    os.fsync(target.fileno())
    target.seek(0)
    if target.read() != data:
        raise OSError(errno.EIO, "the file did not read back as written")
