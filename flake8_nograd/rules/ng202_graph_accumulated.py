"""NG202: a graph-carrying tensor accumulated across loop iterations (the history is kept alive)."""
from __future__ import annotations

import ast
from typing import Dict, Iterator, List, Optional

from ..analysis import Graph, GradMode, ModuleAnalysis
from ..analysis.accumulation import Accumulation, AccumulatorUses, derived_names, find_accumulations, is_scalar_expression
from ..findings import Finding, Fix, finding_at, span
from .base import Rule, describe, with_method


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
                state = analysis.state_of(accumulation.value, statement)
                if state.graph is not Graph.HAS_GRAPH and not _iterated_graph(analysis, accumulation):
                    continue
                if evaluation.in_evaluation_loop(statement):
                    continue  # NG201 reports the loop: no_grad() there fixes this too
                siblings = {id(a.statement) for a in by_accumulator[accumulation.accumulator]}
                uses = AccumulatorUses(accumulation, analysis.statements_of(function), analysis.backward_calls, siblings)
                if uses.backwarded:
                    continue  # gradient accumulation or a sum of losses: the graph is wanted
                loop = accumulation.loop
                if uses.returned and not evaluation.iterates_data(loop) and not analysis.trains(function):
                    continue  # a loss built from parts (criteria, heads), not over data, handed back
                if _value_back_propagated(analysis, accumulation):
                    continue  # what is kept is back-propagated anyway: its graph lives until then
                escapes = uses.escapes
                trains = evaluation.loop_needs_grad(loop)
                if not trains and not (evaluation.iterates_loader(loop) if escapes else evaluation.iterates_data(loop)):
                    # Outside training and data loops, a sum or list the function hands back (a
                    # forward over tiles, heads or chunks) is the computation itself, not history.
                    continue
                if state.is_container:
                    yield self._container_finding(analysis, accumulation, escapes)
                else:
                    yield self._finding(accumulation, uses, escapes, evaluation)

    def _container_finding(self, analysis: ModuleAnalysis, accumulation: Accumulation, escapes: bool) -> Finding:
        """A dict, list or tuple that holds a graph-carrying tensor: the entry is what to detach."""
        stmt = accumulation.statement.stmt
        name = accumulation.accumulator
        value = describe(accumulation.value)
        how = "appended to" if accumulation.kind == "append" else "added to"
        entry = _graph_entry(analysis, accumulation)
        if entry is not None:
            store = f"store {with_method(entry, 'detach')}"
            advice = f"{store} (or '.item()' for a number) in it"
            fix = Fix(store, safe=not escapes, action="append_detach", target=span(entry))
        else:
            advice = "store detached tensors ('.detach()', or '.item()' for a number) in it"
            fix = None
        message = (
            f"{value} holds a tensor with a graph and is {how} '{name}' on every iteration, which keeps "
            f"every iteration's graph alive; {advice}"
        )
        return finding_at(stmt, stmt, self.code, message, fix)

    def _finding(self, accumulation: Accumulation, uses: AccumulatorUses, escapes: bool, evaluation) -> Finding:
        stmt = accumulation.statement.stmt
        name = accumulation.accumulator
        value = describe(accumulation.value)
        if uses.only_numbers and is_scalar_expression(accumulation.value, evaluation):
            target = span(accumulation.value)
            advice = f"accumulate {with_method(accumulation.value, 'item')}"
            fix = Fix(advice, safe=True, action="append_item", target=target)
        else:
            accumulate = f"accumulate {with_method(accumulation.value, 'detach')}"
            fix = Fix(accumulate, safe=not escapes, action="append_detach", target=span(accumulation.value))
            advice = accumulate + (
                " (or '.item()' for a number)" if is_scalar_expression(accumulation.value, evaluation) else ""
            )
        how = "appended to" if accumulation.kind == "append" else "added to"
        message = (
            f"{value} has a graph and is {how} '{name}' on every iteration, which keeps every "
            f"iteration's graph alive; {advice}"
        )
        return finding_at(stmt, stmt, self.code, message, fix)


def _graph_entry(analysis: ModuleAnalysis, accumulation: Accumulation) -> Optional[ast.expr]:
    """The entry of a display (`{"loss": loss, "step": step}`) that carries the graph."""
    value = accumulation.value
    entries = value.values if isinstance(value, ast.Dict) else value.elts if isinstance(value, (ast.List, ast.Tuple)) else []
    for entry in entries:
        if entry is not None and not isinstance(entry, ast.Starred):
            if analysis.state_of(entry, accumulation.statement).graph is Graph.HAS_GRAPH:
                return entry
    return None


