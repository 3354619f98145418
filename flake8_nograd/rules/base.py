"""What every rule is: a code, a one-line summary, the words that must appear for it to apply, and
`check(analysis)`, which reads the shared analysis and yields findings."""
from __future__ import annotations

import ast
from typing import ClassVar, Iterator, Tuple

from ..analysis import ModuleAnalysis
from ..analysis.evaluation import may_import_torch
from ..analysis.limits import short_source
from ..findings import Finding

DOCS_URL = "https://github.com/flake8-nograd/flake8-nograd/blob/main/docs/rules/{code}.md"


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]  # kebab-case slug
    summary: ClassVar[str]
    # A module that mentions none of these cannot have a finding; checking it is skipped.
    triggers: ClassVar[Tuple[str, ...]]
    # Rules that only judge PyTorch modules (they read `EvaluationFacts.uses_torch`).
    needs_torch_import: ClassVar[bool] = False
    default_enabled: ClassVar[bool] = True

    def applies_to(self, source: str) -> bool:
        if self.needs_torch_import and not may_import_torch(source):
            return False
        for trigger in self.triggers:  # a plain loop: this runs for every rule on every file
            if trigger in source:
                return True
        return False

    def check(self, analysis: ModuleAnalysis) -> Iterator[Finding]:
        raise NotImplementedError

    @classmethod
    def docs_url(cls) -> str:
        return DOCS_URL.format(code=cls.code)


def describe(expr: ast.expr, limit: int = 40) -> str:
    """How a message names a value: the variable, or short source text."""
    return expr.id if isinstance(expr, ast.Name) and len(expr.id) <= limit else short_source(expr, limit)
