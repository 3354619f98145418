"""Per-function value states of local names: does this value carry an autograd graph?

A flow-sensitive walk over each function's statements. Before a statement's effects apply, the
state of every name it reads is recorded, so rules can later ask for the state of any expression
at the point where it is evaluated. Branches and loops merge: a state survives only when every
path agrees, so an uncertain value is UNKNOWN and keeps the rules quiet.
"""
from __future__ import annotations

import ast
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

from .parameters import (
    GRAD_REQUIRING, LEAF, MODULE, VIEW_ATTRIBUTES, ParameterSources, frozen_parameter, indexed_tags, is_module_class,
    switches_requires_grad, view_tags,
)
from .model import (
    CALLED,
    CONSTANT,
    NONE,
    Kind,
    UNKNOWN,
    Graph,
    GradMode,
    Origin,
    OriginKind,
    Region,
    ValueState,
    combine_states,
    container,
    merge_items,
    merge_states,
)
from .limits import elif_chain

if TYPE_CHECKING:
    from .summaries import Summaries
from .resolve import CallResolver, _argument_for
from .structure import (
    CallSite, FunctionInfo, Reference, StatementInfo, StructureWalker, _parameter_names, assigned_targets, dotted_key,
    flatten_target, positional_parameters,
)

Env = Dict[str, ValueState]
TENSOR = ValueState(Graph.UNKNOWN, kind=Kind.TENSOR)
Lookup = Callable[[ast.Name], ValueState]

# torch factories: a fresh leaf without a graph unless requires_grad=True is passed.
CREATION_FUNCTIONS = frozenset(
    "torch." + name
    for name in (
        "tensor as_tensor from_numpy zeros ones empty full rand randn randint randperm arange range "
        "linspace logspace eye zeros_like ones_like empty_like full_like rand_like randn_like "
        "randint_like normal bernoulli multinomial"
    ).split()
)
# Legacy typed constructors (`torch.FloatTensor([1, 2])`, `torch.Tensor(3, 4)`).
_LEGACY_CONSTRUCTORS = frozenset(
    "torch." + name
    for name in "Tensor FloatTensor DoubleTensor HalfTensor LongTensor IntTensor ShortTensor ByteTensor BoolTensor".split()
)


def _is_literal(expr: ast.expr) -> bool:
    """A number, or a (nested) list or tuple of numbers: data, not a tensor."""
    if isinstance(expr, ast.Constant):
        return isinstance(expr.value, (int, float)) and not isinstance(expr.value, bool)
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
        return _is_literal(expr.operand)
    if isinstance(expr, (ast.List, ast.Tuple)):
        return all(_is_literal(element) for element in expr.elts)
    return False


# Tensor methods that return a new tensor computed from the receiver (and their arguments).
TENSOR_METHODS = frozenset(
    (
        "sum mean nansum nanmean prod std var norm logsumexp max min amax amin abs neg exp log log1p "
        "pow sqrt rsqrt square sin cos tanh sigmoid relu softmax log_softmax clamp clip view view_as "
        "reshape reshape_as squeeze unsqueeze flatten unflatten permute transpose t mT contiguous "
        "clone expand expand_as repeat narrow select index_select gather masked_fill masked_select "
        "add sub mul div true_divide matmul mm bmm dot mv addmm einsum roll flip chunk split unbind "
        "diagonal trace triu tril cumsum cumprod float double half bfloat16 to cpu cuda type type_as"
    ).split()
)
# Methods that may return the receiver itself (no copy), so under no_grad they keep its state.
MAYBE_IDENTITY_METHODS = frozenset("to cpu cuda float double half bfloat16 type type_as contiguous".split())
NUMBER_METHODS = frozenset(("item", "tolist"))
# Results with an integer or bool dtype, which never require grad (checked against torch).
INTEGER_METHODS = frozenset("argmax argmin argsort long int bool eq ne lt le gt ge".split())
INTEGER_FUNCTIONS = frozenset(
    "torch." + name
    for name in (
        "argmax argmin argsort eq ne gt lt ge le equal isnan isinf isfinite isclose allclose "
        "count_nonzero nonzero bucketize searchsorted bincount"
    ).split()
)
NUMBER_BUILTINS = frozenset(("float", "int", "len", "bool", "round"))
# Calls that hand back an object that already exists: no computation, state unknown.
LOOKUP_METHODS = frozenset(("get", "pop", "popitem", "setdefault", "popleft", "copy", "values", "items"))
LOOKUP_BUILTINS = frozenset(("getattr", "next", "iter", "max", "min", "sorted", "list", "tuple", "dict", "reversed"))
_MODEL_NAME = re.compile(
    r"(?i)(model|net$|net_|network|encoder|decoder|backbone|classifier|generator|discriminator|critic|transformer)"
)
# Callables named like a loss: `criterion`, `loss_fn`, `self.loss`, `ce_loss`.
# Tensor attributes that describe it rather than hold its values.
_TENSOR_METADATA = frozenset(
    "shape ndim dtype device requires_grad is_leaf grad_fn is_cuda layout is_sparse itemsize nbytes".split()
)
_LOSS_NAME = re.compile(r"(?i)(criterion|criteria|(^|_)loss(_?(fn|func|function))?$)")
# Functions that make or fetch a model rather than run it: `build_model(cfg)`, `load_model(path)`.
_PREDICATE_NAME = re.compile(r"(?i)^_*(is|has|can|should|uses?|num|n)_")
_MODEL_FACTORY_NAME = re.compile(r"(?i)^_*(build|get|load|create|make|init|setup|prepare|save|export|from)_")


