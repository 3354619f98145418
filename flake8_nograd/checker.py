"""Check one module: prefilter, build the shared analysis once, run every applicable rule."""
from __future__ import annotations

import ast
from typing import Iterable, List, Optional

from .analysis import ModuleAnalysis
from .config import Config
from .findings import INTERNAL_ERROR, Finding
from .project import ProjectContext
from .rules import ALL_RULES, Rule



def check_tree(
    tree: ast.Module,
    source: str,
    config: Optional[Config] = None,
    rules: Iterable[Rule] = ALL_RULES,
    project: Optional[ProjectContext] = None,
) -> List[Finding]:
    """Findings for an already parsed module, sorted by position.

    Never raises: an internal error becomes one NG000 finding at line 1, so that a flake8 run goes
    on with the other files and plugins.
    """
    try:
        rules = tuple(rules)
        codes = {rule.code for rule in rules} | {INTERNAL_ERROR}
        if project is not None:
            # The project index already analysed this text alone; reuse that where the rest of
            # the project changes nothing about it (most modules).
            known = project.final_findings(source, codes)
            if known is not None:
                return known
        informed = project is not None and project.informs
        applicable = [rule for rule in rules if rule.applies_to(source, informed)]
        if not applicable:
            return []
        walked = project.walked_module(source) if project is not None else None
        findings = run_rules(ModuleAnalysis(tree, config, project, walked), applicable)
        if project is not None:
            project.remember(source, codes, findings)
        return findings
    except Exception as error:  # noqa: B902 - a linter bug must not abort the run (RecursionError, MemoryError too)
        return [Finding(1, 0, INTERNAL_ERROR, internal_error_message(error))]


def run_rules(analysis: ModuleAnalysis, rules: Iterable[Rule]) -> List[Finding]:
    """The findings of these rules (those that apply to the source: the caller's prefilter),
    sorted by position."""
    findings: List[Finding] = []
    for rule in rules:
        findings.extend(f for f in rule.check(analysis) if not analysis.expects_error(f.line))
    return sorted(set(findings), key=lambda f: (f.line, f.col, f.code, f.message))


def internal_error_message(error: BaseException, doing: str = "analysing") -> str:
    """NG000's message, the same from the plugin and the command."""
    text = str(error).strip()
    reason = text.splitlines()[0][:100] if text else "no details"
    return f"internal error while {doing} this file: {type(error).__name__}: {reason}; please report it"


def check_source(source: str, config: Optional[Config] = None, filename: str = "<unknown>") -> List[Finding]:
    """Parse and check source text (raises SyntaxError on invalid code; front ends report it)."""
    tree = ast.parse(source, filename=filename)
    return check_tree(tree, source, config)
