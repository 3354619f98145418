"""The one shared analysis of a module, built once and read by every rule.

    names      imports, aliases, shadowing          -> NameResolver.qualname
    structure  functions, statements, local regions -> StructureWalker
    callers    decorator / hook / guarded-by-callers -> FunctionInfo.base
    backward   which value each backward call uses  -> BackwardCall
    values     per-function value states             -> ModuleAnalysis.state_of
    parameters parameter tags, in-place updates      -> ModuleAnalysis.parameter_updates
    inference  which values hold inference tensors   -> ModuleAnalysis.inference
"""
from __future__ import annotations

import ast
import weakref
from functools import cached_property
from typing import TYPE_CHECKING, Dict, List, NamedTuple, Optional, Tuple

from ..config import Config
from .backward import BackwardCall, find_backward_calls
from .callers import leaking_calls, resolve_bases
from .evaluation import EvaluationFacts
from .inference import InferenceFacts
from .model import UNKNOWN, GradMode, Graph, Origin, OriginKind, Region, RegionKind, ValueState
from .names import NameResolver
from .parameters import ParameterUpdate, find_parameter_updates
from .resolve import CallResolver
from .summaries import Summaries
from .structure import CallSite, FunctionInfo, StatementInfo, StructureWalker, bound_arguments, branch_parameters, positional_parameters
from .values import AssumedBase, Evaluator, ValueFlow

if TYPE_CHECKING:
    from ..project import ProjectContext

__all__ = [
    "BackwardCall",
    "BackwardHandoff",
    "CallSite",
    "FunctionInfo",
    "GradMode",
    "Graph",
    "ModuleAnalysis",
    "Origin",
    "OriginKind",
    "ParameterUpdate",
    "Region",
    "RegionKind",
    "StatementInfo",
    "ValueState",
]


class BackwardHandoff(NamedTuple):
    """`apply_update(loss, opt)` where `apply_update` calls `loss.backward()` on its parameter."""

    site: CallSite
    argument: ast.expr  # what the call hands over
    helper: str  # the helper's name, for messages
    where: str  # its backward call: "line 6", or "line 6 of pkg/helpers.py"
    api: str


class WalkedModule(NamedTuple):
    """A module's structure (walk_module): the part of the analysis that asks the project only
    about guards and functions that leave grad off. Another analysis of the same tree may start
    from it when the project answers those questions as it did for this one (the project index:
    walked alone, then checked with the project's answers)."""

    tree: ast.Module
    resolver: NameResolver
    walker: StructureWalker
    calls: CallResolver