class Evaluator:
    """Computes the ValueState of an expression, given the states of the names it reads."""

    def __init__(self, walker: StructureWalker, calls: CallResolver) -> None:
        self.resolver = walker.resolver
        self.calls = calls
        self._local_function_names = walker.resolver.function_names
        self._has_forward = "forward" in walker.resolver.function_names
        self.call_info: Dict[int, CallSite] = walker.call_info
        self._built_from_objects = walker.built_from_objects
        self.loss_modules: Set[str] = {
            key for key, callees in walker.assigned_from.items() if any(_is_loss_class(c) for c in callees)
        }
        self.model_keys: Set[str] = set()
        for receivers in walker.receivers_by_method.values():  # receivers of MODEL_METHODS
            self.model_keys |= receivers
        self.model_keys -= self.loss_modules
        # `self.fc = nn.Linear(...)` wherever it is assigned: a layer with parameters.
        layers = {
            key: callees
            for key, callees in walker.assigned_from.items()
            if "." in key and key not in walker.assigned_otherwise and key not in walker.constructed_from
            and all(_is_parameterized_module(callee) for callee in callees)
        }
        self.model_keys |= layers.keys()
        # Of those, the layers whose output is one tensor (an LSTM returns a tuple, a Sequential
        # whatever its last layer returns).
        self.tensor_layer_keys: Set[str] = {
            key for key, callees in layers.items() if not any(_returns_other_than_a_tensor(c) for c in callees)
        }
        # `self.rnn = nn.LSTM(...)`: the recurrent class, whose output is a known tuple (output,
        # state), every part with a graph. Attributes only: a plain name is keyed module-wide, and
        # another function's `rnn` may be a parameter holding anything.
        self.recurrent_layers: Dict[str, str] = {}
        for key, callees in walker.assigned_from.items():
            classes = {callee.rpartition(".")[2] for callee in callees if callee.startswith("torch.nn.")}
            if (
                "." in key and len(callees) == 1 and len(classes) == 1 and next(iter(classes)) in _RECURRENT_LAYERS
                and key not in walker.assigned_otherwise and key not in walker.constructed_from
            ):
                self.recurrent_layers[key] = next(iter(classes))
        self._constructed = walker.constructed_from
        self._walker = walker
        self._opaque: Optional[Set[str]] = None  # found on first use: most modules never ask
        self._pipeline_keys: Optional[Set[str]] = None
        # Functions and methods defined here (`self.model_of(x)`, `build(...)`) are not models,
        # unless named exactly like one (d2l's `def net(X): ...`).
        self.local_functions = {f.name for f in walker.functions if not _MODEL_NAME.fullmatch(f.name)}
        self.grad_enabling_functions = {
            function.name
            for function in walker.functions
            if function.decorator_region is not None and function.decorator_region.mode is GradMode.ON
        }
        self.parameters = ParameterSources(walker)
        # A weak reference to the function summaries (summaries.py), which hold this evaluator:
        # the analysis stays free of reference cycles.
        self.summaries: Optional[Callable[[], Optional["Summaries"]]] = None
        self.project: Optional[Any] = None  # a ProjectContext: helpers of other project modules
        # (function, region): evaluate that function's statements as if it ran in the region
        # (one call site's grad mode, ModuleAnalysis.state_when_called_from).
        self._assumed_base: Optional[Tuple[FunctionInfo, Region]] = None

    # -- object kinds (flow-insensitive) --------------------------------------------------------
    def is_loss_module(self, callee: ast.expr) -> bool:
        """`criterion = nn.CrossEntropyLoss()`, or a callable named like one (`loss_fn`, `self.criterion`)."""
        key = dotted_key(callee)
        if key is None:
            return False
        return key in self.loss_modules or bool(_LOSS_NAME.search(key.rpartition(".")[2]))

    def is_model(self, callee: ast.expr) -> bool:
        """A call of this object runs a model forward: `model(x)`, `self.net(x)`, `encoder(x)`."""
        key = dotted_key(callee)
        if key is None:
            return False
        if key in self._pipelines():
            return False  # an inference pipeline (transformers, diffusers, pyannote) guards its own forward
        if key in self.model_keys:
            return True
        if self.is_loss_module(callee):
            return False
        last = key.rpartition(".")[2]
        if last.endswith(_CLASS_SUFFIXES):
            return False  # `model_cls(**kwargs)`, `net_class(cfg)`: constructs a model, runs none
        if last[:1].isupper() or _MODEL_FACTORY_NAME.search(last) or last in self.local_functions:
            return False  # a class (`Model(cfg)` constructs) or a factory function
        if _PREDICATE_NAME.search(last):
            return False  # `model.is_bidirectional_decoder()`, `net.num_layers()`: a question, not a forward
        return bool(_MODEL_NAME.search(last))

    # -- expressions ----------------------------------------------------------------------------
    def evaluate(self, expr: ast.expr, statement: StatementInfo, lookup: Lookup) -> ValueState:
        try:
            state = self._evaluate(expr, statement, lookup)
        except RecursionError:
            return UNKNOWN  # a pathologically deep expression: its state is simply unknown
        collection = self.parameters.collection_tag(expr, lambda name: lookup(name).tags)
        return state.with_tags(collection) if collection else state

    def assumes_base_of(self, function: FunctionInfo) -> bool:
        return self._assumed_base is not None and self._assumed_base[0] is function

    def region_of(self, statement: StatementInfo) -> Region:
        """The statement's grad region; under `assume_base`, the assumed one for that function."""
        assumed = self._assumed_base
        if assumed is not None and statement.local is None and statement.function is assumed[0]:
            return assumed[1]
        return statement.region

    def _evaluate(self, expr: ast.expr, statement: StatementInfo, lookup: Lookup) -> ValueState:
        region = statement.region if self._assumed_base is None else self.region_of(statement)
        if region.mode is GradMode.OFF:
            return self._evaluate_off(expr, statement, region, lookup)
        state = self._evaluate_on(expr, statement, lookup)
        if region.mode is GradMode.UNKNOWN and state.graph is Graph.HAS_GRAPH:
            return UNKNOWN
        return state

    def _evaluate_off(self, expr: ast.expr, statement: StatementInfo, region: Region, lookup: Lookup) -> ValueState:
        """With grad disabled, whatever is computed has no graph; what is merely looked up keeps its state."""
        if isinstance(expr, ast.Name):
            return lookup(expr)
        if isinstance(expr, ast.Constant):
            return NONE if expr.value is None else CONSTANT
        if isinstance(expr, ast.Compare):
            return _integer(statement, "a comparison")
        if isinstance(expr, ast.IfExp):
            return merge_states(
                self._evaluate_off(expr.body, statement, region, lookup),
                self._evaluate_off(expr.orelse, statement, region, lookup),
            )
        if isinstance(expr, ast.Attribute):
            if expr.attr == "data":
                return self._data_of(expr, statement, lookup)
            stored = self._stored_attribute(expr, statement, lookup)
            if stored is not None:
                return stored  # looked up, not computed: it keeps the state it was stored with
            parameter = self._parameter_attribute(expr, statement, lookup)
            if parameter is not None:
                return parameter  # a parameter under no_grad too
            receiver = self._evaluate_off(expr.value, statement, region, lookup).operand
            return receiver if receiver.is_no_graph else UNKNOWN
        if type(expr) in _COMPREHENSIONS:
            return self._comprehension(expr, statement, lookup, lambda e, lk: self._evaluate_off(e, statement, region, lk))
        if type(expr) in _DISPLAYS:
            return _display(expr, lambda e: self._evaluate_off(e, statement, region, lookup))
        if isinstance(expr, ast.Subscript):
            receiver = self._evaluate_off(expr.value, statement, region, lookup).operand
            element = _indexed(receiver, expr)
            if element is not None:
                return element
            if receiver.is_no_graph:
                return ValueState(Graph.NO_GRAPH, receiver.origin)
            return UNKNOWN
        if isinstance(expr, (ast.BinOp, ast.UnaryOp)):
            operands = [expr.left, expr.right] if isinstance(expr, ast.BinOp) else [expr.operand]
            if all(isinstance(operand, ast.Constant) for operand in operands):
                return CONSTANT
            return _computed_off(statement, region)
        if isinstance(expr, ast.Call):
            special = self._special_call(expr, statement, lookup)
            if special is not None:
                return special
            func = expr.func
            if isinstance(func, ast.Attribute) and self._qualname(expr) is None:
                if func.attr in MAYBE_IDENTITY_METHODS:
                    receiver = self._evaluate_off(func.value, statement, region, lookup)
                    return receiver if receiver.is_no_graph else UNKNOWN
                if func.attr in LOOKUP_METHODS:
                    return UNKNOWN
            if isinstance(func, ast.Name) and (
                func.id in LOOKUP_BUILTINS or func.id in self.grad_enabling_functions
            ):
                return UNKNOWN
            return _computed_off(statement, region)
        return UNKNOWN

    def _evaluate_on(self, expr: ast.expr, statement: StatementInfo, lookup: Lookup) -> ValueState:
        # Type dispatch, commonest first: this runs for every expression the value flow meets.
        kind = type(expr)
        if kind is ast.Name:
            state = lookup(expr)  # type: ignore[arg-type]
            if state.graph is Graph.UNKNOWN and self.resolver.qualname(expr, statement.scope) is not None:
                return CONSTANT  # an imported object: torch.float32, a module, a function
            return state
        if kind is ast.Call:
            return self._call_on(expr, statement, lookup)  # type: ignore[arg-type]
        if kind is ast.Attribute:
            attr = expr.attr  # type: ignore[attr-defined]
            if attr == "data":
                return self._data_of(expr, statement, lookup)  # type: ignore[arg-type]
            if attr == "grad":
                return UNKNOWN
            if self.resolver.qualname(expr, statement.scope) is not None:
                return CONSTANT  # torch.float32, torch.device
            stored = self._stored_attribute(expr, statement, lookup)  # type: ignore[arg-type]
            if stored is not None:
                return stored
            parameter = self._parameter_attribute(expr, statement, lookup)  # type: ignore[arg-type]
            if parameter is not None:
                return parameter
            if attr in _TENSOR_METADATA:
                # What a tensor says about itself carries no graph: `out.shape[0]`, `out.dtype`.
                return _number(statement, "." + attr) if attr in ("shape", "ndim") else CONSTANT
            receiver = self._evaluate_on(expr.value, statement, lookup).operand  # type: ignore[attr-defined]
            if attr in VIEW_ATTRIBUTES and receiver.tags:
                return _viewed(receiver, attr)  # `w.T`: a view of w
            return UNKNOWN if receiver.is_container else _without_tags(receiver)
        if kind is ast.Constant:
            return NONE if expr.value is None else CONSTANT  # type: ignore[attr-defined]
        if kind is ast.BinOp:
            return combine_states(
                self._evaluate_on(expr.left, statement, lookup), self._evaluate_on(expr.right, statement, lookup)  # type: ignore[attr-defined]
            )
        if kind is ast.Subscript:
            receiver = self._evaluate_on(expr.value, statement, lookup).operand  # type: ignore[attr-defined]
            if receiver.tags:
                tags = indexed_tags(receiver.tags, expr.slice)  # type: ignore[attr-defined]
                if tags is not None:  # `params[0]` of a parameter list, `w[:, 0]` of a parameter
                    return receiver if tags == receiver.tags else TENSOR.with_tags(*tags)
            element = _indexed(receiver, expr)  # type: ignore[arg-type]
            return element if element is not None else _without_tags(receiver)
        if kind in _COMPREHENSIONS:
            return self._comprehension(expr, statement, lookup, lambda e, lk: self._evaluate_on(e, statement, lk))  # type: ignore[arg-type]
        if kind in _DISPLAYS:
            return _display(expr, lambda e: self._evaluate_on(e, statement, lookup))
        if kind is ast.Compare:
            return _integer(statement, "a comparison")
        if kind is ast.UnaryOp:
            return combine_states(self._evaluate_on(expr.operand, statement, lookup))  # type: ignore[attr-defined]
        if kind is ast.IfExp:
            return merge_states(
                self._evaluate_on(expr.body, statement, lookup), self._evaluate_on(expr.orelse, statement, lookup)  # type: ignore[attr-defined]
            )
        return UNKNOWN

    def _call_on(self, call: ast.Call, statement: StatementInfo, lookup: Lookup) -> ValueState:
        special = self._special_call(call, statement, lookup)
        if special is not None:
            return special
        func = call.func
        qualname = self._qualname(call)
        if qualname is not None:
            if qualname.startswith("torch.nn.") and qualname.rpartition(".")[2][:1].isupper():
                # constructing a module: its `.weight` is a parameter (`head = nn.Linear(...)`)
                return UNKNOWN.with_tags(MODULE) if is_module_class(qualname) else UNKNOWN
            if is_loss_function(qualname):
                return self._loss_call(call, statement, lookup).of_kind(Kind.TENSOR)
            if qualname.startswith("torch."):
                state = combine_states(*self._argument_states(call, statement, lookup))
                if _returns_indices(qualname.rpartition(".")[2], call, 1) and qualname.count(".") == 1:
                    return _values_and_indices(state, statement, qualname + "()")  # `_, idx = torch.topk(out, 1)`
                if qualname in _SPLITTING_FUNCTIONS:
                    return container(state.of_kind(Kind.TENSOR))  # a tuple of views of the input
                return state.of_kind(Kind.TENSOR) if returns_tensor(qualname) else state.of_kind(Kind.UNKNOWN)
            project = self.project
            if project is not None:
                helper = project.function(qualname)
                returned = helper.returns if helper is not None else None
                if returned is not None and (
                    returned.graph is not Graph.UNKNOWN or returned.elements is not None or returned.tags & GRAD_REQUIRING
                ):
                    return _as_returned(returned, helper.name, statement)  # type: ignore[union-attr]
            return CALLED  # an imported function: it may run a model
        tensor_method = isinstance(func, ast.Attribute) and func.attr in _VALUE_METHODS
        # A tensor method is decided at once, unless a local function shares its name (then its
        # summary, when the receiver resolves to it, comes first).
        if tensor_method and func.attr not in self._local_function_names:  # type: ignore[attr-defined]
            return self._tensor_method(call, statement, lookup)
        returned = self._returned_by_local_function(call, statement)
        if returned is not None:
            return returned
        if tensor_method:
            return self._tensor_method(call, statement, lookup)
        if isinstance(func, ast.Attribute):
            if func.attr == "forward" and self.is_model(func.value):
                return _grad_on(statement)
        if isinstance(func, ast.Name) and func.id in NUMBER_BUILTINS:
            return _number(statement, func.id + "()")
        if isinstance(func, ast.Name) and func.id in ("min", "max") and len(call.args) >= 2 and not call.keywords:
            number = self._number_compared(call, statement, lookup)
            if number is not None:
                return number
        if isinstance(func, ast.Name) and func.id in _CONTAINER_BUILTINS and len(call.args) == 1 and not call.keywords:
            argument = self._evaluate_on(call.args[0], statement, lookup)
            if argument.kind is Kind.MAPPING:
                return UNKNOWN  # sum(d), list(d): over its keys
            if func.id == "sum":
                # sum(losses): a computation over what the container holds; one graph-carrying
                # value among them gives the sum a graph.
                held = argument.item.operand if argument.is_container and argument.item is not None else argument
                if held.graph is Graph.UNKNOWN and argument.graph is Graph.HAS_GRAPH:
                    held = ValueState(Graph.HAS_GRAPH, argument.origin)
                return combine_states(held, CONSTANT)
            return container(argument.item, argument.elements, argument) if argument.is_container else UNKNOWN
        if self.is_loss_module(func):
            if isinstance(func, ast.Name) and func.id in self._local_function_names and (
                self.calls.callee(call, statement) is not None
            ):
                # A function of the module named like a loss (`def compute_loss(obs, act, w)`):
                # its body, not its name, says what it returns, and its summary did not tell.
                return CALLED.of_kind(Kind.TENSOR)
            loss = self._loss_call(call, statement, lookup)
            key = dotted_key(func)
            if loss.is_no_graph and key not in self.loss_modules and key in self._built_from_objects:
                # Named like a loss, of a class not known to be torch's, built from objects: it may
                # own networks (a critic's value loss), whose parameters give its result a graph.
                return CALLED.of_kind(Kind.TENSOR)
            return loss.of_kind(Kind.TENSOR)
        if isinstance(func, ast.Name) and func.id in _parameter_names(statement.function):
            handed = self._returned_by_callbacks(call, statement)
            if handed is not None:
                return handed
        if self.recurrent_layers:
            key = dotted_key(func)
            recurrent = self.recurrent_layers.get(key) if key is not None else None
            if recurrent is not None and not self.parameters.is_frozen(key, through_self=False, within=statement.function):
                return _recurrent_output(recurrent, _grad_on(statement))
        if self.is_model(func):
            key = dotted_key(func)
            if key in self._opaque_objects():
                # An object known only by its name: its call has the graph of an operand that has
                # one (`cost_model(x)` with x requiring grad), and is unknown otherwise.
                operands = self._argument_states(call, statement, lookup)
                if any(o.graph in (Graph.HAS_GRAPH, Graph.SILENCED) or o.tags & GRAD_REQUIRING for o in operands):
                    return _grad_on(statement)
                return combine_states(CALLED, *operands)
            # `self.fc = nn.Linear(...)`: a layer whose output is one tensor (not an LSTM's tuple).
            kind = Kind.TENSOR if key in self.tensor_layer_keys else Kind.UNKNOWN
            if key is not None and "." in key and self.parameters.is_frozen(key, through_self=False, within=statement.function):
                # A frozen model (requires_grad_(False)) records a graph only from its inputs.
                return combine_states(*self._argument_states(call, statement, lookup)).of_kind(kind)
            return _grad_on(statement).of_kind(kind)
        if isinstance(func, ast.Name) and self.parameters.constructs_module(self.calls.class_named(func.id)):
            return CALLED.with_tags(MODULE)  # `block = Block()` of a local nn.Module subclass
        return CALLED

    def _special_call(self, call: ast.Call, statement: StatementInfo, lookup: Lookup) -> Optional[ValueState]:
        """Calls whose result state does not depend on grad mode."""
        qualname = self._qualname(call)
        if qualname == "torch.nn.Parameter":
            # Always a leaf that requires grad, under a guard too (unless requires_grad=False).
            return TENSOR if frozen_parameter(call) else TENSOR.with_tags("parameter")
        if qualname == "torch.autograd.grad" and not any(
            kw.arg == "create_graph" and not (isinstance(kw.value, ast.Constant) and not kw.value.value)
            for kw in call.keywords
        ):
            return ValueState(
                Graph.NO_GRAPH,
                Origin(OriginKind.GRADIENT, statement.stmt.lineno, detail="torch.autograd.grad()", statement=statement.stmt),
                kind=Kind.TENSOR,  # a tuple of tensors: `[0]` and unpacking give tensors
            )
        if qualname == "torch.autograd.Variable" and call.args:
            # A no-op wrapper since PyTorch 0.4; `requires_grad=True` switches it on like requires_grad_().
            wrapped = self.evaluate(call.args[0], statement, lookup)
            if any(kw.arg == "requires_grad" and _is_true(kw.value) for kw in call.keywords):
                if wrapped.graph is Graph.CONSTANT:
                    return TENSOR.with_tags(LEAF)  # `Variable(torch.FloatTensor([2, 3]), requires_grad=True)`
                return silenced(wrapped, statement.stmt)
            return wrapped
        if qualname in _LEGACY_CONSTRUCTORS and call.args and all(_is_literal(arg) for arg in call.args):
            # `torch.FloatTensor([[2, 3]])`, `torch.Tensor(3, 4)`: a new tensor without requires_grad
            # (handed a tensor, the legacy constructor aliases it, graph and all).
            return ValueState(
                Graph.NO_GRAPH,
                Origin(OriginKind.CREATED, statement.stmt.lineno, detail=qualname + "()", statement=statement.stmt),
                kind=Kind.TENSOR,
            )
        if qualname in CREATION_FUNCTIONS:
            # `torch.tensor(loss.item())`: a copy of numbers read out of a tensor, not a new quantity.
            read_out = self._numbers_read_out(call, qualname, statement, lookup)
            created = Origin(
                OriginKind.CREATED, statement.stmt.lineno, detail=qualname + "()", statement=statement.stmt, cause=read_out
            )
            if any(kw.arg == "requires_grad" and _is_true(kw.value) for kw in call.keywords):
                if read_out is not None:
                    return silenced(ValueState(Graph.NO_GRAPH, created, kind=Kind.TENSOR), statement.stmt)
                return TENSOR.with_tags("requires_grad_leaf")
            if any(kw.arg is None or (kw.arg == "requires_grad" and not isinstance(kw.value, ast.Constant)) for kw in call.keywords):
                # `torch.zeros(*sizes, **kwargs)` in a helper, `requires_grad=flag`: the caller may
                # ask for a leaf that requires grad.
                return TENSOR
            return ValueState(Graph.NO_GRAPH, created, kind=Kind.TENSOR)
        if qualname in INTEGER_FUNCTIONS:
            return _integer(statement, qualname + "()")
        func = call.func
        if qualname is None and isinstance(func, ast.Attribute):
            if func.attr in INTEGER_METHODS:
                return _integer(statement, "." + func.attr + "()")
            if func.attr == "detach":
                inner = func.value
                if type(inner) is ast.Call and isinstance(inner.func, ast.Attribute) and inner.func.attr == "clone":  # type: ignore[attr-defined]
                    return _copied(statement, ".clone().detach()")
                return _detached(statement)
            if func.attr in NUMBER_METHODS:
                return _number(statement, "." + func.attr + "()")
            if func.attr == "requires_grad_":
                receiver = self.evaluate(func.value, statement, lookup)
                if not call.args or _is_true(call.args[0]):
                    return silenced(receiver, statement.stmt)
                return receiver
        return None

    def _stored_attribute(self, expr: ast.Attribute, statement: StatementInfo, lookup: Lookup) -> Optional[ValueState]:
        """`self.cache`: what every `self.cache = ...` of the module stores, or a property's return;
        the same for `obj.cache` when `obj` is known to be an instance of a class defined here
        (`obj = Cache()`, or `m` after `isinstance(m, Cache)`)."""
        receiver = expr.value
        if type(receiver) is not ast.Name:
            return None
        getter = None
        if receiver.id != "self":  # type: ignore[attr-defined]
            if receiver.id in self._constructed:  # type: ignore[attr-defined]
                known = self.calls.class_of(receiver, statement, through_parameters=False) is not None
            else:
                known = any(tag.startswith(INSTANCE_TAG) for tag in lookup(receiver).tags)  # type: ignore[arg-type]
            if not known:
                return None
        summaries = self.summaries() if self.summaries is not None else None
        if summaries is None:
            return None
        if receiver.id == "self":  # type: ignore[attr-defined]
            getter = self._property_getter(expr.attr, statement)
        state = summaries.returned(getter) if getter is not None else summaries.attribute(expr.attr)
        if state is None or (state.graph is Graph.UNKNOWN and state.kind is not Kind.OPTIONAL):
            return None
        return state

    def _comprehension(
        self,
        expr: ast.expr,
        statement: StatementInfo,
        lookup: Lookup,
        evaluate: Callable[[ast.expr, Lookup], ValueState],
    ) -> ValueState:
        """`[h(x) for h in heads if ...]`: a container of the element; the comprehension's own
        names hold what they iterate over (a list's items), narrowed by `isinstance` filters."""
        bound: Dict[str, ValueState] = {}

        def inner(name: ast.Name) -> ValueState:
            state = bound.get(name.id)
            return state if state is not None else lookup(name)

        for generator in expr.generators:  # type: ignore[attr-defined]
            _bind_names(generator.target, _iterated(evaluate(generator.iter, inner)), bound)
            for condition in generator.ifs:
                narrowed = self.narrowed_instance(condition, statement)
                if narrowed is not None and narrowed[0] in bound:
                    bound[narrowed[0]] = bound[narrowed[0]].with_tags(narrowed[1])
        if isinstance(expr, ast.DictComp):
            return container(evaluate(expr.value, inner), kind=Kind.MAPPING)
        return container(evaluate(expr.elt, inner))  # type: ignore[attr-defined]

    def narrowed_instance(self, test: ast.expr, statement: StatementInfo) -> Optional[Tuple[str, str]]:
        """('m', tag) for `isinstance(m, Router)` with `Router` a class defined here: where the
        test holds, `m` is a Router, and `m.attr` reads what Router's methods store in it."""
        if not (
            type(test) is ast.Call
            and type(test.func) is ast.Name  # type: ignore[attr-defined]
            and test.func.id == "isinstance"  # type: ignore[attr-defined]
            and len(test.args) == 2  # type: ignore[attr-defined]
            and type(test.args[0]) is ast.Name  # type: ignore[attr-defined]
            and type(test.args[1]) is ast.Name  # type: ignore[attr-defined]
        ):
            return None
        class_name = test.args[1]  # type: ignore[attr-defined]
        if self.resolver.qualname(class_name, statement.scope) is not None or self.calls.class_named(class_name.id) is None:
            return None
        return test.args[0].id, INSTANCE_TAG + class_name.id  # type: ignore[attr-defined]

    def _property_getter(self, name: str, statement: StatementInfo) -> Optional[FunctionInfo]:
        class_node = self.calls.enclosing_class(statement.function)
        method = self.calls.method(class_node, name) if class_node is not None else None
        if method is None or not any(
            isinstance(d, ast.Name) and d.id == "property" for d in method.node.decorator_list  # type: ignore[union-attr]
        ):
            return None
        return method

    def _numbers_read_out(
        self, call: ast.Call, qualname: str, statement: StatementInfo, lookup: Lookup
    ) -> Optional[Origin]:
        """For `torch.tensor(data)`: where `data` was read out of a tensor as Python numbers
        (`.item()`, `.tolist()`, a list of them), else None."""
        if qualname not in ("torch.tensor", "torch.as_tensor") or not call.args:
            return None
        data = self.evaluate(call.args[0], statement, lookup)
        if data.is_container and data.item is not None:
            data = data.item.operand
        origin = data.origin  # arithmetic over numbers (`sum(values) / n`) keeps the first one's origin
        if data.is_no_graph and origin is not None and origin.kind is OriginKind.NUMBER:
            return origin
        return None

    def _pipelines(self) -> Set[str]:
        """Names bound to a pipeline object (`transformers.pipeline(...)`, `Pipeline.from_pretrained`,
        `StableDiffusionPipeline(...)`): their `__call__` runs the models under no_grad or
        inference_mode (diffusers decorates it, transformers and pyannote enter one)."""
        if self._pipeline_keys is None:
            self._pipeline_keys = {
                key for key, callees in self._walker.assigned_from.items()
                if callees and all(_makes_a_pipeline(callee) for callee in callees)
            }
        return self._pipeline_keys

    def is_opaque_object(self, expr: ast.expr) -> bool:
        """An object named like a model, made by a class from outside the torch ecosystem, and
        nothing here says it holds parameters (see `_opaque_objects`)."""
        key = dotted_key(expr)
        return key is not None and key in self._opaque_objects()

    def _opaque_objects(self) -> Set[str]:
        """`cost_model = AffineCostModel(...)` of a class from a package outside the torch ecosystem,
        never trained, switched, optimised or given a state dict here: named like a model, but
        nothing says it holds parameters, so calling it proves no graph (only its inputs may)."""
        if self._opaque is None:
            walker = self._walker
            loaded = {
                dotted_key(site.node.func.value)  # type: ignore[attr-defined]
                for site in walker.calls
                if site.method_name == "load_state_dict" and isinstance(site.node.func, ast.Attribute)
            }
            self._opaque = {
                key
                for key, callees in walker.assigned_from.items()
                if key not in self.model_keys and key not in walker.constructed_from and key not in loaded
                and all(_constructs_opaque_object(callee) for callee in callees)
            }
            self._opaque |= self._annotated_opaque_attributes(loaded)
        return self._opaque

    def _annotated_opaque_attributes(self, loaded: Set[str]) -> Set[str]:
        """`self._model = model` in `__init__(self, model: Model)`, where `Model` is a class from
        outside the torch ecosystem (a tabular environment model, a simulator): as opaque as
        an object constructed from that class here."""
        walker = self._walker
        found: Set[str] = set()
        stores: Dict[str, int] = {}
        for statement in walker.statements:
            stmt = statement.stmt
            for assigned in assigned_targets(stmt):
                for target in flatten_target(assigned):
                    key = dotted_key(target)
                    if key is not None:
                        stores[key] = stores.get(key, 0) + 1
        for statement in walker.statements:
            stmt = statement.stmt
            if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.value, ast.Name)):
                continue
            key = dotted_key(stmt.targets[0])
            if key is None or not key.startswith("self.") or key in self.model_keys or key in loaded:
                continue
            if stores.get(key) != 1:
                continue  # assigned something else elsewhere
            function = statement.function
            arguments = getattr(function.node, "args", None)
            if arguments is None:
                continue
            for argument in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs):
                if argument.arg == stmt.value.id and argument.annotation is not None:
                    qualname = walker.resolver.qualname(argument.annotation, function.scope)
                    if qualname is not None and _constructs_opaque_object(qualname):
                        found.add(key)
        return found

    def _parameter_attribute(self, expr: ast.Attribute, statement: StatementInfo, lookup: Lookup) -> Optional[ValueState]:
        """`block.ffn_out.weight`: a parameter, so that an alias of it is one too (`w = ...weight`)."""
        parameters = self.parameters
        if expr.attr not in parameters.attribute_names():
            return None
        kind = parameters.attribute_kind(expr, statement, self, lambda name: lookup(name).tags)
        return TENSOR.with_tags(kind) if kind is not None else None

    def _tensor_method(self, call: ast.Call, statement: StatementInfo, lookup: Lookup) -> ValueState:
        """`x.sum()`, `x.view(...)`: computed from the receiver and the arguments; a tensor only
        when the receiver is known to be one."""
        receiver = self._evaluate_on(call.func.value, statement, lookup).operand  # type: ignore[attr-defined]
        if call.func.attr == "clone" and receiver.is_no_graph and receiver.origin is not None:  # type: ignore[attr-defined]
            if receiver.origin.kind is OriginKind.DETACH:
                return _copied(statement, ".detach().clone()")  # a fresh copy, a leaf of its own
        state = combine_states(receiver, *self._argument_states(call, statement, lookup))
        if _returns_indices(call.func.attr, call, 0, receiver.is_tensor):  # type: ignore[attr-defined]
            return _values_and_indices(state, statement, "." + call.func.attr + "()")  # type: ignore[attr-defined]
        if not receiver.is_tensor:
            return state.of_kind(Kind.UNKNOWN)
        if call.func.attr in _SPLITTING_METHODS:  # type: ignore[attr-defined]
            return container(state)  # `mu, logvar = h.chunk(2, -1)`: every part is a view of h
        if receiver.tags:
            tags = view_tags(call.func.attr, receiver.tags)  # type: ignore[attr-defined]
            if tags:
                return state.with_tags(*tags)  # `b = conv.bias.view(3, -1)`: written through to the bias
        return state

    def _data_of(self, expr: ast.Attribute, statement: StatementInfo, lookup: Lookup) -> ValueState:
        """`x.data` is `Tensor.data` (detached) only when `x` is known to be a tensor."""
        receiver = self._evaluate_on(expr.value, statement, lookup)
        return _detached(statement) if receiver.is_tensor else UNKNOWN

    def _returned_by_local_function(self, call: ast.Call, statement: StatementInfo) -> Optional[ValueState]:
        """What a call of a function or method defined here returns, from its summary; None when the
        callee is unknown or its result is (then name heuristics may still decide)."""
        func = call.func
        named = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if named not in self._local_function_names and not self._has_forward:
            return None  # cannot be a function of this module: the common case, decided at once
        summaries = self.summaries() if self.summaries is not None else None
        if summaries is None:
            return None
        callee = self.calls.callee(call, statement)
        if callee is None:
            return None
        returned = summaries.returned_at(callee, call, isinstance(func, ast.Attribute) or callee.name == "forward", statement)
        if returned is None or (
            returned.graph is Graph.UNKNOWN and returned.elements is None and not returned.tags & GRAD_REQUIRING
        ):
            return None
        return _as_returned(returned, callee.name, statement)

    def _returned_by_callbacks(self, call: ast.Call, statement: StatementInfo) -> Optional[ValueState]:
        """`classifier_fn(xs)` of a parameter that every caller of the function binds to a local
        function or method (`get_accuracy(loader, vae.classifier)`): what those return. None when
        some caller hands over anything else, or a summary is unknown."""
        function = statement.function
        name = call.func.id  # type: ignore[attr-defined]
        callers = self.calls.callers().get(id(function), [])
        summaries = self.summaries() if self.summaries is not None else None
        if not callers or summaries is None or function.is_method:
            return None
        positional = positional_parameters(function)
        index = positional.index(name) if name in positional else None
        state: Optional[ValueState] = None
        for reference in callers:
            if reference.call is None:
                return None  # passed on as a callback: its arguments are not visible
            argument = _argument_for(reference.call, name, index, False)
            if isinstance(argument, ast.Name):
                handed = self.calls.function_named(argument.id, reference.statement)
            elif isinstance(argument, ast.Attribute):
                handed = self.calls.callee_of(Reference(argument.attr, True, reference.statement, argument.value))
            else:
                return None
            returned = summaries.returned(handed) if handed is not None else None
            if returned is None or returned.graph is Graph.UNKNOWN:
                return None
            state = returned if state is None else merge_states(state, returned)
        return _as_returned(state, name, statement) if state is not None else None

    def _number_compared(self, call: ast.Call, statement: StatementInfo, lookup: Lookup) -> Optional[ValueState]:
        """`min(max(v.item(), low), high)`: clamping a Python number read out of a tensor gives a
        Python number, when no other argument is known to be a tensor or to carry a graph."""
        states = [self._evaluate_on(arg, statement, lookup).operand for arg in call.args]
        numbers = [state for state in states if state.kind is Kind.NUMBER]
        if not numbers or any(state.is_tensor or state.graph is Graph.HAS_GRAPH for state in states):
            return None
        return numbers[0]

    def _loss_call(self, call: ast.Call, statement: StatementInfo, lookup: Lookup) -> ValueState:
        """A loss follows its input (first argument): targets come from data and carry no graph."""
        states = self._argument_states(call, statement, lookup)
        # A target the analysis cannot see is data (a loader's labels) unless it may be a model's
        # output (`F.mse_loss(returns, agent.value(obs))` has the graph of its second operand) or is
        # a tensor that requires grad: `crit(x=a, y=b)` with `b = randn(..., requires_grad=True)`
        # records a graph from b, positional or keyword alike.
        if states and states[0].graph in (Graph.NO_GRAPH, Graph.SILENCED) and not any(
            s.may_have_graph or s.tags & GRAD_REQUIRING for s in states[1:]
        ) and not self._target_handed_in(call, statement, lookup):
            return ValueState(states[0].graph, states[0].origin)
        return combine_states(*states)

    def _target_handed_in(self, call: ast.Call, statement: StatementInfo, lookup: Lookup) -> bool:
        """`F.mse_loss(z.detach(), zhat)` in `def commitment_loss(self, z, zhat)`: a stop-gradient
        written on the input says the other operand is where the graph is, and that operand is the
        caller's, of unknown state (a quantizer's output with a graph), not a loader's labels."""
        first = call.args[0] if call.args else None
        if not (isinstance(first, ast.Call) and isinstance(first.func, ast.Attribute) and first.func.attr == "detach"):
            return False  # only a stop-gradient written on one side says the other side is the graph
        parameters = _parameter_names(statement.function)
        # Tensor operands only: positional ones and `target=`, not `margin=margin` or `reduction=`.
        others = list(call.args[1:]) + [kw.value for kw in call.keywords if kw.arg == "target"]
        return any(
            isinstance(arg, ast.Name) and arg.id in parameters and lookup(arg).graph is Graph.UNKNOWN
            for arg in others
        )

    def _argument_states(self, call: ast.Call, statement: StatementInfo, lookup: Lookup) -> List[ValueState]:
        states = []
        for arg in list(call.args) + [kw.value for kw in call.keywords if kw.arg is not None]:
            if isinstance(arg, (ast.List, ast.Tuple)):
                states.extend(self._evaluate_on(element, statement, lookup) for element in arg.elts)
            elif isinstance(arg, ast.Starred):
                states.append(UNKNOWN)
            else:
                states.append(self._evaluate_on(arg, statement, lookup))
        return states

    def _qualname(self, call: ast.Call) -> Optional[str]:
        site = self.call_info.get(id(call))
        return site.qualname if site is not None else None


