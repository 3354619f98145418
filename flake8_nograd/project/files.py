"""The project a file belongs to: its root, its Python files, and the names they are imported as."""
from __future__ import annotations

import keyword
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from ..settings import DEFAULT_EXCLUDE, walk_tree

# A folder holding one of these is a project root (as black, ruff and mypy find it).
ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
# Never part of the project, whatever the user's excludes: hidden folders (by name, below), build
# output, installed packages (virtualenvs are skipped by settings.walk_tree).
PROJECT_SKIPS = ("site-packages", "__pycache__", "build", "dist", "node_modules", ".tox", ".eggs", "*.egg-info")
# Beyond this many files (a home directory taken for a project) the index is not built at all.
MAX_PROJECT_FILES = 20_000


def find_project_root(path: str) -> Optional[str]:
    """The real path of the nearest folder, from `path` (a file: its folder) upwards, holding a
    pyproject.toml, setup.cfg, setup.py or .git; None when there is none."""
    folder = os.path.realpath(path)
    if not os.path.isdir(folder):
        folder = os.path.dirname(folder)
    while True:
        if any(os.path.exists(os.path.join(folder, marker)) for marker in ROOT_MARKERS):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


@dataclass(frozen=True)
class ProjectListing:
    files: Tuple[str, ...]
    # Why the project has no files although it has some (too many): a note for the user, or "".
    skipped: str = ""


def list_project(root: str, excludes: Sequence[str] = (), limit: Optional[int] = None) -> ProjectListing:
    """The project's .py files (real paths, sorted), or none and the reason when there are more
    than `limit` (default MAX_PROJECT_FILES): the walk stops there, it never reads a huge tree to
    the end."""
    limit = MAX_PROJECT_FILES if limit is None else limit
    patterns = tuple(dict.fromkeys(tuple(DEFAULT_EXCLUDE) + PROJECT_SKIPS + tuple(excludes)))
    found = set()
    real_root = os.path.realpath(root)
    folders: Dict[str, str] = {}
    for path in walk_tree(root, patterns, (".py",), skip_name=_hidden):
        real = real_path(path, folders)
        if _inside(real, real_root):  # a link to a file elsewhere belongs to the project there
            found.add(real)
        if len(found) > limit:
            return ProjectListing((), f"project analysis is off for {root}: more than {limit} Python files")
    return ProjectListing(tuple(sorted(found)))


def real_path(path: str, folders: Dict[str, str]) -> str:
    """os.path.realpath(path), with the real path of each folder looked up once (`folders`:
    folder -> its real path, kept by the caller for one walk): a link only costs a look at the
    file itself, not at every folder above it."""
    if os.path.islink(path):
        return os.path.realpath(path)
    folder, name = os.path.split(os.path.abspath(path))
    real = folders.get(folder)
    if real is None:
        real = folders[folder] = os.path.realpath(folder)
    return os.path.join(real, name)


def _hidden(name: str) -> bool:
    return name.startswith(".")


def project_files(root: str, excludes: Sequence[str] = ()) -> List[str]:
    """Sorted real paths of the .py files under `root` (a symlink to a file outside it left out),
    without hidden folders, virtualenvs, build output, installed packages and what `excludes`
    (flake8's globs) match; [] when there are more than MAX_PROJECT_FILES."""
    return list(list_project(root, excludes).files)


def module_names(root: str, path: str) -> List[str]:
    """The dotted names the file at `path` is imported as, the canonical one first.

    Canonical: the chain of packages (folders with `__init__.py`, up to the root) ending at the
    file, `src/pkg/sub/mod.py` -> `pkg.sub.mod`, `pkg/__init__.py` -> `pkg`; a file in a folder
    that is not a package is a top-level module named by its stem (the scripts beside it import
    it so). Then the root-relative dotted path when it differs (`scripts/train.py` ->
    `scripts.train`). A name that is not made of identifiers cannot be imported and is left out.
    """
    return real_module_names(os.path.realpath(root), os.path.realpath(path))


def real_module_names(root: str, path: str, packages: Optional[Dict[str, bool]] = None) -> List[str]:
    """`module_names` of a real path under a real root (the index resolves each path once);
    `packages`: folder -> whether it holds an `__init__.py`, kept by the caller for many files."""
    packages = {} if packages is None else packages
    folder, filename = os.path.split(path)
    stem = os.path.splitext(filename)[0]
    parts = [] if stem == "__init__" else [stem]
    while True:
        is_package = packages.get(folder)
        if is_package is None:
            is_package = packages[folder] = os.path.isfile(os.path.join(folder, "__init__.py"))
        if not is_package:
            break
        parts.insert(0, os.path.basename(folder))
        parent = os.path.dirname(folder)
        if folder == root or parent == folder or not _inside(parent, root):
            break
        folder = parent
    names = []
    if parts and all(_importable(part) for part in parts):
        names.append(".".join(parts))
    relative = os.path.relpath(path, root) if _inside(path, root) else ""
    if relative:
        pieces = os.path.splitext(relative)[0].split(os.sep)
        if pieces[-1] == "__init__":
            pieces.pop()
        dotted = ".".join(pieces)
        if pieces and all(_importable(piece) for piece in pieces) and dotted not in names:
            names.append(dotted)
    return names


def _importable(part: str) -> bool:
    return part.isidentifier() and not keyword.iskeyword(part)


def _inside(path: str, root: str) -> bool:
    path, root = os.path.normcase(path), os.path.normcase(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
