"""A generator of random but valid PyTorch training and evaluation code, for fuzzing.

It composes the constructs the rules read (imports and aliases, `with` guards called or not,
decorators, loops, branches, assignments, backward calls, in-place updates, accumulation,
`requires_grad`, Lightning hooks, optimizer steps, `# noqa` comments), nested at random. Every
program parses; the point is not to be meaningful but to reach odd combinations.

The generator only asks a `Chooser` for decisions, so the same code serves hypothesis (which
shrinks a failing program to a small one) and a plain `random.Random` (for batches written to
disk and run through flake8 and the command in one process each).
"""
from __future__ import annotations

import random
import sys
from typing import Callable, List, Sequence, TypeVar

T = TypeVar("T")
# Only syntax the running Python accepts: `match` came in 3.10 (below it, the same branches as `if`/`elif`).
MATCH_STATEMENTS = sys.version_info >= (3, 10)


class Chooser:
    """Where decisions come from: `pick` one of a sequence, or an integer in [low, high]."""

    def __init__(self, pick: Callable[[Sequence[T]], T], integer: Callable[[int, int], int]) -> None:
        self.pick = pick
        self.integer = integer

    def chance(self, percent: int) -> bool:
        return self.integer(1, 100) <= percent

    @classmethod
    def from_random(cls, rng: random.Random) -> "Chooser":
        return cls(rng.choice, rng.randint)

    @classmethod
    def from_hypothesis(cls, draw: Callable) -> "Chooser":
        from hypothesis import strategies as st

        return cls(lambda options: draw(st.sampled_from(list(options))), lambda a, b: draw(st.integers(a, b)))


HEADERS = (
    "import torch",
    "import torch as T",
    "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F",
    "from torch import no_grad, enable_grad, inference_mode\nimport torch",
    "import torch\nfrom torch.autograd import grad as autograd_grad",
    "import torch\nimport lightning.pytorch as pl",
    "import torch\nfrom contextlib import nullcontext",
    "",  # a notebook-style cell: `torch` is free
)
TENSORS = ("x", "y", "out", "loss", "z", "total", "p", "w", "self.buf", "batch[0]", "h")
MODELS = ("model", "net", "self.model", "encoder", "ema_model", "self")
GUARDS = (
    "torch.no_grad()",
    "torch.no_grad",  # NG401
    "torch.enable_grad()",
    "torch.inference_mode()",
    "torch.inference_mode(False)",
    "torch.set_grad_enabled(False)",
    "torch.set_grad_enabled(True)",
    "torch.set_grad_enabled(training)",
    "torch.no_grad() if evaluating else nullcontext()",
    "torch.autocast('cpu')",
    "open(path)",
    "T.no_grad()",
    "no_grad()",
    "inference_mode()",
    "torch.autograd.no_grad()",
    "smart_inference_mode()",
)
DECORATORS = (
    "@torch.no_grad()",
    "@torch.no_grad",
    "@torch.inference_mode()",
    "@torch.enable_grad()",
    "@staticmethod",
    "@functools.lru_cache(maxsize=None)",
    "@(lambda f: f)",
    "@registry['eval'].register",
    "@smart_inference_mode()",
    "@torch.jit.unused",
    "@property",
)
METHOD_NAMES = ("forward", "training_step", "validation_step", "test_step", "predict_step", "evaluate", "step", "train_one_epoch", "_update")
ITERABLES = ("loader", "val_loader", "range(10)", "model.parameters()", "enumerate(loader)", "zip(xs, ys)", "self.parameters()")


def expression(c: Chooser, depth: int = 0) -> str:
    """A tensor-ish expression."""
    if depth > 2 or c.chance(35):
        return c.pick(TENSORS + ("torch.zeros(3)", "torch.randn(2, requires_grad=True)", "1.0"))
    kind = c.integer(0, 11)
    inner = expression(c, depth + 1)
    if kind == 0:
        return f"{c.pick(MODELS)}({inner})"
    if kind == 1:
        return f"{inner} {c.pick(('+', '*', '-', '@', '/'))} {expression(c, depth + 1)}"
    if kind == 2:
        return f"{inner}.{c.pick(('sum()', 'mean()', 'detach()', 'item()', 'argmax(1)', 'float()', 'clone()', 'to(device)'))}"
    if kind == 3:
        return f"F.cross_entropy({inner}, target)" if c.chance(50) else f"criterion({inner}, target)"
    if kind == 4:
        return f"torch.{c.pick(('cat', 'stack'))}([{inner}, {expression(c, depth + 1)}])"
    if kind == 5:
        return f"({c.pick(('w', 'v'))} := {inner})"
    if kind == 6:
        return f"[{inner} for _ in range(2)]"
    if kind == 7:
        return f"({inner} if flag else {expression(c, depth + 1)})"
    if kind == 8:
        return f"(lambda q: {inner})"
    if kind == 9:
        return f"({inner} == target)"
    if kind == 10:
        return f"getattr({inner}, 'data')"
    return f"{inner}[..., 0]"


