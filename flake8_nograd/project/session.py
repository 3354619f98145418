"""What the front ends ask: the project context of the file being checked, with the index of its
project built once per process (and read from the cache where it is current).

Nothing here may stop a check: whatever goes wrong (an unreadable tree, a bug in the index) means
no context, and the file is checked on its own, as with --no-project.
"""
from __future__ import annotations

import atexit
import gc
import os
from typing import Dict, Iterable, List, Optional, Tuple

from ..config import Config
from .cache import DEFAULT_DIRECTORY, ProjectCache
from .files import find_project_root, list_project
from .index import ProjectContext, ProjectIndex

# flake8's names for code read from standard input (without --stdin-display-name).
STDIN_NAMES = ("stdin", "-")

_indexes: Dict[Tuple[str, Config], Optional[ProjectIndex]] = {}
_skipped: Dict[Tuple[str, Config], str] = {}  # why a root has no index (too many files)
_roots: Dict[str, Optional[str]] = {}  # folder -> its project root
_flush_pid = 0  # the process whose exit writes what it learnt (_flush_at_exit)


def project_context(path: str, config: Config) -> Optional[ProjectContext]:
    """The context of the module at `path` in its project, or None: no project (no root above it,
    read from stdin without a display name), --no-project, or anything going wrong."""
    if not config.project or not path or path in STDIN_NAMES:
        return None
    try:
        root = _root_of(path)
        if root is None:
            return None
        index = _index_for(root, config)
        if index is None:
            return None
        _flush_at_exit()  # a forked worker inherits the index, not the parent's hook
        return index.context_for(path)
    except Exception:  # noqa: B902 - the project is a help, never a reason for a check to fail
        return None


def prepare(paths: Iterable[str], config: Config) -> List[str]:
    """Build the index of every project the files at `paths` belong to (in the main process,
    before workers start, so that forked workers inherit it), and return the notes to show the
    user once: the projects left out, and why."""
    notes: List[str] = []
    if not config.project:
        return notes
    paths = list(paths)
    seen = set()
    checked: Optional[Tuple[str, ...]] = None  # real paths, once a project is found for one
    # The builds make no reference cycles, only objects that the indexes keep (entries, the
    # walks kept for the check), and the cyclic collector's passes over them as they grew found
    # nothing (a fifth of a cold run): off while building, and what was built is frozen, out of
    # its later passes (the indexes live until the command or flake8 ends).
    collecting = gc.isenabled()
    store = True
    gc.disable()
    try:
        for path in paths:
            if path in STDIN_NAMES:
                continue
            try:
                root = _root_of(path)
                if root is None or root in seen:
                    continue
                seen.add(root)
                if checked is None:
                    folders: Dict[str, Optional[str]] = {}  # real paths by folder: a command lists every file
                    checked = tuple(filter(None, (_real_or_none(p, folders) for p in paths if p not in STDIN_NAMES)))
                    store = not _workers_fork()
                _index_for(root, config, checked, store)
            except Exception:  # noqa: B902 - as in project_context: the files are then checked alone
                continue
            reason = _skipped.get((root, config))
            if reason:
                notes.append(f"{reason}; files are checked one at a time (exclude folders with --extend-exclude)")
    finally:
        if collecting:
            gc.freeze()
            gc.enable()
    return notes


def _workers_fork() -> bool:
    """Do worker processes start by forking (inheriting the indexes, so that none reads the
    cache before this process's flush, which writes it once)? A worker that starts afresh reads
    what the build stored."""
    import multiprocessing  # only with a project: its import is not free

    method = multiprocessing.get_start_method(allow_none=True) or multiprocessing.get_all_start_methods()[0]
    return method == "fork"


def _real_or_none(path: str, folders: Dict[str, Optional[str]]) -> Optional[str]:
    """The real path of `path` (its folder's real path, looked up once per folder), or None."""
    try:
        if os.path.islink(path):
            return os.path.realpath(path)
        folder, name = os.path.split(os.path.abspath(path))
        if folder not in folders:
            folders[folder] = os.path.realpath(folder)
        real = folders[folder]
        return os.path.join(real, name) if real is not None else None
    except (OSError, ValueError):  # a path the OS refuses (a null byte): no context for it anyway
        return None


def open_cache(root: str, config: Config) -> ProjectCache:
    """The cache of the project at `root`: `--cache-dir`, else `.nograd_cache` in the root; a
    disabled one under --no-cache."""
    if not config.cache:
        return ProjectCache(None)
    return ProjectCache(config.cache_dir or os.path.join(root, DEFAULT_DIRECTORY))


def _root_of(path: str) -> Optional[str]:
    # Looked up once per folder as given; a symlinked file belongs to the project of its target.
    if any(index is not None and index.holds(path) for index in _indexes.values()):
        # A real path an index listed (the usual case): no link and no folder, no need to ask the OS.
        known = _roots.get(os.path.dirname(path))
        if known is not None:
            return known
    if os.path.islink(path):
        return find_project_root(path)
    folder = os.path.dirname(os.path.abspath(path)) if not os.path.isdir(path) else os.path.abspath(path)
    if folder not in _roots:
        _roots[folder] = find_project_root(path) if os.path.isdir(folder) else None
    return _roots[folder]


def _index_for(root: str, config: Config, checked: Tuple[str, ...] = (), store: bool = True) -> Optional[ProjectIndex]:
    """`checked`, `store`: as ProjectIndex.build takes them."""
    key = (root, config)
    if key not in _indexes:
        index = None
        try:
            listing = list_project(root, config.project_exclude)
            if listing.skipped:
                _skipped[key] = listing.skipped
            elif listing.files:
                cache = open_cache(root, config)
                # Parallel workers that start together (flake8 --jobs without fork) build one at a
                # time: the first analyses and stores every file, the others then read its entries.
                with cache.lock("index"):
                    index = ProjectIndex.build(root, list(listing.files), config, cache, checked, store)
                _flush_at_exit()
        except Exception:  # noqa: B902 - built once: a failure is not retried for every file
            index = None
        _indexes[key] = index
    return _indexes[key]


def _flush_at_exit() -> None:
    """Findings kept while checking are written when this process ends (a flake8 run has no
    other end to hook; the command also flushes itself after its files). A parallel worker
    (flake8 --jobs, the command's --jobs) ends without running atexit hooks: multiprocessing
    runs its finalizers then."""
    global _flush_pid
    if _flush_pid == os.getpid():
        return
    _flush_pid = os.getpid()
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        import multiprocessing.util

        multiprocessing.util.Finalize(None, flush, exitpriority=10)
    else:
        atexit.register(flush)


def flush() -> None:
    """Write what this process learnt (findings kept for reuse) to each project's cache."""
    for index in _indexes.values():
        if index is not None:
            try:
                index.flush()
            except Exception:  # noqa: B902 - a cache that cannot be written is only slower
                pass


def forget() -> None:
    """Drop every index built in this process (tests; a long-lived process after edits)."""
    _indexes.clear()
    _skipped.clear()
    _roots.clear()
