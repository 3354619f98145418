"""NG301: a parameter (or a leaf tensor that requires grad) updated in place with grad enabled."""
from __future__ import annotations

import ast
from typing import Dict, Iterator, List, Optional

from ..analysis import CallSite, GradMode, ModuleAnalysis, ParameterUpdate
from ..analysis.parameters import INPLACE_METHODS, LEAF, MODULE, PARAMETERS, describe, is_step_method
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
            if update.via is not None:
                # A helper that updates what it is given: the call's grad mode decides, so the call
                # is reported (once, whatever the helper writes) and guarded.
                if id(update.via_call) not in reported:
                    reported.add(id(update.via_call))
                    yield self._at_call(update)
                continue
            anchor = loops.anchor(update.statement.stmt)
            if id(anchor) in reported:
                continue
            reported.add(id(anchor))
            fix = Fix("put the update under 'with torch.no_grad():'", safe=True, action="wrap_no_grad", target=span(anchor))
            yield finding_at(anchor, anchor, self.code, message(update, anchor), fix)

    def _at_call(self, update: ParameterUpdate) -> Finding:
        assert update.via is not None and update.via_call is not None
        call, stmt = update.via_call, update.via.stmt
        if update.via_helper:  # a helper in another module: only the call can be guarded here
            fix = None
            if isinstance(stmt, ast.Expr) and stmt.value is call:
                fix = Fix("put the call under 'with torch.no_grad():'", safe=True, action="wrap_no_grad", target=span(stmt))
            return finding_at(call, stmt, self.code, call_message(update, "wrap the call in 'with torch.no_grad():'"), fix)
        if isinstance(stmt, ast.Expr) and stmt.value is call:
            # The helper may also be given tensors whose writes should be recorded: guard the call.
            fix = Fix("put the call under 'with torch.no_grad():'", safe=True, action="wrap_no_grad", target=span(stmt))
            how = "wrap the call in 'with torch.no_grad():'"
        else:  # `y = helper(p)`: guarding the statement would also drop y's graph; guard the write
            written = update.statement.stmt
            fix = Fix(
                "put the helper's update under 'with torch.no_grad():'", safe=True, action="wrap_no_grad", target=span(written)
            )
            how = f"wrap line {written.lineno} of '{update.function.name}' in 'with torch.no_grad():'"
        return finding_at(call, stmt, self.code, call_message(update, how), fix)


def _left_to_ng302(update: ParameterUpdate, analysis: ModuleAnalysis) -> bool:
    """An optimizer step()'s update in the grad mode step() is called in: NG302's, whose
    `@torch.no_grad()` covers it. One under a switch inside step() (`with torch.enable_grad():`)
    outlasts that decorator, so it stays here."""
    if update.via is not None:
        return False
    return update.statement.local is None and is_step_method(update.function, analysis.trains(update.function))


def message(update: ParameterUpdate, anchor: ast.stmt) -> str:
    if update.kind == LEAF:
        what = f"'{update.name}', a leaf tensor that requires grad,"
    elif update.how.startswith("torch._foreach_"):
        what = f"the parameters in '{update.name}' ({update.how[:-2]})"
    else:
        what = f"parameter '{update.name}'"
    if anchor is not update.statement.stmt:
        where = f"in place (line {update.line}) with grad enabled"
        return f"this loop updates {what} {where}, which raises at run time; {FIX}"
    if update.how == "item assignment":
        return f"item assignment into {what} with grad enabled raises at run time; {FIX}"
    return f"in-place update of {what} with grad enabled raises at run time; {FIX}"


def call_message(update: ParameterUpdate, fix: str) -> str:
    """`'fill_(self.weight)' updates parameter 'self.weight' in place (line 24, in fill_) ...`."""
    argument = update.via_argument
    if update.via_binding == MODULE:
        what = f"'{update.name}', a parameter of '{argument}',"
    elif update.via_binding == PARAMETERS:
        what = f"the parameters in '{argument}'"
    elif update.via_binding == LEAF:
        what = f"'{argument}', a leaf tensor that requires grad,"
    else:
        what = f"parameter '{argument}'"
    call = describe(update.via_call)  # type: ignore[arg-type]
    helper = update.via_helper or update.function.name
    # A long call is named by its helper: a quoted snippet is whole code, never cut.
    called = f"'{call}'" if len(call) <= 60 else f"the call of '{helper}'"
    where = f"{update.via_where}, in {helper}" if update.via_where else f"line {update.line}, in {helper}"
    return f"{called} updates {what} in place ({where}) with grad enabled, which raises at run time; {fix}"


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
