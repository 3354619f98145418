"""Evaluation facts: which calls run a model forward, where code evaluates, where grad is wanted.

Read by NG201/NG202/NG203 (and by the fixer, which wraps the loops and statements found here):

    model_of(call)            the model a call runs forward ('model', 'self.net'), else None
    forward_of(call)          model_of, or a forward one step removed: a container member, a local
                              model's method, a helper handed a module (NG201's loops only)
    eval_switch_before(stmt)  the `X.eval()` in effect at a statement: same function, no X.train() since
    loop_context(loop)        why a loop evaluates: after X.eval(), an evaluation-named function, a
                              val/test loader, an X.eval() before every call of the function
    needs_grad(function)      the function back-propagates, steps an optimizer or asks for input
                              gradients (adversarial attacks, saliency, test-time training)
    loop_values_need_grad(loop)  what the loop computes reaches a backward or step (loop_flow.py
                              follows a loop nested in a training loop)
    evaluation_loops()        loops that run a model forward with grad on in evaluation context (NG201)

Positions, not a second walk: a statement is inside a loop of the same function when its line lies
in the loop's line range (nested functions are FunctionInfos of their own).
"""
from __future__ import annotations

import ast
import itertools
import re
from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, List, Optional, Set, Tuple

from .backward import BackwardCall
from .loop_flow import LoopFlow
from .model import GradMode, RegionKind
from .parameters import requires_grad_argument
from .resolve import _argument_for
from .structure import (
    CallSite,
    FunctionInfo,
    StatementInfo,
    StructureWalker,
    _parameter_names,
    bound_arguments,
    dotted_key,
    implicit_arguments,
    in_training_branch,
    positional_parameters,
)
from .summaries import _constructs_a_layer
from .values import Evaluator

LOOP_TYPES = (ast.For, ast.AsyncFor, ast.While)

# Words of a function name that say it evaluates (split on '_' and camelCase).
EVALUATION_WORDS: FrozenSet[str] = frozenset(
    "eval evaluate evaluation evaluating validate validation validating val valid test testing "
    "predict prediction predictions infer inference inferencing".split()
)
# Words of a loop's iterable that say it is evaluation data: `val_loader`, `dataloaders["test"]`;
# a data word must be there too (`valid_lens` is not a validation set).
EVALUATION_DATA_WORDS: FrozenSet[str] = frozenset("val valid validation test testing eval evaluation".split())
# Words of an iterable that say the loop walks over batches of data.
DATA_WORDS: FrozenSet[str] = frozenset(
    "loader loaders dataloader dataloaders dl data dataset datasets ds set iter iterator batches split".split()
)
# The stronger subset: a loader or data set, not batches a function splits off its own input.
LOADER_WORDS: FrozenSet[str] = frozenset("loader loaders dataloader dataloaders dl data dataset datasets ds".split())
# Imports that make a module PyTorch code (MXNet and TensorFlow have other grad-mode rules).
_TORCH_ROOTS = ("torch", "lightning", "torchvision", "torchaudio", "torchtext", "transformers", "timm")
# Text every such import contains: the roots no other root contains ("torch" covers torchvision,
# pytorch_lightning, ...), derived so that a new root can never slip past the prefilter.
_TORCH_IMPORT_WORDS = tuple(
    root for root in _TORCH_ROOTS if not any(other != root and other in root for other in _TORCH_ROOTS)
)
# Receivers of `.step()` that are optimizers (or an AMP scaler stepping one).
_OPTIMIZER_NAME = re.compile(r"(?i)(optim|^opt(_|$)|^opt\w*\d$|scaler$)")
# Chained calls that return the same module: `model.to(device).eval()`.
_SAME_MODULE_METHODS = frozenset(("to", "cuda", "cpu", "float", "half", "double", "bfloat16", "eval", "train"))
# Methods `_mode_switch` and `_call_needs_grad` look at when the callee is not an imported name.
_SWITCH_OR_GRAD_METHODS = frozenset(("eval", "train", "requires_grad_", "step"))
# `Variable(x)` returns `x` since PyTorch 0.4 (`volatile=True` is ignored with a warning): no need
# for grad unless it asks for one (`Variable(x, requires_grad=True)`).
_VARIABLE_WRAPPERS = frozenset(("torch.autograd.Variable", "torch.autograd.variable.Variable"))
# How many calls deep `forward_of` looks for a forward (a helper calling a method calling a layer).
_FORWARD_DEPTH = 3
_WORD_SPLIT = re.compile(r"_+|(?<=[a-z0-9])(?=[A-Z])")


def words(identifier: str) -> List[str]:
    """'val_loader' -> ['val', 'loader'], 'runTest' -> ['run', 'test']."""
    return [word.lower() for word in _WORD_SPLIT.split(identifier) if word]


@dataclass(frozen=True)
class ModeSwitch:
    """`X.eval()` (to_eval) or `X.train()` at a statement."""

    key: str
    statement: StatementInfo
    to_eval: bool

    @property
    def line(self) -> int:
        return self.statement.stmt.lineno


@dataclass(frozen=True)
class EvaluationContext:
    """Why code evaluates; `describe()` completes "... in evaluation code (<phrase>)"."""

    kind: str  # "eval_call" | "function_name" | "loader"
    detail: str
    switch: Optional[ModeSwitch] = None

    def describe(self) -> str:
        if self.kind == "eval_call":
            return f"after {self.detail}"
        if self.kind == "function_name":
            return f"in '{self.detail}'"
        return f"over '{self.detail}'"


