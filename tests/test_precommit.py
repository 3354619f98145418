"""The pre-commit hooks, run by the real pre-commit (`try-repo` against this checkout) on a small git
repository holding a buggy script and a buggy notebook.

pre-commit builds a virtualenv and pip-installs this checkout into it (flake8 and libcst, never
torch). `try-repo` clones the checkout's HEAD; uncommitted changes to tracked files and staged new
files are carried over by a temporary commit, so the hook files must be committed or staged.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUGGY = """\
import torch


def predict(model, x):
    with torch.no_grad:
        return model(x)
"""
NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
         "source": ["import torch\n", "with torch.no_grad:\n", "    y = 1\n"]},
    ],
    "metadata": {"language_info": {"name": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def _pre_commit() -> list:
    found = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    if found:
        return [found]
    pytest.importorskip("pre_commit")
    return [sys.executable, "-m", "pre_commit"]


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def _checkout_is_usable() -> bool:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return False
    tracked = _git("ls-files", "--", ".pre-commit-hooks.yaml", "pyproject.toml", cwd=ROOT).split()
    return len(tracked) == 2


@pytest.mark.slow
def test_hooks_fail_on_findings_and_the_fix_hook_repairs(tmp_path: Path):
    command = _pre_commit()
    if not _checkout_is_usable():
        pytest.skip("needs a git checkout with .pre-commit-hooks.yaml committed or staged")
    repo = tmp_path / "project"
    repo.mkdir()
    (repo / "predict.py").write_text(BUGGY)
    (repo / "explore.ipynb").write_text(json.dumps(NOTEBOOK, indent=1) + "\n")
    (repo / "notes.txt").write_text("with torch.no_grad:\n")  # not python: never passed to the hooks
    _git("init", "-q", cwd=repo)
    _git("add", ".", cwd=repo)
    env = dict(os.environ, PRE_COMMIT_HOME=str(tmp_path / "cache"), PIP_NO_INPUT="1")
    env.pop("VIRTUAL_ENV", None)

    # Both hooks of the manifest, in order: the check sees the findings, then fix repairs.
    done = subprocess.run(
        [*command, "try-repo", str(ROOT), "--all-files", "--verbose"],
        cwd=repo, capture_output=True, text=True, env=env, timeout=900,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "predict.py:5:10: NG401 'torch.no_grad' is used without calling it" in output
    assert "explore.ipynb:cell 1:2:6: NG401" in output
    assert "notes.txt" not in output.split("==========")[-1]
    assert "files were modified by this hook" in output
    assert "with torch.no_grad():" in (repo / "predict.py").read_text()
    assert json.loads((repo / "explore.ipynb").read_text())["cells"][0]["source"][1] == "with torch.no_grad():\n"

    # Fixed: the same hooks now pass.
    _git("add", ".", cwd=repo)
    again = subprocess.run(
        [*command, "try-repo", str(ROOT), "--all-files"],
        cwd=repo, capture_output=True, text=True, env=env, timeout=900,
    )
    assert again.returncode == 0, again.stdout + again.stderr
