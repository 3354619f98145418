"""What every rule is: a code, a one-line summary, the words that must appear for it to apply, and
`check(analysis)`, which reads the shared analysis and yields findings."""
from __future__ import annotations

import ast
from typing import ClassVar, Iterator, Optional, Tuple

from ..analysis import ModuleAnalysis
from ..analysis.evaluation import may_import_torch
from ..analysis.limits import DEEP_EXPRESSION, short_source
from ..analysis.structure import FunctionInfo
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

    def applies_to(self, source: str, informed: bool = False) -> bool:
        """Can the rule find anything in this source? `informed`: the project index knows facts
        about what the module calls (a helper elsewhere updates its argument), which its
        text does not show."""
        if self.needs_torch_import and not may_import_torch(source):
            return False
        if informed:
            return True
        for trigger in self.triggers:  # a plain loop: this runs for every rule on every file
            if trigger in source:
                return True
        return False

    def check(self, analysis: ModuleAnalysis) -> Iterator[Finding]:
        raise NotImplementedError

    @classmethod
    def docs_url(cls) -> str:
        return DOCS_URL.format(code=cls.code)


# Longest code a message quotes; a longer expression is named by its line instead of being cut.
SNIPPET_LIMIT = 60
# Expressions a method call attaches to without added parentheses: the atoms the fixer's
# `_append_call` keeps bare, and tuples and generators, whose source text brings its own.
_NO_PARENTHESES_NEEDED = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Tuple, ast.GeneratorExp)


def code_of(expr: ast.expr, limit: int = SNIPPET_LIMIT) -> Optional[str]:
    """The whole source text of `expr`, or None when it is longer than `limit` (never cut)."""
    text = short_source(expr, 10_000)
    return text if len(text) <= limit and text != DEEP_EXPRESSION else None


def describe(expr: ast.expr) -> str:
    """How a message names a value: its code in quotes, or "the expression on line N" when too long."""
    text = code_of(expr)
    return f"'{text}'" if text is not None else f"the expression on line {expr.lineno}"


def with_method(expr: ast.expr, method: str) -> str:
    """The code the fixer writes for `expr.method()`, quoted: `'(a / n).detach()'`, parenthesised as
    the fix parenthesises it, so the call applies to the whole expression; a long expression is named
    by its line instead."""
    text = code_of(expr)
    if text is None:
        return f"'.{method}()' applied to the whole expression on line {expr.lineno}"
    if not isinstance(expr, _NO_PARENTHESES_NEEDED):
        text = f"({text})"
    return f"'{text}.{method}()'"


def decorate_advice(function: FunctionInfo) -> str:
    """" or decorate 'f' with '@torch.no_grad()'", saying where when `f` has other decorators: a
    decorator that replaces the function (`@register(...)` returning something else) would leave a
    guard placed above it guarding nothing."""
    if function.is_module:
        return ""
    advice = f" or decorate '{function.name}' with '@torch.no_grad()'"
    if getattr(function.node, "decorator_list", None):
        advice += f" directly above 'def {function.name}', below its other decorators"
    return advice
