"""Per-function summaries: what a function or method defined in the module returns.

Built on first use from the function's own value flow (its parameters unknown) and read by the
evaluator at each call site that resolves to it (resolve.py). A summary is a plain record of
states and origins, so the project-wide index can keep and combine them across modules.

    def to_probs(logits):            to_probs(...) -> no graph: detached (line 2)
        return logits.detach()
    @torch.no_grad()
    def embed(model, x):             embed(...) -> no graph: computed under @torch.no_grad()
        return model(x)
    def step(self, batch):           self.step(b) -> (unknown, no graph) for `loss, n = ...`
        return self.loss(batch), 0

Attributes get one too: `self.x` reads the join of every `self.x = ...` in the module (any class,
any method), and a `@property` its getter's return summary. An attribute also assigned through
another object (`trainer.x = ...`), by unpacking, or to a layer, is unknown.

A call that passes a literal for a parameter the function tests (`model(x, return_tensor=True)`
with `if return_tensor: out = out.detach()`), or leaves it at a literal default, reads the summary
of the function as run with that argument: the `if`s on it are decided. One flow per function and
set of such arguments, built on first use; a function that tests none of its parameters has none.

Recursion (direct or mutual) makes the result unknown for the call inside the cycle.
"""
from __future__ import annotations

import ast
from typing import Dict, FrozenSet, List, Optional, Set, Tuple

from .model import CONSTANT, UNKNOWN, Kind, ValueState, merge_states
from .parameters import MODULE, PARAMETERS, ArgumentUpdate, argument_updates
from .structure import FunctionInfo, StatementInfo, StructureWalker, assigned_targets, dotted_key, positional_parameters
from .values import TRAINING, Evaluator, ValueFlow

Arguments = Tuple[Tuple[str, object], ...]  # (parameter, literal) pairs, sorted by parameter


