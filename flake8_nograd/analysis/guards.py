"""Which expressions are grad-mode guards, and what they do to the grad mode."""
from __future__ import annotations

import ast
import copy
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Dict, FrozenSet, List, Optional, Tuple

from ..config import Config
from .limits import short_source
from .model import GradMode

# The torch callables whose *call* is a grad-mode context manager / decorator.
GRAD_MODE_APIS = ("torch.no_grad", "torch.enable_grad", "torch.inference_mode", "torch.set_grad_enabled")
# Names a project's own guard wrappers contain (e.g. YOLO's @smart_inference_mode()).
_GUARD_NAME_PARTS = ("no_grad", "inference_mode")

Qualname = Callable[[ast.expr], Optional[str]]


@dataclass(frozen=True)
class GuardEffect:
    mode: GradMode
    label: str  # the guard as written: "torch.no_grad()", "@smart_inference_mode()"
    inference: bool = False
    # An inference_mode guard (on or off). Any other guard cannot leave inference mode: inside it,
    # `enable_grad()` or `set_grad_enabled(True)` switches the grad flag but tensors still are
    # inference tensors without a graph.
    switches_inference: bool = False


def last_identifier(expr: ast.expr) -> Optional[str]:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return None


def dotted_name(expr: ast.expr) -> Optional[str]:
    """'a.b.c' for a plain attribute chain, else None."""
    kind = type(expr)
    if kind is ast.Name:  # the commonest key by far (`model`, `loss`): no list, no join
        return expr.id  # type: ignore[attr-defined]
    parts = []
    while kind is ast.Attribute:
        parts.append(expr.attr)  # type: ignore[attr-defined]
        expr = expr.value  # type: ignore[attr-defined]
        kind = type(expr)
    if kind is not ast.Name:
        return None
    parts.append(expr.id)  # type: ignore[attr-defined]
    return ".".join(reversed(parts))


def constant_bool(call: ast.Call, keyword: str) -> Tuple[bool, Optional[bool]]:
    """(has_argument, value) of a call's first argument or `keyword=`; value None if not constant."""
    arg: Optional[ast.expr] = call.args[0] if call.args else None
    for kw in call.keywords:
        if kw.arg == keyword:
            arg = kw.value
    if arg is None:
        return False, None
    if isinstance(arg, ast.Constant) and isinstance(arg.value, (bool, int)):
        return True, bool(arg.value)
    return True, None


def grad_mode_api(expr: ast.expr, qualname: Qualname) -> Optional[str]:
    """'torch.no_grad' if `expr` (uncalled) names one of torch's grad-mode APIs."""
    name = qualname(expr)
    return name if name in GRAD_MODE_APIS else None


def guard_effect(expr: ast.expr, qualname: Qualname, config: Config, decorator: bool = False) -> Optional[GuardEffect]:
    """What a `with` item or a decorator does to grad mode; None when it is not a grad guard."""
    label = ("@" if decorator else "") + _short_source(expr)
    if isinstance(expr, ast.IfExp):
        # `torch.no_grad() if eval else nullcontext()`: grad mode depends on a run-time value.
        # The branches are walked with a stack: a long `a if c else b if d else ...` chain nests.
        branches: List[ast.expr] = [expr.body, expr.orelse]
        while branches:
            branch = branches.pop()
            if isinstance(branch, ast.IfExp):
                branches += (branch.body, branch.orelse)
            elif guard_effect(branch, qualname, config) is not None:
                return GuardEffect(GradMode.UNKNOWN, label)
        return None
    call = expr if isinstance(expr, ast.Call) else None
    target = call.func if call is not None else expr
    api = grad_mode_api(target, qualname)
    if api is not None:
        # Uncalled, `@torch.no_grad` works as a decorator (torch >= 2.1) and `with torch.no_grad:`
        # is a TypeError (NG401) whose only fix adds the `()`. Either way the body is judged in
        # the mode its author meant, so fixing NG401 never brings a new finding to light.
        return _api_effect(api, call, label)
    if _is_project_guard(target, qualname, config):
        if call is not None and not all(isinstance(arg, ast.Constant) for arg in _arguments(call)):
            # `maybe_no_grad(self.opt is None)`: whether it disables grad is decided at run time.
            return GuardEffect(GradMode.UNKNOWN, label)
        inference = "inference_mode" in label
        return GuardEffect(GradMode.OFF, label, inference=inference, switches_inference=inference)
    return None


