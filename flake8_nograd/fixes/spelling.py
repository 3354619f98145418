"""How inserted code names torch's guards: the file's own imports first (`T.no_grad()` after
`import torch as T`, `no_grad()` after `from torch import no_grad`), else `torch.no_grad()` plus an
`import torch` the engine adds. Reads the shared NameResolver, so shadowing is respected."""
from __future__ import annotations

import ast
from typing import Dict, List, Optional, Tuple

from ..analysis.names import NameResolver, Scope

Position = Tuple[int, int]  # 1-based line, 0-based (byte) column, as in ast


class Spelling:
    """Answers "what do I write for torch.<api> at this position?" for one module."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.resolver = NameResolver(tree)
        self.needs_import = False
        # Every def/class with the position its body starts at, for "which scope is this in?".
        self._scoped: List[Tuple[Position, Position, ast.AST]] = []
        self._defs: Dict[Position, ast.AST] = {}
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                first = node.body[0]
                end = (node.end_lineno or node.lineno, node.end_col_offset or 0)
                self._scoped.append(((first.lineno, first.col_offset), end, node))
                self._defs[(node.lineno, node.col_offset)] = node

    def scope_at(self, position: Position) -> Scope:
        """The scope code at `position` runs in (innermost def/class whose body holds it)."""
        best: Optional[Tuple[Position, ast.AST]] = None
        for start, end, node in self._scoped:
            if start <= position <= end and (best is None or start > best[0]):
                best = (start, node)
        if best is None:
            return self.resolver.module_scope
        return self.resolver.scope_of(best[1])  # type: ignore[arg-type]

    def scope_inside_def(self, def_position: Position) -> Optional[Scope]:
        node = self._defs.get(def_position)
        return self.resolver.scope_of(node) if node is not None else None  # type: ignore[arg-type]

    def name_for(self, api: str, scope: Scope) -> Optional[str]:
        """'torch.no_grad' / 'T.no_grad' / 'no_grad' for `api` in `scope`; None if no name works.

        Sets `needs_import` when the answer relies on an `import torch` to be added."""
        direct: List[str] = []
        module_aliases: List[str] = []
        seen = set()
        current: Optional[Scope] = scope
        while current is not None:
            for name, qualname in current.imports.items():
                if name in seen or scope.lookup(name) != qualname:
                    continue  # shadowed (or a class-scope import the method cannot see)
                seen.add(name)
                if qualname == f"torch.{api}":
                    direct.append(name)
                elif qualname == "torch":
                    module_aliases.append(name)
            current = current.parent
        if direct:
            return direct[0]
        if module_aliases:
            return ("torch" if "torch" in module_aliases else module_aliases[0]) + "." + api
        if scope.is_bound("torch"):
            return None  # `torch` means something else here; an added import would not help
        self.needs_import = True
        return f"torch.{api}"
