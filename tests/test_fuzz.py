"""Fuzzing: valid programs from hypothesmith (grammar and CST strategies) and from a PyTorch-flavoured
generator of our own (tests/training_code_generator.py). For every program the checker does not crash (no NG000),
the flake8 plugin and the standalone command agree exactly, and `fix` writes code that parses, is
idempotent, and removes the findings it claims to fix (and adds none).

NOGRAD_FUZZ_EXAMPLES=5000 python -m pytest tests/test_fuzz.py   # a long local run, with fresh random examples
"""
from __future__ import annotations

import ast
import collections
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List

import pytest

from flake8_nograd.checker import INTERNAL_ERROR, check_source
from flake8_nograd.noqa import physical_lines
from flake8_nograd.plugin import Plugin
from flake8_nograd.runner import UNPROVEN_FIX, RunOptions, process_file
from flake8_nograd.settings import Selection

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from training_code_generator import Chooser, program  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")
EXAMPLES = int(os.environ.get("NOGRAD_FUZZ_EXAMPLES", "40"))
# The default run (CI's) draws the same examples every time, so a push is judged on its own code;
# a long run with NOGRAD_FUZZ_EXAMPLES set explores new ones. What it finds joins FOUND_BY_THE_FUZZER.
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize="NOGRAD_FUZZ_EXAMPLES" not in os.environ,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
# Every rule's trigger words, so that the analysis runs on programs that do not mention torch.
ALL_TRIGGERS = "\n# backward autograd requires_grad no_grad enable_grad inference_mode step parameters eval\n"
# `--select NG`: every rule, the ones off by default (NG203) too, as the plugin's run() yields them.
EVERY_RULE = Selection(select=("NG",), explicit_select=True)
SELECT_ALL = RunOptions(selection=EVERY_RULE)
_NOQA_COMMENT = re.compile(r"\s*#\s*noqa.*$", re.IGNORECASE)


@st.composite
def torch_programs(draw) -> str:
    return program(Chooser.from_hypothesis(draw))


def assert_never_crashes(source: str) -> None:
    findings = check_source(source)
    assert INTERNAL_ERROR not in {f.code for f in findings}, [f.text for f in findings]


def assert_plugin_agrees_with_command(source: str) -> None:
    """The plugin's findings (what flake8 prints before noqa) equal the command's on the same text."""
    source = "\n".join(_NOQA_COMMENT.sub("", line.rstrip("\r\n")) for line in physical_lines(source)) + "\n"
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return  # the "# noqa" was inside a string literal; cutting it broke the program
    plugin = sorted((line, col + 1, text) for line, col, text, _ in Plugin(tree, physical_lines(source)).run())
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "module.py")
        Path(path).write_bytes(source.encode("utf-8"))
        result = process_file(path, SELECT_ALL)
    assert not result.errors, result.errors
    command = sorted((r["line"], r["column"], f"{r['code']} {r['message']}") for r in result.findings)
    assert plugin == command


def assert_fix_is_sound(source: str, unsafe: bool) -> None:
    options = RunOptions(selection=EVERY_RULE, fix=True, unsafe_fixes=unsafe)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "module.py")
        Path(path).write_bytes(source.encode("utf-8"))  # bytes: newlines exactly as generated
        before = collections.Counter(f.code for f in check_source(source))
        result = process_file(path, options)
        assert not result.errors, result.errors
        # The runner drops a fix pass that does not prove itself; a rule must never need that.
        assert not [r for r in result.not_fixed if r["reason"] == UNPROVEN_FIX], result.not_fixed
        after_text = Path(path).read_bytes().decode("utf-8")
        if not result.changed:
            assert after_text == source and not result.fixed  # byte-identical
            return
        ast.parse(after_text)  # the fixed file parses
        after = collections.Counter(f.code for f in check_source(after_text))
        fixed = collections.Counter(r["code"] for r in result.fixed)
        for code in set(before) | set(after):
            # What it claims to fix is gone, and fixing added no finding of any code.
            assert after[code] <= before[code] - fixed[code], (code, before, fixed, after, after_text)
        again = process_file(path, options)
        assert not again.changed and not again.fixed, again.fixed  # idempotent
        assert Path(path).read_bytes().decode("utf-8") == after_text


