"""Which values hold inference tensors: tensors made under `torch.inference_mode()`.

A tensor computed in inference mode (a `with torch.inference_mode():` block, a function decorated
`@torch.inference_mode()` / `@torch.inference_mode`, or a helper only called from there) is an
inference tensor. Outside inference mode it stays one through `.detach()`, `.data`, views,
indexing, `.to()`, attribute stores and containers; a computation on it there (`x * 2`,
`x.clone()`, a model call) gives an ordinary tensor, and `.item()` a Python number.

This is a *may*-taint, separate from the graph states of values.py: a name holds an inference
tensor after a statement when it does on some path (branch merges keep it), and it is followed
through one module:

    local names and `obj.attr` chains   flow-sensitive, per function (loops to a fixpoint)
    containers and objects              `cache[k] = t`, `xs.append(t)`, `Batch(probs=t)`, tuples
    function parameters                 symbolic: what the callers pass (resolved on demand)
    return values                       what the function returns (`@inference_mode` functions,
                                        helpers called from an inference block)
    attributes of `self`                symbolic: what the class's methods store there, including
                                        lazy caches (`if self._x is None: self._x = ...`) filled by
                                        a method that runs from an inference-mode caller

While it walks, the flow records the places where an inference tensor meets an operation that
could reject it outside inference mode (`InferenceUse`): an in-place update, an operand of an op
that saves its inputs for backward, a module's input, a loss target. Whether that operation really
raises (grad mode, whether autograd records it) is the rules' decision.
"""
from __future__ import annotations

import ast
import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Set, Tuple

from .guards import dotted_name
from .limits import elif_chain, short_source
from .model import GradMode, Graph, Kind, Region, RegionKind
from .parameters import INPLACE_METHODS
from .resolve import CallResolver
from .structure import FunctionInfo, Reference, StatementInfo, StructureWalker, implicit_arguments, is_static_method, positional_parameters
from .values import CREATION_FUNCTIONS, INTEGER_FUNCTIONS, INTEGER_METHODS, TENSOR_METHODS, returns_tensor

if TYPE_CHECKING:
    from .values import ValueFlow

ANY = "*"  # a part of a container whose key is unknown
_MAX_DEPTH = 3  # containers nested deeper than this collapse to "holds inference tensors"


class TaintKind(enum.Enum):
    TENSOR = "tensor"  # an inference tensor
    VALUE = "value"  # made in inference mode: an inference tensor if it is a tensor (a model's output)
    HOLDER = "holder"  # a container or object whose parts hold inference tensors
    PARAMETER = "parameter"  # symbolic: what the callers pass for a parameter (then `path`)
    ATTRIBUTE = "attribute"  # symbolic: what `self.<attr>` holds when the method starts (then `path`)


CONCRETE = (TaintKind.TENSOR, TaintKind.VALUE, TaintKind.HOLDER)


@dataclass(frozen=True)
class Made:
    """Where an inference tensor was made."""

    line: int
    col: int
    where: str  # completes "made ...": "under torch.inference_mode() (line 12)"
    function: str


@dataclass(frozen=True)
class Taint:
    kind: TaintKind
    made: Optional[Made] = None  # TENSOR / VALUE
    parts: Tuple[Tuple[object, "Taint"], ...] = ()  # HOLDER: (attribute name, index or key, or ANY)
    integer: bool = False  # an integer/bool tensor (class indices), for gather/embedding/log_prob
    strided: bool = False  # maybe a transposed view: matmul and Linear may copy it before saving
    # `.detach()`/`.data` taken outside inference mode: in-place updates of that tensor pass (checked
    # under torch; a view of it raises again). None on a symbolic taint: as the source is.
    detached: Optional[bool] = False
    symbol: Tuple = ()  # PARAMETER: (id(function), name); ATTRIBUTE: (id(class), attribute)
    path: Tuple[Tuple[str, object], ...] = ()  # ("attr", name) / ("item", key) from the symbol

    @property
    def is_concrete(self) -> bool:
        return self.kind in CONCRETE

    @property
    def is_tensor(self) -> bool:
        """Certainly a tensor (when it holds one at all)."""
        return self.kind is TaintKind.TENSOR

    def part(self, key: object) -> Optional["Taint"]:
        found = None
        for part_key, taint in self.parts:
            if part_key == key or part_key == ANY or key == ANY:
                found = taint if found is None else join(found, taint)
        return found

    def with_flags(self, **flags) -> "Taint":
        values = {name: getattr(self, name) for name in Taint.__dataclass_fields__}
        values.update(flags)
        return Taint(**values)


class UseKind(enum.Enum):
    INPLACE = "inplace"  # updated in place: `x += 1`, `x.add_()`, `x[0] = ...`, `out=x`
    REQUIRES_GRAD = "requires_grad"  # `x.requires_grad_()`, `x.requires_grad = True`
    OPERAND = "operand"  # an operand of an op that saves it for backward (`*`, `/`, `@`, mm, linear)
    INDEX = "index"  # the index of a gather/embedding/`w[idx]`/Categorical.log_prob (saved)
    MODULE_INPUT = "module_input"  # an argument of a call of a module or model object
    LOSS_TARGET = "loss_target"  # the target of a loss that saves it (cross_entropy, mse_loss, ...)


@dataclass(eq=False)
class InferenceUse:
    kind: UseKind
    statement: StatementInfo
    node: ast.expr  # the expression that holds the inference tensor
    taint: Taint  # maybe symbolic: InferenceFacts.resolve()
    op: ast.AST  # the operation
    others: Tuple[ast.expr, ...] = ()  # the other inputs (the callee for MODULE_INPUT)
    detail: str = ""  # how the operation is written: "+=", ".add_()", "'@'", "F.kl_div"


@dataclass(frozen=True)
class Resolved:
    taint: Taint  # concrete
    via: str = ""  # how it got there: "passed by the call on line 40", "stored by 'grid' (line 24)"


@dataclass(eq=False)
class _Store:
    class_node: ast.ClassDef
    taint: Taint
    function: FunctionInfo
    line: int


# -- operation vocabularies (each checked under torch 2.13: tests/test_ng103_torch_facts.py) -------
_VIEW_METHODS = frozenset(
    "view view_as reshape reshape_as flatten unflatten squeeze unsqueeze narrow select expand expand_as "
    "unfold diagonal as_strided real imag".split()
)
_STRIDED_METHODS = frozenset("transpose permute t movedim moveaxis swapaxes swapdims".split())
_STRIDED_ATTRIBUTES = frozenset(("T", "mT", "H", "mH"))
_SPLIT_METHODS = frozenset("chunk split unbind tensor_split hsplit vsplit dsplit split_with_sizes".split())
_MAYBE_IDENTITY = frozenset("to cpu cuda float double half bfloat16 type type_as contiguous".split())
_TO_INTEGER = frozenset("long int short byte char bool".split())
_KEEPS_RECEIVER = _VIEW_METHODS | _STRIDED_METHODS | _SPLIT_METHODS | _MAYBE_IDENTITY | {"detach"}
_TO_FLOAT = frozenset("float double half bfloat16".split())  # from an integer tensor: a copy
_NOT_TENSOR_METHODS = frozenset(
    "item tolist numpy size dim ndimension numel nelement element_size is_contiguous data_ptr stride "
    "storage_offset is_floating_point is_complex get_device equal allclose __len__ keys".split()
)
_NOT_TENSOR_ATTRIBUTES = frozenset(
    "shape dtype device grad requires_grad is_leaf grad_fn ndim is_cuda layout names".split()
)
# Tensor methods a NumPy array does not have: whatever has them is a tensor.
_TORCH_ONLY_METHODS = TENSOR_METHODS - frozenset(
    "sum mean std var prod max min clip reshape flatten squeeze transpose cumsum cumprod diagonal trace dot "
    "repeat view round argmax argmin argsort chunk split type".split()
)
_SAVING_METHODS = frozenset("mul multiply div divide true_divide matmul mm bmm mv dot".split())
# The index or mask argument (position, keyword) is saved; take_along_dim does not save it.
_INDEX_METHODS = {"gather": (1, "index"), "index_select": (1, "index"), "masked_fill": (0, "mask")}
_SAVING_FUNCTIONS = frozenset(
    "torch." + name for name in "mul multiply div divide true_divide matmul mm bmm mv dot einsum".split()
) | frozenset(
    "torch.nn.functional." + name
    for name in "linear bilinear conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d".split()
)
_INDEX_FUNCTIONS = {"torch.gather": (2, 0), "torch.index_select": (2, 0), "torch.nn.functional.embedding": (0, 1)}
_VIEW_FUNCTIONS = frozenset(
    "torch." + name for name in "flatten reshape squeeze unsqueeze narrow select detach".split()
)
_STRIDED_FUNCTIONS = frozenset("torch." + name for name in "transpose permute t movedim swapaxes".split())
_SPLIT_FUNCTIONS = frozenset("torch." + name for name in "split chunk unbind tensor_split".split())
# Losses that save their target for backward (F.l1_loss does not).
SAVING_LOSS_FUNCTIONS = frozenset(
    "torch.nn.functional." + name
    for name in (
        "cross_entropy nll_loss mse_loss smooth_l1_loss huber_loss kl_div binary_cross_entropy "
        "binary_cross_entropy_with_logits"
    ).split()
)
SAVING_LOSS_CLASSES = frozenset(
    "torch.nn." + name
    for name in "CrossEntropyLoss NLLLoss MSELoss SmoothL1Loss HuberLoss KLDivLoss BCELoss BCEWithLogitsLoss".split()
)
CATEGORICAL = frozenset(("torch.distributions.Categorical", "torch.distributions.categorical.Categorical"))
_CONTAINER_ADDS = frozenset(("append", "add", "insert", "appendleft", "put", "put_nowait"))
_CONTAINER_EXTENDS = frozenset(("extend", "update", "extendleft"))
_CONTAINER_FACTORIES = frozenset(("dict", "list", "set", "deque", "defaultdict", "OrderedDict"))
_PASS_THROUGH_BUILTINS = frozenset(("list", "tuple", "sorted", "reversed", "iter", "next", "max", "min"))
_BUILTINS = frozenset(
    "len int float bool str repr print isinstance issubclass range enumerate zip map filter abs round "
    "hash id type format any all callable hasattr setattr vars dir open super".split()
)
# Imported libraries whose functions return no tensors.
_NOT_TENSOR_ROOTS = frozenset(
    "math random numpy time os sys json logging itertools functools collections copy re pathlib warnings "
    "pickle string operator typing dataclasses".split()
)