def _computed_off(statement: StatementInfo, region: Region) -> ValueState:
    """A value computed with grad disabled: no graph."""
    return ValueState(Graph.NO_GRAPH, Origin(OriginKind.REGION, statement.stmt.lineno, region=region))


_COMPREHENSIONS = frozenset((ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp))
_DISPLAYS = frozenset((ast.Tuple, ast.List, ast.Set, ast.Dict))
# Tensor methods and torch functions that return a tuple of views of their input.
_SPLITTING_METHODS = frozenset(("chunk", "split", "unbind", "tensor_split"))
_SPLITTING_FUNCTIONS = frozenset("torch." + name for name in _SPLITTING_METHODS)
# Writes into the receiver (in place or into a copy): the result is the receiver with what was
# written, so `torch.zeros_like(out).scatter_(1, idx, 1.0)` has no graph, from a src with one it has.
_WRITING_METHODS = frozenset(
    "scatter scatter_ scatter_add scatter_add_ scatter_reduce scatter_reduce_ index_fill index_fill_ index_add "
    "index_add_ index_copy index_copy_ index_put index_put_ masked_fill_ masked_scatter masked_scatter_ fill_ "
    "zero_".split()
)
# (values, indices) pairs: the indices are an integer tensor, which never has a graph.
_PAIR_METHODS = frozenset(("topk", "sort", "kthvalue"))
_PAIR_METHODS_WITH_DIM = frozenset(("max", "min", "median", "nanmedian", "mode"))
_VALUE_METHODS = TENSOR_METHODS | _WRITING_METHODS | _PAIR_METHODS
INSTANCE_TAG = "instance:"  # "instance:Router": the value is an instance of that local class


