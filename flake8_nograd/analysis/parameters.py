"""Parameter-ness: which values are parameters (or other grad-requiring leaves), and where the module
updates them in place.

Two halves:

- `ParameterSources` is consulted by the value flow (values.py). It tags loop targets over
  `model.parameters()`, `named_parameters()`, `group["params"]` of `param_groups`, `zip(...)` of
  those, and names bound to such collections, with value tags. Modules frozen in this module
  (`ema.requires_grad_(False)`, or a loop setting `requires_grad = False` / `detach_()` over their
  parameters, as EMA helpers do) yield no parameters: in-place updates of them are legal.
- `find_parameter_updates` lists every in-place update (augmented assignment, in-place method, item
  assignment) whose target is known to be a parameter or a grad-requiring leaf. Rules decide from
  the grad mode at each update whether it is a mistake.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Set, Union

from .structure import CallSite, FunctionInfo, StatementInfo, StructureWalker, dotted_key

# Value tags (ValueState.tags). "parameter" is also what values.py gives `nn.Parameter(...)`.
PARAMETER = "parameter"  # an nn.Parameter of a module that is not frozen
LEAF = "requires_grad_leaf"  # torch.zeros(..., requires_grad=True), x.requires_grad_()
PARAMETERS = "parameters"  # a collection of parameters: model.parameters(), list(...), group["params"]
PARAM_GROUPS = "param_groups"  # optimizer.param_groups
PARAM_GROUP = "param_group"  # one element of param_groups: a dict whose "params" are parameters
MODULE = "module"  # an element of model.modules() / children()
GRAD_REQUIRING = frozenset((PARAMETER, LEAF))

# In-place tensor methods that change a tensor's values (or its shape): on a leaf that requires grad
# they raise with grad enabled. Not requires_grad_/detach_/retain_grad/share_memory_: they change
# flags, not values.
INPLACE_METHODS = frozenset(
    (
        "add_ sub_ mul_ div_ true_divide_ floor_divide_ remainder_ fmod_ pow_ neg_ abs_ sqrt_ rsqrt_ "
        "exp_ log_ log1p_ sigmoid_ tanh_ relu_ sign_ round_ floor_ ceil_ trunc_ reciprocal_ square_ "
        "copy_ fill_ zero_ clamp_ clamp_min_ clamp_max_ clip_ lerp_ addcmul_ addcdiv_ addmm_ addmv_ "
        "addr_ baddbmm_ normal_ uniform_ random_ bernoulli_ exponential_ cauchy_ log_normal_ "
        "geometric_ masked_fill_ masked_scatter_ index_fill_ index_add_ index_copy_ index_put_ "
        "scatter_ scatter_add_ scatter_reduce_ fill_diagonal_ put_ maximum_ minimum_ nan_to_num_ "
        "set_ resize_ t_ transpose_ squeeze_ unsqueeze_ swapaxes_ renorm_ hardtanh_ sub_ xlogy_"
    ).split()
)
_MODULE_ATTRIBUTES = ("weight", "bias")
_PARAMETER_METHODS = ("parameters",)
_NAMED_PARAMETER_METHODS = ("named_parameters",)
_MODULE_METHODS = ("modules", "children")
_NAMED_MODULE_METHODS = ("named_modules", "named_children")
_ITERATION_METHODS = frozenset(_PARAMETER_METHODS + _NAMED_PARAMETER_METHODS + _MODULE_METHODS + _NAMED_MODULE_METHODS)
_PASS_THROUGH_BUILTINS = ("list", "tuple", "reversed", "iter", "sorted", "set")

Tags = Optional[Union[str, tuple]]  # a tag for one element, or a tuple of them for zip/enumerate
StateLookup = Callable[[ast.Name], frozenset]


class ParameterSources:
    """Which expressions are parameter collections, and what loop targets over them are."""

    def __init__(self, walker: StructureWalker) -> None:
        self._walker = walker
        self._frozen: Optional[Set[str]] = None  # found on first use: most modules never ask

    def is_frozen(self, key: Optional[str], through_self: bool = True) -> bool:
        """Is `key` ('self.ema', 'ema.fc') a module frozen in this module, or part of one?

        `through_self=False`: `self.requires_grad_(False)` in one class does not freeze another
        class's `self.decoder`."""
        return self.frozen_owner(key, through_self) is not None

    def has_frozen_part(self, key: str) -> bool:
        """Is a part of `key` frozen here (`model.backbone.requires_grad_(False)` for 'model')?"""
        if self._frozen is None:
            self._frozen = _frozen_modules(self._walker)
        prefix = key + "."
        return any(frozen.startswith(prefix) for frozen in self._frozen)

    def frozen_owner(self, key: Optional[str], through_self: bool = True) -> Optional[str]:
        """The frozen module `key` is or belongs to ('self.ema' for 'self.ema.fc'), if any."""
        if self._frozen is None:
            self._frozen = _frozen_modules(self._walker)
        while key:
            if key in self._frozen and (through_self or key not in ("self", "cls")):
                return key
            key = key.rpartition(".")[0]
        return None

    # -- collections ----------------------------------------------------------------------------
    def collection_tag(self, expr: ast.expr, tags_of: StateLookup) -> Optional[str]:
        """PARAMETERS / PARAM_GROUPS when `expr` is such a collection (for name bindings)."""
        element = self.element_tag(expr, tags_of)
        if element == PARAMETER:
            return PARAMETERS
        if element == PARAM_GROUP:
            return PARAM_GROUPS
        return None

    def element_tag(self, iterable: ast.expr, tags_of: StateLookup) -> Tags:
        """The tag(s) of what iterating `iterable` yields."""
        if isinstance(iterable, ast.Name):
            tags = tags_of(iterable)
            if PARAMETERS in tags:
                return PARAMETER
            if PARAM_GROUPS in tags:
                return PARAM_GROUP
            return None
        if isinstance(iterable, ast.Attribute):
            if iterable.attr == "param_groups":
                return PARAM_GROUP
            return None
        if isinstance(iterable, ast.Subscript):
            # group["params"] where group is one of param_groups
            key = iterable.slice
            if isinstance(key, ast.Constant) and key.value == "params" and isinstance(iterable.value, ast.Name):
                return PARAMETER if PARAM_GROUP in tags_of(iterable.value) else None
            return None
        if isinstance(iterable, (ast.ListComp, ast.GeneratorExp)) and len(iterable.generators) == 1:
            generator = iterable.generators[0]
            element = self.element_tag(generator.iter, tags_of)
            if element == PARAMETER and _same_name(iterable.elt, generator.target):
                return PARAMETER
            return None
        if not isinstance(iterable, ast.Call):
            return None
        func = iterable.func
        if isinstance(func, ast.Attribute):
            if func.attr in _ITERATION_METHODS:
                if self.is_frozen(dotted_key(func.value)) or _is_call_chain_freezing(func.value):
                    return None
                if func.attr in _PARAMETER_METHODS:
                    return PARAMETER
                if func.attr in _NAMED_PARAMETER_METHODS:
                    return (None, PARAMETER)
                if func.attr in _MODULE_METHODS:
                    return MODULE
                return (None, MODULE)
            return None
        if isinstance(func, ast.Name) and not iterable.keywords:
            args = iterable.args
            if func.id == "zip" and args and not any(isinstance(a, ast.Starred) for a in args):
                return tuple(_single(self.element_tag(arg, tags_of)) for arg in args)
            if func.id == "enumerate" and args:
                return (None, _single(self.element_tag(args[0], tags_of)))
            if func.id in _PASS_THROUGH_BUILTINS and len(args) == 1:
                return self.element_tag(args[0], tags_of)
            if func.id == "filter" and len(args) == 2:
                return self.element_tag(args[1], tags_of)
        return None

    def loop_target_tags(self, target: ast.expr, iterable: ast.expr, tags_of: StateLookup) -> Dict[str, str]:
        """{name: tag} for the names a `for` target binds to parameters, param groups or modules."""
        bound: Dict[str, str] = {}
        _bind_tags(target, self.element_tag(iterable, tags_of), bound)
        return bound