def _arguments(call: ast.Call) -> List[ast.expr]:
    return list(call.args) + [keyword.value for keyword in call.keywords]


def _api_effect(api: str, call: Optional[ast.Call], label: str) -> GuardEffect:
    if api == "torch.no_grad":
        return GuardEffect(GradMode.OFF, label)
    if api == "torch.enable_grad":
        return GuardEffect(GradMode.ON, label)
    if api == "torch.inference_mode":
        has_arg, value = constant_bool(call, "mode") if call is not None else (False, None)
        if not has_arg or value is True:
            return GuardEffect(GradMode.OFF, label, inference=True, switches_inference=True)
        # inference_mode(False) runs with grad enabled; a run-time flag is unknown.
        return GuardEffect(GradMode.ON if value is False else GradMode.UNKNOWN, label, switches_inference=True)
    # torch.set_grad_enabled(mode)
    has_arg, value = constant_bool(call, "mode") if call is not None else (False, None)
    if value is None:
        return GuardEffect(GradMode.UNKNOWN, label)
    return GuardEffect(GradMode.ON if value else GradMode.OFF, label)


def _is_project_guard(target: ast.expr, qualname: Qualname, config: Config) -> bool:
    name = last_identifier(target)
    if name is None:
        return False
    if name in _GUARD_NAME_PARTS:
        # Exactly torch's name but not torch (e.g. a parameter called `torch`): only an import
        # (a project's re-export) counts, a local object does not.
        if qualname(target) is not None:
            return True
    elif any(part in name for part in _GUARD_NAME_PARTS):
        return True
    if not config.extra_guards:
        return False
    spellings = {name, dotted_name(target) or "", qualname(target) or ""}
    return any(guard in spellings for guard in config.extra_guards)


def _short_source(expr: ast.expr, limit: int = 60) -> str:
    return short_source(expr, limit)


# -- project context managers -------------------------------------------------------------------
_CONTEXTMANAGER_DECORATORS = ("contextlib.contextmanager", "contextlib.asynccontextmanager")
# Imported context managers known not to touch grad mode, even when handed a model: files,
# progress bars, AMP, profilers, stacks. (torch's own are judged by `guard_effect`.)
_HARMLESS_CONTEXT_ROOTS = frozenset(("torch", "tqdm", "numpy", "lightning", "pytorch_lightning", "accelerate"))


@lru_cache(maxsize=None)
def stdlib_roots() -> FrozenSet[str]:
    """Top-level names of the standard library: `sys.stdlib_module_names` from Python 3.10; on 3.9,
    the built-in modules and what the stdlib directory (and its lib-dynload) holds."""
    names = getattr(sys, "stdlib_module_names", None)
    if names is None:
        import sysconfig  # Python 3.9 only: later ones do not pay for importing it

        stdlib = Path(sysconfig.get_paths()["stdlib"])
        found = set(sys.builtin_module_names)
        for folder in (stdlib, stdlib / "lib-dynload"):
            if folder.is_dir():
                found |= {entry.name.partition(".")[0] for entry in folder.iterdir() if entry.name != "site-packages"}
        names = found
    return frozenset(names) | {"builtins"}


