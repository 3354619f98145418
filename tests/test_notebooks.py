"""Jupyter notebooks: cells analysed as one module, positions as `cell N:line:col`, IPython syntax
skipped in place, fixes that rewrite only the changed cells' sources."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import pytest

from flake8_nograd.findings import Fix, span
from flake8_nograd.notebooks import CELL_BOUNDARY, parse_notebook
from flake8_nograd.runner import RunOptions, process_file

DATA = Path(__file__).resolve().parent / "data"


def code(source: str, outputs: Optional[list] = None, count: Optional[int] = 1) -> dict:
    return {
        "cell_type": "code", "execution_count": count, "metadata": {}, "outputs": outputs or [],
        "source": source.splitlines(keepends=True),
    }


def markdown(source: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source.splitlines(keepends=True)}


def notebook(*cells: dict, indent: Optional[int] = 1, language: str = "python") -> str:
    data = {
        "cells": list(cells),
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": language, "name": "python3"},
            "language_info": {"name": language, "version": "3.11.4"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(data, indent=indent, ensure_ascii=False) + "\n"


TRAINING = notebook(
    markdown("# Training\n\nA short run."),
    code("%matplotlib inline\nimport torch\n!pip install -q tqdm\nfiles = !ls\n"),
    code(
        "def predict(model, x):\n    with torch.no_grad:\n        return model(x)",
        outputs=[{"name": "stdout", "output_type": "stream", "text": ["epoch 1 loss 0.31 – ok\n"]}],
    ),
    code("%%bash\necho not python {\n"),
    code("with torch.no_grad():\n    loss = model(x).sum()\n"),
    markdown("Backward in a later cell."),
    code("%time y = 1\nloss.backward()\nwith torch.no_grad:  # noqa: NG401\n    pass"),
)


def run(args: List[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flake8_nograd", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture
def nb(tmp_path: Path) -> Path:
    path = tmp_path / "train.ipynb"
    path.write_text(TRAINING, encoding="utf-8")
    return path


def test_findings_are_reported_by_cell_and_line_across_cells(nb: Path):
    done = run(["check", nb.name], nb.parent)
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == [
        "train.ipynb:cell 3:2:10: NG401 'torch.no_grad' is used without calling it, a TypeError at run time; "
        "write 'with torch.no_grad():'",
        # computed in cell 5, backward in cell 7: one module, in cell order; the line in the
        # message is a cell position too. The noqa'd NG401 in cell 7 is silent.
        "train.ipynb:cell 7:2:1: NG101 'loss' was computed under torch.no_grad() (cell 5, line 1) and has no "
        "graph; compute it outside 'with torch.no_grad():' before calling backward()",
    ]


def test_ipython_lines_keep_every_position():
    parsed = parse_notebook("nb.ipynb", TRAINING.encode())
    lines = parsed.module_text.split("\n")
    # cell 2 (4 lines), boundary, cell 3 (3 lines), boundary, cell 5 ... (%%bash cell 4 left out)
    assert lines[0] == "pass  # flake8-nograd: ipython" and lines[1] == "import torch"
    # `files = !ls` still binds `files`, to something unknown
    assert lines[2:4] == ["pass  # flake8-nograd: ipython", "files = get_ipython()  # flake8-nograd: ipython"]
    assert lines[4] == CELL_BOUNDARY and lines[6] == "    with torch.no_grad:"
    assert "echo" not in parsed.module_text
    assert parsed.cell_position(7) == (3, 2)  # module line 7 is 0-based index 6
    assert parsed.cell_position(10) == (5, 1)


def test_json_and_sarif_carry_the_cell(nb: Path):
    findings = json.loads(run(["check", "--format", "json", nb.name], nb.parent).stdout)
    assert [(f["cell"], f["line"], f["column"], f["code"]) for f in findings] == [(3, 2, 10, "NG401"), (7, 2, 1, "NG101")]
    log = json.loads(run(["check", "--format", "sarif", nb.name], nb.parent).stdout)
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.validate(log, schema, cls=jsonschema.Draft4Validator)
    result = log["runs"][0]["results"][0]
    assert result["properties"]["cell"] == 3 and result["properties"]["cellLine"] == 2
    # The region is the line of the .ipynb file holding that source line (what code scanning shows).
    file_line = result["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert "with torch.no_grad:" in TRAINING.splitlines()[file_line - 1]
    github = run(["check", "--format", "github", nb.name], nb.parent).stdout.splitlines()[0]
    assert github.startswith(f"::warning file=train.ipynb,line={file_line},endLine={file_line},title=NG401::NG401 cell 3:2:10: ")


def test_fix_rewrites_only_the_changed_cell(nb: Path):
    before = nb.read_text(encoding="utf-8")
    done = run(["fix", nb.name], nb.parent)
    assert "train.ipynb:cell 3:2:10: NG401 fixed: add the missing '()'" in done.stdout
    after = nb.read_text(encoding="utf-8")
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert changed == [('    "    with torch.no_grad:\\n",', '    "    with torch.no_grad():\\n",')]
    assert len(before.splitlines()) == len(after.splitlines()) and after.endswith("}\n")
    assert "– ok" in after  # non-ASCII output text kept as it was
    assert run(["fix", nb.name], nb.parent).stdout.count("fixed:") == 0


def test_fix_diff_shows_cells_and_writes_nothing(nb: Path):
    before = nb.read_bytes()
    done = run(["fix", "--diff", nb.name], nb.parent)
    assert done.returncode == 1
    assert "--- a/train.ipynb:cell 3\n+++ b/train.ipynb:cell 3\n" in done.stdout
    assert "+    with torch.no_grad():\n" in done.stdout
    assert nb.read_bytes() == before


@pytest.mark.parametrize("indent", [None, 2, 4])
def test_fix_keeps_other_indentations_and_string_sources(tmp_path: Path, indent):
    cell = code("import torch\nwith torch.no_grad:\n    pass\n")
    cell["source"] = "".join(cell["source"])  # a single string, as some tools write it
    path = tmp_path / "nb.ipynb"
    path.write_text(notebook(markdown("hi"), cell, indent=indent), encoding="utf-8")
    before = json.loads(path.read_text())
    assert run(["fix", "nb.ipynb"], tmp_path).returncode == 0
    text = path.read_text()
    after = json.loads(text)
    assert after["cells"][1]["source"] == "import torch\nwith torch.no_grad():\n    pass\n"
    after["cells"][1]["source"] = before["cells"][1]["source"]
    assert after == before
    assert text == notebook(markdown("hi"), dict(cell, source=after["cells"][1]["source"]), indent=indent).replace(
        "with torch.no_grad:", "with torch.no_grad():"
    )


def test_wrap_fix_across_cells_keeps_cells_and_magics():
    """The fix engine's wrap and `import torch` insertion, cut back into the right cells."""
    from flake8_nograd.fixes import apply_fixes

    parsed = parse_notebook(
        "nb.ipynb",
        notebook(
            code("import os\n"),
            markdown("eval"),
            code("for batch in loader:\n    %time out = model(batch)\n    total += out.sum()\n"),
        ).encode(),
    )
    import ast

    loop = next(n for n in ast.parse(parsed.module_text).body if isinstance(n, ast.For))
    outcome = apply_fixes(parsed.module_text, [Fix("wrap", True, "wrap_no_grad", span(loop))])
    assert outcome.changed
    sources = parsed.sources_from(outcome.source)
    assert sources == {
        0: "import os\nimport torch\n",
        2: "with torch.no_grad():\n    for batch in loader:\n        %time out = model(batch)\n        total += out.sum()\n",
    }
    rewritten = parse_notebook("nb.ipynb", parsed.rewritten(sources).encode())
    assert rewritten.module_text == outcome.source