def _single(tag: Tags) -> Optional[str]:
    return tag if isinstance(tag, str) else None


def _bind_tags(target: ast.expr, tag: Tags, bound: Dict[str, str]) -> None:
    if tag is None:
        return
    if isinstance(target, ast.Name) and isinstance(tag, str):
        bound[target.id] = tag
    elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(tag, tuple) and len(tag) == len(target.elts):
        for element, element_tag in zip(target.elts, tag):
            _bind_tags(element, element_tag, bound)


def _same_name(expr: ast.expr, target: ast.expr) -> bool:
    return isinstance(expr, ast.Name) and isinstance(target, ast.Name) and expr.id == target.id


# -- frozen modules (flow-insensitive) ------------------------------------------------------------
def _frozen_modules(walker: StructureWalker) -> Set[str]:
    """Dotted keys of modules whose parameters this module switches requires_grad off for."""
    frozen: Set[str] = set()
    for site in walker.calls:
        if site.method_name == "requires_grad_" and _is_false_argument(site.node):
            receiver = site.node.func.value  # type: ignore[attr-defined]
            key = dotted_key(receiver)
            if key:
                frozen.add(key)
    for statement in walker.statements:
        stmt = statement.stmt
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call) and _is_call_chain_freezing(stmt.value):
            # self.ema = deepcopy(model).eval().requires_grad_(False)
            for target in stmt.targets:
                key = dotted_key(target)
                if key:
                    frozen.add(key)
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
            # [p.requires_grad_(False) for p in ema.parameters()]
            comprehension = stmt.value
            if len(comprehension.generators) == 1 and not comprehension.generators[0].ifs:
                generator = comprehension.generators[0]
                module = _parameters_receiver(generator.iter)
                name = _loop_parameter_name(generator.target, generator.iter)
                if module and name and _freezes(ast.Expr(value=comprehension.elt), name):
                    frozen.add(module)
        if isinstance(stmt, (ast.For, ast.AsyncFor)):
            module = _parameters_receiver(stmt.iter)
            name = _loop_parameter_name(stmt.target, stmt.iter)
            if module and name and any(_freezes(body_stmt, name) for body_stmt in stmt.body):  # not under `if`
                frozen.add(module)
    return frozen


