"""NG102: requires_grad switched on for a computed no-graph value, so backward() trains nothing."""
from __future__ import annotations

import ast
from typing import Iterator, Set

from ..analysis import Graph, ModuleAnalysis
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
                cause = origin.cause
                how = cause.region.describe() if cause is not None and cause.region is not None else "by .detach()"
                target = describe(_switched_value(switch))
                yield finding_at(
                    switch,
                    switch,
                    self.code,
                    f"requires_grad switched on for '{target}', which was computed {how} and has no graph: "
                    f"{backward.api} then runs but no parameter gets a gradient; compute '{target}' with grad "
                    f"enabled instead",
                )


def _switched_value(stmt: ast.stmt) -> ast.expr:
    """`loss` in `loss.requires_grad = True` or `loss.requires_grad_()`."""
    if isinstance(stmt, ast.Assign):
        target = stmt.targets[0]
        if isinstance(target, ast.Attribute):
            return target.value
    for node in ast.walk(stmt):
        if isinstance(node, ast.Attribute) and node.attr == "requires_grad_":
            return node.value
    return stmt  # type: ignore[return-value]
