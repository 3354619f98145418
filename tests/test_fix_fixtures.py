"""Before/after pairs for every fix action: `fix_fixtures/NAME.py` fixed is `NAME.fixed.py`, byte for byte.

A fixture's fixes are the real rules' fixes (NG401 today) plus hand-made ones for rules not on this
branch yet, written `# fix: ACTION@LINE:COL` (1-based column, as flake8 prints): the target is the
statement (wrap/decorate) or the largest expression (the others) starting there.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import List, Tuple

import pytest

from flake8_nograd.findings import Fix, span
from flake8_nograd.fixes import apply_fixes, engine
from flake8_nograd.runner import RunOptions, lint_text
from flake8_nograd.settings import Selection
from flake8_nograd.sources import read_source

FIX_FIXTURES = Path(__file__).resolve().parent / "fix_fixtures"
BEFORE = sorted(p for p in FIX_FIXTURES.glob("*.py") if not p.name.endswith(".fixed.py"))
_ANNOTATION = re.compile(r"#\s*fix:\s*(\w+)@(\d+):(\d+)")
_STATEMENT_ACTIONS = ("wrap_no_grad", "decorate_no_grad")


def hand_made_fixes(text: str) -> List[Fix]:
    tree = ast.parse(text)
    fixes = []
    for action, line, column in _ANNOTATION.findall(text):
        position = (int(line), int(column) - 1)
        kind = ast.stmt if action in _STATEMENT_ACTIONS else ast.expr
        nodes = [
            node for node in ast.walk(tree)
            if isinstance(node, kind) and (node.lineno, node.col_offset) == position
        ]
        assert nodes, f"no {kind.__name__} at {line}:{column}"
        node = max(nodes, key=lambda n: (n.end_lineno, n.end_col_offset))
        fixes.append(Fix(f"test {action}", True, action, span(node)))
    return fixes


def fix_fixture(path: Path) -> Tuple[bytes, object]:
    source = read_source(str(path))
    fixes = [f.fix for f in lint_text(source.text, RunOptions()) if f.fix and f.fix.action]
    outcome = apply_fixes(source.text, fixes + hand_made_fixes(source.text))
    return source.encode(outcome.source), outcome


@pytest.mark.parametrize("path", BEFORE, ids=lambda p: p.stem)
def test_fixed_file_matches_the_pair(path: Path) -> None:
    expected = path.with_name(path.stem + ".fixed.py")
    fixed, outcome = fix_fixture(path)
    assert outcome.applied, "every fixture applies at least one fix"
    assert fixed == expected.read_bytes()


@pytest.mark.parametrize("path", BEFORE, ids=lambda p: p.stem)
def test_fixed_file_parses_and_has_nothing_left_to_fix(path: Path) -> None:
    expected = path.with_name(path.stem + ".fixed.py")
    source = read_source(str(expected))
    ast.parse(source.text)
    left = [f for f in lint_text(source.text, RunOptions()) if f.fix and f.fix.action]
    assert left == [], "fixing twice changes nothing the second time"


def test_fixture_pairs_are_complete() -> None:
    fixed = sorted(FIX_FIXTURES.glob("*.fixed.py"))
    assert len(fixed) == len(BEFORE) >= 12


def fixes_of(text: str) -> List[Fix]:
    """Every fix the rules offer (safe or not) plus the fixture's hand-made ones."""
    everything = RunOptions(selection=Selection(select=("NG",)))
    return [f.fix for f in lint_text(text, everything) if f.fix and f.fix.action] + hand_made_fixes(text)


def generated_programs() -> List[str]:
    import random

    from training_code_generator import Chooser, program

    return [program(Chooser.from_random(random.Random(seed))) for seed in range(300)]


@pytest.mark.parametrize("path", BEFORE, ids=lambda p: p.stem)
def test_fixing_only_the_touched_statements_gives_the_whole_file_result(path: Path) -> None:
    text = read_source(str(path)).text
    fixes = fixes_of(text)
    assert apply_fixes(text, fixes).source == engine.apply_fixes(text, fixes, whole_file=True).source


def test_fixing_only_the_touched_statements_on_generated_programs() -> None:
    fixed = 0
    for text in generated_programs():
        fixes = fixes_of(text)
        if not fixes:
            continue
        part, whole = engine.apply_fixes(text, fixes), engine.apply_fixes(text, fixes, whole_file=True)
        assert part.source == whole.source, text
        assert [f.target for f in part.applied] == [f.target for f in whole.applied], text
        fixed += part.changed
    assert fixed >= 50, "the generator must reach the fixes"