def simple_statement(c: Chooser) -> str:
    e = lambda: expression(c)  # noqa: E731
    options = [
        lambda: f"{c.pick(TENSORS)} = {e()}",
        lambda: f"{c.pick(('loss', 'out', 'x'))}.backward()",
        lambda: f"{e()}.backward()",
        lambda: f"scaler.scale({c.pick(TENSORS)}).backward()",
        lambda: f"torch.autograd.grad({c.pick(TENSORS)}, params)",
        lambda: f"accelerator.backward({c.pick(TENSORS)})",
        lambda: f"self.manual_backward({c.pick(TENSORS)})",
        lambda: "optimizer.step()",
        lambda: "optimizer.zero_grad()",
        lambda: "scheduler.step()",
        lambda: f"{c.pick(('p', 'w', 'param'))}.{c.pick(('add_', 'mul_', 'sub_', 'copy_', 'zero_'))}({e()})",
        lambda: f"{c.pick(('p', 'p.data', 'param', 'self.weight'))} -= lr * {c.pick(('p.grad', 'g', 'grad'))}",
        lambda: f"total += {c.pick(('loss', 'loss.item()', 'loss.detach()', e()))}",
        lambda: f"losses.append({c.pick(('loss', 'loss.item()', e()))})",
        lambda: f"{c.pick(TENSORS)} = {c.pick(TENSORS)}.detach()",
        lambda: f"{c.pick(('z', 'y', 'loss'))}.requires_grad = True",
        lambda: f"{c.pick(('z', 'y', 'loss'))}.requires_grad_()",
        lambda: c.pick(("torch.no_grad()", "torch.enable_grad()", "torch.inference_mode()", "T.no_grad()")),
        lambda: "torch.set_grad_enabled(" + c.pick(("False", "True", "phase == 'train'")) + ")",
        lambda: f"{c.pick(MODELS)}.{c.pick(('eval()', 'train()', 'train(False)', 'zero_grad()'))}",
        lambda: f"for p in {c.pick(('model.parameters()', 'params'))}: p.add_({e()})",
        lambda: f"print({e()})",
        lambda: "pass",
        lambda: f"return {e()}",
        lambda: f"yield {e()}",
        lambda: "del x",
        lambda: f"global {c.pick(('x', 'total'))}",
        lambda: f"assert {e()}",
        lambda: f"raise ValueError({e()})",
        lambda: f"{c.pick(TENSORS)}, {c.pick(('aux', 'x'))} = {e()}",
        lambda: f"{c.pick(('x', 'loss'))}: torch.Tensor = {e()}",
        lambda: f"ema_p.mul_(decay).add_({e()}, alpha=1 - decay)",
        lambda: "import torch as T",
        lambda: "from torch import no_grad",
        lambda: f"self.log('val_loss', {e()})",
    ]
    statement = c.pick(options)()
    if c.chance(6):
        statement += c.pick(("  # noqa", "  # noqa: NG101", "  # noqa: NG4", "  # noqa:E501", "  # NOQA: NG401,NG402"))
    return statement


