"""The one walk over a module: functions, statements with their local grad regions, call sites.

Grad mode at a statement = the innermost region written in its function (a `with` guard or a
`torch.set_grad_enabled(...)` statement) or, when there is none, the function's own base region
(decorator, framework hook, or "all callers are grad-off"), computed afterwards in `callers.py`.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Set, Tuple, Union

from ..config import Config
from .guards import (
    GuardEffect,
    bound_contextmanager_guard,
    contextmanager_guard,
    dotted_name,
    guard_effect,
    last_identifier,
    unresolved_context_manager,
)
from .limits import elif_chain, short_source
from .model import GRAD_ON, GradMode, Region, RegionKind
from .names import NameResolver, Scope

FunctionNode = Union[ast.FunctionDef, ast.AsyncFunctionDef]
_BLOCK_FIELDS = ("body", "orelse", "finalbody")


@dataclass(eq=False)
class FunctionInfo:
    """A function or method (or the module itself, name '<module>')."""

    node: Union[FunctionNode, ast.Module]
    name: str
    scope: Scope
    class_node: Optional[ast.ClassDef] = None
    parent: Optional["FunctionInfo"] = None
    decorator_region: Optional[Region] = None
    base: Region = GRAD_ON  # filled in by callers.resolve_bases
    # The local region in force at the end of the body (None: the base region): a
    # `torch.set_grad_enabled(False)` never switched back leaves grad off for the caller.
    exit_region: Optional[Region] = None
    is_generator: bool = False  # has `yield`: what a call returns is a generator
    parameter_names: Optional[Set[str]] = None  # filled on first use (structure._parameter_names)
    # No list of its statements here (StructureWalker.statements_of): a statement points to its
    # function, and a pointer back would make every analysis a reference cycle, left to the cyclic
    # garbage collector instead of freed at once (13% of a check run went to collecting them).

    @property
    def is_module(self) -> bool:
        return isinstance(self.node, ast.Module)

    @property
    def is_method(self) -> bool:
        return self.class_node is not None


@dataclass(eq=False)
class StatementInfo:
    stmt: ast.stmt
    function: FunctionInfo
    scope: Scope  # where names in the statement resolve (a class body has its own)
    local: Optional[Region]  # None: the function's base region applies
    names: List[ast.Name] = field(default_factory=list)  # Name loads in the statement's own expressions
    has_walrus: bool = False
    unreachable: bool = False  # after a `raise` in its block (or inside such a statement)

    @property
    def region(self) -> Region:
        local = self.local
        if local is None or (local.yields_to_inference and self.function.base.inference):
            return self.function.base
        return local


@dataclass(eq=False)
class CallSite:
    node: ast.Call
    statement: StatementInfo
    qualname: Optional[str]  # canonical, when the callee is an imported name
    method_name: Optional[str] = None  # 'f' for `x.f(...)`; None when the callee is not an attribute

    @property
    def region(self) -> Region:
        return self.statement.region


@dataclass(eq=False)
class Reference:
    """A call of a local function or method by name (`f(...)`) or attribute (`x.f(...)`).

    A bare reference to a local function (passed as a callback) also counts: its caller is unknown.
    Only names of functions defined in the module are recorded: the only ones anything looks up.
    """

    name: str
    by_attribute: bool
    statement: StatementInfo
    receiver: Optional[ast.expr] = None  # `x` in `x.f(...)`: which object's method runs (resolve.py)
    call: Optional[ast.Call] = None  # None for a function passed as a callback, not called here
    passed_to: Optional[ast.Call] = None  # for a callback: the call it is an argument of
    # The function escapes here to code that may call it anywhere (a factory's result returned or
    # stored): its grad mode there is unknown, so it counts as a grad-on caller.
    escaped: bool = False


class StructureWalker:
    """Walks every statement once, recording everything the rules and later passes need."""

    def __init__(
        self,
        tree: ast.Module,
        resolver: NameResolver,
        config: Config,
        leaking_calls: Optional[Dict[int, Region]] = None,
        project_guard: Optional[Callable[[str], Optional[GuardEffect]]] = None,
    ) -> None:
        self.resolver = resolver
        self.config = config
        # A guard defined in another module of the project, by the qualified name it is imported as.
        self._project_guard = project_guard
        # id(call) -> the region after it, for calls of functions that leave grad off (a second walk).
        self._leaking_calls = leaking_calls or {}
        self.functions: List[FunctionInfo] = []
        self.statements: List[StatementInfo] = []
        self.statement_info: Dict[int, StatementInfo] = {}
        self._statements_by_function: Dict[int, List[StatementInfo]] = {}
        self.calls: List[CallSite] = []
        self._calls_by_function: Optional[Dict[int, List[CallSite]]] = None  # built on first use
        self.call_info: Dict[int, CallSite] = {}
        self.references: List[Reference] = []
        self._unreachable = False  # walking statements after a `raise` (StatementInfo.unreachable)
        self.classes: List[Tuple[ast.ClassDef, Scope]] = []  # with the scope they are defined in
        self.class_of_function: Dict[int, ast.ClassDef] = {}
        # Flow-insensitive facts about local objects, keyed by dotted name ("model", "self.net").
        self.receivers_by_method: Dict[str, Set[str]] = {}  # for MODEL_METHODS only
        self.assigned_from: Dict[str, Set[str]] = {}  # dotted target -> canonical qualnames called
        # Targets of `x = SomeClass(arg, ...)` given something other than constants: an object
        # that may hold what it was given (a network), not just settings.
        self.built_from_objects: Set[str] = set()
        # dotted target -> names of non-imported callables it was assigned the result of (`x = Net()`)
        self.constructed_from: Dict[str, Set[str]] = {}
        self.assigned_otherwise: Set[str] = set()  # attribute targets also assigned something else
        # Line ranges of `with pytest.raises(...)` / `self.assertRaises(...)`: code meant to fail.
        self.expected_error_lines: List[Tuple[int, int]] = []
        self._entered_regions: Set[int] = set()  # ids of regions entered with ExitStack.enter_context
        # Module-level `@contextmanager` generators that switch grad off around their `yield`
        # (`with eval_mode(net):`), by name: looked up before the walk, they may be defined below.
        self._context_guards: Dict[str, GuardEffect] = {}
        # Their definitions, and the `@contextmanager` methods of module-level classes by (class,
        # name): a call that hands the flag a constant (`self._set_training_mode(False)`) is judged
        # with it.
        self._context_definitions: Dict[str, ast.AST] = {}
        self._context_methods: Dict[Tuple[str, str], ast.AST] = {}
        # `context = nullcontext if with_grad else torch.no_grad` in a function: (id(scope), name)
        # -> what `with context():` does there.
        self._guard_variables: Dict[tuple, GuardEffect] = {}
        module_qualname = self._qualname_in(resolver.module_scope)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                effect = contextmanager_guard(node, self._qualname_in(resolver.scope_of(node)), config)
                if effect is not None and module_qualname(ast.Name(node.name, ast.Load())) is None:
                    self._context_guards[node.name] = effect
                    self._context_definitions[node.name] = node
            elif isinstance(node, ast.ClassDef):
                for method in node.body:
                    if isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)) and method.decorator_list:
                        self._context_methods[(node.name, method.name)] = method

        module = FunctionInfo(tree, "<module>", resolver.module_scope)
        self.module = module
        self.functions.append(module)
        self._statements_by_function[id(module)] = []
        self._walk_block(tree.body, module, module.scope, None, None)

    def statements_of(self, function: FunctionInfo) -> List[StatementInfo]:
        """The function's own statements in source order (not those of functions nested in it)."""
        return self._statements_by_function[id(function)]

    def calls_of(self, function: FunctionInfo) -> List[CallSite]:
        """The calls in the function's own statements, in walk order (indexed on first use)."""
        if self._calls_by_function is None:
            self._calls_by_function = {}
            for site in self.calls:
                self._calls_by_function.setdefault(id(site.statement.function), []).append(site)
        return self._calls_by_function.get(id(function), [])

    # -- blocks ---------------------------------------------------------------------------------
    def _walk_block(
        self,
        body: List[ast.stmt],
        function: FunctionInfo,
        scope: Scope,
        region: Optional[Region],
        class_node: Optional[ast.ClassDef],
    ) -> Optional[Region]:
        """Walk statements in order; return the region in effect after the block.

        A `torch.set_grad_enabled(flag)` statement changes the region of the statements after it.
        """
        outer_unreachable = self._unreachable
        for stmt in body:
            leaked = self._register(stmt, function, scope, region)
            kind = type(stmt)
            if kind is ast.Raise:
                self._unreachable = True  # what follows in this block never runs
            elif kind is ast.Assign and type(stmt.value) in (ast.IfExp, ast.Attribute):  # type: ignore[attr-defined]
                self._note_guard_variable(stmt, scope)  # type: ignore[arg-type]
            if leaked is not None and (kind in _SIMPLE_STATEMENTS or kind is ast.Expr):
                region = leaked
                continue
            if kind in _SIMPLE_STATEMENTS:
                continue  # no nested block, no grad-mode effect
            if kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
                self._walk_function(stmt, function, scope, class_node)  # type: ignore[arg-type]
            elif kind is ast.ClassDef:
                self.classes.append((stmt, scope))
                # A class body runs where it is defined; its methods get their own functions.
                self._walk_block(stmt.body, function, self.resolver.scope_of(stmt), region, stmt)
            elif kind is ast.With or kind is ast.AsyncWith:
                if any(_expects_error(item.context_expr) for item in stmt.items):
                    self.expected_error_lines.append((stmt.lineno, stmt.end_lineno or stmt.lineno))
                inner = self._with_region(stmt, scope, region)
                after_body = self._walk_block(stmt.body, function, scope, inner, class_node)
                # Not a grad guard: a set_grad_enabled statement inside leaks out, a guard entered on
                # an ExitStack (`stack.enter_context(torch.no_grad())`) ends with the block.
                if inner is region and id(after_body) not in self._entered_regions:
                    region = after_body
            elif kind is ast.Expr:
                region = self._statement_region(stmt, scope, region)  # type: ignore[arg-type]
            elif kind is ast.If:
                region = self._walk_if(stmt, function, scope, region, class_node)
            else:
                region = self._walk_children(stmt, function, scope, region, class_node)
        self._unreachable = outer_unreachable
        return region

    def _register(
        self, stmt: ast.stmt, function: FunctionInfo, scope: Scope, region: Optional[Region]
    ) -> Optional[Region]:
        """Record the statement; returns the region a call in it leaves behind, if any."""
        info = StatementInfo(stmt, function, scope, region, unreachable=self._unreachable)
        self.statements.append(info)
        self.statement_info[id(stmt)] = info
        self._statements_by_function[id(function)].append(info)
        if not self._leaking_calls:  # the common case: one walk, nothing left behind by a call
            self._scan_expressions(stmt, info, scope)
            return None
        first_call = len(self.calls)
        self._scan_expressions(stmt, info, scope)
        for site in self.calls[first_call:]:
            leaked = self._leaking_calls.get(id(site.node))
            if leaked is not None:
                return leaked
        return None

    def _walk_if(
        self,
        stmt: ast.If,
        function: FunctionInfo,
        scope: Scope,
        region: Optional[Region],
        class_node: Optional[ast.ClassDef],
    ) -> Optional[Region]:
        """An if/elif chain as a loop (a recursive walk overflows on long chains), combining the
        regions innermost first, exactly as walking each nested `If` would."""
        chain = elif_chain(stmt)
        body_ends = []
        for index, branch in enumerate(chain):
            if index:
                self._register(branch, function, scope, region)
            body_ends.append(self._walk_block(branch.body, function, scope, region, class_node))
        last = chain[-1]
        after = self._walk_block(last.orelse, function, scope, region, class_node) if last.orelse else region
        for branch, body_end in zip(reversed(chain), reversed(body_ends)):
            # Every branch but the last has the next `If` as its orelse; the last may have none.
            after = self._merge_ends(branch, [body_end, after] if branch.orelse else [body_end], region)
        return after

    def _walk_children(
        self,
        stmt: ast.stmt,
        function: FunctionInfo,
        scope: Scope,
        region: Optional[Region],
        class_node: Optional[ast.ClassDef],
    ) -> Optional[Region]:
        blocks: List[List[ast.stmt]] = []
        for name in _BLOCK_FIELDS:
            block = getattr(stmt, name, None)
            if block:
                blocks.append(block)
        blocks.extend(handler.body for handler in getattr(stmt, "handlers", ()))
        blocks.extend(case.body for case in getattr(stmt, "cases", ()))
        if not blocks:
            return region
        ends = [self._walk_block(block, function, scope, region, class_node) for block in blocks]
        return self._merge_ends(stmt, ends, region)

    @staticmethod
    def _merge_ends(stmt: ast.stmt, ends: List[Optional[Region]], region: Optional[Region]) -> Optional[Region]:
        """The region after a compound statement whose blocks end in `ends`."""
        if all(end is region for end in ends):
            return region
        first = ends[0]
        if all(end == first for end in ends) and not isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
            if isinstance(stmt, ast.If) and not stmt.orelse:
                pass  # one branch may not run
            else:
                return first
        return Region(GradMode.UNKNOWN, RegionKind.STATEMENT, "torch.set_grad_enabled(...)", stmt.lineno)

    def _walk_function(
        self, node: FunctionNode, parent: FunctionInfo, scope: Scope, class_node: Optional[ast.ClassDef]
    ) -> None:
        info = FunctionInfo(
            node=node,
            name=node.name,
            scope=self.resolver.scope_of(node),
            class_node=class_node,
            parent=parent,
            decorator_region=self._decorator_region(node, scope),
        )
        self.functions.append(info)
        self._statements_by_function[id(info)] = []
        if class_node is not None:
            self.class_of_function[id(node)] = class_node
        info.exit_region = self._walk_block(node.body, info, info.scope, None, None)

    # -- regions --------------------------------------------------------------------------------
    def _note_guard_variable(self, stmt: ast.Assign, scope: Scope) -> None:
        """`context = nullcontext if with_grad else torch.no_grad` (or `= torch.no_grad`): a name
        the function's `with context():` enters. Its first such assignment counts."""
        if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
            return
        key = (id(scope), stmt.targets[0].id)
        effect = guard_effect(stmt.value, self._qualname_in(scope), self.config)
        if effect is not None and key not in self._guard_variables:
            self._guard_variables[key] = effect

    def _guard_variable(self, expr: ast.expr, scope: Scope) -> Optional[GuardEffect]:
        target = expr.func if isinstance(expr, ast.Call) and not expr.args and not expr.keywords else expr
        if not isinstance(target, ast.Name) or not self._guard_variables:
            return None
        return self._guard_variables.get((id(scope), target.id))

    def _with_region(
        self, stmt: Union[ast.With, ast.AsyncWith], scope: Scope, region: Optional[Region]
    ) -> Optional[Region]:
        qualname = self._qualname_in(scope)
        for item in stmt.items:  # later items apply inside earlier ones
            effect = (
                guard_effect(item.context_expr, qualname, self.config)
                or self._guard_variable(item.context_expr, scope)
                or self._imported_guard(item.context_expr, scope)
                or self._project_context(item.context_expr, scope)
            )
            if effect is not None:
                region = _entered(region, effect, RegionKind.WITH, item.context_expr.lineno)
        return region

    def _imported_guard(self, expr: ast.expr, scope: Scope, decorator: bool = False) -> Optional[GuardEffect]:
        """A decorator or context manager imported from another module of the project that the
        project index knows switches grad off (`@evaluation_mode`, `with frozen(net):`)."""
        if self._project_guard is None:
            return None
        target = expr.func if isinstance(expr, ast.Call) else expr
        qualname = self.resolver.qualname(target, scope)
        if qualname is None:
            return None
        found = self._project_guard(qualname)
        if found is None:
            return None
        label = ("@" if decorator else "") + short_source(expr, 60)
        return GuardEffect(found.mode, label, inference=found.inference, switches_inference=found.switches_inference)

    def guard_definition(self, function: FunctionInfo) -> Optional[GuardEffect]:
        """What `function` is as a guard other modules may import: a `@contextmanager` that yields
        under no_grad, or a decorator whose wrapper runs the decorated function under no_grad."""
        if function.parent is None or not function.parent.is_module or function.class_node is not None:
            return None
        context = self._context_guards.get(function.name)
        if context is not None:
            return context
        parameters = positional_parameters(function)
        if not parameters:
            return None
        wrapped = parameters[0]
        returned = {
            stmt.value.id  # type: ignore[attr-defined]
            for stmt in ast.walk(function.node)
            if isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Name)
        }
        for inner in self.functions:
            if inner.parent is not function or inner.name not in returned:
                continue
            region = inner.decorator_region
            if region is not None and region.mode is not GradMode.ON:
                return GuardEffect(region.mode, function.name, inference=region.inference, switches_inference=region.inference)
            for site in self.calls_of(inner):
                func = site.node.func
                local = site.statement.local
                if isinstance(func, ast.Name) and func.id == wrapped and local is not None and local.mode is GradMode.OFF:
                    return GuardEffect(GradMode.OFF, function.name, inference=local.inference, switches_inference=local.inference)
        return None

    def _project_context(self, expr: ast.expr, scope: Scope) -> Optional[GuardEffect]:
        """A project's own context manager: one of this module's `@contextmanager` guards, or
        one imported from elsewhere and handed a model, whose grad mode inside is unknown."""
        if not isinstance(expr, ast.Call):
            return None
        func = expr.func
        if isinstance(func, ast.Name) and func.id in self._context_guards and self.resolver.qualname(func, scope) is None:
            effect = self._context_guards[func.id]
            if effect.mode is GradMode.UNKNOWN and (expr.args or expr.keywords):
                return self._bound_context(self._context_definitions[func.id], expr, offset=0)
            return effect
        method = self._own_context_method(func, scope)
        if method is not None:
            return self._bound_context(method, expr, offset=1)  # `self` is bound implicitly
        if unresolved_context_manager(expr, self._qualname_in(scope), _names_a_module):
            return GuardEffect(GradMode.UNKNOWN, short_source(expr, 60))
        return None

    def _bound_context(self, node: ast.AST, call: ast.Call, offset: int) -> Optional[GuardEffect]:
        """What the `@contextmanager` `node` does to grad mode when `call` enters it."""
        parameters = [a.arg for a in (*node.args.posonlyargs, *node.args.args)]  # type: ignore[attr-defined]
        keywords = set(parameters) | {a.arg for a in node.args.kwonlyargs}  # type: ignore[attr-defined]
        constants = {
            name: argument for name, argument in bound_arguments(call, parameters, offset, keywords)
            if isinstance(argument, ast.Constant)
        }
        return bound_contextmanager_guard(node, constants, self._qualname_in(self.resolver.scope_of(node)), self.config)

    def _own_context_method(self, func: ast.expr, scope: Scope) -> Optional[ast.AST]:
        """`self._set_training_mode` in a method of the class that defines it as a `@contextmanager`."""
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self"):
            return None
        if not self._context_methods:
            return None
        owner = scope.parent
        while owner is not None and not owner.is_class:
            owner = owner.parent
        if owner is None:
            return None
        return self._context_methods.get((owner.node.name, func.attr))  # type: ignore[union-attr]

    def _statement_region(
        self, stmt: ast.Expr, scope: Scope, region: Optional[Region]
    ) -> Optional[Region]:
        call = stmt.value
        if not isinstance(call, ast.Call):
            return region
        func = call.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "__enter__"
            and isinstance(func.value, ast.Call)
            and self.resolver.qualname(func.value.func, scope) in ("torch.no_grad", "torch.enable_grad")
        ):
            # `torch.no_grad().__enter__()` sets the thread's grad mode, and nothing resets it.
            effect = guard_effect(func.value, self._qualname_in(scope), self.config)
            assert effect is not None
            entered = GuardEffect(effect.mode, short_source(call, 60), effect.inference, effect.switches_inference)
            return _entered(region, entered, RegionKind.STATEMENT, stmt.lineno)
        if isinstance(func, ast.Attribute) and func.attr == "enter_context" and len(call.args) == 1:
            effect = guard_effect(call.args[0], self._qualname_in(scope), self.config)
            if effect is None:
                return region
            entered = _entered(region, effect, RegionKind.WITH, stmt.lineno)
            if entered is not region:
                self._entered_regions.add(id(entered))
            return entered
        if self.resolver.qualname(func, scope) != "torch.set_grad_enabled":
            return region
        effect = guard_effect(call, self._qualname_in(scope), self.config)
        assert effect is not None
        return _entered(region, effect, RegionKind.STATEMENT, stmt.lineno)

    def _decorator_region(self, node: FunctionNode, scope: Scope) -> Optional[Region]:
        qualname = self._qualname_in(scope)
        # The decorator nearest to `def` sets the mode last, so it wins: scan bottom-up.
        for decorator in reversed(node.decorator_list):
            effect = guard_effect(decorator, qualname, self.config, decorator=True) or self._imported_guard(
                decorator, scope, decorator=True
            )
            if effect is not None:
                return Region(
                    effect.mode, RegionKind.DECORATOR, effect.label, decorator.lineno, effect.inference, node.name
                )
        return None

    def _qualname_in(self, scope: Scope):
        return lambda expr: self.resolver.qualname(expr, scope)

    # -- expressions ----------------------------------------------------------------------------
    def _scan_expressions(self, stmt: ast.stmt, info: StatementInfo, scope: Scope) -> None:
        """Record Name loads, calls and references in the statement's own expressions."""
        stack: List[ast.AST] = _own_expressions(stmt)
        names = info.names
        while stack:
            node = stack.pop()
            node_type = type(node)
            # The commonest nodes first; each test decides what (if anything) can hold more.
            if node_type is ast.Name:
                if type(node.ctx) is ast.Load:  # type: ignore[attr-defined]
                    names.append(node)  # type: ignore[arg-type]
                continue
            if node_type is ast.Attribute:
                # Down the chain at once (`self.net.fc`): the node the next pop would take anyway.
                node = node.value  # type: ignore[attr-defined]
                while type(node) is ast.Attribute:
                    node = node.value  # type: ignore[attr-defined]
                if type(node) is ast.Name:
                    if type(node.ctx) is ast.Load:  # type: ignore[attr-defined]
                        names.append(node)  # type: ignore[arg-type]
                else:
                    stack.append(node)
                continue
            if node_type is ast.Call:
                self._record_call(node, info, scope)  # type: ignore[arg-type]
                stack.append(node.func)  # type: ignore[attr-defined]
                # A plain name argument is recorded at once instead of pushed: only the order of
                # `names` changes (every reader treats it as a set), not the order of the calls.
                for arg in node.args:  # type: ignore[attr-defined]
                    if type(arg) is ast.Name:
                        if type(arg.ctx) is ast.Load:  # type: ignore[attr-defined]
                            names.append(arg)  # type: ignore[arg-type]
                    else:
                        stack.append(arg)
                for keyword in node.keywords:  # type: ignore[attr-defined]
                    value = keyword.value
                    if type(value) is ast.Name:
                        if type(value.ctx) is ast.Load:  # type: ignore[attr-defined]
                            names.append(value)  # type: ignore[arg-type]
                    else:
                        stack.append(value)
                continue
            if node_type is ast.Constant or node_type in _LEAF_TYPES:
                continue  # None or a plain value inside a list field (Dict keys, Global names)
            if node_type is ast.NamedExpr:
                info.has_walrus = True
            elif node_type is ast.Yield or node_type is ast.YieldFrom:
                info.function.is_generator = True
            # ast.iter_child_nodes, inlined: this loop is the hottest code of the check path.
            fields = _CHILD_FIELDS.get(node_type)
            if fields is None:
                fields = _CHILD_FIELDS[node_type] = tuple(f for f in node_type._fields if f not in _LEAF_FIELDS)
            for field_name in fields:
                child = getattr(node, field_name, None)
                child_type = type(child)
                if child_type is list:
                    stack.extend(child)
                elif child_type not in _LEAF_TYPES:
                    stack.append(child)
        stmt_type = type(stmt)
        if stmt_type is not ast.Assign and stmt_type is not ast.AnnAssign:
            return
        if type(stmt.value) is ast.Call:  # type: ignore[attr-defined]
            callee = self.call_info[id(stmt.value)].qualname
            func = stmt.value.func
            local_class = func.id if type(func) is ast.Name and callee is None else None  # type: ignore[attr-defined]
            if local_class is None and callee is None:
                local_class = _constructed_then_moved(stmt.value)  # type: ignore[attr-defined]
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            given_objects = _given_objects(stmt.value)  # type: ignore[arg-type]
            for target in targets:
                key = dotted_name(target)
                if key and given_objects:
                    self.built_from_objects.add(key)
                if key and callee:
                    self.assigned_from.setdefault(key, set()).add(callee)
                elif key and local_class:
                    self.constructed_from.setdefault(key, set()).add(local_class)
                elif key:
                    self.assigned_otherwise.add(key)
        elif stmt.value is not None:  # type: ignore[attr-defined]
            for target in stmt.targets if stmt_type is ast.Assign else [stmt.target]:  # type: ignore[attr-defined]
                if type(target) is ast.Attribute:  # attribute kinds are decided per key (`self.x`)
                    key = dotted_name(target)
                    if key:
                        self.assigned_otherwise.add(key)

    def _record_call(self, call: ast.Call, info: StatementInfo, scope: Scope) -> None:
        func = call.func
        func_type = type(func)
        qualname = self.resolver.qualname(func, scope)
        site = CallSite(call, info, qualname, func.attr if func_type is ast.Attribute else None)  # type: ignore[attr-defined]
        self.calls.append(site)
        self.call_info[id(call)] = site
        local_functions = self.resolver.function_names
        if qualname is None:
            if func_type is ast.Name:
                if func.id in local_functions:  # type: ignore[attr-defined]
                    self.references.append(Reference(func.id, False, info, None, call))  # type: ignore[attr-defined]
            elif func_type is ast.Attribute:
                if func.attr in local_functions:  # type: ignore[attr-defined]
                    self.references.append(Reference(func.attr, True, info, func.value, call))  # type: ignore[attr-defined]
                if func.attr in MODEL_METHODS:  # type: ignore[attr-defined]
                    receiver = dotted_name(func.value)  # type: ignore[attr-defined]
                    if receiver:
                        self.receivers_by_method.setdefault(func.attr, set()).add(receiver)  # type: ignore[attr-defined]
            # `obj(x)` / `self(x)` / `self.encoder(x)` runs `forward` when the object is an instance of
            # a local module class (resolve.py decides); a method call `x.view(...)` is no such call.
            if "forward" in local_functions and (
                (func_type is ast.Name and (func.id in ("self", "cls") or func.id in self.constructed_from  # type: ignore[attr-defined]
                                            or func.id in _parameter_names(info.function)))  # type: ignore[attr-defined]
                or (func_type is ast.Attribute and type(func.value) is ast.Name and func.value.id in ("self", "cls"))  # type: ignore[attr-defined]
                or (func_type is ast.Attribute and self.constructed_from and dotted_name(func) in self.constructed_from)
            ):
                self.references.append(Reference("forward", True, info, func, call))
        # Local functions passed as arguments (callbacks) are called from somewhere unknown. A
        # module without functions has none to pass: its calls skip the scan of their arguments.
        if not local_functions:
            return
        for arg in call.args:
            if type(arg) in _CALLBACK_FORMS:
                self._record_callback(arg, info, local_functions, call)
        for keyword in call.keywords:
            if type(keyword.value) in _CALLBACK_FORMS:
                self._record_callback(keyword.value, info, local_functions, call)

    def _record_callback(self, arg: ast.expr, info: StatementInfo, local_functions: Set[str], call: ast.Call) -> None:
        arg_type = type(arg)
        if arg_type is ast.Name:
            if arg.id in local_functions:  # type: ignore[attr-defined]
                self.references.append(Reference(arg.id, False, info, passed_to=call))  # type: ignore[attr-defined]
        elif arg_type is ast.Attribute and arg.attr in local_functions and dotted_name(arg.value) in ("self", "cls"):  # type: ignore[attr-defined]
            self.references.append(Reference(arg.attr, True, info, arg.value, passed_to=call))  # type: ignore[attr-defined]


