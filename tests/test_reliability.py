"""Never crash, never corrupt: internal errors become NG000, hostile files become one line each,
deeply nested and very large code is analysed (or refused cleanly), and the fixer never leaves a
file half-written. See docs/reliability.md."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import List

import pytest

from flake8_nograd import runner, sources
from flake8_nograd.checker import INTERNAL_ERROR, check_source, check_tree
from flake8_nograd.plugin import Plugin
from flake8_nograd.rules.ng101_backward_without_graph import BackwardWithoutGraph
from flake8_nograd.runner import RunOptions, process_file

NG401_FILE = "import torch\n\n\ndef predict(model, x):\n    with torch.no_grad:\n        return model(x)\n"
NG101_FILE = "import torch\n\nwith torch.no_grad():\n    loss = model(x).sum()\nloss.backward()\n"
# Replaces one rule's check with a crash, then runs a command (flake8 or ours) in this process.
FAILING_RULE = (
    "import sys\n"
    "from flake8_nograd.rules.ng101_backward_without_graph import BackwardWithoutGraph\n"
    "def boom(self, analysis):\n"
    "    raise KeyError('simulated bug')\n"
    "    yield\n"
    "BackwardWithoutGraph.check = boom\n"
)


def run(args: List[str], cwd: Path, prelude: str = "") -> subprocess.CompletedProcess:
    """`python -c` so that a prelude can monkeypatch the package before the command starts."""
    module, *rest = args
    code = prelude + f"import runpy, sys\nsys.argv = {[module] + rest!r}\nrunpy.run_module({module!r}, run_name='__main__')\n"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=False)


# -- internal errors: NG000 --------------------------------------------------------------------------
def test_check_tree_turns_an_exception_into_one_ng000_at_line_1(monkeypatch):
    monkeypatch.setattr(BackwardWithoutGraph, "check", lambda self, analysis: iter([1 / 0]))
    findings = check_tree(ast.parse(NG101_FILE), NG101_FILE)
    assert [(f.line, f.col, f.code) for f in findings] == [(1, 0, INTERNAL_ERROR)]
    assert findings[0].text == (
        "NG000 internal error while analysing this file: ZeroDivisionError: division by zero; please report it"
    )


def test_check_tree_survives_a_failing_trigger_check(monkeypatch):
    def broken(self, source):
        raise RuntimeError("broken trigger")

    monkeypatch.setattr(BackwardWithoutGraph, "applies_to", broken)
    assert [f.code for f in check_tree(ast.parse(NG101_FILE), NG101_FILE)] == [INTERNAL_ERROR]


def test_the_command_runs_only_the_selected_rules(monkeypatch, tmp_path: Path):
    """A rule that is not selected is not run: its failure (or its cost) cannot reach the user."""
    from flake8_nograd.settings import Selection

    monkeypatch.setattr(BackwardWithoutGraph, "check", lambda self, analysis: iter([1 / 0]))
    path = tmp_path / "both.py"
    path.write_text(NG101_FILE + "with torch.no_grad:\n    pass\n")
    only_ng401 = process_file(str(path), RunOptions(selection=Selection(select=("NG401",))))
    assert [(f["line"], f["code"]) for f in only_ng401.findings] == [(6, "NG401")]
    assert only_ng401.errors == []
    everything = process_file(str(path), RunOptions())
    assert [e["code"] for e in everything.errors] == [INTERNAL_ERROR]


def test_plugin_run_never_raises(monkeypatch):
    def explode(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr("flake8_nograd.plugin.check_tree", explode)
    results = list(Plugin(ast.parse(NG101_FILE), NG101_FILE.splitlines(True)).run())
    assert [(line, col, text.split()[0]) for line, col, text, _ in results] == [(1, 0, INTERNAL_ERROR)]
    assert "MemoryError: no details" in results[0][2]


def test_flake8_goes_on_after_an_internal_error(tmp_path: Path):
    """Through real flake8: the failing file gets NG000, the other files and plugins still report."""
    (tmp_path / "a_crashes.py").write_text(NG101_FILE + "x=1\n")  # pycodestyle: E225
    (tmp_path / "b_fine.py").write_text(NG401_FILE)
    done = run(["flake8", "--isolated", "--select", "NG,E225", "--jobs", "2", "."], tmp_path, FAILING_RULE)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = sorted(done.stdout.splitlines())
    assert lines[0].startswith("./a_crashes.py:1:1: NG000 internal error while analysing this file: KeyError: ")
    assert "please report it" in lines[0]
    assert any(line.startswith("./a_crashes.py:6:2: E225") for line in lines)
    assert any(line.startswith("./b_fine.py:5:10: NG401") for line in lines)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_command_reports_ng000_and_exits_2_at_the_end(tmp_path: Path, jobs: str):
    (tmp_path / "a_crashes.py").write_text(NG101_FILE)
    (tmp_path / "b_fine.py").write_text(NG401_FILE)
    # NG101 is selected (so it runs, and crashes); unselected rules are not run at all.
    done = run(["flake8_nograd", "check", "--jobs", jobs, "--select", "NG101,NG4", "."], tmp_path, FAILING_RULE)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout.splitlines() == [
        "./a_crashes.py:1:1: NG000 internal error while analysing this file: KeyError: 'simulated bug'; please report it",
        "./b_fine.py:5:10: NG401 'torch.no_grad' is used without calling it, a TypeError at run time; "
        "write 'with torch.no_grad():'",
    ]
    assert "1 file could not be checked" in done.stderr


def test_a_crash_outside_the_analysis_is_one_error_for_that_file(tmp_path: Path, monkeypatch):
    path = tmp_path / "a.py"
    path.write_text(NG401_FILE)

    def explode(*args, **kwargs):
        raise AttributeError("bug in the runner")

    monkeypatch.setattr(runner, "lint_text", explode)
    result = process_file(str(path), RunOptions())
    assert [(r["code"], r["line"]) for r in result.errors] == [(INTERNAL_ERROR, 1)]
    assert "internal error while checking this file: AttributeError: bug in the runner" in result.errors[0]["message"]


# -- deeply nested, very long, every syntax ----------------------------------------------------------
def _deep(kind: str, depth: int) -> str:
    return {
        "binop": "(" + " + ".join(["y"] * depth) + ")",
        "call": "f" + "(y)" * depth,
        "attribute": "y" + ".a" * depth,
        "subscript": "y" + "[0]" * depth,
        "unary": "-" * depth + "y",
        "ifexp": "(" + " if c else ".join(["torch.no_grad()"] * depth) + ")",
        "lambda": "(" + "lambda: " * depth + "y)",
        "methods": "y" + ".sum()" * depth,
        "walrus": "(" + " + ".join(["(w := y)"] * depth) + ")",
    }[kind]


DEEP_PLACES = {
    "assigned": "import torch\nwith torch.no_grad():\n    y = model(x)\nloss = {E}\nloss.backward()\n",
    "backward": "import torch\nwith torch.no_grad():\n    y = model(x)\n{E}.backward()\n",
    "autograd": "import torch\nwith torch.no_grad():\n    y = model(x)\ntorch.autograd.grad({E}, p)\n",
    "requires_grad": "import torch\nwith torch.no_grad():\n    z = {E}\nz.requires_grad = True\nz.backward()\n",
    "with": "import torch\nwith {E}:\n    loss = model(x)\nloss.backward()\n",
    "decorator": "import torch\n@{E}\ndef f(x):\n    return model(x)\nf(x).backward()\n",
    "guard_statement": "import torch\ntorch.no_grad({E})\n",
    "default": "import torch\ndef g(x={E}):\n    with torch.no_grad():\n        y = model(x)\n    y.backward()\n",
    "augmented": "import torch\nwith torch.no_grad():\n    y = model(x)\nacc += {E}\nacc.backward()\n",
    "accumulator_printed": (
        "import torch\ndef train(model, loader, opt):\n    y = 0\n    for batch in loader:\n"
        "        loss = model(batch).sum()\n        loss.backward()\n        opt.step()\n        y += loss\n"
        "    print({E})\n"
    ),
    "parameter_update": "import torch\ndef ema(model):\n    for p in model.parameters():\n        p.mul_({E})\n        p -= {E}\n",
    "eval_loop": "import torch\ndef evaluate(model, val_loader):\n    model.eval()\n    for y in val_loader:\n        out = model({E})\n",
    "inference_tensor": (
        "import torch\nhead = torch.nn.Linear(2, 2)\nwith torch.inference_mode():\n    y = model(x)\n"
        "    z = {E}\nout = head({E})\nz += {E}\ny[{E}] = z\n"
    ),
}


@pytest.mark.parametrize("place", sorted(DEEP_PLACES))
@pytest.mark.parametrize("kind", ["binop", "call", "attribute", "subscript", "unary", "ifexp", "lambda", "methods", "walrus"])
def test_deeply_nested_expressions_never_crash(place: str, kind: str):
    """From shallow to the deepest CPython parses: no exception, no NG000 (a too deep expression
    is simply of unknown state); a file CPython itself refuses is the front end's E999."""
    for depth in (10, 300, 900, 2000, 2900):
        source = DEEP_PLACES[place].replace("{E}", _deep(kind, depth))
        try:
            tree = ast.parse(source)
        except (SyntaxError, RecursionError, MemoryError):
            continue  # CPython's limit: see test_parser_limits_are_a_per_file_error
        findings = check_tree(tree, source)
        assert INTERNAL_ERROR not in {f.code for f in findings}, (depth, findings[0].message)