@dataclass(eq=False)
class EvaluationLoop:
    """A loop that runs a model forward with grad enabled in evaluation context (NG201)."""

    loop: StatementInfo
    call: CallSite  # the first model forward in the loop
    model: str
    context: EvaluationContext
    volatile: Optional[CallSite] = None  # a `Variable(x, volatile=True)` in the loop: a dead guard


class EvaluationFacts:
    def __init__(self, walker: StructureWalker, evaluator: Evaluator, backward_calls: List[BackwardCall]) -> None:
        self.walker = walker
        self.evaluator = evaluator
        self._calls_by_statement: Optional[Dict[int, List[CallSite]]] = None  # built on first use
        # (id(callee), parameters bound to modules, depth) -> the callee runs a forward with grad on
        self._forward_runs: Dict[tuple, bool] = {}
        self._parameterless: Dict[int, bool] = {}  # id(class) -> it has no trainable parameters
        self._optimizers: Set[str] = {
            key for key, callees in walker.assigned_from.items() if any(c.startswith("torch.optim.") for c in callees)
        }
        self._switches: Dict[int, List[ModeSwitch]] = {}
        self._loops: Dict[int, List[StatementInfo]] = {}
        self._grad_needs: Dict[int, List[StatementInfo]] = {}
        self._flows: Dict[int, LoopFlow] = {}  # id(function) -> its name flow, built on first question
        self._collect(backward_calls)
        self._evaluation_loops: Optional[List[EvaluationLoop]] = None
        self._wrappers: Optional[Set[str]] = None  # see _model_wrappers
        self.uses_torch = _imports_torch(walker)

    # -- one pass over statements and calls ------------------------------------------------------
    def _collect(self, backward_calls: List[BackwardCall]) -> None:
        needs: Dict[int, List[StatementInfo]] = self._grad_needs
        for backward in backward_calls:
            needs.setdefault(id(backward.statement.function), []).append(backward.statement)
        for statement in self.walker.statements:
            stmt = statement.stmt
            if isinstance(stmt, LOOP_TYPES):
                self._loops.setdefault(id(statement.function), []).append(statement)
            elif isinstance(stmt, ast.Assign) and _switches_requires_grad_on(stmt):
                needs.setdefault(id(statement.function), []).append(statement)
        for site in self.walker.calls:
            if site.qualname is None and site.method_name not in _SWITCH_OR_GRAD_METHODS:
                continue  # neither a mode switch nor a call that needs grad: skip the closer looks
            statement = site.statement
            switch = self._mode_switch(site)
            if switch is not None:
                self._switches.setdefault(id(statement.function), []).append(switch)
            if self._call_needs_grad(site):
                needs.setdefault(id(statement.function), []).append(statement)
        self._propagate_grad_needs()

    def _propagate_grad_needs(self) -> None:
        """A call of a local function that needs grad (an attack helper, a nested closure) needs it too."""
        functions = {id(function): function for function in self.walker.functions}
        resolved = [
            (reference, functions[key]) for key, references in self.evaluator.calls.callers().items()
            for reference in references if not reference.escaped
        ]
        changed = True
        rounds = 0
        while changed and rounds < 5:
            changed = False
            rounds += 1
            for reference, callee in resolved:
                if id(callee) not in self._grad_needs:
                    continue
                statement = reference.statement
                bucket = self._grad_needs.setdefault(id(statement.function), [])
                if statement not in bucket:
                    bucket.append(statement)
                    changed = True
            for function in self.walker.functions:  # a closure that needs grad: at its `def`
                parent = function.parent
                if parent is None or parent.is_module or function.is_method or id(function) not in self._grad_needs:
                    continue
                definition = self.walker.statement_info.get(id(function.node))
                bucket = self._grad_needs.setdefault(id(parent), [])
                if definition is not None and definition not in bucket:
                    bucket.append(definition)
                    changed = True

    def _mode_switch(self, site: CallSite) -> Optional[ModeSwitch]:
        method = site.method_name
        if site.qualname is not None or method not in ("eval", "train"):
            return None
        call = site.node
        if method == "eval":
            if call.args or call.keywords:
                return None
            to_eval = True
        else:
            flag = call.args[0] if call.args else next((kw.value for kw in call.keywords if kw.arg == "mode"), None)
            to_eval = isinstance(flag, ast.Constant) and flag.value is False
        stmt = site.statement.stmt
        # A statement of its own (`model.eval()`, `model = Net().eval()`), not a value in an
        # expression (`-node.eval()` of a beam-search node).
        if isinstance(stmt, ast.Expr) and _outermost_chain(stmt.value) is call:
            key = _module_key(call.func.value)  # type: ignore[attr-defined]
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and _outermost_chain(stmt.value) is call:
            key = _module_key(call.func.value) or dotted_key(stmt.targets[0])  # type: ignore[attr-defined]
        else:
            return None
        if key is None:
            return None
        return ModeSwitch(key, site.statement, to_eval)

    def _call_needs_grad(self, site: CallSite) -> bool:
        qualname = site.qualname
        if qualname is not None:
            if qualname in _VARIABLE_WRAPPERS:
                return _asks_for_grad(site.node)
            return qualname.startswith(("torch.autograd.", "torch.func."))
        method = site.method_name
        func = site.node.func
        if method == "requires_grad_":
            args = site.node.args
            return not args or (isinstance(args[0], ast.Constant) and args[0].value is True)
        if method == "step":
            receiver = dotted_key(func.value)  # type: ignore[attr-defined]
            if receiver is None:
                return False
            return receiver in self._optimizers or bool(_OPTIMIZER_NAME.search(receiver.rpartition(".")[2]))
        return False

    # -- queries --------------------------------------------------------------------------------
    def calls_in(self, statement: StatementInfo) -> List[CallSite]:
        """Calls in the statement's own expressions (not in its nested blocks)."""
        if self._calls_by_statement is None:
            self._calls_by_statement = {}
            for site in self.walker.calls:
                self._calls_by_statement.setdefault(id(site.statement), []).append(site)
        return self._calls_by_statement.get(id(statement), [])

    def model_of(self, site: CallSite) -> Optional[str]:
        """The model a call runs forward: `model(x)`, `self.net(x)`, `net.forward(x)`, `encoder(x)`.

        `model.generate(...)` is not counted: transformers' and nanoGPT-style `generate` methods are
        decorated with `@torch.no_grad()` themselves.
        """
        if site.qualname is not None:
            return None
        func = site.node.func
        target = func.value if isinstance(func, ast.Attribute) and func.attr == "forward" else func
        if not isinstance(target, (ast.Name, ast.Attribute)) or not self.evaluator.is_model(target):
            return None
        if self.evaluator.is_opaque_object(target):
            return None  # named like a model, made (or annotated) by an outside class: nothing says it trains
        return dotted_key(target)

    def model_calls_in(self, statement: StatementInfo) -> List[CallSite]:
        return [site for site in self.calls_in(statement) if self.model_of(site) is not None]

    # -- forwards one step removed (NG201 only): containers, local methods and helpers ----------
    def forward_of(self, site: CallSite) -> Optional[str]:
        """What a call runs forward with grad on, directly (`model_of`) or one step removed:
        a member of a module container (`self.members[k](x)`), a method of a local nn.Module
        subclass that runs its layers (`vae.decode(z)`, `policy.act(obs)`, `self(x)`), or a local
        helper that runs a module it is handed (`predict(model.head, h)`). Callees are resolved by
        receiver (resolve.py): a method of an unknown object stays unknown, so quiet."""
        model = self.model_of(site)
        if model is not None:
            func = site.node.func
            target = func.value if isinstance(func, ast.Attribute) and func.attr == "forward" else func
            class_node = self.evaluator.calls.class_of(target, site.statement)
            if class_node is not None and self._has_no_trainable_parameters(class_node):
                return None  # a local module with nothing to train: no graph unless its input has one
            return model
        if site.qualname is not None:
            return None
        func = site.node.func
        if isinstance(func, ast.Subscript):
            return self._module_container(func.value)
        if self._runs_forward(site.node, site.statement, _FORWARD_DEPTH):
            if isinstance(func, ast.Attribute):
                return dotted_key(func.value) if func.attr == "forward" else dotted_key(func)
            return dotted_key(func)
        return None

    def _has_no_trainable_parameters(self, class_node: ast.ClassDef) -> bool:
        """A local `nn.Module` subclass that creates nothing to train: its attributes are numbers,
        tensors, buffers and frozen layers (`Embedding.from_pretrained(w)`, a layer switched with
        `.requires_grad_(False)`), and no method calls a module it is handed. Cached per class."""
        key = id(class_node)
        cached = self._parameterless.get(key)
        if cached is None:
            cached = self._parameterless[key] = _creates_nothing_to_train(class_node)
        return cached

    def _module_container(self, value: ast.expr) -> Optional[str]:
        """`self.members` in `self.members[k](x)`: a container known to hold modules (assigned an
        nn.ModuleList/ModuleDict/Sequential, or switched with `.eval()`), not a dict named `models`."""
        key = dotted_key(value)
        return key if key is not None and key in self.evaluator.model_keys else None

    def _runs_forward(self, call: ast.Call, statement: StatementInfo, depth: int) -> bool:
        """Does this call of a local function or method run a module forward with grad on?"""
        if depth <= 0:
            return False
        callee = self.evaluator.calls.callee(call, statement)
        if callee is None or callee.is_module or callee.is_generator or callee.base.mode is not GradMode.ON:
            return False  # unknown, lazily run, or run grad-off (`@torch.no_grad()`, guarded callers)
        if (
            callee.is_method
            and not self._is_module_class(callee.class_node, callee)  # type: ignore[arg-type]
            and not self.is_evaluation_function(callee)
        ):
            # A trainer's or a buffer's method: not the model's own code, unless it is the
            # trainer's evaluation step (`self.validation_step(batch)` of a hand-written trainer).
            return False
        found, opaque = self._module_arguments(callee, call, statement)
        modules = frozenset(found)
        key = (id(callee), modules, frozenset(opaque), depth)
        cached = self._forward_runs.get(key)
        if cached is None:
            self._forward_runs[key] = False  # while computing: recursion runs nothing more
            cached = self._forward_runs[key] = self._body_runs_forward(callee, modules, depth, frozenset(opaque))
        return cached

    def _body_runs_forward(
        self, callee: FunctionInfo, modules: FrozenSet[str], depth: int, opaque: FrozenSet[str] = frozenset()
    ) -> bool:
        for inner in self.walker.calls_of(callee):
            inner_statement = inner.statement
            if not grad_on_by_default(inner_statement) or inner.qualname is not None:
                continue
            if in_training_branch(callee, inner_statement.stmt):
                continue  # `if model.training: out = model(x)`: not after eval()
            func = inner.node.func
            if isinstance(func, ast.Name) and func.id in modules:
                return True
            if isinstance(func, ast.Name) and func.id in opaque:
                continue  # the parameter is bound to an object known only by its name here
            if self.model_of(inner) is not None and not self._named_local(inner, callee):
                return True
            if isinstance(func, ast.Subscript) and self._module_container(func.value) is not None:
                return True
            if self._runs_forward(inner.node, inner_statement, depth - 1):
                return True
        return False

    def _named_local(self, inner: CallSite, callee: FunctionInfo) -> bool:
        """`encoder_class()` in a helper, where `encoder_class` is the callee's own variable, set
        from a call's result, and nothing but its name says it is a module: the body is judged by
        what it runs, and `encoder_class = field.decoder_class()` runs nothing known. An alias
        (`net = model`, `net = self.net`) keeps what it names."""
        key = self.model_of(inner) or ""
        root = key.partition(".")[0]
        if root == "self" or key in self.evaluator.model_keys:
            return False
        if root not in callee.scope.shadowed or root in _parameter_names(callee):
            return False
        for statement in self.walker.statements_of(callee):
            stmt = statement.stmt
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                if any(isinstance(t, ast.Name) and t.id == root for t in targets):
                    if not isinstance(stmt.value, ast.Call):
                        return False  # an alias or a value the name-based guess may keep
        return True

    def _module_arguments(
        self, callee: FunctionInfo, call: ast.Call, statement: StatementInfo
    ) -> Tuple[Set[str], Set[str]]:
        """The callee's parameters this call binds to modules: a model (`net`), or an attribute
        that the receiver's local class sets to a layer in `__init__` (`talker.code_predictor`);
        and those it binds to objects named like a model that nothing says hold parameters
        (`encoder = FrameEncoderStep(...)` of another package)."""
        found: Set[str] = set()
        opaque: Set[str] = set()
        for name, argument in bound_arguments(call, positional_parameters(callee), implicit_arguments(callee, call.func)):
            if isinstance(argument, (ast.Name, ast.Attribute)) and self.evaluator.is_model(argument):
                (opaque if self.evaluator.is_opaque_object(argument) else found).add(name)
            elif isinstance(argument, ast.Attribute) and self._layer_attribute(argument, statement):
                found.add(name)
        return found, opaque

    def _layer_attribute(self, attribute: ast.Attribute, statement: StatementInfo) -> bool:
        """`obj.head` where obj's local class assigns `self.head = <a layer>` in `__init__`."""
        calls = self.evaluator.calls
        class_node = calls.class_of(attribute.value, statement)
        if class_node is None:
            return False
        init = calls.method(class_node, "__init__")
        if init is None:
            return False
        for stmt in ast.walk(init.node):
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and dotted_key(stmt.targets[0]) == f"self.{attribute.attr}":
                if _constructs_a_layer(stmt.value):
                    return True
        return False

    def _caller_eval_switch(self, loop: StatementInfo, model: Optional[str]) -> Optional[ModeSwitch]:
        """G12: `X.eval()` in the caller. Every call of the loop's function is made after an
        `X.eval()` still in effect, where X is what that call binds to the model's root (the
        receiver for `self`, the argument for a parameter); the first such switch is returned."""
        function = loop.function
        if model is None or function.is_module:
            return None
        root, _, _rest = model.partition(".")
        root = root.partition("[")[0]
        positional = positional_parameters(function)
        if root == "self":
            if not function.is_method:
                return None
        elif root not in positional:
            return None
        references = self.evaluator.calls.callers().get(id(function), [])
        first: Optional[ModeSwitch] = None
        if not references:
            return None
        for reference in references:
            call = reference.call
            if call is None or reference.escaped:
                return None
            if root == "self":
                bound = call.func.value if reference.by_attribute and isinstance(call.func, ast.Attribute) else None
            else:
                index = positional.index(root)
                by_receiver = reference.by_attribute and function.is_method
                bound = _argument_for(call, root, index, by_receiver)
            key = dotted_key(bound) if bound is not None else None
            if key is None:
                return None
            switch = self.eval_switch_before(reference.statement, key)
            if switch is None or not (
                switch.key == key or key.startswith(switch.key + ".") or switch.key.startswith(key + ".")
            ):
                return None
            first = first or switch
        return first

    def returns_to_callers_that_keep_it(self, function: FunctionInfo) -> bool:
        """Does every call of `function` in the module run with grad on, in code that does not
        need grad, and keep what it returns (`probs = predict(net, x)`, `return predict(...)`)?
        False without a visible call: a library's `describe(module, x)` that returns the module's
        output leaves the grad mode to its callers (differentiable APIs are called with grad)."""
        references = self.evaluator.calls.callers().get(id(function), [])
        if not references:
            return False
        for reference in references:
            call = reference.call
            statement = reference.statement
            if call is None or reference.escaped or not grad_on_by_default(statement):
                return False
            if self.needs_grad(statement.function):
                return False
            stmt = statement.stmt
            if not isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.Return)) or stmt.value is None:
                return False
            if not any(node is call for node in ast.walk(stmt.value)):
                return False
        return True

    def loops(self, function: FunctionInfo) -> List[StatementInfo]:
        return self._loops.get(id(function), [])

    def statements_in(self, loop: StatementInfo) -> Iterable[StatementInfo]:
        """Every statement nested in the loop's body (any depth), in order; not nested functions."""
        for statement in self.walker.statements_of(loop.function):
            if statement is not loop and contains(loop, statement):
                yield statement

    def enclosing_loops(self, statement: StatementInfo) -> List[StatementInfo]:
        """Loops of the statement's function that contain it, outermost first."""
        return [loop for loop in self.loops(statement.function) if loop is not statement and contains(loop, statement)]

    def eval_switch_before(self, statement: StatementInfo, model: Optional[str] = None) -> Optional[ModeSwitch]:
        """The latest `X.eval()` before the statement in its function with no `X.train()` since.

        With `model`, prefer the switch of that model (or of an object it belongs to).
        """
        line = statement.stmt.lineno
        switches = [s for s in self._switches.get(id(statement.function), []) if s.line < line]
        in_effect: Dict[str, ModeSwitch] = {}
        for switch in sorted(switches, key=lambda s: s.line):
            if switch.to_eval:
                in_effect[switch.key] = switch
            else:
                in_effect.pop(switch.key, None)
        if not in_effect:
            return None
        if model is not None:
            for key, switch in in_effect.items():
                if model == key or model.startswith(key + ".") or key.startswith(model + "."):
                    return switch
        return max(in_effect.values(), key=lambda s: s.line)

    def grad_needs(self, function: FunctionInfo) -> List[StatementInfo]:
        """Statements that need grad on purpose: backward, autograd.grad, optimizer step, requires_grad_."""
        return self._grad_needs.get(id(function), [])

    def needs_grad(self, function: FunctionInfo) -> bool:
        return bool(self.grad_needs(function))

    def loop_needs_grad(self, loop: StatementInfo) -> bool:
        """Is grad wanted for what the loop computes?

        Yes when the loop itself, or its function outside other loops, back-propagates or steps. A
        sibling loop that trains *before* this one (the training half of a train/validate epoch)
        does not count; one after it may consume what this loop computes, so it does.
        """
        for need in self.grad_needs(loop.function):
            if contains(loop, need):
                return True
            others = [other for other in self.enclosing_loops(need) if not contains(other, loop)]
            if not others:
                return True
            if others[-1].stmt.lineno > _end_line(loop.stmt):
                return True
        return False

    def loop_values_need_grad(self, loop: StatementInfo) -> bool:
        """`loop_needs_grad`, judging a loop nested in a training loop by what it computes: a
        validation pass inside the step loop (`if step % k == 0: for xb in val_loader: ...`) does
        not need grad for the training loop's backward unless a value it binds reaches it."""
        for need in self.grad_needs(loop.function):
            if contains(loop, need):
                return True
            around = self.enclosing_loops(need)
            others = [other for other in around if not contains(other, loop)]
            if others:
                if others[-1].stmt.lineno > _end_line(loop.stmt):
                    return True
                continue
            shared = [other for other in around if other is not loop and contains(other, loop)]
            if not shared or self._flow_of(loop.function).reaches(loop.stmt, need.stmt, shared[-1].stmt):
                return True
        return False

    def _flow_of(self, function: FunctionInfo) -> LoopFlow:
        flow = self._flows.get(id(function))
        if flow is None:
            flow = self._flows[id(function)] = LoopFlow(function.node.body, self.walker.resolver.imported_names)
        return flow

    def is_evaluation_function(self, function: FunctionInfo) -> bool:
        """Named like evaluation code (`evaluate`, `validate`, `test`, `run_inference`, ...).

        pytest's `test_*` functions are unit tests, not evaluation loops, unless they take a loader;
        methods of nn.Module subclasses (`Model.predict`) are model API that callers guard.
        """
        if function.is_module:
            return False
        name_words = words(function.name)
        if not any(word in EVALUATION_WORDS for word in name_words):
            return False
        in_test_class = function.class_node is not None and function.class_node.name.startswith("Test")
        if (function.name.startswith("test_") or in_test_class) and not self.takes_data(function):
            return False
        if function.class_node is not None and self._is_module_class(function.class_node, function):
            return False
        return True

    @staticmethod
    def takes_data(function: FunctionInfo) -> bool:
        """Has a parameter named like a data loader: `test_epoch(model, test_loader)` is evaluation."""
        node = function.node
        params = [arg.arg for arg in node.args.args + node.args.kwonlyargs]  # type: ignore[union-attr]
        return any(word in ("loader", "dataloader", "dataset") for param in params for word in words(param))

    def is_unit_test(self, function: FunctionInfo) -> bool:
        """A pytest test (`test_*`, a method of `Test*`) or a function defined inside one."""
        current: Optional[FunctionInfo] = function
        while current is not None and not current.is_module:
            if current.name.startswith("test_") or (
                current.class_node is not None and current.class_node.name.startswith("Test")
            ):
                return True
            current = current.parent
        return False

    def evaluation_data(self, loop: StatementInfo) -> Optional[str]:
        """The iterable of a `for` loop when it is named as evaluation data (`val_loader`)."""
        stmt = loop.stmt
        if not isinstance(stmt, (ast.For, ast.AsyncFor)):
            return None
        names = _identifiers(stmt.iter)
        name_words = [(name, words(name)) for name in names]
        if not any(word in DATA_WORDS for _, parts in name_words for word in parts):
            return None
        for name, parts in name_words:
            if any(word in EVALUATION_DATA_WORDS for word in parts):
                text = ast.unparse(stmt.iter)
                return text if len(text) <= 40 else name
        return None

    def iterates_data(self, loop: StatementInfo, vocabulary: FrozenSet[str] = DATA_WORDS) -> bool:
        """A `for` over batches of data (`loader`, `val_dataloader`, `dataset`, `batches`)."""
        stmt = loop.stmt
        if not isinstance(stmt, (ast.For, ast.AsyncFor)):
            return False
        return any(word in vocabulary for name in _identifiers(stmt.iter) for word in words(name))

    def iterates_loader(self, loop: StatementInfo) -> bool:
        """A `for` over a data loader or data set (not chunks split off a tensor)."""
        return self.iterates_data(loop, LOADER_WORDS)

    def loop_context(self, loop: StatementInfo, model: Optional[str] = None) -> Optional[EvaluationContext]:
        switch = self.eval_switch_before(loop, model)
        if switch is not None and model is not None and not self._switch_reaches_loop(switch, loop, model):
            switch = None  # `lm.eval()`, then a loop that only runs a lookup table: no evidence
        if switch is not None:
            return EvaluationContext("eval_call", f"{switch.key}.eval() (line {switch.line})", switch)
        function = loop.function
        if self.is_evaluation_function(function):
            return EvaluationContext("function_name", function.name)
        data = self.evaluation_data(loop)
        if data is not None:
            return EvaluationContext("loader", data)
        switch = self._caller_eval_switch(loop, model)
        if switch is not None:
            where = switch.statement.function
            caller = "at module level" if where.is_module else f"in '{where.name}'"
            return EvaluationContext("eval_call", f"{switch.key}.eval() {caller} (line {switch.line})", switch)
        return None

    def _switch_reaches_loop(self, switch: ModeSwitch, loop: StatementInfo, model: str) -> bool:
        """Is the `X.eval()` about what the loop runs? Yes when a forward of the loop runs X (or a
        part of it, or the object it belongs to), is handed X (`predict(X, b)`), or runs an object
        known to be a module (`encoder = nn.GRU(...)`, `net.parameters()` seen): an eval() on
        another object says nothing about an unknown callable the loop runs."""
        if _related(switch.key, model) or model in self.evaluator.model_keys:
            return True
        for statement in self.statements_in(loop):
            if not grad_on_by_default(statement):
                continue
            for site in self.calls_in(statement):
                key = self.forward_of(site)
                if key is None:
                    continue
                if _related(switch.key, key) or key in self.evaluator.model_keys:
                    return True
                arguments = list(site.node.args) + [keyword.value for keyword in site.node.keywords]
                for argument in arguments:
                    handed = dotted_key(argument)
                    if handed is not None and _related(switch.key, handed):
                        return True
        return False

    def evaluation_loops(self) -> List[EvaluationLoop]:
        """Outermost loops that run a model forward with grad enabled in evaluation context."""
        if self._evaluation_loops is None:
            self._evaluation_loops = self._find_evaluation_loops()
        return self._evaluation_loops

    def in_evaluation_loop(self, statement: StatementInfo) -> bool:
        return any(
            found.loop.function is statement.function and contains(found.loop, statement)
            for found in self.evaluation_loops()
        )

    def _find_evaluation_loops(self) -> List[EvaluationLoop]:
        found: List[EvaluationLoop] = []
        if not self.uses_torch:
            return found
        for function in self.walker.functions:
            if self.is_unit_test(function) and not self.takes_data(function):
                continue  # a unit test's forward passes check outputs; grad there costs nothing that matters
            reported: List[StatementInfo] = []
            for loop in self.loops(function):  # in source order: outer loops come first
                if any(contains(outer, loop) for outer in reported):
                    continue
                if not grad_on_by_default(loop) or _runs_once(loop.stmt):
                    continue
                call = self._first_model_call(loop)
                if call is None:
                    continue
                model = self.forward_of(call)
                assert model is not None
                context = self.loop_context(loop, model)
                if context is None or self.loop_values_need_grad(loop):
                    continue
                if self._hands_model_to_other_code(self.statements_in(loop), _FORWARD_DEPTH):
                    continue  # `cam(x)` of `cam = GradCAM(model)`: it may back-propagate, grad need unknown
                reported.append(loop)
                found.append(EvaluationLoop(loop, call, model, context, self._dead_volatile_guard(loop)))
        return self._without_repeats(found)

    def _model_wrappers(self) -> Set[str]:
        """Names bound to an object a class from another package was handed a model to build
        (`cam = GradCAMpp(nn_module=model)`, `attribution = IntegratedGradients(net)`): calling
        it may run the model and back-propagate through it (saliency, attacks), so whether grad
        is needed there is unknown. torch's own wrappers (`DataParallel`, `compile`) are models."""
        if self._wrappers is None:
            found: Set[str] = set()
            for statement in self.walker.statements:
                stmt = statement.stmt
                if not (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)):
                    continue
                site = self.walker.call_info.get(id(stmt.value))
                if site is None or site.qualname is None or site.qualname.partition(".")[0] == "torch":
                    continue
                if self._model_arguments_of(stmt.value):
                    found.update(key for key in map(dotted_key, stmt.targets) if key)
            self._wrappers = found
        return self._wrappers

    def _hands_model_outside(self, site: CallSite) -> bool:
        """`fast_gradient_method(net, x, eps)`, `saliency(model, x)` of another package: handed the
        model itself (not its output), the function may back-propagate through it."""
        qualname = site.qualname
        if qualname is None or qualname.partition(".")[0] in _HARMLESS_ROOTS or qualname.startswith("torch"):
            return False
        return any(not self.evaluator.is_opaque_object(a) for a in self._model_arguments_of(site.node))

    def _model_arguments_of(self, call: ast.Call) -> List[ast.expr]:
        """The arguments of `call` named like (or known to be) a model: `net` in `GradCAM(net)`."""
        arguments = [*call.args, *(keyword.value for keyword in call.keywords)]
        return [a for a in arguments if isinstance(a, (ast.Name, ast.Attribute)) and self.evaluator.is_model(a)]

    def _hands_model_to_other_code(self, statements: Iterable[StatementInfo], depth: int) -> bool:
        """Do these statements, or local functions they call, hand the model to code that may
        back-propagate through it: a wrapper another package built around it, or another package's
        function given the model itself?"""
        if depth <= 0:
            return False
        wrappers = self._model_wrappers()
        for statement in statements:
            for site in self.calls_in(statement):
                if dotted_key(site.node.func) in wrappers or self._hands_model_outside(site):
                    return True
                callee = self.evaluator.calls.callee(site.node, statement)
                if callee is not None and not callee.is_module and self._hands_model_to_other_code(
                    self.walker.statements_of(callee), depth - 1
                ):
                    return True
        return False

    def _without_repeats(self, found: List[EvaluationLoop]) -> List[EvaluationLoop]:
        """Drop a loop whose every forward is a call of a local function or method whose own loop
        is reported (`for name, loader in loaders.items(): evaluate(model, loader)`): guarding
        that loop is the one fix."""
        with_loop = {id(each.loop.function) for each in found}
        if len(with_loop) < 2:
            return found
        kept = []
        for each in found:
            forwards = [
                site for statement in self.statements_in(each.loop) if grad_on_by_default(statement)
                for site in self.calls_in(statement) if self.forward_of(site) is not None
            ]
            callees = [self.evaluator.calls.callee(site.node, site.statement) for site in forwards]
            if forwards and all(callee is not None and id(callee) in with_loop for callee in callees):
                continue
            kept.append(each)
        return kept

    def _dead_volatile_guard(self, loop: StatementInfo) -> Optional[CallSite]:
        """The first `Variable(x, volatile=True)` in the loop, or before it in its function (the
        decoder's first input made volatile): the PyTorch 0.3 guard, ignored since 0.4."""
        before = (s for s in self.walker.statements_of(loop.function) if s.stmt.lineno < loop.stmt.lineno)
        for statement in itertools.chain(self.statements_in(loop), before):
            for site in self.calls_in(statement):
                if site.qualname in _VARIABLE_WRAPPERS and any(
                    keyword.arg == "volatile" and not (isinstance(keyword.value, ast.Constant) and not keyword.value.value)
                    for keyword in site.node.keywords
                ):
                    return site
        return None

    def _first_model_call(self, loop: StatementInfo) -> Optional[CallSite]:
        for statement in self.statements_in(loop):
            if not grad_on_by_default(statement):
                continue
            calls = [site for site in self.calls_in(statement) if self.forward_of(site) is not None]
            if calls:
                return min(calls, key=lambda site: (site.node.lineno, site.node.col_offset))
        return None

    def _is_module_class(self, class_node: ast.ClassDef, function: FunctionInfo) -> bool:
        for base in class_node.bases:
            name = dotted_key(base) or ""
            last = name.rpartition(".")[2]
            if last in ("Module", "LightningModule") or last.endswith(("Model", "Net", "Module")):
                return True
        return False


