"""Imports, aliases and shadowing: which expressions mean `torch.no_grad`, `F.cross_entropy`, ...

Scopes follow Python's rules closely enough for linting: a name bound by an import in a scope means
the imported object; a name bound any other way in a closer scope (an assignment, a parameter, a
`for` target) shadows it. Class scopes do not enclose the methods defined in them.
"""
from __future__ import annotations

import ast
from functools import lru_cache
from typing import Dict, Iterator, List, Optional, Set, Union

# Lambdas and comprehensions get no scope of their own: a lambda parameter named `torch` is not
# worth a second walk over every expression.
ScopeNode = Union[ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef]

# Spellings of the same object, mapped to the one name the rules compare against.
_GRAD_MODE_FUNCTIONS = ("no_grad", "enable_grad", "inference_mode", "set_grad_enabled")
_LIGHTNING_PREFIXES = (
    ("pytorch_lightning.", "lightning.pytorch."),
    ("lightning.pytorch.", "lightning.pytorch."),
    ("lightning.", "lightning.pytorch."),
)
_CANONICAL_EXACT = {
    "torch.optim.optimizer.Optimizer": "torch.optim.Optimizer",
    "torch.nn.modules.module.Module": "torch.nn.Module",
    "torch.nn.parameter.Parameter": "torch.nn.Parameter",
    "torch.nn.Parameter": "torch.nn.Parameter",
    "pytorch_lightning": "lightning.pytorch",
    "lightning": "lightning.pytorch",
}


@lru_cache(maxsize=4096)  # the same few hundred names recur in every module of a code base
def canonical(qualname: str) -> str:
    """One spelling per object: torch.autograd.no_grad -> torch.no_grad, pl.X -> lightning.pytorch.X."""
    if qualname in _CANONICAL_EXACT:
        return _CANONICAL_EXACT[qualname]
    head, _, last = qualname.rpartition(".")
    if last in _GRAD_MODE_FUNCTIONS and head in ("torch.autograd", "torch.autograd.grad_mode"):
        return "torch." + last
    if qualname.startswith("lightning.fabric.") or qualname == "lightning.Fabric":
        return "lightning.fabric.Fabric" if qualname == "lightning.Fabric" else qualname
    for prefix, replacement in _LIGHTNING_PREFIXES:
        if qualname.startswith(prefix):
            rest = qualname[len(prefix):]
            # lightning.pytorch.core.module.LightningModule -> lightning.pytorch.LightningModule
            return replacement + rest.rpartition(".")[2] if rest.endswith("LightningModule") else replacement + rest
    return qualname


class Scope:
    """The names one scope binds: imports to their qualified names, everything else as shadows."""

    __slots__ = ("node", "parent", "imports", "shadowed", "is_class")

    def __init__(self, node: ScopeNode, parent: Optional["Scope"]) -> None:
        self.node = node
        self.parent = parent
        self.imports: Dict[str, str] = {}
        self.shadowed: Set[str] = set()
        self.is_class = isinstance(node, ast.ClassDef)

    def lookup(self, name: str) -> Optional[str]:
        """The canonical qualified name `name` refers to here, or None when it is not an import."""
        scope: Optional[Scope] = self
        first = True
        while scope is not None:
            if first or not scope.is_class:
                if name in scope.imports:
                    return scope.imports[name]
                if name in scope.shadowed:
                    return None
            first = False
            scope = scope.parent
        return None

    def is_bound(self, name: str) -> bool:
        """Is `name` bound (by anything) here or in an enclosing scope?"""
        scope: Optional[Scope] = self
        while scope is not None:
            if name in scope.imports or name in scope.shadowed:
                return True
            scope = scope.parent
        return False


