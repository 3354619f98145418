"""Does what a loop computes reach a statement that needs grad in a loop around it?

A validation pass nested in a training loop (`if step % k == 0: for xb in val_loader: ...`) shares
the training loop with a backward and an optimizer step, but nothing it binds reaches them: the
training step binds its own batch and loss before back-propagating. `LoopFlow.reaches` follows
names from the inner loop to the statement that needs grad, in source order within one iteration
of the enclosing loop (a value the iteration does not bind afresh may come from the previous one).
Whatever it cannot follow plainly counts as reaching, which keeps the evaluation rules quiet.
"""
from __future__ import annotations

import ast
from typing import Dict, Iterator, List, Optional, Set, Tuple

from .structure import dotted_key, flatten_target

# Methods that put a value into their receiver (`memory.append(obs)`, `buffer.push(...)`).
_MUTATORS = frozenset(
    "append extend insert add push put store update setdefault record appendleft extendleft add_ copy_".split()
)
# Builtins that neither keep nor change what they are handed.
_READ_ONLY_BUILTINS = frozenset(
    "print len float int str round isinstance range enumerate zip min max abs sum sorted repr format".split()
)
_DEPTH = 8  # assignments followed back from the statement that needs grad
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)

_Parent = Tuple[Optional[ast.stmt], List[ast.stmt], int]


class LoopFlow:
    """Flow of names through one function's body (built once per function, on first question)."""

    def __init__(self, body: List[ast.stmt], imported: Set[str]) -> None:
        """`imported`: names bound by imports (`F`, `torch`): calls on them change no object."""
        self._parents: Dict[int, _Parent] = {}
        self._index_block(None, body)
        self._body = body
        self._imported = imported

    def _index_block(self, parent: Optional[ast.stmt], block: List[ast.stmt]) -> None:
        for index, stmt in enumerate(block):
            self._parents[id(stmt)] = (parent, block, index)
            if isinstance(stmt, _DEFINITIONS):
                continue
            for name in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, name, None)
                if inner:
                    self._index_block(stmt, inner)
            for handler in getattr(stmt, "handlers", ()):
                self._index_block(stmt, handler.body)
            for case in getattr(stmt, "cases", ()):
                self._index_block(stmt, case.body)

    def reaches(self, loop: ast.stmt, need: ast.stmt, outer: ast.stmt) -> bool:
        """Can a value the loop binds or fills reach `need`, both inside the loop `outer`?"""
        if isinstance(need, _DEFINITIONS):
            return True  # a closure that needs grad: what it reads is not followed
        tainted = self._tainted(loop)
        if not tainted:
            return False
        return _Search(self._parents, loop, outer, tainted).statement_reaches(need, _DEPTH)

    def _tainted(self, loop: ast.stmt) -> Set[str]:
        """Keys the loop binds or fills, and every key assigned from one of them anywhere else."""
        tainted: Set[str] = set()
        for node in ast.walk(loop):
            tainted.update(_written_by(node))
            # An object handed a value (`env.step(action)`, `replay.push(obs, act)`) may keep it.
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (node.args or node.keywords):
                receiver = dotted_key(node.func.value)
                if receiver is not None and receiver != "self" and receiver.partition(".")[0] not in self._imported:
                    tainted.add(receiver)
        outside = [stmt for stmt in _statements(self._body) if not _within(stmt, loop)]
        for _ in range(4):  # derived keys: `score = val_total / n`, then `best = score`
            grown = False
            for stmt in outside:
                for written, read in _flows_of(stmt):
                    if written not in tainted and any(_mentions(expr, tainted) for expr in read):
                        tainted.add(written)
                        grown = True
            if not grown:
                break
        return tainted


