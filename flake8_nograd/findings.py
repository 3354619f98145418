"""What a rule reports: one finding per root cause, positioned for flake8 and noqa."""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Optional, Tuple

INTERNAL_ERROR = "NG000"  # the code of a linter bug, reported instead of crashing the run

# What a fix does, applied by the fixer (flake8_nograd/fixes) at `Fix.target`:
FIX_ACTIONS = (
    "add_call",  # `torch.no_grad` -> `torch.no_grad()` (target: the uncalled expression)
    "wrap_no_grad",  # put the target statement (a loop, an update) under `with torch.no_grad():`
    "decorate_no_grad",  # add `@torch.no_grad()` to the target `def` (for NG302 also guards closure())
    "append_item",  # `total += loss` -> `total += loss.item()` (target: the accumulated expression)
    "append_detach",  # `losses.append(loss)` -> `losses.append(loss.detach())` (target: the expression)
)


@dataclass(frozen=True)
class Fix:
    """A fix attached to a finding; `safe` fixes are applied by `flake8-nograd fix`.

    `target` is (line, col, end_line, end_col) of the node to change, 1-based lines and 0-based
    columns as in `ast`; positions, not nodes, so findings cross process boundaries cheaply.
    """

    description: str
    safe: bool = True
    action: str = ""  # one of FIX_ACTIONS; "" for a suggestion with no automatic fix
    target: Optional[Tuple[int, int, int, int]] = None


@dataclass(frozen=True)
class Finding:
    """A finding at a 1-based line and a 0-based column (flake8 adds 1 to the column).

    Two findings are the same when position, code and message are: the fix and the end position
    do not take part in equality (the checker removes duplicates by that).
    """

    line: int
    col: int
    code: str
    message: str  # without the code; `text` joins them
    fix: Optional[Fix] = field(default=None, compare=False)
    end_line: Optional[int] = field(default=None, compare=False)
    end_col: Optional[int] = field(default=None, compare=False)

    @property
    def text(self) -> str:
        return f"{self.code} {self.message}"


def span(node: ast.AST) -> Tuple[int, int, int, int]:
    """(line, col, end_line, end_col) of a node, for Fix.target."""
    return (
        node.lineno,  # type: ignore[attr-defined]
        node.col_offset,  # type: ignore[attr-defined]
        node.end_lineno or node.lineno,  # type: ignore[attr-defined]
        node.end_col_offset or 0,  # type: ignore[attr-defined]
    )


def finding_at(
    node: ast.AST,
    stmt: ast.stmt,
    code: str,
    message: str,
    fix: Optional[Fix] = None,
) -> Finding:
    """Place a finding about `node` on the first line of its statement `stmt`.

    flake8 matches `# noqa` against the reported line, and users put it on the first line of the
    statement; the column is the node's when it starts on that line, else the statement's.
    """
    if getattr(node, "lineno", None) == stmt.lineno:
        col = node.col_offset  # type: ignore[attr-defined]
    else:
        col = stmt.col_offset
    return Finding(
        line=stmt.lineno,
        col=col,
        code=code,
        message=message,
        fix=fix,
        end_line=getattr(node, "end_lineno", None),
        end_col=getattr(node, "end_col_offset", None),
    )