_CALLBACK_FORMS = frozenset((ast.Name, ast.Attribute))
# Methods only a model (an nn.Module) has: their receivers are recorded as models.
MODEL_METHODS = frozenset(("eval", "train", "parameters", "named_parameters", "zero_grad"))
# Field values that are never nodes to visit: identifiers, constants, and the Load/Store contexts.
_LEAF_TYPES = frozenset(
    (type(None), str, int, float, complex, bool, bytes, ast.Load, ast.Store, ast.Del)
    # Operator nodes (`+`, `==`, `not`, `and`) hold nothing: skipping them saves a push and a
    # pop for every operation in every expression.
    + tuple(
        operator
        for family in (ast.operator, ast.cmpop, ast.unaryop, ast.boolop)
        for operator in family.__subclasses__()
    )
)
# Node fields that only ever hold identifiers, flags, operators or contexts (never a node with
# names or calls in it): skipped without reading them. Fields in the same order as `_fields`, so
# names and calls are recorded in the same order as a full walk records them.
_LEAF_FIELDS = frozenset(
    ("ctx", "op", "ops", "id", "attr", "arg", "conversion", "is_async", "kind", "type_comment", "simple",
     "level", "module", "name", "asname", "names", "rest", "kwd_attrs", "tag")
)
_CHILD_FIELDS: Dict[type, Tuple[str, ...]] = {}  # per node type, filled on first sight
_EXPECT_ERROR_CALLS = frozenset(("raises", "assertRaises", "assertRaisesRegex", "assertRaisesRegexp"))