class InferenceFacts:
    """Where inference tensors are held and used in one module (built on first use)."""

    def __init__(self, walker: StructureWalker, calls: CallResolver, values: Optional["ValueFlow"] = None) -> None:
        self._walker = walker
        self._calls = calls
        self._values = values  # the graph-state flow, for what a name held before `x += ...`
        self._uses: Dict[Tuple[int, int, UseKind], InferenceUse] = {}
        self._env_at: Dict[int, Dict[str, Optional[Taint]]] = {}
        self._returns: Dict[int, Optional[Taint]] = {}
        self._in_progress: Set[int] = set()
        self._call_args: Dict[int, Tuple[Tuple[Optional[Taint], ...], Dict[str, Optional[Taint]], bool]] = {}
        self._stores: Dict[str, List[_Store]] = {}
        self._functions: Dict[int, FunctionInfo] = {id(f): f for f in walker.functions}
        self._resolved: Dict[Tuple, Optional[Resolved]] = {}
        # A module without an inference-mode region holds no inference tensor: nothing to run.
        self.active = any(s.region.inference for s in walker.statements) or any(
            f.base.inference for f in walker.functions
        )
        self._callers: Dict[int, List[Reference]] = {}
        self._stored_attributes: Set[str] = set()
        self._containers: Set[str] = set()
        if self.active:
            self._callers = calls.callers()
            self._scan_targets()
            for function in walker.functions:
                self._ensure(function)
            for function, where in self._may_run_in_inference().items():
                try:
                    _Flow(self, function, where).run()
                except RecursionError:
                    pass  # pathologically nested code: its stores stay unknown

    # -- queries --------------------------------------------------------------------------------
    @property
    def uses(self) -> List[InferenceUse]:
        """Where an inference tensor (maybe) meets an operation that may reject it, in source order."""
        return sorted(self._uses.values(), key=lambda u: (u.statement.stmt.lineno, u.node.lineno, u.node.col_offset))

    def held_at(self, statement: StatementInfo) -> Dict[str, Resolved]:
        """Local names and `obj.attr` chains that may hold inference tensors where `statement` starts
        (only what the flow bound in the function; parameters and attributes from callers resolved)."""
        held = {}
        for key, taint in self._env_at.get(id(statement.stmt), {}).items():
            resolved = self.resolve(taint) if taint is not None else None
            if resolved is not None:
                held[key] = resolved
        return held

    def taint_of(self, expr: ast.expr, statement: StatementInfo) -> Optional[Taint]:
        """The (maybe symbolic) taint of `expr` evaluated where `statement` starts."""
        if not self.active:
            return None
        flow = _Flow(self, statement.function, None, record=False)
        flow.env = dict(self._env_at.get(id(statement.stmt), {}))
        flow.enter(statement)
        return flow.evaluate(expr)

    def returned(self, function: FunctionInfo) -> Optional[Taint]:
        """What the function returns, maybe symbolic in its own parameters and attributes."""
        return self._ensure(function) if self.active else None

    def resolve(self, taint: Taint, depth: int = 0) -> Optional[Resolved]:
        """A symbolic taint resolved against what callers pass and what methods store: the first
        concrete inference taint found, or None."""
        if taint.is_concrete:
            return Resolved(taint)
        key = (taint.kind, taint.symbol, taint.path, taint.detached, taint.strided)
        if key in self._resolved:
            return self._resolved[key]
        self._resolved[key] = None  # a cycle resolves to nothing
        found = self._resolve(taint, depth) if depth < 6 else None
        self._resolved[key] = found
        return found

    # -- flows ----------------------------------------------------------------------------------
    def _ensure(self, function: FunctionInfo) -> Optional[Taint]:
        key = id(function)
        if key in self._returns:
            return self._returns[key]
        if key in self._in_progress:
            return None  # recursion: unknown inside the cycle
        self._in_progress.add(key)
        try:
            returned = _Flow(self, function, None).run()
        except RecursionError:
            returned = None  # pathologically nested code: nothing known
        finally:
            self._in_progress.discard(key)
        self._returns[key] = returned
        return returned

    def _scan_targets(self) -> None:
        """Flow-insensitive facts: attributes of `self` stored anywhere, and which keys are containers."""
        for statement in self._walker.statements:
            stmt = statement.stmt
            targets: List[ast.expr] = []
            if isinstance(stmt, ast.Assign):
                targets = list(stmt.targets)
            elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
                targets = [stmt.target]
            for target in targets:
                while isinstance(target, ast.Subscript):
                    target = target.value
                key = dotted_name(target)
                if key and key.startswith("self.") and key.count(".") == 1:
                    self._stored_attributes.add(key[5:])
            value = getattr(stmt, "value", None)
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and _is_container(value):
                for target in targets:
                    key = dotted_name(target)
                    if key:
                        self._containers.add(key)
        for site in self._walker.calls:
            if site.method_name in _CONTAINER_ADDS or site.method_name in _CONTAINER_EXTENDS:
                key = dotted_name(site.node.func.value)  # type: ignore[attr-defined]
                if key and key.startswith("self.") and key.count(".") == 1:
                    self._stored_attributes.add(key[5:])

    def _may_run_in_inference(self) -> Dict[FunctionInfo, str]:
        """Functions not always in inference mode that some caller runs in it, with how (for
        messages): `grid()` called by `forward()`, which `@inference_mode` `detect()` calls."""
        roots: Dict[int, Tuple[FunctionInfo, FunctionInfo, Region]] = {}
        changed = True
        while changed:
            changed = False
            for function in self._walker.functions:
                if id(function) in roots or function.base.inference or function.is_module:
                    continue
                for reference in self._callers.get(id(function), []):
                    statement = reference.statement
                    caller = statement.function
                    if reference.escaped:
                        continue
                    if statement.region.inference:
                        roots[id(function)] = (function, caller, statement.region)
                    elif statement.region is caller.base and id(caller) in roots:
                        roots[id(function)] = (function,) + roots[id(caller)][1:]  # type: ignore[assignment]
                    else:
                        continue
                    changed = True
                    break
        return {function: _as_if_where(function, caller, region) for function, caller, region in roots.values()}

    # -- recording (called by the flows) ---------------------------------------------------------
    def _use(self, use: InferenceUse) -> None:
        self._uses[(id(use.op), id(use.node), use.kind)] = use

    def _store(self, attribute: str, taint: Taint, function: FunctionInfo, line: int) -> None:
        class_node = function.class_node
        if class_node is not None:
            self._stores.setdefault(attribute, []).append(_Store(class_node, taint, function, line))

    # -- resolution -----------------------------------------------------------------------------
    def _resolve(self, taint: Taint, depth: int) -> Optional[Resolved]:
        if taint.kind is TaintKind.PARAMETER:
            function = self._functions.get(taint.symbol[0])
            if function is None:
                return None
            for reference in self._callers.get(id(function), []):
                region = reference.statement.region
                if reference.call is None or region.inference or region.mode is GradMode.UNKNOWN:
                    continue  # called from inference mode, the callee runs in it too
                argument = self._argument(reference, function, taint.symbol[1])
                if argument is None:
                    continue
                actual = self.resolve(argument, depth + 1)
                applied = self._concrete(_apply(actual.taint, taint) if actual is not None else None, depth)
                if applied is not None:
                    via = f"passed as '{taint.symbol[1]}' by the call on line {reference.call.lineno}"
                    return Resolved(applied.taint, _joined(via, applied.via))
            return None
        class_node = self._classes_by_id().get(taint.symbol[0])
        if class_node is None:
            return None
        related = {id(c) for c in self._mro(class_node)}
        for store in self._stores.get(taint.symbol[1], []):
            if id(store.class_node) not in related:
                continue
            actual = self.resolve(store.taint, depth + 1)
            applied = self._concrete(_apply(actual.taint, taint) if actual is not None else None, depth)
            if applied is not None:
                via = f"stored in 'self.{taint.symbol[1]}' by '{store.function.name}' (line {store.line})"
                return Resolved(applied.taint, _joined(via, applied.via))
        return None

    def _concrete(self, taint: Optional[Taint], depth: int) -> Optional[Resolved]:
        """A part taken from a concrete container may itself be symbolic: resolve it too."""
        if taint is None:
            return None
        return Resolved(taint) if taint.is_concrete else self.resolve(taint, depth + 1)

    def _argument(self, reference: Reference, function: FunctionInfo, name: str) -> Optional[Taint]:
        recorded = self._call_args.get(id(reference.call))
        if recorded is None:
            return None
        positional, keywords, bound = recorded
        if name in keywords:
            return keywords[name]
        names = positional_parameters(function)
        if bound and names:
            names = names[1:]
        if name not in names:
            return None
        index = names.index(name)
        return positional[index] if index < len(positional) else None

    def _classes_by_id(self) -> Dict[int, ast.ClassDef]:
        return {id(c): c for c, _ in self._walker.classes}

    def _mro(self, class_node: ast.ClassDef) -> List[ast.ClassDef]:
        order, queue = [], [class_node]
        while queue:
            current = queue.pop(0)
            if any(current is seen for seen in order):
                continue
            order.append(current)
            for base in current.bases:
                found = self._calls.class_named(base.id) if isinstance(base, ast.Name) else None
                if found is not None:
                    queue.append(found)
        return order


