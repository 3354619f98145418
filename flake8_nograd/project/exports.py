"""What one module tells the rest of its project: plain records drawn from its own analysis.

An export depends on the file's text alone (the analysis runs with no project context), so it is
cached by content hash; the index ties exports together (index.py). Records:

    functions   "evaluate", "Trainer.eval_step", "outer.<locals>.inner":
                    base      the grad mode its decorator or hook gives it (else absent)
                    local     the base the module alone gives it (callers in this module)
                    sites     its calls here: the grad mode at each, or the caller it inherits from
                    params    positional parameter names (methods: `self` first)
                    returns   what it returns on every path (a value state), when known
                    backward  parameters it back-propagates as given: {name: [line, api]}
                    updates   parameters it updates in place: {name: {binding: [[line, col, name, how]]}}
                    guard     for a guard decorator or context manager: its grad mode
    classes     "Trainer": bases (an import's qualified name, or "@Local"), and `self.m(...)`
                calls in its methods by method name, as sites
    calls       calls of imported names (possible project functions): qualified name and site
    method_calls  calls of methods on objects of unknown class where grad may be off, by name
    reexports   names imported at module level (an `__init__.py` re-exports them)
"""
from __future__ import annotations

import ast
from typing import Dict, List, Optional

from ..analysis import ModuleAnalysis
from ..analysis.guards import stdlib_roots
from ..analysis.model import GRAD_ON, GradMode, RegionKind
from ..analysis.names import NameResolver
from ..analysis.parameters import MODULE, PARAMETER, PARAMETERS
from ..analysis.structure import (
    CallSite,
    FunctionInfo,
    StatementInfo,
    dotted_key,
    function_key,
    is_own_object,
    positional_parameters,
)
from .records import Json, region_to_json, state_to_json

EXPORT_FORMAT = 2
_EXTERNAL_ROOTS = frozenset(
    ("torch", "numpy", "np", "lightning", "pytorch_lightning", "transformers", "tqdm", "scipy", "pandas", "sklearn")
)


def site_record(statement: StatementInfo, escaped: bool = False) -> Json:
    """The grad mode at a call: its own guard's, or "inherit" the caller's base."""
    record: Json = {"line": statement.stmt.lineno}
    local = statement.local
    if local is None:
        caller = function_key(statement.function)
        if caller is None:
            record["mode"] = GradMode.ON.value  # module level: grad is on
        else:
            record["inherit"] = caller
    else:
        record["mode"] = local.mode.value
        if local.inference:
            record["inference"] = True
    if escaped:
        record["escaped"] = True
    return record


def export_module(analysis: ModuleAnalysis) -> Json:
    functions: Dict[str, Json] = {}
    guards: Dict[str, Json] = {}
    callers = analysis.calls_resolver.callers()
    # Functions with a nested function (a decorator's wrapper) or a `@contextmanager`: guards?
    parents = {id(f.parent) for f in analysis.functions if f.parent is not None}
    parents |= {id(f) for f in analysis.functions if not f.is_module and f.node.decorator_list}  # type: ignore[union-attr]
    for function in analysis.functions:
        key = function_key(function)
        if key is None:
            continue
        record: Json = {"params": positional_parameters(function)}
        base = function.base
        if base.kind in (RegionKind.DECORATOR, RegionKind.HOOK):
            record["base"] = region_to_json(base)
        record["local"] = region_to_json(base)
        if base.kind is not RegionKind.DECORATOR and not function.is_module:
            decorators = _imported_decorators(analysis, function)
            if decorators:
                record["decorators"] = decorators  # a project guard among them decides the base
        sites = [site_record(ref.statement, ref.escaped) for ref in callers.get(id(function), [])]
        if sites:
            record["sites"] = sites
        top_level = function.parent is None or function.parent.is_module
        if top_level and not function.is_generator and _returns_a_value(function):
            record["summarise"] = True  # what it returns is worth a summary, if another module calls it
        end = function.exit_region
        if end is not None and end.mode is GradMode.OFF and end.kind in (RegionKind.STATEMENT, RegionKind.LEFT_OFF):
            record["leaves_off"] = True  # `torch.set_grad_enabled(False)` never switched back
        backward = analysis.back_propagated_parameters(function)
        if backward:
            record["backward"] = {name: [line, api] for name, (line, api) in backward.items()}
        if top_level and analysis.evaluator.parameters.writes_in_place(function):
            record["summarise"] = True
        if id(function) in parents:
            guard = analysis.walker.guard_definition(function)
            if guard is not None:
                guards[key] = {"mode": guard.mode.value, "inference": guard.inference}
        functions[key] = record
    guards.update(_guard_aliases(analysis))
    return {
        "format": EXPORT_FORMAT,
        "functions": functions,
        "guards": guards,
        "classes": _classes(analysis),
        "calls": _calls(analysis),
        "method_calls": _calls_by_method_name(analysis),
        "reexports": dict(analysis.resolver.module_scope.imports),
    }