def _entered(region: Optional[Region], effect: GuardEffect, kind: RegionKind, line: int) -> Optional[Region]:
    """The region inside a guard entered where `region` applies (None: the function's own mode).

    Only inference_mode can leave inference mode: inside it, `enable_grad()`, `no_grad()` or
    `set_grad_enabled(...)` change nothing, so the enclosing region stays. Written where the
    function's own mode applies, such a guard yields to it when that mode is inference mode.
    """
    if effect.switches_inference:
        return Region(effect.mode, kind, effect.label, line, effect.inference)
    if region is not None and region.inference:
        return region
    yields = region is None or region.yields_to_inference
    return Region(effect.mode, kind, effect.label, line, effect.inference, yields_to_inference=yields)


def function_key(function: FunctionInfo) -> Optional[str]:
    """How other modules name a function: "f", "Class.m", "outer.<locals>.inner"; None for the module."""
    if function.is_module:
        return None
    parent = function.parent
    if function.class_node is not None:
        own = f"{function.class_node.name}.{function.name}"
    else:
        own = function.name
    if parent is None or parent.is_module:
        return own
    outer = function_key(parent)
    return f"{outer}.<locals>.{own}" if outer is not None else None


def positional_parameters(function: FunctionInfo) -> List[str]:
    """The names of a function's positional parameters, `self` included (none for the module)."""
    node = function.node
    if isinstance(node, ast.Module):
        return []
    return [a.arg for a in node.args.posonlyargs + node.args.args]


