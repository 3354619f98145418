"""The docs are the contract: each rule page's Example gets that rule, its Use instead gets nothing,
and under real torch the Example shows the failure the rule claims while Use instead runs cleanly.

A page states what torch must show in an HTML comment:

    <!-- oracle
    example: raises RuntimeError: does not require grad
    use-instead: runs
    -->

`raises Type: text` (the code raises it), `runs` (no exception), or `assert EXPR` (runs, then EXPR
holds in the code's namespace).
"""
from __future__ import annotations

import re
import warnings

import pytest

from flake8_nograd.rules import ALL_RULES, RULES_BY_CODE
from helpers import DOCS_RULES, lint

REQUIRED_SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix safety", "## Options")
PAGES = sorted(DOCS_RULES.glob("NG*.md"))


def section_code(page: str, heading: str) -> str:
    section = page.split(heading, 1)[1]
    section = section.split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"no python block under {heading}"
    return match.group(1)


def oracle(page: str) -> dict:
    match = re.search(r"<!-- oracle\n(.*?)-->", page, re.S)
    assert match, "page has no oracle comment"
    claims = {}
    for line in match.group(1).strip().splitlines():
        key, _, value = line.partition(":")
        claims[key.strip()] = value.strip()
    return claims


def run_claim(code: str, claim: str) -> None:
    """Execute `code` under torch and check the claim about what happens."""
    namespace: dict = {"__name__": "__oracle__"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if claim.startswith("raises "):
            exc_name, _, text = claim[len("raises "):].partition(":")
            with pytest.raises(Exception) as caught:
                exec(compile(code, "<docs example>", "exec"), namespace)
            assert type(caught.value).__name__ == exc_name.strip(), caught.value
            assert text.strip() in str(caught.value)
            return
        exec(compile(code, "<docs example>", "exec"), namespace)
    if claim.startswith("assert "):
        assert eval(claim[len("assert "):], namespace), claim
    else:
        assert claim == "runs", f"unknown claim {claim!r}"


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_every_rule_has_a_complete_page(rule):
    page = (DOCS_RULES / f"{rule.code}.md").read_text(encoding="utf-8")
    assert page.startswith(f"# {rule.code}"), "page title starts with the code"
    for heading in REQUIRED_SECTIONS:
        assert heading in page, heading


def test_every_page_documents_a_registered_rule():
    assert {p.stem for p in PAGES} == set(RULES_BY_CODE)


@pytest.mark.parametrize("page_path", PAGES, ids=lambda p: p.stem)
def test_linter_agrees_with_the_page(page_path):
    page = page_path.read_text(encoding="utf-8")
    code = page_path.stem
    example_codes = {finding[2] for finding in lint(section_code(page, "## Example"))}
    assert code in example_codes
    assert lint(section_code(page, "## Use instead")) == []


@pytest.mark.parametrize("page_path", PAGES, ids=lambda p: p.stem)
def test_torch_agrees_with_the_page(page_path):
    pytest.importorskip("torch")
    page = page_path.read_text(encoding="utf-8")
    claims = oracle(page)
    run_claim(section_code(page, "## Example"), claims["example"])
    run_claim(section_code(page, "## Use instead"), claims["use-instead"])


def fix_example(code: str, rule_code: str):
    """The page's Example after `flake8-nograd fix` (safe fixes of this rule, over passes as the
    command applies them); None when the rule attaches no safe fix to it."""
    from flake8_nograd.fixes import apply_fixes
    from flake8_nograd.runner import MAX_FIX_PASSES, RunOptions, lint_text

    fixed_any = False
    for _ in range(MAX_FIX_PASSES):
        fixes = [
            f.fix for f in lint_text(code, RunOptions())
            if f.code == rule_code and f.fix and f.fix.action and f.fix.safe
        ]
        if not fixes:
            break
        outcome = apply_fixes(code, fixes)
        if not outcome.changed:
            break
        fixed_any, code = True, outcome.source
    return code if fixed_any else None


def fix_safety(page: str) -> str:
    return page.split("## Fix safety", 1)[1].split("\n## ", 1)[0].strip()


@pytest.mark.parametrize("page_path", PAGES, ids=lambda p: p.stem)
def test_fix_safety_section_matches_the_rule(page_path):
    page = page_path.read_text(encoding="utf-8")
    fixed = fix_example(section_code(page, "## Example"), page_path.stem)
    section = fix_safety(page)
    if fixed is None:
        assert section.startswith(("No automatic fix", "Unsafe")), section
    else:
        assert section.startswith("Safe"), section


# Pages whose rule has a safe fix (per their Fix safety section, which the test above ties to the rule).
FIXABLE_PAGES = [p for p in PAGES if fix_safety(p.read_text(encoding="utf-8")).startswith("Safe")]


def test_some_rules_have_safe_fixes():
    assert {p.stem for p in FIXABLE_PAGES} >= {"NG201", "NG202", "NG301", "NG302", "NG401"}


@pytest.mark.parametrize("page_path", FIXABLE_PAGES, ids=lambda p: p.stem)
def test_fixed_example_is_clean_and_runs_under_torch(page_path):
    page = page_path.read_text(encoding="utf-8")
    code = page_path.stem
    fixed = fix_example(section_code(page, "## Example"), code)
    assert fixed is not None
    assert code not in {finding[2] for finding in lint(fixed)}, fixed
    pytest.importorskip("torch")
    run_claim(fixed, "runs")
