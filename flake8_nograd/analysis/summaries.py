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
        if key in self._in_progress or function.is_module or function.is_generator:
            return None
        if self._evaluator.assumes_base_of(function):
            return None  # evaluated for one call site's grad mode: not the function's summary
        self._in_progress.add(key)
        try:
            state = self._compute_returned(function)
        finally:
            self._in_progress.discard(key)
        self._returned[key] = state
        return state

    def _compute_returned(self, function: FunctionInfo) -> ValueState:
        returns = [
            statement
            for statement in self._walker.statements_of(function)
            if isinstance(statement.stmt, ast.Return) and statement.stmt.value is not None
        ]
        if not returns:
            return CONSTANT  # returns None (or never returns): no value flow needed
        flow = self._flow
        flow.ensure(function)
        states = [
            self._evaluator.evaluate(statement.stmt.value, statement, lambda name: flow.name_states.get(id(name), UNKNOWN))  # type: ignore[union-attr]
            for statement in returns
        ]
        if len(returns) != sum(isinstance(s.stmt, ast.Return) for s in self._walker.statements_of(function)):
            states.append(CONSTANT)  # a bare `return` somewhere
        if flow.end_reachable(function):
            states.append(CONSTANT)  # falls off the end: returns None
        if not states:
            return UNKNOWN
        result = states[0]
        for state in states[1:]:
            result = merge_states(result, state)
        return result

