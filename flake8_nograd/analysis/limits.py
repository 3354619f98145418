"""Helpers that stay within bounds on pathological input (very deep or very long expressions).

CPython accepts expressions nested up to about three times the recursion limit (a 3000-term
`a + b + ...` chain, a 3000-deep `if/elif` chain), while `ast.unparse` and any recursive walk
overflow long before. Everything the analysis prints or walks recursively goes through here or
is written as an explicit loop, so such a file is analysed (or left alone), never a crash.
"""
from __future__ import annotations

import ast
from typing import List

DEEP_EXPRESSION = "<deeply nested expression>"


def short_source(expr: ast.AST, limit: int = 60) -> str:
    """`expr` as source text, cut to `limit` characters; never raises on deep expressions."""
    try:
        text = ast.unparse(expr)
    except RecursionError:
        return DEEP_EXPRESSION
    return text if len(text) <= limit else text[: limit - 3] + "..."


def elif_chain(stmt: ast.If) -> List[ast.If]:
    """`if`, then each `elif` (an `If` alone in the previous one's `orelse`), outermost first.

    An `elif` chain is nested in the ast (`orelse=[If(...)]`), so walking it by recursion
    overflows on a few hundred branches; callers walk this list instead.
    """
    chain = [stmt]
    while len(chain[-1].orelse) == 1 and isinstance(chain[-1].orelse[0], ast.If):
        chain.append(chain[-1].orelse[0])  # type: ignore[arg-type]
    return chain