class _Search:
    def __init__(self, parents: Dict[int, _Parent], loop: ast.stmt, outer: ast.stmt, tainted: Set[str]) -> None:
        self.parents = parents
        self.loop = loop
        self.outer = outer
        self.tainted = tainted
        self.seen: Set[Tuple[str, int]] = set()

    def statement_reaches(self, stmt: ast.stmt, depth: int) -> bool:
        expressions = _own_expressions(stmt)
        if any(self._calls_tainted_owner(expr) for expr in expressions):
            return True
        return any(self.key_reaches(key, stmt, depth) for key in self._tainted_keys(expressions))

    def expressions_reach(self, expressions: List[ast.expr], at: ast.stmt, depth: int) -> bool:
        return any(self.key_reaches(key, at, depth) for key in self._tainted_keys(expressions))

    def key_reaches(self, key: str, at: ast.stmt, depth: int) -> bool:
        """Does the value of `key` read at `at` come from the loop (or may it)?"""
        if depth <= 0:
            return True
        if (key, id(at)) in self.seen:
            return False  # already followed from here
        self.seen.add((key, id(at)))
        current = at
        while True:
            entry = self.parents.get(id(current))
            if entry is None:
                return True
            parent, block, index = entry
            for earlier in reversed(block[:index]):
                if earlier is self.loop or _within(self.loop, earlier):
                    return True  # the loop runs between the binding and the read
                kind = _binds(earlier, key)
                if kind == "plain":
                    return self.expressions_reach(_assigned_values(earlier), earlier, depth - 1)
                if kind == "extends":  # `x += v`: the new value and the old one
                    if self.expressions_reach(_assigned_values(earlier), earlier, depth - 1):
                        return True
                elif kind == "maybe":
                    return True  # bound in a nested block: not followed
            if parent is None:
                return True
            if isinstance(parent, (ast.For, ast.AsyncFor)) and key in set(_target_keys(parent.target)):
                if parent is self.outer:
                    return False  # each iteration binds it afresh from the iterable
                return self.expressions_reach([parent.iter], parent, depth - 1)
            if isinstance(parent, (ast.With, ast.AsyncWith)):
                items = [item for item in parent.items if item.optional_vars is not None]
                if any(key in set(_target_keys(item.optional_vars)) for item in items):  # type: ignore[arg-type]
                    return self.expressions_reach([item.context_expr for item in items], parent, depth - 1)
            if parent is self.outer:
                return True  # not bound this iteration: the previous one (where the loop ran) left it
            current = parent

    def _tainted_keys(self, expressions: List[ast.expr]) -> Iterator[str]:
        found: Set[str] = set()
        for expr in expressions:
            for node in ast.walk(expr):
                if isinstance(node, (ast.Name, ast.Attribute)):
                    key = _tainted_prefix(dotted_key(node), self.tainted)
                    if key is not None and key not in found:
                        found.add(key)
                        yield key  # `loss` for `loss.backward`: what the loop may have bound

    def _calls_tainted_owner(self, expr: ast.expr) -> bool:
        """`self.train_step(batch)` where the loop filled `self.buffer`: the method may read it."""
        owners = {key.partition(".")[0] for key in self.tainted if "." in key}
        if not owners:
            return False
        for node in ast.walk(expr):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                receiver = node.func.value
                if isinstance(receiver, ast.Name) and receiver.id in owners:
                    return True
        return False


def _statements(body: List[ast.stmt]) -> Iterator[ast.stmt]:
    for stmt in body:
        yield stmt
        if isinstance(stmt, _DEFINITIONS):
            continue
        for name in ("body", "orelse", "finalbody"):
            yield from _statements(getattr(stmt, name, None) or [])
        for handler in getattr(stmt, "handlers", ()):
            yield from _statements(handler.body)
        for case in getattr(stmt, "cases", ()):
            yield from _statements(case.body)


def _within(inner: ast.stmt, outer: ast.stmt) -> bool:
    """Is `inner` nested in `outer` (or the same statement)?"""
    return outer.lineno <= inner.lineno and (inner.end_lineno or inner.lineno) <= (outer.end_lineno or outer.lineno) and (
        inner is outer or inner.lineno > outer.lineno or inner.col_offset > outer.col_offset
    )


def _is_tainted(key: str, tainted: Set[str]) -> bool:
    if key in tainted:
        return True
    return any(key.startswith(other + ".") for other in tainted)


def _tainted_prefix(key: Optional[str], tainted: Set[str]) -> Optional[str]:
    """The longest tainted key that `key` is or starts with: 'memory' for 'memory.states'."""
    while key:
        if key in tainted:
            return key
        key = key.rpartition(".")[0]
    return None


