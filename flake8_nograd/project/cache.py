"""The project index's cache on disk: JSON entries keyed by strings the index gives (content hashes).

Safe under flake8's parallel workers: an entry is written to a temporary file in the same folder
and moved into place (os.replace), so a reader sees the old entry or the new one, never half of
one; `lock(name)` lets the first worker build what the others then read. Whatever goes wrong on
disk (a corrupt entry, a folder that cannot be written) is a miss, never an error: the analysis
goes on without the cache.

    with cache.lock("index"):          # the other workers wait here ...
        facts = cache.load(key)        # ... and find what the first one stored
        if facts is None:
            facts = build()
            cache.store(key, facts)
"""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
from typing import Any, Dict, Iterator, Optional, Tuple

from .. import __version__

# Raised when the layout or the meaning of an entry changes: entries of another version or format
# live in another folder and are never read.
FORMAT = 2
STAMP = f"{__version__}-{FORMAT}"
DEFAULT_DIRECTORY = ".nograd_cache"
# Keys used as file names as they are (the index's content hashes); others are encoded.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_temporary_names = itertools.count()
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by flake8-nograd.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
try:
    import msvcrt
except ImportError:
    msvcrt = None  # type: ignore[assignment]


class ProjectCache:
    """Entries under `directory` (None: no cache, every load misses and nothing is written)."""

    def __init__(self, directory: Optional[str]) -> None:
        self.directory = os.path.abspath(directory) if directory else None
        self._ready = False

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    @property
    def entries(self) -> Optional[str]:
        """The folder of this version's entries."""
        return os.path.join(self.directory, f"v{STAMP}") if self.directory else None

    def _entry_path(self, key: str) -> str:
        assert self.entries is not None
        if _PLAIN_KEY.fullmatch(key):
            name = key
        else:
            data = key.encode("utf-8", "surrogatepass")
            if len(data) <= 60:
                name = "x-" + data.hex()
            else:
                import hashlib  # only for long keys: it loads OpenSSL, megabytes for every worker

                name = "h-" + hashlib.sha256(data).hexdigest()
        return os.path.join(self.entries, name + ".json")

    def load(self, key: str) -> Optional[Dict[str, Any]]:
        """The value stored under `key`, or None (no entry, another version's, unreadable, corrupt)."""
        if self.entries is None:
            return None
        try:
            with open(self._entry_path(key), encoding="utf-8") as handle:
                entry = json.load(handle)
        except (OSError, ValueError, UnicodeDecodeError, RecursionError):
            return None
        if not isinstance(entry, dict) or entry.get("stamp") != STAMP or entry.get("key") != key:
            return None
        value = entry.get("value")
        return value if isinstance(value, dict) else None

    def version(self, key: str) -> Optional[Tuple[int, int, int]]:
        """Which write of the entry under `key` is on disk now (None: no entry): another value
        when another process stored it since."""
        if self.entries is None:
            return None
        try:
            found = os.stat(self._entry_path(key))
        except OSError:
            return None
        return found.st_ino, found.st_mtime_ns, found.st_size

    def store(self, key: str, value: Dict[str, Any]) -> None:
        """Write `value` under `key`, atomically. A value JSON cannot hold is not stored; a failure
        to write (read-only or full disk) leaves the cache as it was and turns it off for this process."""
        if not self._prepare():
            return
        assert self.entries is not None
        try:
            text = json.dumps({"stamp": STAMP, "key": key, "value": value}, separators=(",", ":"))
        except (TypeError, ValueError, RecursionError):
            return  # this value cannot be kept; the others still can
        try:
            _write_atomically(self._entry_path(key), text)
        except OSError:
            self.directory = None

    def _prepare(self) -> bool:
        """Create the cache folder (with a .gitignore and a CACHEDIR.TAG, as ruff and mypy do) and
        this version's entry folder; False, and the cache off, when that is not possible."""
        if self._ready:
            return True
        if self.directory is None:
            return False
        try:
            os.makedirs(self.directory, exist_ok=True)
            for name, text in ((".gitignore", "# Created by flake8-nograd.\n*\n"), ("CACHEDIR.TAG", CACHEDIR_TAG)):
                path = os.path.join(self.directory, name)
                if not os.path.exists(path):
                    _write_atomically(path, text)
            assert self.entries is not None
            os.makedirs(self.entries, exist_ok=True)
        except OSError:
            self.directory = None
            return False
        self._ready = True
        return True

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold an inter-process lock named `name` inside the block (the other holders wait). No
        lock when the cache is off, its folder cannot be written, or the platform has no file locks."""
        handle = None
        if self._prepare():
            assert self.entries is not None
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "lock"
            try:
                handle = open(os.path.join(self.entries, safe + ".lock"), "a+b")
            except OSError:
                handle = None
        locked = handle is not None and _acquire(handle)
        try:
            yield
        finally:
            if handle is not None:
                if locked:
                    _release(handle)
                handle.close()


def _write_atomically(path: str, text: str) -> None:
    """Write to a temporary file beside `path`, then move it into place (atomic on POSIX and
    Windows): a reader sees the old file or the new one. Raises OSError, leaving no temporary file."""
    folder = os.path.dirname(path)
    for _ in range(100):
        # Unique among the processes of this machine; O_EXCL makes a clash (another machine on a
        # shared folder) a retry, not two writers in one file.
        temporary = os.path.join(folder, f".tmp-{os.getpid()}-{next(_temporary_names)}")
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
        except FileExistsError:
            continue
        break
    else:
        raise FileExistsError(f"no free temporary name in {folder}")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(text.encode("utf-8"))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _acquire(handle: Any) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            return True
        if msvcrt is not None:  # pragma: no cover - Windows
            handle.seek(0)
            while True:
                try:
                    msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)  # retries for 10 s, then raises
                    return True
                except OSError as error:
                    if getattr(error, "errno", None) not in (13, 36):  # EACCES, EDEADLOCK: still held after 10 s
                        return False
    except OSError:
        pass
    return False


def _release(handle: Any) -> None:
    with contextlib.suppress(OSError):
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        elif msvcrt is not None:  # pragma: no cover - Windows
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
