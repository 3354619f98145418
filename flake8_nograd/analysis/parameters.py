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
from typing import Callable, Dict, List, NamedTuple, Optional, Set, Tuple, Union

from .model import UNKNOWN, GradMode
from .structure import CallSite, FunctionInfo, StatementInfo, StructureWalker, bound_arguments, dotted_key, implicit_arguments, positional_parameters

# Value tags (ValueState.tags). "parameter" is also what values.py gives `nn.Parameter(...)`.
PARAMETER = "parameter"  # an nn.Parameter of a module that is not frozen
LEAF = "requires_grad_leaf"  # torch.zeros(..., requires_grad=True), x.requires_grad_()
PARAMETERS = "parameters"  # a collection of parameters: model.parameters(), list(...), group["params"]
NAMED_PARAMETERS = "named_parameters"  # dict(model.named_parameters()): parameters by name
PARAM_GROUPS = "param_groups"  # optimizer.param_groups
PARAM_GROUP = "param_group"  # one element of param_groups: a dict whose "params" are parameters
MODULE = "module"  # an element of model.modules() / children()
GRAD_REQUIRING = frozenset((PARAMETER, LEAF))
# Beside PARAMETER/LEAF: the value is a view of that tensor, not the tensor itself (its strides are
# unknown, so a reshape of it may copy).
VIEW = "view_of_leaf"