# Callables that give a module its own parameters (or register one it is handed).
_PARAMETER_MAKERS = frozenset(("Parameter", "register_parameter", "add_module", "register_module", "ParameterList", "ParameterDict"))
# Methods that put something into a container attribute (`self.blocks.append(nn.Linear(...))`).
_CONTAINER_FILLERS = frozenset(("append", "extend", "insert", "update", "setdefault"))


def _creates_nothing_to_train(class_node: ast.ClassDef) -> bool:
    bases = [dotted_key(base) or "" for base in class_node.bases]
    if not bases or not all(base in ("nn.Module", "torch.nn.Module", "Module") for base in bases):
        return False  # a local or unknown base class may create parameters of its own
    frozen = _frozen_attributes(class_node)
    for node in ast.walk(class_node):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in _PARAMETER_MAKERS or name == "setattr":
                return False
            if name in _CONTAINER_FILLERS and (dotted_key(func.value) or "").startswith("self."):  # type: ignore[union-attr]
                return False  # `self.blocks.append(layer)`: may hold modules
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if not _method_makes_nothing_to_train(node, frozen):
                return False
    for stmt in class_node.body:  # class-level fields: `size: int = 64`
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
            if any(isinstance(sub, ast.Call) for sub in ast.walk(stmt.value)):
                return False
    return True


