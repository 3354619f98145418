"""NG401: a grad-mode context manager used without calling it (`with torch.no_grad:`)."""
from __future__ import annotations

import ast
from typing import Iterator

from ..analysis import ModuleAnalysis
from ..analysis.guards import grad_mode_api
from ..findings import Finding, Fix, finding_at, span
from .base import Rule

_EXAMPLE_ARGUMENTS = {"torch.set_grad_enabled": "False"}


class GuardNotCalled(Rule):
    code = "NG401"
    name = "grad-guard-not-called"
    summary = "a grad-mode context manager used in 'with' without calling it (TypeError)"
    triggers = ("no_grad", "enable_grad", "inference_mode", "set_grad_enabled")

    def check(self, analysis: ModuleAnalysis) -> Iterator[Finding]:
        for statement in analysis.statements:
            stmt = statement.stmt
            if not isinstance(stmt, (ast.With, ast.AsyncWith)):
                continue
            for item in stmt.items:
                expr = item.context_expr
                api = grad_mode_api(expr, lambda e: analysis.qualname(e, statement))
                if api is None:
                    continue
                written = ast.unparse(expr)
                argument = _EXAMPLE_ARGUMENTS.get(api, "")
                fix = None if argument else Fix("add the missing '()'", safe=True, action="add_call", target=span(expr))
                yield finding_at(
                    expr,
                    stmt,
                    self.code,
                    f"'{written}' is used without calling it, a TypeError at run time; "
                    f"write 'with {written}({argument}):'",
                    fix,
                )