# Tensor methods and attributes that return a view sharing the receiver's storage: an in-place
# write to a view of a leaf that requires grad raises with grad on ("a view of a leaf Variable that
# requires grad is being used in an in-place operation"; each checked under torch 2.13).
VIEW_METHODS = frozenset(
    "view view_as t transpose permute narrow select expand expand_as squeeze unsqueeze unflatten diagonal".split()
)
VIEW_ATTRIBUTES = frozenset(("T", "mT"))
# Views of a contiguous tensor (a parameter itself), copies of others (`p.t().reshape(-1)` copies).
_CONTIGUOUS_VIEW_METHODS = frozenset(("reshape", "reshape_as", "flatten"))

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
# torch layers whose `weight` (and `bias`, when it has one) are parameters.
_LAYERS_WITH_WEIGHT = frozenset(
    "Linear Bilinear Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d ConvTranspose3d Embedding "
    "EmbeddingBag LayerNorm GroupNorm BatchNorm1d BatchNorm2d BatchNorm3d".split()
)
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
        # Frozen module keys, each with the functions whose local it is (None: a global, `self.x`).
        self._frozen: Optional[Dict[str, Optional[Set[int]]]] = None  # found on first use
        # 'self.scale' for `self.scale = nn.Parameter(...)`; under "" the bare attribute names.
        self._parameter_attributes: Optional[Dict[str, Set[str]]] = None
        self._attribute_names: Optional[frozenset] = None
        self._module_classes: Dict[int, bool] = {}
        self._switches: Dict[int, List[tuple]] = {}  # id(function) -> its `x.requires_grad = flag`
        self._writes: Dict[int, bool] = {}  # id(function) -> writes_in_place
        self._writing_calls: Optional[Set[int]] = None  # ids of functions with in-place calls

    def is_frozen(self, key: Optional[str], through_self: bool = True, within: Optional[FunctionInfo] = None) -> bool:
        """Is `key` ('self.ema', 'ema.fc') a module frozen in this module, or part of one?

        `through_self=False`: `self.requires_grad_(False)` in one class does not freeze another
        class's `self.decoder`. `within`: the function asking; a local frozen in another function
        (`policy.requires_grad_(False)` in one test) is another object of the same name."""
        return self.frozen_owner(key, through_self, within) is not None

    def has_frozen_part(self, key: str, within: Optional[FunctionInfo] = None) -> bool:
        """Is a part of `key` frozen here (`model.backbone.requires_grad_(False)` for 'model')?"""
        frozen = self._frozen_keys()
        prefix = key + "."
        return any(k.startswith(prefix) and _frozen_in(scopes, k, within) for k, scopes in frozen.items())

    def frozen_owner(
        self, key: Optional[str], through_self: bool = True, within: Optional[FunctionInfo] = None
    ) -> Optional[str]:
        """The frozen module `key` is or belongs to ('self.ema' for 'self.ema.fc'), if any."""
        frozen = self._frozen_keys()
        while key:
            if key in frozen and (through_self or key not in ("self", "cls")) and _frozen_in(frozen[key], key, within):
                return key
            key = key.rpartition(".")[0]
        return None

    def _frozen_keys(self) -> Dict[str, Optional[Set[int]]]:
        if self._frozen is None:
            self._frozen = _frozen_modules(self._walker)
        return self._frozen

    # -- parameter attributes -----------------------------------------------------------------
    def attribute_names(self) -> frozenset:
        """Attribute names that may name a parameter (`weight`, `bias`, `self.scale`'s `scale`):
        a cheap test before `attribute_kind`, which the value flow asks of every attribute."""
        if self._attribute_names is None:
            walker = self._walker
            if not any(
                qualname == "torch" or qualname.startswith(("torch.", "lightning"))
                for scope in walker.resolver.scopes.values()
                for qualname in scope.imports.values()
            ):
                self._attribute_names = frozenset()  # parameters matter only in PyTorch code
            else:
                attributes = self.parameter_attributes()
                self._attribute_names = frozenset(_MODULE_ATTRIBUTES) | {
                    key.rpartition(".")[2] for key in attributes if key
                }
        return self._attribute_names

    def parameter_attributes(self) -> Dict[str, Set[str]]:
        if self._parameter_attributes is None:
            walker = self._walker
            found: Dict[str, Set[str]] = {"": set()}
            frozen = _frozen_parameter_attributes(walker.calls)
            buffers = _registered_buffers(walker.calls)
            for key, callees in walker.assigned_from.items():
                if key in walker.assigned_otherwise or key in walker.constructed_from or callees != {"torch.nn.Parameter"}:
                    continue  # a Parameter on one path, a dict or None on another: unknown
                if key in buffers:
                    continue  # a Parameter on one path, `register_buffer` of the name on another
                if key not in frozen:
                    found[key] = callees
                    if key.startswith("self.") and key.count(".") == 1:
                        found[""].add(key[len("self."):])
            self._parameter_attributes = found
        return self._parameter_attributes

    def attribute_kind(
        self, base: ast.Attribute, statement: StatementInfo, evaluator, tags_of: StateLookup
    ) -> Optional[str]:
        """PARAMETER when `base` (`model.fc.weight`, `self.scale`) is a parameter of a module that
        is not frozen and whose requires_grad is not switched off here; else None (unknown)."""
        if base.attr in ("data", "grad"):
            return None
        if base.attr not in self.attribute_names() and not (
            # A module handed in by a caller that says so (a helper's summary, bound from a
            # PyTorch module's call): its weight is a parameter even where torch is not imported.
            base.attr in _MODULE_ATTRIBUTES and MODULE in tags_of(base.value)
        ):
            return None
        key = dotted_key(_without_subscripts(base))  # model.layers[0].weight -> 'model.layers.weight'
        if key is None or self.is_frozen(key, within=statement.function) or self._switched_off_here(key, statement):
            return None
        attributes = self.parameter_attributes()
        if key in attributes:
            return PARAMETER  # self.scale = nn.Parameter(...)
        if (
            base.attr in _MODULE_ATTRIBUTES
            and isinstance(base.value, ast.Name)
            and base.value.id == "self"
            and key not in self._walker.assigned_from
            and key not in self._walker.assigned_otherwise
            and self._subclasses_a_layer(statement.function)
        ):
            return PARAMETER  # `self.weight` in `class Positions(nn.Embedding)`: the layer's own
        if (base.attr in _MODULE_ATTRIBUTES or base.attr in attributes[""]) and self.is_module(
            base.value, statement, evaluator, tags_of
        ):
            return PARAMETER  # model.fc.weight, net.scale
        return None

    def _switched_off_here(self, key: str, statement: StatementInfo) -> bool:
        """`emb.weight.requires_grad = False` earlier in the function, not switched back on since:
        the write in between is to a tensor that does not require grad (legal)."""
        function = statement.function
        switches = self._switches.get(id(function))
        if switches is None:
            switches = self._switches[id(function)] = [
                (earlier.stmt, dotted_key(earlier.stmt.targets[0].value), earlier.stmt.value.value is False)  # type: ignore[attr-defined]
                for earlier in self._walker.statements_of(function)
                if isinstance(earlier.stmt, ast.Assign)
                and len(earlier.stmt.targets) == 1
                and isinstance(earlier.stmt.targets[0], ast.Attribute)
                and earlier.stmt.targets[0].attr == "requires_grad"
                and isinstance(earlier.stmt.value, ast.Constant)
            ]
        if not switches:
            return False
        off = False
        position = (statement.stmt.lineno, statement.stmt.col_offset)
        for stmt, switched, flag in switches:
            if (stmt.lineno, stmt.col_offset) >= position:
                break
            if switched == key:
                off = flag
        return off

    def is_module(self, receiver: ast.expr, statement: StatementInfo, evaluator, tags_of: StateLookup) -> bool:
        """Is `receiver` (of `.weight`) an nn.Module: a model, a submodule, a loop over modules()?"""
        if evaluator.is_loss_module(receiver):
            return False  # CrossEntropyLoss.weight is a buffer
        root: ast.expr = receiver
        while isinstance(root, (ast.Attribute, ast.Subscript)):
            root = root.value
        if not isinstance(root, ast.Name):
            return False
        if root.id == "self":
            # self.fc.weight in an nn.Module subclass; bare self.weight is decided by assigned_from
            return receiver is not root and self.in_module_class(statement.function)
        if MODULE in tags_of(root):
            return True
        callees = self._walker.assigned_from.get(dotted_key(_without_subscripts(receiver)) or "", ())
        if any(is_module_class(callee) for callee in callees):
            return True  # conv = nn.Conv2d(...)
        return evaluator.is_model(root) or (isinstance(receiver, ast.Attribute) and evaluator.is_model(receiver))

    def writes_in_place(self, function: FunctionInfo) -> bool:
        """Does `function` write anything in place (a quick test of its shape, before following a
        call's arguments into it)? In-place methods, foreach kernels, `out=`, item assignment,
        augmented assignment of an item or of a parameter of the function."""
        known = self._writes.get(id(function))
        if known is None:
            known = False
            parameters = set(positional_parameters(function))
            for statement in self._walker.statements_of(function):
                stmt = statement.stmt
                if isinstance(stmt, ast.AugAssign) and (
                    isinstance(stmt.target, ast.Subscript)
                    or (isinstance(stmt.target, ast.Name) and stmt.target.id in parameters)
                ):
                    known = True
                elif isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Subscript) for t in stmt.targets):
                    known = True
                if known:
                    break
            if not known:
                if self._writing_calls is None:
                    self._writing_calls = {
                        id(site.statement.function)
                        for site in self._walker.calls
                        if (site.qualname is None and site.method_name in INPLACE_METHODS)
                        or (site.qualname is not None and site.qualname.startswith("torch._foreach_"))
                        or any(keyword.arg == "out" for keyword in site.node.keywords)
                    }
                known = id(function) in self._writing_calls
            self._writes[id(function)] = known
        return known

    def constructs_module(self, class_node: Optional[ast.ClassDef]) -> bool:
        """Is `class_node` (of `Block(...)`) an nn.Module subclass defined here?"""
        if class_node is None:
            return False
        cached = self._module_classes.get(id(class_node))
        if cached is not None:
            return cached
        method = next((f for f in self._walker.functions if f.class_node is class_node), None)
        return method is not None and self.in_module_class(method)

    def _subclasses_a_layer(self, function: FunctionInfo) -> bool:
        """A method of a class deriving from a torch layer whose `weight`/`bias` are parameters."""
        cls = function.class_node
        if cls is None:
            return False
        scope = function.parent.scope if function.parent else function.scope
        for base in cls.bases:
            qualname = self._walker.resolver.qualname(base, scope) or ""
            head, _, last = qualname.rpartition(".")
            if head in ("torch.nn", "torch.nn.modules") and last in _LAYERS_WITH_WEIGHT:
                return True
        return False

    def in_module_class(self, function: FunctionInfo) -> bool:
        cls = function.class_node
        if cls is None:
            return False
        cached = self._module_classes.get(id(cls))
        if cached is None:
            cached = any(_names_a_module_class(base, self._walker.resolver, function) for base in cls.bases)
            self._module_classes[id(cls)] = cached
        return cached

    # -- collections ----------------------------------------------------------------------------
    def collection_tag(self, expr: ast.expr, tags_of: StateLookup) -> Optional[str]:
        """PARAMETERS / PARAM_GROUPS when `expr` is such a collection (for name bindings)."""
        element = self.element_tag(expr, tags_of)
        if element == PARAMETER:
            return PARAMETERS
        if element == PARAM_GROUP:
            return PARAM_GROUPS
        if (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Name)
            and expr.func.id == "dict"
            and len(expr.args) == 1
            and not expr.keywords
            and self.element_tag(expr.args[0], tags_of) == (None, PARAMETER)
        ):
            return NAMED_PARAMETERS  # its values are the parameters: `params["fc.weight"].fill_(0)`
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
            if func.attr in ("values", "items") and isinstance(func.value, ast.Name) and not iterable.args:
                if NAMED_PARAMETERS in tags_of(func.value):
                    return PARAMETER if func.attr == "values" else (None, PARAMETER)
                return None
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


