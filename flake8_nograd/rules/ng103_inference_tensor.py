"""NG103: an inference tensor used where autograd needs a normal tensor (a RuntimeError at run time).

A tensor made under `torch.inference_mode()` keeps being an inference tensor after the block. Out
of inference mode, PyTorch rejects it in two places (checked under torch 2.13):

- an in-place update (`x += 1`, `x.add_()`, `x[i] = v`, `out=x`), in any grad mode:
  "Inplace update to inference tensor outside InferenceMode is not allowed";
- an operation that autograd records and that saves it for backward (a Linear or convolution
  whose weights require grad, `w * x`, `probs @ x`, a loss's target, a gather index):
  "Inference tensors cannot be saved for backward".

Not every op saves its inputs (`x + w` does not, nor `F.l1_loss`), and a module that is frozen
records nothing: the rule reports only when the analysis knows that the op saves the tensor and
that something else in it requires grad. `InferenceFacts` (analysis/inference.py) says which values
hold inference tensors; this module decides which of their uses raise.
"""
from __future__ import annotations

import ast
from typing import Dict, Iterator, List, Optional, Set, Tuple

from ..analysis import GradMode, Graph, ModuleAnalysis, StatementInfo
from ..analysis.guards import dotted_name
from ..analysis.inference import SAVING_LOSS_CLASSES, InferenceUse, Resolved, TaintKind, UseKind
from ..analysis.parameters import frozen_parameter
from ..analysis.structure import FunctionInfo
from ..analysis.values import TENSOR_METHODS, is_loss_function
from ..findings import Finding, finding_at
from .base import Rule, describe, with_method

# torch.nn layers that save their input for the weight gradient (each checked under torch 2.13;
# LSTM, MultiheadAttention, TransformerEncoderLayer and RMSNorm do not, on CPU).
SAVING_LAYERS = frozenset(
    "torch.nn." + name
    for name in (
        "Linear Bilinear Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d ConvTranspose3d Embedding "
        "LayerNorm GroupNorm BatchNorm1d BatchNorm2d BatchNorm3d PReLU GRU RNN"
    ).split()
)
# Layers that hand their input on unchanged (a view or the same tensor) to the next one.
_PASS_ON_LAYERS = frozenset("torch.nn." + name for name in ("Flatten", "Identity", "Unflatten"))
# PyTorch's own words in double quotes: single quotes in a message are code.
_SAVED = '"Inference tensors cannot be saved for backward"'
_INPLACE = '"Inplace update to inference tensor outside InferenceMode is not allowed"'
_REQUIRES_GRAD = '"Setting requires_grad=True on inference tensor outside InferenceMode is not allowed"'
_SAVING_KINDS = (UseKind.OPERAND, UseKind.INDEX, UseKind.MODULE_INPUT, UseKind.LOSS_TARGET)
_GRAPH_METHODS = TENSOR_METHODS | frozenset(("log_prob", "entropy", "rsample", "gather", "index_select", "where"))


class InferenceTensorOutsideInferenceMode(Rule):
    code = "NG103"
    name = "inference-tensor-outside-inference-mode"
    summary = "a tensor made under torch.inference_mode() updated in place or saved for backward outside it"
    triggers = ("inference_mode",)

    def check(self, analysis: ModuleAnalysis) -> Iterator[Finding]:
        facts = analysis.inference
        if not facts.active:
            return
        autograd = _Autograd(analysis)
        reported: Set[Tuple[int, object]] = set()
        for use in facts.uses:
            region = use.statement.region
            if region.inference or region.mode is GradMode.UNKNOWN:
                continue
            saving = use.kind in _SAVING_KINDS
            if saving and region.mode is not GradMode.ON:
                continue  # with grad off nothing is saved for backward
            resolved = facts.resolve(use.taint)
            if resolved is None:
                continue
            consumer = _raises(use, resolved, autograd)
            if consumer is None:
                continue
            made = resolved.taint.made
            key = (id(use.statement.function), (made.line, made.col, made.function) if made else None)
            if key in reported:
                continue  # one root cause: the first use of that tensor in the function
            reported.add(key)
            yield finding_at(use.node, use.statement.stmt, self.code, _message(use, resolved, consumer))