def _joined(first: str, second: str) -> str:
    return f"{second}, {first}" if second else first


def _as_if_where(function: FunctionInfo, caller: FunctionInfo, region: Region) -> str:
    if region.kind is RegionKind.DECORATOR:
        return f"in '{function.name}' when called from '{caller.name}' (under {region.label[1:]}, line {region.line})"
    if region.kind is RegionKind.WITH:
        return f"in '{function.name}' when called under {region.label} (line {region.line})"
    return f"in '{function.name}' when called from '{caller.name}' (which runs in inference mode)"


def _is_container(value: Optional[ast.expr]) -> bool:
    if isinstance(value, (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)):
        return True
    if isinstance(value, ast.Call):
        func = value.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        return name in _CONTAINER_FACTORIES
    return False


# -- the lattice --------------------------------------------------------------------------------
def join(first: Optional[Taint], second: Optional[Taint]) -> Optional[Taint]:
    """Join of two paths: held on either path is held (may)."""
    if first is None:
        return second
    if second is None or first == second:
        return first
    if first.is_concrete != second.is_concrete:
        return first if first.is_concrete else second  # keep what is known on one path
    if not first.is_concrete:
        return first
    flags = dict(
        integer=first.integer and second.integer,
        strided=first.strided or second.strided,
        detached=bool(first.detached or second.detached),
    )
    if first.kind is TaintKind.HOLDER and second.kind is TaintKind.HOLDER:
        parts = dict(first.parts)
        for key, taint in second.parts:
            parts[key] = join(parts.get(key), taint)  # type: ignore[assignment]
        return Taint(TaintKind.HOLDER, parts=tuple(parts.items()), **flags)
    made = _earlier(first.made, second.made)
    kind = TaintKind.TENSOR if first.kind is second.kind is TaintKind.TENSOR else TaintKind.VALUE
    return Taint(kind, made, **flags)


def _earlier(first: Optional[Made], second: Optional[Made]) -> Optional[Made]:
    if first is None or second is None:
        return first or second
    return first if (first.line, first.col) <= (second.line, second.col) else second


def holder(parts: List[Tuple[object, Optional[Taint]]]) -> Optional[Taint]:
    kept = tuple((key, _shallow(taint)) for key, taint in parts if taint is not None)
    return Taint(TaintKind.HOLDER, parts=kept) if kept else None


def _shallow(taint: Taint, depth: int = 0) -> Taint:
    """Containers nested too deep collapse, so that loops reach a fixpoint."""
    if taint.kind is not TaintKind.HOLDER:
        return taint
    if depth >= _MAX_DEPTH:
        made = next((t.made for _, t in _leaves(taint) if t.made is not None), None)
        return Taint(TaintKind.VALUE, made)
    return Taint(TaintKind.HOLDER, parts=tuple((k, _shallow(t, depth + 1)) for k, t in taint.parts))


def _leaves(taint: Taint) -> Iterator[Tuple[object, Taint]]:
    stack = [(None, taint)]
    while stack:
        key, current = stack.pop()
        if current.kind is TaintKind.HOLDER:
            stack.extend(current.parts)
        else:
            yield key, current


def items_of(taint: Optional[Taint]) -> Optional[Taint]:
    """What iterating over the value gives."""
    if taint is None:
        return None
    if taint.kind is TaintKind.HOLDER:
        return taint.part(ANY)
    if taint.is_concrete:
        return taint.with_flags(detached=False)  # rows of a tensor: views
    return _extend(taint, ("item", ANY))


def _extend(taint: Taint, step: Tuple[str, object]) -> Taint:
    return taint.with_flags(path=taint.path + (step,))


def _apply(actual: Taint, symbolic: Taint) -> Optional[Taint]:
    """The concrete taint `actual` (what a caller passes, what a method stored) followed along the
    symbolic taint's path, with the flags the path's operations set."""
    current: Optional[Taint] = actual
    for step, key in symbolic.path:
        if current is None:
            return None
        if current.kind is TaintKind.HOLDER:
            current = current.part(key)
        elif step == "attr" and current.kind is TaintKind.TENSOR:
            return None  # an attribute of a tensor that is not a view (`.shape`)
        elif step == "item" and current.kind is TaintKind.TENSOR:
            current = current.with_flags(detached=False)
    if current is None:
        return None
    flags = {}
    if symbolic.detached is not None:
        flags["detached"] = symbolic.detached
    if symbolic.strided:
        flags["strided"] = True
    return current.with_flags(**flags) if flags else current


# -- the flow over one function ----------------------------------------------------------------
_MISSING = object()


