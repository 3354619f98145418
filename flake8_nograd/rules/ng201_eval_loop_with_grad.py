"""NG201: an evaluation loop that runs a model with grad enabled (a graph per batch, for nothing)."""
from __future__ import annotations

import ast
from typing import Iterator

from ..analysis import Graph, ModuleAnalysis
from ..analysis.evaluation import EvaluationLoop
from ..findings import Finding, Fix, finding_at, span
from .base import Rule, decorate_advice


class EvalLoopWithGrad(Rule):
    code = "NG201"
    name = "eval-loop-with-grad"
    summary = "an evaluation loop runs the model with grad enabled"
    triggers = ("eval", "val", "test", "predict", "infer")
    needs_torch_import = True

    def check(self, analysis: ModuleAnalysis) -> Iterator[Finding]:
        for found in analysis.evaluation.evaluation_loops():
            loop = found.loop.stmt
            keyword = "while" if isinstance(loop, ast.While) else "for"
            function = found.loop.function
            # A function that trains elsewhere (validation inlined in `fit`) must keep grad on.
            decorate = "" if analysis.evaluation.needs_grad(function) else decorate_advice(function)
            dead_guard = (
                f" ('volatile=True' on line {found.volatile.node.lineno} has done nothing since "
                f"PyTorch 0.4)"
                if found.volatile is not None
                else ""
            )
            message = (
                f"'{keyword}' loop {found.context.describe()} runs '{found.model}' (line {found.call.node.lineno}) "
                f"with grad enabled{dead_guard}, building a graph for every iteration; wrap the loop in "
                f"'with torch.no_grad():'{decorate}"
            )
            fix = Fix(
                "wrap the loop in 'with torch.no_grad():'",
                safe=not _results_escape(analysis, found),
                action="wrap_no_grad",
                target=span(loop),
            )
            yield finding_at(loop, loop, self.code, message, fix)


def _results_escape(analysis: ModuleAnalysis, found: EvaluationLoop) -> bool:
    """Could a caller need grad on what the loop computes? Then wrapping it is not a safe fix.

    Safe when the function returns nothing computed with a graph (numbers, `.item()`s, metrics) and
    yields nothing; a returned model output or a list the loop filled might be back-propagated.
    """
    function = found.loop.function
    loop_end = found.loop.stmt.end_lineno or found.loop.stmt.lineno
    for statement in analysis.statements_of(function):
        stmt = statement.stmt
        if isinstance(stmt, ast.Return) and stmt.value is not None and stmt.lineno > found.loop.stmt.lineno:
            graph = analysis.state_of(stmt.value, statement).graph
            if graph is Graph.HAS_GRAPH or (graph is Graph.UNKNOWN and not _plain_numbers(stmt.value)):
                return True
        if stmt.lineno >= found.loop.stmt.lineno and stmt.lineno <= loop_end:
            for node in ast.walk(stmt) if isinstance(stmt, ast.Expr) else ():
                if isinstance(node, (ast.Yield, ast.YieldFrom)):
                    return True
    return False


def _plain_numbers(expr: ast.expr) -> bool:
    """`correct / total`, `100. * correct / len(loader.dataset)`: names and arithmetic, no tensors' calls."""
    for node in ast.walk(expr):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else ""
            if name not in ("len", "float", "int", "round", "sum", "max", "min"):
                return False
        elif isinstance(node, (ast.List, ast.Dict, ast.Subscript)):
            return False
    return True
