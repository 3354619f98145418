"""The whole installed ecosystem (every .py file of site-packages, torch's own sources included):
the command checks it with zero internal errors, and the fixer, on a copy, rewrites only the files
it fixes, into code that parses and that a second `fix` leaves alone.

Marked `slow` (a few minutes on 2 cores); README's test command runs it, `-m "not slow"` skips it.
"""
from __future__ import annotations

import ast
import collections
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Dict, List, Set

import pytest

pytestmark = pytest.mark.slow
JOBS = "2"
FIXED_LINE = re.compile(r":\d+:\d+: [A-Z]+\d+ fixed: ")  # not "... not fixed: ..."
NG401_FILE = "import torch\n\n\ndef predict(model, x):\n    with torch.no_grad:\n        return model(x)\n"


def site_packages() -> List[str]:
    paths = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    return sorted(path for path in paths if os.path.isdir(path))


def command(args: List[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flake8_nograd", *args], cwd=cwd, capture_output=True, text=True,
        errors="surrogateescape", check=False, timeout=1800,
    )


def python_files(roots: List[str]) -> List[str]:
    return [os.path.join(folder, name) for root in roots for folder, _, files in os.walk(root) for name in files if name.endswith(".py")]


def genuinely_unparsable(path: str) -> bool:
    """E999/E902 are right only for files this interpreter cannot read either (e.g. 3.12 syntax)."""
    try:
        ast.parse(Path(path).read_bytes())
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return True
    return False


def test_no_internal_error_anywhere_in_site_packages(tmp_path: Path, summary_report: List[str]):
    roots = site_packages()
    done = command(["check", "--jobs", JOBS, "--format", "json", "--exit-zero", "-q", *roots], tmp_path)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    records = json.loads(done.stdout)
    counts = collections.Counter(r["code"] for r in records)
    files = len(python_files(roots))
    summary_report.append(f"{files} files in {', '.join(roots)}")
    summary_report.append("findings per code: " + (", ".join(f"{code} {n}" for code, n in sorted(counts.items())) or "none"))
    for r in records[:200]:  # what the rules say about torch's own code, to eyeball
        summary_report.append(f"  {r['path']}:{r['line']}:{r['column']}: {r['code']} {r['message'][:160]}")
    internal = [r for r in records if r["code"] == "NG000"]
    assert not internal, internal[:5]
    for r in records:
        if r["code"] in ("E999", "E902"):
            assert genuinely_unparsable(r["path"]), r
    assert files > 1000 and done.returncode in (0, 2)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fix_on_a_copy_of_site_packages(tmp_path: Path, summary_report: List[str]):
    copy = tmp_path / "copy"
    for number, root in enumerate(site_packages()):
        shutil.copytree(root, copy / str(number), ignore=_only_python, symlinks=True)
    # Files that certainly have something to fix, beside whatever the ecosystem has.
    planted = copy / "planted"
    planted.mkdir()
    for index in range(3):
        (planted / f"fixable_{index}.py").write_text(NG401_FILE)
    # Too deep for libcst in the very function that holds the fix (libcst reads only that one).
    (planted / "too_deep_to_fix.py").write_text(NG401_FILE + "    x = " + " + ".join(["y"] * 600) + "\n")
    before = {path: _digest(path) for path in copy.rglob("*.py") if path.is_file()}

    done = command(["fix", "--jobs", JOBS, "--format", "json", "--exit-zero", "-q", "copy"], tmp_path)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert not [r for r in json.loads(done.stdout) if r["code"] == "NG000"]
    fixed_files = _files_with(done.stderr, FIXED_LINE)
    changed = {path for path, digest in before.items() if _digest(path) != digest}
    # Only files it reports as fixed changed; every other file is byte-identical.
    assert {str(path.relative_to(tmp_path)) for path in changed} == fixed_files
    assert {planted / f"fixable_{index}.py" for index in range(3)} <= changed
    assert planted / "too_deep_to_fix.py" not in changed
    for path in changed:
        ast.parse(path.read_bytes())  # every rewritten file parses
    summary_report.append(f"fix on a copy: {len(changed)} files rewritten of {len(before)}")

    again = command(["fix", "--jobs", JOBS, "-q", *sorted(str(p.relative_to(tmp_path)) for p in changed)], tmp_path)
    assert not _files_with(again.stdout, FIXED_LINE), again.stdout  # a second fix is a no-op
    assert all(_digest(path) == digest for path, digest in _digests(changed).items())


def _digests(paths: Set[Path]) -> Dict[Path, str]:
    return {path: _digest(path) for path in paths}


def _files_with(output: str, marker: "re.Pattern[str]") -> Set[str]:
    return {line.split(":", 1)[0] for line in output.splitlines() if marker.search(line)}


def _only_python(folder: str, names: List[str]) -> List[str]:
    """copytree's ignore: keep folders and .py files only."""
    return [name for name in names if not name.endswith(".py") and not os.path.isdir(os.path.join(folder, name))]
