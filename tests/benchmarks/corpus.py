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


# -- a project whose modules import each other (for the project index) ---------------------------
# Helpers that depend on how they are called: run under a caller's guard, back-propagating or
# updating what they are handed, returning detached values. Re-exported by their package.
PROJECT_HELPERS = '''\
import torch
import torch.nn.functional as F


def evaluate_{index}(model, loader):
    model.eval()
    correct, total = 0, 0
    for inputs, targets in loader:
        logits = model(inputs)
        correct += (logits.argmax(dim=1) == targets).sum().item()
        total += targets.numel()
    return correct / max(1, total)


def apply_update_{index}(loss, optimizer, clip: float = 1.0):
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    for group in optimizer.param_groups:
        torch.nn.utils.clip_grad_norm_(group["params"], clip)
    optimizer.step()


def scale_weights_{index}(layer, factor: float):
    with torch.no_grad():
        layer.weight.mul_(factor)


def soft_targets_{index}(teacher, inputs, temperature: float = 2.0):
    return F.softmax(teacher(inputs) / temperature, dim=-1).detach()


class Meter{index}:
    def __init__(self) -> None:
        self.total, self.count = 0.0, 0

    def update(self, value: float, n: int = 1) -> None:
        self.total += value * n
        self.count += n

    @property
    def mean(self) -> float:
        return self.total / max(1, self.count)
'''

PROJECT_MODEL = '''\
import torch
from torch import nn

from {base_module} import {base}


class Net{index}({base}):
    def __init__(self, dim: int = {dim}, depth: int = {depth}) -> None:
        super().__init__(dim)
        self.layers = nn.ModuleList([nn.Linear(dim, dim) for _ in range(depth)])
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        for layer in self.layers:
            x = torch.relu(layer(x)) + x
        return self.head(x)
'''

PROJECT_BASE = '''\
from torch import nn


class Base{index}(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
'''

PROJECT_TRAIN = '''\
import torch
import torch.nn.functional as F

from {package} import apply_update_{local}
from .helpers_{local} import Meter{local}, scale_weights_{local}
from {other_package}.helpers_{other} import evaluate_{other}, soft_targets_{other}


def train_{index}(model, teacher, loader, optimizer, epochs: int = {depth}):
    meter = Meter{local}()
    for epoch in range(epochs):
        model.train()
        for inputs, targets in loader:
            with torch.no_grad():
                targets_soft = soft_targets_{other}(teacher, inputs)
            loss = F.kl_div(F.log_softmax(model(inputs), dim=-1), targets_soft, reduction="batchmean")
            apply_update_{local}(loss, optimizer)
            meter.update(loss.item(), inputs.shape[0])
        with torch.no_grad():
            accuracy = evaluate_{other}(model, loader)
        scale_weights_{local}(model.head, 0.999)
        print(f"epoch {{epoch}} loss {{meter.mean:.4f}} accuracy {{accuracy:.3f}}")
    return meter.mean
'''

PROJECT_SCRIPT = '''\
import torch

from {top}.{package}.helpers_{local} import evaluate_{local}
from {top}.{package}.model_{model} import Net{model}
from {top}.{package}.train_{train} import train_{train}


def main():
    model = Net{model}()
    teacher = Net{model}()
    loader = [(torch.randn(8, {dim}), torch.randint(0, 10, (8,))) for _ in range(4)]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    train_{train}(model, teacher, loader, optimizer)
    with torch.no_grad():
        print(evaluate_{local}(model, loader))


if __name__ == "__main__":
    main()
'''


def generate_project(root: Path, files: int, seed: int = 0, top: str = "proj", per_package: int = 20) -> int:
    """A project of about `files` modules that import each other, under `root/src/<top>/`: each
    package has its helpers (re-exported by its `__init__.py`), a base model, models subclassing
    a base class of another package, training modules importing helpers absolutely, relatively
    and from other packages; `root/scripts/` holds scripts (no package) importing the project.
    Returns the number of lines written."""
    rng = random.Random(seed)
    (root / "pyproject.toml").parent.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f"[project]\nname = \"{top}\"\nversion = \"0.1\"\n", encoding="utf-8")
    source = root / "src" / top
    source.mkdir(parents=True, exist_ok=True)
    (source / "__init__.py").write_text('"""A generated project."""\n', encoding="utf-8")
    packages = max(1, -(-files // per_package))
    lines = 0
    written = 1

    def write(path: Path, text: str) -> None:
        nonlocal lines, written
        path.write_text(text, encoding="utf-8")
        lines += text.count("\n")
        written += 1

    for number in range(packages):
        name = f"pkg{number:03d}"
        package = source / name
        package.mkdir(exist_ok=True)
        write(package / "__init__.py", f"from .helpers_{number} import apply_update_{number}, evaluate_{number}\n")
        write(package / f"helpers_{number}.py", PROJECT_HELPERS.format(index=number))
        write(package / f"base_{number}.py", PROJECT_BASE.format(index=number))
        for slot in range(3, per_package):
            if written >= files:
                break
            index = number * per_package + slot
            other = rng.randrange(packages)
            if slot % 2:
                text = PROJECT_MODEL.format(
                    index=index, dim=rng.choice([64, 128]), depth=rng.randint(2, 6),
                    base=f"Base{other}", base_module=f"{top}.pkg{other:03d}.base_{other}",
                )
                write(package / f"model_{index}.py", text)
            else:
                text = PROJECT_TRAIN.format(
                    index=index, local=number, other=other, depth=rng.randint(1, 5),
                    package=f"{top}.{name}", other_package=f"..pkg{other:03d}",
                )
                write(package / f"train_{index}.py", text)
        if written >= files:
            break
    scripts = root / "scripts"
    scripts.mkdir(exist_ok=True)
    for number in range(min(packages, max(1, files // 50))):
        models = sorted(p.stem.split("_")[1] for p in (source / f"pkg{number:03d}").glob("model_*.py"))
        trains = sorted(p.stem.split("_")[1] for p in (source / f"pkg{number:03d}").glob("train_*.py"))
        if not models or not trains:
            continue
        text = PROJECT_SCRIPT.format(
            top=top, package=f"pkg{number:03d}", local=number, model=models[0], train=trains[0], dim=64
        )
        write(scripts / f"run_{number}.py", text)
    return lines


def touch_one_module(root: Path, run: int) -> Path:
    """Change one module's content (its first helpers module, most imported) in a way that keeps
    its meaning: a comment naming the run. Each call gives another content, so a warm cache has
    exactly this one file to read again."""
    helpers = sorted(root.rglob("helpers_*.py")) or sorted(root.rglob("*.py"))
    path = helpers[0]
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    marker = "# bench run "
    kept = "".join(line for line in text.splitlines(True) if not line.startswith(marker))
    path.write_text(kept + f"{marker}{run}\n", encoding="utf-8", errors="surrogateescape")
    return path