def view_tags(method: str, tags: frozenset) -> frozenset:
    """The tags of `x.<method>(...)` for `x` with `tags`: a view of a parameter (or leaf) is still
    written through to it; anything else computed from it is a new tensor (no tags)."""
    kept = tags & GRAD_REQUIRING
    if not kept:
        return frozenset()
    if method in VIEW_METHODS or method in VIEW_ATTRIBUTES:
        return kept | {VIEW}
    if method in _CONTIGUOUS_VIEW_METHODS and VIEW not in tags:
        return kept | {VIEW}
    if method == "contiguous" and VIEW not in tags:
        return tags  # a contiguous tensor's contiguous() is the tensor itself
    return frozenset()


def indexed_tags(tags: frozenset, index: ast.expr) -> Optional[frozenset]:
    """The tags of `x[index]` for `x` with `tags`, or None when indexing keeps none of them:
    `params[0]` of a parameter list is a parameter, `params[1:]` still a list of them; basic
    indexing (integers, slices, None, ...) of a parameter is a view of it, advanced indexing
    (`p[[0, 1]]`, a tensor of indices) a copy."""
    if PARAMETERS in tags:
        return tags if isinstance(index, ast.Slice) else frozenset((PARAMETER,))
    if NAMED_PARAMETERS in tags:
        return frozenset((PARAMETER,))  # `params[name]` of dict(model.named_parameters())
    kept = tags & GRAD_REQUIRING
    if kept and _basic_index(index):
        return kept | {VIEW}
    return None


