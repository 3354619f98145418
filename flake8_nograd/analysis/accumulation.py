"""Accumulators: values that collect something across the iterations of a loop.

    total += loss            total = total + loss         losses.append(loss)

`find_accumulations` lists them with the loop they outlive; `AccumulatorUses` says how the
accumulator is used in its function afterwards (back-propagated, returned, only printed as a number),
which decides whether keeping a graph in it is a leak (NG202) and which fix fits.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Set

from .backward import BackwardCall
from .evaluation import EvaluationFacts, contains
from .structure import FunctionInfo, StatementInfo, dotted_key, flatten_target

_ACCUMULATING_OPS = (ast.Add, ast.Sub, ast.Mult)
_LIST_METHODS = ("append",)
# Calls whose argument is only read as a number: printing, formatting, logging, numpy statistics.
_NUMBER_SINK_BUILTINS = frozenset(("print", "float", "int", "round", "str", "format", "repr"))
_NUMBER_SINK_METHODS = frozenset(
    "format info debug warning log log_dict add_scalar add_scalars set_postfix set_description write".split()
)
_NUMBER_SINK_MODULES = ("numpy.", "math.", "statistics.", "np.")
# Calls that keep the value a plain collection of numbers: sum(losses) / len(losses).
_NUMBER_KEEPING_BUILTINS = frozenset(("sum", "len", "max", "min", "abs", "sorted"))


@dataclass(eq=False)
class Accumulation:
    statement: StatementInfo
    accumulator: str  # dotted key: 'total_loss', 'self.losses'
    value: ast.expr  # the expression accumulated each iteration
    kind: str  # "augmented" (`+=`), "rebind" (`x = x + v`) or "append"
    loop: StatementInfo  # the innermost loop whose iterations it outlives


def find_accumulations(evaluation: EvaluationFacts, function: FunctionInfo) -> Iterator[Accumulation]:
    loops = evaluation.loops(function)
    if not loops:
        return
    statements = evaluation.walker.statements_of(function)
    rebinds = None  # built on the first accumulation in a loop (most functions have none)
    dicts = None
    for statement in statements:
        found = _accumulation_form(statement)
        if found is None:
            continue
        accumulator, value, kind = found
        enclosing = [loop for loop in loops if loop is not statement and contains(loop, statement)]
        if not enclosing:
            continue
        loop = enclosing[-1]
        if rebinds is None:
            rebinds = _plain_bindings(statements)
            dicts = _dict_names(statements)
        variable_entry = _variable_entry(accumulator)
        if variable_entry and _entry_base(accumulator) not in dicts:
            continue  # `out[i] += v` on something not known to be a dict: a tensor or a list, maybe
        # Reset inside the loop (`total = 0`, or the dict holding the entry, each iteration):
        # nothing outlives an iteration. A keyed entry set under a test (`if k not in totals:
        # totals[k] = 0.0`) starts a new sum only once per key.
        resets = rebinds.get(accumulator, []) + rebinds.get(_entry_base(accumulator) or "", [])
        if any(
            binding is not statement and contains(loop, binding)
            and not (variable_entry and _under_a_test(evaluation, loop, binding))
            for binding in resets
        ):
            continue
        yield Accumulation(statement, accumulator, value, kind, loop)


def _variable_entry(key: str) -> bool:
    """'totals[name]': an entry of a dict under a key computed in the loop."""
    return key.endswith("]") and not key.endswith('"]') and not key.rpartition("[")[2][:-1].isdigit()


def _under_a_test(evaluation: EvaluationFacts, loop: StatementInfo, binding: StatementInfo) -> bool:
    return any(
        isinstance(statement.stmt, ast.If) and statement is not binding and contains(statement, binding)
        for statement in evaluation.statements_in(loop)
    )


# Callables whose result is a dict: what a keyed entry (`totals[name] += v`) accumulates into.
_DICT_FACTORIES = frozenset(("dict", "defaultdict", "OrderedDict", "Counter"))


def _dict_names(statements: List[StatementInfo]) -> Set[str]:
    """Keys bound to a dict in the function: `{}`, `{k: 0.0 for k in names}`, `defaultdict(float)`."""
    found: Set[str] = set()
    for statement in statements:
        stmt = statement.stmt
        if not isinstance(stmt, (ast.Assign, ast.AnnAssign)) or stmt.value is None:
            continue
        value = stmt.value
        is_dict = isinstance(value, (ast.Dict, ast.DictComp)) or (
            isinstance(value, ast.Call) and (dotted_key(value.func) or "").rpartition(".")[2] in _DICT_FACTORIES
        )
        if not is_dict:
            continue
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        for target in targets:
            key = dotted_key(target)
            if key is not None:
                found.add(key)
    return found


def accumulator_key(expr: ast.expr) -> Optional[str]:
    """'total', 'self.losses', 'stats["ce"]' for an entry of a dict with a constant key, or
    'totals[name]' for one under a key held in a name or attribute."""
    if isinstance(expr, ast.Subscript):
        base = dotted_key(expr.value)
        if base is None:
            return None
        if isinstance(expr.slice, ast.Constant):
            key = expr.slice.value
            if isinstance(key, (str, int)) and not isinstance(key, bool):
                return f'{base}["{key}"]' if isinstance(key, str) else f"{base}[{key}]"
            return None
        index = dotted_key(expr.slice)
        return f"{base}[{index}]" if index is not None else None
    return dotted_key(expr)


def _entry_base(key: str) -> Optional[str]:
    """'stats' for 'stats["ce"]': rebinding or using the dict is rebinding or using the entry."""
    return key.partition("[")[0] if key.endswith("]") and "[" in key else None


def _accumulation_form(statement: StatementInfo):
    stmt = statement.stmt
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.op, _ACCUMULATING_OPS):
        key = accumulator_key(stmt.target)
        return (key, stmt.value, "augmented") if key else None
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.value, ast.BinOp):
        key = accumulator_key(stmt.targets[0])
        binop = stmt.value
        if key is None or not isinstance(binop.op, _ACCUMULATING_OPS):
            return None
        if _reads_accumulator(binop.left, key):
            return key, binop.right, "rebind"
        if _reads_accumulator(binop.right, key):
            return key, binop.left, "rebind"
        return None
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in _LIST_METHODS and len(call.args) == 1 and not call.keywords:
            key = accumulator_key(func.value)
            if key is not None and not isinstance(call.args[0], ast.Starred):
                return key, call.args[0], "append"
    return None


def _reads_accumulator(expr: ast.expr, key: str) -> bool:
    """`total` in `total + v`; `totals[k]` or `totals.get(k, 0.0)` for the entry 'totals[k]'."""
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "get" and expr.args:
        base = dotted_key(expr.func.value)
        index = accumulator_key(ast.Subscript(value=expr.func.value, slice=expr.args[0])) if base else None
        return index == key
    return accumulator_key(expr) == key


def _plain_bindings(statements: List[StatementInfo]) -> Dict[str, List[StatementInfo]]:
    """Statements that bind a name afresh (`x = ...`, `for x in`, `with ... as x`), by dotted key."""
    bindings: Dict[str, List[StatementInfo]] = {}
    for statement in statements:
        stmt = statement.stmt
        targets: List[ast.expr] = []
        if isinstance(stmt, ast.Assign):
            if isinstance(stmt.value, ast.BinOp) and len(stmt.targets) == 1:
                key = dotted_key(stmt.targets[0])
                if key is not None and key in (dotted_key(stmt.value.left), dotted_key(stmt.value.right)):
                    continue  # `x = x + v` accumulates
            targets = list(stmt.targets)
        elif isinstance(stmt, ast.AnnAssign):
            targets = [stmt.target]
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            targets = [stmt.target]
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            targets = [item.optional_vars for item in stmt.items if item.optional_vars is not None]
        for target in targets:
            for element in flatten_target(target):
                key = accumulator_key(element)
                if key is not None:
                    bindings.setdefault(key, []).append(statement)
    return bindings


class AccumulatorUses:
    """How an accumulator (and the names computed from it) is used in its function."""

    def __init__(
        self,
        accumulation: Accumulation,
        statements: List[StatementInfo],
        backward_calls: List[BackwardCall],
        siblings: Set[int],
    ) -> None:
        """`statements`: those of the accumulation's function (`ModuleAnalysis.statements_of`)."""
        self.accumulation = accumulation
        function = accumulation.statement.function
        self.function = function
        self.statements = statements
        # Names derived from the accumulator: `avg = total / n`, `loss = sum(losses)`; for a dict
        # entry, the dict itself (`return stats`).
        self.derived: Set[str] = {accumulation.accumulator}
        base = _entry_base(accumulation.accumulator)
        if base is not None:
            self.derived.add(base)
        self.derived = derived_names(self.derived, statements)
        self.backwarded = any(
            backward.statement.function is function and any(_mentions(v, self.derived) for v in backward.values)
            for backward in backward_calls
        )
        self._siblings = siblings  # ids of accumulation statements of the same accumulator

    @property
    def returned(self) -> bool:
        """The function returns the accumulator (or what is computed from it)."""
        return any(
            isinstance(statement.stmt, ast.Return)
            and statement.stmt.value is not None
            and _mentions(statement.stmt.value, self.derived)
            for statement in self._uses()
        )

    @property
    def escapes(self) -> bool:
        """Returned, yielded, stored on an object or passed to a call other than a number sink."""
        if "." in self.accumulation.accumulator or _entry_base(self.accumulation.accumulator) is not None:
            return True  # an attribute or a dict entry outlives the function
        return any(self._escape_in(statement) for statement in self._uses())

    @property
    def only_numbers(self) -> bool:
        """Every later use reads the accumulator as a number (print, f-string, logging, `/ n`)."""
        if "." in self.accumulation.accumulator or _entry_base(self.accumulation.accumulator) is not None:
            return False
        return all(self._number_use(statement) for statement in self._uses())

    def _uses(self) -> Iterator[StatementInfo]:
        for statement in self.statements:
            if id(statement) in self._siblings:
                continue
            if any(name.id in self.derived for name in statement.names):
                yield statement

    def _escape_in(self, statement: StatementInfo) -> bool:
        stmt = statement.stmt
        if isinstance(stmt, ast.Return) and stmt.value is not None and _mentions(stmt.value, self.derived):
            return True
        for node in ast.walk(stmt):
            is_yield = isinstance(node, (ast.Yield, ast.YieldFrom))
            if is_yield and node.value is not None and _mentions(node.value, self.derived):
                return True
        if isinstance(stmt, ast.Assign) and _mentions(stmt.value, self.derived):
            return any(not isinstance(element, ast.Name) for t in stmt.targets for element in flatten_target(t))
        return False

    def _number_use(self, statement: StatementInfo) -> bool:
        stmt = statement.stmt
        if isinstance(stmt, ast.Assign):
            # `avg = total / n`: fine when the new name is itself a number (checked at its own uses).
            return all(isinstance(e, ast.Name) for t in stmt.targets for e in flatten_target(t)) and _arithmetic_only(
                stmt.value, self.derived
            )
        if isinstance(stmt, ast.Expr):
            return _all_in_number_sinks(stmt.value, self.derived)
        return False


