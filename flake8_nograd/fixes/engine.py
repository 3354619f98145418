"""Apply fixes to one module's text with libcst, locating each target by its ast position.

Every transformation keeps what libcst keeps (comments, blank lines, quotes, the file's indentation
and newline style); the result is re-parsed with `ast` before it is returned, and a fix that would
not re-parse leaves the text untouched.

libcst reads only the lines of the top-level statements that hold a fix (a function at the end
of a long model file is parsed alone), and they are put back in place; the whole file is read
only when a fix adds `import torch` at its top or the statements share lines with others.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from ..findings import FIX_ACTIONS, Fix
from .spelling import Spelling

Span = Tuple[int, int, int, int]
_EXPRESSION_ACTIONS = {"add_call": None, "append_item": "item", "append_detach": "detach"}
_STATEMENT_ACTIONS = ("wrap_no_grad",)
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


@dataclass
class FixOutcome:
    """The new text, which fixes were applied, and which were not (with the reason)."""

    source: str
    applied: List[Fix] = field(default_factory=list)
    failed: List[Tuple[Fix, str]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.applied)


class _Edit:
    """What to do to one original libcst node."""

    def __init__(self) -> None:
        self.fixes: List[Fix] = []
        self.call_attribute: Optional[str] = None  # "item"/"detach": append `.item()`
        self.add_call = False
        self.wrap: Optional[str] = None  # the guard to wrap in, as source text: "torch.no_grad"
        self.decorate: Optional[str] = None


def apply_fixes(source: str, fixes: Sequence[Fix], whole_file: bool = False) -> FixOutcome:
    """Apply what can be applied of `fixes`; `whole_file` makes libcst read all of `source`."""
    outcome = FixOutcome(source)
    wanted: List[Fix] = []
    seen = set()
    for fix in fixes:
        if fix.action not in FIX_ACTIONS or fix.target is None:
            outcome.failed.append((fix, "no automatic fix"))
        elif (fix.action, fix.target) not in seen:
            seen.add((fix.action, fix.target))
            wanted.append(fix)
    wanted, covered = _drop_covered(wanted)
    if not wanted:
        outcome.applied.extend(covered)
        return outcome
    lines = _LINE.findall(source)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as error:
        outcome.failed.extend((fix, f"could not parse the file: {error}") for fix in wanted)
        return outcome
    first, last = (1, len(lines)) if whole_file else _lines_to_rewrite(tree, wanted, len(lines))
    try:
        wrapper = MetadataWrapper(cst.parse_module("".join(lines[first - 1 : last])), unsafe_skip_copy=True)
    except (cst.ParserSyntaxError, ValueError) as error:
        if not whole_file:
            return apply_fixes(source, fixes, whole_file=True)  # the part alone did not parse
        outcome.failed.extend((fix, f"could not parse the file: {error}") for fix in wanted)
        return outcome
    positions = wrapper.resolve(PositionProvider)
    spelling = Spelling(tree)
    edits: Dict[int, _Edit] = {}
    index = _PositionIndex(positions)
    part_lines = lines[first - 1 : last]
    for fix in wanted:
        reason = _plan(fix, part_lines, first - 1, index, spelling, edits)
        if reason:
            outcome.failed.append((fix, reason))
    planned = [fix for edit in edits.values() for fix in edit.fixes]
    if not planned:
        return outcome
    if spelling.needs_import and not whole_file:
        return apply_fixes(source, fixes, whole_file=True)  # `import torch` goes at the file's top
    transformer = _Transformer(edits)
    module = wrapper.module.visit(transformer)
    if spelling.needs_import:
        module = _add_import_torch(module)
    new_source = "".join(lines[: first - 1]) + module.code + "".join(lines[last:])
    try:
        ast.parse(new_source)
    except SyntaxError as error:  # a fixer bug must never write broken code
        outcome.failed.extend((fix, f"the fixed code would not parse ({error.msg})") for fix in planned)
        return outcome
    outcome.source = new_source
    outcome.applied.extend(planned)
    outcome.applied.extend(covered)
    return outcome


def _lines_to_rewrite(tree: ast.Module, fixes: List[Fix], line_count: int) -> Tuple[int, int]:
    """First and last line (1-based) of the top-level statements the fixes touch, decorators
    included; all lines when those statements share a line with their neighbours (`a = 1; b`)."""
    spans = [
        (min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", ())]), stmt.end_lineno or stmt.lineno)
        for stmt in tree.body
    ]
    touched = [
        index
        for index, (start, end) in enumerate(spans)
        if any(fix.target[0] <= end and start <= fix.target[2] for fix in fixes)  # type: ignore[index]
    ]
    if not touched:
        return 1, line_count
    low, high = touched[0], touched[-1]
    first, last = spans[low][0], spans[high][1]
    if (low > 0 and spans[low - 1][1] >= first) or (high + 1 < len(spans) and spans[high + 1][0] <= last):
        return 1, line_count
    return first, last


def _drop_covered(fixes: List[Fix]) -> Tuple[List[Fix], List[Fix]]:
    """A wrap inside another wrap's or decorated def's span is already guarded by it."""
    guards = [f for f in fixes if f.action in ("wrap_no_grad", "decorate_no_grad")]
    kept: List[Fix] = []
    covered: List[Fix] = []
    for fix in fixes:
        if fix.action == "wrap_no_grad" and any(
            other is not fix and _contains(other.target, fix.target) for other in guards  # type: ignore[arg-type]
        ):
            covered.append(fix)
        else:
            kept.append(fix)
    return kept, covered


def _contains(outer: Span, inner: Span) -> bool:
    return outer != inner and outer[:2] <= inner[:2] and inner[2:] <= outer[2:]


class _PositionIndex:
    """Statement-level nodes by start, expressions by (start, end), in libcst's character columns."""

    def __init__(self, positions: "Dict[cst.CSTNode, CodeRange]") -> None:
        self.statements: Dict[Tuple[int, int], cst.CSTNode] = {}
        self.expressions: Dict[Tuple[int, int, int, int], cst.CSTNode] = {}
        self.positions = positions
        for node, where in positions.items():
            start = (where.start.line, where.start.column)
            if isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                self.statements.setdefault(start, node)
            elif isinstance(node, cst.BaseExpression):
                key = start + (where.end.line, where.end.column)
                self.expressions.setdefault(key, node)  # outermost first (parents come first)