def _raises(use: InferenceUse, resolved: Resolved, autograd: "_Autograd") -> Optional[str]:
    """How the use rejects the inference tensor (for the message), or None when it may not."""
    taint = resolved.taint
    kind = use.kind
    if taint.kind is TaintKind.HOLDER:
        return None
    if kind is UseKind.INPLACE:
        method = use.detail.startswith(".") or use.detail.endswith("()")
        if taint.detached or not (taint.is_tensor or method):
            return None  # `.detach()` taken outside inference mode may be updated; a number may be
        return use.detail
    if kind is UseKind.REQUIRES_GRAD:
        return use.detail
    if taint.strided:
        return None  # a transposed view may be copied before it is saved
    statement = use.statement
    if kind is UseKind.MODULE_INPUT:
        callee = use.others[0]
        loss = autograd.loss_class(callee)
        if loss is not None:
            source = _loss_input(use)
            if _is_target(use) and (
                autograd.back_propagated(use.op, statement)
                or (source is not None and autograd.requires_grad(source, statement))
            ):
                return f"{describe(callee)} ({loss.rpartition('.')[2]}) saves it for backward as the target"
            return None
        if autograd.trainable_layer(callee, statement):
            return f"{describe(callee)} saves it for backward"
        if taint.integer and not _is_main_input(use):
            return None  # a timestep or a mask: it may only meet arithmetic (a float copy) in there
        if autograd.back_propagated(use.op, statement) and autograd.is_module_object(callee, statement):
            return f"{describe(callee)}, whose output is back-propagated, saves it for backward"
        return None
    if kind is UseKind.LOSS_TARGET:
        if autograd.back_propagated(use.op, statement) or autograd.requires_grad(use.others[0], statement):
            return f"{use.detail} saves it for backward as the target"
        return None
    if kind is UseKind.INDEX:
        for other in use.others:
            if taint.integer and autograd.requires_grad(other, statement):
                return f"{use.detail} saves it for backward as the index into {describe(other)} (which requires grad)"
        return None
    # OPERAND: `a * w` saves `a` when `w` requires grad; a Python number is no tensor.
    for other in use.others:
        if taint.is_tensor and autograd.requires_grad(other, statement):
            return f"{use.detail} with {describe(other)} (which requires grad) saves it for backward"
    return None


_MAIN_INPUT_KEYWORDS = frozenset(("input", "inputs", "input_ids", "x", "pixel_values", "images"))


def _is_main_input(use: InferenceUse) -> bool:
    """The model's first argument (`model(ids)`, `model(input_ids=ids)`): what its first layer takes."""
    call = use.op
    assert isinstance(call, ast.Call)
    if call.args:
        return call.args[0] is use.node
    return any(kw.arg in _MAIN_INPUT_KEYWORDS and kw.value is use.node for kw in call.keywords)


def _loss_input(use: InferenceUse) -> Optional[ast.expr]:
    call = use.op
    assert isinstance(call, ast.Call)
    if call.args and not isinstance(call.args[0], ast.Starred):
        return call.args[0]
    return next((kw.value for kw in call.keywords if kw.arg == "input"), None)


def _is_target(use: InferenceUse) -> bool:
    call = use.op
    assert isinstance(call, ast.Call)
    if len(call.args) > 1 and call.args[1] is use.node:
        return True
    return any(kw.arg == "target" and kw.value is use.node for kw in call.keywords)


def _message(use: InferenceUse, resolved: Resolved, consumer: str) -> str:
    name = describe(use.node)
    made = resolved.taint.made
    origin = f"made {made.where}" if made is not None else "made in inference mode"
    if resolved.via:
        origin += f" and {resolved.via}"
    if isinstance(use.node, ast.Name):
        clone = f"clone it outside inference mode ('{use.node.id} = {use.node.id}.clone()')"
    else:
        clone = f"clone it outside inference mode ({with_method(use.node, 'clone')})"
    fix = f"{clone} or compute it under torch.no_grad() instead"
    if use.kind is UseKind.INPLACE:
        what = f"updating it in place ({consumer}) outside inference mode raises {_INPLACE}"
    elif use.kind is UseKind.REQUIRES_GRAD:
        what = f"'{consumer}' on it raises {_REQUIRES_GRAD}"
    else:
        what = f"{consumer} and raises {_SAVED}"
    return f"{name} is an inference tensor {origin}; {what}; {fix}"


