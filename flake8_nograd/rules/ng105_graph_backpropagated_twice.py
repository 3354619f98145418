"""NG105: a graph back-propagated a second time (a RuntimeError at run time).

`backward()` frees the saved tensors of the graph it walks. A recurrent state carried from one
iteration of a training loop into the next (`out, hidden = model(x, hidden)` with no
`hidden = hidden.detach()`) links the next iteration's loss to the graph the previous backward
freed, and the next backward raises "Trying to backward through the graph a second time"
(checked under torch 2.13 for nn.LSTM, nn.GRU, nn.GRUCell and a running mean of a layer's
features; a pure chain of additions saves nothing and does not raise, so the rule asks for a
state computed by a model or layer, which the value model marks as having a graph).

The same error comes from two backward calls over one shared subgraph: a GAN's discriminator
loss on a `fake` that is not detached, back-propagated, then the generator loss through the same
`fake`; or two losses of one forward back-propagated one after the other. The rule reports the
second call when both are statements of one block (the first always runs before the second), the
first passes no retain_graph, and both back-propagated values are computed, in that block and not
through `.detach()`/`.data`, from one name holding a model's output that is not rebound between.
"""
from __future__ import annotations

import ast
from typing import Iterator, List, Set

from ..analysis import GradMode, Graph, ModuleAnalysis, StatementInfo, ValueState
from ..analysis.accumulation import derived_names
from ..analysis.evaluation import contains
from ..analysis.model import Kind, OriginKind
from ..analysis.values import INTEGER_METHODS
from ..analysis.structure import flatten_target
from ..findings import Finding, Fix, finding_at
from .base import Rule, describe

_ERROR = '"Trying to backward through the graph a second time"'
# Origins of a graph recorded by a model or layer, whose nodes save tensors that backward frees.
_RECORDED = frozenset((OriginKind.GRAD_ON, OriginKind.RETURNED, OriginKind.BACKWARD))


class GraphBackpropagatedTwice(Rule):
    code = "NG105"
    name = "graph-backpropagated-twice"
    summary = "a graph back-propagated a second time: a recurrent state carried across training iterations, or two backward() calls over one forward"
    triggers = ("backward",)
    needs_torch_import = True

    def check(self, analysis: ModuleAnalysis) -> Iterator[Finding]:
        if not analysis.backward_calls:
            return
        evaluation = analysis.evaluation
        if not evaluation.uses_torch:
            return
        reported: Set[int] = set()
        yield from _shared_subgraphs(analysis)
        for backward in analysis.backward_calls:
            if backward.api != "backward()" or _retains_graph(backward.call):
                continue  # retain_graph=True keeps the saved tensors (a leak, not this error)
            loops = evaluation.enclosing_loops(backward.statement)
            if not loops:
                continue
            loop = loops[-1]  # the innermost loop around the backward
            for carried in _carried_states(analysis, loop, backward.statement, backward.values):
                statement, read = carried
                if id(read) in reported:
                    continue
                reported.add(id(read))
                yield _finding(analysis, loop, statement, read, backward.call)


def _retains_graph(call: ast.Call) -> bool:
    for keyword in call.keywords:
        if keyword.arg == "retain_graph":
            return not (isinstance(keyword.value, ast.Constant) and not keyword.value.value)
    return len(call.args) >= 2  # backward(gradient, retain_graph): positional, read as retaining


def _carried_states(
    analysis: ModuleAnalysis, loop: StatementInfo, backward: StatementInfo, values: List[ast.expr]
) -> Iterator[tuple]:
    """(statement, the Name read there) for `h = f(..., h, ...)` in `loop` before `backward`,
    where `h` comes from the previous iteration with a graph and the back-propagated value is
    computed from what the statement binds."""
    inside = list(analysis.evaluation.statements_in(loop))
    candidates = []  # found from the code alone first: most loops carry no state into a call
    for statement in inside:
        stmt = statement.stmt
        if not isinstance(stmt, ast.Assign) or not _before(stmt, backward.stmt):
            continue
        bound = {element.id for target in stmt.targets for element in flatten_target(target) if isinstance(element, ast.Name)}
        reads = [node for node in ast.walk(stmt.value) if isinstance(node, ast.Name) and node.id in bound]
        if reads and _is_call_taking(stmt.value, reads[0]):
            candidates.append((statement, bound, reads[0]))
    if not candidates or any(_detaches_in_place(statement.stmt) for statement in inside):
        return  # `for h in hidden: h.detach_()`: a helper or loop may cut the state in place
    for statement, bound, read in candidates:
        stmt = statement.stmt
        reads = [read]
        name = read.id
        if _bound_before(loop, inside, statement, name):
            continue  # re-initialised or detached at the top of the iteration
        if not _carries_graph(analysis.state_after_iteration(loop, name), stmt):
            continue  # what the next iteration gets is not this step's graph (detached, or unknown)
        later = [s for s in inside if s is not statement and _before(stmt, s.stmt)]
        derived = derived_names(bound, later)
        if not any(isinstance(node, ast.Name) and node.id in derived for value in values for node in ast.walk(value)):
            continue  # the back-propagated value is not computed from this step's output
        yield statement, reads[0]