# Packages whose functions handed a model only move, count or wrap it (never back-propagate).
_HARMLESS_ROOTS = frozenset(("builtins", "copy", "tqdm", "print", "logging", "numpy", "accelerate", "deepspeed", "functools"))


def _runs_once(loop: ast.stmt) -> bool:
    """`for batch in val_loader: ...; break`: a `break` at the body's own level ends the first
    iteration, so the loop takes one batch (a figure, a shape check), not one per batch."""
    return isinstance(loop, (ast.For, ast.AsyncFor, ast.While)) and any(isinstance(s, ast.Break) for s in loop.body)


def _frozen_attributes(class_node: ast.ClassDef) -> Set[str]:
    """`self.X` names switched to `requires_grad_(False)` (chained or as a statement), or built with
    `Embedding.from_pretrained(...)` (frozen unless `freeze=False`)."""
    frozen: Set[str] = set()
    for node in ast.walk(class_node):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "requires_grad_":
            key = dotted_key(node.func.value) if _frozen_layer(node) else None  # `self.enc.requires_grad_(False)`
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and _frozen_layer(node.value):
            key = dotted_key(node.targets[0])  # `self.emb = nn.Embedding.from_pretrained(w)`
        else:
            continue
        if key is not None and key.startswith("self."):
            frozen.add(key)
    return frozen