def test_long_elif_chains_are_walked_without_recursion():
    branches = "".join(f"elif phase == {i}:\n    torch.set_grad_enabled(False)\n" for i in range(2500))
    source = "import torch\nif phase is None:\n    pass\n" + branches + "with torch.no_grad():\n    y = model(x)\ny.backward()\n"
    assert [(f.line, f.code) for f in check_source(source)] == [(source.count("\n"), "NG101")]
    # The region after the chain: set_grad_enabled(False) in some branches only, so unknown.
    nested_in_function = "def f():\n" + textwrap.indent(source.split("\n", 1)[1], "    ")
    assert INTERNAL_ERROR not in {f.code for f in check_source("import torch\n" + nested_in_function)}


def test_elif_chain_regions_match_nested_ifs():
    """A flat `elif` and the same branches written as `else: if` give the same findings."""
    flat = (
        "import torch\ndef f(a, b):\n    if a:\n        torch.set_grad_enabled(False)\n"
        "    elif b:\n        torch.set_grad_enabled(False)\n    else:\n        torch.set_grad_enabled(False)\n"
        "    loss = model(x)\n    loss.backward()\n"
    )
    nested = (
        "import torch\ndef f(a, b):\n    if a:\n        torch.set_grad_enabled(False)\n"
        "    else:\n        if b:\n            torch.set_grad_enabled(False)\n        else:\n"
        "            torch.set_grad_enabled(False)\n    loss = model(x)\n    loss.backward()\n"
    )
    # set_grad_enabled(False) on every path, each at its own line: the mode after is unknown.
    assert [f.code for f in check_source(flat)] == [f.code for f in check_source(nested)] == []
    inside = "    with torch.no_grad():\n        y = model(x)\n    y.backward()\n"
    flat = flat.replace("    elif b:\n", "    elif b:\n" + textwrap.indent(inside, "    "))
    nested = nested.replace("        if b:\n", "        if b:\n" + textwrap.indent(inside, "        "))
    assert [f.code for f in check_source(flat)] == [f.code for f in check_source(nested)] == ["NG101"]