class NameResolver:
    """Builds every scope of a module from its statements (one walk) and resolves expressions."""

    def __init__(self, tree: ast.Module) -> None:
        self.module_scope = Scope(tree, None)
        self.scopes: Dict[int, Scope] = {id(tree): self.module_scope}
        # Names any scope binds by an import, and names of functions defined anywhere in the module:
        # a name outside these sets can be ruled out without a scope lookup (most names in code).
        self.imported_names: Set[str] = {"torch"}  # a never-bound `torch` resolves too (see qualname)
        self.function_names: Set[str] = set()
        self._collect(tree.body, self.module_scope)

    def scope_of(self, node: ScopeNode) -> Scope:
        return self.scopes[id(node)]

    def qualname(self, expr: ast.expr, scope: Scope) -> Optional[str]:
        """`T.no_grad` -> 'torch.no_grad' after `import torch as T`; None for non-imported names."""
        parts: List[str] = []
        while type(expr) is ast.Attribute:
            parts.append(expr.attr)  # type: ignore[attr-defined]
            expr = expr.value  # type: ignore[attr-defined]
        if type(expr) is not ast.Name or expr.id not in self.imported_names:  # type: ignore[attr-defined]
            return None
        base = scope.lookup(expr.id)  # type: ignore[attr-defined]
        if base is None:
            # A never-bound `torch` is torch imported elsewhere (an earlier notebook cell, a
            # star import); any other free name may be anything.
            if expr.id != "torch" or scope.is_bound("torch"):
                return None
            base = "torch"
        if parts:
            return canonical(base + "." + ".".join(reversed(parts)))
        return base

    # -- building -------------------------------------------------------------------------------
    def _collect(self, body: List[ast.stmt], scope: Scope) -> None:
        # An explicit stack instead of recursion: deeply nested blocks must not overflow.
        stack: List[tuple] = [(body, scope)]
        while stack:
            stmts, current = stack.pop()
            for stmt in stmts:
                self._bind_statement(stmt, current, stack)

    def _bind_statement(self, stmt: ast.stmt, scope: Scope, stack: List[tuple]) -> None:
        kind = type(stmt)
        if kind in _BINDS_NOTHING:
            return  # the common case, decided without the isinstance chain below
        if kind is ast.Assign:
            for target in stmt.targets:  # type: ignore[attr-defined]
                if type(target) is ast.Name:  # `x = ...`, the commonest: no generator
                    scope.shadowed.add(target.id)
                    continue
                for name in _names_in_target(target):
                    scope.shadowed.add(name)
            return
        if kind is ast.Import:
            for alias in stmt.names:
                if alias.asname:
                    scope.imports[alias.asname] = canonical(alias.name)
                    self.imported_names.add(alias.asname)
                else:
                    top = alias.name.partition(".")[0]
                    scope.imports[top] = canonical(top)
                    self.imported_names.add(top)
            return
        if kind is ast.ImportFrom:
            # A relative import keeps one leading dot per level (`from . import utils` -> '.utils',
            # `from ..data import load` -> '..data.load'): the project index resolves them.
            module = "." * (stmt.level or 0) + (stmt.module or "")
            for alias in stmt.names:
                if alias.name != "*":
                    joined = module + alias.name if module.endswith(".") else f"{module}.{alias.name}"
                    scope.imports[alias.asname or alias.name] = canonical(joined)
                    self.imported_names.add(alias.asname or alias.name)
            return
        if kind is ast.FunctionDef or kind is ast.AsyncFunctionDef or kind is ast.ClassDef:
            is_function = kind is not ast.ClassDef
            if is_function:
                self.function_names.add(stmt.name)  # type: ignore[attr-defined]
            scope.shadowed.add(stmt.name)  # type: ignore[attr-defined]
            inner = Scope(stmt, scope)  # type: ignore[arg-type]
            self.scopes[id(stmt)] = inner
            if is_function:
                for arg in _all_args(stmt.args):  # type: ignore[attr-defined]
                    inner.shadowed.add(arg.arg)
            stack.append((stmt.body, inner))  # type: ignore[attr-defined]
            return
        for target in _bound_targets(stmt):
            for name in _names_in_target(target):
                scope.shadowed.add(name)
        if isinstance(stmt, (ast.Global, ast.Nonlocal)):
            return
        for child in _child_blocks(stmt):
            stack.append((child, scope))


# Statements that bind no name and hold no nested block.
_BINDS_NOTHING = frozenset((ast.Expr, ast.Return, ast.Pass, ast.Raise, ast.Assert, ast.Break, ast.Continue, ast.Delete))


def _all_args(args: ast.arguments) -> Iterator[ast.arg]:
    yield from getattr(args, "posonlyargs", [])
    yield from args.args
    yield from args.kwonlyargs
    if args.vararg:
        yield args.vararg
    if args.kwarg:
        yield args.kwarg


def _names_in_target(target: ast.AST) -> Iterator[str]:
    kind = type(target)
    if kind is ast.Name:
        yield target.id  # type: ignore[attr-defined]
    elif kind is ast.Tuple or kind is ast.List:
        for element in target.elts:  # type: ignore[attr-defined]
            yield from _names_in_target(element)
    elif kind is ast.Starred:
        yield from _names_in_target(target.value)  # type: ignore[attr-defined]


def _bound_targets(stmt: ast.stmt) -> Iterator[ast.AST]:
    if isinstance(stmt, ast.Assign):
        yield from stmt.targets
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        yield stmt.target
    elif isinstance(stmt, (ast.For, ast.AsyncFor)):
        yield stmt.target
    elif isinstance(stmt, (ast.With, ast.AsyncWith)):
        for item in stmt.items:
            if item.optional_vars is not None:
                yield item.optional_vars
    elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
        for handler in stmt.handlers:  # type: ignore[attr-defined]
            if handler.name:
                yield ast.Name(id=handler.name)
    elif isinstance(stmt, (ast.Global, ast.Nonlocal)):
        for name in stmt.names:
            yield ast.Name(id=name)


def _child_blocks(stmt: ast.stmt) -> Iterator[List[ast.stmt]]:
    for name in ("body", "orelse", "finalbody"):
        block = getattr(stmt, name, None)
        if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
            yield block
    for handler in getattr(stmt, "handlers", ()):
        yield handler.body
    for case in getattr(stmt, "cases", ()):
        yield case.body