def _returns_indices(name: str, call: ast.Call, dim_position: int, tensor: bool = True) -> bool:
    """`out.topk(k)`, `torch.sort(x)`, `x.max(1)`: a (values, indices) pair. max/min/median/mode
    return one only with a dim (an int constant), else a tensor (or, for max/min, elementwise);
    so does `.sort` of a receiver not known to be a tensor (`list.sort()` returns None)."""
    if name == "topk" or name == "kthvalue" or (name == "sort" and tensor):
        return True
    if name not in _PAIR_METHODS_WITH_DIM and name != "sort":
        return False
    dim = next((kw.value for kw in call.keywords if kw.arg == "dim"), None)
    if dim is None and len(call.args) > dim_position:
        dim = call.args[dim_position]
    if isinstance(dim, ast.UnaryOp) and isinstance(dim.op, ast.USub):
        dim = dim.operand
    return isinstance(dim, ast.Constant) and type(dim.value) is int


def _values_and_indices(values: ValueState, statement: StatementInfo, how: str) -> ValueState:
    indices = _integer(statement, how + " indices")
    return container(values.of_kind(Kind.TENSOR), (values.of_kind(Kind.TENSOR), indices))


def _display(expr: ast.expr, evaluate: Callable[[ast.expr], ValueState]) -> ValueState:
    """A tuple, list, set or dict display: a container of what it holds."""
    mapping = isinstance(expr, ast.Dict)
    values: List[Optional[ast.expr]] = list(expr.values) if mapping else list(expr.elts)  # type: ignore[attr-defined]
    kind = Kind.MAPPING if mapping else Kind.CONTAINER
    if any(value is None or isinstance(value, ast.Starred) for value in values):  # `**d`, `*xs`
        return container(UNKNOWN, kind=kind)
    states = [
        (NONE if value.value is None else CONSTANT) if type(value) is ast.Constant else evaluate(value)  # type: ignore[union-attr]
        for value in values
    ]
    item: Optional[ValueState] = None
    keeps = None
    for state in states:
        item = merge_items(item, state)
        if keeps is None and state.graph is Graph.HAS_GRAPH:
            keeps = state
    return container(item, tuple(states) if isinstance(expr, ast.Tuple) else None, keeps, kind)