def test_deeply_nested_blocks():
    """CPython allows 100 levels of indentation; every level a different block kind."""
    kinds = ["if x:", "for i in y:", "while t:", "with torch.no_grad():", "try:", "def f():", "class C:"]
    lines = ["import torch"]
    for level in range(98):
        lines.append("    " * level + kinds[level % len(kinds)])
        if kinds[level % len(kinds)] == "try:":
            lines.append("    " * (level + 1) + "pass")
            lines.append("    " * level + "finally:")
    lines.append("    " * 98 + "loss = model(x)")
    lines.append("    " * 98 + "loss.backward()")
    source = "\n".join(lines) + "\n"
    ast.parse(source)
    assert INTERNAL_ERROR not in {f.code for f in check_source(source)}


def test_very_long_file_and_huge_line():
    padding = "    n = n + 1\n" * 96
    function = "def step_{}(model, x):\n    with torch.no_grad():\n        y = model(x)\n" + padding + "    y.backward()\n"
    source = "import torch\n" + "".join(function.format(i) for i in range(1000))  # 100,001 lines
    assert source.count("\n") == 100001
    started = time.perf_counter()
    findings = check_source(source)
    assert len(findings) == 1000 and {f.code for f in findings} == {"NG101"}
    huge_line = "import torch\nx = [" + "torch.no_grad, " * 50000 + "]\nwith torch.no_grad:\n    pass\n"
    assert [f.code for f in check_source(huge_line)] == ["NG401"]
    assert time.perf_counter() - started < 60