def block(c: Chooser, indent: int, depth: int, in_class: bool = False) -> List[str]:
    pad = "    " * indent
    lines: List[str] = []
    for _ in range(c.integer(1, 4)):
        if in_class:
            lines += function(c, indent, depth + 1, method=True)
            continue
        if depth >= 4 or c.chance(55):
            lines.append(pad + simple_statement(c))
            continue
        kind = c.integer(0, 10)
        if kind == 0:
            target = c.pick(("", " as g", " as (a, b)"))
            items = ", ".join(c.pick(GUARDS) + (target if i == 0 else "") for i in range(c.integer(1, 2)))
            lines.append(f"{pad}{c.pick(('with', 'async with'))} {items}:" if c.chance(10) else f"{pad}with {items}:")
            lines += block(c, indent + 1, depth + 1)
        elif kind == 1:
            lines.append(f"{pad}for {c.pick(('batch', 'x, y', 'i, (x, y)', 'p'))} in {c.pick(ITERABLES)}:")
            lines += block(c, indent + 1, depth + 1)
            if c.chance(20):
                lines += [f"{pad}else:"] + block(c, indent + 1, depth + 1)
        elif kind == 2:
            lines.append(f"{pad}while {c.pick(('True', 'step < n', 'not done'))}:")
            lines += block(c, indent + 1, depth + 1)
            if c.chance(30):
                lines.append(f"{pad}    break")
        elif kind == 3:
            lines.append(pad + "if " + c.pick(("training", "epoch % 2", "phase == 'val'", "x is None")) + ":")
            lines += block(c, indent + 1, depth + 1)
            for _ in range(c.integer(0, 2)):
                lines += [f"{pad}elif {c.pick(('flag', 'other'))}:"] + block(c, indent + 1, depth + 1)
            if c.chance(50):
                lines += [f"{pad}else:"] + block(c, indent + 1, depth + 1)
        elif kind == 4:
            lines.append(f"{pad}try:")
            lines += block(c, indent + 1, depth + 1)
            lines += [f"{pad}except {c.pick(('RuntimeError', 'Exception as error', '(ValueError, KeyError)'))}:"]
            lines += block(c, indent + 1, depth + 1)
            if c.chance(40):
                lines += [f"{pad}finally:"] + block(c, indent + 1, depth + 1)
        elif kind == 5:
            lines += function(c, indent, depth + 1)
        elif kind == 6:
            base = c.pick(("nn.Module", "torch.nn.Module", "pl.LightningModule", "object", "torch.optim.Optimizer", ""))
            lines.append(f"{pad}class {c.pick(('Model', 'Trainer', 'EMA', 'SGD'))}{'(' + base + ')' if base else ''}:")
            lines += block(c, indent + 1, depth + 1, in_class=True)
        elif kind == 7:
            subject = c.pick(("phase", "batch"))
            patterns = ("'train'", "[x, y]", "{'loss': loss}", "_")[: c.integer(1, 4)]
            if MATCH_STATEMENTS:
                lines.append(f"{pad}match {subject}:")
                for pattern in patterns:
                    lines += [f"{pad}    case {pattern}:"] + block(c, indent + 2, depth + 1)
            else:
                for index, pattern in enumerate(patterns):
                    head = "else" if pattern == "_" else f"{'elif' if index else 'if'} {subject} == {pattern}"
                    lines += [f"{pad}{head}:"] + block(c, indent + 1, depth + 1)
        elif kind == 8:
            lines.append(f"{pad}with pytest.raises(RuntimeError):")
            lines += block(c, indent + 1, depth + 1)
        elif kind == 9:
            lines.append(f"{pad}{c.pick(('async for', 'for'))} batch in loader:" if c.chance(20) else f"{pad}for batch in loader:")
            lines += block(c, indent + 1, depth + 1)
        else:
            lines.append(f"{pad}{simple_statement(c)}")
    return lines


def function(c: Chooser, indent: int, depth: int, method: bool = False) -> List[str]:
    pad = "    " * indent
    lines = [pad + c.pick(DECORATORS) for _ in range(c.integer(0, 2))]
    name = c.pick(METHOD_NAMES) if method or c.chance(50) else c.pick(("train", "evaluate", "predict", "update_ema", "closure_step"))
    params = c.pick(("self, batch, batch_idx", "self, x", "model, loader", "x, /, *, closure=None", "*args, **kwargs", "self, closure=None", ""))
    if not method and params.startswith("self"):
        params = params[len("self"):].lstrip(", ")
    prefix = "async def" if c.chance(10) else "def"
    lines.append(f"{pad}{prefix} {name}({params}):")
    if c.chance(20):
        lines.append(f'{pad}    """{c.pick(("Evaluate.", "One training step.", "EMA update."))}"""')
    lines += block(c, indent + 1, depth + 1)
    return lines


def program(c: Chooser) -> str:
    """A whole module; `async` constructs only appear inside `async def` (else they would not parse)."""
    lines = [line for line in c.pick(HEADERS).splitlines()]
    for _ in range(c.integer(1, 3)):
        lines += block(c, 0, 0)
    return "\n".join(_make_valid(lines)) + "\n"


def _make_valid(lines: List[str]) -> List[str]:
    """Drop what only some contexts accept (async outside async def, return/yield at module level,
    break outside loops), by rewriting the offending line to `pass`; the rest stays as drawn."""
    out: List[str] = []
    stack: List[tuple] = []  # (indent, kind) of open compound statements
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        kinds = [kind for _, kind in stack]
        stripped = line.lstrip(" ")
        in_function = "def" in kinds or "async def" in kinds
        innermost_function = next((k for k in reversed(kinds) if k in ("def", "async def", "class")), None)
        if stripped.startswith(("async with", "async for")) and innermost_function != "async def":
            line = " " * indent + stripped[len("async "):]
            stripped = line.lstrip(" ")
        if stripped.startswith(("return", "yield")) and innermost_function not in ("def", "async def"):
            line = " " * indent + "pass"
        if stripped == "break" and not any(k in ("for", "while") for k in kinds[len(kinds) - _loop_depth(kinds):]):
            line = " " * indent + "pass"
        if stripped.startswith("global") and not in_function:
            line = " " * indent + "pass"
        if stripped.startswith("yield") and innermost_function == "async def":
            line = " " * indent + "pass"
        out.append(line)
        if stripped.endswith(":") and not stripped.startswith("@"):
            head = stripped.split(" ", 2)
            kind = "async def" if stripped.startswith("async def") else head[0]
            stack.append((indent, kind))
    return out


def _loop_depth(kinds: List[str]) -> int:
    """How many of the innermost open statements a `break` may look through (up to a def/class)."""
    count = 0
    for kind in reversed(kinds):
        if kind in ("def", "async def", "class"):
            break
        count += 1
    return count
