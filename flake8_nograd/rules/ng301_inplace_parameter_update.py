"""NG301: a parameter (or a leaf tensor that requires grad) updated in place with grad enabled."""
from __future__ import annotations

import ast
from typing import Dict, Iterator, List, Optional

from ..analysis import CallSite, GradMode, ModuleAnalysis, ParameterUpdate
from ..analysis.parameters import INPLACE_METHODS, LEAF, is_step_method
from ..analysis.values import TENSOR_METHODS
from ..findings import Finding, Fix, finding_at, span
from .base import Rule

FIX = "wrap it in 'with torch.no_grad():'"
# What a loop may call and still be "only the update" (so the fix may put all of it under no_grad).
_UPDATE_LOOP_METHODS = INPLACE_METHODS | TENSOR_METHODS | frozenset(
    (
        "parameters named_parameters modules named_modules children named_children buffers "
        "named_buffers state_dict items values keys get setdefault append detach clone item size dim "
        "numel is_floating_point zero_ nelement"
    ).split()
)
_UPDATE_LOOP_BUILTINS = frozenset(
    "zip range len enumerate isinstance float int min max abs list tuple getattr hasattr sum reversed "
    "print".split()
)
_UPDATE_LOOP_STATEMENTS = (
    ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.If, ast.For, ast.While, ast.Continue, ast.Break, ast.Pass,
)


class InPlaceParameterUpdate(Rule):
    code = "NG301"
    name = "inplace-parameter-update"
    summary = "in-place update of a parameter or a leaf tensor that requires grad, with grad enabled"
    triggers = ("parameters", "Parameter", "requires_grad", "param_groups", ".weight", ".bias", ".grad")

    def check(self, analysis: ModuleAnalysis) -> Iterator[Finding]:
        candidates = [
            update
            for update in analysis.parameter_updates
            if update.statement.region.mode is GradMode.ON and not _left_to_ng302(update, analysis)
        ]
        if not candidates:
            return
        loops = _UpdateLoops(analysis)
        reported = set()
        for update in candidates:
            anchor = loops.anchor(update.statement.stmt)
            if id(anchor) in reported:
                continue
            reported.add(id(anchor))
            wrapped = anchor
            if update.via is not None:
                # The helper may also be given tensors whose writes should be recorded: guard the
                # call that passes the parameter, when it is a statement of its own.
                call = update.via.stmt
                if isinstance(call, ast.Expr) and isinstance(call.value, ast.Call):
                    wrapped = call
            what = "the update" if wrapped is anchor else "the call"
            fix = Fix(f"put {what} under 'with torch.no_grad():'", safe=True, action="wrap_no_grad", target=span(wrapped))
            yield finding_at(anchor, anchor, self.code, message(update, anchor, wrapped), fix)


def _left_to_ng302(update: ParameterUpdate, analysis: ModuleAnalysis) -> bool:
    """An optimizer step()'s update in the grad mode step() is called in: NG302's, whose
    `@torch.no_grad()` covers it. One under a switch inside step() (`with torch.enable_grad():`)
    outlasts that decorator, so it stays here."""
    return update.statement.local is None and is_step_method(update.function, analysis.trains(update.function))


def message(update: ParameterUpdate, anchor: ast.stmt, wrapped: Optional[ast.stmt] = None) -> str:
    if update.kind == LEAF:
        what = f"'{update.name}', a leaf tensor that requires grad,"
    elif update.how.startswith("torch._foreach_"):
        what = f"the parameters in '{update.name}' ({update.how[:-2]})"
    else:
        what = f"parameter '{update.name}'"
    fix = FIX
    if update.via is not None:
        # In a helper: name the call that hands it the parameter (the helper alone does not say).
        what += f" (the call at line {update.via.stmt.lineno} {update.via_how})"
        if wrapped is not None and wrapped is update.via.stmt:
            fix = f"wrap the call at line {update.via.stmt.lineno} in 'with torch.no_grad():'"
    if anchor is not update.statement.stmt:
        where = f"in place (line {update.line}) with grad enabled"
        return f"this loop updates {what} {where}, which raises at run time; {fix}"
    if update.how == "item assignment":
        return f"item assignment into {what} with grad enabled raises at run time; {fix}"
    return f"in-place update of {what} with grad enabled raises at run time; {fix}"


class _UpdateLoops:
    """Where to report (and wrap) an update: the outermost enclosing loop that does nothing but
    updates, so that one finding and one `with torch.no_grad():` cover the whole update."""

    def __init__(self, analysis: ModuleAnalysis) -> None:
        self.analysis = analysis
        self.parent: Dict[int, ast.stmt] = {}
        self.calls: Dict[int, List[CallSite]] = {}
        for statement in analysis.statements:
            stmt = statement.stmt
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue  # their bodies belong to other functions
            for child in _children(stmt):
                self.parent[id(child)] = stmt
        for site in analysis.calls:
            self.calls.setdefault(id(site.statement.stmt), []).append(site)
        self._only_updates: Dict[int, bool] = {}

    def anchor(self, stmt: ast.stmt) -> ast.stmt:
        anchor = stmt
        current: Optional[ast.stmt] = self.parent.get(id(stmt))
        while isinstance(current, (ast.For, ast.AsyncFor, ast.While, ast.If)):
            if isinstance(current, (ast.For, ast.AsyncFor, ast.While)):
                if not self.only_updates(current):
                    break
                anchor = current
            current = self.parent.get(id(current))
        return anchor

    def only_updates(self, loop: ast.stmt) -> bool:
        known = self._only_updates.get(id(loop))
        if known is None:
            # A grad-mode switch inside (`torch.set_grad_enabled(True)`) would outlast a `with`
            # put around the loop: only a loop whose statements all share its region is wrapped.
            region = self.analysis.statement(loop).region
            known = all(
                self._is_update_statement(stmt) and self.analysis.statement(stmt).region == region
                for stmt in [loop] + _nested(loop)
            )
            self._only_updates[id(loop)] = known
        return known

    def _is_update_statement(self, stmt: ast.stmt) -> bool:
        if not isinstance(stmt, _UPDATE_LOOP_STATEMENTS):
            return False
        if isinstance(stmt, ast.Expr) and not isinstance(stmt.value, ast.Call):
            return False  # yield, await
        return all(self._is_update_call(site) for site in self.calls.get(id(stmt), ()))

    def _is_update_call(self, site: CallSite) -> bool:
        qualname = site.qualname
        if qualname is not None:
            return (qualname.startswith("torch.") and not qualname.startswith("torch.autograd")) or qualname.startswith(
                "math."
            )
        func = site.node.func
        if isinstance(func, ast.Name):
            return func.id in _UPDATE_LOOP_BUILTINS
        if isinstance(func, ast.Attribute):
            return func.attr in _UPDATE_LOOP_METHODS  # a model's forward is `model(x)`: not allowed
        return False


def _children(stmt: ast.stmt) -> List[ast.stmt]:
    children: List[ast.stmt] = []
    for name in ("body", "orelse", "finalbody"):
        block = getattr(stmt, name, None)
        if isinstance(block, list):
            children.extend(child for child in block if isinstance(child, ast.stmt))
    for handler in getattr(stmt, "handlers", ()):
        children.extend(handler.body)
    for case in getattr(stmt, "cases", ()):
        children.extend(case.body)
    return children


def _nested(loop: ast.stmt) -> List[ast.stmt]:
    """Every statement inside a loop (not into nested function or class bodies)."""
    found: List[ast.stmt] = []
    stack = _children(loop)
    while stack:
        stmt = stack.pop()
        found.append(stmt)
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stack.extend(_children(stmt))
    return found