class ModuleAnalysis:
    """Everything the rules know about one module."""

    def __init__(
        self,
        tree: ast.Module,
        config: Optional[Config] = None,
        project: Optional["ProjectContext"] = None,
        walked: Optional[WalkedModule] = None,
    ) -> None:
        """`walked`: the walk of an earlier analysis of `tree` with the same config whose
        questions to the project (those asked while walking) `project` answers the same."""
        self.config = config or Config()
        # The rest of the project (flake8_nograd.project): guards, callers, helpers and classes
        # of other modules. None: this module alone.
        self.project = project
        if walked is None:
            walked = walk_module(tree, self.config, project)
        else:
            walked.walker._project_guard = project.guard if project is not None else None
        self.walked = walked
        self.tree = walked.tree
        self.resolver = walked.resolver
        walker = walked.walker
        self.calls_resolver = walked.calls
        resolve_bases(walker, self.resolver, self.config, self.calls_resolver, project)
        self.functions: List[FunctionInfo] = walker.functions
        self.statements: List[StatementInfo] = walker.statements
        self.calls: List[CallSite] = walker.calls
        self.walker = walker
        self.evaluator = Evaluator(walker, self.calls_resolver)
        self.evaluator.project = project
        self.backward_calls: List[BackwardCall] = find_backward_calls(walker)
        back_propagated: Dict[int, List[ast.expr]] = {}
        self._functions_with_backward: Dict[int, bool] = {}
        for backward in self.backward_calls:
            back_propagated.setdefault(id(backward.statement.stmt), []).extend(backward.values)
            self._functions_with_backward[id(backward.statement.function)] = True
        self._back_propagated = back_propagated
        self._flow = ValueFlow(walker, self.evaluator, back_propagated)
        self.summaries = Summaries(walker, self.evaluator, self._flow)
        self.evaluator.summaries = weakref.ref(self.summaries)
        # (id(function), region) -> the flow of that function as run in that region, built once.
        self._flows_when_called: Dict[tuple, ValueFlow] = {}
        self._back_propagating: Optional[Dict[int, List[BackwardCall]]] = None

    # -- queries --------------------------------------------------------------------------------
    def statement(self, stmt: ast.stmt) -> StatementInfo:
        return self.walker.statement_info[id(stmt)]

    def statements_of(self, function: FunctionInfo) -> List[StatementInfo]:
        """The function's own statements in source order (not those of functions nested in it)."""
        return self.walker.statements_of(function)

    def call(self, call: ast.Call) -> CallSite:
        return self.walker.call_info[id(call)]

    def qualname(self, expr: ast.expr, statement: StatementInfo) -> Optional[str]:
        """Canonical dotted name of an imported object (`T.no_grad` -> 'torch.no_grad'), else None."""
        return self.resolver.qualname(expr, statement.scope)

    def expects_error(self, line: int) -> bool:
        """Is `line` inside `with pytest.raises(...)` / `self.assertRaises(...)` (a test of the error)?"""
        return any(start <= line <= end for start, end in self.walker.expected_error_lines)

    def region_at(self, stmt: ast.stmt) -> Region:
        return self.statement(stmt).region

    def state_of(self, expr: ast.expr, statement: StatementInfo) -> ValueState:
        """The graph state of `expr` where `statement` evaluates it."""
        flow = self._flow
        function = statement.function

        def lookup(name: ast.Name) -> ValueState:
            flow.ensure(function)  # only when a name's state is needed: `loss.item()` needs none
            return flow.name_states.get(id(name), UNKNOWN)

        return self.evaluator.evaluate(expr, statement, lookup)

    def state_after_iteration(self, loop: StatementInfo, name: str) -> ValueState:
        """The state `name` holds at the end of one iteration of `loop`'s body: what the next
        iteration starts with (UNKNOWN when the body always leaves or the name is not known)."""
        self._flow.ensure(loop.function)
        ends = self._flow.loop_ends.get(id(loop.stmt))
        return ends.get(name, UNKNOWN) if ends is not None else UNKNOWN

    def grad_off_calls(self, function: FunctionInfo, at: Optional[StatementInfo] = None) -> List[StatementInfo]:
        """The statements that call a function with grad off, when it also has grad-on callers
        (its base is on). With `at`, a statement of the function, not the calls that pass an
        argument for a parameter a branch around `at` tests (`_run_epoch(train=False)` under
        no_grad, where `at` is under `if train:`): that call may never reach it."""
        if function.is_module or function.base.kind is not RegionKind.DEFAULT:
            return []  # a decorator, a hook or its callers decide its mode, not one call site
        sites = self.calls_resolver.callers().get(id(function), [])
        flags = branch_parameters(function, at.stmt) if at is not None else set()
        found = []
        for site in sites:
            if site.statement.region.mode is not GradMode.OFF or site.escaped:
                continue
            if flags and site.call is not None:
                offset = 1 if function.is_method and isinstance(site.call.func, ast.Attribute) else 0
                if any(name in flags for name, _ in bound_arguments(site.call, positional_parameters(function), offset)):
                    continue
            found.append(site.statement)
        return found

    def state_when_called_in(self, expr: ast.expr, statement: StatementInfo, region: Region) -> ValueState:
        """The state of `expr` at `statement` if its function were called in `region` (a flow of its
        own over that function, built once per region)."""
        function = statement.function
        key = (id(function), region)
        flow = self._flows_when_called.get(key)
        with AssumedBase(self.evaluator, function, region):
            if flow is None:
                flow = self._flows_when_called[key] = ValueFlow(self.walker, self.evaluator, self._back_propagated)
                flow.ensure(function)
            return self.evaluator.evaluate(expr, statement, lambda name: flow.name_states.get(id(name), UNKNOWN))

    @cached_property
    def evaluation(self) -> EvaluationFacts:
        """Model calls, evaluation context and intentional grad use (built on first use)."""
        return EvaluationFacts(self.walker, self.evaluator, self.backward_calls)

    @cached_property
    def inference(self) -> InferenceFacts:
        """Which names and attributes hold inference tensors, and where they are used (built on first use)."""
        return InferenceFacts(self.walker, self.calls_resolver, self._flow)

    @cached_property
    def parameter_updates(self) -> List[ParameterUpdate]:
        """In-place updates of parameters and grad-requiring leaves (whatever the grad mode)."""
        return find_parameter_updates(self)

    def back_propagated_parameters(self, function: FunctionInfo) -> Dict[str, Tuple[int, str]]:
        """Parameters the function back-propagates as it is given them (`loss.backward()`,
        `loss.mean().backward()` on parameter `loss`, never rebound): name -> (line, api). A
        caller that hands such a parameter a value without a graph gets the error."""
        if self._back_propagating is None:
            self._back_propagating = {}
            for backward in self.backward_calls:
                self._back_propagating.setdefault(id(backward.statement.function), []).append(backward)
        found: Dict[str, Tuple[int, str]] = {}
        backwards = self._back_propagating.get(id(function))
        if not backwards or function.is_module:
            return found
        parameters = set(positional_parameters(function))
        for backward in backwards:
            for value in backward.values:
                root = value
                while (
                    isinstance(root, ast.Call) and isinstance(root.func, ast.Attribute)
                    and root.func.attr in ("mean", "sum") and not root.args
                ):
                    root = root.func.value
                if isinstance(root, ast.Name) and root.id in parameters:
                    found.setdefault(root.id, (backward.call.lineno, backward.api))
        if found:
            # A parameter rebound anywhere in the function is not (only) what the caller gave.
            for node in ast.walk(function.node):
                if type(node) is ast.Name and type(node.ctx) is not ast.Load and node.id in found:  # type: ignore[attr-defined]
                    del found[node.id]  # type: ignore[attr-defined]
        return found

    @cached_property
    def handed_to_backward(self) -> List[BackwardHandoff]:
        """Calls that hand a value to a helper which back-propagates it as given (this module's
        own functions, and with the project index those of other modules)."""
        found: List[BackwardHandoff] = []
        local_names = self.resolver.function_names
        for site in self.calls:
            call = site.node
            func = call.func
            if site.qualname is not None:
                helper = self.project.function(site.qualname) if self.project is not None else None
                if helper is None or not helper.backward or helper.is_method:
                    continue
                parameters, backward, name, file = helper.parameters, helper.backward, helper.name, helper.file
                offset = 0
            else:
                named = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
                if named not in local_names:
                    continue
                callee = self.calls_resolver.callee(call, site.statement)
                if callee is None or callee.is_module:
                    continue
                backward = self.back_propagated_parameters(callee)
                if not backward:
                    continue
                parameters, name, file = positional_parameters(callee), callee.name, ""
                offset = 1 if isinstance(func, ast.Attribute) and callee.is_method else 0
            for parameter, argument in bound_arguments(call, parameters, offset):
                if parameter in backward:
                    line, api = backward[parameter]
                    found.append(BackwardHandoff(site, argument, name, f"line {line} of {file}" if file else f"line {line}", api))
        return found

    def trains(self, function: FunctionInfo) -> bool:
        """Does the function back-propagate (so grad is needed there on purpose)?"""
        return self._functions_with_backward.get(id(function), False)



def walk_module(tree: ast.Module, config: Config, project: Optional["ProjectContext"] = None) -> WalkedModule:
    """The structure of a module: its statements' local regions, calls and references."""
    resolver = NameResolver(tree)
    project_guard = project.guard if project is not None else None
    walker = StructureWalker(tree, resolver, config, project_guard=project_guard)
    calls = CallResolver(walker)
    # A function that switches grad off and returns without switching it back leaves grad off
    # after every call of it: walk again with those calls known (rare: most modules walk once).
    leaks = leaking_calls(walker, calls, project)
    for _ in range(3):
        if not leaks:
            break
        walker = StructureWalker(tree, resolver, config, leaks, project_guard)
        calls = CallResolver(walker)
        more = leaking_calls(walker, calls, project)
        if more.keys() == leaks.keys():
            break
        leaks = more
    return WalkedModule(tree, resolver, walker, calls)