def _carries_graph(state: ValueState, step: ast.stmt) -> bool:
    """The graph `step` records (a model's or layer's forward), in the value or in a part of the
    tuple it is (`(h, c)` of an LSTM: either part links the next forward to this graph)."""
    origin = state.origin
    if state.graph is Graph.HAS_GRAPH and origin is not None and origin.kind in _RECORDED and origin.statement is step:
        return True
    if state.elements is not None:
        return any(_carries_graph(part, step) for part in state.elements)
    return False


def _is_call_taking(value: ast.expr, read: ast.Name) -> bool:
    """`model(x, hidden)`, `self.rnn(x, (h, c))`: the carried name is an argument of a call."""
    for node in ast.walk(value):
        if isinstance(node, ast.Call):
            arguments = list(node.args) + [keyword.value for keyword in node.keywords]
            if any(read is inner for argument in arguments for inner in ast.walk(argument)):
                return True
    return False


def _before(first: ast.stmt, second: ast.stmt) -> bool:
    return (first.lineno, first.col_offset) < (second.lineno, second.col_offset)


def _bound_before(loop: StatementInfo, inside: List[StatementInfo], statement: StatementInfo, name: str) -> bool:
    """Does the iteration bind `name` before `statement` (or does the loop bind it itself)?"""
    if _binds(loop.stmt, name, header_only=True):
        return True
    return any(
        other is not statement and _before(other.stmt, statement.stmt) and (
            _binds(other.stmt, name, header_only=contains(other, statement))
        )
        for other in inside
    )


def _binds(stmt: ast.stmt, name: str, header_only: bool) -> bool:
    """Does `stmt` bind `name` (an assignment, a loop or `with` target, `del`, a walrus)? For a
    statement around the read, only its header counts."""
    targets: List[ast.expr] = []
    if isinstance(stmt, (ast.Assign,)):
        targets = list(stmt.targets)
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        targets = [stmt.target]
    elif isinstance(stmt, (ast.For, ast.AsyncFor)):
        targets = [stmt.target]
    elif isinstance(stmt, (ast.With, ast.AsyncWith)):
        targets = [item.optional_vars for item in stmt.items if item.optional_vars is not None]
    elif isinstance(stmt, ast.Delete):
        targets = list(stmt.targets)
    if any(isinstance(e, ast.Name) and e.id == name for target in targets for e in flatten_target(target)):
        return True
    if header_only and isinstance(stmt, (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith, ast.Try)):
        return False
    return any(isinstance(node, ast.NamedExpr) and node.target.id == name for node in ast.walk(stmt))


def _detaches_in_place(stmt: ast.stmt) -> bool:
    if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith, ast.Try)):
        return False  # their bodies are statements of their own
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "detach_"
        for node in ast.walk(stmt)
    )


def _finding(
    analysis: ModuleAnalysis, loop: StatementInfo, statement: StatementInfo, read: ast.Name, backward: ast.Call
) -> Finding:
    name = read.id
    state = analysis.state_after_iteration(loop, name)
    if state.kind is Kind.CONTAINER or state.elements is not None:
        detach = f"{name} = tuple(h.detach() for h in {name})"
    else:
        detach = f"{name} = {name}.detach()"
    step = describe(statement.stmt.value)
    message = (
        f"'{name}' is carried into the next iteration with this iteration's graph ({step} on line "
        f"{statement.stmt.lineno}), and {describe(backward)} on line {backward.lineno} frees that graph: the "
        f"next iteration's backward walks into it and raises {_ERROR}; detach the state at the top of "
        f"the loop ('{detach}')"
    )
    fix = Fix(f"insert '{detach}' at the top of the loop", safe=False)
    return finding_at(read, statement.stmt, "NG105", message, fix)