SYNTAX_SAMPLES = {
    "match": """
        match command:
            case {"mode": "eval", **rest} if rest:
                with torch.no_grad():
                    loss = model(x)
            case [first, *others] | (first, *others):
                loss = model(first)
            case Point(x=0, y=yy) as point:
                loss = point
            case _:
                loss = None
        loss.backward()
    """,
    "walrus_and_comprehensions": """
        async def run(model, loader):
            with torch.no_grad():
                outs = [y async for x in loader if (y := model(x)) is not None]
                total = {k: v async for k, v in pairs()}
                gen = (await model(x) for x in xs)
            (n := len(outs))
            outs[0].backward()
            return [z for z in outs if (w := z) is not None]
    """,
    "decorators_of_any_expression": """
        @buttons[0].clicked.connect
        @(lambda f: f)
        @torch.no_grad() if fast else nullcontext()
        @registry["x"](name=f"{a!r:>10}")
        def evaluate(model, x, /, y=None, *args, key, **kwargs) -> "torch.Tensor":
            global counter
            return model(x)
        evaluate(model, x).backward()
    """,
    "try_star": """
        try:
            loss = model(x)
        except* (ValueError, TypeError) as group:
            raise
        else:
            pass
        finally:
            del loss
    """,
    "parenthesized_with": """
        with (torch.no_grad() as g, open(path) as h,):
            pass
        with (
            torch.no_grad(),
            open(path) as h,
        ):
            loss = model(x)
        loss.backward()
    """,
    "assorted_statements": """
        try:
            loss = model(x)
        except (ValueError, TypeError) as error:
            raise
        else:
            pass
        finally:
            del loss
        x: int
        a, *b = c = d = e
        lambda *a, k=1, **kw: (yield)
        print(*args, sep="", **kwargs)
        assert x, "message"
    """,
    "async_everything": """
        class Trainer:
            async def step(self):
                async with torch.no_grad() as ctx:
                    async for batch in self.loader:
                        out = await self.model(batch)
                await out.backward()
                nonlocal_value = [await f() for f in fs]
    """,
    "strings_bytes_numbers": '''
        x = b"\\x00" + rb"\\d" + f"{y=}" + f"{'nested'!s:{width}}" + """doc""" + 0x_FF_FF + 1_000.5e-3j
        with torch.no_grad:
            pass
    ''',
    "pep695_generics": """
        type Batch[T] = list[T]
        class Wrapper[M: torch.nn.Module, *Ts, **P]:
            def forward[X](self, x: X) -> X:
                with torch.no_grad():
                    y = self.model(x)
                y.backward()
        def first[T](xs: list[T]) -> T:
            return xs[0]
        x = f"{'nested ' + f'{y!r}'}"
    """,
}
# The Python version that introduced a sample's syntax (older interpreters cannot parse it at all).
SYNTAX_SINCE = {
    "match": ((3, 10), "match statements (PEP 634) came in Python 3.10"),
    # (3.9's new parser happens to accept them too, but its `-X oldparser` does not: not 3.9 syntax)
    "parenthesized_with": ((3, 10), "parenthesized context managers came in Python 3.10"),
    "try_star": ((3, 11), "except* (PEP 654) came in Python 3.11"),
    "pep695_generics": ((3, 12), "type parameter syntax (PEP 695) and nested f-string quotes came in Python 3.12"),
}