class _Flow:
    """One walk over a function's statements; results go to the InferenceFacts."""

    def __init__(self, facts: InferenceFacts, function: FunctionInfo, as_if: Optional[str], record: bool = True):
        self.facts = facts
        self.function = function
        self.as_if = as_if  # how the function runs in inference mode, for may-run functions
        self.record = record and as_if is None
        self.env: Dict[str, Optional[Taint]] = {}
        self.info: Optional[StatementInfo] = None
        self.inside = False
        self.returns: Optional[Taint] = None
        self.cache_guards: List[str] = []  # attributes an enclosing `if self.x is None:` tests
        node = function.node
        self.parameters: Set[str] = set()
        self.self_name: Optional[str] = None
        if not function.is_module:
            args = node.args  # type: ignore[union-attr]
            positional = list(getattr(args, "posonlyargs", [])) + list(args.args)
            self.parameters = {a.arg for a in positional + list(args.kwonlyargs)}
            if function.class_node is not None and positional and not is_static_method(node):
                self.self_name = positional[0].arg
        self.class_node = function.class_node
        self._where_cache: Dict[int, str] = {}

    def run(self) -> Optional[Taint]:
        self._block(self.function.node.body, self.env)
        if self.returns is not None and _is_generator(self.function.node):
            return None  # calling a generator function returns a generator (looked at only when it matters)
        return self.returns

    # -- statements -----------------------------------------------------------------------------
    def enter(self, info: StatementInfo) -> None:
        self.info = info
        region = info.region
        if self.as_if is not None:
            local = info.local
            self.inside = region.inference or local is None or local.yields_to_inference
        else:
            self.inside = region.inference

    def _block(self, body: List[ast.stmt], env: Dict[str, Optional[Taint]]) -> Optional[Dict[str, Optional[Taint]]]:
        statement_info = self.facts._walker.statement_info
        for stmt in body:
            self.env = env
            info = statement_info[id(stmt)]
            self.enter(info)
            if self.record and any(env.values()):  # a Taint is true, None (untainted) false
                self.facts._env_at[id(stmt)] = dict(env)
            if isinstance(stmt, ast.Return):
                if stmt.value is not None:
                    self.returns = join(self.returns, self.evaluate(stmt.value))
                return None
            if isinstance(stmt, ast.Raise):
                return None
            result = self._statement(stmt, env)
            if result is None:
                return None
            env = result
        return env

    def _statement(self, stmt: ast.stmt, env):  # noqa: C901 - one dispatch over statement kinds
        kind = type(stmt)
        if kind is ast.Assign:
            value = self.evaluate(stmt.value)  # type: ignore[attr-defined]
            for target in stmt.targets:  # type: ignore[attr-defined]
                self._bind(target, value, stmt.value, stmt)  # type: ignore[attr-defined]
        elif kind is ast.AnnAssign:
            if stmt.value is not None:  # type: ignore[attr-defined]
                self._bind(stmt.target, self.evaluate(stmt.value), stmt.value, stmt)  # type: ignore[attr-defined]
        elif kind is ast.AugAssign:
            self._augmented(stmt)  # type: ignore[arg-type]
        elif kind is ast.Expr:
            self.evaluate(stmt.value)  # type: ignore[attr-defined]
        elif kind in (ast.For, ast.AsyncFor, ast.While):
            return self._loop(stmt, env)
        elif kind is ast.If:
            return self._if_chain(stmt, env)  # type: ignore[arg-type]
        elif kind in (ast.With, ast.AsyncWith):
            for item in stmt.items:  # type: ignore[attr-defined]
                self.evaluate(item.context_expr)
                if item.optional_vars is not None:
                    self._bind(item.optional_vars, None, None, stmt)
            return self._block(stmt.body, env)  # type: ignore[attr-defined]
        elif kind is ast.Try or kind.__name__ == "TryStar":
            return self._try(stmt, env)
        elif kind.__name__ == "Match":
            self.evaluate(stmt.subject)  # type: ignore[attr-defined]
            cases = [self._block(case.body, dict(env)) for case in stmt.cases]  # type: ignore[attr-defined]
            return _replace(env, _merge_envs(cases + [dict(env)]))
        elif kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            self._set(stmt.name, None)  # type: ignore[attr-defined]
        elif kind is ast.Delete:
            for target in stmt.targets:  # type: ignore[attr-defined]
                key = dotted_name(target)
                if key:
                    self._set(key, None)
        elif kind in (ast.Import, ast.ImportFrom):
            for alias in stmt.names:  # type: ignore[attr-defined]
                self._set(alias.asname or alias.name.partition(".")[0], None)
        elif kind in (ast.Global, ast.Nonlocal):
            for name in stmt.names:  # type: ignore[attr-defined]
                self._set(name, None)
        return env

    def _if_chain(self, stmt: ast.If, env):
        chain = elif_chain(stmt)
        then_envs = []
        for index, branch in enumerate(chain):
            if index:
                self.env = env
                self.enter(self.facts._walker.statement_info[id(branch)])
            self.evaluate(branch.test)
            guarded = _cache_guard(branch.test, self.self_name)
            if guarded:
                self.cache_guards.append(guarded)
            then_envs.append(self._block(branch.body, dict(env)))
            if guarded:
                self.cache_guards.pop()
        after = self._block(chain[-1].orelse, dict(env))
        for then_env in reversed(then_envs):
            after = _merge_envs([then_env, after])
        return _replace(env, after)

    def _loop(self, stmt: ast.stmt, env):
        entry = dict(env)
        for _ in range(4):  # may-joins only grow and containers are depth-bounded
            body_env = dict(entry)
            self.env = body_env
            self.enter(self.facts._walker.statement_info[id(stmt)])
            if isinstance(stmt, (ast.For, ast.AsyncFor)):
                self._bind_loop_target(stmt.target, stmt.iter, stmt)
            else:
                self.evaluate(stmt.test)  # type: ignore[attr-defined]
            body_end = self._block(stmt.body, body_env)  # type: ignore[attr-defined]
            merged = _merge_envs([entry, body_end])
            assert merged is not None
            if merged == entry:
                break
            entry = merged
        after = self._block(stmt.orelse, dict(entry)) if stmt.orelse else entry  # type: ignore[attr-defined]
        return _replace(env, after if after is not None else entry)

    def _try(self, stmt: ast.stmt, env):
        entry = dict(env)
        body_end = self._block(stmt.body, dict(env))  # type: ignore[attr-defined]
        if body_end is not None and stmt.orelse:  # type: ignore[attr-defined]
            body_end = self._block(stmt.orelse, body_end)  # type: ignore[attr-defined]
        handler_entry = _merge_envs([entry, body_end]) or entry
        handlers = stmt.handlers  # type: ignore[attr-defined]
        merged = _merge_envs([body_end] + [self._block(h.body, dict(handler_entry)) for h in handlers])
        if stmt.finalbody:  # type: ignore[attr-defined]
            final_entry = dict(merged if merged is not None else handler_entry)
            final_env = self._block(stmt.finalbody, final_entry)  # type: ignore[attr-defined]
            if merged is None or final_env is None:
                return None
            merged = final_env
        return _replace(env, merged)

    # -- bindings -------------------------------------------------------------------------------
    def _set(self, key: str, taint: Optional[Taint]) -> None:
        env = self.env
        prefix = key + "."
        for other in [k for k in env if k.startswith(prefix)]:
            del env[other]
        env[key] = taint

    def _bind(self, target: ast.expr, taint: Optional[Taint], value: Optional[ast.expr], stmt: ast.stmt) -> None:
        kind = type(target)
        if kind is ast.Name:
            self._set(target.id, taint)  # type: ignore[attr-defined]
        elif kind is ast.Attribute:
            if target.attr == "requires_grad" and _is_true(value):  # type: ignore[attr-defined]
                receiver = self.evaluate(target.value)  # type: ignore[attr-defined]
                if receiver is not None:
                    self._record(
                        UseKind.REQUIRES_GRAD, target.value, receiver, stmt, detail=".requires_grad = True"  # type: ignore[attr-defined]
                    )
                return
            key = dotted_name(target)
            if key:
                self._set(key, taint)
                self._maybe_store(key, taint, stmt)
        elif kind is ast.Subscript:
            self._item_store(target, taint, stmt)  # type: ignore[arg-type]
        elif kind in (ast.Tuple, ast.List):
            elements = target.elts  # type: ignore[attr-defined]
            starred = any(isinstance(e, ast.Starred) for e in elements)
            for index, element in enumerate(elements):
                if isinstance(element, ast.Starred):
                    self._bind(element.value, holder([(ANY, items_of(taint))]), None, stmt)
                    continue
                part: Optional[Taint] = None
                if taint is not None:
                    if taint.kind is TaintKind.HOLDER:
                        part = taint.part(ANY if starred else index)
                    elif taint.is_concrete:
                        part = taint.with_flags(detached=False) if taint.is_tensor else taint
                    else:
                        part = _extend(taint, ("item", ANY if starred else index))
                self._bind(element, part, None, stmt)
        elif kind is ast.Starred:
            self._bind(target.value, taint, value, stmt)  # type: ignore[attr-defined]

    def _maybe_store(self, key: str, taint: Optional[Taint], stmt: ast.stmt) -> None:
        """Record what a method stores on `self.<attr>` (for the class's other methods)."""
        if taint is None or self.self_name is None:
            return
        root, _, attribute = key.partition(".")
        if root != self.self_name or not attribute:
            return
        attribute, _, rest = attribute.partition(".")
        if rest:
            return
        if self.as_if is not None and attribute not in self.cache_guards:
            return  # may run in inference mode: only a lazy cache keeps what that run made
        if self.as_if is None and not self.record:
            return
        self.facts._store(attribute, taint, self.function, stmt.lineno)

    def _item_store(self, target: ast.Subscript, taint: Optional[Taint], stmt: ast.stmt) -> None:
        receiver = self.evaluate(target.value)
        key_taint = self.evaluate(target.slice)
        del key_taint
        if receiver is not None and receiver.kind is not TaintKind.HOLDER:
            # `x[i] = v` writes into x: an inference tensor cannot take it outside inference mode.
            self._record(UseKind.INPLACE, target.value, receiver, stmt, detail="item assignment", detached_ok=False)
        if taint is None:
            return
        key = dotted_name(target.value)
        if key is None:
            return
        if receiver is not None and receiver.kind is TaintKind.HOLDER or key in self.facts._containers:
            updated = join(receiver if receiver is not None and receiver.kind is TaintKind.HOLDER else None,
                           holder([(_constant_key(target.slice), taint)]))
            self._set(key, updated)
            self._maybe_store(key, holder([(_constant_key(target.slice), taint)]), stmt)

    def _augmented(self, stmt: ast.AugAssign) -> None:
        target = stmt.target
        value = self.evaluate(stmt.value)
        op = _OPERATORS.get(type(stmt.op), "")
        if isinstance(target, ast.Subscript):
            receiver = self.evaluate(target.value)
            self.evaluate(target.slice)
            if receiver is None:
                return
            if receiver.kind is TaintKind.HOLDER:
                part = receiver.part(_constant_key(target.slice))
                if part is not None:
                    self._record(UseKind.INPLACE, target, part, stmt, detail=op + "=")
            else:
                self._record(UseKind.INPLACE, target.value, receiver, stmt, detail=op + "=", detached_ok=False)
            return
        key = dotted_name(target)
        if key is None:
            return
        current = self.evaluate(target)
        if current is not None:
            self._record(UseKind.INPLACE, target, current, stmt, detail=op + "=")
        if not self.inside or current is not None:
            new = current  # in place: the same tensor (a number rebound to a new value: kept as may)
        elif value is not None and self._holds_number(target):
            # `total += loss` inside inference mode, total a Python number: a new inference tensor.
            new = self._made(stmt, TaintKind.TENSOR if value.is_tensor else TaintKind.VALUE)
        else:
            new = None  # a tensor updated in place stays what it was (a normal one stays normal)
        self._set(key, new)
        self._maybe_store(key, new, stmt)

    def _holds_number(self, target: ast.expr) -> bool:
        """Did `target` hold a Python number before the augmented assignment (the value flow's view)?"""
        values = self.facts._values
        if values is None or not isinstance(target, ast.Name):
            return False
        values.ensure(self.function)
        state = values.name_states.get(id(target))
        return state is not None and (state.graph is Graph.CONSTANT or state.kind is Kind.NUMBER)

    def _bind_loop_target(self, target: ast.expr, iterable: ast.expr, stmt: ast.stmt) -> None:
        if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name) and not iterable.keywords:
            name = iterable.func.id
            args = iterable.args
            if name == "enumerate" and args and isinstance(target, (ast.Tuple, ast.List)) and len(target.elts) == 2:
                self._bind(target.elts[0], None, None, stmt)
                self._bind(target.elts[1], items_of(self.evaluate(args[0])), None, stmt)
                return
            if name == "zip" and isinstance(target, (ast.Tuple, ast.List)) and len(target.elts) == len(args):
                for element, arg in zip(target.elts, args):
                    self._bind(element, items_of(self.evaluate(arg)), None, stmt)
                return
        self._bind(target, items_of(self.evaluate(iterable)), None, stmt)

    # -- expressions ----------------------------------------------------------------------------
    def evaluate(self, expr: Optional[ast.expr]) -> Optional[Taint]:
        if expr is None:
            return None
        try:
            return self._evaluate(expr)
        except RecursionError:
            return None  # a pathologically deep expression: nothing known

    def _evaluate(self, expr: ast.expr) -> Optional[Taint]:  # noqa: C901 - one dispatch over node kinds
        kind = type(expr)
        if kind is ast.Name:
            return self._name(expr.id)  # type: ignore[attr-defined]
        if kind is ast.Constant:
            return None
        if kind is ast.Attribute:
            return self._attribute(expr)  # type: ignore[arg-type]
        if kind is ast.Call:
            return self._call(expr)  # type: ignore[arg-type]
        if kind is ast.Subscript:
            return self._subscript(expr)  # type: ignore[arg-type]
        if kind is ast.BinOp:
            return self._binop(expr)  # type: ignore[arg-type]
        if kind is ast.UnaryOp:
            operand = self._evaluate(expr.operand)  # type: ignore[attr-defined]
            if not self.inside or isinstance(expr.op, ast.Not) or operand is None:  # type: ignore[attr-defined]
                return None
            return self._made(expr, TaintKind.TENSOR if operand.is_tensor else TaintKind.VALUE)
        if kind is ast.Compare:
            comparators = expr.comparators  # type: ignore[attr-defined]
            operands = [self._evaluate(expr.left)] + [self._evaluate(c) for c in comparators]  # type: ignore[attr-defined]
            if not self.inside or not any(operands):
                return None
            tensor = any(o is not None and o.is_tensor for o in operands)
            return self._made(expr, TaintKind.TENSOR if tensor else TaintKind.VALUE, integer=True)
        if kind is ast.BoolOp:
            result = None
            for value in expr.values:  # type: ignore[attr-defined]
                result = join(result, self._evaluate(value))
            return result
        if kind is ast.IfExp:
            self._evaluate(expr.test)  # type: ignore[attr-defined]
            return join(self._evaluate(expr.body), self._evaluate(expr.orelse))  # type: ignore[attr-defined]
        if kind in (ast.Tuple, ast.List):
            parts: List[Tuple[object, Optional[Taint]]] = []
            starred = any(isinstance(e, ast.Starred) for e in expr.elts)  # type: ignore[attr-defined]
            for index, element in enumerate(expr.elts):  # type: ignore[attr-defined]
                if isinstance(element, ast.Starred):
                    parts.append((ANY, items_of(self._evaluate(element.value))))
                else:
                    parts.append((ANY if starred else index, self._evaluate(element)))
            return holder(parts)
        if kind is ast.Dict:
            parts = []
            for key, value in zip(expr.keys, expr.values):  # type: ignore[attr-defined]
                taint = self._evaluate(value)
                if key is None:  # {**other}
                    if taint is not None and taint.kind is TaintKind.HOLDER:
                        parts.extend(taint.parts)
                    continue
                self._evaluate(key)
                parts.append((_constant_key(key), taint))
            return holder(parts)
        if kind in (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp):
            return self._comprehension(expr)
        if kind is ast.NamedExpr:
            taint = self._evaluate(expr.value)  # type: ignore[attr-defined]
            self._set(expr.target.id, taint)  # type: ignore[attr-defined]
            return taint
        if kind is ast.Starred or kind is ast.Await:
            return self._evaluate(expr.value)  # type: ignore[attr-defined]
        if kind is ast.Slice:
            for part in (expr.lower, expr.upper, expr.step):  # type: ignore[attr-defined]
                if part is not None:
                    self._evaluate(part)
            return None
        if kind in (ast.Yield, ast.YieldFrom):
            if expr.value is not None:  # type: ignore[attr-defined]
                self._evaluate(expr.value)  # type: ignore[attr-defined]
            return None
        return None

    def _name(self, name: str) -> Optional[Taint]:
        value = self.env.get(name, _MISSING)
        if value is not _MISSING:
            return value  # type: ignore[return-value]
        if name in self.parameters and name != self.self_name:
            return Taint(TaintKind.PARAMETER, symbol=(id(self.function), name), detached=None)
        return None

    def _attribute(self, expr: ast.Attribute) -> Optional[Taint]:
        key = dotted_name(expr)
        if key is not None and key in self.env:
            return self.env[key]
        attr = expr.attr
        if (
            key is not None
            and self.self_name is not None
            and isinstance(expr.value, ast.Name)
            and expr.value.id == self.self_name
            and self.self_name not in self.env
        ):
            if attr in self.facts._stored_attributes:
                return Taint(TaintKind.ATTRIBUTE, symbol=(id(self.class_node), attr), detached=None)
            return None
        receiver = self._evaluate(expr.value)
        if receiver is None or attr in _NOT_TENSOR_ATTRIBUTES:
            return None
        if receiver.kind is TaintKind.HOLDER:
            return receiver.part(attr)
        if attr == "data":
            return receiver if self.inside else receiver.with_flags(detached=True)
        if attr in _STRIDED_ATTRIBUTES or attr in ("real", "imag"):
            if self.inside and not receiver.is_concrete:
                return None
            return receiver.with_flags(strided=receiver.strided or attr in _STRIDED_ATTRIBUTES, detached=False)
        if receiver.kind is TaintKind.VALUE:
            return receiver  # `out.logits` of a model output made in inference mode
        if not receiver.is_concrete:
            return _extend(receiver, ("attr", attr))
        return None

    def _subscript(self, expr: ast.Subscript) -> Optional[Taint]:
        receiver = self._evaluate(expr.value)
        index = self._evaluate(expr.slice)
        if index is not None and not self.inside and (receiver is None or receiver.kind is not TaintKind.HOLDER):
            # `w[idx]`, `table[:, idx]`: an index tensor is saved to route the gradient back.
            positions = expr.slice.elts if isinstance(expr.slice, ast.Tuple) else [expr.slice]
            for position in positions:
                taint = self._evaluate(position) if position is not expr.slice else index
                if taint is not None and taint.kind is not TaintKind.HOLDER:
                    self._record(UseKind.INDEX, position, taint, expr, others=(expr.value,), detail="indexing")
        if receiver is None:
            if self.inside and index is not None and index.is_tensor:
                return self._made(expr)
            return None
        if receiver.kind is TaintKind.HOLDER:
            return receiver.part(_constant_key(expr.slice))
        if index is not None or _advanced_index(expr.slice):
            return self._made(expr) if self.inside else None  # advanced indexing copies
        if receiver.is_concrete:
            return receiver.with_flags(detached=False)
        return _extend(receiver, ("item", _constant_key(expr.slice)))

    def _binop(self, expr: ast.BinOp) -> Optional[Taint]:
        left = self._evaluate(expr.left)
        right = self._evaluate(expr.right)
        op = type(expr.op)
        if not self.inside:
            if op in (ast.Mult, ast.Div, ast.MatMult):
                symbol = _OPERATORS[op]
                if left is not None:
                    self._record(UseKind.OPERAND, expr.left, left, expr, others=(expr.right,), detail=f"'{symbol}'")
                if right is not None:
                    self._record(UseKind.OPERAND, expr.right, right, expr, others=(expr.left,), detail=f"'{symbol}'")
            return None
        if (left is not None and left.is_tensor) or (right is not None and right.is_tensor):
            # int tensor with int tensor (or with a number) stays integer; a symbolic operand may be a number
            integer = all(t is None or not t.is_concrete or t.integer for t in (left, right)) and op is not ast.Div
            return self._made(expr, integer=integer)
        if isinstance(expr.left, ast.Constant) and isinstance(expr.right, ast.Constant):
            return None
        return self._made(expr, TaintKind.VALUE)

    def _comprehension(self, expr) -> Optional[Taint]:
        saved = self.env
        self.env = dict(saved)
        try:
            for generator in expr.generators:
                items = items_of(self._evaluate(generator.iter))
                statement = self.info.stmt if self.info else expr
                self._bind(generator.target, items, None, statement)  # type: ignore[arg-type]
                for condition in generator.ifs:
                    self._evaluate(condition)
            if isinstance(expr, ast.DictComp):
                self._evaluate(expr.key)
                element = self._evaluate(expr.value)
            else:
                element = self._evaluate(expr.elt)
        finally:
            self.env = saved
        if self.inside and element is None:
            return None
        return holder([(ANY, element)])

    # -- calls ----------------------------------------------------------------------------------
    def _call(self, call: ast.Call) -> Optional[Taint]:  # noqa: C901 - the calls that matter, in turn
        func = call.func
        site = self.facts._walker.call_info.get(id(call))
        qualname = site.qualname if site is not None else None
        receiver: Optional[Taint] = None
        if isinstance(func, ast.Attribute) and qualname is None:
            receiver = self._evaluate(func.value)
        elif not isinstance(func, (ast.Name, ast.Attribute)):
            self._evaluate(func)
        positional: List[Optional[Taint]] = []
        expanded: List[Optional[Taint]] = []
        known_positions = True
        for arg in call.args:
            if isinstance(arg, ast.Starred):
                taint = self._evaluate(arg.value)
                positional.append(taint)
                if taint is not None and taint.kind is TaintKind.HOLDER and _indexed(taint):
                    expanded.extend(taint.part(i) for i in range(len(taint.parts)))
                elif known_positions:
                    known_positions = False
            else:
                taint = self._evaluate(arg)
                positional.append(taint)
                if known_positions:
                    expanded.append(taint)
        keywords: Dict[str, Optional[Taint]] = {}
        for keyword in call.keywords:
            taint = self._evaluate(keyword.value)
            if keyword.arg is not None:
                keywords[keyword.arg] = taint
                if keyword.arg == "out" and taint is not None:
                    self._record(UseKind.INPLACE, keyword.value, taint, call, detail="out=", detached_ok=False)
        if qualname is not None:
            return self._imported_call(call, qualname, positional, keywords)
        callee = self.facts._calls.callee(call, self.info) if self.info is not None else None  # type: ignore[arg-type]
        if callee is not None:
            # `obj.method(x)` and `obj(x)` (its forward) pass `self` first.
            method = implicit_arguments(callee, func) == 1
            called_object = callee.name == "forward" and not (isinstance(func, ast.Name) and func.id == "forward")
            bound = method or called_object
            if self.record and (any(t is not None for t in expanded) or any(t is not None for t in keywords.values())):
                self.facts._call_args[id(call)] = (tuple(expanded), keywords, bound)
            returned = self.facts._ensure(callee)
            result = _substitute(returned, callee, tuple(expanded), keywords, bound) if returned is not None else None
            if self.inside and result is None:
                return self._made(call, TaintKind.VALUE)
            return result
        if isinstance(func, ast.Name):
            name = func.id
            class_node = self.facts._calls.class_named(name) if name not in self.env else None
            if class_node is not None:
                return self._constructed(class_node, call, positional, keywords)
            if name in _PASS_THROUGH_BUILTINS and positional and name not in self.env:
                if name in ("max", "min") and len(positional) > 1:
                    result = None
                    for taint in positional:
                        result = join(result, taint)
                    return result if not self.inside else (self._made(call, TaintKind.VALUE) if result else None)
                items = items_of(positional[0])
                if name in ("next", "max", "min"):
                    return items
                return holder([(ANY, items)])
            if name == "getattr" and len(call.args) >= 2 and isinstance(call.args[1], ast.Constant):
                base = positional[0]
                if base is not None and base.kind is TaintKind.HOLDER:
                    return base.part(call.args[1].value)
                return None
            if name in _BUILTINS or name == "sum":
                if name in ("sum", "abs") and self.inside and positional and positional[0] is not None:
                    return self._made(call, TaintKind.VALUE)
                return None
        if isinstance(func, ast.Attribute):
            result = self._method(call, func, receiver, positional, keywords)
            if result is not _MISSING:
                return result  # type: ignore[return-value]
        # A call of an object: a module, a model, a callable passed in.
        arguments = list(zip(call.args, positional)) + [(kw.value, keywords.get(kw.arg or "")) for kw in call.keywords]
        for arg, taint in arguments:
            if taint is not None and not isinstance(arg, ast.Starred):
                self._record(UseKind.MODULE_INPUT, arg, taint, call, others=(func,), detail=short_source(func, 40))
        return self._made(call, TaintKind.VALUE) if self.inside else None

    def _method(self, call: ast.Call, func: ast.Attribute, receiver: Optional[Taint], positional, keywords):
        method = func.attr
        stmt = call
        if receiver is not None and receiver.kind is not TaintKind.HOLDER:
            if method in INPLACE_METHODS or (method.endswith("_") and method[:-1] in TENSOR_METHODS):
                self._record(UseKind.INPLACE, func.value, receiver, stmt, detail=f".{method}()")
                return receiver
            if method == "requires_grad_":
                if not call.args or _is_true(call.args[0]):
                    self._record(UseKind.REQUIRES_GRAD, func.value, receiver, stmt, detail=".requires_grad_()")
                return receiver
            if method in _NOT_TENSOR_METHODS:
                return None
            if method == "clone":
                return self._made(call, integer=receiver.integer) if self.inside else None
            if method == "detach":
                return receiver if self.inside else receiver.with_flags(detached=True)
            if method in _VIEW_METHODS or method in _STRIDED_METHODS:
                return receiver.with_flags(strided=receiver.strided or method in _STRIDED_METHODS, detached=False)
            if method in _SPLIT_METHODS:
                return holder([(ANY, receiver.with_flags(detached=False))])
            if method in _MAYBE_IDENTITY:
                if _converts_dtype(call) or (receiver.integer and method in _TO_FLOAT):
                    return self._made(call) if self.inside else None
                if method == "contiguous" and receiver.strided:
                    return self._made(call) if self.inside else None
                return receiver
            if method in _TO_INTEGER:
                if self.inside:
                    return self._made(call, integer=True)
                return receiver if receiver.integer else None  # a copy unless already that dtype
        if receiver is None and (method in INPLACE_METHODS or method == "requires_grad_"):
            return None  # an in-place update returns its (normal) receiver
        if receiver is not None and receiver.kind is TaintKind.HOLDER:
            if method in ("get", "pop", "setdefault") and call.args:
                return receiver.part(_constant_key(call.args[0]))
            if method in ("values", "copy"):
                return receiver if method == "copy" else holder([(ANY, receiver.part(ANY))])
            if method == "items":
                return holder([(ANY, holder([(1, receiver.part(ANY))]))])
        # Tensors into containers: `xs.append(t)`, `cache.update(d)`.
        if method in _CONTAINER_ADDS or method in _CONTAINER_EXTENDS:
            added = positional[-1] if positional else None
            if method == "update":
                added = added.part(ANY) if added is not None and added.kind is TaintKind.HOLDER else None
            elif method in _CONTAINER_EXTENDS:
                added = items_of(added)
            key = dotted_name(func.value)
            if added is not None and key is not None:
                current = receiver if receiver is not None and receiver.kind is TaintKind.HOLDER else None
                self._set(key, join(current, holder([(ANY, added)])))
                if self.info is not None:
                    self._maybe_store(key, holder([(ANY, added)]), self.info.stmt)
            return None
        # Ops that save an input for backward, written as methods.
        if not self.inside:
            if method in _SAVING_METHODS:
                if receiver is not None and receiver.kind is not TaintKind.HOLDER:
                    others = tuple(call.args)
                    self._record(UseKind.OPERAND, func.value, receiver, call, others=others, detail=f".{method}()")
                for arg, taint in zip(call.args, positional):
                    if taint is not None:
                        self._record(UseKind.OPERAND, arg, taint, call, others=(func.value,), detail=f".{method}()")
                return None
            if method in _INDEX_METHODS:
                index, expr = _argument(call, positional, keywords, *_INDEX_METHODS[method])
                if index is not None and expr is not None:
                    self._record(UseKind.INDEX, expr, index, call, others=(func.value,), detail=f".{method}()")
                return None
            if method == "log_prob":
                value, expr = _argument(call, positional, keywords, 0, "value")
                distribution = self._categorical_inputs(func.value)
                if value is not None and expr is not None and distribution is not None:
                    self._record(UseKind.INDEX, expr, value, call, others=distribution, detail="Categorical.log_prob()")
                return None
        if method in ("sample", "rsample") and self.inside:
            return self._made(call, integer=self._categorical_inputs(func.value) is not None)
        if receiver is not None and receiver.kind is not TaintKind.HOLDER:
            if self.inside:
                integer = method in INTEGER_METHODS
                tensor = (receiver.is_tensor and (method in TENSOR_METHODS or integer)) or method in _TORCH_ONLY_METHODS
                kind = TaintKind.TENSOR if tensor else TaintKind.VALUE
                return self._made(call, kind, integer=integer)
            if method in _SAVING_METHODS or method in TENSOR_METHODS or method in INTEGER_METHODS:
                return None
            return None
        if receiver is None and self.inside and (method in TENSOR_METHODS or method in INTEGER_METHODS):
            if method in _KEEPS_RECEIVER and not _converts_dtype(call):
                return None  # a view (or the tensor itself) of a normal tensor is a normal tensor
            return self._made(call, TaintKind.VALUE, integer=method in INTEGER_METHODS)
        if self._is_method_call(func):
            return self._made(call, TaintKind.VALUE) if self.inside else None
        return _MISSING

    def _is_method_call(self, func: ast.Attribute) -> bool:
        """`x.m(...)` is a method call unless `x.m` is itself a module (`self.decoder(x)`)."""
        key = dotted_name(func)
        walker = self.facts._walker
        if key is not None and (key in walker.assigned_from or key in walker.constructed_from):
            return False
        own = self.self_name
        if key is not None and own is not None and key.count(".") == 1 and key.startswith(own + "."):
            return False  # self.encoder(x): an attribute called, a submodule
        return True

    def _categorical_inputs(self, expr: ast.expr) -> Optional[Tuple[ast.expr, ...]]:
        """The logits/probs of `Categorical(logits=...)`, inline or assigned to a name here."""
        call = expr if isinstance(expr, ast.Call) else None
        if call is None and isinstance(expr, ast.Name):
            for statement in self.facts._walker.statements_of(self.function):
                stmt = statement.stmt
                if (
                    isinstance(stmt, ast.Assign)
                    and isinstance(stmt.value, ast.Call)
                    and any(isinstance(t, ast.Name) and t.id == expr.id for t in stmt.targets)
                ):
                    call = stmt.value
        if call is None:
            return None
        site = self.facts._walker.call_info.get(id(call))
        if site is None or site.qualname not in CATEGORICAL:
            return None
        return tuple(call.args) + tuple(kw.value for kw in call.keywords if kw.arg in ("logits", "probs"))

    def _imported_call(self, call: ast.Call, qualname: str, positional, keywords) -> Optional[Taint]:
        args = call.args
        if qualname.startswith("torch.nn.init.") and qualname.endswith("_") and positional and positional[0]:
            self._record(UseKind.INPLACE, args[0], positional[0], call, detail=qualname.rpartition(".")[2] + "()")
            return positional[0]
        if not self.inside:
            if qualname in _SAVING_FUNCTIONS:
                tensors = [a for a in args if not isinstance(a, ast.Constant)]
                for arg, taint in zip(args, positional):
                    if taint is not None and not isinstance(arg, ast.Starred):
                        others = tuple(a for a in tensors if a is not arg)
                        self._record(UseKind.OPERAND, arg, taint, call, others=others, detail=_short_name(qualname))
                return None
            if qualname in _INDEX_FUNCTIONS:
                position, source = _INDEX_FUNCTIONS[qualname]
                index, expr = _argument(call, positional, keywords, position, "index" if position else "input")
                if index is not None and expr is not None and len(args) > source:
                    self._record(UseKind.INDEX, expr, index, call, others=(args[source],), detail=_short_name(qualname))
                return None
            if qualname in SAVING_LOSS_FUNCTIONS:
                target, expr = _argument(call, positional, keywords, 1, "target")
                source = args[0] if args else next((kw.value for kw in call.keywords if kw.arg == "input"), None)
                if target is not None and expr is not None and source is not None:
                    detail = _short_name(qualname)
                    self._record(UseKind.LOSS_TARGET, expr, target, call, others=(source,), detail=detail)
                return None
            first = positional[0] if positional else None
            if first is not None and first.kind is not TaintKind.HOLDER:
                if qualname in _VIEW_FUNCTIONS or qualname in _STRIDED_FUNCTIONS:
                    detached = True if qualname == "torch.detach" else False
                    return first.with_flags(strided=first.strided or qualname in _STRIDED_FUNCTIONS, detached=detached)
                if qualname in _SPLIT_FUNCTIONS:
                    return holder([(ANY, first.with_flags(detached=False))])
            return None
        # In inference mode: what torch computes is an inference tensor.
        root = qualname.partition(".")[0]
        if root == "torch":
            if qualname.startswith("torch.nn.") and qualname.rpartition(".")[2][:1].isupper():
                return None  # a module
            if qualname in _SPLIT_FUNCTIONS or qualname in ("torch.meshgrid", "torch.broadcast_tensors"):
                return holder([(ANY, self._made(call))])
            if qualname in ("torch.stack", "torch.cat", "torch.concat", "torch.concatenate"):
                items = items_of(positional[0]) if positional else None
                return self._made(call, integer=items is not None and items.integer)
            integer = (
                qualname in INTEGER_FUNCTIONS
                or qualname in ("torch.randint", "torch.randperm", "torch.randint_like")
                or (qualname == "torch.arange" and _integer_arguments(call))
            )
            if qualname in CREATION_FUNCTIONS or returns_tensor(qualname) or integer:
                return self._made(call, integer=integer)
            return None
        if root in _NOT_TENSOR_ROOTS:
            return None
        return self._made(call, TaintKind.VALUE)

    def _constructed(self, class_node: ast.ClassDef, call: ast.Call, positional, keywords) -> Optional[Taint]:
        """An instance of a class defined here: its fields from the arguments (dataclass order)."""
        parts: List[Tuple[object, Optional[Taint]]] = [(name, taint) for name, taint in keywords.items()]
        fields = _dataclass_fields(class_node)
        for name, taint in zip(fields, positional):
            parts.append((name, taint))
        if not fields:
            init = self.facts._calls.method(class_node, "__init__")
            if init is not None:
                names = [a.arg for a in init.node.args.args[1:]]  # type: ignore[union-attr]
                stored = _init_stores(init)
                for name, taint in list(zip(names, positional)) + list(keywords.items()):
                    if taint is not None and name in stored:
                        parts.append((stored[name], taint))
        return holder(parts)

    # -- helpers --------------------------------------------------------------------------------
    def _made(self, node: ast.AST, kind: TaintKind = TaintKind.TENSOR, integer: bool = False) -> Taint:
        line = getattr(node, "lineno", 0)
        made = Made(line, getattr(node, "col_offset", 0), self._where(), self.function.name)
        return Taint(kind, made, integer=integer)

    def _where(self) -> str:
        if self.as_if is not None:
            return self.as_if
        assert self.info is not None
        region = self.info.region
        key = id(region)
        if key not in self._where_cache:
            self._where_cache[key] = region.describe()
        return self._where_cache[key]

    def _record(
        self,
        kind: UseKind,
        node: ast.expr,
        taint: Taint,
        op: ast.AST,
        others: Tuple[ast.expr, ...] = (),
        detail: str = "",
        detached_ok: bool = True,
    ) -> None:
        if not self.record or self.inside or self.info is None:
            return
        if not detached_ok and taint.detached:
            taint = taint.with_flags(detached=False)
        self.facts._use(InferenceUse(kind, self.info, node, taint, op, others, detail))


