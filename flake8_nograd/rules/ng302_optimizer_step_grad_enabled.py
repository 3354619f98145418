"""NG302: a hand-written optimizer whose step() updates parameters in place with grad enabled."""
from __future__ import annotations

import ast
import re
from typing import Dict, Iterator, List, Optional, Set

from ..analysis import CallSite, FunctionInfo, GradMode, ModuleAnalysis, ParameterUpdate
from ..analysis.parameters import LEAF, is_step_method
from ..analysis.structure import dotted_key
from ..findings import Finding, Fix, finding_at, span
from .base import Rule

FIX = "decorate step() with @torch.no_grad()"
# `.step()` calls that are not an optimizer's: schedulers, GradScaler.step(optimizer), gym envs.
_NOT_AN_OPTIMIZER = re.compile(r"(?i)(sched|scaler|env$|envs$)")


class OptimizerStepWithGrad(Rule):
    code = "NG302"
    name = "optimizer-step-with-grad"
    summary = "a hand-written optimizer's step() updates parameters in place with grad enabled"
    triggers = ("def step",)

    def check(self, analysis: ModuleAnalysis) -> Iterator[Finding]:
        by_function: Dict[int, List[ParameterUpdate]] = {}
        for update in analysis.parameter_updates:
            if update.via is not None:
                continue  # a helper's update of what a call passes it: NG301's, at the call
            by_function.setdefault(id(update.function), []).append(update)
        optimizers: Optional[Set[int]] = None
        for function in analysis.functions:
            updates = by_function.get(id(function))
            if not updates or not is_step_method(function, analysis.trains(function)):
                continue
            if function.decorator_region is not None:
                continue  # @torch.no_grad() (or a run-time flag): nothing to say
            # Only the updates the decorator would cover; one under a switch inside step() is NG301's.
            unguarded = [u for u in updates if u.statement.local is None]
            if not unguarded:
                continue
            if optimizers is None:
                optimizers = optimizer_classes(analysis)
            first = unguarded[0]
            assert function.class_node is not None
            owner = function.class_node.name
            what = f"'{first.name}'" if first.kind == LEAF else f"parameter '{first.name}'"
            if id(function.class_node) in optimizers:
                # torch.optim's convention: step() guards itself, and trainers call it unguarded.
                why = "without @torch.no_grad(); trainers call optimizer.step() with grad enabled, where this raises"
            else:
                call = _unguarded_step_call(analysis, function)
                if call is None:
                    continue  # every step() call in the module is guarded (d2l's Trainer)
                written = ast.unparse(call.node)
                why = f"and is called with grad enabled (line {call.node.lineno}: '{written}'), where this raises"
            yield finding_at(
                function.node,
                function.node,  # type: ignore[arg-type]
                self.code,
                f"'{owner}.step' updates {what} in place (line {first.line}) {why}; {FIX}",
                Fix(FIX, safe=True, action="decorate_no_grad", target=span(function.node)),
            )


def optimizer_classes(analysis: ModuleAnalysis) -> Set[int]:
    """ids of classes that subclass a torch.optim optimizer, directly or through local classes."""
    found: Set[int] = set()
    classes = analysis.walker.classes
    local = {cls.name: cls for cls, _ in classes}
    changed = True
    while changed:
        changed = False
        for cls, scope in classes:
            if id(cls) in found:
                continue
            for base in cls.bases:
                if isinstance(base, ast.Name) and base.id in local:
                    is_optimizer = id(local[base.id]) in found
                else:
                    qualname = analysis.resolver.qualname(base, scope) or ""
                    head, _, last = qualname.rpartition(".")
                    is_optimizer = head in ("torch.optim", "torch.optim.optimizer") and last[:1].isupper()
                if is_optimizer:
                    found.add(id(cls))
                    changed = True
                    break
    return found


def _unguarded_step_call(analysis: ModuleAnalysis, step: FunctionInfo) -> Optional[CallSite]:
    """A `.step()` call with grad enabled that may reach `step` (a method of a class of this module)."""
    owner = step.class_node.name  # type: ignore[union-attr]
    built_by = _local_constructions(analysis)
    assigned_from = analysis.walker.assigned_from
    for site in analysis.calls:
        if site.method_name != "step" or site.qualname is not None or site.region.mode is not GradMode.ON:
            continue
        if not _accepts(step.node, site.node):  # type: ignore[arg-type]
            continue  # scaler.step(optimizer), env.step(action), a wrapper's inner.step(closure)
        receiver = site.node.func.value  # type: ignore[attr-defined]
        if isinstance(receiver, ast.Call):  # SGD(params, lr).step()
            if isinstance(receiver.func, ast.Name) and receiver.func.id == owner:
                return site
            continue
        if isinstance(receiver, ast.Name) and receiver.id in _parameter_names(site.statement.function):
            continue  # handed in by the caller: which class it is, this module does not say
        key = dotted_key(receiver)
        if key is None or key in assigned_from or _NOT_AN_OPTIMIZER.search(key.rpartition(".")[2]):
            continue  # built by a library (torch.optim.SGD(...)), or a scheduler / scaler / env
        classes = built_by.get(key)
        if classes and owner not in classes:
            continue  # built from another class of this module
        return site
    return None


def _parameter_names(function: FunctionInfo) -> Set[str]:
    if function.is_module:
        return set()
    args = function.node.args  # type: ignore[union-attr]
    every = list(getattr(args, "posonlyargs", [])) + list(args.args) + list(args.kwonlyargs)
    return {arg.arg for arg in every}


def _local_constructions(analysis: ModuleAnalysis) -> Dict[str, Set[str]]:
    """'self.optim' -> {'SGD'} for `self.optim = SGD(...)`, for the classes defined in this module."""
    names = {cls.name for cls, _ in analysis.walker.classes}
    built: Dict[str, Set[str]] = {}
    for statement in analysis.statements:
        stmt = statement.stmt
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call) and isinstance(stmt.value.func, ast.Name):
            if stmt.value.func.id in names:
                for target in stmt.targets:
                    key = dotted_key(target)
                    if key:
                        built.setdefault(key, set()).add(stmt.value.func.id)
    return built


def _accepts(method: ast.FunctionDef, call: ast.Call) -> bool:
    """Could `call` bind to `method`'s signature (self excluded)?"""
    args = method.args
    positional = [a.arg for a in list(getattr(args, "posonlyargs", [])) + list(args.args)][1:]
    if args.vararg is None and len([a for a in call.args if not isinstance(a, ast.Starred)]) > len(positional):
        return False
    if args.kwarg is None:
        allowed = set(positional) | {a.arg for a in args.kwonlyargs}
        if any(kw.arg is not None and kw.arg not in allowed for kw in call.keywords):
            return False
    return True


__all__ = ["OptimizerStepWithGrad", "optimizer_classes"]