def _added_to_container(stmt: ast.stmt, derived: Set[str]) -> bool:
    """`losses.append(out[k].view(-1))` with `out` among `derived`: the list now holds it."""
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return False
    func = stmt.value.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr in ("append", "extend", "insert")
        and any(_mentions(arg, derived) for arg in stmt.value.args)
    )


def derived_names(roots: Set[str], statements: List[StatementInfo]) -> Set[str]:
    """The names computed from `roots` in these statements (`avg = total / n`, `loss += part`),
    to a fixpoint."""
    derived = set(roots)
    changed = True
    while changed:
        changed = False
        for statement in statements:
            stmt = statement.stmt
            if isinstance(stmt, ast.Assign):
                if not _mentions(stmt.value, derived):
                    continue
                targets = [element for target in stmt.targets for element in flatten_target(target)]
            elif isinstance(stmt, ast.AugAssign) and _mentions(stmt.value, derived):
                targets = [stmt.target]  # `loss += part`: the total now holds part's graph
            elif isinstance(stmt, (ast.For, ast.AsyncFor)) and _mentions(stmt.iter, derived):
                targets = list(flatten_target(stmt.target))  # `for out in outputs:`
            elif _added_to_container(stmt, derived):
                targets = [stmt.value.func.value]  # type: ignore[attr-defined]  # `losses.append(f(part))`
            else:
                continue
            for element in targets:
                key = dotted_key(element)
                if key is not None and key not in derived:
                    derived.add(key)
                    changed = True
    return derived