def _imported_decorators(analysis: ModuleAnalysis, function: FunctionInfo) -> List[list]:
    """[qualified name, line] of the decorators imported from elsewhere, nearest to `def` first."""
    found: List[list] = []
    scope = function.scope.parent or function.scope
    for decorator in reversed(function.node.decorator_list):  # type: ignore[union-attr]
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        qualname = analysis.resolver.qualname(target, scope)
        if qualname is not None and not qualname.startswith(("torch", "functools", "contextlib", "typing")):
            found.append([qualname, decorator.lineno])
    return found


def _guard_aliases(analysis: ModuleAnalysis) -> Dict[str, Json]:
    """`evaluation_mode = torch.no_grad` at module level: another name for a grad-off guard."""
    found: Dict[str, Json] = {}
    scope = analysis.resolver.module_scope
    for stmt in analysis.tree.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            continue
        qualname = analysis.resolver.qualname(stmt.value, scope) if isinstance(stmt.value, (ast.Name, ast.Attribute)) else None
        if qualname in ("torch.no_grad", "torch.inference_mode"):
            found[stmt.targets[0].id] = {"mode": GradMode.OFF.value, "inference": qualname == "torch.inference_mode"}
    return found


def light_export(tree: ast.Module) -> Json:
    """The export of a module that neither mentions torch nor back-propagates (configuration,
    data and CLI code): no guard can apply in it, so every call in a function inherits that
    function's grad mode, taken as on (a conservative choice: it never turns a callee grad-off).
    No walk of its regions or values: only its names, functions, classes and calls."""
    resolver = NameResolver(tree)
    functions: Dict[str, Json] = {}
    calls: List[Json] = []
    classes: Dict[str, Json] = {}
    local_classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    on = region_to_json(GRAD_ON)
    stack: List[tuple] = [(node, None, "", resolver.module_scope) for node in tree.body]
    stdlib = stdlib_roots()
    while stack:
        node, owner, prefix, scope = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            key = prefix + node.name
            arguments = node.args
            functions[key] = {"params": [a.arg for a in arguments.posonlyargs + arguments.args], "local": on}
            if owner is None and not prefix:
                functions[key]["summarise"] = True  # analysed in full only if another module calls it
            inner = resolver.scope_of(node)
            stack.extend((child, key, key + ".<locals>.", inner) for child in node.body)
            continue
        if isinstance(node, ast.ClassDef):
            inner = resolver.scope_of(node)
            if owner is None and not prefix:
                bases = []
                for base in node.bases:
                    qualname = resolver.qualname(base, scope)
                    if qualname is None and isinstance(base, ast.Name) and base.id in local_classes:
                        qualname = "@" + base.id
                    bases.append(qualname)
                classes[node.name] = {"bases": bases, "self_calls": {}}
            stack.extend((child, owner, prefix + node.name + ".", inner) for child in node.body)
            continue
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Call):
                qualname = resolver.qualname(child.func, scope)
                if qualname is not None and _may_be_project(qualname, stdlib):
                    site: Json = {"line": child.lineno, "callee": qualname}
                    if owner is None:
                        site["mode"] = GradMode.ON.value
                    else:
                        site["inherit"] = owner
                    calls.append(site)
            stack.append((child, owner, prefix, scope))
    return {
        "format": EXPORT_FORMAT,
        "functions": functions,
        "guards": {},
        "classes": classes,
        "calls": calls,
        "reexports": dict(resolver.module_scope.imports),
    }


def _may_be_project(qualname: str, stdlib: frozenset) -> bool:
    root = qualname.partition(".")[0]
    return not (root in _EXTERNAL_ROOTS or (root in stdlib and not qualname.startswith(".")))


def summarise(analysis: ModuleAnalysis, keys: List[str]) -> Dict[str, Json]:
    """What the functions `keys` return and which of their arguments they update in place: the
    costly part of an export, computed only for functions that other modules call."""
    wanted = set(keys)
    found: Dict[str, Json] = {}
    for function in analysis.functions:
        key = function_key(function)
        if key is None or key not in wanted:
            continue
        record: Json = {}
        if not function.is_generator:
            returned = analysis.summaries.returned(function)
            state = state_to_json(returned) if returned is not None else None
            if state is not None:
                record["returns"] = state
        if analysis.evaluator.parameters.writes_in_place(function):
            updates = _argument_updates(analysis, function)
            if updates:
                record["updates"] = updates
        found[key] = record
    return found