def test_broken_json_is_one_error_and_the_run_goes_on(tmp_path: Path):
    (tmp_path / "broken.ipynb").write_text('{"cells": [\n  {"cell_type": "code",\n}', encoding="utf-8")
    (tmp_path / "not_a_notebook.ipynb").write_text('{"hello": 1}', encoding="utf-8")
    (tmp_path / "train.ipynb").write_text(TRAINING, encoding="utf-8")
    done = run(["check", "."], tmp_path)
    assert done.returncode == 2
    lines = done.stdout.splitlines()
    assert lines[0].startswith("./broken.ipynb:3:1: E902 JSONDecodeError: not a valid notebook: ")
    assert lines[1] == "./not_a_notebook.ipynb:1:1: E902 not a notebook: the JSON has no 'cells' list"
    assert any(line.startswith("./train.ipynb:cell 3:2:10: NG401") for line in lines)


def test_syntax_error_is_placed_in_its_cell(tmp_path: Path):
    path = tmp_path / "nb.ipynb"
    path.write_text(notebook(code("import torch\n"), code("x = 1\ndef f(:\n")), encoding="utf-8")
    done = run(["check", "nb.ipynb"], tmp_path)
    assert done.returncode == 2
    assert done.stdout.startswith("nb.ipynb:cell 2:2:")
    assert " E999 SyntaxError" in done.stdout