def _char_column(lines: List[str], line: int, byte_column: int) -> int:
    """ast columns count UTF-8 bytes; libcst's count characters."""
    if not 1 <= line <= len(lines):
        return byte_column
    return len(lines[line - 1].encode("utf-8")[:byte_column].decode("utf-8", errors="ignore"))


def _parenthesised(lines: List[str], key: Tuple[int, int, int, int]) -> bool:
    line, col, end_line, end_col = key
    if not (1 <= line <= len(lines) and 1 <= end_line <= len(lines)) or (line, col + 1) >= (end_line, end_col - 1):
        return False
    return lines[line - 1][col : col + 1] == "(" and lines[end_line - 1][end_col - 1 : end_col] == ")"


def _plan(
    fix: Fix, lines: List[str], offset: int, index: _PositionIndex, spelling: Spelling, edits: Dict[int, _Edit]
) -> str:
    """Record the edit for `fix`; return why it cannot be applied, or ''.

    `lines` and `index` cover the part of the file libcst read, which starts `offset` lines in;
    the fix's target and `spelling` count lines in the whole file."""
    line, col, end_line, end_col = fix.target  # type: ignore[misc]
    local_line, local_end = line - offset, end_line - offset
    start = (local_line, _char_column(lines, local_line, col))
    if fix.action in _EXPRESSION_ACTIONS:
        key = start + (local_end, _char_column(lines, local_end, end_col))
        node = index.expressions.get(key)
        while node is None and _parenthesised(lines, key):
            # ast counts a tuple's or generator's own parentheses in its span, libcst does not.
            key = (key[0], key[1] + 1, key[2], key[3] - 1)
            node = index.expressions.get(key)
        if node is None:
            return "could not locate the expression to fix"
        edit = edits.setdefault(id(node), _Edit())
        if fix.action == "add_call":
            edit.add_call = True
        else:
            edit.call_attribute = _EXPRESSION_ACTIONS[fix.action]
        edit.fixes.append(fix)
        return ""
    node = index.statements.get(start)
    if fix.action == "decorate_no_grad":
        if not isinstance(node, cst.FunctionDef):
            return "could not locate the function to decorate"
        guard = spelling.name_for("no_grad", spelling.scope_at((line, col)))
        scope_inside = spelling.scope_inside_def((line, col))
        enable = spelling.name_for("enable_grad", scope_inside) if scope_inside is not None else None
        if guard is None or enable is None:
            return "no usable name for torch.no_grad/torch.enable_grad here ('torch' is taken)"
        edit = edits.setdefault(id(node), _Edit())
        edit.decorate = guard
        edit.fixes.append(fix)
        for statement in _closure_calls(node):
            edits.setdefault(id(statement), _Edit()).wrap = enable
        return ""
    if node is None:
        return "could not locate the statement to wrap"
    if isinstance(node, cst.SimpleStatementLine) and len(node.body) != 1:
        return "the statement shares its line with others ('a; b'); wrap it by hand"
    guard = spelling.name_for("no_grad", spelling.scope_at((line, col)))
    if guard is None:
        return "no usable name for torch.no_grad here ('torch' is taken)"
    edit = edits.setdefault(id(node), _Edit())
    edit.wrap = guard
    edit.fixes.append(fix)
    return ""