# -- small helpers -------------------------------------------------------------------------------
_OPERATORS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.MatMult: "@", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^",
}


def _is_true(expr: Optional[ast.expr]) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is True


def _is_generator(node: ast.AST) -> bool:
    stack = list(getattr(node, "body", []))
    while stack:
        current = stack.pop()
        if isinstance(current, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(current))
    return False


def _constant_key(expr: ast.expr) -> object:
    if isinstance(expr, ast.Constant) and isinstance(expr.value, (str, int)) and not isinstance(expr.value, bool):
        return expr.value
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub) and isinstance(expr.operand, ast.Constant):
        return ANY  # x[-1]: a position from the end
    return ANY


def _advanced_index(expr: ast.expr) -> bool:
    """An index that copies (a list, a mask, a tensor), not a view (ints, slices, None, ...)."""
    elements = expr.elts if isinstance(expr, ast.Tuple) else [expr]
    return any(isinstance(e, (ast.List, ast.Compare, ast.ListComp)) for e in elements)


def _indexed(taint: Taint) -> bool:
    return all(key == index for index, (key, _) in enumerate(taint.parts)) and bool(taint.parts)


def _argument(call: ast.Call, positional, keywords, position: int, keyword: str):
    """(taint, expression) of a call's argument, by position or keyword."""
    if keyword in keywords:
        expr = next(kw.value for kw in call.keywords if kw.arg == keyword)
        return keywords[keyword], expr
    if len(call.args) > position and not any(isinstance(a, ast.Starred) for a in call.args[: position + 1]):
        return positional[position], call.args[position]
    return None, None