def _basic_index(index: ast.expr) -> bool:
    parts = index.elts if isinstance(index, ast.Tuple) else [index]
    for part in parts:
        if isinstance(part, ast.UnaryOp) and isinstance(part.op, ast.USub):
            part = part.operand
        if isinstance(part, ast.Slice):
            continue
        if not isinstance(part, ast.Constant):
            return False  # `p[i]`: `i` may be a list or a tensor of indices
        value = part.value
        if not (value is None or value is Ellipsis or (isinstance(value, int) and not isinstance(value, bool))):
            return False
    return True


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
def _frozen_modules(walker: StructureWalker) -> Dict[str, Optional[Set[int]]]:
    """Dotted keys of modules whose parameters this module switches requires_grad off for, each
    with the functions it is a local of (None when the name is a global or an attribute of self)."""
    frozen: Dict[str, Optional[Set[int]]] = {}
    for site in walker.calls:
        if site.method_name == "requires_grad_" and _is_false_argument(site.node):
            receiver = site.node.func.value  # type: ignore[attr-defined]
            key = dotted_key(receiver)
            if key:
                _add_frozen(frozen, key, site.statement.function)
    for statement in walker.statements:
        stmt = statement.stmt
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call) and _is_call_chain_freezing(stmt.value):
            # self.ema = deepcopy(model).eval().requires_grad_(False)
            for target in stmt.targets:
                key = dotted_key(target)
                if key:
                    _add_frozen(frozen, key, statement.function)
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
            # [p.requires_grad_(False) for p in ema.parameters()]
            comprehension = stmt.value
            if len(comprehension.generators) == 1 and not comprehension.generators[0].ifs:
                generator = comprehension.generators[0]
                module = _parameters_receiver(generator.iter)
                name = _loop_parameter_name(generator.target, generator.iter)
                if module and name and _freezes(ast.Expr(value=comprehension.elt), name):
                    _add_frozen(frozen, module, statement.function)
        if isinstance(stmt, (ast.For, ast.AsyncFor)):
            module = _parameters_receiver(stmt.iter)
            name = _loop_parameter_name(stmt.target, stmt.iter)
            if module and name and any(_freezes(body_stmt, name) for body_stmt in stmt.body):  # not under `if`
                _add_frozen(frozen, module, statement.function)
    if frozen:
        _frozen_copies(walker, frozen)
    return frozen


def _binder(root: str, function: Optional[FunctionInfo]) -> Optional[FunctionInfo]:
    """The function whose local `root` is, seen from `function` (None: a global or builtin)."""
    while function is not None and not function.is_module:
        if root in function.scope.shadowed:
            return function
        function = function.parent
    return None