def assigned_targets(stmt: ast.stmt) -> List[ast.expr]:
    """The targets an assignment statement stores into (a tuple target as one expression)."""
    if isinstance(stmt, ast.Assign):
        return list(stmt.targets)
    if isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        return [stmt.target]
    return []


def _parameter_names(function: FunctionInfo) -> Set[str]:
    """The names of a function's parameters (none for the module)."""
    names = function.parameter_names
    if names is None:
        node = function.node
        args = node.args if not isinstance(node, ast.Module) else None
        names = set() if args is None else {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        function.parameter_names = names
    return names


# nn.Module methods that return the module itself: `Net().to(device).eval()` is still a `Net`.
_MODULE_RETURNING_METHODS = frozenset(
    ("to", "cuda", "cpu", "eval", "train", "float", "double", "half", "bfloat16", "requires_grad_", "share_memory")
)


def _constructed_then_moved(call: ast.Call) -> Optional[str]:
    """'Net' for `Net(...).to(device)` / `Net().cuda().eval()`: the class whose instance it is."""
    func = call.func
    moved = False
    while type(func) is ast.Attribute and func.attr in _MODULE_RETURNING_METHODS and type(func.value) is ast.Call:  # type: ignore[attr-defined]
        call = func.value  # type: ignore[attr-defined]
        func = call.func
        moved = True
    return func.id if moved and type(func) is ast.Name else None  # type: ignore[attr-defined]


def _expects_error(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Call) and last_identifier(expr.func) in _EXPECT_ERROR_CALLS


def is_super_call(expr: ast.expr) -> bool:
    """`super()` (the receiver of `super().m(...)`)."""
    return isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "super"


def is_own_object(expr: ast.expr) -> bool:
    """`self` or `super()`: a receiver whose class is the caller's own."""
    return (isinstance(expr, ast.Name) and expr.id == "self") or is_super_call(expr)


def is_static_method(node: ast.AST) -> bool:
    """`@staticmethod`: nothing is bound before the call's own arguments (a classmethod binds `cls`)."""
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in getattr(node, "decorator_list", []))