def _returns_a_value(function: FunctionInfo) -> bool:
    """Has a `return <expression>` of its own (not only bare returns or `return None`)."""
    stack = list(function.node.body)  # type: ignore[union-attr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Return):
            if node.value is not None and not (isinstance(node.value, ast.Constant) and node.value.value is None):
                return True
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt))
    return False


def _argument_updates(analysis: ModuleAnalysis, function: FunctionInfo) -> Dict[str, Dict[str, List[list]]]:
    found: Dict[str, Dict[str, List[list]]] = {}
    parameters = positional_parameters(function)
    if function.is_method:
        parameters = parameters[1:]
    for parameter in parameters:
        for binding in (PARAMETER, MODULE, PARAMETERS):
            written = analysis.summaries.argument_updates(function, parameter, binding)
            if written:
                found.setdefault(parameter, {})[binding] = [list(update) for update in written]
    return found


def _classes(analysis: ModuleAnalysis) -> Dict[str, Json]:
    resolver = analysis.resolver
    local_names = {cls.name for cls, _ in analysis.walker.classes}
    classes: Dict[str, Json] = {}
    for cls, scope in analysis.walker.classes:
        bases: List[Optional[str]] = []
        for base in cls.bases:
            qualname = resolver.qualname(base, scope)
            if qualname is None and isinstance(base, ast.Name) and base.id in local_names:
                qualname = "@" + base.id
            bases.append(qualname)
        classes[cls.name] = {"bases": bases, "self_calls": {}}
    for function in analysis.functions:
        if function.class_node is None or function.class_node.name not in classes:
            continue
        calls = classes[function.class_node.name]["self_calls"]
        for site in analysis.walker.calls_of(function):
            func = site.node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
                calls.setdefault(func.attr, []).append(site_record(site.statement))
    return classes


def _calls(analysis: ModuleAnalysis) -> List[Json]:
    """Calls of imported names, and of methods of imported classes: `runner.validate(...)` where
    `runner = Runner(...)` is the only thing assigned to it, and `self.validate(...)` in a
    subclass that does not define `validate` (the method of each imported base)."""
    calls: List[Json] = []
    stdlib = stdlib_roots()
    for site in analysis.calls:
        if site.statement.unreachable:
            continue
        qualname = site.qualname
        if qualname is None and site.method_name is not None:
            for callee in _imported_methods(analysis, site):
                if _may_be_project(callee, stdlib):
                    record = site_record(site.statement)
                    record["callee"] = callee
                    calls.append(record)
            continue
        if qualname is None or not _may_be_project(qualname, stdlib):
            continue
        record = site_record(site.statement)
        record["callee"] = qualname
        calls.append(record)
    return calls


def _calls_by_method_name(analysis: ModuleAnalysis) -> Dict[str, List[Json]]:
    """Method calls on objects of unknown class (`self.task.evaluation(...)`), by method name,
    where grad may be off (a guard, or a caller's mode to inherit): any project method of that
    name may be the one that runs there. Calls with grad surely on tell nothing and are left out."""
    found: Dict[str, List[Json]] = {}
    seen = set()
    for site in analysis.calls:
        name = site.method_name
        if site.qualname is not None or name is None or site.statement.unreachable:
            continue
        receiver = site.node.func.value  # type: ignore[attr-defined]
        if is_own_object(receiver):
            continue
        if analysis.calls_resolver.callee(site.node, site.statement) is not None or _imported_methods(analysis, site):
            continue
        record = site_record(site.statement)
        if record.get("mode") == GradMode.ON.value:
            continue
        identity = (name, record.get("mode"), record.get("inherit"))
        if identity not in seen:
            seen.add(identity)
            found.setdefault(name, []).append(record)
    return found


def _imported_methods(analysis: ModuleAnalysis, site: CallSite) -> List[str]:
    receiver = site.node.func.value  # type: ignore[attr-defined]
    method = site.method_name
    if isinstance(receiver, ast.Name) and receiver.id == "self":
        function = site.statement.function
        class_node = function.class_node
        if class_node is None or analysis.calls_resolver.callee(site.node, site.statement) is not None:
            return []
        scope = analysis.resolver.scope_of(class_node)
        names = [analysis.resolver.qualname(base, scope.parent or scope) for base in class_node.bases]
        return [f"{name}.{method}" for name in names if name is not None]
    key = dotted_key(receiver)
    walker = analysis.walker
    if key is None or key in walker.assigned_otherwise:
        return []
    constructed = walker.assigned_from.get(key)
    if constructed is None or len(constructed) != 1:
        return []
    return [f"{next(iter(constructed))}.{method}"]