# Calls and attributes whose result carries none of the receiver's graph.
_CUTTING_METHODS = frozenset(("detach", "item", "tolist", "numpy"))


def _shared_subgraphs(analysis: ModuleAnalysis) -> Iterator[Finding]:
    """The second of two sibling `backward()` calls whose values share a model output's graph."""
    by_block: dict = {}
    for backward in analysis.backward_calls:
        if backward.api == "backward()" and len(backward.values) == 1:
            by_block.setdefault(id(backward.statement.function), []).append(backward)
    for backwards in by_block.values():
        if len(backwards) < 2:
            continue
        function = backwards[0].statement.function
        blocks = _blocks(function.node)
        for first, second in zip(backwards, backwards[1:]):
            if _retains_graph(first.call):
                continue
            block = blocks.get(id(first.statement.stmt))
            if block is None or blocks.get(id(second.statement.stmt)) is not block:
                continue  # not one after the other in one block: a branch or a loop decides
            start, end = block.index(first.statement.stmt), block.index(second.statement.stmt)
            if start >= end:
                continue
            shared = _graph_names(analysis, first.values[0], block, start) & _graph_names(
                analysis, second.values[0], block, end
            )
            for name in sorted(shared):
                made = _binding(block, end, name)
                if made is None or block.index(made) >= start or not isinstance(made.value, ast.Call):  # type: ignore[attr-defined]
                    continue  # bound again after the first backward (a new graph), or not one forward's output
                state = analysis.state_of(made.value, analysis.statement(made))  # type: ignore[attr-defined]
                if not (state.graph is Graph.HAS_GRAPH and state.origin is not None and state.origin.kind in _RECORDED):
                    continue
                yield _shared_finding(first, second, name, made)
                break


def _blocks(function_node: ast.AST) -> dict:
    """id(statement) -> the statement list it is in, for the function's own statements."""
    found: dict = {}
    for node in ast.walk(function_node):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list):
                for stmt in block:
                    if isinstance(stmt, ast.stmt):
                        found[id(stmt)] = block
    return found


def _binding(block: List[ast.stmt], before: int, name: str) -> "ast.stmt | None":
    """The last statement of `block` before index `before` that binds `name` plainly."""
    for stmt in reversed(block[:before]):
        if _binds(stmt, name, header_only=False):
            if isinstance(stmt, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == name for target in stmt.targets
            ):
                return stmt
            return None  # bound some other way (a tuple target, a loop): not followed
        if not isinstance(stmt, (ast.Assign, ast.AugAssign, ast.Expr)):
            return None  # a compound statement may bind it on some paths
    return None


def _graph_names(analysis: ModuleAnalysis, value: ast.expr, block: List[ast.stmt], at: int, depth: int = 0) -> Set[str]:
    """Names whose graph `value` (read at `block[at]`) is computed from, following plain
    assignments of the block back, and not through a call that cuts the graph."""
    names: Set[str] = set()
    for name in _direct_names(value):
        names.add(name)
        made = _binding(block, at, name)
        if made is not None and depth < 6:
            index = block.index(made)
            info = analysis.statement(made)
            if info.region.mode is not GradMode.ON:
                continue  # computed without grad: no graph of anything in it
            names |= _graph_names(analysis, made.value, block, index, depth + 1)  # type: ignore[attr-defined]
    return names


def _direct_names(expr: ast.expr) -> Set[str]:
    """Names in `expr` that a gradient can flow back to (an explicit stack: a recursive closure
    would be a reference cycle left to the cyclic collector)."""
    found: Set[str] = set()
    stack: List[ast.AST] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
            node.func.attr in _CUTTING_METHODS or node.func.attr in INTEGER_METHODS
        ):
            continue  # `fake.detach()`, `out.argmax(1)`: no gradient flows back through here
        if isinstance(node, ast.Compare) or (isinstance(node, ast.Attribute) and node.attr == "data"):
            continue  # a mask, or `x.data`: no gradient
        if isinstance(node, ast.Name):
            found.add(node.id)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _shared_finding(first, second, name: str, made: ast.stmt) -> Finding:
    message = (
        f"{describe(second.call)} back-propagates through the graph of '{name}' (line {made.lineno}), which "
        f"{describe(first.call)} on line {first.call.lineno} already freed, and raises {_ERROR}; use "
        f"'{name}.detach()' in the first loss if its gradient is not wanted there (a GAN's discriminator "
        f"loss), or add the losses and call backward() once"
    )
    return finding_at(second.call, second.statement.stmt, "NG105", message)
