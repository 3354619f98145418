"""The standalone command's settings: config files, code selection, which files to check.

Precedence: defaults < `[flake8]` in setup.cfg/tox.ini/.flake8 < `[tool.flake8-nograd]` in
pyproject.toml < command line. Both files are looked up from the current folder upwards, the
nearest one that has the section winning, as flake8 does.
"""
from __future__ import annotations

import ast
import configparser
import fnmatch
import functools
import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from .config import OPTIONS

# Keys the command reads from config files besides the plugin's own options (OPTIONS).
COMMON_KEYS = ("select", "ignore", "extend-select", "extend-ignore", "exclude", "extend-exclude")
from .rules import ALL_RULES

DEFAULT_SELECT = ("NG",)
# Never descended into when walking a folder (a folder holding pyvenv.cfg is a virtualenv too).
DEFAULT_EXCLUDE = (
    ".git", ".hg", ".svn", ".bzr", "CVS", "__pycache__", ".tox", ".nox", ".eggs", "*.egg",
    ".venv", "venv", ".mypy_cache", ".pytest_cache", ".ruff_cache", "node_modules",
    ".ipynb_checkpoints",  # Jupyter's autosaved copies of every notebook
)
INI_FILES = ("setup.cfg", "tox.ini", ".flake8")


def option_keys() -> Tuple[str, ...]:
    return COMMON_KEYS + tuple(spec.flag.lstrip("-") for spec in OPTIONS)


_KINDS = {spec.flag.lstrip("-"): spec.kind for spec in OPTIONS}


def _file_value(key: str, value: Any, config_file: str) -> Any:
    """A config-file value as the command reads it: a list of names, a flag's word or bool as
    written, or a path taken from the config file's folder."""
    kind = _KINDS.get(key, "list")
    if kind == "flag":
        return value
    if kind == "path":
        text = os.path.expanduser(str(value).strip())
        return os.path.join(os.path.dirname(os.path.abspath(config_file)), text) if text else ""
    return as_list(value)


# -- config files ------------------------------------------------------------------------------
def load_config_files(start: str) -> Tuple[Dict[str, Any], List[str]]:
    """Settings by key (`nograd-guards`, `select`, ...) and notes to show the user."""
    notes: List[str] = []
    values: Dict[str, Any] = {}
    ini = _find_upwards(start, _ini_with_flake8_section)
    if ini:
        values.update(_from_ini(ini))
    pyproject = _find_upwards(start, _pyproject_with_table)
    if pyproject:
        table, note = read_pyproject_table(pyproject)
        if note:
            notes.append(note)
        for key, value in table.items():
            if key not in option_keys():
                notes.append(f"{pyproject}: unknown key '{key}' in [tool.flake8-nograd] ignored")
                continue
            values[key] = _file_value(key, value, pyproject)
    return values, notes


def _find_upwards(start: str, accept: Any) -> Optional[str]:
    folder = os.path.abspath(start)
    while True:
        found = accept(folder)
        if found:
            return found
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _ini_with_flake8_section(folder: str) -> Optional[str]:
    for name in INI_FILES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            parser = configparser.RawConfigParser()
            try:
                parser.read(path, encoding="utf-8")
            except (configparser.Error, UnicodeDecodeError):
                continue
            if parser.has_section("flake8"):
                return path
    return None


def _from_ini(path: str) -> Dict[str, Any]:
    parser = configparser.RawConfigParser()
    parser.read(path, encoding="utf-8")
    values: Dict[str, Any] = {}
    for key, value in parser.items("flake8"):
        key = key.replace("_", "-")
        if key not in option_keys():
            continue
        if _KINDS.get(key, "list") != "list":
            values[key] = _file_value(key, value, path)
            continue
        items = as_list(value)
        if key in ("select", "extend-select", "ignore", "extend-ignore"):
            # flake8's lists name every plugin's codes; only prefixes that can match NG codes apply.
            items = tuple(code for code in items if code.startswith("NG") or "NG".startswith(code))
            if not items:
                continue
        values[key] = items
    return values


_TABLE_HEADER = re.compile(r"""^\s*\[\s*tool\s*\.\s*(?:flake8-nograd|"flake8-nograd"|'flake8-nograd')\s*\]\s*(#.*)?$""")


def _pyproject_with_table(folder: str) -> Optional[str]:
    path = os.path.join(folder, "pyproject.toml")
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError):
        return None
    return path if any(_TABLE_HEADER.match(line) for line in text.splitlines()) else None