def test_walking_finds_notebooks_but_not_checkpoints(tmp_path: Path):
    (tmp_path / "a.ipynb").write_text(TRAINING, encoding="utf-8")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "a-checkpoint.ipynb").write_text(TRAINING, encoding="utf-8")
    done = run(["check", "."], tmp_path)
    assert "./a.ipynb:cell 3:2:10" in done.stdout and "checkpoint" not in done.stdout


def test_other_kernels_and_empty_notebooks_are_quiet(tmp_path: Path):
    r_notebook = tmp_path / "r.ipynb"
    r_notebook.write_text(notebook(code("x <- c(1, 2)\n"), language="R"), encoding="utf-8")
    empty = tmp_path / "empty.ipynb"
    empty.write_text(notebook(), encoding="utf-8")
    for path in (r_notebook, empty):
        result = process_file(str(path), RunOptions())
        assert result.findings == [] and result.errors == []


def test_file_noqa_in_a_cell_exempts_the_notebook(tmp_path: Path):
    path = tmp_path / "nb.ipynb"
    path.write_text(notebook(code("# flake8: noqa\n"), code("import torch\nwith torch.no_grad:\n    pass\n")))
    assert process_file(str(path), RunOptions()).findings == []


def test_an_indented_cell_is_read_as_ipython_runs_it(tmp_path: Path):
    """IPython drops the first line's indentation from the cell (seen in real notebooks); columns
    stay those of the cell as written, and a fix keeps the indentation."""
    path = tmp_path / "nb.ipynb"
    path.write_text(notebook(code(" import torch\n %time x = 1\n with torch.no_grad:\n     pass\n")), encoding="utf-8")
    done = run(["check", "nb.ipynb"], tmp_path)
    assert done.stdout.startswith("nb.ipynb:cell 1:3:7: NG401 "), done.stdout + done.stderr
    assert run(["fix", "nb.ipynb"], tmp_path).returncode == 0
    source = json.loads(path.read_text())["cells"][0]["source"]
    assert source == [" import torch\n", " %time x = 1\n", " with torch.no_grad():\n", "     pass\n"]


def test_help_requests_with_wildcards_are_ipython_lines():
    parsed = parse_notebook("nb.ipynb", notebook(code("torch.*Tensor?\nnn.Linear??\nimport torch\n")).encode())
    assert parsed.module_text.split("\n")[:3] == ["pass  # flake8-nograd: ipython"] * 2 + ["import torch"]


# -- read as IPython reads them (the oracle tests are in test_ipython_oracle.py) ----------------
NOTEBOOKS = DATA / "notebooks"


def test_modulo_inside_brackets_is_python_not_a_magic():
    """A book's training loop prints with `%` formatting continued on the next line."""
    done = run(["check", "book_training_loop.ipynb"], NOTEBOOKS)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "book_training_loop.ipynb:cell 7:1:1: NG101 'train_l' was computed under torch.no_grad() (cell 5, line 8) "
        "and has no graph; compute it outside 'with torch.no_grad():' before calling backward()",
    ]


def test_findings_among_escapes_keep_their_cell_positions():
    done = run(["check", "escapes_everywhere.ipynb"], NOTEBOOKS)
    places = [line.split(": NG")[0] for line in done.stdout.splitlines()]
    assert places == [
        "escapes_everywhere.ipynb:cell 2:2:6",  # the body of %%time
        "escapes_everywhere.ipynb:cell 4:1:10",  # after a pasted '>>> ' prompt
        "escapes_everywhere.ipynb:cell 5:1:10",  # an indented cell
        "escapes_everywhere.ipynb:cell 6:9:10",  # after a string holding '%time' and a continued '!ls'
    ]


def test_fix_rewrites_cells_it_can_give_back_and_says_why_not_the_others(tmp_path: Path):
    path = tmp_path / "nb.ipynb"
    path.write_bytes((NOTEBOOKS / "escapes_everywhere.ipynb").read_bytes())
    done = run(["fix", "nb.ipynb"], tmp_path)
    assert done.returncode == 1
    assert "nb.ipynb:cell 4:1:10: NG401 not fixed: cell 4 holds pasted prompts ('>>> ', 'In [1]: ') or uneven indentation" in done.stdout
    sources = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]
    assert sources[1] == "%%time\nwith torch.no_grad():\n    y = torch.ones(2)\n"
    assert sources[3] == ">>> with torch.no_grad:\n...     z = torch.ones(2)\n"
    assert sources[4] == "    with torch.no_grad():\n        w = torch.ones(2)\n"
    assert sources[5].endswith("    files = !ls \\\n        -l\n    with torch.no_grad():\n        pass\n")


