"""NG102: requires_grad switched on for a computed no-graph value, so backward() trains nothing."""
from __future__ import annotations

import ast
from typing import Iterable, Iterator, Optional, Set

from ..analysis import FunctionInfo, Graph, ModuleAnalysis, Origin, OriginKind
from ..findings import Finding, finding_at
from .base import Rule, describe


class RequiresGradSilencesError(Rule):
    code = "NG102"
    name = "requires-grad-silences-error"
    summary = "requires_grad switched on for a value computed without grad, then back-propagated"
    triggers = ("requires_grad",)

    def check(self, analysis: ModuleAnalysis) -> Iterator[Finding]:
        reported: Set[int] = set()
        for backward in analysis.backward_calls:
            for value in backward.values:
                state = analysis.state_of(value, backward.statement)
                origin = state.origin
                if state.graph is not Graph.SILENCED or origin is None or origin.statement is None:
                    continue
                switch = origin.statement
                if id(switch) in reported:
                    continue
                reported.add(id(switch))
                switched = _switched_value(switch)
                functions = {id(f): f for f in (analysis.statement(switch).function, backward.statement.function)}
                if _gradient_used(analysis, _leaf_names(switch, switched), functions.values()):
                    continue  # the leaf's own .grad is the point (a reference copy, an input)
                target = describe(switched)
                how, fix = _explain(origin.cause, target)
                yield finding_at(
                    switch,
                    switch,
                    self.code,
                    f"requires_grad switched on for {target}, which was {how} and has no graph: "
                    f"{backward.api} then runs but no parameter gets a gradient; {fix}",
                )


def _explain(cause: Optional[Origin], target: str) -> tuple:
    """(how the value lost its graph, what to do instead), following what local functions return."""
    returned = []
    while cause is not None and cause.kind is OriginKind.RETURNED:
        returned.append(f"computed from what '{cause.detail}()' returns (line {cause.line}), which was")
        cause = cause.cause
    fix = f"compute {target} with grad enabled instead"
    if cause is not None and cause.region is not None:
        how = "computed " + cause.region.describe()
    elif cause is not None and cause.kind is OriginKind.CREATED and cause.cause is not None:
        numbers = cause.cause
        how = f"rebuilt by {cause.detail} from Python numbers read out of a tensor ({numbers.detail}, line {numbers.line})"
        fix = "back-propagate a loss computed from the tensor itself, not from a copy of its numbers"
    else:
        how = "computed by .detach()"
        # More grad cannot help a value cut from its graph on purpose: the .detach() is the mistake.
        fix = "remove the .detach() so that it keeps its graph"
    if returned:
        how = " ".join(returned) + " " + how + ","
    return how, fix


def _switched_value(stmt: ast.stmt) -> ast.expr:
    """`loss` in `loss.requires_grad = True`, `loss.requires_grad_()`, `Variable(loss, requires_grad=True)`,
    or the call in `torch.tensor(x.item(), requires_grad=True)`."""
    if isinstance(stmt, ast.Assign):
        target = stmt.targets[0]
        if isinstance(target, ast.Attribute) and target.attr == "requires_grad":
            return target.value
    for node in ast.walk(stmt):
        if isinstance(node, ast.Attribute) and node.attr == "requires_grad_":
            return node.value
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call) and any(kw.arg == "requires_grad" for kw in node.keywords):
            func = node.func
            wrapper = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            return node.args[0] if wrapper == "Variable" and node.args else node
    return stmt  # type: ignore[return-value]


def _leaf_names(switch: ast.stmt, switched: ast.expr) -> Set[str]:
    """The names that hold the leaf: the switched name, and what the statement binds."""
    names = {switched.id} if isinstance(switched, ast.Name) else set()
    if isinstance(switch, ast.Assign):
        names |= {target.id for target in switch.targets if isinstance(target, ast.Name)}
    return names


def _gradient_used(analysis: ModuleAnalysis, names: Set[str], functions: Iterable[FunctionInfo]) -> bool:
    """Is the leaf's gradient read (`x.grad`), asked for (`torch.autograd.grad(out, x)`) or handed to
    an optimizer, in the functions involved? Then the leaf is the input whose gradient is wanted."""
    if not names:
        return False
    for function in functions:
        for statement in analysis.statements_of(function):
            for node in ast.walk(statement.stmt):
                if isinstance(node, ast.Attribute) and node.attr == "grad" and isinstance(node.value, ast.Name):
                    if node.value.id in names:
                        return True
                elif isinstance(node, ast.Call):
                    qualname = analysis.qualname(node.func, statement)
                    if qualname is None or not (qualname == "torch.autograd.grad" or qualname.startswith("torch.optim.")):
                        continue
                    passed = node.args[1:] if qualname == "torch.autograd.grad" else node.args
                    arguments = list(passed) + [kw.value for kw in node.keywords if kw.arg in ("inputs", "params")]
                    if any(isinstance(n, ast.Name) and n.id in names for a in arguments for n in ast.walk(a)):
                        return True
    return False
