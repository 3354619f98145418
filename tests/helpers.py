"""Shared test helpers: run the checker, read `# expect:` annotations from fixture files."""
from __future__ import annotations

import io
import re
import textwrap
import tokenize
from pathlib import Path
from typing import List, Optional, Set, Tuple

from flake8_nograd.checker import check_source
from flake8_nograd.config import Config

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
DOCS_RULES = ROOT / "docs" / "rules"

# `# expect: NG101@5 NG102@1` on the reported line; the column is 1-based, as flake8 prints it.
_EXPECT = re.compile(r"#\s*expect:\s*(.+)$")
_ITEM = re.compile(r"(NG\d{3})@(\d+)")
# `# config: nograd-guards=no_grad_eval,frozen` anywhere in a fixture sets an option for it.
_CONFIG = re.compile(r"#\s*config:\s*([\w-]+)=(\S+)")

Position = Tuple[int, int, str]  # (line, 1-based column, code)


def lint(source: str, config: Optional[Config] = None) -> List[Position]:
    """(line, 1-based column, code) of every finding, as flake8 would print them."""
    return [(f.line, f.col + 1, f.code) for f in check_source(textwrap.dedent(source), config)]


def messages(source: str, config: Optional[Config] = None) -> List[str]:
    return [f.text for f in check_source(textwrap.dedent(source), config)]


def expected_findings(source: str) -> Set[Position]:
    expected: Set[Position] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        match = _EXPECT.search(token.string)
        if match:
            for code, column in _ITEM.findall(match.group(1)):
                expected.add((token.start[0], int(column), code))
    return expected


def fixture_config(source: str) -> Config:
    values = {}
    for key, value in _CONFIG.findall(source):
        values[key.replace("-", "_")] = value
    return Config.from_values(type("Options", (), values)) if values else Config()
