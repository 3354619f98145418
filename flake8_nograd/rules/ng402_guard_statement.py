"""NG402: a grad-mode context manager called as a bare statement, which does nothing."""
from __future__ import annotations

import ast
from typing import Iterator, Optional

from ..analysis import ModuleAnalysis
from ..findings import Finding, finding_at
from ..analysis.limits import short_source
from .base import Rule

# torch.set_grad_enabled(False) as a statement does switch grad off: it is not a mistake.
_NO_EFFECT_AS_STATEMENT = ("torch.no_grad", "torch.enable_grad", "torch.inference_mode")


class GuardStatementDoesNothing(Rule):
    code = "NG402"
    name = "grad-guard-statement"
    summary = "torch.no_grad() / enable_grad() / inference_mode() alone on a line (or inference_mode().__enter__()) does nothing"
    triggers = ("no_grad", "enable_grad", "inference_mode")

    def check(self, analysis: ModuleAnalysis) -> Iterator[Finding]:
        for statement in analysis.statements:
            stmt = statement.stmt
            if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
                continue
            call = stmt.value
            entered = _entered_temporary(call)
            if entered is not None and analysis.call(entered).qualname == "torch.inference_mode":
                written = short_source(call, 200)
                yield finding_at(
                    call,
                    stmt,
                    self.code,
                    f"'{written}' enters a guard that lives in a temporary object and ends with it, so it does "
                    f"nothing; put the code under 'with {short_source(entered, 200)}:'",
                )
                continue
            if analysis.call(call).qualname not in _NO_EFFECT_AS_STATEMENT:
                continue
            written = short_source(call, 200)
            alternative = " (or torch.set_grad_enabled(False) to switch grad off until re-enabled)" if (
                analysis.call(call).qualname != "torch.enable_grad"
            ) else ""
            yield finding_at(
                call,
                stmt,
                self.code,
                f"'{written}' alone on a line creates a context manager and does nothing; "
                f"put the code under 'with {written}:'{alternative}",
            )


def _entered_temporary(call: ast.Call) -> Optional[ast.Call]:
    """`torch.inference_mode()` in `torch.inference_mode().__enter__()`. Unlike no_grad's, whose
    `__enter__` sets the thread's grad mode, inference mode's state lives on the guard object, which
    is freed at once (checked against torch: inference mode is off on the next line)."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "__enter__" and isinstance(func.value, ast.Call):
        return func.value
    return None
