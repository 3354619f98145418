"""The vocabulary of the shared analysis: grad modes, regions, value states."""
from __future__ import annotations

import ast
import enum
from dataclasses import dataclass
from typing import FrozenSet, Optional, Tuple


class GradMode(enum.Enum):
    ON = "on"
    OFF = "off"
    UNKNOWN = "unknown"  # e.g. torch.set_grad_enabled(phase == "train"): every rule stays quiet


class RegionKind(enum.Enum):
    DEFAULT = "default"  # nothing changed grad mode: it is on
    WITH = "with"  # with torch.no_grad(): ...
    STATEMENT = "statement"  # torch.set_grad_enabled(False) ... torch.set_grad_enabled(True)
    DECORATOR = "decorator"  # @torch.no_grad() def f(): ...
    HOOK = "hook"  # a framework method run without grad (Lightning's validation_step, ...)
    CALLERS = "callers"  # every call of the function in the module is grad-off
    LEFT_OFF = "left_off"  # after a call of a function that switches grad off and does not switch it back


@dataclass(frozen=True)
class Region:
    """Where the grad mode at a statement comes from."""

    mode: GradMode
    kind: RegionKind
    label: str = ""  # how the guard is written: "torch.no_grad()", "@torch.inference_mode()"
    line: int = 0
    inference: bool = False  # inference_mode: its tensors cannot even be saved for backward
    function: str = ""  # for DECORATOR/HOOK/CALLERS: the function that runs grad-off
    # A guard other than inference_mode written where the function's own mode applies: when the
    # function runs in inference mode, it changes nothing (`enable_grad()` cannot leave it).
    yields_to_inference: bool = False
    file: str = ""  # the module `line` is in, when not the one analysed (a project module)

    @property
    def where(self) -> str:
        return f"line {self.line} of {self.file}" if self.file else f"line {self.line}"

    def describe(self) -> str:
        """A phrase that completes "... was computed <phrase>"."""
        if self.kind is RegionKind.WITH:
            return f"under {self.label} ({self.where})"
        if self.kind is RegionKind.STATEMENT:
            return f"after {self.label} ({self.where})"
        if self.kind is RegionKind.DECORATOR:
            return f"in '{self.function}' under {self.label} ({self.where})"
        if self.kind is RegionKind.HOOK:
            return f"in '{self.function}' (run without grad by the framework)"
        if self.kind is RegionKind.CALLERS:
            how = "under inference mode" if self.inference else "with grad disabled"
            where = f", as on {self.where}" if self.line else ""
            return f"in '{self.function}' (only called {how}{where})"
        if self.kind is RegionKind.LEFT_OFF:
            return f"after '{self.label}' ({self.where}) left grad disabled"
        return "with grad enabled"


GRAD_ON = Region(GradMode.ON, RegionKind.DEFAULT)


class Graph(enum.Enum):
    """Whether a value carries an autograd graph that backward() can walk."""

    NO_GRAPH = "no-graph"
    HAS_GRAPH = "has-graph"
    UNKNOWN = "unknown"
    CONSTANT = "constant"  # a literal number/string: neutral in arithmetic
    SILENCED = "silenced"  # no graph, but requires_grad was switched on afterwards (NG102)


class OriginKind(enum.Enum):
    REGION = "region"  # computed in a grad-off region
    DETACH = "detach"  # x.detach(), x.data
    CREATED = "created"  # torch.zeros(...) without requires_grad
    NUMBER = "number"  # .item(), .tolist()
    INTEGER = "integer"  # argmax(), comparisons, .long(): integer/bool tensors never require grad
    REQUIRES_GRAD = "requires_grad"  # loss.requires_grad = True / requires_grad_()
    GRAD_ON = "grad_on"  # computed with grad enabled (HAS_GRAPH)
    GRADIENT = "gradient"  # torch.autograd.grad(...) without create_graph=True
    BACKWARD = "backward"  # back-propagated successfully, so it has a graph (HAS_GRAPH)
    RETURNED = "returned"  # the result of a local function (detail: its name; cause: why)
    # Graph unknown, but the value is the result of a call the analysis cannot see into (or a part
    # of a value with a graph): it may be a model's output, so it is never taken for plain data.
    CALLED = "called"


class _Record:
    """Value equality for the slotted, immutable-by-convention records below: equal when their
    `_key()`s are (a frozen dataclass would do the same, at the cost of a slow __init__)."""

    __slots__ = ()

    def _key(self) -> tuple:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if type(other) is not type(self):
            return NotImplemented
        return self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._key())


