"""Each function's base grad region: decorator, framework hook, or "only called grad-off"."""
from __future__ import annotations

import ast
from typing import Any, Callable, Dict, List, Optional, Set

from ..config import Config
from .limits import short_source
from .model import GRAD_ON, GradMode, Region, RegionKind
from .names import NameResolver, Scope
from .resolve import CallResolver
from .structure import FunctionInfo, Reference, StructureWalker, function_key

LIGHTNING_MODULE = "lightning.pytorch.LightningModule"


def resolve_bases(
    walker: StructureWalker, resolver: NameResolver, config: Config, calls: CallResolver, project: Optional[Any] = None
) -> None:
    """Fill in FunctionInfo.base for every function of the module. With the project index
    (`project`, a ProjectContext), a function called from other modules takes the base that all
    its calls in the project give it. From scratch: bases an earlier call set (with another
    project context) are replaced."""
    for function in walker.functions:
        function.base = GRAD_ON
    hook_classes = _lightning_classes(walker, resolver, project)
    maybe_hook_classes = _classes_of_unknown_lineage(walker, resolver, hook_classes)
    regrad = _stages_with_grad_switched_back_on(walker, hook_classes)
    undecided: List[FunctionInfo] = []
    for function in walker.functions:
        if function.is_module:
            continue
        if function.decorator_region is not None:
            function.base = function.decorator_region
        elif (
            function.class_node is not None
            and id(function.class_node) in hook_classes
            and config.is_grad_off_hook(function.name)
            and (id(function.class_node), _stage_of(function.name)) not in regrad
        ):
            function.base = Region(GradMode.OFF, RegionKind.HOOK, function=function.name)
        elif (
            function.class_node is not None
            and id(function.class_node) in maybe_hook_classes
            and config.is_grad_off_hook(function.name)
        ):
            # `validation_step` of a class built on a base imported from elsewhere: Lightning runs
            # it without grad if that base is a LightningModule, nothing does otherwise.
            function.base = Region(GradMode.UNKNOWN, RegionKind.HOOK, function=function.name)
        else:
            decided = project.base_of(function_key(function) or "") if project is not None else None
            if decided is not None:
                function.base = decided
            else:
                undecided.append(function)

    callers = calls.callers()
    settled = _registered_functions(walker, [f for f in undecided if id(f) not in callers])
    # Methods nobody is known to call: calls of their name on unknown objects, or (for uncalled
    # model API) a base that no other base changes, set once here.
    uncalled_methods = [f for f in undecided if f.class_node is not None and id(f) not in callers]
    by_name = calls.calls_by_method_name() if uncalled_methods else {}
    module_classes = _module_subclasses(walker, resolver) if uncalled_methods else set()
    for function in uncalled_methods:
        if function.name not in by_name and id(function.class_node) in module_classes:
            function.base = _uncalled_model_method(walker, function)
            settled.add(id(function))

    # Least fixpoint from "grad on": a function turns grad-off only once all its callers are.
    for _ in range(len(undecided) + 1):
        changed = False
        for function in undecided:
            if id(function) in settled:
                continue
            sites = callers.get(id(function), [])
            if sites or function.class_node is None:
                base = _base_from_callers(function, sites)
            else:
                base = _base_from_calls_by_name(function, by_name.get(function.name, []))
            if base != function.base:
                function.base = base
                changed = True
        if not changed:
            break


def _registered_functions(walker: StructureWalker, uncalled: List[FunctionInfo]) -> Set[int]:
    """Functions never called or passed here but stored as values (`HOOKS = {"ema": ema_}`): they
    run from a registry lookup whose grad mode is not visible, so their base is unknown (G30). A
    function not referenced at all stays grad-on (a library helper)."""
    plain = [f for f in uncalled if f.class_node is None and not f.is_module]
    if not plain:
        return set()
    loaded = {name.id for statement in walker.statements for name in statement.names}
    found: Set[int] = set()
    for function in plain:
        if function.name in loaded:
            function.base = Region(GradMode.UNKNOWN, RegionKind.CALLERS, function=function.name)
            found.add(id(function))
    return found


def leaking_calls(walker: StructureWalker, calls: CallResolver, project: Optional[Any] = None) -> Dict[int, Region]:
    """id(call) -> the region after it, for each call of a function that leaves grad off
    (`torch.set_grad_enabled(False)`, or a call of such a function, not switched back); with
    the project index, also of such functions in other modules."""
    leaks: Dict[int, Region] = {}
    if project is not None:
        for site in walker.calls:
            if site.qualname is not None and not site.qualname.startswith("torch"):
                name = project.leaves_grad_off(site.qualname)
                if name is not None:
                    call = site.node
                    leaks[id(call)] = Region(
                        GradMode.OFF, RegionKind.LEFT_OFF, short_source(call.func) + "()", call.lineno, function=name
                    )
    callers = None
    for function in walker.functions:
        end = function.exit_region
        if function.is_module or end is None or end.mode is not GradMode.OFF:
            continue
        if end.kind not in (RegionKind.STATEMENT, RegionKind.LEFT_OFF):
            continue
        callers = callers if callers is not None else calls.callers()
        for reference in callers.get(id(function), []):
            if reference.call is not None:
                call = reference.call
                leaks[id(call)] = Region(
                    GradMode.OFF, RegionKind.LEFT_OFF, short_source(call.func) + "()", call.lineno, function=function.name
                )
    return leaks


def _base_from_callers(function: FunctionInfo, sites: List[Reference]) -> Region:
    if not sites or any(site.escaped for site in sites):
        return GRAD_ON
    modes = {site.statement.region.mode for site in sites}
    if modes == {GradMode.OFF}:
        inference = all(site.statement.region.inference for site in sites)
        first = min(site.statement.stmt.lineno for site in sites)
        return Region(GradMode.OFF, RegionKind.CALLERS, line=first, inference=inference, function=function.name)
    if GradMode.ON not in modes:
        return Region(GradMode.UNKNOWN, RegionKind.CALLERS, function=function.name)
    return GRAD_ON


