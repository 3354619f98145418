"""Per-function summaries: what a function or method defined in the module returns.

Built on first use from the function's own value flow (its parameters unknown) and read by the
evaluator at each call site that resolves to it (resolve.py). A summary is a plain record of
states and origins, so the project-wide index can keep and combine them across modules.

    def to_probs(logits):            to_probs(...) -> no graph: detached (line 2)
        return logits.detach()
    @torch.no_grad()
    def embed(model, x):             embed(...) -> no graph: computed under @torch.no_grad()
        return model(x)
    def step(self, batch):           self.step(b) -> (unknown, no graph) for `loss, n = ...`
        return self.loss(batch), 0

Recursion (direct or mutual) makes the result unknown for the call inside the cycle.
"""
from __future__ import annotations

import ast
from typing import Dict, Optional, Set

from .model import CONSTANT, UNKNOWN, ValueState, merge_states
from .structure import FunctionInfo, StructureWalker
from .values import Evaluator, ValueFlow


class Summaries:
    def __init__(self, walker: StructureWalker, evaluator: Evaluator, flow: ValueFlow) -> None:
        self._walker = walker
        self._evaluator = evaluator
        self._flow = flow
        self._returned: Dict[int, ValueState] = {}
        self._in_progress: Set[int] = set()

    def returned(self, function: FunctionInfo) -> Optional[ValueState]:
        """The state of what `function` returns on every path, or None when unknowable here."""
        key = id(function)
        if key in self._returned:
            return self._returned[key]
        if key in self._in_progress or function.is_module or _is_generator(function.node):
            return None
        self._in_progress.add(key)
        try:
            state = self._compute_returned(function)
        finally:
            self._in_progress.discard(key)
        self._returned[key] = state
        return state

    def _compute_returned(self, function: FunctionInfo) -> ValueState:
        flow = self._flow
        flow.ensure(function)
        states = []
        for statement in self._walker.statements_of(function):
            stmt = statement.stmt
            if not isinstance(stmt, ast.Return):
                continue
            if stmt.value is None:
                states.append(CONSTANT)
                continue
            states.append(
                self._evaluator.evaluate(stmt.value, statement, lambda name: flow.name_states.get(id(name), UNKNOWN))
            )
        if flow.end_reachable(function):
            states.append(CONSTANT)  # falls off the end: returns None
        if not states:
            return UNKNOWN
        result = states[0]
        for state in states[1:]:
            result = merge_states(result, state)
        return result


def _is_generator(node: ast.AST) -> bool:
    stack = list(getattr(node, "body", []))
    while stack:
        current = stack.pop()
        if isinstance(current, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(current))
    return False