class Origin(_Record):
    """Why a value has the state it has, for messages and for reporting positions.

    Immutable by convention; a slotted class for the same reason as ValueState. `node` and
    `statement` locate it and take no part in equality.
    """

    __slots__ = ("kind", "line", "detail", "region", "node", "statement", "cause", "file")

    def __init__(
        self,
        kind: OriginKind,
        line: int,
        detail: str = "",  # e.g. "torch.zeros()" for CREATED
        region: Optional[Region] = None,
        node: Optional[ast.AST] = None,
        statement: Optional[ast.stmt] = None,
        cause: Optional["Origin"] = None,  # for SILENCED: why the value had no graph
        file: str = "",  # the module `line` is in, when not the one analysed (a project module)
    ) -> None:
        self.kind = kind
        self.line = line
        self.detail = detail
        self.region = region
        self.node = node
        self.statement = statement
        self.cause = cause
        self.file = file

    def _key(self) -> tuple:
        return (self.kind, self.line, self.detail, self.region, self.cause, self.file)

    @property
    def where(self) -> str:
        """"line 12", or "line 12 of utils.py" for a line in another module of the project."""
        return f"line {self.line} of {self.file}" if self.file else f"line {self.line}"

    def __repr__(self) -> str:
        return f"Origin(kind={self.kind}, line={self.line}, detail={self.detail!r}, region={self.region})"


class Kind(enum.Enum):
    """What kind of object a value is, where the code says so (a torch factory, a tensor method)."""

    TENSOR = "tensor"
    NUMBER = "number"  # a Python number: .item(), float(), len()
    CONTAINER = "container"  # a list, tuple or set display (or one built by append)
    MAPPING = "mapping"  # a dict: it holds `item`s, but iterating or unpacking it gives its keys
    NONE = "none"  # the literal None
    # None on some paths, `item` on the others (`self.aux = None` in __init__, a loss in forward):
    # unknown when read as it is, `item` where it is an operand (None there raises a TypeError).
    OPTIONAL = "optional"
    UNKNOWN = "unknown"  # anything: a model output may be a tuple or a dict, `.data` an attribute


class ValueState(_Record):
    """The abstract value of an expression: immutable by convention (never assigned after init).

    A plain class with __slots__ rather than a frozen dataclass: the value flow builds one for
    nearly every expression it evaluates, and a frozen dataclass's __init__ pays an
    object.__setattr__ per field.
    """

    __slots__ = ("graph", "origin", "tags", "elements", "kind", "item")

    def __init__(
        self,
        graph: Graph,
        origin: Optional[Origin] = None,
        # Facts other rules track on the same flow (e.g. "parameter", "loss_module", "model").
        tags: FrozenSet[str] = frozenset(),
        # A tuple's parts (`return loss, logs`, `torch.autograd.grad(...)`), for unpacking and `[0]`.
        elements: Optional[Tuple["ValueState", ...]] = None,
        kind: "Kind" = Kind.UNKNOWN,
        # For a container: the join of the states of everything put in it (None: nothing yet). Its
        # graph is derived from it: a list holding a graph-carrying loss keeps that graph alive.
        item: Optional["ValueState"] = None,
    ) -> None:
        self.graph = graph
        self.origin = origin
        self.tags = tags
        self.elements = elements
        self.kind = kind
        self.item = item

    def _key(self) -> tuple:
        return (self.graph, self.origin, self.tags, self.elements, self.kind, self.item)

    def __repr__(self) -> str:
        return (
            f"ValueState(graph={self.graph}, origin={self.origin}, tags={set(self.tags)}, "
            f"elements={self.elements}, kind={self.kind}, item={self.item})"
        )

    @property
    def is_tensor(self) -> bool:
        return self.kind is Kind.TENSOR

    def of_kind(self, kind: Kind) -> "ValueState":
        return ValueState(self.graph, self.origin, self.tags, self.elements, kind, self.item)

    @property
    def is_container(self) -> bool:
        return self.kind is Kind.CONTAINER or self.kind is Kind.MAPPING

    @property
    def operand(self) -> "ValueState":
        """The state where the value is used as an operand or receiver: an optional value is
        then its non-None part (None would raise there)."""
        if self.kind is Kind.OPTIONAL:
            return self.item if self.item is not None else UNKNOWN
        return self

    def element(self, index: int) -> Optional["ValueState"]:
        if self.elements is None or not -len(self.elements) <= index < len(self.elements):
            return None
        return self.elements[index]

    @property
    def is_no_graph(self) -> bool:
        return self.graph is Graph.NO_GRAPH

    @property
    def may_have_graph(self) -> bool:
        """Known to have a graph, or unknown but computed by something that may record one."""
        if self.kind is Kind.OPTIONAL:
            return self.operand.may_have_graph  # where it is not None
        return self.graph is Graph.HAS_GRAPH or (
            self.graph is Graph.UNKNOWN and self.origin is not None and self.origin.kind in _GRAPH_ORIGINS
        )

    def with_tags(self, *tags: str) -> "ValueState":
        return ValueState(self.graph, self.origin, self.tags | frozenset(tags), self.elements, self.kind, self.item)


UNKNOWN = ValueState(Graph.UNKNOWN)
CONSTANT = ValueState(Graph.CONSTANT)
_GRAPH_ORIGINS = frozenset((OriginKind.CALLED, OriginKind.GRAD_ON, OriginKind.BACKWARD))
# The result of a call the analysis cannot see into (`agent.get_value(x)`, `helpers.run(net, x)`).
CALLED = ValueState(Graph.UNKNOWN, Origin(OriginKind.CALLED, 0))
NONE = ValueState(Graph.CONSTANT, kind=Kind.NONE)


