"""Every option, defined once, read by the flake8 plugin and by the standalone command."""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, Iterable, Tuple

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
)


@dataclass(frozen=True)
class Config:
    """The options as the analysis and rules read them."""

    extra_guards: Tuple[str, ...] = ()
    extra_hooks: Tuple[str, ...] = ()
    hooks: Tuple[str, ...] = field(default=DEFAULT_GRAD_OFF_HOOKS)

    @classmethod
    def from_values(cls, values: Any) -> "Config":
        """Build from any object carrying the option dests as attributes (flake8's or argparse's)."""
        guards = _as_tuple(getattr(values, "nograd_guards", ()))
        hooks = _as_tuple(getattr(values, "nograd_hooks", ()))
        return cls(extra_guards=guards, extra_hooks=hooks, hooks=DEFAULT_GRAD_OFF_HOOKS + hooks)

    def is_grad_off_hook(self, method_name: str) -> bool:
        return any(fnmatch.fnmatchcase(method_name, pattern) for pattern in self.hooks)


def _as_tuple(value: Any) -> Tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    return tuple(item.strip() for item in value if item and item.strip())


def register_flake8_options(option_manager: Any) -> None:
    """Add every option to flake8's option manager (also read from [flake8] config files)."""
    for spec in OPTIONS:
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
        parser.add_argument(spec.flag, dest=spec.dest, default=None, help=spec.help)