def _frozen_layer(value: ast.expr) -> bool:
    if not isinstance(value, ast.Call) or not isinstance(value.func, ast.Attribute):
        return False
    func = value.func
    if func.attr == "requires_grad_":
        return bool(value.args) and isinstance(value.args[0], ast.Constant) and value.args[0].value is False
    if func.attr == "from_pretrained" and (dotted_key(func.value) or "").rpartition(".")[2] in ("Embedding", "EmbeddingBag"):
        freeze = next((kw.value for kw in value.keywords if kw.arg == "freeze"), None)
        if freeze is None and len(value.args) > 1:
            freeze = value.args[1]
        return freeze is None or (isinstance(freeze, ast.Constant) and freeze.value is True)
    return False


def _method_makes_nothing_to_train(method: ast.AST, frozen: Set[str]) -> bool:
    """Every `self.X = v` stores a frozen layer or a value built without constructing a layer
    (no capitalised callee, no `torch.nn.` call), and no parameter of the method is called
    or stored (it may be a module handed in)."""
    parameters = {arg.arg for arg in method.args.posonlyargs + method.args.args + method.args.kwonlyargs}  # type: ignore[attr-defined]
    parameters.discard("self")
    layers_made: Set[str] = set()  # locals assigned a layer: `enc = Encoder()`
    for node in ast.walk(method):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in parameters:
            return False  # `forward(self, x, net): net(x)`
        if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if _constructs_a_layer(node.value):
            layers_made |= {t.id for t in targets if isinstance(t, ast.Name)}
        for target in targets:
            key = dotted_key(target)
            if key is None or not key.startswith("self."):
                continue
            if key in frozen or _frozen_layer(node.value):
                continue
            if _constructs_a_layer(node.value):
                return False
            for sub in ast.walk(node.value):
                if isinstance(sub, ast.Name) and (sub.id in parameters or sub.id in layers_made):
                    return False  # `self.backbone = backbone`: may be a module
                if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name):
                    return False  # `self.enc = build(cfg)`: a local or imported factory
    return True


