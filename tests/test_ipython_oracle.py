"""Notebook cells are read as IPython reads them: IPython itself is the oracle.

For generated cells and for every code cell of the notebook fixtures, our reading is Python
exactly when IPython's transformed cell is (`TransformerManager().transform_cell`, the cell
magic's body for %%time and the like), and a finding placed after IPython syntax is reported at
its cell, line and column as written. IPython is a test dependency only; without it these tests
skip.
"""
from __future__ import annotations

import ast
import json
import re
import textwrap
from pathlib import Path
from typing import Callable, Dict, List

import pytest

inputtransformer2 = pytest.importorskip("IPython.core.inputtransformer2")
import IPython  # noqa: E402

from flake8_nograd.ipython_syntax import PYTHON_CELL_MAGICS, read_cell  # noqa: E402
from flake8_nograd.notebooks import _prepare_cell, parse_notebook  # noqa: E402
from flake8_nograd.runner import RunOptions, process_file  # noqa: E402

from ipython_cells import generated_cells  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parent / "data" / "notebooks"
IPYTHON_MAJOR = int(IPython.__version__.split(".")[0])


def _parses(text: str) -> bool:
    try:
        compile(text, "<cell>", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except (SyntaxError, ValueError):
        return False
    return True


def _legacy_leading_indent(lines: List[str]) -> List[str]:
    """IPython 8's clean-up: the first line's indentation, from each line starting with it."""
    match = re.match(r"^[ \t]+", lines[0]) if lines else None
    if not match:
        return lines
    return [line[len(match.group(0)) :] if line.startswith(match.group(0)) else line for line in lines]


def _modern_leading_indent(lines: List[str]) -> List[str]:
    """IPython 9's clean-up: textwrap.dedent."""
    return textwrap.dedent("".join(lines)).splitlines(keepends=True) if lines else lines


def _paren_without_name(content: str) -> str:
    """IPython 8's `/` escape: `/ a` is `(a)` (IPython 9 raises)."""
    name, _, args = content.partition(" ")
    return "{}({})".format(name, ", ".join(args.split()))


def _accepts(cell: str, manager: "inputtransformer2.TransformerManager") -> bool:
    lines = (cell if cell.endswith("\n") else cell + "\n").splitlines(keepends=True)
    for transform in manager.cleanup_transforms:
        lines = transform(lines)
    if lines and lines[0].startswith("%%") and not re.match(r"%%\w+\?", lines[0]):
        if lines[0][2:].rstrip().partition(" ")[0] in PYTHON_CELL_MAGICS:
            return _accepts("".join(lines[1:]), manager)  # what the magic compiles
        return True  # another language: IPython's cell is a call, and we read nothing of it
    try:
        transformed = manager.transform_cell(cell)
    except Exception:  # noqa: B902 - IPython raising (IndentationError from the tokenizer, ...) is a refusal
        return False
    return _parses(transformed)


def ipython_accepts(cell: str) -> bool:
    """The installed IPython accepts the cell, or would with the other major version's reading
    of the two things that differ between IPython 8 and 9 (indentation clean-up, `/` without a
    name): a notebook is not wrong for the IPython it was written with."""
    if _accepts(cell, inputtransformer2.TransformerManager()):
        return True
    other = inputtransformer2.TransformerManager()
    other.cleanup_transforms = [
        (_modern_leading_indent if IPYTHON_MAJOR < 9 else _legacy_leading_indent)
        if transform is inputtransformer2.leading_indent else transform
        for transform in other.cleanup_transforms
    ]
    paren = inputtransformer2.tr[inputtransformer2.ESC_PAREN]
    inputtransformer2.tr[inputtransformer2.ESC_PAREN] = _paren_without_name
    try:
        return _accepts(cell, other)
    finally:
        inputtransformer2.tr[inputtransformer2.ESC_PAREN] = paren


def we_accept(cell: str) -> bool:
    prepared = _prepare_cell(0, cell)
    return prepared is None or prepared.error is None


def test_generated_cells_agree_with_ipython():
    cells = generated_cells(1500)
    disagreements = [(cell, ipython_accepts(cell)) for cell in cells if ipython_accepts(cell) != we_accept(cell)]
    assert disagreements == []
    accepted = sum(ipython_accepts(cell) for cell in cells)
    assert 0.6 * len(cells) < accepted < 0.95 * len(cells)  # both kinds well represented


@pytest.mark.parametrize(
    "cell, accepted",
    [
        # `%` inside open brackets, after a backslash, in strings and comments: Python's modulo
        ("print('epoch %d, loss %.4f'\n      % (epoch, loss))\n", True),
        ("x = 1 \\\n    % 3\n", True),
        ("s = '''\n%time x\n!ls\n'''\n", True),
        ("# %time\nx = '%d' % 3\n", True),
        # escapes where a logical line starts, also indented and after `=`
        ("for i in range(3):\n    %time f(i)\n    files = !ls\n", True),
        ("t = %timeit -o f()\n(a,\n b) = !echo 1 2\n", True),
        ("!echo a \\\n  b\n", True),
        # help syntax
        ("torch.*Tensor?\nmodel.fc??\n?x\n", True),
        ("print(x)?\n", False),
        # the escape's own line ends where IPython ends it
        ("%time f(a,\n   b)\n", False),
        ("f(a,\n  !b)\n", False),
        ("x = (%time f())\n", False),
        # cell magics: the body of a Python one is read as a cell
        ("%%time\nfiles = !ls\nx = f(files)\n", True),
        ("%%time\ndef f(:\n", False),
        ("%%bash\necho {\n", True),
        # pasted prompts, indented cells
        (">>> for i in range(2):\n...     print(i)\n", True),
        ("    x = 1\n    !ls\n", True),
        ("print 'python 2'\n", False),
    ],
)
def test_chosen_cells_agree_with_ipython(cell: str, accepted: bool):
    assert ipython_accepts(cell) is accepted
    assert we_accept(cell) is accepted


def _notebook_cells(path: Path) -> List[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in data["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_fixture_notebook_cells_agree_with_ipython(path: Path):
    for cell in _notebook_cells(path):
        assert we_accept(cell) is ipython_accepts(cell), cell


def _finding_cell(body: str, line: int) -> str:
    """`body` with an NG401 line inserted after its line `line` (0: first), at the cell's indentation."""
    lines = body.rstrip("\n").split("\n")
    indent = re.match(r"[ \t]*", next((l for l in lines if l.strip()), "")).group(0)
    guard = [indent + "with torch.no_grad:", indent + "    pass"]
    return "\n".join(lines[:line] + guard + lines[line:]) + "\n"


def test_findings_after_ipython_syntax_point_at_the_cell_line(tmp_path: Path):
    """Every accepted generated cell gets a finding after its IPython lines; the reported cell,
    line and column are those of the cell as written."""
    candidates = [cell for cell in generated_cells(400, seed=7) if ipython_accepts(cell)]
    expected: Dict[int, tuple] = {}
    cells = []
    for body in candidates:
        # After everything, so every earlier line (IPython's included) must keep its place.
        source = _finding_cell(body, len(body.rstrip("\n").split("\n")))
        if not ipython_accepts(source) or not we_accept(source):
            continue  # e.g. a cell ending inside an open block would take the guard into it
        guard_line = source.split("\n").index(next(l for l in source.split("\n") if l.strip().startswith("with torch.no_grad:")))
        column = len(source.split("\n")[guard_line]) - len("with torch.no_grad:") + len("with ")
        cells.append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                      "source": source.splitlines(keepends=True)})
        expected[len(cells)] = (guard_line + 1, column + 1)
    path = tmp_path / "generated.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
    result = process_file(str(path), RunOptions())
    assert result.errors == []
    reported = {r["cell"]: (r["line"], r["column"]) for r in result.findings if r["code"] == "NG401"}
    # A guard inside a %%bash-like cell is not read; every other one is reported where it is.
    readable = {n: place for n, place in expected.items() if _prepare_cell(0, "".join(cells[n - 1]["source"])) is not None}
    assert len(readable) > 100
    assert reported == readable