def implicit_arguments(callee: FunctionInfo, func: ast.expr) -> int:
    """How many parameters a call through `func` binds before its own arguments: 1 (`self`) for
    a method called on an object (`obj.m(x)`), 0 for a static method or a plain call."""
    return 1 if callee.is_method and isinstance(func, ast.Attribute) and not is_static_method(callee.node) else 0


def _spans(node: ast.AST, stmt: ast.stmt) -> bool:
    return node.lineno <= stmt.lineno <= (node.end_lineno or node.lineno)  # type: ignore[attr-defined]


def enclosing_statements(function: FunctionInfo, stmt: ast.stmt) -> Iterator[ast.stmt]:
    """The statements of `function` whose lines hold `stmt` (the `if`, `for`, `with` around it),
    outermost first; not `stmt` itself, nor nested functions and classes."""
    stack: List[ast.AST] = list(reversed(function.node.body))  # type: ignore[union-attr]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if not isinstance(node, ast.stmt) or node is stmt or not _spans(node, stmt):
            continue
        yield node
        stack.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt))


def in_training_branch(function: FunctionInfo, stmt: ast.stmt) -> bool:
    """Is `stmt` in the body of an `if <module>.training:` of its function? Such code runs only
    while the module is in training mode, never after `.eval()`."""
    return any(
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Attribute)
        and node.test.attr == "training"
        and any(_spans(child, stmt) for child in node.body)
        for node in enclosing_statements(function, stmt)
    )


