"""Which value each backward call back-propagates, whatever API or training wrapper it goes through."""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import List, Optional

from .structure import CallSite, StatementInfo, StructureWalker, dotted_key

# Objects whose .backward(loss) back-propagates `loss`: accelerate, Lightning Fabric, DeepSpeed.
_WRAPPER_NAME = re.compile(r"(?i)(accelerator|fabric|engine|strategy)$")
_WRAPPER_FACTORIES = frozenset(
    ("accelerate.Accelerator", "lightning.fabric.Fabric", "lightning.pytorch.Fabric", "deepspeed.initialize")
)


@dataclass(eq=False)
class BackwardCall:
    call: ast.Call
    statement: StatementInfo
    values: List[ast.expr]  # the tensors whose graphs are walked
    api: str  # for messages: "backward()", "torch.autograd.grad()", "accelerator.backward()"


def find_backward_calls(walker: StructureWalker) -> List[BackwardCall]:
    wrappers = {key for key, callees in walker.assigned_from.items() if callees & _WRAPPER_FACTORIES}
    found = []
    for site in walker.calls:
        backward = _backward_of(site, wrappers)
        if backward is not None:
            found.append(backward)
    return found


def _backward_of(site: CallSite, wrappers: set) -> Optional[BackwardCall]:
    call = site.node
    if site.qualname in ("torch.autograd.backward", "torch.autograd.grad"):
        keyword = "tensors" if site.qualname.endswith("backward") else "outputs"
        value = _argument(call, 0, keyword)
        if value is None:
            return None
        return BackwardCall(call, site.statement, _elements(value), site.qualname + "()")
    func = call.func
    if site.qualname is not None or not isinstance(func, ast.Attribute):
        return None
    if func.attr == "manual_backward":  # LightningModule.manual_backward(loss)
        value = _argument(call, 0, "loss")
        return BackwardCall(call, site.statement, [value], "manual_backward()") if value is not None else None
    if func.attr != "backward":
        return None
    receiver = func.value
    key = dotted_key(receiver)
    if key is not None and (key in wrappers or _WRAPPER_NAME.search(key.rpartition(".")[2])):
        value = _argument(call, 0, "loss")
        return BackwardCall(call, site.statement, [value], f"{key}.backward()") if value is not None else None
    # AMP: scaler.scale(loss).backward() back-propagates loss.
    if isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Attribute) and receiver.func.attr == "scale":
        if len(receiver.args) == 1 and not receiver.keywords:
            return BackwardCall(call, site.statement, [receiver.args[0]], "backward()")
    return BackwardCall(call, site.statement, [receiver], "backward()")


def _argument(call: ast.Call, position: int, keyword: str) -> Optional[ast.expr]:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    if len(call.args) > position and not isinstance(call.args[position], ast.Starred):
        return call.args[position]
    return None


def _elements(value: ast.expr) -> List[ast.expr]:
    if isinstance(value, (ast.List, ast.Tuple)):
        return [element for element in value.elts if not isinstance(element, ast.Starred)]
    return [value]
