"""The flake8 entry point (`NG`): checks the tree flake8 already parsed, no second parse."""
from __future__ import annotations

import ast
from typing import Any, Iterator, List, Tuple

from . import __version__
from .checker import check_tree
from .config import Config, register_flake8_options
from .rules import ALL_RULES


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

    @classmethod
    def parse_options(cls, options: Any) -> None:
        cls.config = Config.from_values(options)

    def run(self) -> Iterator[Tuple[int, int, str, type]]:
        for finding in check_tree(self.tree, "".join(self.lines), self.config):
            yield finding.line, finding.col, finding.text, type(self)