def _iterated(state: ValueState) -> ValueState:
    """What a `for` over `state` binds: the items of a list or tuple (a dict gives its keys)."""
    if state.kind is Kind.CONTAINER and state.item is not None:
        return state.item
    return UNKNOWN


def _bind_names(target: ast.expr, state: ValueState, bound: Dict[str, ValueState]) -> None:
    """Bind a comprehension's target names (`for k, v in ...`) to the parts of `state`."""
    if isinstance(target, ast.Name):
        bound[target.id] = state
    elif isinstance(target, (ast.Tuple, ast.List)):
        elements = state.elements if state.elements is not None and len(state.elements) == len(target.elts) else None
        for index, element in enumerate(target.elts):
            part = elements[index] if elements is not None else _iterated(state)
            _bind_names(element.value if isinstance(element, ast.Starred) else element,
                        UNKNOWN if isinstance(element, ast.Starred) else part, bound)
    elif isinstance(target, ast.Starred):
        _bind_names(target.value, UNKNOWN, bound)


def _indexed(receiver: ValueState, expr: ast.Subscript) -> Optional[ValueState]:
    """`pair[0]` of a tuple whose parts are known, `losses[i]` / `stats["ce"]` of a container."""
    if receiver.is_container:
        if isinstance(expr.slice, ast.Slice):
            return receiver  # a slice of a list is a list of the same things
        position = _constant_index(expr)
        element = receiver.element(position) if position is not None else None
        if element is not None:
            return element
        return receiver.item if receiver.item is not None else UNKNOWN
    position = _constant_index(expr)
    return receiver.element(position) if position is not None else None


def _constant_index(expr: ast.Subscript) -> Optional[int]:
    index = expr.slice
    if isinstance(index, ast.UnaryOp) and isinstance(index.op, ast.USub) and isinstance(index.operand, ast.Constant):
        position = index.operand.value
        position = -position if isinstance(position, int) and not isinstance(position, bool) else None
    else:
        position = index.value if isinstance(index, ast.Constant) else None
    if not isinstance(position, int) or isinstance(position, bool):
        return None
    return position


def _as_returned(returned: ValueState, function: str, statement: StatementInfo) -> ValueState:
    """A callee's return state at its call site: the origin names the call and keeps the callee's reason."""
    if returned.elements is not None:
        return ValueState(
            Graph.UNKNOWN, elements=tuple(_as_returned(part, function, statement) for part in returned.elements)
        )
    if returned.graph is Graph.UNKNOWN:
        state = CALLED.of_kind(returned.kind) if returned.may_have_graph else ValueState(returned.graph, kind=returned.kind)
        # `def fresh(n): return torch.randn(n).requires_grad_()`: every path returns a leaf that
        # requires grad (or a parameter), and so does the call.
        leaf = returned.tags & GRAD_REQUIRING
        return state.with_tags(*leaf) if leaf else state
    if returned.graph is Graph.CONSTANT:
        return ValueState(returned.graph, kind=returned.kind)
    if returned.graph is Graph.SILENCED:
        return ValueState(returned.graph, returned.origin, kind=returned.kind)  # NG102 names the switch itself
    origin = Origin(
        OriginKind.RETURNED, statement.stmt.lineno, detail=function, statement=statement.stmt, cause=returned.origin
    )
    return ValueState(returned.graph, origin, kind=returned.kind)