def read_pyproject_table(path: str) -> Tuple[Dict[str, Any], str]:
    """`[tool.flake8-nograd]` of a pyproject.toml: tomllib where Python has it (3.11+), else a
    minimal reader of that one table (strings, lists of strings and booleans, which is all it holds)."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if sys.version_info >= (3, 11):
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            return {}, f"{path}: not valid TOML ({error}); its [tool.flake8-nograd] settings are ignored"
        return dict(data.get("tool", {}).get("flake8-nograd", {})), ""
    return parse_table_minimally(text, path)


def parse_table_minimally(text: str, path: str = "pyproject.toml") -> Tuple[Dict[str, Any], str]:
    """Read `key = "string"`, `key = ["a", "b"]` (also over several lines) and `key = true` under
    the table."""
    table: Dict[str, Any] = {}
    inside = False
    pending = ""
    for raw_line in text.splitlines():
        line = _strip_comment(raw_line).strip()
        if not pending and line.startswith("["):
            if inside:
                break
            inside = bool(_TABLE_HEADER.match(raw_line))
            continue
        if not inside or not line:
            continue
        pending = f"{pending} {line}" if pending else line
        key, _, value = pending.partition("=")
        value = value.strip()
        if value.startswith("[") and not value.endswith("]"):
            continue  # a list going on over more lines
        pending = ""
        if value in ("true", "false"):  # a flag: `no-project = true`
            table[key.strip().strip('"')] = value == "true"
            continue
        try:
            table[key.strip().strip('"')] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return {}, f"{path}: could not read [tool.flake8-nograd] on this Python (no tomllib); settings ignored"
    return table, ""


def _strip_comment(line: str) -> str:
    """The line without a `#` comment (a `#` inside a quoted string stays)."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[:index]
    return line


def as_list(value: Any) -> Tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.replace("\n", ",").split(",")
    return tuple(str(item).strip() for item in value if str(item).strip())


# -- selection ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Selection:
    """flake8's decision for a code: selected by prefix unless ignored; when both match, the
    longer prefix wins (a tie ignores)."""

    select: Tuple[str, ...] = DEFAULT_SELECT
    ignore: Tuple[str, ...] = ()
    # Rules that are off by default (flake8's extend_default_ignore): on only when the user
    # selects codes explicitly (`--select NG`, `--extend-select NG203`).
    default_ignore: Tuple[str, ...] = tuple(rule.code for rule in ALL_RULES if not rule.default_enabled)
    explicit_select: bool = False

    def selected(self, code: str) -> bool:
        select = max((len(p) for p in self.select if code.startswith(p)), default=-1)
        ignore = max((len(p) for p in self.ignore if code.startswith(p)), default=-1)
        if select < 0 or select <= ignore:
            return False
        return self.explicit_select or not any(code.startswith(p) for p in self.default_ignore)


# -- files -------------------------------------------------------------------------------------
def iter_python_files(paths: Iterable[str], exclude: Tuple[str, ...]) -> Iterator[str]:
    """Files to check: given files as they are, folders walked for *.py and *.ipynb (sorted)."""
    for path in paths:
        if os.path.isdir(path):
            yield from _walk(path, exclude)
        elif not _excluded(path, exclude):
            yield path


def _walk(root: str, exclude: Tuple[str, ...]) -> Iterator[str]:
    yield from walk_tree(root, exclude, (".py", ".ipynb"))


def walk_tree(
    root: str, exclude: Tuple[str, ...], suffixes: Tuple[str, ...], skip_name: Callable[[str], bool] = lambda name: False
) -> Iterator[str]:
    """The files under `root` whose names end with `suffixes`, folder by folder in sorted order,
    never descending into an excluded folder (or one whose name `skip_name` refuses) or a
    virtualenv. Unreadable folders are skipped."""
    name_matches, path_matches = _exclude_matchers(exclude)
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(
            d for d in dirs
            if not skip_name(d)
            and not _excluded(os.path.join(folder, d), exclude)
            and not is_virtualenv(os.path.join(folder, d))
        )
        # _excluded for each file, with the folder's absolute path made once: a name from os.walk
        # is its own base name, and joined to a normalised folder it stays normalised (this loop
        # runs for every file of the tree; abspath and normpath cost as much as a file's read).
        absolute_folder = os.path.abspath(folder)
        for name in sorted(files):
            if name.endswith(suffixes) and not (name_matches(name) or path_matches(os.path.join(absolute_folder, name))):
                yield os.path.join(folder, name)


def is_virtualenv(folder: str) -> bool:
    return os.path.exists(os.path.join(folder, "pyvenv.cfg"))


def _excluded(path: str, patterns: Tuple[str, ...]) -> bool:
    """flake8's rule: a pattern matches the base name or the absolute path."""
    name_matches, path_matches = _exclude_matchers(patterns)
    return bool(name_matches(os.path.basename(os.path.normpath(path))) or path_matches(os.path.abspath(path)))


@functools.lru_cache(maxsize=8)
def _exclude_matchers(patterns: Tuple[str, ...]) -> Tuple[Callable[[str], bool], Callable[[str], bool]]:
    """The patterns made into matchers once: one for base names, one for absolute paths."""
    return (
        _matcher([os.path.normcase(p) for p in patterns]),
        _matcher([os.path.normcase(os.path.abspath(p)) for p in patterns]),
    )


def _matcher(patterns: List[str]) -> Callable[[str], bool]:
    """Does fnmatch match a (normcased) text against one of the patterns? A pattern without
    wildcards (most: `.git`, `venv`) matches only itself, so it is a set lookup; only the
    others are compiled into a regex (compiling every default pattern cost more per run than
    walking a thousand files)."""
    literal = frozenset(p for p in patterns if not _WILDCARDS.intersection(p))
    globs = [p for p in patterns if p not in literal]
    glob_match = re.compile("|".join(fnmatch.translate(p) for p in globs)).match if globs else None

    def matches(text: str) -> bool:
        text = os.path.normcase(text)
        return text in literal or (glob_match is not None and glob_match(text) is not None)

    return matches


_WILDCARDS = frozenset("*?[")