def _add_frozen(frozen: Dict[str, Optional[Set[int]]], key: str, function: FunctionInfo) -> None:
    root = key.partition(".")[0]
    binder = None if root in ("self", "cls") else _binder(root, function)
    if binder is None:
        frozen[key] = None
    elif key not in frozen:
        frozen[key] = {id(binder)}
    elif frozen[key] is not None:
        frozen[key].add(id(binder))  # type: ignore[union-attr]


def _frozen_in(scopes: Optional[Set[int]], key: str, within: Optional[FunctionInfo]) -> bool:
    """Is a key frozen in `scopes` the same object as `key` seen from `within`?"""
    if scopes is None or within is None:
        return True
    binder = _binder(key.partition(".")[0], within)
    return binder is not None and id(binder) in scopes


def _frozen_copies(walker: StructureWalker, frozen: Dict[str, Optional[Set[int]]]) -> None:
    """`ema = copy.deepcopy(model).eval()` of a frozen `model` (`model = build().requires_grad_(False)`):
    the copy's parameters do not require grad either."""
    changed = True
    while changed:
        changed = False
        for statement in walker.statements:
            stmt = statement.stmt
            if not (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)):
                continue
            call: ast.expr = stmt.value
            while isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr in ("eval", "train", "to", "cpu", "cuda"):
                call = call.func.value
            site = walker.call_info.get(id(call)) if isinstance(call, ast.Call) else None
            if site is None or site.qualname != "copy.deepcopy" or len(call.args) != 1:  # type: ignore[attr-defined]
                continue
            source = dotted_key(call.args[0])  # type: ignore[attr-defined]
            if source not in frozen or not _frozen_in(frozen[source], source, statement.function):
                continue
            for target in stmt.targets:
                key = dotted_key(target)
                if key and key not in frozen:
                    _add_frozen(frozen, key, statement.function)
                    changed = True


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
    return switches_requires_grad(stmt, name, on=False)


def switches_requires_grad(stmt: ast.stmt, name: str, on: bool) -> bool:
    """Does `stmt` switch `name`'s requires_grad to `on`: `name.requires_grad = <on>`,
    `name.requires_grad_(<on>)` (no argument is True), and for off also `name.detach_()`?"""
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == name:
            if func.attr == "detach_":
                return not on
            if func.attr == "requires_grad_":
                if on:
                    return not call.keywords and (not call.args or _is_constant(call.args[0], True))
                return _is_false_argument(call)
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
        return (
            isinstance(target, ast.Attribute)
            and target.attr == "requires_grad"
            and isinstance(target.value, ast.Name)
            and target.value.id == name
            and _is_constant(stmt.value, on)
        )
    return False


def _is_constant(expr: ast.expr, value: bool) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is value


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
    # For an update in a helper of what a call passes it: that call's statement and expression
    # (where it is reported: the call's grad mode decides), what it passes, and how it is bound
    # (PARAMETER, LEAF, PARAMETERS, or MODULE for a module whose parameters the helper writes).
    via: Optional[StatementInfo] = None
    via_call: Optional[ast.Call] = None
    via_argument: str = ""
    via_binding: str = ""
    # For a helper in another module of the project: its name and where it writes
    # ("line 11 of pkg/helpers.py"); `statement` is then the call's own.
    via_helper: str = ""
    via_where: str = ""

    @property
    def function(self) -> FunctionInfo:
        return self.statement.function

    @property
    def line(self) -> int:
        return self.statement.stmt.lineno


class ArgumentUpdate(NamedTuple):
    """A function summary's "updates its argument in place": the statement (line, column) that
    writes the argument (or what its `.weight`/`.bias` is) in place. Plain, so it can be stored."""

    line: int
    col: int
    name: str  # how the helper names what it writes: `table`, `m.weight`
    how: str


def find_parameter_updates(analysis) -> List[ParameterUpdate]:  # analysis: ModuleAnalysis (no cycle)
    """Every in-place update of a known parameter or grad-requiring leaf, in statement order; and,
    for a helper called with grad on that writes what the call passes it (a parameter, a module's
    parameters through `.weight`), the helper's update, with the call that passes the parameter."""
    updates: List[ParameterUpdate] = []
    if not imports_torch(analysis):
        return updates
    finder = _UpdateFinder(analysis.evaluator, analysis.state_of)
    updates = scan_updates(analysis.statements, analysis.calls, finder)
    through_calls = _updates_through_calls(analysis)
    if through_calls:
        # A helper's write of what its calls pass it is reported at those calls, not in the helper.
        written = {id(u.statement) for u in through_calls}
        updates = [u for u in updates if id(u.statement) not in written]
        updates.extend(through_calls)
    updates.sort(key=lambda u: (u.statement.stmt.lineno, u.statement.stmt.col_offset))
    return updates


