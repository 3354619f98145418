"""A synthetic but realistic PyTorch code base, generated from templates of our own.

Each file is a module of a project: models, training scripts, evaluation helpers, data utilities
that never touch grad mode. A controllable share of files carries a real gradient-context bug
(some fixable, some not). Deterministic for a seed.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Callable, Dict, List

MODEL = '''\
import torch
from torch import nn
import torch.nn.functional as F


class {name}Block(nn.Module):
    """A residual block with normalisation and dropout."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        h = self.fc2(self.drop(F.gelu(self.fc1(self.norm(x)))))
        return x + self.drop(h)


class {name}(nn.Module):
    def __init__(self, dim: int = {dim}, depth: int = {depth}, n_classes: int = 10) -> None:
        super().__init__()
        self.embed = nn.Linear(32, dim)
        self.blocks = nn.ModuleList([{name}Block(dim, 4 * dim) for _ in range(depth)])
        self.head = nn.Linear(dim, n_classes)

    def forward(self, x):
        x = self.embed(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x.mean(dim=1))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
'''

TRAIN = '''\
import math
import time

import torch
import torch.nn.functional as F


def cosine_lr(step: int, total: int, base: float) -> float:
    return 0.5 * base * (1 + math.cos(math.pi * step / total))


def train_epoch_{index}(model, loader, optimizer, scaler, device, epoch: int, log_every: int = 50):
    model.train()
    running = 0.0
    start = time.time()
    for step, (inputs, targets) in enumerate(loader):
        inputs, targets = inputs.to(device), targets.to(device)
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, len(loader), 3e-4)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", enabled=False):
            logits = model(inputs)
            loss = F.cross_entropy(logits, targets)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
        running += loss.item()
        if step % log_every == 0:
            print(f"epoch {{epoch}} step {{step}} loss {{running / (step + 1):.4f}} {{time.time() - start:.1f}}s")
    return running / max(1, len(loader))
'''

EVAL = '''\
import torch
import torch.nn.functional as F


@torch.no_grad()
def evaluate_{index}(model, loader, device):
    model.eval()
    total, correct, loss_sum = 0, 0, 0.0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        logits = model(inputs)
        loss_sum += F.cross_entropy(logits, targets, reduction="sum").item()
        correct += (logits.argmax(dim=1) == targets).sum().item()
        total += targets.numel()
    return loss_sum / total, correct / total
'''

UTILS = '''\
import json
import os
from dataclasses import dataclass, field
from typing import Dict, List


@dataclass
class RunConfig{index}:
    name: str = "run-{index}"
    epochs: int = {depth}
    batch_size: int = 64
    tags: List[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, sort_keys=True)


def load_runs_{index}(root: str) -> Dict[str, RunConfig{index}]:
    runs = {{}}
    for entry in sorted(os.listdir(root)):
        path = os.path.join(root, entry, "config.json")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        runs[entry] = RunConfig{index}(**data)
    return runs


def summarise_{index}(values: List[float]) -> Dict[str, float]:
    if not values:
        return {{"mean": 0.0, "min": 0.0, "max": 0.0}}
    mean = sum(values) / len(values)
    return {{"mean": mean, "min": min(values), "max": max(values)}}
'''

# Bugs: a fixable one (NG401, an uncalled guard) and a non-fixable one (NG101).
FIXABLE_BUG = '''

def predict_{index}(model, inputs):
    model.eval()
    with torch.no_grad:
        return model(inputs).argmax(dim=-1)
'''

UNFIXABLE_BUG = '''

def finetune_step_{index}(model, inputs, targets, optimizer):
    with torch.no_grad():
        loss = F.cross_entropy(model(inputs), targets)
    loss.backward()
    optimizer.step()
'''

TEMPLATES: Dict[str, str] = {"model": MODEL, "train": TRAIN, "eval": EVAL, "utils": UTILS}


def generate(root: Path, files: int, fixable_share: float = 0.01, buggy_share: float = 0.02, seed: int = 0) -> int:
    """Write `files` modules under root; returns the number of lines written."""
    rng = random.Random(seed)
    kinds: List[str] = list(TEMPLATES)
    weights = [3, 2, 2, 3]
    lines = 0
    fixable = set(rng.sample(range(files), max(1, round(files * fixable_share)))) if fixable_share else set()
    others = [i for i in range(files) if i not in fixable]
    buggy = set(rng.sample(others, round(files * buggy_share))) if buggy_share else set()
    for index in range(files):
        kind = rng.choices(kinds, weights)[0]
        if index in fixable or index in buggy:
            kind = rng.choice(["model", "train", "eval"])  # bugs live in torch code
        text = TEMPLATES[kind].format(name=f"Net{index}", index=index, dim=rng.choice([64, 128, 256]), depth=rng.randint(2, 12))
        if index in fixable:
            text += FIXABLE_BUG.format(index=index)
        elif index in buggy:
            if "import torch.nn.functional as F" not in text:
                text = "import torch.nn.functional as F\n" + text
            text += UNFIXABLE_BUG.format(index=index)
        package = root / f"pkg{index // 100:03d}"
        package.mkdir(parents=True, exist_ok=True)
        (package / f"{kind}_{index}.py").write_text(text, encoding="utf-8")
        lines += text.count("\n")
    return lines


def inject_fixable(root: Path, share: float = 0.01, seed: int = 0) -> int:
    """Append an auto-fixable bug (NG401) to `share` of the .py files under root (at least one);
    returns how many files were changed. For measuring `fix` on a real tree."""
    files = sorted(root.rglob("*.py"))
    if not files:
        return 0
    chosen = random.Random(seed).sample(files, max(1, round(len(files) * share)))
    for index, path in enumerate(chosen):
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        if not text.endswith("\n"):
            text += "\n"
        path.write_text(text + FIXABLE_BUG.format(index=f"injected_{index}"), encoding="utf-8", errors="surrogateescape")
    return len(chosen)


def generate_lines(root: Path, target_lines: int, **kwargs: Callable) -> int:
    """Generate at least about `target_lines` lines (the templates average 30 lines per file)."""
    return generate(root, max(1, -(-target_lines // 30)), **kwargs)