def _converts_dtype(call: ast.Call) -> bool:
    """`.to(torch.float64)`, `.to(dtype=...)`, `.type(...)`: maybe a copy of another dtype."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in ("float", "double", "half", "bfloat16", "type", "type_as"):
        return func.attr in ("type", "type_as") and bool(call.args or call.keywords)
    if any(kw.arg == "dtype" for kw in call.keywords):
        return True
    return any(isinstance(a, ast.Attribute) and isinstance(a.value, ast.Name) and a.attr.startswith(
        ("float", "double", "half", "bfloat", "int", "long", "bool", "uint", "complex")) for a in call.args)


def _integer_arguments(call: ast.Call) -> bool:
    """`torch.arange(n)`: no float literal and no dtype, so the result is int64."""
    if call.keywords:
        return False
    return not any(isinstance(a, ast.Constant) and isinstance(a.value, float) for a in call.args)


def _short_name(qualname: str) -> str:
    return qualname.replace("torch.nn.functional.", "F.")


def _cache_guard(test: ast.expr, self_name: Optional[str]) -> Optional[str]:
    """'x' for `if self.x is None:`, `if not hasattr(self, "x"):`, `if key not in self.x:`, `if not self.x:`."""
    if self_name is None:
        return None
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
        for value in test.values:
            found = _cache_guard(value, self_name)
            if found:
                return found
        return None
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        operand = test.operand
        if isinstance(operand, ast.Call) and isinstance(operand.func, ast.Name) and operand.func.id == "hasattr":
            if len(operand.args) == 2 and isinstance(operand.args[1], ast.Constant):
                return str(operand.args[1].value)
        return _self_attribute(operand, self_name)
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        if isinstance(test.ops[0], ast.Is) and isinstance(test.comparators[0], ast.Constant):
            return _self_attribute(test.left, self_name)
        if isinstance(test.ops[0], ast.NotIn):
            return _self_attribute(test.comparators[0], self_name)
    return None


def _self_attribute(expr: ast.expr, self_name: str) -> Optional[str]:
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == self_name:
        return expr.attr
    return None


def _dataclass_fields(class_node: ast.ClassDef) -> List[str]:
    is_dataclass = any(
        (isinstance(d, ast.Name) and d.id == "dataclass")
        or (isinstance(d, ast.Attribute) and d.attr == "dataclass")
        or (isinstance(d, ast.Call) and getattr(d.func, "id", getattr(d.func, "attr", "")) == "dataclass")
        for d in class_node.decorator_list
    )
    if not is_dataclass:
        return []
    return [s.target.id for s in class_node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)]


def _init_stores(init: FunctionInfo) -> Dict[str, str]:
    """{parameter: attribute} for `self.attr = parameter` statements at the top of `__init__`."""
    stored = {}
    args = init.node.args.args  # type: ignore[union-attr]
    if not args:
        return stored
    self_name = args[0].arg
    for stmt in init.node.body:  # type: ignore[union-attr]
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.value, ast.Name):
            attribute = _self_attribute(stmt.targets[0], self_name)
            if attribute:
                stored[stmt.value.id] = attribute
    return stored


def _substitute(returned: Taint, callee: FunctionInfo, positional, keywords, bound: bool) -> Optional[Taint]:
    """A callee's return taint at a call: its parameters replaced by the call's arguments."""
    if returned.kind is TaintKind.HOLDER:
        return holder([(key, _substitute(part, callee, positional, keywords, bound)) for key, part in returned.parts])
    if returned.kind is not TaintKind.PARAMETER or returned.symbol[0] != id(callee):
        return returned
    name = returned.symbol[1]
    if name in keywords:
        actual = keywords[name]
    else:
        names = positional_parameters(callee)
        if bound and names:
            names = names[1:]
        index = names.index(name) if name in names else len(positional)
        actual = positional[index] if index < len(positional) else None
    if actual is None:
        return None
    if actual.is_concrete:
        return _apply(actual, returned)
    return actual.with_flags(
        path=actual.path + returned.path,
        detached=returned.detached if returned.detached is not None else actual.detached,
        strided=actual.strided or returned.strided,
    )


def _merge_envs(envs):
    live = [env for env in envs if env is not None]
    if not live:
        return None
    merged = dict(live[0])
    for env in live[1:]:
        for key in set(merged) | set(env):
            first = merged.get(key, _MISSING)
            second = env.get(key, _MISSING)
            if first is _MISSING or second is _MISSING:
                present = second if first is _MISSING else first
                if present is None:
                    merged.pop(key, None)  # untainted on one path, as on entry on the other
                else:
                    merged[key] = present
            else:
                merged[key] = join(first, second)  # type: ignore[arg-type]
    return merged


def _replace(env, new):
    if new is None:
        return None
    env.clear()
    env.update(new)
    return env