def cut_from_a_graph(origin: Optional[Origin]) -> bool:
    """A value computed as part of a computation but without its graph: under a guard, detached,
    or rebuilt from numbers read out of a tensor, directly or as what a local function returns
    (not a fresh tensor from a factory, whose requires_grad makes a leaf to train)."""
    while origin is not None and origin.kind is OriginKind.RETURNED:
        origin = origin.cause
    if origin is None:
        return False
    return origin.kind in (OriginKind.REGION, OriginKind.DETACH) or (
        origin.kind is OriginKind.CREATED and origin.cause is not None
    )


def silenced(state: ValueState, stmt: ast.stmt) -> ValueState:
    """`requires_grad` switched on: a computed no-graph value now passes backward() silently."""
    if state.is_no_graph and cut_from_a_graph(state.origin):
        return ValueState(
            Graph.SILENCED,
            Origin(OriginKind.REQUIRES_GRAD, stmt.lineno, statement=stmt, cause=state.origin),
            frozenset((LEAF,)),
        )
    # A tensor without a graph is a leaf: with requires_grad on, in-place updates of it raise.
    return TENSOR.with_tags(LEAF) if state.is_no_graph else state


_LOSS_FUNCTIONS = frozenset(
    "cross_entropy binary_cross_entropy binary_cross_entropy_with_logits kl_div nll_loss".split()
)


# torch namespaces whose lowercase functions return tensors, and the exceptions among them.
_TENSOR_NAMESPACES = frozenset(("torch", "torch.nn.functional", "torch.linalg", "torch.fft", "torch.special"))
_NOT_TENSOR_FUNCTIONS = frozenset(
    "device dtype load save is_tensor is_grad_enabled is_inference_mode_enabled get_default_dtype manual_seed "
    "no_grad enable_grad inference_mode set_grad_enabled compile jit numel is_floating_point typename "
    "unique_consecutive chunk split unbind tensor_split meshgrid broadcast_tensors sort topk max min "
    "lu slogdet eigh eig svd qr".split()
)


def returns_tensor(qualname: str) -> bool:
    """torch.cat, F.softmax, torch.linalg.norm: a tensor (not a tuple, a module or a flag)."""
    module, _, name = qualname.rpartition(".")
    return module in _TENSOR_NAMESPACES and name[:1].islower() and name not in _NOT_TENSOR_FUNCTIONS


def is_loss_function(qualname: str) -> bool:
    """torch.nn.functional.cross_entropy, F.mse_loss, ..."""
    module, _, name = qualname.rpartition(".")
    return module == "torch.nn.functional" and (name in _LOSS_FUNCTIONS or name.endswith("_loss"))


# torch.nn layers without parameters: their output has a graph only when their input has one.
_PARAMETER_FREE_MODULES = frozenset(
    "ReLU ReLU6 GELU SiLU Mish ELU SELU CELU LeakyReLU Sigmoid Tanh Softmax LogSoftmax Softmin Softplus Softsign "
    "Hardtanh Hardswish Hardsigmoid Tanhshrink Threshold GLU Identity Flatten Unflatten Dropout Dropout1d Dropout2d "
    "Dropout3d AlphaDropout MaxPool1d MaxPool2d MaxPool3d AvgPool1d AvgPool2d AvgPool3d AdaptiveAvgPool1d "
    "AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveMaxPool1d AdaptiveMaxPool2d AdaptiveMaxPool3d Upsample "
    "UpsamplingNearest2d UpsamplingBilinear2d PixelShuffle PixelUnshuffle ZeroPad2d ConstantPad1d ConstantPad2d "
    "ConstantPad3d ReflectionPad1d ReflectionPad2d ReplicationPad1d ReplicationPad2d CosineSimilarity "
    "PairwiseDistance ChannelShuffle Fold Unfold".split()
)


@lru_cache(maxsize=1024)  # the same few layer classes recur in every module
def _is_parameterized_module(qualname: str) -> bool:
    """torch.nn.Linear, nn.Conv2d, nn.LSTM, nn.Sequential: a layer (or container) with parameters."""
    module, _, name = qualname.rpartition(".")
    return (
        module == "torch.nn"
        and name[:1].isupper()
        and not name.endswith("Loss")
        and name not in _PARAMETER_FREE_MODULES
        and name not in ("Parameter", "ParameterList", "ParameterDict", "Module")
    )


# torch.nn layers whose output is not a single tensor (or not known to be one).
_NOT_ONE_TENSOR_MODULES = frozenset(
    "RNN LSTM GRU LSTMCell MultiheadAttention Sequential ModuleList ModuleDict ParameterList ParameterDict "
    "AdaptiveLogSoftmaxWithLoss".split()
)


# Packages whose classes are torch modules (or wrap them): an instance named like a model is one.
_TORCH_ECOSYSTEM = frozenset(
    "torch torchvision torchaudio torchtext lightning pytorch_lightning transformers timm".split()
)


_CLASS_SUFFIXES = ("_cls", "_class", "_klass", "_type", "_factory", "_builder")


def _makes_a_pipeline(qualname: str) -> bool:
    parts = qualname.split(".")
    return qualname == "transformers.pipeline" or any(part.endswith("Pipeline") for part in parts[-2:])


def _constructs_opaque_object(qualname: str) -> bool:
    """`botorch.models.AffineFidelityCostModel`: a class imported from a package outside the torch
    ecosystem (not a relative import of this project, not a factory or loader function)."""
    root = qualname.partition(".")[0]
    return bool(root) and root not in _TORCH_ECOSYSTEM and qualname.rpartition(".")[2][:1].isupper()


# torch.nn recurrent layers and what a call returns: "pair" (output, h_n), "lstm" (output, (h_n,
# c_n)), "cell pair" (h, c), "cell" a tensor h (checked under torch 2.13).
_RECURRENT_LAYERS = {
    "RNN": "pair", "GRU": "pair", "LSTM": "lstm", "LSTMCell": "cell pair", "GRUCell": "cell", "RNNCell": "cell",
}


def _recurrent_output(layer: str, graph: ValueState) -> ValueState:
    """What a call of a trainable recurrent layer returns with grad on: every part has a graph."""
    part = graph.of_kind(Kind.TENSOR)
    shape = _RECURRENT_LAYERS[layer]
    if shape == "cell":
        return part
    pair = container(part, (part, part))
    if shape == "lstm":
        return container(part, (part, pair))
    return pair


def _returns_other_than_a_tensor(qualname: str) -> bool:
    return qualname.rpartition(".")[2] in _NOT_ONE_TENSOR_MODULES


def _is_loss_class(qualname: str) -> bool:
    return qualname.startswith("torch.nn.") and qualname.endswith("Loss")