def requires_grad_argument(call: ast.Call) -> Optional[ast.expr]:
    """The flag of `nn.Parameter(data, requires_grad)` and `Variable(data, requires_grad)`: the second
    positional argument or the keyword; None when not given."""
    if len(call.args) > 1:
        return call.args[1]
    return next((kw.value for kw in call.keywords if kw.arg == "requires_grad"), None)


def frozen_parameter(call: ast.Call) -> bool:
    """`nn.Parameter(t, requires_grad=False)`: a parameter that does not require grad."""
    arg = requires_grad_argument(call)
    return isinstance(arg, ast.Constant) and arg.value is False


def imports_torch(analysis) -> bool:
    """Parameter updates matter only in PyTorch code (mxnet/jax twins of a file look the same)."""
    return any(
        qualname == "torch" or qualname.startswith("torch.") or qualname.startswith("lightning")
        for scope in analysis.resolver.scopes.values()
        for qualname in scope.imports.values()
    )


def _is_false_argument(call: ast.Call) -> bool:
    arg = call.args[0] if call.args else next((kw.value for kw in call.keywords if kw.arg == "requires_grad"), None)
    return isinstance(arg, ast.Constant) and arg.value is False


def _is_call_chain_freezing(expr: ast.expr) -> bool:
    """`deepcopy(model).eval().requires_grad_(False)`: some call in the chain freezes the result."""
    while isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        if expr.func.attr == "requires_grad_" and _is_false_argument(expr):
            return True
        expr = expr.func.value
    return False


def _parameters_receiver(iterable: ast.expr) -> Optional[str]:
    """'self.ema' for `self.ema.parameters()` / `named_parameters()` (also inside zip/enumerate)."""
    if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name) and iterable.args:
        if iterable.func.id in ("enumerate", "list", "tuple"):
            return _parameters_receiver(iterable.args[0])
        return None
    if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Attribute):
        if iterable.func.attr in _PARAMETER_METHODS + _NAMED_PARAMETER_METHODS:
            return dotted_key(iterable.func.value)
    return None


def _loop_parameter_name(target: ast.expr, iterable: ast.expr) -> Optional[str]:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Tuple) and len(target.elts) == 2 and isinstance(target.elts[1], ast.Name):
        return target.elts[1].id  # for name, p in named_parameters() / enumerate(parameters())
    return None


def _freezes(stmt: ast.stmt, name: str) -> bool:
    """`p.requires_grad_(False)`, `p.requires_grad = False`, `p.detach_()`."""
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == name:
            return func.attr == "detach_" or (func.attr == "requires_grad_" and _is_false_argument(call))
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
        return (
            isinstance(target, ast.Attribute)
            and target.attr == "requires_grad"
            and isinstance(target.value, ast.Name)
            and target.value.id == name
            and isinstance(stmt.value, ast.Constant)
            and stmt.value.value is False
        )
    return False


# -- in-place updates ------------------------------------------------------------------------------
@dataclass(eq=False)
class ParameterUpdate:
    """An in-place update whose target is a parameter or a leaf tensor that requires grad."""

    statement: StatementInfo
    node: ast.AST  # the augmented assignment, the item assignment, or the in-place call
    target: ast.expr  # what is updated, as written: `p`, `model.fc.weight[0]`
    name: str  # how messages name it
    kind: str  # PARAMETER or LEAF
    how: str  # "augmented assignment", "item assignment", or "p.add_()"-style method

    @property
    def function(self) -> FunctionInfo:
        return self.statement.function

    @property
    def line(self) -> int:
        return self.statement.stmt.lineno


