"""NG104: numpy() on a tensor that requires grad (a RuntimeError at run time).

`t.numpy()` raises "Can't call numpy() on Tensor that requires grad" whenever `t.requires_grad` is
True, whatever the grad mode at the call (checked under torch 2.13): a parameter or a leaf made
with `requires_grad=True` raises even under `torch.no_grad()`, and a value computed under a guard
does not. `np.asarray(t)` and `np.array(t)` call `t.__array__()`, which calls `t.numpy()`, and raise
the same error; so do `t.cpu().numpy()` and `t.to("cpu").numpy()` (on a CPU tensor `.cpu()` is
`t` itself, and with grad on a copy keeps the graph).

The rule reports only what the value model knows requires grad: a parameter or a grad-requiring
leaf, or a value with a graph computed in this function with grad known to be on (module level, a
function that back-propagates, or one whose every call in the module has grad on). A helper whose
callers are elsewhere may run under `torch.no_grad()`: it stays quiet.
"""
from __future__ import annotations

import ast
from typing import Iterator, Optional, Tuple

from ..analysis import GradMode, Graph, ModuleAnalysis, OriginKind, RegionKind, StatementInfo, ValueState
from ..analysis.parameters import GRAD_REQUIRING, LEAF, imports_torch
from ..analysis.structure import FunctionInfo
from ..findings import Finding, Fix, finding_at, span
from .base import Rule, code_of, describe, with_method

# numpy functions that convert their first argument through `Tensor.__array__` (checked under torch 2.13).
ARRAY_FUNCTIONS = frozenset(("numpy.asarray", "numpy.array", "numpy.asanyarray", "numpy.ascontiguousarray", "numpy.copy"))
# Tensor methods between the receiver and `.numpy()` that keep requires_grad: `.cpu()`, `.to("cpu")`.
_DEVICE_METHODS = frozenset(("cpu", "to"))
_ERROR = '"Can\'t call numpy() on Tensor that requires grad"'


class NumpyOfGradTensor(Rule):
    code = "NG104"
    name = "numpy-of-grad-tensor"
    summary = "numpy() (or np.asarray/np.array) on a tensor that requires grad"
    triggers = ("numpy", "asarray", "array")
    needs_torch_import = True

    def check(self, analysis: ModuleAnalysis) -> Iterator[Finding]:
        if not imports_torch(analysis):
            return
        for site in analysis.calls:
            call = site.node
            converted = _converted_tensor(call, site.method_name, site.qualname)
            if converted is None:
                continue
            statement = site.statement
            if analysis.expects_error(call.lineno):
                continue  # `with pytest.raises(RuntimeError): t.numpy()` tests the error itself
            tensor, how = converted
            receiver = _below_device_moves(tensor)
            if _cut_by_its_code(receiver):
                continue  # `x.detach().cpu().numpy()`: decided without running the value flow
            state = analysis.state_of(tensor, statement)
            reason = _requires_grad(analysis, state, statement, via_array=how != "numpy")
            if reason is None:
                continue
            detached = with_method(receiver, "detach")
            instead = _rewritten(call, receiver, detached)
            what = f"'.numpy()' on {describe(tensor)}" if how == "numpy" else f"'{how}()' of {describe(tensor)}, which calls .numpy(),"
            message = f"{what} raises {_ERROR}: {describe(receiver)} {reason}; use {instead}"
            fix = Fix(f"insert .detach(): {detached}", safe=True, action="append_detach", target=span(receiver))
            yield finding_at(call, statement.stmt, self.code, message, fix)


def _converted_tensor(call: ast.Call, method: Optional[str], qualname: Optional[str]) -> Optional[Tuple[ast.expr, str]]:
    """The expression converted to an array, and how: ('numpy') for `t.numpy()`, ('np.asarray') ..."""
    if method == "numpy" and qualname is None:
        if call.args or any(kw.arg == "force" for kw in call.keywords) or call.keywords:
            return None  # `t.numpy(force=True)` detaches by itself
        return call.func.value, "numpy"  # type: ignore[attr-defined]
    if qualname in ARRAY_FUNCTIONS and call.args and not isinstance(call.args[0], ast.Starred):
        return call.args[0], "np." + qualname.rpartition(".")[2]  # type: ignore[union-attr]
    return None


