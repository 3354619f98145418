"""NG103 on small programs, each also run under torch: a reported program raises the error the
message names (from the reported line), a silent one runs. Programs the rule cannot judge (the
op may copy the tensor first) are checked for silence only."""
from __future__ import annotations

import textwrap
import traceback

import pytest

from helpers import lint, messages

PRELUDE = """\
import torch
import torch.nn.functional as F
from torch import nn
head = nn.Linear(3, 2)
w = nn.Parameter(torch.randn(4, 3))
with torch.inference_mode():
    x = torch.randn(4, 3)
    idx = torch.randint(0, 3, (4,))
"""
SAVED = "Inference tensors cannot be saved for backward"
INPLACE = "Inplace update to inference tensor outside InferenceMode"
REQUIRES_GRAD = "Setting requires_grad=True on inference tensor"

# (program after the prelude, the error it raises at its last line)
REPORTED = {
    "augmented assignment": ("x += 1", INPLACE),
    "in-place method under no_grad": ("with torch.no_grad():\n    x.add_(1)", INPLACE),
    "item assignment": ("x[0] = 0.0", INPLACE),
    "item assignment after detach": ("y = x.detach()\ny[0] = 1.0", INPLACE),
    "out=": ("torch.add(w.detach(), 1, out=x)", INPLACE),
    "requires_grad_": ("x.requires_grad_()", REQUIRES_GRAD),
    "requires_grad attribute": ("y = x.detach()\ny.requires_grad = True", REQUIRES_GRAD),
    "linear layer": ("out = head(x)", SAVED),
    "sequential starting with a linear layer": ("net = nn.Sequential(nn.Flatten(), nn.Linear(3, 2))\nnet(x)", SAVED),
    "times a parameter": ("y = x * w", SAVED),
    "matmul with a parameter": ("y = w.T @ x", SAVED),
    "F.linear": ("y = F.linear(x, w)", SAVED),
    "loss target": ("loss = F.mse_loss(head(torch.randn(4, 3)), x[:, :2])", SAVED),
    "loss module target by keyword": (
        "criterion = nn.MSELoss()\nloss = criterion(input=head(torch.randn(4, 3)), target=x[:, :2])", SAVED
    ),
    "index into a parameter": ("y = w[idx]", SAVED),
    "gather index": ("y = w.gather(1, idx[:, None])", SAVED),
    "mask": ("with torch.inference_mode():\n    m = x > 0\ny = w.masked_fill(m, 0.0)", SAVED),
    "detach keeps it": ("y = x.detach()\nout = head(y)", SAVED),
    "view keeps it": ("y = x.view(2, 6).view(4, 3)\nout = head(y)", SAVED),
    "container": ("cache = {'feats': x}\nout = head(cache['feats'])", SAVED),
    "returned by an inference_mode function": (
        "@torch.inference_mode()\ndef embed(t):\n    return t * 2\ny = embed(torch.randn(4, 3))\nout = head(y)",
        SAVED,
    ),
    "kept across a branch": (
        "def pick(flag):\n    feats = None\n    if flag:\n        with torch.inference_mode():\n"
        "            feats = torch.randn(4, 3)\n    return head(feats)\npick(True)",
        SAVED,
    ),
}
SILENT = {
    "addition saves nothing": "y = (x + w).sum()\ny.backward()",
    "a mask made outside is a normal tensor": "y = w.masked_fill(x > 0, 0.0)\ny.sum().backward()",
    "clone outside inference mode": "y = x.clone()\ny += 1\nhead(y).sum().backward()",
    "a computation outside is a normal tensor": "y = x * 2\ny.add_(1)\nhead(y).sum().backward()",
    "cat outside": "y = torch.cat([x, x])\ny.mul_(2)",
    "detach then in place": "y = x.detach()\ny.add_(1)",
    "l1_loss saves no target": "F.l1_loss(head(torch.randn(4, 3)), x[:, :2]).backward()",
    "frozen layer": "frozen = nn.Linear(3, 2).requires_grad_(False)\nfrozen(x)",
    "a number": "n = x.sum().item()\nn += 1",
    "in place inside the block": (
        "with torch.inference_mode():\n    x.add_(1)\n    with torch.no_grad():\n        x.mul_(2)"
    ),
    "enable_grad inside inference mode": (
        "with torch.inference_mode():\n    with torch.enable_grad():\n        x.add_(1)"
    ),
    "a normal tensor updated inside the block": (
        "total = torch.zeros(3)\nwith torch.inference_mode():\n    total += x.sum(0)\ntotal /= 4"
    ),
    "float of an integer tensor is a copy": "y = idx.float()\ny.add_(1)",
    "no grad anywhere": "with torch.no_grad():\n    out = head(x)",
    "inference_mode(False) leaves it": (
        "with torch.inference_mode():\n    with torch.inference_mode(False):\n        z = torch.ones(3)\nz.add_(1)"
    ),
    "a view of a normal tensor made inside is normal": (
        "n = torch.zeros(4, 3)\nwith torch.inference_mode():\n    v = n.view(12)\nv.add_(1)"
    ),
}
# Silent because the op may copy the tensor before saving it: not run, the rule cannot know.
UNKNOWN = {
    "transposed view": "y = w @ x.T",
}


def program(body: str) -> str:
    return PRELUDE + textwrap.dedent(body) + "\n"


def run(source: str):
    namespace: dict = {"__name__": "__ng103__"}
    try:
        exec(compile(source, "<ng103>", "exec"), namespace)
    except Exception as error:  # noqa: B902 - the error is the point
        lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == "<ng103>"]
        return error, lines[-1]
    return None, None


@pytest.mark.parametrize("name", sorted(REPORTED))
def test_reported(name):
    body, error_text = REPORTED[name]
    source = program(body)
    findings = lint(source)
    assert [code for _, _, code in findings] == ["NG103"], messages(source)
    assert error_text in messages(source)[0]
    pytest.importorskip("torch")
    error, line = run(source)
    assert error is not None and error_text in str(error), error
    assert line == findings[0][0]  # raised from the reported line


@pytest.mark.parametrize("name", sorted(SILENT))
def test_silent_and_runs(name):
    source = program(SILENT[name])
    assert [f for f in lint(source) if f[2] == "NG103"] == []
    pytest.importorskip("torch")
    error, _ = run(source)
    assert error is None, error


@pytest.mark.parametrize("name", sorted(UNKNOWN))
def test_silent_where_the_op_may_copy(name):
    assert [f for f in lint(program(UNKNOWN[name])) if f[2] == "NG103"] == []
