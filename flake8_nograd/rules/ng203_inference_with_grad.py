"""NG203: a single forward pass in inference code (after model.eval()) with grad enabled."""
from __future__ import annotations

import ast
from typing import Iterator, Optional

from ..analysis import Graph, ModuleAnalysis, StatementInfo
from ..analysis.evaluation import grad_on_by_default
from ..analysis.structure import _parameter_names
from ..findings import Finding, Fix, finding_at, span
from .base import Rule, decorate_advice


class InferenceWithGrad(Rule):
    code = "NG203"
    name = "inference-with-grad"
    summary = "a forward pass after model.eval() whose prediction is kept, with grad enabled"
    triggers = ("eval",)
    needs_torch_import = True
    # Opt-in (flake8 --extend-select NG203): a single forward is cheap, the graph only lives as long
    # as the prediction, and shape checks or export sanity runs after eval() are common.
    default_enabled = False

    def check(self, analysis: ModuleAnalysis) -> Iterator[Finding]:
        evaluation = analysis.evaluation
        if not evaluation.uses_torch:
            return
        # A function with an NG201 loop has one root cause: decorating it fixes both.
        with_loop_finding = {id(found.loop.function) for found in evaluation.evaluation_loops()}
        # ... and so does guarding the loop that calls a step helper (`self.validation_step(b)`).
        for found in evaluation.evaluation_loops():
            callee = evaluation.evaluator.calls.callee(found.call.node, found.call.statement)
            if callee is not None:
                with_loop_finding.add(id(callee))
        for function in analysis.functions:
            if evaluation.needs_grad(function) or id(function) in with_loop_finding:
                continue
            if evaluation.is_unit_test(function):
                continue  # `model.eval(); assert model(x).shape == ...` checks the model, not a bug
            for statement in analysis.statements_of(function):
                if not _keeps_result(statement) or not grad_on_by_default(statement):
                    continue
                if analysis.state_of(statement.stmt.value, statement).graph is not Graph.HAS_GRAPH:
                    continue  # `labels = model(x).argmax(1)`: what is kept has no graph to hold
                leaves: Optional[str] = None
                if not function.is_module:
                    leaves = _graph_leaves(analysis, function, statement)
                    if leaves is None:
                        continue  # `return prediction.item()`: the graph dies with the function
                if evaluation.enclosing_loops(statement):
                    continue  # loops are NG201's
                call = _first_model_call(analysis, statement)
                if call is None:
                    continue
                model = evaluation.model_of(analysis.call(call))
                switch = evaluation.eval_switch_before(statement, model)
                if switch is None or not _same_model(switch.key, model):
                    continue
                if (
                    not function.is_module
                    and leaves == "returned"
                    and (_is_parameter(function, model) or _is_module_call(function))
                    and not evaluation.returns_to_callers_that_keep_it(function)
                ):
                    # A module handed in, or a module's own forward: the output goes back to the
                    # caller, whose grad mode decides whether a graph is wanted.
                    continue
                stmt = statement.stmt
                keeps = "returns" if isinstance(stmt, ast.Return) else "keeps"
                decorate = decorate_advice(function)
                message = (
                    f"'{model}' runs with grad enabled after {switch.key}.eval() (line {switch.line}) and the "
                    f"code {keeps} its output, so the graph and activations stay alive; run it under "
                    f"'with torch.no_grad():'{decorate}"
                )
                description = "wrap the statement in 'with torch.no_grad():'"
                fix = Fix(description, safe=False, action="wrap_no_grad", target=span(stmt))
                yield finding_at(call, stmt, self.code, message, fix)


def _keeps_result(statement: StatementInfo) -> bool:
    stmt = statement.stmt
    return (isinstance(stmt, ast.Return) and stmt.value is not None) or (
        isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None
    )


def _graph_leaves(analysis: ModuleAnalysis, function, statement: StatementInfo) -> Optional[str]:
    """How the graph built at `statement` outlives the function: "stored" on an object or in a
    container, "returned" to the caller, None when it dies with the function."""
    stmt = statement.stmt
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        for target in targets:
            elements = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
            if any(isinstance(element, (ast.Attribute, ast.Subscript)) for element in elements):
                return "stored"  # self.last = model(x), cache[key] = model(x)
    for later in analysis.statements_of(function):
        if not isinstance(later.stmt, ast.Return) or later.stmt.value is None or later.stmt.lineno < stmt.lineno:
            continue
        state = analysis.state_of(later.stmt.value, later)
        if state.graph is Graph.HAS_GRAPH and state.origin is not None and state.origin.statement is stmt:
            return "returned"
    return None


def _is_parameter(function, model: Optional[str]) -> bool:
    """`encoder` in `describe(encoder, x)`: the model is handed in (not `self`, not a global)."""
    root = (model or "").partition(".")[0].partition("[")[0]
    return root not in ("", "self") and root in _parameter_names(function)


def _is_module_call(function) -> bool:
    """`forward` / `__call__` of a class: it runs as the caller's own model call."""
    return function.class_node is not None and function.name in ("forward", "__call__")


def _first_model_call(analysis: ModuleAnalysis, statement: StatementInfo) -> Optional[ast.Call]:
    calls = analysis.evaluation.model_calls_in(statement)
    if not calls:
        return None
    return min((site.node for site in calls), key=lambda node: (node.lineno, node.col_offset))


def _same_model(switched: str, model: Optional[str]) -> bool:
    if model is None:
        return False
    return model == switched or model.startswith(switched + ".") or switched.startswith(model + ".")