def _rewritten(call: ast.Call, receiver: ast.expr, detached: str) -> str:
    """The call as the fix writes it, quoted (`'out.detach().cpu().numpy()'`), when short enough."""
    whole, part = code_of(call), code_of(receiver)
    if whole is None or part is None or not detached.startswith("'"):
        return f"{detached} in it"
    start, end = whole.find(part), whole.find(part) + len(part)
    if start < 0:
        return f"{detached} in it"
    if detached.startswith("'(") and whole[start - 1 : start] == "(" and whole[end : end + 1] == ")":
        start, end = start - 1, end + 1  # `(a + b).cpu()`: the parentheses are the fix's own
    return "'" + whole[:start] + detached[1:-1] + whole[end:] + "'"


# Results that never require grad, recognisable from the code alone.
_CUTTING_METHODS = frozenset(("detach", "item", "tolist", "numpy", "argmax", "argmin", "argsort", "long", "int", "bool"))


def _cut_by_its_code(expr: ast.expr) -> bool:
    """`x.detach()`, `x.data`, `x.argmax(1)`, a comparison: no grad whatever `x` is."""
    if isinstance(expr, ast.Attribute) and expr.attr == "data":
        return True
    if isinstance(expr, ast.Compare) or isinstance(expr, ast.Constant):
        return True
    return isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr in _CUTTING_METHODS


def _below_device_moves(expr: ast.expr) -> ast.expr:
    """`out` in `out.cpu()` / `out.to("cpu")`: where `.detach()` goes (before the move)."""
    while isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr in _DEVICE_METHODS:
        expr = expr.func.value
    return expr


def _requires_grad(analysis: ModuleAnalysis, state: ValueState, statement: StatementInfo, via_array: bool) -> Optional[str]:
    """Why the value surely requires grad at `statement` (for the message), or None when it may not."""
    state = state.operand
    if via_array and not state.is_tensor:
        return None  # `np.array(out)` of what may be a tuple or a dict: not always a tensor
    if state.tags & GRAD_REQUIRING:
        if LEAF in state.tags:
            return "is a leaf that requires grad (requires_grad=True), even under torch.no_grad()"
        return "is a parameter, which requires grad even under torch.no_grad()"
    if state.graph is Graph.SILENCED:
        return f"requires grad (switched on at {state.origin.where})" if state.origin is not None else "requires grad"
    if state.graph is not Graph.HAS_GRAPH or state.origin is None or state.origin.statement is None:
        return None
    origin = state.origin
    made = analysis.walker.statement_info.get(id(origin.statement))
    if made is None or made.function is not statement.function:
        return None  # stored on an object or built elsewhere: where, and in which grad mode, is unknown
    if origin.kind is not OriginKind.BACKWARD and not _grad_known_on(analysis, made):
        return None
    return f"has a graph from line {origin.line}, computed with grad enabled, and requires grad"


def _grad_known_on(analysis: ModuleAnalysis, made: StatementInfo, depth: int = 0) -> bool:
    """Grad is on where `made` runs, whoever calls its function."""
    region = made.region
    if region.mode is not GradMode.ON:
        return False
    if made.local is not None and region.kind in (RegionKind.WITH, RegionKind.STATEMENT, RegionKind.DECORATOR):
        return True  # under `with torch.enable_grad():` or after `torch.set_grad_enabled(True)`
    function = made.function
    if function.is_module:
        return True
    if analysis.grad_off_calls(function):
        return False  # `run_epoch(loader, train=False)` under no_grad too: which path converts is unknown
    return analysis.trains(function) or _called_with_grad_here(analysis, function, depth)


def _called_with_grad_here(analysis: ModuleAnalysis, function: FunctionInfo, depth: int) -> bool:
    """Every run of `function` is a call in this module where grad is known on (not a callback,
    not a hook, not a call from a helper that may itself run under a guard)."""
    if depth > 3 or function.base.kind is not RegionKind.DEFAULT or function.decorator_region is not None:
        return False
    references = analysis.calls_resolver.callers().get(id(function), [])
    return bool(references) and all(
        reference.call is not None and not reference.escaped and reference.statement.function is not function
        and _grad_known_on(analysis, reference.statement, depth + 1)
        for reference in references
    )
