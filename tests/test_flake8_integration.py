"""The real flake8 command, in a subprocess: entry point wiring, noqa, config files, plain runs."""
from __future__ import annotations

import subprocess
import sys
import textwrap

from helpers import FIXTURES, ROOT, expected_findings

BUGGY = textwrap.dedent(
    """\
    import torch


    def step(model, x):
        with torch.no_grad():
            loss = model(x).sum()
        loss.backward()
    """
)


def flake8(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_flake8_reports_fixture_findings_at_flake8_positions():
    path = FIXTURES / "NG101" / "bad_training_script.py"
    result = flake8("--select", "NG", str(path))
    assert result.returncode == 1, result.stderr
    reported = set()
    for line in result.stdout.splitlines():
        _, line_no, col, rest = line.split(":", 3)
        reported.add((int(line_no), int(col), rest.split()[0]))
    assert reported == expected_findings(path.read_text())


def test_exact_output_line(tmp_path):
    (tmp_path / "train.py").write_text(BUGGY)
    result = flake8("--select", "NG", "train.py", cwd=tmp_path)
    assert result.stdout == (
        "train.py:7:5: NG101 'loss' was computed under torch.no_grad() (line 5) and has no graph; "
        "compute it outside 'with torch.no_grad():' before calling backward()\n"
    )


def test_plain_flake8_run_shows_ng_beside_other_plugins(tmp_path):
    (tmp_path / "train.py").write_text(BUGGY.replace("import torch\n", "import os\nimport torch\n"))
    result = flake8("train.py", cwd=tmp_path)
    codes = [line.split()[1] for line in result.stdout.splitlines()]
    assert "F401" in codes and "NG101" in codes


def test_noqa_with_code_silences_only_that_code(tmp_path):
    (tmp_path / "a.py").write_text(BUGGY.replace("loss.backward()", "loss.backward()  # noqa: NG101"))
    (tmp_path / "b.py").write_text(BUGGY.replace("loss.backward()", "loss.backward()  # noqa: E501"))
    assert flake8("--select", "NG", "a.py", cwd=tmp_path).stdout == ""
    assert "NG101" in flake8("--select", "NG", "b.py", cwd=tmp_path).stdout


def test_options_are_read_from_the_flake8_config_file(tmp_path):
    source = textwrap.dedent(
        """\
        from mylib import frozen


        @frozen
        def step(model, x):
            loss = model(x).sum()
            loss.backward()
        """
    )
    (tmp_path / "train.py").write_text(source)
    assert flake8("--select", "NG", "train.py", cwd=tmp_path).stdout == ""
    (tmp_path / "setup.cfg").write_text("[flake8]\nnograd-guards = frozen\n")
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "NG", "train.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.startswith("train.py:7:5: NG101 'loss' was computed in 'step' under @frozen (line 4)")


def test_hooks_option_on_the_command_line(tmp_path):
    source = textwrap.dedent(
        """\
        import lightning as L


        class Model(L.LightningModule):
            def eval_step(self, batch):
                loss = self.net(batch).sum()
                loss.backward()
        """
    )
    (tmp_path / "m.py").write_text(source)
    assert flake8("--select", "NG", "m.py", cwd=tmp_path).stdout == ""
    result = flake8("--select", "NG", "--nograd-hooks", "eval_*", "m.py", cwd=tmp_path)
    assert result.stdout.startswith("m.py:7:9: NG101 'loss' was computed in 'eval_step' (run without grad")