def _related(switched: str, run: str) -> bool:
    """`model` and `model`, `model.encoder` or `model.encoder` and `model`: the same object or a part."""
    run = run.partition("[")[0]
    return run == switched or run.startswith(switched + ".") or switched.startswith(run + ".")


def grad_on_by_default(statement: StatementInfo) -> bool:
    """Grad is on because nothing turned it off (not an explicit enable_grad / set_grad_enabled(True))."""
    region = statement.region
    return region.mode is GradMode.ON and region.kind is RegionKind.DEFAULT


def contains(loop: StatementInfo, statement: StatementInfo) -> bool:
    """Is `statement` nested in `loop` (same function; a loop contains itself)?"""
    if loop.function is not statement.function:
        return False
    line, col = statement.stmt.lineno, statement.stmt.col_offset
    return loop.stmt.lineno <= line <= _end_line(loop.stmt) and (
        statement is loop or line > loop.stmt.lineno or col > loop.stmt.col_offset
    )


def _end_line(stmt: ast.stmt) -> int:
    return stmt.end_lineno or stmt.lineno


def _module_key(expr: ast.expr) -> Optional[str]:
    """'model' for `model`, `model.to(device)`, `model.cuda()`: the module a chained call returns."""
    while isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        if expr.func.attr not in _SAME_MODULE_METHODS:
            break
        expr = expr.func.value
    return dotted_key(expr)