def scan_updates(
    statements: List[StatementInfo], calls: List[CallSite], finder: "_UpdateFinder"
) -> List[ParameterUpdate]:
    """The in-place updates of parameters among these statements and calls."""
    updates: List[ParameterUpdate] = []
    for statement in statements:
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
    for site in calls:
        if site.qualname is None and site.method_name in INPLACE_METHODS:
            update = finder.classify_call(site)
            if update is not None:
                updates.append(update)
        elif site.qualname is not None and site.qualname.startswith("torch._foreach_") and site.qualname.endswith("_"):
            if site.node.args:
                update = finder.classify_collection(site)
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
    return updates


def _updates_through_calls(analysis) -> List[ParameterUpdate]:
    """`fill_(self.weight)` with `def fill_(t): t[:] = ...`, and `self.apply(init)` with `def
    init(m): m.weight.fill_(1.0)`: the helper's update, for each call with grad on that passes it a
    parameter (a list of them, or a module); rules report it at the call."""
    found: List[ParameterUpdate] = []
    local_functions = analysis.resolver.function_names
    if not local_functions and analysis.project is None:
        return found
    sources: ParameterSources = analysis.evaluator.parameters
    summaries = analysis.summaries
    project = analysis.project
    for site in analysis.calls:
        if site.statement.region.mode is not GradMode.ON:
            continue
        if site.qualname is not None:
            if project is not None:
                found.extend(_updates_by_project_helper(analysis, site, sources, project))
            continue
        func = site.node.func
        named = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        applies = named == "apply" and isinstance(func, ast.Attribute) and len(site.node.args) == 1
        applies = applies and not site.node.keywords
        if applies:
            bindings = _applied_function(analysis, site, sources)
        elif named in local_functions:
            bindings = _bound_arguments(analysis, site, sources)
        else:
            continue
        if bindings is None:
            continue
        callee, bound = bindings
        for parameter, (kind, argument) in bound.items():
            for written in summaries.argument_updates(callee, parameter, kind):
                statement = _statement_at(analysis, callee, written)
                if statement is None:
                    continue
                found.append(
                    ParameterUpdate(
                        statement, statement.stmt, statement.stmt, written.name,
                        LEAF if kind == LEAF else PARAMETER, written.how,
                        via=site.statement, via_call=site.node, via_argument=describe(argument), via_binding=kind,
                    )
                )
    return found


def _statement_at(analysis, function: FunctionInfo, written: ArgumentUpdate) -> Optional[StatementInfo]:
    for statement in analysis.statements_of(function):
        if statement.stmt.lineno == written.line and statement.stmt.col_offset == written.col:
            return statement
    return None


def _applied_function(analysis, site: CallSite, sources: ParameterSources):
    """`model.apply(fn)`: fn runs on every submodule of a module that is not frozen."""
    receiver = site.node.func.value  # type: ignore[attr-defined]
    statement = site.statement
    evaluator = analysis.evaluator
    tags_of = lambda name: analysis.state_of(name, statement).tags  # noqa: E731
    if isinstance(receiver, ast.Name) and receiver.id == "self":
        module = sources.in_module_class(statement.function)
    else:
        module = MODULE in analysis.state_of(receiver, statement).tags or sources.is_module(
            receiver, statement, evaluator, tags_of
        ) or evaluator.is_model(receiver)
    key = dotted_key(receiver)
    if not module or key is None or sources.is_frozen(key, within=statement.function) or sources.has_frozen_part(key, statement.function):
        return None
    applied = site.node.args[0]
    if not isinstance(applied, (ast.Name, ast.Attribute)):
        return None
    callee = analysis.calls_resolver.callee(ast.Call(func=applied, args=[], keywords=[]), statement)
    if callee is None or callee.is_module or not sources.writes_in_place(callee):
        return None
    parameters = positional_parameters(callee)
    offset = implicit_arguments(callee, applied)
    if len(parameters) <= offset:
        return None
    return callee, {parameters[offset]: (MODULE, receiver)}