def branch_parameters(function: FunctionInfo, stmt: ast.stmt) -> Set[str]:
    """The function's parameters that the tests of the `if`/`while` statements around `stmt`
    read (`train` in `if train: loss.backward()`)."""
    parameters = set(positional_parameters(function))
    return {
        name.id
        for node in enclosing_statements(function, stmt)
        if isinstance(node, (ast.If, ast.While))
        for name in ast.walk(node.test)
        if isinstance(name, ast.Name) and name.id in parameters
    }


def bound_arguments(
    call: ast.Call, parameters: List[str], offset: int = 0, keywords: Optional[Set[str]] = None
) -> List[Tuple[str, ast.expr]]:
    """(parameter, argument) for what a call binds by position (after `offset` implicit ones such
    as `self`, up to a `*args`) and by a keyword naming one of `keywords` (default: `parameters`)."""
    pairs: List[Tuple[str, ast.expr]] = []
    for index, argument in enumerate(call.args):
        if isinstance(argument, ast.Starred):
            break
        if index + offset < len(parameters):
            pairs.append((parameters[index + offset], argument))
    names = set(parameters) if keywords is None else keywords
    pairs.extend((kw.arg, kw.value) for kw in call.keywords if kw.arg is not None and kw.arg in names)
    return pairs


def flatten_target(target: ast.expr) -> Iterator[ast.expr]:
    """The single targets of an assignment target: `(a, (b, *c))` -> a, b, c."""
    if isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from flatten_target(element)
    elif isinstance(target, ast.Starred):
        yield from flatten_target(target.value)
    else:
        yield target