def _closure_calls(function: cst.FunctionDef) -> List[cst.SimpleStatementLine]:
    """`loss = closure()` statements of an optimizer's step, not yet under enable_grad.

    torch's own optimizers run the closure under `torch.enable_grad()` inside their no-grad step,
    so that the closure's forward pass builds a graph for its backward()."""
    params = {param.name.value for param in function.params.params}
    params |= {param.name.value for param in function.params.kwonly_params}
    if "closure" not in params:
        return []
    found: List[cst.SimpleStatementLine] = []

    def visit(block: cst.BaseSuite) -> None:
        if not isinstance(block, cst.IndentedBlock):
            return
        for statement in block.body:
            if isinstance(statement, cst.SimpleStatementLine):
                if len(statement.body) == 1 and _calls_closure(statement.body[0]):
                    found.append(statement)
            elif isinstance(statement, cst.With) and "enable_grad" in cst.Module([]).code_for_node(statement.items[0]):
                continue
            elif not isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                for child in _child_suites(statement):
                    visit(child)

    visit(function.body)
    return found


def _child_suites(statement: cst.CSTNode) -> List[cst.BaseSuite]:
    suites = []
    for name in ("body", "orelse", "finalbody"):
        value = getattr(statement, name, None)
        if isinstance(value, cst.BaseSuite):
            suites.append(value)
        elif isinstance(value, (cst.Else, cst.Finally)) or isinstance(value, cst.If):
            suites.extend(_child_suites(value) if isinstance(value, cst.If) else [value.body])
    for handler in getattr(statement, "handlers", ()):
        suites.append(handler.body)
    return suites


def _calls_closure(small: cst.BaseSmallStatement) -> bool:
    value = getattr(small, "value", None)
    return (
        isinstance(small, (cst.Assign, cst.AnnAssign, cst.AugAssign, cst.Expr))
        and isinstance(value, cst.Call)
        and isinstance(value.func, cst.Name)
        and value.func.value == "closure"
    )


def _guard_call(name: str) -> cst.Call:
    return cst.Call(func=cst.parse_expression(name))


class _Transformer(cst.CSTTransformer):
    def __init__(self, edits: Dict[int, _Edit]) -> None:
        super().__init__()
        self.edits = edits

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):  # type: ignore[override]
        edit = self.edits.get(id(original_node))
        if edit is None:
            return updated_node
        node = updated_node
        if edit.add_call:
            node = _add_call(node)  # type: ignore[arg-type]
        if edit.call_attribute:
            node = _append_call(node, edit.call_attribute)  # type: ignore[arg-type]
        if edit.decorate and isinstance(node, cst.FunctionDef):
            decorator = cst.Decorator(decorator=_guard_call(edit.decorate))
            node = node.with_changes(decorators=[*node.decorators, decorator])
        if edit.wrap:
            node = _wrap(node, edit.wrap)  # type: ignore[arg-type]
        return node


def _add_call(expr: cst.BaseExpression) -> cst.BaseExpression:
    """`torch.no_grad` -> `torch.no_grad()`, keeping the expression's own parentheses outside."""
    return cst.Call(func=expr.with_changes(lpar=[], rpar=[]), lpar=expr.lpar, rpar=expr.rpar)


_ATOMS = (cst.Name, cst.Attribute, cst.Call, cst.Subscript)


def _append_call(expr: cst.BaseExpression, method: str) -> cst.BaseExpression:
    """`loss` -> `loss.item()`; `a + b` -> `(a + b).item()`."""
    inner = expr
    if not isinstance(expr, _ATOMS) and not expr.lpar:
        inner = expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return cst.Call(func=cst.Attribute(value=inner, attr=cst.Name(method)))


def _wrap(statement: cst.BaseStatement, guard: str) -> cst.With:
    """`stmt` -> `with guard():` + the statement one level deeper; comments above stay above."""
    return cst.With(
        items=[cst.WithItem(item=_guard_call(guard))],
        body=cst.IndentedBlock(body=[statement.with_changes(leading_lines=[])]),
        leading_lines=statement.leading_lines,
    )


def _add_import_torch(module: cst.Module) -> cst.Module:
    """`import torch` after the docstring, `__future__` and the leading block of imports."""
    body = list(module.body)
    position = 0
    for index, statement in enumerate(body):
        if not isinstance(statement, cst.SimpleStatementLine):
            break
        small = statement.body
        if index == 0 and len(small) == 1 and isinstance(small[0], cst.Expr) and isinstance(
            small[0].value, (cst.SimpleString, cst.ConcatenatedString)
        ):
            position = 1
        elif all(isinstance(item, (cst.Import, cst.ImportFrom)) for item in small):
            position = index + 1
        else:
            break
    statement = cst.parse_statement("import torch\n")
    # Code right after the new import gets a blank line, as isort/ruff would leave it.
    if position < len(body) and not _is_import(body[position]) and not body[position].leading_lines:
        body[position] = body[position].with_changes(leading_lines=[cst.EmptyLine()])
    body.insert(position, statement)
    return module.with_changes(body=body)


def _is_import(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(item, (cst.Import, cst.ImportFrom)) for item in statement.body
    )