def _updates_by_project_helper(analysis, site: CallSite, sources: ParameterSources, project) -> List[ParameterUpdate]:
    """`scale_weights(model.fc, 0.5)` of a helper in another module that writes `layer.weight`
    in place: reported at the call, which is the statement the update runs in here."""
    helper = project.function(site.qualname)
    if helper is None or not helper.updates or helper.is_method:
        return []
    pairs = bound_arguments(site.node, helper.parameters)
    found: List[ParameterUpdate] = []
    for parameter, (kind, argument) in _classified_arguments(analysis, site, sources, pairs).items():
        for written in helper.updates.get(parameter, {}).get(kind if kind != LEAF else PARAMETER, ()):
            found.append(
                ParameterUpdate(
                    site.statement, site.node, site.node, written.name, LEAF if kind == LEAF else PARAMETER, written.how,
                    via=site.statement, via_call=site.node, via_argument=describe(argument), via_binding=kind,
                    via_helper=helper.name, via_where=f"line {written.line} of {helper.file}",
                )
            )
    return found


def _bound_arguments(analysis, site: CallSite, sources: ParameterSources):
    """The callee of `helper(a, b=c)` and the parameters it binds to parameters or modules."""
    statement = site.statement
    call = site.node
    callee = analysis.calls_resolver.callee(call, statement)
    if callee is None or callee.is_module or callee.is_generator or not sources.writes_in_place(callee):
        return None  # before the arguments' states: they run the caller's flow
    parameters = positional_parameters(callee)
    offset = implicit_arguments(callee, call.func)
    arguments = bound_arguments(call, parameters, offset, _keyword_parameters(callee))
    bound = _classified_arguments(analysis, site, sources, arguments)
    return (callee, bound) if bound else None


def _classified_arguments(analysis, site: CallSite, sources: ParameterSources, arguments: List[tuple]) -> Dict[str, tuple]:
    """parameter -> (binding, argument) for the arguments that are parameters, leaves, collections
    of parameters or modules whose parameters a helper may write."""
    statement = site.statement
    bound: Dict[str, tuple] = {}
    evaluator = analysis.evaluator
    tags_of = lambda name: analysis.state_of(name, statement).tags  # noqa: E731
    for parameter, argument in arguments:
        if isinstance(argument, (ast.Constant, ast.JoinedStr, ast.Lambda)):
            continue
        key = dotted_key(argument)
        if key is not None and (sources.is_frozen(key, within=statement.function) or sources.has_frozen_part(key, statement.function)):
            continue  # a frozen module, or a parameter of one: writes to it are legal
        tags = analysis.state_of(argument, statement).tags
        if PARAMETER in tags:
            bound[parameter] = (PARAMETER, argument)
        elif LEAF in tags:
            bound[parameter] = (LEAF, argument)
        elif PARAMETERS in tags:
            bound[parameter] = (PARAMETERS, argument)  # clip_(model.parameters(), c)
        elif MODULE in tags or (
            isinstance(argument, (ast.Attribute, ast.Name))
            and sources.is_module(argument, statement, evaluator, tags_of)
        ):
            bound[parameter] = (MODULE, argument)
    return bound


def _keyword_parameters(function: FunctionInfo) -> Set[str]:
    args = function.node.args  # type: ignore[union-attr]
    return {a.arg for a in args.args + args.kwonlyargs}


def argument_updates(walker, evaluator, function: FunctionInfo, flow, plain_flow) -> Tuple[ArgumentUpdate, ...]:
    """What `function` updates in place in `flow` (a parameter bound to a parameter or a module)
    and not in `plain_flow` (the module's own flow, parameters unknown)."""
    statements = walker.statements_of(function)
    calls = walker.calls_of(function)

    def states(used_flow):
        def state_of(expr: ast.expr, statement: StatementInfo):
            used_flow.ensure(function)
            return evaluator.evaluate(expr, statement, lambda name: used_flow.name_states.get(id(name), UNKNOWN))
        return state_of

    bound = scan_updates(statements, calls, _UpdateFinder(evaluator, states(flow)))
    if not bound:
        return ()
    unbound = scan_updates(statements, calls, _UpdateFinder(evaluator, states(plain_flow)))
    # Found the same way without the binding: not the argument's doing. Found only as a tensor
    # stepped along its own .grad without it (`p.add_(p.grad)` over `params`) is the argument's.
    plain = {(id(u.statement), u.name, u.kind) for u in unbound}
    return tuple(
        ArgumentUpdate(u.statement.stmt.lineno, u.statement.stmt.col_offset, u.name, u.how)
        for u in bound
        if (id(u.statement), u.name, u.kind) not in plain
    )