def container(
    item: Optional[ValueState],
    elements: Optional[Tuple[ValueState, ...]] = None,
    keeps: Optional[ValueState] = None,
    kind: Kind = Kind.CONTAINER,
) -> ValueState:
    """A container holding values whose join is `item`; its graph is theirs. `keeps`: a
    graph-carrying value it certainly holds (an entry of a display, an appended loss), whose graph
    it keeps alive even where the join of its contents is unknown (`{"loss": loss, "n": n}`)."""
    if item is None:
        graph, origin = Graph.CONSTANT, None  # empty: neutral, like a literal
    elif item.graph in (Graph.HAS_GRAPH, Graph.NO_GRAPH, Graph.CONSTANT):
        graph, origin = item.graph, item.origin
    elif keeps is not None and keeps.graph is Graph.HAS_GRAPH:
        graph, origin = Graph.HAS_GRAPH, keeps.origin
    else:
        graph, origin = Graph.UNKNOWN, None
    return ValueState(graph, origin, elements=elements, kind=kind, item=item)


def optional(state: ValueState) -> ValueState:
    """None on some paths, `state` on the others."""
    if state.kind is Kind.NONE or state.kind is Kind.OPTIONAL:
        return state
    return ValueState(Graph.UNKNOWN, kind=Kind.OPTIONAL, item=state)


def merge_items(first: Optional[ValueState], second: Optional[ValueState]) -> Optional[ValueState]:
    """Join of two containers' contents (None, an empty container, is the bottom)."""
    if first is None:
        return second
    if second is None:
        return first
    return merge_states(first, second)


def merge_states(first: ValueState, second: ValueState) -> ValueState:
    """Join of two paths: a state survives only when every path agrees."""
    if first is second or first == second:
        return first
    if first.kind is Kind.NONE or second.kind is Kind.NONE:
        return optional(second if first.kind is Kind.NONE else first)
    if first.kind is Kind.OPTIONAL or second.kind is Kind.OPTIONAL:
        return optional(merge_states(first.operand, second.operand))
    if first.is_container and second.is_container:
        elements = None
        if first.elements is not None and second.elements is not None and len(first.elements) == len(second.elements):
            elements = tuple(merge_states(a, b) for a, b in zip(first.elements, second.elements))
        # Holding a graph on every path is holding one; iterating what may be a dict gives keys.
        keeps = first if first.graph is Graph.HAS_GRAPH and second.graph is Graph.HAS_GRAPH else None
        kind = Kind.MAPPING if Kind.MAPPING in (first.kind, second.kind) else Kind.CONTAINER
        return container(merge_items(first.item, second.item), elements, keeps, kind)
    tags = first.tags & second.tags
    elements = None
    if first.elements is not None and second.elements is not None and len(first.elements) == len(second.elements):
        elements = tuple(merge_states(a, b) for a, b in zip(first.elements, second.elements))
    kind = first.kind if first.kind is second.kind else Kind.UNKNOWN
    if first.graph is second.graph:
        return ValueState(first.graph, first.origin, tags, elements, kind)
    return ValueState(Graph.UNKNOWN, None, tags, elements, kind)


def combine_states(*states: ValueState) -> ValueState:
    """State of a computation (arithmetic, a pure op) from its operands' states."""
    # The result is a new tensor: operands' tags ("parameter", ...) do not carry over.
    kind = Kind.UNKNOWN
    silenced = []
    for state in states:  # a plain loop: this runs for every operation the value flow evaluates
        if state.kind is Kind.TENSOR:
            kind = Kind.TENSOR
        elif state.kind is Kind.OPTIONAL:
            return combine_states(*(operand.operand for operand in states))  # None there raises
        if state.graph is Graph.SILENCED:
            silenced.append(state)
    if silenced:
        others = [state for state in states if state.graph not in (Graph.SILENCED, Graph.CONSTANT)]
        if not others:
            return ValueState(Graph.SILENCED, silenced[0].origin, kind=kind)  # `loss.mean()`: still that leaf
        if any(state.graph is Graph.UNKNOWN for state in others):
            return ValueState(Graph.UNKNOWN, kind=kind)
        # Combined with another tensor, the switched-on leaf is an input whose gradient is wanted
        # (`x = z.detach().requires_grad_(); (x @ w).sum().backward()`): a graph, not NG102.
        return ValueState(Graph.HAS_GRAPH, silenced[0].origin, kind=kind)
    for graph in (Graph.HAS_GRAPH, Graph.UNKNOWN, Graph.NO_GRAPH):
        for state in states:
            if state.graph is graph:
                if graph is Graph.NO_GRAPH and state.kind is Kind.NUMBER and any(
                    other.graph is Graph.NO_GRAPH and other.kind is not Kind.NUMBER for other in states
                ):
                    continue  # `t.sum() / len(xs)`: a tensor, so its origin tells, not len()'s
                if graph is Graph.UNKNOWN:
                    # Unknown, but computed from something that may have a graph: so may the result.
                    return CALLED.of_kind(kind) if any(s.may_have_graph for s in states) else ValueState(graph, kind=kind)
                return ValueState(graph, state.origin, kind=kind)
    return CONSTANT
