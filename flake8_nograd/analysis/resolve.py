"""Which function of this module a call runs, decided from the receiver, not from the name alone.

    f(x)                 the module's (or the enclosing function's) own `def f`, unless shadowed
    self.m(x)            method `m` of the enclosing class or of a base class defined here
    super().m(x)         method `m` of a base class defined here
    obj.m(x), obj(x)     when `obj` was assigned an instance of a class defined here
                         (`obj = Net()`, `self.net = Net()`), or is a parameter that every
                         call site passes such an instance; `obj(x)` runs `forward`
    anything else        unknown: `self.stats.update(obs)` is not the class's own `update()`

A nested function its parent returns (`step = make_step(model); run(step, x)`) runs wherever
the name bound to the parent's result is called, or where the function it is passed to calls it;
any other use of that name (returned, stored) lets it escape, and its grad mode is unknown there.
"""
from __future__ import annotations

import ast
from typing import Dict, List, Optional

from .guards import dotted_name
from .structure import FunctionInfo, Reference, StatementInfo, StructureWalker, is_own_object, is_super_call, positional_parameters


class CallResolver:
    def __init__(self, walker: StructureWalker) -> None:
        self._walker = walker
        self._classes: Dict[str, List[ast.ClassDef]] = {}
        for class_node, _scope in walker.classes:
            self._classes.setdefault(class_node.name, []).append(class_node)
        self._methods: Dict[int, Dict[str, FunctionInfo]] = {}
        self._functions_by_parent: Dict[int, Dict[str, List[FunctionInfo]]] = {}
        self._callers: Optional[Dict[int, List[Reference]]] = None
        self._direct: Optional[Dict[int, List[Reference]]] = None
        self._by_name: Optional[Dict[str, List[Reference]]] = None
        self._parameter_classes: Dict[tuple, Optional[ast.ClassDef]] = {}
        self._returned: Optional[List[tuple]] = None  # (nested function, the factory returning it)
        for function in walker.functions:
            if function.class_node is not None:
                self._methods.setdefault(id(function.class_node), {})[function.name] = function
            elif function.parent is not None:
                self._functions_by_parent.setdefault(id(function.parent), {}).setdefault(function.name, []).append(
                    function
                )

    # -- queries --------------------------------------------------------------------------------
    def callee_of(self, reference: Reference, through_parameters: bool = True) -> Optional[FunctionInfo]:
        """The function a reference (a call, or a function passed as a callback) runs, if known;
        `through_parameters=False` leaves out receivers typed from call sites (used to find them)."""
        if not reference.by_attribute:
            return self.function_named(reference.name, reference.statement)
        receiver = reference.receiver
        if receiver is None:
            return None
        if is_super_call(receiver):
            own = self.enclosing_class(reference.statement.function)
            return self.method(own, reference.name, bases_only=True) if own is not None else None
        class_node = self.class_of(receiver, reference.statement, through_parameters)
        return self.method(class_node, reference.name) if class_node is not None else None

    def function_named(self, name: str, statement: StatementInfo) -> Optional[FunctionInfo]:
        """`f` as a plain name where `statement` is: a nested `def f` of an enclosing function,
        else the module's own (one definition only: two `def f` leave it unknown)."""
        function: Optional[FunctionInfo] = statement.function
        while function is not None:
            candidates = self._functions_by_parent.get(id(function), {}).get(name, [])
            if candidates:
                return candidates[0] if len(candidates) == 1 else None
            if name in function.scope.shadowed or name in function.scope.imports:
                return None  # a parameter or local of that name hides the outer `def`
            function = function.parent
        return None

    def callee(self, call: ast.Call, statement: StatementInfo, through_parameters: bool = True) -> Optional[FunctionInfo]:
        """The local function or method a call runs: `f(x)`, `self.m(x)`, and `obj(x)` / `self(x)`
        (the class's `forward`) for instances of local classes."""
        func = call.func
        if isinstance(func, ast.Name):
            found = self.function_named(func.id, statement)
            if found is not None or func.id in self._classes:
                return found
        if isinstance(func, ast.Attribute):
            found = self.callee_of(Reference(func.attr, True, statement, func.value, call), through_parameters)
            if found is not None:
                return found
        class_node = self.class_of(func, statement, through_parameters)
        return self.method(class_node, "forward") if class_node is not None else None

    def class_of(
        self, receiver: ast.expr, statement: StatementInfo, through_parameters: bool = True
    ) -> Optional[ast.ClassDef]:
        """The class defined here that `receiver` is an instance of, when the module says so."""
        if isinstance(receiver, ast.Name) and receiver.id in ("self", "cls"):
            return self.enclosing_class(statement.function)
        if type(receiver) is ast.Call and type(receiver.func) is ast.Name:  # type: ignore[attr-defined]
            # `Loss()` passed or called at once: an instance of the class constructed there.
            func = receiver.func  # type: ignore[attr-defined]
            if self._walker.resolver.qualname(func, statement.scope) is None:
                return self.class_named(func.id)
            return None
        key = receiver.id if type(receiver) is ast.Name else dotted_name(receiver)  # type: ignore[attr-defined]
        if key is None:
            return None
        names = self._walker.constructed_from.get(key)
        if names is None:
            if through_parameters and isinstance(receiver, ast.Name):
                return self._parameter_class(statement.function, receiver.id)
            return None
        if len(names) != 1:
            return None
        return self.class_named(next(iter(names)))

    def callers(self) -> Dict[int, List[Reference]]:
        """id(function) -> the references that run it (calls resolved by receiver, and callbacks)."""
        if self._callers is None:
            self._callers = self._references_by_callee(through_parameters=True)
        return self._callers

    def calls_by_method_name(self) -> Dict[str, List[Reference]]:
        """Method calls whose receiver's class is unknown (`self.scorer.rank(...)`, `task.run()`),
        by method name. Any method of that name may be the one that runs, so these calls tell
        how it may run, never that it does."""
        if self._by_name is None:
            found: Dict[str, List[Reference]] = {}
            for reference in self._walker.references:
                receiver = reference.receiver
                if not reference.by_attribute or reference.call is None or receiver is None or reference.statement.unreachable:
                    continue
                if receiver is reference.call.func:
                    continue  # `model(x)`: the implicit forward, not a call by name
                if is_own_object(receiver):
                    continue
                if self.callee_of(reference) is None:
                    found.setdefault(reference.name, []).append(reference)
            self._by_name = found
        return self._by_name

    def _direct_callers(self) -> Dict[int, List[Reference]]:
        if self._direct is None:
            self._direct = self._references_by_callee(through_parameters=False)
        return self._direct

    def _references_by_callee(self, through_parameters: bool) -> Dict[int, List[Reference]]:
        found: Dict[int, List[Reference]] = {}
        for reference in self._walker.references:
            if reference.statement.unreachable:
                continue  # a call after a `raise` never runs
            callee = self.callee_of(reference, through_parameters)
            if callee is not None:
                found.setdefault(id(callee), []).extend(self._invocations(reference, through_parameters))
        for function, factory in self._returned_functions():
            for reference in list(found.get(id(factory), [])):
                if reference.call is not None:
                    found.setdefault(id(function), []).extend(
                        self._runs_of_result(function, reference, through_parameters)
                    )
        return found

    def _returned_functions(self) -> List[tuple]:
        """(nested function, its parent) for each `def f` whose parent only ever returns `f`."""
        if self._returned is not None:
            return self._returned
        found = []
        for function in self._walker.functions:
            parent = function.parent
            if parent is None or parent.is_module or function.class_node is not None:
                continue
            returns = [
                statement for statement in self._walker.statements_of(parent)
                if type(statement.stmt) is ast.Return and statement.stmt.value is not None  # type: ignore[attr-defined]
            ]
            if returns and all(
                type(r.stmt.value) is ast.Name and r.stmt.value.id == function.name  # type: ignore[attr-defined]
                and self.function_named(function.name, r) is function
                for r in returns
            ):
                found.append((function, parent))
        self._returned = found
        return found

    def _runs_of_result(self, function: FunctionInfo, call: Reference, through_parameters: bool) -> List[Reference]:
        """Where the result of `call` (a call of `function`'s factory) runs `function`: the calls of
        the name it is bound to, and the calls of the parameter it is passed to a local function as;
        an escape for any other use."""
        statement = call.statement
        stmt = statement.stmt
        escape = [Reference(function.name, False, statement, escaped=True)]
        if not (
            type(stmt) is ast.Assign and len(stmt.targets) == 1 and type(stmt.targets[0]) is ast.Name  # type: ignore[attr-defined]
            and stmt.value is call.call and not statement.function.is_module  # type: ignore[attr-defined]
        ):
            return escape
        name = stmt.targets[0].id  # type: ignore[attr-defined]
        owner = statement.function
        scope = [s for s in self._walker.statements if _within(s.function, owner)]
        accounted = set()
        runs: List[Reference] = []
        for site in self._walker.calls:
            if not _within(site.statement.function, owner):
                continue
            node = site.node
            if type(node.func) is ast.Name and node.func.id == name:
                accounted.add(id(node.func))
                runs.append(Reference(function.name, False, site.statement, None, node))
                continue
            for argument in list(node.args) + [kw.value for kw in node.keywords]:
                if type(argument) is ast.Name and argument.id == name:  # type: ignore[attr-defined]
                    accounted.add(id(argument))
                    passed = Reference(name, False, site.statement, passed_to=node)
                    invoked = self._invocations(passed, through_parameters)
                    if invoked == [passed]:
                        return escape  # passed to code we cannot see into
                    runs.extend(Reference(function.name, False, r.statement, None, r.call) for r in invoked)
        for other in scope:
            if any(n.id == name and id(n) not in accounted for n in other.names):
                return escape
        return runs

    def _invocations(self, reference: Reference, through_parameters: bool) -> List[Reference]:
        """Where a reference runs its function: the call itself, or, for a function passed to a
        local function that calls that parameter (`timed(step)`, `opt.step(closure)`), the calls
        in that function, in their grad mode (a `@torch.no_grad()` step runs `closure()` grad-off)."""
        passed_to = reference.passed_to
        if reference.call is not None or passed_to is None:
            return [reference]
        receiver = self.callee(passed_to, reference.statement, through_parameters)
        if receiver is None:
            return [reference]
        parameter = _parameter_for(receiver, passed_to, reference)
        if parameter is None:
            return [reference]
        runs = [
            Reference(reference.name, False, site.statement, None, site.node)
            for site in self._walker.calls_of(receiver)
            if isinstance(site.node.func, ast.Name)
            and site.node.func.id == parameter
        ]
        return runs or [reference]

    def _parameter_class(self, function: FunctionInfo, name: str) -> Optional[ast.ClassDef]:
        """The local class of parameter `name` of `function`, when every call site agrees on it
        (`train_step(net, ...)` after `net = Denoiser()`)."""
        if function.is_module or name not in function.scope.shadowed:
            return None  # parameters are bound in the function's own scope; most names are not
        key = (id(function), name)
        if key in self._parameter_classes:
            return self._parameter_classes[key]
        self._parameter_classes[key] = None  # while computing: a cycle of callers agrees on nothing
        found = self._agreed_argument_class(function, name)
        self._parameter_classes[key] = found
        return found

    def _agreed_argument_class(self, function: FunctionInfo, name: str) -> Optional[ast.ClassDef]:
        positional = positional_parameters(function)
        if name not in positional and name not in [a.arg for a in function.node.args.kwonlyargs]:  # type: ignore[union-attr]
            return None
        index = positional.index(name) if name in positional else None
        sites = self._direct_callers().get(id(function), [])
        found: Optional[ast.ClassDef] = None
        for reference in sites:
            call = reference.call
            if call is None:
                return None  # passed as a callback: called with anything
            argument = _argument_for(call, name, index, bound_receiver=reference.by_attribute and function.is_method)
            if argument is None:
                return None
            class_node = self.class_of(argument, reference.statement, through_parameters=False)
            if class_node is None and type(argument) is ast.Name:
                # A parameter handed on (`run_episode(policy, ...)` inside `evaluate(policy)`):
                # the class its own callers agree on.
                class_node = self._parameter_class(reference.statement.function, argument.id)  # type: ignore[attr-defined]
            if class_node is None or (found is not None and class_node is not found):
                return None
            found = class_node
        return found

    def class_named(self, name: str) -> Optional[ast.ClassDef]:
        classes = self._classes.get(name, [])
        return classes[0] if len(classes) == 1 else None

    def method(self, class_node: ast.ClassDef, name: str, bases_only: bool = False) -> Optional[FunctionInfo]:
        """`name` looked up in the class, then along its bases defined in this module (breadth
        first, close enough to the MRO for single inheritance); `bases_only` for `super()`."""
        seen = set()
        queue = [class_node]
        while queue:
            current = queue.pop(0)
            if id(current) in seen:
                continue
            seen.add(id(current))
            if not (bases_only and current is class_node):
                found = self._methods.get(id(current), {}).get(name)
                if found is not None:
                    return found
            for base in current.bases:
                base_class = self.class_named(base.id) if isinstance(base, ast.Name) else None
                if base_class is not None:
                    queue.append(base_class)
        return None

    def methods_of(self, class_node: ast.ClassDef) -> Dict[str, FunctionInfo]:
        return self._methods.get(id(class_node), {})

    def enclosing_class(self, function: Optional[FunctionInfo]) -> Optional[ast.ClassDef]:
        """The class of the method `function` is (or is nested in): `self` inside a closure too."""
        while function is not None:
            if function.class_node is not None:
                return function.class_node
            function = function.parent
        return None