class _UpdateFinder:
    def __init__(self, evaluator, state_of) -> None:
        self.evaluator = evaluator
        self.state_of = state_of  # (expr, statement) -> ValueState
        self.sources: ParameterSources = evaluator.parameters
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
        if kind is None and isinstance(target, ast.Subscript):
            # `params[0].add_(eps)` of a parameter list; an item assignment writes into what is
            # indexed (`params[0] = p` only rebinds a list item).
            written = target.value if how == "item assignment" else target
            tags = self.state_of(written, statement).tags
            if not tags & GRAD_REQUIRING and isinstance(written, ast.Subscript):
                # `dict(model.named_parameters())["fc.weight"]`: an item of a collection written inline
                tags = indexed_tags(self.state_of(written.value, statement).tags, written.slice) or tags
            kind = PARAMETER if PARAMETER in tags else LEAF if LEAF in tags else None
            if kind is not None:
                base = written
        if kind is None and _reads_own_grad(base, values):
            # `w -= lr * w.grad`: only a leaf that requires grad has a .grad to step along.
            kind = LEAF
        if kind is None:
            return None
        return ParameterUpdate(statement, node, target, describe(base), kind, how)

    def classify_collection(self, site: CallSite) -> Optional[ParameterUpdate]:
        """`torch._foreach_mul_(params, c)`: the kernel writes every tensor of its first argument
        in place, and refuses a leaf that requires grad like an in-place method does."""
        collection = site.node.args[0]
        state = self.state_of(collection, site.statement)
        item = state.item
        if PARAMETERS in state.tags or (item is not None and PARAMETER in item.tags):
            return ParameterUpdate(
                site.statement, site.node, collection, describe(collection), PARAMETER, f"{site.qualname}()"
            )
        return None

    def _kind(self, base: ast.expr, statement: StatementInfo) -> Optional[str]:
        if isinstance(base, ast.Attribute) and base.attr not in VIEW_ATTRIBUTES:
            return self.sources.attribute_kind(
                base, statement, self.evaluator, lambda name: self.state_of(name, statement).tags
            )
        if isinstance(base, (ast.Name, ast.Call, ast.Attribute)):
            # A name bound to a parameter, an alias or a view of one (`w = fc.weight`,
            # `b = conv.bias.view(3, -1)`), or such a view written directly (`fc.weight.t().copy_(w)`).
            tags = self.state_of(base, statement).tags
            if PARAMETER in tags:
                return PARAMETER
            if LEAF in tags:
                return LEAF
        return None


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


def is_module_class(qualname: str) -> bool:
    head, _, last = qualname.rpartition(".")
    if head not in ("torch.nn", "torch.nn.modules") or not last[:1].isupper():
        return False
    return last != "Parameter" and not last.endswith("Loss")


def _registered_buffers(calls: List[CallSite]) -> Set[str]:
    """'self.embed' for `self.register_buffer("embed", t)`: the attribute holds a buffer there."""
    found: Set[str] = set()
    for site in calls:
        if site.method_name != "register_buffer" or not site.node.args:
            continue
        name = site.node.args[0]
        receiver = dotted_key(site.node.func.value)  # type: ignore[attr-defined]
        if receiver and isinstance(name, ast.Constant) and isinstance(name.value, str):
            found.add(f"{receiver}.{name.value}")
    return found


def _frozen_parameter_attributes(calls: List[CallSite]) -> Set[str]:
    """'self.step_count' for `self.step_count = nn.Parameter(t, requires_grad=False)`."""
    frozen: Set[str] = set()
    for site in calls:
        stmt = site.statement.stmt
        if site.qualname == "torch.nn.Parameter" and isinstance(stmt, ast.Assign) and stmt.value is site.node:
            if frozen_parameter(site.node):
                frozen.update(key for key in map(dotted_key, stmt.targets) if key)
    return frozen


def _names_a_module_class(base: ast.expr, resolver, function: FunctionInfo) -> bool:
    qualname = resolver.qualname(base, function.parent.scope if function.parent else function.scope)
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


def describe(expr: ast.expr) -> str:
    """How messages write an expression: as in the source, whole (a quoted snippet is code)."""
    return expr.id if isinstance(expr, ast.Name) else ast.unparse(expr)


def is_step_method(function: FunctionInfo, trains: bool) -> bool:
    """A `step` method that does not back-propagate itself: an optimizer's step (NG302's ground).

    Its updates are judged by how step() is called, not statement by statement.
    """
    return function.is_method and function.name == "step" and not trains
