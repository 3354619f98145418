"""Every option, defined once, read by the flake8 plugin and by the standalone command."""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Tuple

# Methods that Lightning runs under torch.no_grad()/inference_mode() (its evaluation loops wrap them).
DEFAULT_GRAD_OFF_HOOKS: Tuple[str, ...] = (
    "validation_step",
    "test_step",
    "predict_step",
    "on_validation_*",
    "on_test_*",
    "on_predict_*",
)


@dataclass(frozen=True)
class OptionSpec:
    """One option: its long flag (also the config-file key) and how to read it."""

    flag: str
    dest: str
    help: str
    default: Tuple[str, ...] = ()
    comma_separated_list: bool = True
    # "list": comma-separated names; "flag": on when given (`no-project = true` in a config file);
    # "path": one file-system path.
    kind: str = "list"
    metavar: Optional[str] = None


OPTIONS: Tuple[OptionSpec, ...] = (
    OptionSpec(
        flag="--nograd-guards",
        dest="nograd_guards",
        help=(
            "Comma-separated names of a project's own decorators or context managers that turn "
            "grad off (e.g. no_grad_eval,mypkg.utils.frozen). Names containing 'no_grad' or "
            "'inference_mode' are recognised without this option."
        ),
    ),
    OptionSpec(
        flag="--nograd-hooks",
        dest="nograd_hooks",
        help=(
            "Comma-separated method names (fnmatch patterns) that a framework runs without grad, "
            "added to the Lightning defaults: " + ", ".join(DEFAULT_GRAD_OFF_HOOKS) + "."
        ),
    ),
    OptionSpec(
        flag="--no-project",
        dest="no_project",
        help=(
            "Check one module at a time: do not read the rest of the project (the files under the "
            "nearest folder holding pyproject.toml, setup.cfg, setup.py or .git)."
        ),
        kind="flag",
        comma_separated_list=False,
    ),
    OptionSpec(
        flag="--no-cache",
        dest="no_cache",
        help="Build the project index afresh on every run: read and write no cache.",
        kind="flag",
        comma_separated_list=False,
    ),
    OptionSpec(
        flag="--cache-dir",
        dest="cache_dir",
        help="Folder of the project index cache (default: .nograd_cache in the project root).",
        kind="path",
        comma_separated_list=False,
        metavar="DIR",
    ),
)


@dataclass(frozen=True)
class Config:
    """The options as the analysis and rules read them."""

    extra_guards: Tuple[str, ...] = ()
    extra_hooks: Tuple[str, ...] = ()
    hooks: Tuple[str, ...] = field(default=DEFAULT_GRAD_OFF_HOOKS)
    project: bool = True  # False: one module at a time (--no-project)
    cache: bool = True  # False: the project index is neither read from nor written to disk
    cache_dir: Optional[str] = None  # an absolute path; None: <project root>/.nograd_cache
    # The user's exclude globs (--exclude, --extend-exclude): files the project index leaves out,
    # besides the defaults (flake8_nograd.project.files).
    project_exclude: Tuple[str, ...] = ()

    @classmethod
    def from_values(cls, values: Any) -> "Config":
        """Build from any object carrying the option dests as attributes (flake8's or argparse's)."""
        guards = _as_tuple(getattr(values, "nograd_guards", ()))
        hooks = _as_tuple(getattr(values, "nograd_hooks", ()))
        cache_dir = _as_path(getattr(values, "cache_dir", None))
        excludes = _as_tuple(getattr(values, "exclude", ())) + _as_tuple(getattr(values, "extend_exclude", ()))
        return cls(
            extra_guards=guards,
            extra_hooks=hooks,
            hooks=DEFAULT_GRAD_OFF_HOOKS + hooks,
            project=not _flag(values, "no_project"),
            cache=not _flag(values, "no_cache"),
            cache_dir=os.path.abspath(cache_dir) if cache_dir else None,
            project_exclude=tuple(dict.fromkeys(excludes)),
        )

    def is_grad_off_hook(self, method_name: str) -> bool:
        return any(fnmatch.fnmatchcase(method_name, pattern) for pattern in self.hooks)


def _as_tuple(value: Any) -> Tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    return tuple(item.strip() for item in value if item and item.strip())


TRUE_WORDS = ("1", "yes", "true", "on")
FALSE_WORDS = ("0", "no", "false", "off", "")


def as_bool(value: Any) -> bool:
    """A flag's value: a bool (command line, TOML), or a word from a config file (configparser's)."""
    if isinstance(value, (tuple, list)):
        value = value[0] if len(value) == 1 else bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"not a boolean: {value!r} (use true or false)")
    return bool(value)


def _flag(values: Any, dest: str) -> bool:
    try:
        return as_bool(getattr(values, dest, False))
    except ValueError as error:
        raise ValueError(f"{dest.replace('_', '-')}: {error}") from None


def _as_path(value: Any) -> Optional[str]:
    if isinstance(value, (tuple, list)):
        value = ",".join(str(item) for item in value)
    if not value or not str(value).strip():
        return None
    return os.path.expanduser(str(value).strip())


def register_flake8_options(option_manager: Any) -> None:
    """Add every option to flake8's option manager (also read from [flake8] config files)."""
    for spec in OPTIONS:
        if spec.kind == "flag":
            option_manager.add_option(spec.flag, action="store_true", parse_from_config=True, help=spec.help)
        elif spec.kind == "path":
            option_manager.add_option(
                spec.flag, default=None, metavar=spec.metavar, parse_from_config=True, normalize_paths=True,
                help=spec.help,
            )
        else:
            option_manager.add_option(
                spec.flag,
                default=",".join(spec.default),
                parse_from_config=True,
                comma_separated_list=spec.comma_separated_list,
                help=spec.help,
            )


def register_argparse_options(parser: Any, names: Iterable[OptionSpec] = OPTIONS) -> None:
    """Add every option to an argparse parser (the standalone command)."""
    for spec in names:
        if spec.kind == "flag":
            parser.add_argument(spec.flag, dest=spec.dest, action="store_true", default=None, help=spec.help)
        else:
            parser.add_argument(spec.flag, dest=spec.dest, default=None, metavar=spec.metavar, help=spec.help)