def _mentions(expr: ast.AST, keys: Set[str]) -> bool:
    for node in ast.walk(expr):
        if isinstance(node, (ast.Name, ast.Attribute)):
            key = dotted_key(node)
            if key is not None and key in keys:
                return True
    return False


def _arithmetic_only(expr: ast.expr, keys: Set[str]) -> bool:
    """The accumulator only meets numbers: `total / len(loader)`, `sum(losses) / len(losses)`."""
    # A stack, not recursion: `total + a + b + ...` nests one BinOp per term (thousands parse).
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Name, ast.Attribute)) and dotted_key(node) in keys:
            continue
        if isinstance(node, ast.BinOp):
            stack += (node.left, node.right)
            continue
        if isinstance(node, ast.UnaryOp):
            stack.append(node.operand)
            continue
        if isinstance(node, ast.Call):
            name = dotted_key(node.func) or ""
            if name in _NUMBER_KEEPING_BUILTINS or name in _NUMBER_SINK_BUILTINS or name.startswith(_NUMBER_SINK_MODULES):
                stack.extend(node.args)
                continue
        if _mentions(node, keys):
            return False
    return True


def _all_in_number_sinks(expr: ast.expr, keys: Set[str]) -> bool:
    """Every mention of the accumulator sits in a print/format/logging call's arguments."""
    if not _mentions(expr, keys):
        return True
    if isinstance(expr, ast.Call):
        func = expr.func
        name = dotted_key(func) or ""
        method = func.attr if isinstance(func, ast.Attribute) else ""
        if name in _NUMBER_SINK_BUILTINS or method in _NUMBER_SINK_METHODS or name.startswith(_NUMBER_SINK_MODULES):
            arguments = list(expr.args) + [kw.value for kw in expr.keywords]
            return all(_sink_argument(arg, keys) for arg in arguments)
    return False