def _outermost_chain(expr: ast.expr) -> Optional[ast.Call]:
    """The `.eval()`/`.train()` call in `model.eval()`, `model.to(device).eval()`, `model.eval().cuda()`."""
    while isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        if expr.func.attr in ("eval", "train"):
            return expr
        if expr.func.attr not in _SAME_MODULE_METHODS:
            return None
        expr = expr.func.value
    return None


def may_import_torch(source: str) -> bool:
    """False when the module cannot import PyTorch code (a prefilter: no analysis needed)."""
    for word in _TORCH_IMPORT_WORDS:
        if word in source:
            return True
    return False


def _imports_torch(walker: StructureWalker) -> bool:
    for scope in walker.resolver.scopes.values():
        for qualname in scope.imports.values():
            parts = qualname.split(".")
            if parts[0] in _TORCH_ROOTS or "torch" in parts:
                return True
    return False


def _identifiers(expr: ast.expr) -> List[str]:
    """Names, attributes and string keys in an iterable: `enumerate(self.val_loader)`, `loaders['test']`."""
    found = []
    for node in ast.walk(expr):
        if isinstance(node, ast.Name):
            found.append(node.id)
        elif isinstance(node, ast.Attribute):
            found.append(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            found.append(node.value)
    return found


def _asks_for_grad(call: ast.Call) -> bool:
    """`Variable(x, requires_grad=True)` (or a flag that is not a constant False)."""
    flag = requires_grad_argument(call)
    if flag is None:
        return False
    return not (isinstance(flag, ast.Constant) and not flag.value)


def _switches_requires_grad_on(stmt: ast.Assign) -> bool:
    """`x.requires_grad = True`: the code asks for gradients of its inputs."""
    return any(
        isinstance(target, ast.Attribute) and target.attr == "requires_grad" for target in stmt.targets
    ) and isinstance(stmt.value, ast.Constant) and stmt.value.value is True