def find_parameter_updates(analysis) -> List[ParameterUpdate]:  # analysis: ModuleAnalysis (no cycle)
    """Every in-place update of a known parameter or grad-requiring leaf, in statement order."""
    updates: List[ParameterUpdate] = []
    if not imports_torch(analysis):
        return updates
    finder = _UpdateFinder(analysis)
    for statement in analysis.statements:
        stmt = statement.stmt
        if isinstance(stmt, ast.AugAssign):
            update = finder.classify(statement, stmt, stmt.target, "augmented assignment", [stmt.value])
            if update is not None:
                updates.append(update)
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Subscript):
                    update = finder.classify(statement, stmt, target, "item assignment", [stmt.value])
                    if update is not None:
                        updates.append(update)
                        break
    for site in analysis.calls:
        if site.qualname is None and site.method_name in INPLACE_METHODS:
            update = finder.classify_call(site)
            if update is not None:
                updates.append(update)
        elif site.qualname is not None and site.qualname.startswith("torch."):
            # `torch.arange(n, out=self.freqs)` writes into the parameter: with grad on, torch refuses
            # an out= tensor that requires grad ("functions with out=... arguments don't support
            # automatic differentiation").
            for keyword in site.node.keywords:
                if keyword.arg == "out":
                    update = finder.classify(site.statement, site.node, keyword.value, "out= write", [])
                    if update is not None:
                        updates.append(update)
    updates.sort(key=lambda u: (u.statement.stmt.lineno, u.statement.stmt.col_offset))
    return updates


class _UpdateFinder:
    def __init__(self, analysis) -> None:
        self.analysis = analysis
        self.sources: ParameterSources = analysis.evaluator.parameters
        self._module_classes: Dict[int, bool] = {}
        # 'self.scale' for `self.scale = nn.Parameter(...)`; under "" the bare attribute names.
        self.parameter_attributes: Dict[str, Set[str]] = {"": set()}
        frozen = _frozen_parameter_attributes(analysis)
        walker = analysis.walker
        for key, callees in walker.assigned_from.items():
            if key in walker.assigned_otherwise or key in walker.constructed_from or callees != {"torch.nn.Parameter"}:
                continue  # a Parameter on one path, a dict or None on another: unknown
            if key not in frozen:
                self.parameter_attributes[key] = callees
                if key.startswith("self.") and key.count(".") == 1:
                    self.parameter_attributes[""].add(key[len("self."):])

    def classify_call(self, site: CallSite) -> Optional[ParameterUpdate]:
        func = site.node.func
        assert isinstance(func, ast.Attribute)
        values = list(site.node.args) + [kw.value for kw in site.node.keywords]
        return self.classify(site.statement, site.node, func.value, f".{func.attr}()", values)

    def classify(
        self, statement: StatementInfo, node: ast.AST, target: ast.expr, how: str, values: List[ast.expr]
    ) -> Optional[ParameterUpdate]:
        base = target
        while isinstance(base, ast.Subscript):
            base = base.value
        if isinstance(target, ast.Subscript) and how.startswith("."):
            how = "item update"
        kind = self._kind(base, statement)
        if kind is None and _reads_own_grad(base, values):
            # `w -= lr * w.grad`: only a leaf that requires grad has a .grad to step along.
            kind = LEAF
        if kind is None:
            return None
        return ParameterUpdate(statement, node, target, _describe(base), kind, how)

    def _kind(self, base: ast.expr, statement: StatementInfo) -> Optional[str]:
        if isinstance(base, ast.Name):
            tags = self.analysis.state_of(base, statement).tags
            if PARAMETER in tags:
                return PARAMETER
            if LEAF in tags:
                return LEAF
            return None
        if not isinstance(base, ast.Attribute) or base.attr in ("data", "grad"):
            return None
        key = dotted_key(_without_subscripts(base))  # model.layers[0].weight -> 'model.layers.weight'
        if key is None or self.sources.is_frozen(key) or self._switched_off_here(key, statement):
            return None
        if key in self.parameter_attributes:
            return PARAMETER  # self.scale = nn.Parameter(...)
        attribute_names = self.parameter_attributes.get("", set())
        if (base.attr in _MODULE_ATTRIBUTES or base.attr in attribute_names) and self._is_module(base.value, statement):
            return PARAMETER  # model.fc.weight, net.scale
        return None

    def _switched_off_here(self, key: str, statement: StatementInfo) -> bool:
        """`emb.weight.requires_grad = False` earlier in the function, not switched back on since:
        the write in between is to a tensor that does not require grad (legal)."""
        off = False
        for earlier in self.analysis.statements_of(statement.function):
            if earlier is statement:
                return off
            stmt = earlier.stmt
            if (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Attribute)
                and stmt.targets[0].attr == "requires_grad"
                and dotted_key(stmt.targets[0].value) == key
                and isinstance(stmt.value, ast.Constant)
            ):
                off = stmt.value.value is False
        return False

    def _is_module(self, receiver: ast.expr, statement: StatementInfo) -> bool:
        """Is `receiver` (of `.weight`) an nn.Module: a model, a submodule, a loop over modules()?"""
        evaluator = self.analysis.evaluator
        if evaluator.is_loss_module(receiver):
            return False  # CrossEntropyLoss.weight is a buffer
        root: ast.expr = receiver
        while isinstance(root, (ast.Attribute, ast.Subscript)):
            root = root.value
        if not isinstance(root, ast.Name):
            return False
        if root.id == "self":
            # self.fc.weight in an nn.Module subclass; bare self.weight is decided by assigned_from
            return receiver is not root and self._in_module_class(statement.function)
        if MODULE in self.analysis.state_of(root, statement).tags:
            return True
        callees = self.analysis.walker.assigned_from.get(dotted_key(_without_subscripts(receiver)) or "", ())
        if any(_is_module_class(callee) for callee in callees):
            return True  # conv = nn.Conv2d(...)
        return evaluator.is_model(root) or (isinstance(receiver, ast.Attribute) and evaluator.is_model(receiver))

    def _in_module_class(self, function: FunctionInfo) -> bool:
        cls = function.class_node
        if cls is None:
            return False
        cached = self._module_classes.get(id(cls))
        if cached is None:
            cached = any(_names_a_module_class(base, self.analysis, function) for base in cls.bases)
            self._module_classes[id(cls)] = cached
        return cached