def _sink_argument(expr: ast.expr, keys: Set[str]) -> bool:
    if isinstance(expr, ast.JoinedStr):
        return all(
            _arithmetic_only(part.value, keys) for part in expr.values if isinstance(part, ast.FormattedValue)
        )
    if isinstance(expr, ast.Dict):
        return all(_sink_argument(value, keys) for value in expr.values)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Mod) and isinstance(expr.left, ast.Constant):
        return _sink_argument(expr.right, keys)
    if isinstance(expr, ast.Tuple):
        return all(_sink_argument(element, keys) for element in expr.elts)
    return _arithmetic_only(expr, keys)


def is_scalar_expression(expr: ast.expr, evaluation: EvaluationFacts) -> bool:
    """A value `.item()` works on: a loss (by name or by call), or a full reduction `x.sum()`/`x.mean()`."""
    if isinstance(expr, ast.Name):
        return "loss" in expr.id.lower()
    if isinstance(expr, ast.Call):
        func = expr.func
        if isinstance(func, ast.Attribute) and func.attr in ("sum", "mean") and not expr.args and not expr.keywords:
            return True
        if any(kw.arg == "reduction" for kw in expr.keywords):
            return False
        if evaluation.evaluator.is_loss_module(func):
            return True
        site = evaluation.walker.call_info.get(id(expr))
        qualname = site.qualname if site is not None else None
        return bool(qualname and qualname.startswith("torch.nn.functional.") and (
            qualname.endswith("_loss") or qualname.rpartition(".")[2] in ("cross_entropy", "nll_loss", "kl_div")
        ))
    return False