def _is_true(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is True


def _written_item_root(target: ast.expr) -> Optional[ast.Name]:
    """The name under an item store, however deep: `table[r][c] = v` writes into a view of
    `table` (a tensor) or into something `table` holds (a container)."""
    if not isinstance(target, ast.Subscript):
        return None
    while isinstance(target, ast.Subscript):
        target = target.value
    return target if isinstance(target, ast.Name) else None


def _stored_into(held: ValueState, value: ValueState) -> ValueState:
    """`held[key] = value`: a container now also holds `value`; a tensor written in place takes the
    value's graph; anything else (a dict from an unknown call) is unknown from here on."""
    if held.is_container:
        keeps = value if value.graph is Graph.HAS_GRAPH else None
        return container(merge_items(held.item, value), keeps=keeps, kind=held.kind)
    if held.is_tensor:
        return combine_states(held, value)
    return UNKNOWN


_ITERABLE_FORMS = frozenset((ast.Name, ast.List, ast.Tuple, ast.Set))
# Builtins over a container's contents: sum(losses), list(parts), tuple(outs), sorted(...).
_CONTAINER_BUILTINS = frozenset(("sum", "list", "tuple", "sorted", "reversed"))
# Methods that put their argument into the container they are called on.
_ADDING_METHODS = frozenset(("append", "add", "insert", "extend", "appendleft"))


def _viewed(receiver: ValueState, attr: str) -> ValueState:
    tags = view_tags(attr, receiver.tags)
    return TENSOR.with_tags(*tags) if tags else _without_tags(receiver)


def _without_tags(state: ValueState) -> ValueState:
    return ValueState(state.graph, state.origin, kind=state.kind) if state.tags or state.elements else state


def _detached(statement: StatementInfo) -> ValueState:
    return ValueState(
        Graph.NO_GRAPH, Origin(OriginKind.DETACH, statement.stmt.lineno, statement=statement.stmt), kind=Kind.TENSOR
    )


def _copied(statement: StatementInfo, how: str) -> ValueState:
    """`x.detach().clone()`: a fresh tensor with no graph, made on purpose (a reference copy)."""
    return ValueState(
        Graph.NO_GRAPH,
        Origin(OriginKind.CREATED, statement.stmt.lineno, detail="a copy (" + how + ")", statement=statement.stmt),
        kind=Kind.TENSOR,
    )


def _number(statement: StatementInfo, how: str) -> ValueState:
    return ValueState(
        Graph.NO_GRAPH,
        Origin(OriginKind.NUMBER, statement.stmt.lineno, detail=how, statement=statement.stmt),
        kind=Kind.NUMBER,
    )


def _integer(statement: StatementInfo, how: str) -> ValueState:
    return ValueState(
        Graph.NO_GRAPH, Origin(OriginKind.INTEGER, statement.stmt.lineno, detail=how, statement=statement.stmt)
    )


def _grad_on(statement: StatementInfo) -> ValueState:
    return ValueState(Graph.HAS_GRAPH, Origin(OriginKind.GRAD_ON, statement.stmt.lineno, statement=statement.stmt))


class AssumedBase:
    """`with AssumedBase(evaluator, function, region):` evaluates `function` as if called in `region`."""

    def __init__(self, evaluator: Evaluator, function: FunctionInfo, region: Region) -> None:
        self._evaluator, self._assumed = evaluator, (function, region)

    def __enter__(self) -> None:
        self._evaluator._assumed_base = self._assumed

    def __exit__(self, *exc_info: object) -> None:
        self._evaluator._assumed_base = None


class ValueFlow:
    """Runs the flow over a function, on first demand, and records the state of every Name read.

    Most functions of a module are never asked about (no backward call, no accumulation, no
    parameter update), so the flow runs only for those a rule queries.
    """

    def __init__(
        self,
        walker: StructureWalker,
        evaluator: Evaluator,
        back_propagated: Dict[int, List[ast.expr]],
        arguments: Optional[Dict[str, object]] = None,
        bound: Optional[Env] = None,
    ) -> None:
        self.walker = walker
        # For one call site's flow: the states its arguments bind the parameters to (parameters.py
        # follows a parameter passed to a helper this way).
        self._bound = bound
        self.evaluator = evaluator
        self.name_states: Dict[int, ValueState] = {}
        self._done: Set[int] = set()
        self._end_reachable: Set[int] = set()
        # id(statement) -> the values its backward call walks: evidence that they have a graph.
        self.back_propagated = back_propagated
        # For one call site's flow: parameters bound to literal arguments (`return_tensor=True`),
        # which decide the `if`s that test them; and the statements that flow then reaches.
        self._arguments = arguments
        self.reached: Optional[Set[int]] = set() if arguments else None
        # id(loop statement) -> the states at the end of its body, as the next iteration gets them
        # (the back edge of the fixpoint's last round); None when the body always leaves.
        self.loop_ends: Dict[int, Optional[Env]] = {}

    def ensure(self, function: FunctionInfo) -> None:
        """Run the flow over `function` unless it already ran."""
        if id(function) not in self._done:
            self._done.add(id(function))
            entry: Env = {}
            for name, value in (self._arguments or {}).items():
                if name != TRAINING:
                    entry[name] = CONSTANT.with_tags(ARGUMENT_TAG + name)
            if self._bound:
                entry.update(self._bound)
            if self._block(function.node.body, entry) is not None:
                self._end_reachable.add(id(function))

    def end_reachable(self, function: FunctionInfo) -> bool:
        """Can control fall off the end of the function's body (an implicit `return None`)?"""
        self.ensure(function)
        return id(function) in self._end_reachable

    # -- statements -----------------------------------------------------------------------------
    def _block(self, body: Iterable[ast.stmt], env: Env) -> Optional[Env]:
        """Apply a block to env (in place); None when the block always leaves (return/raise)."""
        reached = self.reached
        statement_info = self.walker.statement_info
        name_states = self.name_states
        for stmt in body:
            info = statement_info[id(stmt)]
            if reached is not None:
                reached.add(id(stmt))
            for name in info.names:  # _record_names, inlined: this runs for every statement of a flow
                name_states[id(name)] = env.get(name.id, UNKNOWN)
            kind = type(stmt)
            if kind is ast.Return or kind is ast.Raise:
                return None
            result = self._statement(stmt, info, env)
            if result is None:
                return None
        return env

    def _record_names(self, info: StatementInfo, env: Env) -> None:
        name_states = self.name_states
        for name in info.names:
            name_states[id(name)] = env.get(name.id, UNKNOWN)

    def _if_chain(self, stmt: ast.If, env: Env) -> Optional[Env]:
        """An if/elif chain as a loop (a recursive walk overflows on long chains), merging the
        branches innermost first, exactly as applying each nested `If` would."""
        chain = elif_chain(stmt)
        then_envs = []
        taken: Optional[ast.If] = None  # a branch a literal argument decides is taken
        for index, branch in enumerate(chain):
            info = self.walker.statement_info[id(branch)]
            if index:
                if self.reached is not None:
                    self.reached.add(id(branch))
                self._record_names(info, env)
            decided = self._decided(branch.test, env) if self._arguments else None
            if decided is False:
                continue
            if decided is True:
                taken = branch
                break
            then_env = dict(env)
            narrowed = self.evaluator.narrowed_instance(branch.test, info) if type(branch.test) is ast.Call else None
            if narrowed is not None:
                then_env[narrowed[0]] = then_env.get(narrowed[0], UNKNOWN).with_tags(narrowed[1])
            then_envs.append(self._block(branch.body, then_env))
        after = self._block(taken.body if taken is not None else chain[-1].orelse, dict(env))
        for then_env in reversed(then_envs):
            after = _merge_envs([then_env, after])
        return _replace(env, after)

    def _decided(self, test: ast.expr, env: Env) -> Optional[bool]:
        """The outcome of `if flag:`, `if not flag:`, `if flag is None:`, `if mode == "x":` where
        `flag` still holds the literal argument of this call site; None when it depends on more."""
        negate = False
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            test, negate = test.operand, True
        compared: Optional[ast.Compare] = None
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.comparators[0], ast.Constant):
            compared, test = test, test.left
        if isinstance(test, ast.Attribute) and test.attr == "training" and dotted_key(test) == TRAINING:
            value = self._arguments.get(TRAINING, _NOT_A_LITERAL) if "self" not in env else _NOT_A_LITERAL  # type: ignore[union-attr]
        elif isinstance(test, ast.Name):
            value = self._argument_held(test.id, env)
        else:
            return None
        if value is _NOT_A_LITERAL:
            return None
        if compared is None:
            outcome = bool(value)
        else:
            other = compared.comparators[0].value  # type: ignore[attr-defined]
            op = type(compared.ops[0])
            if op is ast.Is or op is ast.IsNot:
                if other is not None:
                    return None
                outcome = (value is None) is (op is ast.Is)
            elif op is ast.Eq or op is ast.NotEq:
                outcome = (value == other) is (op is ast.Eq)
            else:
                return None
        return not outcome if negate else outcome

    def _argument_held(self, name: str, env: Env) -> object:
        """The literal a parameter still holds (its state carries the argument's tag on every path)."""
        state = env.get(name)
        arguments = self._arguments
        if state is None or arguments is None or not state.tags:
            return _NOT_A_LITERAL
        for tag in state.tags:
            if tag.startswith(ARGUMENT_TAG):
                return arguments.get(tag[len(ARGUMENT_TAG):], _NOT_A_LITERAL)
        return _NOT_A_LITERAL

    def _statement(self, stmt: ast.stmt, info: StatementInfo, env: Env) -> Optional[Env]:
        # `type(stmt) is` tests, commonest first, instead of isinstance: this runs for every
        # statement of every flow (parsed trees hold the exact node types, never subclasses).
        kind = type(stmt)
        if kind is ast.Assign:
            if _is_requires_grad_switch(stmt):
                target = stmt.targets[0].value  # type: ignore[attr-defined]
                if isinstance(target, ast.Name):
                    env[target.id] = silenced(env.get(target.id, UNKNOWN), stmt)
                return env
            frozen = _requires_grad_switched_off(stmt)
            if frozen is not None:
                env[frozen] = _without_tags(env.get(frozen, UNKNOWN))
                return env
            evaluate = self._evaluate_in(info, env)
            value = evaluate(stmt.value)
            for target in stmt.targets:
                self._bind(target, stmt.value, value, env, evaluate)
        elif kind is ast.AnnAssign:
            if stmt.value is not None:
                evaluate = self._evaluate_in(info, env)
                self._bind(stmt.target, stmt.value, evaluate(stmt.value), env, evaluate)
        elif kind is ast.AugAssign:
            root = _written_item_root(stmt.target)
            if root is not None:
                name = root.id
                evaluate = self._evaluate_in(info, env)
                env[name] = _stored_into(env.get(name, UNKNOWN), self._augmented(stmt, info, evaluate(stmt.target), evaluate))
            if isinstance(stmt.target, ast.Name):
                self.name_states[id(stmt.target)] = env.get(stmt.target.id, UNKNOWN)  # what is updated
                current = env.get(stmt.target.id, UNKNOWN)
                env[stmt.target.id] = self._augmented(stmt, info, current, self._evaluate_in(info, env))
        elif kind is ast.Expr:
            self._expression_statement(stmt, info, env)
            for value in self.back_propagated.get(id(stmt), ()):
                current = env.get(value.id, UNKNOWN) if isinstance(value, ast.Name) else None
                if current is not None and current.graph is Graph.UNKNOWN:
                    # backward() returned, so the value has a graph (it raises otherwise).
                    origin = Origin(OriginKind.BACKWARD, stmt.lineno, statement=stmt)
                    env[value.id] = ValueState(Graph.HAS_GRAPH, origin, current.tags, kind=Kind.TENSOR)  # type: ignore[union-attr]
        elif kind is ast.For or kind is ast.AsyncFor or kind is ast.While:
            return self._loop(stmt, env)
        elif kind is ast.If:
            return self._if_chain(stmt, env)
        elif kind is ast.With or kind is ast.AsyncWith:
            for item in stmt.items:
                if item.optional_vars is not None:
                    _forget_target(item.optional_vars, env)
            return self._block(stmt.body, env)
        elif kind is ast.Try or kind.__name__ == "TryStar":
            return self._try(stmt, env)
        elif type(stmt).__name__ == "Match":
            cases = [self._block(case.body, dict(env)) for case in stmt.cases]  # type: ignore[attr-defined]
            return _replace(env, _merge_envs(cases + [dict(env)]))
        elif kind is ast.FunctionDef or kind is ast.AsyncFunctionDef or kind is ast.ClassDef:
            env[stmt.name] = UNKNOWN
        elif kind is ast.Delete:
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    env.pop(target.id, None)
        elif kind is ast.Import or kind is ast.ImportFrom or kind is ast.Global or kind is ast.Nonlocal:
            names = [a.asname or a.name.partition(".")[0] for a in stmt.names] if not isinstance(
                stmt, (ast.Global, ast.Nonlocal)
            ) else stmt.names
            for name in names:
                env[name] = UNKNOWN
        if info.has_walrus:
            self._bind_walrus(stmt, env, self._evaluate_in(info, env))
        return env

    def _evaluate_in(self, info: StatementInfo, env: Env) -> Callable[[ast.expr], ValueState]:
        """Evaluate expressions of `info`'s statement with the names' states in `env`."""
        evaluator = self.evaluator
        lookup: Lookup = lambda name: env.get(name.id, UNKNOWN)  # noqa: E731
        return lambda expr: evaluator.evaluate(expr, info, lookup)

    def _bind(self, target: ast.expr, value_expr: ast.expr, value: ValueState, env: Env, evaluate) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, ast.Subscript):
            root = _written_item_root(target)
            if root is not None:
                env[root.id] = _stored_into(env.get(root.id, UNKNOWN), value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            value = value.operand  # unpacking None raises
            if isinstance(value_expr, (ast.Tuple, ast.List)) and len(value_expr.elts) == len(target.elts):
                for element_target, element in zip(target.elts, value_expr.elts):
                    self._bind(element_target, element, evaluate(element), env, evaluate)
            elif value.elements is not None and len(value.elements) == len(target.elts) and not any(
                isinstance(element_target, ast.Starred) for element_target in target.elts
            ):
                for element_target, part in zip(target.elts, value.elements):
                    self._bind(element_target, _NO_EXPRESSION, part, env, evaluate)
            elif value.kind is Kind.CONTAINER and value.item is not None and not any(
                isinstance(element_target, ast.Starred) for element_target in target.elts
            ):
                # `mu, logvar = h.chunk(2)`: each part is one of the things the container holds.
                for element_target in target.elts:
                    self._bind(element_target, _NO_EXPRESSION, value.item, env, evaluate)
            else:
                # `out, aux = model(x)` under no_grad: every part is computed without a graph; with
                # grad on, a part may be an integer (`_, idx = out.max(1)`), yet may have a graph.
                if value.is_no_graph:
                    part = ValueState(value.graph, value.origin)
                else:
                    part = CALLED if value.may_have_graph else UNKNOWN
                for element_target in target.elts:
                    if isinstance(element_target, ast.Starred):
                        _forget_target(element_target.value, env)
                    else:
                        self._bind(element_target, _NO_EXPRESSION, part, env, evaluate)

    def _augmented(self, stmt: ast.AugAssign, info: StatementInfo, current: ValueState, evaluate) -> ValueState:
        value = evaluate(stmt.value)
        region = self.evaluator.region_of(info)
        if region.mode is GradMode.OFF:
            if current.graph in (Graph.NO_GRAPH, Graph.CONSTANT):
                return _computed_off(info, region)
            return UNKNOWN
        state = combine_states(current, value)
        if region.mode is GradMode.UNKNOWN and state.graph is Graph.HAS_GRAPH:
            return UNKNOWN
        return state

    def _expression_statement(self, stmt: ast.Expr, info: StatementInfo, env: Env) -> None:
        call = stmt.value
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
            return
        receiver = call.func.value
        if not isinstance(receiver, ast.Name):
            return
        if call.func.attr in _ADDING_METHODS and call.args:
            held = env.get(receiver.id, UNKNOWN)
            if held.is_container:
                added = self._evaluate_in(info, env)(call.args[-1])
                # What it held stays in it: a graph kept before or added now is kept after.
                keeps = added if added.graph is Graph.HAS_GRAPH else held if held.graph is Graph.HAS_GRAPH else None
                if call.func.attr == "extend":
                    added = added.item if added.kind is Kind.CONTAINER and added.item is not None else UNKNOWN
                env[receiver.id] = container(merge_items(held.item, added), keeps=keeps, kind=held.kind)
            return
        if call.func.attr == "requires_grad_" and (not call.args or _is_true(call.args[0])):
            env[receiver.id] = silenced(env.get(receiver.id, UNKNOWN), stmt)
        elif call.func.attr == "requires_grad_":  # frozen: no longer a parameter that requires grad
            env[receiver.id] = _without_tags(env.get(receiver.id, UNKNOWN))
        elif call.func.attr == "detach_":
            env[receiver.id] = _detached(info)

    def _loop(self, stmt: ast.stmt, env: Env) -> Env:
        entry = dict(env)
        body_end: Optional[Env] = None
        for _ in range(3):  # the lattice is shallow: two rounds reach the fixpoint
            body_env = dict(entry)
            if isinstance(stmt, (ast.For, ast.AsyncFor)):
                _forget_target(stmt.target, body_env)
                # Only a name or a display can be a container we know (`for loss in losses`).
                iterated = (
                    self._evaluate_in(self.walker.statement_info[id(stmt)], entry)(stmt.iter)
                    if type(stmt.iter) in _ITERABLE_FORMS
                    else UNKNOWN
                )
                if iterated.kind is Kind.CONTAINER and iterated.item is not None:  # a dict gives its keys
                    self._bind(stmt.target, _NO_EXPRESSION, iterated.item, body_env, None)
                tags = self.evaluator.parameters.loop_target_tags(
                    stmt.target, stmt.iter, lambda name: entry.get(name.id, UNKNOWN).tags
                )
                for name, tag in tags.items():
                    body_env[name] = UNKNOWN.with_tags(tag)
            body_end = self._block(stmt.body, body_env)
            self.loop_ends[id(stmt)] = body_end  # body_env, a dict of this round alone
            merged = _merge_envs([entry, body_end])
            assert merged is not None
            if merged == entry:
                break
            entry = merged
        after = self._block(stmt.orelse, dict(entry)) if stmt.orelse else entry  # type: ignore[attr-defined]
        result = _replace(env, after if after is not None else entry)
        if isinstance(stmt, ast.For) and result is not None:
            for name in self._elements_switched_on(stmt):
                result[name] = silenced(result.get(name, UNKNOWN), stmt)
        return result

    def _elements_switched_on(self, loop: ast.For) -> List[str]:
        """`for p in parameters: p.requires_grad = True` (or `p.requires_grad_()`) over a display of
        names (`parameters = [C, W1, b1]`, bound before the loop, or written in it): each of those
        names is now a leaf that requires grad."""
        if not isinstance(loop.target, ast.Name) or not any(
            switches_requires_grad(body_stmt, loop.target.id, on=True) for body_stmt in loop.body
        ):
            return []
        display: Optional[ast.expr] = loop.iter
        if isinstance(display, ast.Name):
            function = self.walker.statement_info[id(loop)].function
            bound = [
                s.stmt.value for s in self.walker.statements_of(function)
                if isinstance(s.stmt, ast.Assign) and s.stmt.lineno < loop.lineno
                and any(isinstance(t, ast.Name) and t.id == display.id for t in s.stmt.targets)  # type: ignore[union-attr]
            ]
            display = bound[-1] if bound else None
        if not isinstance(display, (ast.List, ast.Tuple)):
            return []
        return [element.id for element in display.elts if isinstance(element, ast.Name)]

    def _try(self, stmt: ast.stmt, env: Env) -> Optional[Env]:
        entry = dict(env)
        body_end = self._block(stmt.body, dict(env))  # type: ignore[attr-defined]
        if body_end is not None and stmt.orelse:  # type: ignore[attr-defined]
            body_end = self._block(stmt.orelse, body_end)  # type: ignore[attr-defined]
        handler_entry = _merge_envs([entry, body_end]) or entry
        ends = [body_end] + [self._block(h.body, dict(handler_entry)) for h in stmt.handlers]  # type: ignore[attr-defined]
        merged = _merge_envs(ends)
        if stmt.finalbody:  # type: ignore[attr-defined]
            final_env = self._block(stmt.finalbody, dict(merged if merged is not None else handler_entry))  # type: ignore[attr-defined]
            if merged is None or final_env is None:
                return None
            merged = final_env
        return _replace(env, merged)

    def _bind_walrus(self, stmt: ast.stmt, env: Env, evaluate) -> None:
        for node in ast.walk(stmt):
            if isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
                env[node.target.id] = evaluate(node.value)


# The value expression when a part is bound from a known state (no expression to evaluate).
_NO_EXPRESSION = ast.Constant(value=None)
ARGUMENT_TAG = "argument:"  # "argument:flag": the state of parameter `flag`, bound to a literal
TRAINING = "self.training"  # the receiver's mode, bound like a parameter when known
_NOT_A_LITERAL = object()


def _is_requires_grad_switch(stmt: ast.Assign) -> bool:
    target = stmt.targets[0]
    return (
        len(stmt.targets) == 1
        and isinstance(target, ast.Attribute)
        and target.attr == "requires_grad"
        and _is_true(stmt.value)
    )


def _requires_grad_switched_off(stmt: ast.Assign) -> Optional[str]:
    """'p' for `p.requires_grad = False`."""
    target = stmt.targets[0]
    if (
        len(stmt.targets) == 1
        and isinstance(target, ast.Attribute)
        and target.attr == "requires_grad"
        and isinstance(target.value, ast.Name)
        and isinstance(stmt.value, ast.Constant)
        and stmt.value.value is False
    ):
        return target.value.id
    return None


def _forget_target(target: ast.expr, env: Env) -> None:
    if isinstance(target, ast.Name):
        env[target.id] = UNKNOWN
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            _forget_target(element, env)
    elif isinstance(target, ast.Starred):
        _forget_target(target.value, env)


def _merge_envs(envs: List[Optional[Env]]) -> Optional[Env]:
    """Join of the paths that reach this point; a name bound on one path only keeps its state."""
    live = [env for env in envs if env is not None]
    if not live:
        return None
    merged = dict(live[0])
    for env in live[1:]:
        for name, state in env.items():
            merged[name] = merge_states(merged[name], state) if name in merged else state
    return merged


def _replace(env: Env, new: Optional[Env]) -> Optional[Env]:
    if new is None:
        return None
    env.clear()
    env.update(new)
    return env