def _without_subscripts(expr: ast.expr) -> ast.expr:
    """`model.layers[0].fc` as `model.layers.fc`, for keys of flow-insensitive facts."""
    if not any(isinstance(node, ast.Subscript) for node in ast.walk(expr)):
        return expr
    parts = []
    while isinstance(expr, (ast.Attribute, ast.Subscript)):
        if isinstance(expr, ast.Attribute):
            parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return expr
    rebuilt: ast.expr = ast.Name(id=expr.id, ctx=ast.Load())
    for attr in reversed(parts):
        rebuilt = ast.Attribute(value=rebuilt, attr=attr, ctx=ast.Load())
    return rebuilt


def _is_module_class(qualname: str) -> bool:
    head, _, last = qualname.rpartition(".")
    if head not in ("torch.nn", "torch.nn.modules") or not last[:1].isupper():
        return False
    return last != "Parameter" and not last.endswith("Loss")


def _frozen_parameter_attributes(analysis) -> Set[str]:
    """'self.step_count' for `self.step_count = nn.Parameter(t, requires_grad=False)`."""
    frozen: Set[str] = set()
    for site in analysis.calls:
        stmt = site.statement.stmt
        if site.qualname == "torch.nn.Parameter" and isinstance(stmt, ast.Assign) and stmt.value is site.node:
            if frozen_parameter(site.node):
                frozen.update(key for key in map(dotted_key, stmt.targets) if key)
    return frozen


def _names_a_module_class(base: ast.expr, analysis, function: FunctionInfo) -> bool:
    qualname = analysis.resolver.qualname(base, function.parent.scope if function.parent else function.scope)
    written = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
    last = (qualname or "").rpartition(".")[2] or written
    if qualname is not None and qualname.startswith("torch.nn.") and last[:1].isupper():
        return True  # nn.Module, nn.Sequential, nn.Linear, ...
    return last.endswith(("Module", "Model", "Net"))


def _reads_own_grad(base: ast.expr, values: List[ast.expr]) -> bool:
    key = dotted_key(base)
    if key is None:
        return False
    for value in values:
        for node in ast.walk(value):
            if isinstance(node, ast.Attribute) and node.attr == "grad" and dotted_key(node.value) == key:
                return True
    return False


def _describe(expr: ast.expr, limit: int = 40) -> str:
    text = expr.id if isinstance(expr, ast.Name) else ast.unparse(expr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_step_method(function: FunctionInfo, trains: bool) -> bool:
    """A `step` method that does not back-propagate itself: an optimizer's step (NG302's ground).

    Its updates are judged by how step() is called, not statement by statement.
    """
    return function.is_method and function.name == "step" and not trains
