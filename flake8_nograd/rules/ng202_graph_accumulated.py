"""NG202: a graph-carrying tensor accumulated across loop iterations (the history is kept alive)."""
from __future__ import annotations

from typing import Dict, Iterator, List

from ..analysis import Graph, GradMode, ModuleAnalysis
from ..analysis.accumulation import Accumulation, AccumulatorUses, find_accumulations, is_scalar_expression
from ..findings import Finding, Fix, finding_at, span
from .base import Rule, describe


class GraphAccumulated(Rule):
    code = "NG202"
    name = "graph-accumulated-across-iterations"
    summary = "a tensor with a graph accumulated across loop iterations (total += loss)"
    triggers = ("for", "while")  # `for(x)in y:` is a loop too
    needs_torch_import = True

    def check(self, analysis: ModuleAnalysis) -> Iterator[Finding]:
        evaluation = analysis.evaluation
        if not evaluation.uses_torch:
            return
        for function in analysis.functions:
            if evaluation.is_unit_test(function) and not evaluation.takes_data(function):
                continue  # a few steps on a toy model, kept to compare: the memory does not matter
            found = list(find_accumulations(evaluation, function))
            by_accumulator: Dict[str, List[Accumulation]] = {}
            for accumulation in found:
                by_accumulator.setdefault(accumulation.accumulator, []).append(accumulation)
            for accumulation in found:
                statement = accumulation.statement
                if statement.region.mode is not GradMode.ON:
                    continue
                if analysis.state_of(accumulation.value, statement).graph is not Graph.HAS_GRAPH:
                    continue
                if evaluation.in_evaluation_loop(statement):
                    continue  # NG201 reports the loop: no_grad() there fixes this too
                siblings = {id(a.statement) for a in by_accumulator[accumulation.accumulator]}
                uses = AccumulatorUses(accumulation, analysis.statements_of(function), analysis.backward_calls, siblings)
                if uses.backwarded:
                    continue  # gradient accumulation or a sum of losses: the graph is wanted
                loop = accumulation.loop
                escapes = uses.escapes
                trains = evaluation.loop_needs_grad(loop)
                if not trains and not (evaluation.iterates_loader(loop) if escapes else evaluation.iterates_data(loop)):
                    # Outside training and data loops, a sum or list the function hands back (a
                    # forward over tiles, heads or chunks) is the computation itself, not history.
                    continue
                yield self._finding(accumulation, uses, escapes, evaluation)

    def _finding(self, accumulation: Accumulation, uses: AccumulatorUses, escapes: bool, evaluation) -> Finding:
        stmt = accumulation.statement.stmt
        name = accumulation.accumulator
        value = describe(accumulation.value)
        if uses.only_numbers and is_scalar_expression(accumulation.value, evaluation):
            target = span(accumulation.value)
            fix = Fix(f"accumulate '{value}.item()'", safe=True, action="append_item", target=target)
            advice = f"accumulate '{value}.item()'"
        else:
            fix = Fix(
                f"accumulate '{value}.detach()'",
                safe=not escapes,
                action="append_detach",
                target=span(accumulation.value),
            )
            advice = f"accumulate '{value}.detach()'" + (
                " (or '.item()' for a number)" if is_scalar_expression(accumulation.value, evaluation) else ""
            )
        how = "appended to" if accumulation.kind == "append" else "added to"
        message = (
            f"'{value}' has a graph and is {how} '{name}' on every iteration, which keeps every "
            f"iteration's graph alive; {advice}"
        )
        return finding_at(stmt, stmt, self.code, message, fix)
