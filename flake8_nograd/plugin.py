"""The flake8 entry point (`NG`): checks the tree flake8 already parsed, no second parse."""
from __future__ import annotations

import ast
import multiprocessing
import sys
from typing import Any, Iterator, List, Tuple

from . import __version__
from .checker import INTERNAL_ERROR, check_tree, internal_error_message
from .config import Config, register_flake8_options
from .findings import Finding
from .rules import ALL_RULES, Rule


class Plugin:
    name = "flake8-nograd"
    version = __version__
    config = Config()

    def __init__(self, tree: ast.Module, lines: List[str], filename: str = "") -> None:
        self.tree = tree
        self.lines = lines
        self.filename = filename

    @classmethod
    def add_options(cls, option_manager: Any) -> None:
        register_flake8_options(option_manager)
        # Opt-in rules are reported only when selected: `flake8 --extend-select NG203`.
        off_by_default = [rule.code for rule in ALL_RULES if not rule.default_enabled]
        if off_by_default:
            option_manager.extend_default_ignore(off_by_default)

    rules: Tuple[Rule, ...] = ALL_RULES

    @classmethod
    def parse_options(cls, options: Any) -> None:
        cls.config = Config.from_values(options)
        # An opt-in rule runs only when a selection could name it (flake8 would drop its findings
        # anyway): the default rules are also the ones the project index has findings for.
        chosen = [str(code) for code in (getattr(options, "select", None) or []) + (getattr(options, "extend_select", None) or [])]
        cls.rules = tuple(
            rule for rule in ALL_RULES if rule.default_enabled or any(rule.code.startswith(code) for code in chosen if code)
        )
        if cls.config.project and multiprocessing.parent_process() is None:
            # flake8's main process (its --jobs workers parse the options again): the projects of
            # the given paths are indexed here, once, and what is left out is said once.
            from .project.session import prepare

            paths = [
                getattr(options, "stdin_display_name", "stdin") if path == "-" else path
                for path in getattr(options, "filenames", None) or ()
            ]
            for note in prepare(paths, cls.config):
                print(f"flake8-nograd: {note}", file=sys.stderr)

    def run(self) -> Iterator[Tuple[int, int, str, type]]:
        # Never raises: flake8 turns a plugin exception into a fatal error for the whole run.
        try:
            project = None
            if self.config.project:
                from .project.session import project_context

                project = project_context(self.filename, self.config)
            findings = check_tree(self.tree, "".join(self.lines), self.config, self.rules, project=project)
        except Exception as error:  # noqa: B902 - check_tree already catches; this is the last net
            findings = [Finding(1, 0, INTERNAL_ERROR, internal_error_message(error))]
        for finding in findings:
            yield finding.line, finding.col, finding.text, type(self)
