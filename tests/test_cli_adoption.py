"""Adopting the rules on an existing code base and from editors, end to end in a subprocess:
`check --add-noqa`, `rule NG101`, source from standard input (`check -`, `fix -`),
`--statistics`, and the flake8 plugin reading standard input as VS Code's flake8 extension does."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import pytest

from flake8_nograd.add_noqa import add_noqa
from flake8_nograd.findings import Finding
from flake8_nograd.rules import ALL_RULES

ROOT = Path(__file__).resolve().parent.parent

TRAINING = """\
import torch
import torch.nn.functional as F


def train(model, loader, optimizer):
    for inputs, targets in loader:
        with torch.no_grad():
            loss = F.cross_entropy(model(inputs), targets)
        loss.backward()  # noqa: E501
        optimizer.step()


def predict(model, x):
    with torch.no_grad:  # keep: a comment of the author's
        return model(x)


def report(model, x):
    with torch.no_grad:
        print(\"\"\"a long
        message\"\"\", model(x))
    with torch.no_grad:  # noqa:W291,E501
        pass
"""

# What --add-noqa makes of it: the codes merged into `# noqa: E501` (sorted), the comment kept, the
# comment of a statement whose line ends inside a string put on the string's last line.
TRAINING_SILENCED = """\
import torch
import torch.nn.functional as F


def train(model, loader, optimizer):
    for inputs, targets in loader:
        with torch.no_grad():
            loss = F.cross_entropy(model(inputs), targets)
        loss.backward()  # noqa: E501, NG101
        optimizer.step()


def predict(model, x):
    with torch.no_grad:  # keep: a comment of the author's  # noqa: NG401
        return model(x)


def report(model, x):
    with torch.no_grad:  # noqa: NG401
        print(\"\"\"a long
        message\"\"\", model(x))
    with torch.no_grad:  # noqa: E501, NG401, W291
        pass
"""


def run(args: List[str], cwd: Path, stdin: Optional[bytes] = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flake8_nograd", *args], cwd=cwd, capture_output=True, input=stdin
    )


def flake8(args: List[str], cwd: Path, stdin: Optional[bytes] = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", *args], cwd=cwd, capture_output=True, input=stdin
    )


# -- --add-noqa ------------------------------------------------------------------------------------
def test_add_noqa_merges_sorts_counts_and_a_second_run_changes_nothing(tmp_path: Path):
    (tmp_path / "train.py").write_text(TRAINING)
    (tmp_path / "clean.py").write_text("import torch\n")
    clean_mtime = (tmp_path / "clean.py").stat().st_mtime_ns
    done = run(["check", "--add-noqa", "."], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b""
    assert done.stderr.decode().endswith(
        "flake8-nograd: 2 files checked, 0 findings, '# noqa' added to 4 lines in 1 file\n"
    )
    assert (tmp_path / "train.py").read_text() == TRAINING_SILENCED
    assert (tmp_path / "clean.py").stat().st_mtime_ns == clean_mtime
    assert run(["check", "."], tmp_path).returncode == 0, "every finding is silenced"
    assert flake8(["--select", "NG", "."], tmp_path).stdout == b"", "and flake8 reads the comments the same way"

    again = run(["check", "--add-noqa", "."], tmp_path)
    assert again.returncode == 0
    assert "'# noqa' added to 0 lines in 0 files" in again.stderr.decode()
    assert (tmp_path / "train.py").read_text() == TRAINING_SILENCED


def test_add_noqa_keeps_line_endings_and_encoding(tmp_path: Path):
    source = "# -*- coding: latin-1 -*-\nimport torch\n# caf\xe9\nwith torch.no_grad:\n    pass\n"
    path = tmp_path / "legacy.py"
    path.write_bytes(source.replace("\n", "\r\n").encode("latin-1"))
    assert run(["check", "--add-noqa", "legacy.py"], tmp_path).returncode == 0
    assert path.read_bytes() == source.replace("with torch.no_grad:", "with torch.no_grad:  # noqa: NG401").replace(
        "\n", "\r\n"
    ).encode("latin-1")


def test_add_noqa_on_a_notebook_writes_the_cell_line(tmp_path: Path):
    from tests.test_notebooks import TRAINING as NOTEBOOK

    path = tmp_path / "train.ipynb"
    path.write_text(NOTEBOOK, encoding="utf-8")
    done = run(["check", "--add-noqa", "train.ipynb"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "'# noqa' added to 2 lines in 1 file" in done.stderr.decode()
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    before = json.loads(NOTEBOOK)["cells"]
    assert cells[2]["source"] == [
        "def predict(model, x):\n", "    with torch.no_grad:  # noqa: NG401\n", "        return model(x)"
    ]
    assert cells[6]["source"][1] == "loss.backward()  # noqa: NG101\n"
    assert cells[6]["source"][0] == "%time y = 1\n", "the IPython line is kept"
    assert [c for i, c in enumerate(cells) if i not in (2, 6)] == [c for i, c in enumerate(before) if i not in (2, 6)]
    assert cells[2]["outputs"] == before[2]["outputs"]
    assert run(["check", "train.ipynb"], tmp_path).returncode == 0
    assert "added to 0 lines" in run(["check", "--add-noqa", "train.ipynb"], tmp_path).stderr.decode()


def test_add_noqa_leaves_a_file_with_a_syntax_error_alone(tmp_path: Path):
    (tmp_path / "broken.py").write_text("def f(:\n")
    done = run(["check", "--add-noqa", "broken.py"], tmp_path)
    assert done.returncode == 2
    assert b"E999" in done.stdout and b"Traceback" not in done.stderr
    assert (tmp_path / "broken.py").read_text() == "def f(:\n"


@pytest.mark.parametrize("args", [["check", "--add-noqa", "--fix", "."], ["check", "--add-noqa", "-"]])
def test_add_noqa_with_fix_or_stdin_is_a_usage_error(tmp_path: Path, args):
    done = run(args, tmp_path, stdin=b"")
    assert done.returncode == 2 and b"--add-noqa cannot be combined" in done.stderr


def test_add_noqa_text_edits_only_the_reported_lines():
    text = "a = 1\nb = f(\n    2)\nc = 3 \\\n    + 4\nd = 5  # noqa\n"
    findings = [Finding(1, 0, "NG101", ""), Finding(1, 4, "NG101", ""), Finding(4, 0, "NG202", ""), Finding(6, 0, "NG301", "")]
    assert add_noqa(text, findings) == (
        "a = 1  # noqa: NG101\nb = f(\n    2)\nc = 3 \\\n    + 4  # noqa: NG202\nd = 5  # noqa\n", 2
    )
    assert add_noqa("x = (\n", [Finding(1, 0, "NG101", "")]) == ("x = (\n", 0), "untokenizable: unchanged"
    # Codes stay as written (flake8 compares them case-sensitively: `ng401` silences nothing).
    assert add_noqa("x = 1  # NOQA:ng401,E501\n", [Finding(1, 0, "NG401", "")]) == ("x = 1  # noqa: E501, NG401, ng401\n", 1)


# -- rule ------------------------------------------------------------------------------------------
def test_rule_prints_the_rule_page(tmp_path: Path):
    done = run(["rule", "ng101"], tmp_path)
    assert done.returncode == 0
    assert done.stdout.decode() == (ROOT / "docs" / "rules" / "NG101.md").read_text(encoding="utf-8")
    every = run(["rule", "--all"], tmp_path).stdout.decode()
    assert [line.split()[1] for line in every.splitlines() if line.startswith("# NG")] == [r.code for r in ALL_RULES]


def test_an_unknown_rule_is_a_clear_error(tmp_path: Path):
    done = run(["rule", "NG999"], tmp_path)
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.decode().startswith("flake8-nograd: unknown rule 'NG999'; the rules are NG101, NG102,")
    assert run(["rule"], tmp_path).returncode == 2


def test_the_package_lists_every_subpackage_and_ships_the_rule_pages():
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        pytest.skip("reads pyproject.toml with tomllib")
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {
        ".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "flake8_nograd").rglob("__init__.py")
    }
    assert packages | {"flake8_nograd.docs"} == set(setuptools["packages"])
    assert setuptools["package-dir"] == {"flake8_nograd.docs": "docs/rules"}


@pytest.mark.slow
def test_rule_works_from_a_built_wheel(tmp_path: Path):
    """The pages are read from the installed package, not from a checkout."""
    import shutil

    # Built from a copy: setuptools leaves a build/ folder in the tree it builds.
    source = tmp_path / "source"
    for name in ("pyproject.toml", "README.md", "flake8_nograd", "docs/rules"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        copy(ROOT / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True,
    )
    if built.returncode != 0:
        pytest.skip(f"no wheel could be built here: {built.stderr[-300:]}")
    import zipfile

    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "site")
    # -S: no site-packages, so neither the checkout's editable install nor the repository is seen.
    done = subprocess.run(
        [sys.executable, "-S", "-c", "import sys; from flake8_nograd.cli import main; sys.exit(main(['rule', 'NG401']))"],
        cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site")}, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == (ROOT / "docs" / "rules" / "NG401.md").read_text(encoding="utf-8")


# -- standard input --------------------------------------------------------------------------------
NG401_SOURCE = b"import torch\n\n\ndef predict(model, x):\n    with torch.no_grad:\n        return model(x)\n"


def test_check_reads_standard_input_under_its_stdin_filename(tmp_path: Path):
    done = run(["check", "-", "--stdin-filename", "pkg/predict.py"], tmp_path, stdin=NG401_SOURCE)
    assert done.returncode == 1
    assert done.stdout.decode() == (
        "pkg/predict.py:5:10: NG401 'torch.no_grad' is used without calling it, a TypeError at run time; "
        "write 'with torch.no_grad():'\n"
    )
    unnamed = run(["check", "-"], tmp_path, stdin=NG401_SOURCE)
    assert unnamed.stdout.decode().startswith("stdin:5:10: NG401 "), "flake8's name for standard input"


def test_stdin_filename_finds_the_settings_of_the_file_it_names(tmp_path: Path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "pyproject.toml").write_text('[tool.flake8-nograd]\nignore = ["NG401"]\n')
    named = run(["check", "-", "--stdin-filename", "pkg/predict.py"], tmp_path, stdin=NG401_SOURCE)
    assert named.returncode == 0 and named.stdout == b""
    elsewhere = run(["check", "-", "--stdin-filename", "other/predict.py"], tmp_path, stdin=NG401_SOURCE)
    assert elsewhere.returncode == 1


def test_stdin_filename_gives_the_project_context(tmp_path: Path):
    """The buffer is checked as the module it names, in its project: what a helper of another
    module returns (computed under no_grad) is known. The project index reads the files on disk,
    so the saved train.py calls the helper too (the index summarises the functions called)."""
    (tmp_path / "setup.py").write_text("")
    (tmp_path / "train.py").write_text("from helpers import frozen_loss\n\n\ndef step(model, x):\n    print(frozen_loss(model, x))\n")
    (tmp_path / "helpers.py").write_text(
        "import torch\n\n\ndef frozen_loss(model, x):\n    with torch.no_grad():\n        return model(x).sum()\n"
    )
    buffer = b"from helpers import frozen_loss\n\n\ndef step(model, x):\n    loss = frozen_loss(model, x)\n    loss.backward()\n"
    named = run(["check", "-", "--stdin-filename", "train.py"], tmp_path, stdin=buffer)
    assert named.stdout.decode().startswith("train.py:6:5: NG101 "), named.stdout
    assert run(["check", "--no-project", "-", "--stdin-filename", "train.py"], tmp_path, stdin=buffer).stdout == b""


def test_fix_with_stdin_prints_the_fixed_source(tmp_path: Path):
    source = NG401_SOURCE.replace(b"\n", b"\r\n")
    done = run(["fix", "-", "--stdin-filename", "predict.py"], tmp_path, stdin=source)
    assert done.returncode == 0
    assert done.stdout == source.replace(b"torch.no_grad:", b"torch.no_grad():")
    assert b"predict.py:5:10: NG401 fixed: add the missing '()'" in done.stderr
    same = run(["check", "--fix", "-"], tmp_path, stdin=source)
    assert same.stdout == done.stdout, "check --fix is fix"
    assert list(tmp_path.iterdir()) == [], "nothing is written"


def test_fix_with_stdin_prints_the_source_unchanged_and_the_findings_left_on_stderr(tmp_path: Path):
    source = b"import torch\n\n\ndef f(m, x):\n    with torch.no_grad():\n        loss = m(x)\n    loss.backward()\n"
    done = run(["fix", "-"], tmp_path, stdin=source)
    assert done.returncode == 1
    assert done.stdout == source
    assert b"stdin:7:5: NG101 " in done.stderr


def test_a_notebook_from_stdin(tmp_path: Path):
    from tests.test_notebooks import TRAINING as NOTEBOOK

    done = run(["check", "-", "--stdin-filename", "explore.ipynb"], tmp_path, stdin=NOTEBOOK.encode())
    assert [line.split(": ")[0] + ": " + line.split(": ")[1][:5] for line in done.stdout.decode().splitlines()] == [
        "explore.ipynb:cell 3:2:10: NG401", "explore.ipynb:cell 7:2:1: NG101"
    ]


@pytest.mark.parametrize(
    "source, expected",
    [
        (b"x = '\xe9'\n", "stdin:1:1: E902 SyntaxError: cannot decode the file"),
        (b"def f(:\n", "stdin:1:7: E999 SyntaxError:" if sys.version_info < (3, 10) else "stdin:1:8: E999 SyntaxError:"),
        (b"\x00\x00", "stdin:1:1: E999 "),
    ],
)
def test_bad_input_on_stdin_is_one_line_and_exit_2(tmp_path: Path, source: bytes, expected: str):
    done = run(["check", "-"], tmp_path, stdin=source)
    assert done.returncode == 2
    assert done.stdout.decode().startswith(expected), done.stdout
    assert b"Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args", [["check", "-", "a.py"], ["check", "--stdin-filename", "a.py", "a.py"]]
)
def test_stdin_usage_errors(tmp_path: Path, args):
    assert run(args, tmp_path, stdin=b"").returncode == 2


# -- --statistics ----------------------------------------------------------------------------------
def test_statistics_count_each_code_after_the_findings(tmp_path: Path):
    (tmp_path / "train.py").write_text(TRAINING)
    (tmp_path / "broken.py").write_text("def f(:\n")
    done = run(["check", "--statistics", "."], tmp_path)
    lines = done.stdout.decode().splitlines()
    summaries = {rule.code: rule.summary for rule in ALL_RULES}
    assert lines[-3:] == [
        f"1     E999 {lines[0].split(' E999 ')[1]}",
        f"1     NG101 {summaries['NG101']}",
        f"3     NG401 {summaries['NG401']}",
    ]
    assert len(lines) == 5 + 3, "the E999 line and four findings, then the counts"
    as_json = run(["check", "--statistics", "--format", "json", "train.py"], tmp_path)
    assert len(json.loads(as_json.stdout)) == 4, "the JSON document stays whole"
    assert f"3     NG401 {summaries['NG401']}" in as_json.stderr.decode()


# -- the flake8 plugin over standard input (VS Code's flake8 extension) ---------------------------
def test_flake8_reports_the_same_findings_over_stdin(tmp_path: Path):
    (tmp_path / "train.py").write_text(TRAINING)
    on_disk = flake8(["--select", "NG", "train.py"], tmp_path)
    over_stdin = flake8(
        ["--select", "NG", "-", "--stdin-display-name", "train.py"], tmp_path, stdin=TRAINING.encode()
    )
    assert on_disk.returncode == over_stdin.returncode == 1
    assert over_stdin.stdout == on_disk.stdout
    assert over_stdin.stdout.decode().splitlines() == [
        "train.py:9:9: NG101 'loss' was computed under torch.no_grad() (line 7) and has no graph; "
        "compute it outside 'with torch.no_grad():' before calling backward()",
        "train.py:14:10: NG401 'torch.no_grad' is used without calling it, a TypeError at run time; "
        "write 'with torch.no_grad():'",
        "train.py:19:10: NG401 'torch.no_grad' is used without calling it, a TypeError at run time; "
        "write 'with torch.no_grad():'",
        "train.py:22:10: NG401 'torch.no_grad' is used without calling it, a TypeError at run time; "
        "write 'with torch.no_grad():'",
    ]
    ours = run(["check", "-", "--stdin-filename", "train.py"], tmp_path, stdin=TRAINING.encode())
    assert ours.stdout == on_disk.stdout, "and the command agrees"


# -- the language server's front door (its own tests are in test_server.py) ------------------------
def test_without_pygls_the_server_says_what_to_install(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['pygls'] = None\n"
         "from flake8_nograd.cli import main; sys.exit(main(['server']))"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert done.returncode == 2
    assert done.stderr == 'flake8-nograd: the language server needs pygls: pip install "flake8-nograd[lsp]"\n'