class _Autograd:
    """What records a graph: grad-requiring values, trainable layers, what reaches a backward()."""

    def __init__(self, analysis: ModuleAnalysis) -> None:
        self.analysis = analysis
        self._carriers: Dict[int, Tuple[Set[str], Set[int]]] = {}
        self._sequential_first: Dict[str, Optional[str]] = {}

    # -- modules --------------------------------------------------------------------------------
    def loss_class(self, callee: ast.expr) -> Optional[str]:
        key = dotted_name(callee)
        qualnames = self.analysis.walker.assigned_from.get(key or "", set())
        if len(qualnames) == 1 and next(iter(qualnames)) in SAVING_LOSS_CLASSES:
            return next(iter(qualnames))
        return None

    def trainable_layer(self, callee: ast.expr, statement: StatementInfo) -> bool:
        """`self.proj = nn.Linear(...)` (or an `nn.Sequential` starting with one), not frozen here."""
        key = dotted_name(callee)
        if key is None or self._frozen(key, statement):
            return False
        qualnames = self.analysis.walker.assigned_from.get(key, set())
        if len(qualnames) != 1:
            return False
        qualname = next(iter(qualnames))
        if qualname == "torch.nn.Sequential":
            return self._first_layer(key) in SAVING_LAYERS
        return qualname in SAVING_LAYERS

    def is_module_object(self, callee: ast.expr, statement: StatementInfo) -> bool:
        """A call of a model object (`model(x)`, `policy(obs)`, `self.net(x)`), not a method
        (`vae.encode(x)`, `self.compute_loss(...)`), a loss, or a model with frozen parts."""
        key = dotted_name(callee)
        if key is None or self._frozen(key, statement) or self.analysis.evaluator.parameters.has_frozen_part(key, statement.function):
            return False
        evaluator = self.analysis.evaluator
        if evaluator.is_loss_module(callee):
            return False  # a loss of unknown kind: F.l1_loss saves no target
        if isinstance(callee, ast.Name):
            return True
        walker = self.analysis.walker
        if any(q.startswith("torch.nn.") for q in walker.assigned_from.get(key, ())) or key in walker.constructed_from:
            return True
        return evaluator.is_model(callee)

    def _frozen(self, key: str, statement: StatementInfo) -> bool:
        owner = self.analysis.evaluator.parameters.frozen_owner(key, within=statement.function)
        if owner is None:
            return False
        if owner != "self":
            return True
        # `self.requires_grad_(False)` freezes the class it is written in, not every `self.x`.
        class_node = statement.function.class_node
        return any(
            site.method_name == "requires_grad_"
            and isinstance(site.node.func.value, ast.Name)  # type: ignore[attr-defined]
            and site.node.func.value.id == "self"  # type: ignore[attr-defined]
            and site.statement.function.class_node is class_node
            for site in self.analysis.calls
        )

    def _first_layer(self, key: str) -> Optional[str]:
        if key in self._sequential_first:
            return self._sequential_first[key]
        first: Optional[str] = None
        found = 0
        for statement in self.analysis.statements:
            stmt = statement.stmt
            if not (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)):
                continue
            if not any(dotted_name(target) == key for target in stmt.targets):
                continue
            found += 1
            layers = [a for a in stmt.value.args if isinstance(a, ast.Call)]
            for layer in layers:
                qualname = self.analysis.call(layer).qualname
                if qualname not in _PASS_ON_LAYERS:
                    first = qualname
                    break
        self._sequential_first[key] = first if found == 1 else None
        return self._sequential_first[key]

    # -- values ---------------------------------------------------------------------------------
    def requires_grad(self, expr: ast.expr, statement: StatementInfo, depth: int = 0) -> bool:
        """Known to require grad: a graph or a parameter per the value flow, a trainable layer's
        output, or a module output that reaches a backward() here."""
        state = self.analysis.state_of(expr, statement)
        if state.graph in (Graph.HAS_GRAPH, Graph.SILENCED) or state.tags & {"parameter", "requires_grad_leaf"}:
            return True
        if depth > 3:
            return False
        while True:
            if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr in _GRAPH_METHODS:
                if self.trainable_layer(expr.func, statement):
                    return True
                expr = expr.func.value
            elif isinstance(expr, (ast.Subscript, ast.Attribute)) and not self._is_parameter_attribute(expr, statement):
                expr = expr.value
            elif isinstance(expr, ast.UnaryOp):
                expr = expr.operand
            else:
                break
        if self._is_parameter_attribute(expr, statement):
            return True
        if isinstance(expr, ast.BinOp):
            return self.requires_grad(expr.left, statement, depth + 1) or self.requires_grad(
                expr.right, statement, depth + 1
            )
        if isinstance(expr, ast.Call):
            if self.trainable_layer(expr.func, statement):
                return True
            qualname = self.analysis.call(expr).qualname
            if qualname is not None and qualname.startswith("torch.") and not is_loss_function(qualname):
                arguments = list(expr.args) + [kw.value for kw in expr.keywords]
                return any(self.requires_grad(arg, statement, depth + 1) for arg in arguments)
            return self.back_propagated(expr, statement) and self.is_module_object(expr.func, statement)
        if isinstance(expr, ast.Name):
            values = self._assigned_values(expr.id, statement.function)
            return bool(values) and all(
                self.requires_grad(value, assigned, depth + 1) for assigned, value in values
            )
        return False

    def _is_parameter_attribute(self, expr: ast.expr, statement: StatementInfo) -> bool:
        """`self.proj.weight` of a trainable layer, or `self.scale = nn.Parameter(...)`."""
        if not isinstance(expr, ast.Attribute):
            return False
        if expr.attr in ("weight", "bias") and self.trainable_layer(expr.value, statement):
            return True
        key = dotted_name(expr)
        if key is None or self._frozen(key, statement):
            return False
        if self.analysis.walker.assigned_from.get(key) != {"torch.nn.Parameter"}:
            return False
        return not any(  # nn.Parameter(t, requires_grad=False) requires no grad
            site.qualname == "torch.nn.Parameter" and frozen_parameter(site.node)
            for site in self.analysis.calls
            if isinstance(site.statement.stmt, ast.Assign)
            and any(dotted_name(t) == key for t in site.statement.stmt.targets)
        )

    def _assigned_values(self, name: str, function: FunctionInfo) -> List[Tuple[StatementInfo, ast.expr]]:
        values = []
        for statement in self.analysis.statements_of(function):
            stmt = statement.stmt
            if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets):
                values.append((statement, stmt.value))
            elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)) and isinstance(stmt.target, ast.Name):
                if stmt.target.id == name and stmt.value is not None:
                    values.append((statement, stmt.value))
        return values

    def back_propagated(self, call: ast.AST, statement: StatementInfo) -> bool:
        """Does the call's result reach a backward() of this function as a graph carrier (through
        assignments, torch ops, tensor methods and a loss's input, not through other calls)?"""
        _, calls = self._carrier(statement.function)
        return id(call) in calls

    def _carrier(self, function: FunctionInfo) -> Tuple[Set[str], Set[int]]:
        key = id(function)
        if key in self._carriers:
            return self._carriers[key]
        names: Set[str] = set()
        calls: Set[int] = set()
        self._carriers[key] = (names, calls)
        for backward in self.analysis.backward_calls:
            if backward.statement.function is function:
                for value in backward.values:
                    self._visit(value, backward.statement, names, calls)
        statements = self.analysis.statements_of(function)
        size = -1
        while size != len(names):
            size = len(names)
            for statement in statements:
                stmt = statement.stmt
                if isinstance(stmt, ast.Assign):
                    if any(name in names for target in stmt.targets for name in _target_names(target)):
                        self._visit(stmt.value, statement, names, calls)
                elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id in names:
                    self._visit(stmt.value, statement, names, calls)
        return names, calls

    def _visit(self, expr: ast.expr, statement: StatementInfo, names: Set[str], calls: Set[int]) -> None:
        evaluator = self.analysis.evaluator
        stack = [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
                stack.append(node.value)
            elif isinstance(node, ast.BinOp):
                stack += (node.left, node.right)
            elif isinstance(node, ast.UnaryOp):
                stack.append(node.operand)
            elif isinstance(node, ast.IfExp):
                stack += (node.body, node.orelse)
            elif isinstance(node, (ast.Tuple, ast.List)):
                stack.extend(node.elts)
            elif isinstance(node, ast.Call):
                calls.add(id(node))
                qualname = self.analysis.call(node).qualname
                arguments = list(node.args) + [kw.value for kw in node.keywords]
                func = node.func
                if qualname is not None:
                    if is_loss_function(qualname):
                        stack.extend(node.args[:1])
                    elif qualname.startswith("torch."):
                        stack.extend(arguments)
                elif evaluator.is_loss_module(func) or self.loss_class(func) is not None:
                    stack.extend(node.args[:1])
                elif isinstance(func, ast.Attribute) and func.attr in _GRAPH_METHODS:
                    stack.append(func.value)
                    stack.extend(arguments)


def _target_names(target: ast.expr) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _target_names(element.value if isinstance(element, ast.Starred) else element)
