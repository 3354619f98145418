"""Which expressions are grad-mode guards, and what they do to the grad mode."""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

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
    parts = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    parts.append(expr.id)
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