def _syntax_sample(name: str):
    since, reason = SYNTAX_SINCE.get(name, ((3,), ""))
    return pytest.param(name, marks=pytest.mark.skipif(sys.version_info < since, reason=reason))


@pytest.mark.parametrize("name", [_syntax_sample(name) for name in sorted(SYNTAX_SAMPLES)])
def test_every_syntax_the_interpreter_accepts(name: str, tmp_path: Path):
    source = "import torch\n" + textwrap.dedent(SYNTAX_SAMPLES[name])
    ast.parse(source)
    assert INTERNAL_ERROR not in {f.code for f in check_source(source)}
    path = tmp_path / "sample.py"
    path.write_text(source)
    result = process_file(str(path), RunOptions(fix=True, unsafe_fixes=True))
    assert not result.errors, result.errors
    ast.parse(path.read_text())


@pytest.mark.parametrize("name", [_syntax_sample(name) for name in sorted(SYNTAX_SAMPLES)])
def test_every_syntax_under_inference_mode(name: str):
    """The same samples with their guards turned into inference_mode, so that NG103's flow reads them."""
    sample = textwrap.dedent(SYNTAX_SAMPLES[name]).replace("no_grad", "inference_mode")
    source = "import torch\nwith torch.inference_mode():\n    held = torch.ones(1)\n" + sample + "\nheld += 1\n"
    ast.parse(source)
    assert INTERNAL_ERROR not in {f.code for f in check_source(source)}


# -- hostile files through the command ---------------------------------------------------------------
# flake8 prints `def f(:` (offset 7, 1-based) at column 8 from Python 3.10 on; up to 3.9 it takes one
# off the offset first (runner.syntax_error_record does the same).
DEF_F_SYNTAX_ERROR_COLUMN = 8 if sys.version_info >= (3, 10) else 7
# Python 3.11 added a recursion limit to building the AST: 10,000 chained `+` are refused there, but
# 3.9 and 3.10 parse them, so there the file is an ordinary one (no torch: nothing to report).
DEEP_BINOP_REFUSED = sys.version_info >= (3, 11)