_GRAPH_KEEPING_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div)


def _iterated_graph(analysis: ModuleAnalysis, accumulation: Accumulation) -> bool:
    """`totals[name] += part * bs` in `for name, part in parts.items():` where `parts` holds
    tensors with a graph (`{"ce": ce, "kl": kl}`, a tuple of pairs, `zip(names, losses)`): the
    value is arithmetic on a loop variable bound to such a tensor."""
    statement = accumulation.statement
    for name in _operand_names(accumulation.value):
        for loop in reversed(analysis.evaluation.enclosing_loops(statement)):
            stmt = loop.stmt
            if not isinstance(stmt, (ast.For, ast.AsyncFor)):
                continue
            position = _position_in_target(stmt.target, name)
            if position is None:
                continue
            if _items_have_graph(analysis, stmt.iter, position, loop):
                return True
            break  # the innermost loop binding the name decides
    return False


def _operand_names(value: ast.expr) -> List[str]:
    """`part` for `part`, `part * bs`, `w * part / n`: names the arithmetic keeps a graph from."""
    if isinstance(value, ast.Name):
        return [value.id]
    if isinstance(value, ast.BinOp) and isinstance(value.op, _GRAPH_KEEPING_OPERATORS):
        return _operand_names(value.left) + _operand_names(value.right)
    return []


def _position_in_target(target: ast.expr, name: str) -> Optional[int]:
    """-1 when the target is the name itself, its index in a flat tuple target, None if absent."""
    if isinstance(target, ast.Name):
        return -1 if target.id == name else None
    if isinstance(target, (ast.Tuple, ast.List)):
        for index, element in enumerate(target.elts):
            if isinstance(element, ast.Name) and element.id == name:
                return index
    return None


def _items_have_graph(analysis: ModuleAnalysis, iterable: ast.expr, position: int, loop) -> bool:
    def has_graph(expr: ast.expr) -> bool:
        return analysis.state_of(expr, loop).graph is Graph.HAS_GRAPH

    def holds_graph(expr: ast.expr) -> bool:
        held = analysis.state_of(expr, loop)
        return held.is_container and held.item is not None and held.item.graph is Graph.HAS_GRAPH

    if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Attribute) and not iterable.args:
        method = iterable.func.attr
        if (method == "items" and position == 1) or (method == "values" and position == -1):
            return holds_graph(iterable.func.value)
        return False
    if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name) and not iterable.keywords:
        if iterable.func.id == "zip" and 0 <= position < len(iterable.args):
            return holds_graph(iterable.args[position])
        if iterable.func.id == "enumerate" and position == 1 and iterable.args:
            return holds_graph(iterable.args[0])
        return False
    if isinstance(iterable, (ast.Tuple, ast.List)):
        for element in iterable.elts:
            if position == -1 and has_graph(element):
                return True
            if position >= 0 and isinstance(element, (ast.Tuple, ast.List)) and position < len(element.elts):
                if has_graph(element.elts[position]):
                    return True
    return False


def _value_back_propagated(analysis: ModuleAnalysis, accumulation: Accumulation) -> bool:
    """`parts.append(part)` in a loop over the parts of one loss, where `loss += part` and, after
    the loop, `loss.backward()` follow: the part's graph is kept for that backward anyway, and the
    list adds nothing to it. (A backward inside the loop is the other case: each iteration's graph
    is done with, and the accumulator keeps it.)"""
    if "." in accumulation.accumulator:
        return False
    loop = accumulation.loop.stmt
    loop_end = getattr(loop, "end_lineno", loop.lineno) or loop.lineno
    roots = {name.id for name in ast.walk(accumulation.value) if isinstance(name, ast.Name)}
    if not roots:
        return False
    function = accumulation.statement.function
    statements = analysis.statements_of(function)
    derived = derived_names(roots, [s for s in statements if s is not accumulation.statement])
    derived -= {accumulation.accumulator}
    return any(
        backward.statement.function is function
        and backward.statement.stmt.lineno > loop_end
        and any(isinstance(n, ast.Name) and n.id in derived for v in backward.values for n in ast.walk(v))
        for backward in analysis.backward_calls
    )
