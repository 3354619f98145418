"""`fix` changes the file the user's tools see, and only that: through a symlink to its target
(atomically, the link kept), never to a target outside the paths given unless the link itself is
given, and in place for hard links so that every name keeps sharing the content."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from flake8_nograd import runner, sources
from flake8_nograd.runner import RunOptions, process_file

pytestmark = pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32", reason="POSIX links")

BUGGY = "import torch\n\n\ndef predict(model, x):\n    with torch.no_grad:\n        return model(x)\n"
FIXED = BUGGY.replace("with torch.no_grad:", "with torch.no_grad():")


def run(args: List[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flake8_nograd", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """project/ (the folder checked) and elsewhere/ (outside it)."""
    (tmp_path / "project").mkdir()
    (tmp_path / "elsewhere").mkdir()
    return tmp_path


def notebook_text(source: str) -> str:
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source.splitlines(True)}
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"


# -- symlinks ---------------------------------------------------------------------------------------
def test_a_symlink_inside_the_tree_is_written_through_and_stays_a_link(layout: Path):
    project = layout / "project"
    real = project / "real.py"
    real.write_text(BUGGY)
    (project / "link.py").symlink_to("real.py")
    done = run(["fix", "."], project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert real.read_text() == FIXED
    assert (project / "link.py").is_symlink() and os.readlink(project / "link.py") == "real.py"
    # one file under two names is fixed once
    assert done.stdout.count("NG401 fixed") == 1
    assert sorted(p.name for p in project.iterdir()) == ["link.py", "real.py"]  # no temp file left


def test_a_symlink_to_a_file_outside_is_reported_and_left_alone(layout: Path):
    project, target = layout / "project", layout / "elsewhere" / "shared.py"
    target.write_text(BUGGY)
    (project / "link.py").symlink_to(target)
    done = run(["fix", "."], project)
    assert done.returncode == 1  # the finding remains
    assert done.stdout.splitlines()[0] == (
        f"./link.py:5:10: NG401 not fixed: './link.py' is a symlink to '{target.resolve()}', outside the paths "
        "being checked; it is left alone (give './link.py' on the command line to fix it)"
    )
    assert target.read_text() == BUGGY and (project / "link.py").is_symlink()
    # fix --diff says the same and shows no diff
    diff = run(["fix", "--diff", "."], project)
    assert "not fixed: './link.py' is a symlink to" in diff.stdout and "+++" not in diff.stdout
    assert target.read_text() == BUGGY


def test_a_symlink_named_on_the_command_line_fixes_its_target(layout: Path):
    project, target = layout / "project", layout / "elsewhere" / "shared.py"
    target.write_text(BUGGY)
    target.chmod(0o640)
    (project / "link.py").symlink_to(target)
    done = run(["fix", "link.py"], project)
    assert done.returncode == 0, done.stdout
    assert "link.py:5:10: NG401 fixed: add the missing '()'" in done.stdout
    assert target.read_text() == FIXED
    assert (project / "link.py").is_symlink() and os.readlink(project / "link.py") == str(target)
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["shared.py"]  # the temp file was beside it, and is gone


def test_a_chain_of_symlinks_ends_at_the_real_file(layout: Path):
    project = layout / "project"
    (project / "real.py").write_text(BUGGY)
    (project / "one.py").symlink_to("real.py")
    (layout / "elsewhere" / "two.py").symlink_to(project / "one.py")
    done = run(["fix", str(layout / "elsewhere" / "two.py")], project)
    assert done.returncode == 0
    assert (project / "real.py").read_text() == FIXED
    assert (project / "one.py").is_symlink() and (layout / "elsewhere" / "two.py").is_symlink()


def test_a_notebook_reached_through_a_symlink(layout: Path):
    project, target = layout / "project", layout / "elsewhere" / "nb.ipynb"
    target.write_text(notebook_text("import torch\nwith torch.no_grad:\n    pass\n"))
    (project / "nb.ipynb").symlink_to(target)
    refused = run(["fix", "."], project)
    assert refused.returncode == 1 and "./nb.ipynb:cell 1:2:6: NG401 not fixed: './nb.ipynb' is a symlink to" in refused.stdout
    assert "torch.no_grad:\\n" in target.read_text()
    done = run(["fix", "nb.ipynb"], project)
    assert done.returncode == 0, done.stdout
    assert json.loads(target.read_text())["cells"][0]["source"] == ["import torch\n", "with torch.no_grad():\n", "    pass\n"]
    assert (project / "nb.ipynb").is_symlink()


# -- hard links -------------------------------------------------------------------------------------
def test_hard_links_keep_sharing_the_fixed_content(layout: Path):
    project = layout / "project"
    first, second = project / "a.py", layout / "elsewhere" / "b.py"
    first.write_text(BUGGY)
    os.link(first, second)
    inode = first.stat().st_ino
    done = run(["fix", "a.py"], project)
    assert done.returncode == 0, done.stdout
    assert first.read_text() == second.read_text() == FIXED
    assert first.stat().st_ino == second.stat().st_ino == inode and first.stat().st_nlink == 2
    assert sorted(p.name for p in project.iterdir()) == ["a.py"]


def test_two_hard_links_in_the_tree_are_fixed_once(layout: Path):
    project = layout / "project"
    (project / "a.py").write_text(BUGGY)
    os.link(project / "a.py", project / "b.py")
    done = run(["fix", "."], project)
    assert done.returncode == 0 and done.stdout.count("fixed:") == 1, done.stdout
    assert (project / "a.py").read_text() == (project / "b.py").read_text() == FIXED
    assert (project / "a.py").stat().st_nlink == 2


def test_a_hard_linked_notebook_is_written_in_place(layout: Path):
    project = layout / "project"
    path, other = project / "nb.ipynb", layout / "elsewhere" / "copy.ipynb"
    path.write_text(notebook_text("import torch\nwith torch.no_grad:\n    pass\n"))
    os.link(path, other)
    assert run(["fix", "."], project).returncode == 0
    assert "torch.no_grad():" in other.read_text() and other.stat().st_ino == path.stat().st_ino


def test_a_failed_write_in_place_puts_the_original_back(layout: Path, monkeypatch):
    """Disk full after part of the new text went in: the original bytes are written back."""
    project = layout / "project"
    path = project / "a.py"
    path.write_text(BUGGY)
    os.link(path, layout / "elsewhere" / "b.py")
    real_overwrite = sources._overwrite
    calls = []

    def fail_midway(target, data):
        calls.append(data)
        if len(calls) == 1:
            target.seek(0)
            target.write(data[:10])  # half of it, then the disk is full
            raise OSError(28, "No space left on device")
        real_overwrite(target, data)

    monkeypatch.setattr(sources, "_overwrite", fail_midway)
    result = process_file(str(path), RunOptions(fix=True))
    assert path.read_text() == BUGGY == (layout / "elsewhere" / "b.py").read_text()
    assert [r["code"] for r in result.errors] == ["E902"] and not result.changed and not result.fixed
    assert [r["code"] for r in result.not_fixed] == ["NG401"]
    assert sorted(p.name for p in project.iterdir()) == ["a.py"]


def test_an_interrupt_during_the_write_in_place_puts_the_original_back(layout: Path, monkeypatch):
    project = layout / "project"
    path = project / "a.py"
    path.write_text(BUGGY)
    os.link(path, layout / "elsewhere" / "b.py")
    real_overwrite = sources._overwrite
    calls = []

    def interrupted(target, data):
        calls.append(data)
        if len(calls) == 1:
            target.seek(0)
            target.write(data[:10])
            raise KeyboardInterrupt
        real_overwrite(target, data)

    monkeypatch.setattr(sources, "_overwrite", interrupted)
    with pytest.raises(KeyboardInterrupt):
        process_file(str(path), RunOptions(fix=True))
    assert path.read_text() == BUGGY
    assert sorted(p.name for p in project.iterdir()) == ["a.py"]


def test_when_even_the_original_cannot_be_put_back_the_fixed_text_is_kept_beside(layout: Path, monkeypatch):
    project = layout / "project"
    path = project / "a.py"
    path.write_text(BUGGY)
    os.link(path, layout / "elsewhere" / "b.py")

    def broken_disk(target, data):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(sources, "_overwrite", broken_disk)
    result = process_file(str(path), RunOptions(fix=True))
    assert [r["code"] for r in result.errors] == ["E902"]
    kept = [p for p in project.iterdir() if p.name != "a.py"]
    assert len(kept) == 1 and kept[0].name.startswith(".flake8-nograd-") and kept[0].read_text() == FIXED


def test_a_file_changed_while_being_fixed_is_not_overwritten(layout: Path, monkeypatch):
    path = layout / "project" / "a.py"
    path.write_text(BUGGY)
    real_fix_text = runner.fix_text

    def someone_saves_meanwhile(*args, **kwargs):
        outcome = real_fix_text(*args, **kwargs)
        path.write_text(BUGGY + "# edited in the editor\n")
        return outcome

    monkeypatch.setattr(runner, "fix_text", someone_saves_meanwhile)
    result = process_file(str(path), RunOptions(fix=True))
    assert path.read_text() == BUGGY + "# edited in the editor\n"
    assert [r["message"] for r in result.errors] == ["the file changed while it was being fixed; it was not written"]
    assert not result.changed and [r["code"] for r in result.not_fixed] == ["NG401"]