def _hostile_tree(root: Path) -> dict:
    """Each hostile file -> the code of the one line it must produce (None: no line at all)."""
    root.mkdir()
    (root / "good.py").write_text(NG401_FILE)
    (root / "syntax_error.py").write_text("def f(:\n    pass\n")
    (root / "latin1_without_cookie.py").write_bytes(b'name = "caf\xe9"\n')
    (root / "wrong_cookie.py").write_bytes(b"# -*- coding: no-such-codec -*-\nx = 1\n")
    (root / "lying_cookie.py").write_bytes(b"# coding: ascii\nname = '\xc3\xa9'\n")
    (root / "bom_and_cookie.py").write_bytes(b"\xef\xbb\xbf# coding: latin-1\nx = 1\n")
    (root / "nul_bytes.py").write_bytes(b"x = 1\x00\n")
    (root / "too_deep.py").write_text("x = " + "-" * 20000 + "1\n")
    (root / "too_deep_binop.py").write_text("x = " + " + ".join(["1"] * 10000) + "\n")
    (root / "empty.py").write_text("")
    (root / "x.py").mkdir()  # a directory named like a module: walked, never opened as a file
    (root / "x.py" / "inside.py").write_text(NG401_FILE)
    (root / "loop_a.py").symlink_to(root / "loop_b.py")
    (root / "loop_b.py").symlink_to(root / "loop_a.py")
    (root / "dangling.py").symlink_to(root / "missing.py")
    os.mkfifo(root / "fifo.py")  # reading it would block forever
    (root / (os.fsdecode(b"\xff\xfe") + ".py")).write_text(NG401_FILE)  # a name that is not UTF-8
    return {
        "syntax_error.py": "E999", "latin1_without_cookie.py": "E902", "wrong_cookie.py": "E902",
        "lying_cookie.py": "E902", "bom_and_cookie.py": "E902", "nul_bytes.py": "E999", "too_deep.py": "E999",
        "too_deep_binop.py": "E999" if DEEP_BINOP_REFUSED else None,
        "loop_a.py": "E902", "loop_b.py": "E902", "dangling.py": "E902", "fifo.py": "E902",
    }


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_hostile_files_give_one_line_each_and_the_run_goes_on(tmp_path: Path, jobs: str):
    expected = _hostile_tree(tmp_path / "project")
    done = _command(["check", "--jobs", jobs, "--format", "json", "-q", "project"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert b"Traceback" not in done.stderr
    by_file: dict = {}
    for r in json.loads(done.stdout):
        by_file.setdefault(os.path.basename(r["path"]), []).append(r["code"])
    for name, code in expected.items():
        assert by_file.get(name) == ([code] if code else None), (name, by_file.get(name))
    assert by_file["good.py"] == ["NG401"] and by_file["inside.py"] == ["NG401"]
    assert by_file[os.fsdecode(b"\xff\xfe") + ".py"] == ["NG401"]
    assert "empty.py" not in by_file


def test_hostile_files_in_every_format(tmp_path: Path):
    _hostile_tree(tmp_path / "project")
    for form in ("text", "sarif", "github"):
        done = _command(["check", "--format", form, "-q", "project"], tmp_path)
        assert done.returncode == 2 and b"Traceback" not in done.stderr, (form, done.stderr)
        assert b"fifo.py" in done.stdout and b"good.py" in done.stdout


def _command(args: List[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flake8_nograd", *args], cwd=cwd, capture_output=True, check=False, timeout=120,
        env=dict(os.environ, PYTHONIOENCODING="utf-8"),  # strict UTF-8, unlike a C locale's stdout
    )


def test_hostile_file_messages_are_clear(tmp_path: Path):
    _hostile_tree(tmp_path / "project")
    done = subprocess.run(
        [sys.executable, "-m", "flake8_nograd", "check", "-q", "project"], cwd=tmp_path, capture_output=True,
        text=True, errors="replace", check=False, timeout=120,
    )
    out = done.stdout
    assert f"project/syntax_error.py:1:{DEF_F_SYNTAX_ERROR_COLUMN}: E999 SyntaxError: invalid syntax" in out
    assert "project/wrong_cookie.py:1:1: E902 SyntaxError: cannot decode the file (unknown encoding: no-such-codec)" in out
    assert "project/nul_bytes.py:1:1: E999 " in out and "null bytes" in out
    assert "project/too_deep.py:1:1: E999 MemoryError: " in out and "nested too deeply for Python's parser" in out
    assert "project/fifo.py:1:1: E902 not a regular file" in out
    assert "project/loop_a.py:1:1: E902 OSError: Too many levels of symbolic links" in out


def test_syntax_error_line_is_flake8s(tmp_path: Path):
    (tmp_path / "bad.py").write_text("x = 1\ndef f(:\n    pass\n")
    ours = subprocess.run([sys.executable, "-m", "flake8_nograd", "check", "-q", "bad.py"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    theirs = subprocess.run([sys.executable, "-m", "flake8", "--isolated", "--select", "E999", "bad.py"], cwd=tmp_path,
                            capture_output=True, text=True, check=False)
    assert ours.stdout == theirs.stdout == f"bad.py:2:{DEF_F_SYNTAX_ERROR_COLUMN}: E999 SyntaxError: invalid syntax\n"


@pytest.mark.parametrize("details, expected", [
    (("<unknown>", 2, 7, "def f(:\n"), (2, 7)),  # Python <= 3.9: (filename, row, 1-based offset, text)
    pytest.param(  # Python >= 3.10: and where it ends
        ("<unknown>", 2, 7, "def f(:\n", 2, 8), (2, 8),
        marks=pytest.mark.skipif(sys.version_info < (3, 10), reason="SyntaxError's end position came in Python 3.10"),
    ),
    (("<unknown>", 3, 40, 's = """abc\nmore\n'), (2, 10)),  # <= 3.9, text over two lines
    (("<unknown>", 1, 0, "x\n"), (1, 1)),
    (("<unknown>", 4, 3, None), (4, 3)),
    (("<unknown>", 1, None, None), (1, 1)),  # (flake8 itself raises TypeError on this one)
])
def test_syntax_error_position_for_both_shapes_of_details(details: tuple, expected: tuple):
    """flake8 (<= 7.3, the last for Python 3.9) takes one off a 4-tuple's offset; from 3.10 on the details
    are a 6-tuple and the offset is printed one past. Both shapes are checked whatever Python runs the
    test; the shape this Python produces is also checked against the installed flake8's own code."""
    error = SyntaxError("invalid syntax", details)
    record = runner.syntax_error_record("bad.py", error)
    assert (record["line"], record["column"]) == expected
    if (len(details) == 4) == (sys.version_info < (3, 10)) and details[2] is not None:
        checker = pytest.importorskip("flake8.checker")
        row, column = checker.FileChecker._extract_syntax_information(error)
        assert expected == (row, column + 1)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path: Path):
    path = tmp_path / "secret.py"
    path.write_text(NG401_FILE)
    path.chmod(0)
    result = process_file(str(path), RunOptions())
    assert [r["code"] for r in result.errors] == ["E902"]


def test_unreadable_file_even_as_root(tmp_path: Path, monkeypatch):
    """The same failure as a permission error, simulated (so it runs as root too)."""
    path = tmp_path / "secret.py"
    path.write_text(NG401_FILE)
    real_open = open

    def no_permission(file, mode="r", *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", no_permission)
    result = process_file(str(path), RunOptions())
    assert [(r["code"], r["message"]) for r in result.errors] == [("E902", "PermissionError: Permission denied")]


# -- notebooks (read by sources.py once notebook support lands) ---------------------------------------
def _notebook(cells) -> str:
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def _notebooks_supported(tmp_path: Path) -> bool:
    probe = tmp_path / "probe.ipynb"
    probe.write_text(_notebook([{"cell_type": "code", "source": NG401_FILE.splitlines(True), "metadata": {}}]))
    done = subprocess.run([sys.executable, "-m", "flake8_nograd", "check", "-q", "."], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    probe.unlink()
    return "probe.ipynb" in done.stdout


def test_hostile_notebooks(tmp_path: Path):
    if not _notebooks_supported(tmp_path):
        pytest.skip("notebook support (.ipynb in sources.py) is not on this branch yet")
    (tmp_path / "good.py").write_text(NG401_FILE)
    hostile = {
        "broken_json.ipynb": '{"cells": [',
        "source_not_a_list.ipynb": _notebook([{"cell_type": "code", "source": 42, "metadata": {}}]),
        "source_items_not_strings.ipynb": _notebook([{"cell_type": "code", "source": [1, None], "metadata": {}}]),
        "cells_not_a_list.ipynb": json.dumps({"cells": {"a": 1}, "nbformat": 4}),
        "not_an_object.ipynb": "[1, 2, 3]",
        "cell_with_syntax_error.ipynb": _notebook([{"cell_type": "code", "source": ["def f(:\n"], "metadata": {}}]),
        "latin1.ipynb": b'{"cells": "\xe9"}',
        "empty.ipynb": "",
    }
    for name, content in hostile.items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    done = subprocess.run([sys.executable, "-m", "flake8_nograd", "check", "-q", "."], cwd=tmp_path,
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    for name in hostile:
        lines = [line for line in done.stdout.splitlines() if line.startswith(f"./{name}:")]
        assert len(lines) == 1, (name, lines)
        assert " E902 " in lines[0] or " E999 " in lines[0], lines[0]
    assert "./good.py:5:10: NG401" in done.stdout


# -- the fixer never corrupts ------------------------------------------------------------------------
def test_interrupted_write_leaves_the_original_intact(tmp_path: Path, monkeypatch):
    path = tmp_path / "predict.py"
    path.write_text(NG401_FILE)

    def crash_before_rename(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sources.os, "replace", crash_before_rename)
    result = process_file(str(path), RunOptions(fix=True))
    assert path.read_text() == NG401_FILE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predict.py"]  # no temp file left behind
    assert not result.changed and not result.fixed
    assert [r["code"] for r in result.errors] == ["E902"] and "could not write" in result.errors[0]["message"]
    assert [r["code"] for r in result.not_fixed] == ["NG401"]


def test_interrupt_during_the_write_propagates_and_keeps_the_original(tmp_path: Path, monkeypatch):
    path = tmp_path / "predict.py"
    path.write_text(NG401_FILE)

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(sources.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        process_file(str(path), RunOptions(fix=True))
    assert path.read_text() == NG401_FILE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predict.py"]


def test_a_failing_fixer_leaves_the_file_alone(tmp_path: Path, monkeypatch):
    path = tmp_path / "predict.py"
    path.write_text(NG401_FILE)
    import flake8_nograd.fixes as fixes

    def broken(source, fixes_):
        raise RuntimeError("libcst bug")

    monkeypatch.setattr(fixes, "apply_fixes", broken)
    result = process_file(str(path), RunOptions(fix=True))
    assert path.read_text() == NG401_FILE and not result.changed and not result.errors
    assert [r["code"] for r in result.findings] == ["NG401"]
    assert "the fixer failed" in result.not_fixed[0]["reason"]


def test_code_too_deep_for_libcst_is_not_fixed(tmp_path: Path):
    """libcst's visitors recurse: a fix in a function that holds a 600-deep expression is reported
    as not fixed and the file left byte-identical (it used to crash the whole `fix` run)."""
    source = NG401_FILE + "    total = " + " + ".join(["x"] * 600) + "\n"
    (tmp_path / "deep.py").write_text(source)
    (tmp_path / "fine.py").write_text(NG401_FILE)
    done = subprocess.run([sys.executable, "-m", "flake8_nograd", "fix", "--jobs", "2", "."], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1
    assert "./deep.py:5:10: NG401 not fixed: the code is nested too deeply for the fixer" in done.stdout
    assert (tmp_path / "deep.py").read_text() == source
    assert "torch.no_grad()" in (tmp_path / "fine.py").read_text()


def test_code_too_deep_for_libcst_elsewhere_in_the_file_does_not_block_a_fix(tmp_path: Path):
    """libcst reads only the top-level statements that hold a fix: a deep expression in another
    one is never parsed by it, and the rest of the file is kept byte for byte."""
    deep = "total = " + " + ".join(["x"] * 600) + "\n"
    (tmp_path / "deep.py").write_text(deep + "\n\n" + NG401_FILE.replace("import torch\n", ""))
    result = process_file(str(tmp_path / "deep.py"), RunOptions(fix=True))
    assert [r["code"] for r in result.fixed] == ["NG401"] and not result.not_fixed
    assert (tmp_path / "deep.py").read_text() == deep + "\n\n\n\ndef predict(model, x):\n    with torch.no_grad():\n        return model(x)\n"


def test_form_feeds_do_not_shift_noqa_lines(tmp_path: Path):
    """Found by fuzzing: str.splitlines() splits at form feeds, flake8 does not."""
    (tmp_path / "ff.py").write_text(
        "import torch\n\x0c\nx = 1\x0c\nwith torch.no_grad:  # noqa: NG401\n    pass\nwith torch.no_grad:\n    pass\n"
    )
    ours = subprocess.run([sys.executable, "-m", "flake8_nograd", "check", "-q", "ff.py"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    theirs = subprocess.run([sys.executable, "-m", "flake8", "--isolated", "--select", "NG", "ff.py"], cwd=tmp_path,
                            capture_output=True, text=True, check=False)
    assert ours.stdout == theirs.stdout
    assert ours.stdout.startswith("ff.py:6:6: NG401")