# -- our PyTorch-flavoured generator ----------------------------------------------------------------
@FUZZ
@given(torch_programs(), st.booleans())
def test_generated_torch_programs(source: str, unsafe: bool):
    assert_never_crashes(source)
    assert_plugin_agrees_with_command(source)
    assert_fix_is_sound(source, unsafe)


# Programs the fuzzer once failed on, shrunk by hand; each is checked on every run.
FOUND_BY_THE_FUZZER = [
    # Adding NG401's '()' made the guard work, and NG101 appeared on the backward() under it.
    "import torch\nw = torch.ones(2, requires_grad=True)\n"
    "with torch.no_grad:\n    y = w * 2\n    y.sum().backward()\n",
    # NG301 wrapped a whole loop that re-enabled grad inside it: the wrap fixed nothing, five times.
    "import torch\nwhile step < n:\n    torch.set_grad_enabled(True)\n"
    "    for p in model.parameters(): p.add_(x)\n",
    # NG203 (off by default) from the plugin, while the command was run without it.
    "import torch\nmodel.eval()\nx = model(x)\n",
]


@pytest.mark.parametrize("source", FOUND_BY_THE_FUZZER)
def test_programs_the_fuzzer_found(source: str):
    assert_never_crashes(source)
    assert_plugin_agrees_with_command(source)
    assert_fix_is_sound(source, unsafe=False)


def test_generator_makes_valid_programs_that_reach_the_rules():
    codes: collections.Counter = collections.Counter()
    for seed in range(200):
        source = program(Chooser.from_random(random.Random(seed)))
        ast.parse(source)
        codes.update(f.code for f in check_source(source))
    # The generator is only useful if it reaches the rules' findings.
    assert {"NG101", "NG401", "NG402"} <= set(codes), codes


def test_flake8_and_the_command_print_the_same_lines(tmp_path: Path):
    """One flake8 process and one command process over a batch of generated files (with noqa
    comments): the same lines, byte for byte."""
    count = max(30, EXAMPLES)
    base = int(os.environ.get("NOGRAD_FUZZ_SEED", "0"))
    (tmp_path / "gen").mkdir()
    for index in range(count):
        source = program(Chooser.from_random(random.Random(base + index)))
        (tmp_path / "gen" / f"gen_{index:04d}.py").write_text(source, encoding="utf-8")
    flake8_out = _run([sys.executable, "-m", "flake8", "--isolated", "--select", "NG", "gen"], tmp_path)
    command_out = _run([sys.executable, "-m", "flake8_nograd", "check", "--select", "NG", "-q", "gen"], tmp_path)
    assert "NG000" not in flake8_out
    assert sorted(flake8_out.splitlines()) == sorted(command_out.splitlines())
    assert flake8_out.count("\n") > 10  # the batch did produce findings to compare


def _run(args: List[str], cwd: Path) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


# -- hypothesmith: any valid Python -----------------------------------------------------------------
hypothesmith = pytest.importorskip("hypothesmith")


@FUZZ
@given(hypothesmith.from_grammar())
def test_any_program_from_the_grammar(source: str):
    source = source + ALL_TRIGGERS
    try:
        ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return  # hypothesmith's programs compile, but our trailing comment may not fit every one
    assert_never_crashes(source)
    assert_plugin_agrees_with_command(source)


@FUZZ
@given(hypothesmith.from_node())
def test_any_program_from_the_cst(source: str):
    source = source + ALL_TRIGGERS
    try:
        ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return
    assert_never_crashes(source)
    assert_plugin_agrees_with_command(source)
    assert_fix_is_sound(source, unsafe=True)