def test_an_invalid_cell_with_its_own_names_is_skipped_and_the_rest_checked():
    done = run(["check", "python2_cell.ipynb"], NOTEBOOKS)
    assert done.returncode == 2
    # Python words the error as its own compiler does; 3.9's parser says less, at another column.
    python2_error = (
        "1:7: E999 SyntaxError: invalid syntax"
        if sys.version_info < (3, 10)
        else "1:2: E999 SyntaxError: Missing parentheses in call to 'print'. Did you mean print(...)?"
    )
    assert done.stdout.splitlines() == [
        f"python2_cell.ipynb:cell 2:{python2_error}",
        "python2_cell.ipynb:cell 3:3:1: NG101 'loss' was computed under torch.no_grad() (cell 3, line 1) and has no "
        "graph; compute it outside 'with torch.no_grad():' before calling backward()",
    ]


def test_an_invalid_cell_sharing_names_stops_the_analysis():
    """Cell 3 would rebind `loss` once its bracket is closed: NG101 on cell 4 would be a guess."""
    done = run(["check", "entangled_invalid_cell.ipynb"], NOTEBOOKS)
    assert done.returncode == 2
    unclosed = "unexpected EOF while parsing" if sys.version_info < (3, 10) else "'(' was never closed"
    assert done.stdout.splitlines() == [
        f"entangled_invalid_cell.ipynb:cell 3:1:14: E999 SyntaxError: {unclosed}; the other cells are "
        "not checked either: they use names this cell mentions (loss, model, x)",
    ]


@pytest.mark.parametrize(
    "invalid, safe",
    [
        ('print "done"', True),  # a builtin used as a Python 2 statement
        ("print(total", False),  # `total` is used elsewhere
        ("report(:", True),  # a name no other cell uses
        ("def helper(:\n    return model", False),  # mentions `model`
        ("self.model.train(", True),  # attribute names do not count; `self` is not used elsewhere
        ("len = 3 +", False),  # rebinding a builtin another cell calls counts
        ("size = len(items", True),  # calling it does not
        ("s = 'unterminated\ntotal", False),  # cannot be tokenized: every word counts
        ("x = 1\n  print 'indented'", True),
    ],
)
def test_which_invalid_cells_can_be_skipped(invalid: str, safe: bool):
    parsed = parse_notebook(
        "nb.ipynb",
        notebook(code("import torch\ntotal = 0\n"), code(invalid + "\n"), code("for batch in loader:\n    total += model(batch) / len(batch)\n")).encode(),
    )
    assert parsed.cells[1].error is not None
    assert parsed.analysable is safe
    assert parsed.cells[1].skipped is safe


def test_a_fix_next_to_a_skipped_cell_leaves_that_cell_as_it_was(tmp_path: Path):
    path = tmp_path / "nb.ipynb"
    path.write_text(notebook(code('print "py2"\n'), code("import torch\nwith torch.no_grad:\n    pass\n")), encoding="utf-8")
    done = run(["fix", "nb.ipynb"], tmp_path)
    assert done.returncode == 2  # the E999 remains
    assert "nb.ipynb:cell 2:2:6: NG401 fixed: add the missing '()'" in done.stdout
    sources = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]
    assert sources == ['print "py2"\n', "import torch\nwith torch.no_grad():\n    pass\n"]


def test_assigned_magics_rebind_their_names():
    """`loss = %time f()` rebinds loss: the no-grad value from the cell before is gone."""
    text = notebook(
        code("import torch\nwith torch.no_grad():\n    loss = model(x).sum()\n"),
        code("loss = %time compute_loss()\n"),
        code("loss.backward()\n"),
    )
    parsed = parse_notebook("nb.ipynb", text.encode())
    assert parsed.module_text.split("\n")[4] == "loss = get_ipython()  # flake8-nograd: ipython"
    assert process_file_text(text) == []


def process_file_text(text: str) -> list:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "nb.ipynb"
        path.write_text(text, encoding="utf-8")
        result = process_file(str(path), RunOptions())
        assert result.errors == []
        return result.findings


def test_a_one_line_magic_without_percent_is_automagic():
    """IPython's shell runs `pip install torch` as `%pip install torch` (automagic is on by default)."""
    text = notebook(code("pip install torch\n"), code("import torch\nwith torch.no_grad:\n    pass\n"))
    assert [f["cell"] for f in process_file_text(text)] == [2]
    # Two lines are not automagic: IPython refuses the cell, and so do we.
    two = parse_notebook("nb.ipynb", notebook(code("pip install torch\nx = 1\n")).encode())
    assert two.cells[0].error is not None


def test_cell_magics_of_other_languages_are_never_an_error():
    text = notebook(code("\n%%bash\nfor f in *; do echo {$f}; done\n"), code("%%writefile x.py\ndef f(:\n"))
    assert process_file_text(text) == []
