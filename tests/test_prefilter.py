"""The text prefilter (`Rule.applies_to`) only skips modules where the rule cannot find anything.

A rule that does not apply to a source is never run on it, so an unsound prefilter would hide real
findings. Each test runs the rule on the full analysis anyway and requires it to find nothing
whenever the prefilter said "skip".
"""
from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest

from flake8_nograd.analysis import ModuleAnalysis
from flake8_nograd.checker import check_source
from flake8_nograd.rules import ALL_RULES
from helpers import FIXTURES, ROOT, fixture_config
from training_code_generator import Chooser, program

SOURCES = sorted(FIXTURES.glob("NG*/*.py")) + [ROOT / "docs" / "examples" / "train_buggy.py"]


def skipped_rules_that_would_report(source: str) -> list:
    analysis = ModuleAnalysis(ast.parse(source), fixture_config(source))
    return [rule.code for rule in ALL_RULES if not rule.applies_to(source) and list(rule.check(analysis))]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_prefilter_keeps_every_finding_of_the_fixtures(path: Path):
    assert skipped_rules_that_would_report(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("seed", range(200))
def test_prefilter_keeps_every_finding_of_generated_programs(seed: int):
    source = program(Chooser.from_random(random.Random(seed)))
    assert skipped_rules_that_would_report(source) == []


# A validation loop that NG201 reports in PyTorch code, after an import line.
VALIDATION_LOOP = (
    "def validate(model, val_loader):\n"
    "    model.eval()\n"
    "    for x, y in val_loader:\n"
    "        total = model(x)\n"
)
EVALUATION_RULES = {"NG201", "NG202", "NG203"}


@pytest.mark.parametrize("import_line", ["", "import numpy as np\n", "from mxnet import autograd\n"])
def test_evaluation_rules_skip_modules_without_torch(import_line: str):
    source = import_line + VALIDATION_LOOP
    assert {rule.code for rule in ALL_RULES if rule.applies_to(source)}.isdisjoint(EVALUATION_RULES)
    assert skipped_rules_that_would_report(source) == []


@pytest.mark.parametrize("import_line", ["import torch\n", "import pytorch_lightning as pl\n", "import timm\n"])
def test_evaluation_rules_apply_to_torch_modules(import_line: str):
    source = import_line + VALIDATION_LOOP
    assert EVALUATION_RULES <= {rule.code for rule in ALL_RULES if rule.applies_to(source)}
    assert [(f.line, f.col + 1, f.code) for f in check_source(source)] == [(4, 5, "NG201")]