def _within(function: Optional[FunctionInfo], owner: FunctionInfo) -> bool:
    """Is `function` the owner or nested in it (a closure reads the owner's names)?"""
    while function is not None:
        if function is owner:
            return True
        function = function.parent
    return False


def _argument_for(call: ast.Call, name: str, index: Optional[int], bound_receiver: bool) -> Optional[ast.expr]:
    """The argument a call passes for parameter `name` (at `index`, counting `self` for methods)."""
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    if index is None:
        return None
    position = index - 1 if bound_receiver else index
    if position < 0 or position >= len(call.args) or any(isinstance(a, ast.Starred) for a in call.args[: position + 1]):
        return None
    return call.args[position]


def _parameter_for(function: FunctionInfo, call: ast.Call, reference: Reference) -> Optional[str]:
    """The parameter of `function` that `call` binds the referenced function to."""
    positional = positional_parameters(function)
    bound = 1 if function.is_method and isinstance(call.func, ast.Attribute) else 0
    for index, argument in enumerate(call.args):
        if isinstance(argument, ast.Starred):
            return None
        if _refers_to(argument, reference):
            position = index + bound
            return positional[position] if position < len(positional) else None
    for keyword in call.keywords:
        if keyword.arg is not None and _refers_to(keyword.value, reference):
            return keyword.arg
    return None


def _refers_to(argument: ast.expr, reference: Reference) -> bool:
    if isinstance(argument, ast.Name):
        return not reference.by_attribute and argument.id == reference.name
    return isinstance(argument, ast.Attribute) and reference.by_attribute and argument.attr == reference.name