def _base_from_calls_by_name(function: FunctionInfo, sites: List[Reference]) -> Region:
    """A method with no known caller, and calls of its name on objects of unknown class: if one
    of them may run without grad, so may the method (unknown); else grad is on as for any method
    nobody calls here."""
    if any(site.statement.region.mode is not GradMode.ON for site in sites):
        return Region(GradMode.UNKNOWN, RegionKind.CALLERS, function=function.name)
    return GRAD_ON


def _uncalled_model_method(walker: StructureWalker, function: FunctionInfo) -> Region:
    """A method of an nn.Module subclass that nothing in view calls (`predict_class`, `sample`):
    public API for code elsewhere, which may run it under a guard or not: unknown. Not `forward`
    and dunder methods (they run as the module is called), nor a method that trains or updates
    tensors in place (`backward()`, `step()`, `mul_()`): it is written for grad on, and the rules
    report what it does with grad on."""
    if function.name == "forward" or function.name.startswith("__"):
        return GRAD_ON
    for site in walker.calls_of(function):
        name = site.method_name
        if name is not None and (name in _TRAINING_METHODS or (name.endswith("_") and not name.startswith("_"))):
            return GRAD_ON
    return Region(GradMode.UNKNOWN, RegionKind.CALLERS, function=function.name)


_TRAINING_METHODS = frozenset(("backward", "step", "grad", "manual_backward"))


def _module_subclasses(walker: StructureWalker, resolver: NameResolver) -> Set[int]:
    """ids of the classes of this module that derive from a torch.nn class, directly or through
    classes of this module."""
    return _derived_classes(walker, lambda cls, base, scope: (resolver.qualname(base, scope) or "").startswith("torch.nn."))


def _derived_classes(
    walker: StructureWalker, matches: Callable[[ast.ClassDef, ast.expr, Scope], bool], excluded: Set[int] = frozenset()
) -> Set[int]:
    """ids of the module's classes (not in `excluded`) with a base that `matches`, or with a base
    among the module's own classes found so far, to a fixpoint."""
    found: Set[int] = set()
    local_names = {cls.name: cls for cls, _ in walker.classes}
    changed = True
    while changed:
        changed = False
        for cls, scope in walker.classes:
            if id(cls) in found or id(cls) in excluded:
                continue
            for base in cls.bases:
                if isinstance(base, ast.Name) and base.id in local_names:
                    derived = id(local_names[base.id]) in found
                else:
                    derived = matches(cls, base, scope)
                if derived:
                    found.add(id(cls))
                    changed = True
                    break
    return found


_STAGES = ("validation", "test", "predict")


def _stage_of(hook: str) -> str:
    """'validation' for validation_step / on_validation_model_eval."""
    for stage in _STAGES:
        if hook.startswith((stage + "_", "on_" + stage + "_")):
            return stage
    return ""


def _stages_with_grad_switched_back_on(walker: StructureWalker, hook_classes: Set[int]) -> Set[tuple]:
    """(id(class), 'validation') when a stage hook of a Lightning class ends with
    `torch.set_grad_enabled(True)` (an `on_validation_model_eval` override): Lightning runs the
    validation loop under no_grad, which that switch undoes. Not for test/predict: Lightning runs
    them under inference_mode by default, which set_grad_enabled(True) cannot leave."""
    found: Set[tuple] = set()
    for function in walker.functions:
        end = function.exit_region
        if function.class_node is None or id(function.class_node) not in hook_classes or end is None:
            continue
        if end.mode is GradMode.ON and end.kind is RegionKind.STATEMENT and _stage_of(function.name) == "validation":
            found.add((id(function.class_node), "validation"))
    return found


def _lightning_classes(walker: StructureWalker, resolver: NameResolver, project: Optional[Any] = None) -> Set[int]:
    """ids of classes that subclass LightningModule, directly, through classes of this module or
    (with the project index) through project classes in other modules."""

    def is_lightning(cls: ast.ClassDef, base: ast.expr, scope: Scope) -> bool:
        qualname = resolver.qualname(base, scope)
        # Imported from Lightning, or from a project module under a telling name.
        name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
        if qualname == LIGHTNING_MODULE or "LightningModule" in name:
            return True
        return project is not None and qualname is not None and project.derives_from(cls.name, LIGHTNING_MODULE)

    return _derived_classes(walker, is_lightning)


# Bases known not to be LightningModules: a hook-named method there runs as its callers run it.
_NON_LIGHTNING_ROOTS = ("torch.", "skorch.", "abc.", "typing.", "dataclasses.", "enum.", "collections.")
_BUILTIN_BASES = frozenset(("object", "Exception", "dict", "list", "tuple"))


def _classes_of_unknown_lineage(walker: StructureWalker, resolver: NameResolver, hook_classes: Set[int]) -> Set[int]:
    """ids of classes (not known Lightning ones) with a base that may be a LightningModule: one
    imported from a project or another package (`from .systems import BaseSystem`), or a local
    class that has such a base. Plain classes, nn.Module and skorch's NeuralNet subclasses are not."""

    def may_be_lightning(cls: ast.ClassDef, base: ast.expr, scope: Scope) -> bool:
        qualname = resolver.qualname(base, scope)
        if qualname is None:
            return not (isinstance(base, ast.Name) and base.id in _BUILTIN_BASES)
        return not qualname.startswith(_NON_LIGHTNING_ROOTS)

    return _derived_classes(walker, may_be_lightning, hook_classes)