def _mentions(expr: ast.AST, tainted: Set[str]) -> bool:
    for node in ast.walk(expr):
        if isinstance(node, (ast.Name, ast.Attribute)):
            key = dotted_key(node)
            if key is not None and _is_tainted(key, tainted):
                return True
    return False


def _target_keys(target: ast.expr) -> Iterator[str]:
    """Keys a target binds or writes into: `x`, `self.total`, `stats` for `stats[k] = v`."""
    if isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _target_keys(element)
        return
    if isinstance(target, ast.Starred):
        yield from _target_keys(target.value)
        return
    while isinstance(target, ast.Subscript):
        target = target.value
    key = dotted_key(target)
    if key is not None:
        yield key


def _written_by(node: ast.AST) -> Iterator[str]:
    """Keys a node of the loop binds, fills or may change."""
    if isinstance(node, ast.Assign):
        for target in node.targets:
            yield from _target_keys(target)
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor, ast.comprehension)):
        yield from _target_keys(node.target)
    elif isinstance(node, ast.NamedExpr):
        yield from _target_keys(node.target)
    elif isinstance(node, ast.withitem) and node.optional_vars is not None:
        yield from _target_keys(node.optional_vars)
    elif isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _MUTATORS:
            yield from _target_keys(func.value)
        if not (isinstance(func, ast.Name) and func.id in _READ_ONLY_BUILTINS):
            for argument in node.args:  # a helper may fill what it is handed (`rollout(env, memory)`)
                if isinstance(argument, (ast.Name, ast.Attribute)):
                    yield from _target_keys(argument)


def _flows_of(stmt: ast.stmt) -> Iterator[Tuple[str, List[ast.expr]]]:
    """(key written, expressions its new value is made of) for the statement's own writes."""
    if isinstance(stmt, ast.Assign):
        for target in stmt.targets:
            for key in _target_keys(target):
                yield key, [stmt.value]
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)) and stmt.value is not None:
        for key in _target_keys(stmt.target):
            yield key, [stmt.value]
    elif isinstance(stmt, (ast.For, ast.AsyncFor)):
        for key in _target_keys(stmt.target):
            yield key, [stmt.iter]
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        if isinstance(func, ast.Attribute) and func.attr in _MUTATORS:
            arguments = list(stmt.value.args) + [keyword.value for keyword in stmt.value.keywords]
            for key in _target_keys(func.value):
                yield key, arguments


def _binds(stmt: ast.stmt, key: str) -> Optional[str]:
    """How `stmt` binds `key`: "plain" (a new value), "extends" (`+=`, `.append`), "maybe" (in a
    nested block), or None."""
    if isinstance(stmt, ast.Assign):
        for target in stmt.targets:
            for element in flatten_target(target):
                if dotted_key(element) == key:
                    return "plain"
                if isinstance(element, ast.Subscript) and key in set(_target_keys(element)):
                    return "extends"
        return None
    if isinstance(stmt, ast.AnnAssign):
        if stmt.value is not None and dotted_key(stmt.target) == key:
            return "plain"
        return None
    if isinstance(stmt, ast.AugAssign):
        return "extends" if key in set(_target_keys(stmt.target)) else None
    if isinstance(stmt, ast.Expr):
        return "extends" if any(written == key for written, _ in _flows_of(stmt)) else None
    if isinstance(stmt, _DEFINITIONS):
        return "plain" if getattr(stmt, "name", None) == key else None
    if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Return, ast.Pass, ast.Break, ast.Continue)):
        return None
    for node in ast.walk(stmt):
        if any(written == key for written in _written_by(node)):
            return "maybe"
    return None


def _assigned_values(stmt: ast.stmt) -> List[ast.expr]:
    if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and stmt.value is not None:
        return [stmt.value]
    if isinstance(stmt, ast.Expr):
        return [stmt.value]
    return []


def _own_expressions(stmt: ast.stmt) -> List[ast.expr]:
    """The statement's expressions, not its nested blocks'."""
    found: List[ast.expr] = []
    for name, value in ast.iter_fields(stmt):
        if name in ("body", "orelse", "finalbody", "handlers", "cases"):
            continue
        values = value if isinstance(value, list) else [value]
        found.extend(v for v in values if isinstance(v, ast.expr))
    return found