class Summaries:
    def __init__(self, walker: StructureWalker, evaluator: Evaluator, flow: ValueFlow) -> None:
        self._walker = walker
        self._evaluator = evaluator
        self._flow = flow
        self._returned: Dict[int, ValueState] = {}
        self._in_progress: Set[int] = set()
        self._attributes: Dict[str, Optional[ValueState]] = {}
        self._stores: Optional[Dict[str, Optional[List[StatementInfo]]]] = None  # name -> `self.name = v`
        self._tested: Dict[int, FrozenSet[str]] = {}  # id(function) -> parameters its `if`s test
        self._eval_mode: Dict[tuple, bool] = {}  # (id(class), "self.encoder") -> left in eval mode
        self._switched: Optional[bool] = None
        self._returned_with: Dict[Tuple[int, Arguments], Optional[ValueState]] = {}
        self._argument_updates: Dict[Tuple[int, str, str], Tuple[ArgumentUpdate, ...]] = {}

    def argument_updates(self, function: FunctionInfo, parameter: str, kind: str) -> Tuple[ArgumentUpdate, ...]:
        """"Updates argument `parameter` in place": the statements of `function` that write it
        when it is bound to a parameter or leaf (`kind` "parameter" / "requires_grad_leaf") or, for
        kind "module", a module whose `.weight`/`.bias` it writes; kind "parameters", a collection of
        parameters it writes the items of. Follows the function's own flow
        from that binding (aliases, views, loops, requires_grad switched off first)."""
        key = (id(function), parameter, kind)
        known = self._argument_updates.get(key)
        if known is None:
            if kind in (MODULE, PARAMETERS):
                bound = UNKNOWN.with_tags(kind)
            else:
                bound = ValueState(UNKNOWN.graph, tags=frozenset((kind,)), kind=Kind.TENSOR)
            flow = ValueFlow(self._walker, self._evaluator, self._flow.back_propagated, bound={parameter: bound})
            self._argument_updates[key] = ()  # while computing (recursion): nothing
            known = argument_updates(self._walker, self._evaluator, function, flow, self._flow)
            self._argument_updates[key] = known
        return known

    def attribute(self, name: str) -> Optional[ValueState]:
        """The state `self.<name>` holds wherever it is read, or None when unknowable here."""
        if name in self._attributes:
            return self._attributes[name]
        self._attributes[name] = None  # while computing: a read of itself is unknown
        stores = self._attribute_stores().get(name)
        state: Optional[ValueState] = None
        if stores:
            flow = self._flow
            for statement in stores:
                flow.ensure(statement.function)
                stored = self._evaluator.evaluate(
                    statement.stmt.value, statement, lambda n: flow.name_states.get(id(n), UNKNOWN)  # type: ignore[attr-defined]
                )
                state = stored if state is None else merge_states(state, stored)
        self._attributes[name] = state
        return state

    def _attribute_stores(self) -> Dict[str, Optional[List[StatementInfo]]]:
        """`self.name = value` statements by name; None for a name also stored some other way."""
        if self._stores is None:
            stores: Dict[str, Optional[List[StatementInfo]]] = {}
            for statement in self._walker.statements:
                stmt = statement.stmt
                kind = type(stmt)
                if kind is ast.Assign:
                    targets = stmt.targets  # type: ignore[attr-defined]
                elif kind is ast.AugAssign or kind is ast.AnnAssign:
                    targets = [stmt.target]  # type: ignore[attr-defined]
                else:
                    continue
                for target in targets:
                    for attribute in _stored_attributes(target):
                        simple = (
                            kind is ast.Assign
                            and attribute is target
                            and isinstance(attribute.value, ast.Name)
                            and attribute.value.id == "self"
                            and len(targets) == 1
                            and not _constructs_a_layer(stmt.value)  # type: ignore[attr-defined]
                        )
                        known = stores.get(attribute.attr, [])
                        if simple and known is not None:
                            stores[attribute.attr] = known + [statement]
                        else:
                            stores[attribute.attr] = None
            self._stores = stores
        return self._stores

    def returned(self, function: FunctionInfo) -> Optional[ValueState]:
        """The state of what `function` returns on every path, or None when unknowable here."""
        key = id(function)
        if key in self._returned:
            return self._returned[key]
        if key in self._in_progress or function.is_module or function.is_generator:
            return None
        if self._registered_as_operator(function):
            return None  # a torch.library custom op: the dispatcher, not the body, gives its graph
        if self._evaluator.assumes_base_of(function):
            return None  # evaluated for one call site's grad mode: not the function's summary
        self._in_progress.add(key)
        try:
            state = self._compute_returned(function, self._flow)
        finally:
            self._in_progress.discard(key)
        self._returned[key] = state
        return state

    def _registered_as_operator(self, function: FunctionInfo) -> bool:
        """`@torch.library.custom_op(...)` (or `impl`, `triton_op`): a call goes through the
        dispatcher, and the autograd formula registered for it (`register_autograd`) gives the
        result its graph, whatever tensor the kernel body allocates."""
        decorators = getattr(function.node, "decorator_list", ())
        if not decorators:
            return False
        resolver = self._walker.resolver
        scope = function.scope.parent or function.scope
        for decorator in decorators:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            qualname = resolver.qualname(target, scope)
            if qualname is not None and qualname.startswith("torch.library."):
                return True
        return False

    def returned_at(
        self, function: FunctionInfo, call: ast.Call, by_attribute: bool, statement: StatementInfo
    ) -> Optional[ValueState]:
        """What `call` of `function` returns: the summary for the literal arguments it passes to
        parameters the function tests (and the receiver's known `training` flag), else the
        function's summary."""
        arguments = self._literal_arguments(function, call, by_attribute, statement)
        if not arguments:
            return self.returned(function)
        key = (id(function), arguments)
        if key in self._returned_with:
            return self._returned_with[key]
        if id(function) in self._in_progress or function.is_generator or self._evaluator.assumes_base_of(function):
            return None
        self._in_progress.add(id(function))
        try:
            flow = ValueFlow(self._walker, self._evaluator, self._flow.back_propagated, dict(arguments))
            state: Optional[ValueState] = self._compute_returned(function, flow)
        finally:
            self._in_progress.discard(id(function))
        self._returned_with[key] = state
        return state

    def _literal_arguments(
        self, function: FunctionInfo, call: ast.Call, by_attribute: bool, statement: StatementInfo
    ) -> Arguments:
        tested = self._tested_parameters(function)
        if not tested:
            return ()
        found = []
        if TRAINING in tested:
            func = call.func  # `self.encoder(x)` runs forward on `self.encoder`; `obj.m(x)` runs m on `obj`
            receiver = func.value if isinstance(func, ast.Attribute) and func.attr == function.name else func
            if self._left_in_eval_mode(receiver, statement):
                found.append((TRAINING, False))
        args = function.node.args  # type: ignore[union-attr]
        positional = positional_parameters(function)
        defaults = dict(zip(positional[len(positional) - len(args.defaults):], args.defaults))
        defaults.update((a.arg, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None)
        keywords = {kw.arg: kw.value for kw in call.keywords}
        splat = None in keywords or any(isinstance(a, ast.Starred) for a in call.args)
        bound = 1 if function.is_method and by_attribute else 0  # `self` for `obj.m(...)`, `obj(...)`
        for name in sorted(tested - {TRAINING}):
            index = positional.index(name) - bound if name in positional else None
            if name in keywords:
                argument: Optional[ast.expr] = keywords[name]
            elif index is not None and 0 <= index < len(call.args) and not splat:
                argument = call.args[index]
            elif splat:
                continue  # `f(*args)`, `f(**options)`: anything may be passed
            else:
                argument = defaults.get(name)
            if isinstance(argument, ast.Constant):
                found.append((name, argument.value))
        return tuple(found)

    def _tested_parameters(self, function: FunctionInfo) -> FrozenSet[str]:
        """The parameters an `if` of the function tests directly (`if flag:`, `if mode == "x":`)."""
        key = id(function)
        tested = self._tested.get(key)
        if tested is None:
            names: Set[str] = set()
            if not function.is_module:
                for statement in self._walker.statements_of(function):
                    if type(statement.stmt) is ast.If:
                        test = statement.stmt.test  # type: ignore[attr-defined]
                        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
                            test = test.operand
                        if isinstance(test, ast.Compare):
                            test = test.left
                        if isinstance(test, ast.Name):
                            names.add(test.id)
                        elif function.is_method and dotted_key(test) == TRAINING:
                            names.add(TRAINING)
                args = function.node.args  # type: ignore[union-attr]
                names &= {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs} | {TRAINING}
            tested = self._tested[key] = frozenset(names)
        return tested

    def _left_in_eval_mode(self, receiver: ast.expr, statement: StatementInfo) -> bool:
        """Is `self.encoder` certainly in eval mode where `statement` calls it? When the class's
        `__init__` puts it there (`self.encoder.requires_grad_(False).eval()`, not under a
        condition), the module constructs the class, and nothing in the module switches a module
        back to training (`.train()`, `.training = ...`): one module at a time, as for callers.
        A LightningModule is put in training mode by the framework."""
        key = dotted_key(receiver)
        owner = self._evaluator.calls.enclosing_class(statement.function)
        if key is None or not key.startswith("self.") or key.count(".") != 1 or owner is None:
            return False
        cached = self._eval_mode.get((id(owner), key))
        if cached is None:
            cached = self._eval_mode[(id(owner), key)] = self._compute_eval_mode(owner, key)
        return cached

    def _compute_eval_mode(self, owner: ast.ClassDef, key: str) -> bool:
        walker = self._walker
        if any("Lightning" in (dotted_key(base) or "") for base in owner.bases):
            return False
        if not any(owner.name in names for names in walker.constructed_from.values()):
            return False  # built elsewhere: whoever builds it may train it
        if self._training_switched():
            return False
        init = self._evaluator.calls.method(owner, "__init__")
        if init is None:
            return False
        for stmt in init.node.body:  # type: ignore[union-attr]
            if isinstance(stmt, ast.Expr) and _puts_in_eval_mode(stmt.value, key):
                return True
        return False

    def _training_switched(self) -> bool:
        """Does anything in the module switch a module to training mode?"""
        if self._switched is None:
            self._switched = any(
                site.method_name == "train"
                and not (len(site.node.args) == 1 and isinstance(site.node.args[0], ast.Constant) and site.node.args[0].value is False)
                for site in self._walker.calls
            ) or "training" in self._attribute_stores() or any(
                isinstance(target, ast.Attribute) and target.attr == "training"
                for statement in self._walker.statements
                for target in assigned_targets(statement.stmt)
            )
        return self._switched

    def _compute_returned(self, function: FunctionInfo, flow: ValueFlow) -> ValueState:
        statements = self._walker.statements_of(function)
        reached = flow.reached
        returns = [
            statement
            for statement in statements
            if isinstance(statement.stmt, ast.Return) and statement.stmt.value is not None
        ]
        if not returns:
            body = function.node.body  # type: ignore[union-attr]
            if body and isinstance(body[-1], ast.Raise) and not any(isinstance(s.stmt, ast.Return) for s in statements):
                # Never returns (`raise NotImplementedError`): an abstract method that a subclass
                # overrides or that code replaces at run time. What "it" returns is unknown.
                return UNKNOWN
            return CONSTANT  # returns None: no value flow needed
        flow.ensure(function)
        if reached is not None:  # a call site's flow: the returns its arguments let it reach
            returns = [statement for statement in returns if id(statement.stmt) in reached]
            statements = [statement for statement in statements if id(statement.stmt) in reached]
        states = [
            self._evaluator.evaluate(statement.stmt.value, statement, lambda name: flow.name_states.get(id(name), UNKNOWN))  # type: ignore[union-attr]
            for statement in returns
        ]
        if len(returns) != sum(isinstance(s.stmt, ast.Return) for s in statements):
            states.append(CONSTANT)  # a bare `return` somewhere
        if flow.end_reachable(function):
            states.append(CONSTANT)  # falls off the end: returns None
        if not states:
            return UNKNOWN
        result = states[0]
        for state in states[1:]:
            result = merge_states(result, state)
        return result



def _stored_attributes(target: ast.expr) -> List[ast.Attribute]:
    """The attributes an assignment target stores into (`a.x`, `(self.h, self.c)`)."""
    if isinstance(target, ast.Attribute):
        # `self.log_alpha.requires_grad = True` changes what `self.log_alpha` holds too.
        return [target] + _stored_attributes(target.value)
    if isinstance(target, (ast.Tuple, ast.List)):
        return [a for element in target.elts for a in _stored_attributes(element)]
    if isinstance(target, ast.Starred):
        return _stored_attributes(target.value)
    if isinstance(target, ast.Subscript):
        # `self.losses[i] = loss`: an item store changes what `self.losses` holds, so what it was
        # first assigned (`[0 for _ in range(n)]`) no longer tells its contents.
        return _stored_attributes(target.value)
    return []


def _constructs_a_layer(value: ast.expr) -> bool:
    """`nn.Linear(...)`, `Encoder(...)`: an object, not a tensor (a capitalised callee)."""
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name[:1].isupper() and name != "Parameter"


def _puts_in_eval_mode(call: ast.expr, key: str) -> bool:
    """`self.encoder.eval()`, `self.encoder.requires_grad_(False).eval()`: methods that return
    the module itself, ending in `.eval()` (or `.train(False)`) on `key`."""
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
        return False
    method = call.func.attr
    if not (method == "eval" or (method == "train" and len(call.args) == 1 and isinstance(call.args[0], ast.Constant)
                                 and call.args[0].value is False)):
        return False
    receiver = call.func.value
    while isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Attribute) and receiver.func.attr in _RETURNS_SELF:
        receiver = receiver.func.value
    return dotted_key(receiver) == key


# nn.Module methods that return the module itself.
_RETURNS_SELF = frozenset(("requires_grad_", "to", "cpu", "cuda", "float", "half", "double", "bfloat16", "eval", "apply"))