def contextmanager_guard(node: ast.AST, qualname: Qualname, config: Config) -> Optional[GuardEffect]:
    """What a module-level `@contextlib.contextmanager` generator does to grad mode around its
    `yield`: OFF when every `yield` sits under a grad-off guard (`with torch.no_grad(): yield`)
    or after `torch.set_grad_enabled(False)`, ON when every one is under `enable_grad()`, UNKNOWN
    when they differ (or under a run-time flag), None when it never changes grad mode (a timer)."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    decorated = any(
        qualname(decorator.func if isinstance(decorator, ast.Call) else decorator) in _CONTEXTMANAGER_DECORATORS
        for decorator in node.decorator_list
    )
    if not decorated:
        return None
    modes: List[GuardEffect] = []
    _yield_modes(node.body, None, qualname, config, modes)
    if not modes or all(effect is None for effect in modes):
        return None
    label = f"{node.name}()"
    if all(effect is not None and effect.mode is GradMode.OFF for effect in modes):
        inference = all(effect.inference for effect in modes)  # type: ignore[union-attr]
        return GuardEffect(GradMode.OFF, label, inference=inference, switches_inference=inference)
    if all(effect is not None and effect.mode is GradMode.ON for effect in modes):
        return GuardEffect(GradMode.ON, label)  # `with torch.enable_grad(): yield`
    return GuardEffect(GradMode.UNKNOWN, label)


def bound_contextmanager_guard(
    node: ast.AST, constants: Dict[str, ast.Constant], qualname: Qualname, config: Config
) -> Optional[GuardEffect]:
    """`contextmanager_guard` for one call: the parameters the call gives a constant (`False` in
    `with self._set_training_mode(False):`, whose body is `with torch.set_grad_enabled(training):
    yield`) are read as that constant, unless the body assigns them."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    stored = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    constants = {name: value for name, value in constants.items() if name not in stored}
    if not constants:
        return contextmanager_guard(node, qualname, config)
    bound = _ConstantsBound(constants).visit(copy.deepcopy(node))
    return contextmanager_guard(bound, qualname, config)


class _ConstantsBound(ast.NodeTransformer):
    def __init__(self, constants: Dict[str, ast.Constant]) -> None:
        self.constants = constants

    def visit_Name(self, node: ast.Name) -> ast.AST:
        value = self.constants.get(node.id)
        if value is None or not isinstance(node.ctx, ast.Load):
            return node
        return ast.copy_location(ast.Constant(value.value), node)


def _yield_modes(
    body: List[ast.stmt], effect: Optional[GuardEffect], qualname: Qualname, config: Config, found: List
) -> Optional[GuardEffect]:
    """Append the guard in effect at every `yield` of `body` (None: grad as the caller has it);
    returns the guard in effect after the block (a `set_grad_enabled(False)` statement leaks)."""
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue  # a nested definition's yields are its own
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            inner = effect
            for item in stmt.items:
                entered = guard_effect(item.context_expr, qualname, config)
                if entered is not None:
                    inner = entered
            _yield_modes(stmt.body, inner, qualname, config, found)
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            if grad_mode_api(stmt.value.func, qualname) == "torch.set_grad_enabled":
                effect = guard_effect(stmt.value, qualname, config)
                continue
        blocks = [getattr(stmt, name, None) for name in ("body", "orelse", "finalbody")]
        blocks += [handler.body for handler in getattr(stmt, "handlers", ())]
        nested = [block for block in blocks if isinstance(block, list) and block]
        own = [stmt] if not nested else [
            getattr(stmt, name) for name in ("test", "iter", "value") if isinstance(getattr(stmt, name, None), ast.AST)
        ]
        for expr in own:
            if any(isinstance(sub, (ast.Yield, ast.YieldFrom)) for sub in ast.walk(expr)):
                found.append(effect)
        for block in nested:
            _yield_modes(block, effect, qualname, config, found)
    return effect


def unresolved_context_manager(expr: ast.expr, qualname: Qualname, hands_a_module: Callable[[ast.expr], bool]) -> bool:
    """`with eval_mode(model):` where `eval_mode` comes from another module of the project (or a
    third-party library) and is handed a model: such helpers often switch grad off around their
    `yield` (MONAI's `eval_mode`), so grad mode inside the block is unknown."""
    if not isinstance(expr, ast.Call):
        return False
    name = qualname(expr.func)
    if name is None:
        return False
    root = name.partition(".")[0]
    if root in stdlib_roots() or root in _HARMLESS_CONTEXT_ROOTS or root.startswith("torch"):
        return False
    arguments = [arg.value if isinstance(arg, ast.Starred) else arg for arg in expr.args]
    arguments += [keyword.value for keyword in expr.keywords]
    return any(hands_a_module(argument) for argument in arguments)