def _given_objects(call: ast.Call) -> bool:
    """Does a call get an argument other than a constant (`Loss(critic)`, not `Loss(bins=12)`)?"""
    for arg in list(call.args) + [keyword.value for keyword in call.keywords]:
        if isinstance(arg, ast.UnaryOp):
            arg = arg.operand
        if not isinstance(arg, ast.Constant):
            return True
    return False


def dotted_key(expr: ast.AST) -> Optional[str]:
    """'self.model' for `self.model`, 'net' for `net`: how flow-insensitive facts key objects."""
    return dotted_name(expr)  # type: ignore[arg-type]

# Statements with no nested block and no effect on grad mode: nothing to walk after registering.
_SIMPLE_STATEMENTS = frozenset(
    (
        ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Raise, ast.Assert, ast.Delete, ast.Pass,
        ast.Break, ast.Continue, ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal,
    )
)
_NESTED_BLOCK_FIELDS = frozenset(("body", "orelse", "finalbody", "handlers", "cases"))
_EXPRESSION_FIELDS: Dict[type, Tuple[str, ...]] = {}  # per statement type, filled on first sight


def _own_expressions(stmt: ast.stmt) -> List[ast.AST]:
    """Expressions that belong to this statement, not to its nested blocks (may hold None)."""
    kind = type(stmt)
    if kind is ast.Expr:  # the commonest statements, without the loop over their fields
        return [stmt.value]  # type: ignore[attr-defined]
    if kind is ast.Assign:
        exprs = list(stmt.targets)  # type: ignore[attr-defined]
        exprs.append(stmt.value)  # type: ignore[attr-defined]
        return exprs  # its type_comment, a string, is nothing to scan
    if kind is ast.FunctionDef or kind is ast.AsyncFunctionDef:
        exprs: List[ast.AST] = list(stmt.decorator_list)  # type: ignore[attr-defined]
        exprs.extend(stmt.args.defaults)  # type: ignore[attr-defined]
        exprs.extend(stmt.args.kw_defaults)  # type: ignore[attr-defined]
        return exprs
    if kind is ast.ClassDef:
        return list(stmt.decorator_list) + list(stmt.bases) + [kw.value for kw in stmt.keywords]  # type: ignore[attr-defined]
    fields = _EXPRESSION_FIELDS.get(kind)
    if fields is None:
        fields = _EXPRESSION_FIELDS[kind] = tuple(f for f in kind._fields if f not in _NESTED_BLOCK_FIELDS)
    exprs = []
    for field_name in fields:
        value = getattr(stmt, field_name, None)
        if type(value) is list:
            exprs.extend(value)
        elif value is not None:
            exprs.append(value)
    for case in getattr(stmt, "cases", ()):
        if case.guard is not None:
            exprs.append(case.guard)
    return exprs


def _names_a_module(expr: ast.expr) -> bool:
    """`model`, `self.net`, `nets`: an argument named like a model (the walk has no values yet)."""
    from .values import _MODEL_NAME  # lazily: values.py builds on this module

    name = last_identifier(expr)
    return name is not None and bool(_MODEL_NAME.search(name))
