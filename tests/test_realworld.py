"""The realworld suite (tests/realworld/): the runtime labels every program, the rules must agree.

Every program runs under torch (skipped without it) and must do what its markers claim; the rules
must report exactly the marked findings. Programs the analysis does not get right yet are listed
in KNOWN_GAPS with the gap that explains them; they are strict xfails, so a program that starts
passing must be taken off the list.

The folder cases (multi-file projects, see realworld_cases.py) are checked the same way, the
command run over the whole folder; those the project-wide analysis does not get right yet are in
KNOWN_PROJECT_GAPS, strict xfails too.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Dict

import pytest

from realworld_cases import (
    ENTRY,
    ROOT_MARKER,
    family_of,
    findings_of,
    load_cases,
    parse_case,
    project_modules,
    runtime_problem,
    run_under_torch,
)

CASES = load_cases()
PROJECT_CASES = [case for case in CASES if case.is_project]
HAVE_TORCH = importlib.util.find_spec("torch") is not None

# file name -> why the analysis misses it (gap numbers from ../shared/gaps/realworld-gaps.md).
KNOWN_GAPS: Dict[str, str] = {
}

# folder name -> what the checker gets wrong on it today: the project-wide analysis (issue 15)
# is to close these; G30 in ../shared/gaps/realworld-gaps.md.
KNOWN_PROJECT_GAPS: Dict[str, str] = {
    # The helper's result has no graph (it is @torch.no_grad() in another module, which the index
    # knows), but the loss multiplies it by `advantages`, a parameter of update(): whether that
    # operand carries a graph is unknown there, so the loss's graph is too (a value-model limit:
    # the same code in one module is missed the same way).
    "a_helper_predicts_under_nograd_bug": "a no-graph value times a parameter whose graph is unknown",
}


def test_project_suite_size_and_balance() -> None:
    bugs = sum(case.is_bug for case in PROJECT_CASES)
    assert len(PROJECT_CASES) >= 14
    assert 0.4 <= bugs / len(PROJECT_CASES) <= 0.6


@pytest.mark.parametrize("case", PROJECT_CASES, ids=lambda case: case.name)
def test_project_case_is_a_project(case) -> None:
    """Its own root, an entry point, more than one module, and markers only on its own modules."""
    assert (case.path / ROOT_MARKER).is_file()
    assert (case.path / ENTRY).is_file()
    modules = project_modules(case.path)
    assert len(modules) >= 2
    assert {item[0] for item in case.expected} <= set(modules)
    assert case.raises is None or case.raises[0] in modules


def test_suite_size_and_balance() -> None:
    bugs = sum(case.is_bug for case in CASES)
    assert len(CASES) >= 80
    assert 0.4 <= bugs / len(CASES) <= 0.6
    assert {case.family for case in CASES} == {"A", "B", "C", "D"}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_case_is_well_formed(case) -> None:
    assert case.url.startswith("https://")
    if case.is_bug:
        assert case.raises is not None or case.runtime_checks, "a bug must prove itself at run time"
        assert {family_of(item[-1]) for item in case.expected} >= {case.family}
    else:
        assert case.raises is None, "a correct program must run clean"


@pytest.fixture(scope="module")
def outcomes():
    if not HAVE_TORCH:
        pytest.skip("torch is not installed")
    return run_under_torch([case.path for case in CASES])


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_runtime_agrees_with_the_label(case, outcomes) -> None:
    assert runtime_problem(case, outcomes[case.name]) is None


def test_known_gaps_are_cases() -> None:
    assert set(KNOWN_GAPS) <= {case.name for case in CASES if not case.is_project}
    assert set(KNOWN_PROJECT_GAPS) <= {case.name for case in PROJECT_CASES}


def _known_gap(case) -> str:
    return (KNOWN_PROJECT_GAPS if case.is_project else KNOWN_GAPS).get(case.name, "")


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, marks=pytest.mark.xfail(reason=_known_gap(case), strict=True))
        if _known_gap(case)
        else case
        for case in CASES
    ],
    ids=lambda case: case.name,
)
def test_findings_are_exactly_the_marked_ones(case) -> None:
    found = findings_of(case)
    assert sorted(found) == sorted(case.expected)


# -- the folder-case machinery itself, on a project of two modules written here -------------------
_HELPERS = """import torch


def apply_update(loss, optimizer):
    optimizer.zero_grad()
    loss.backward()  # finding: NG101  # raises: does not require grad
    optimizer.step()
"""

_MAIN = """# realworld: https://example.org/report
# family: A
import torch

from helpers import apply_update

net = torch.nn.Linear(2, 1)
with torch.no_grad():
    loss = net(torch.ones(1, 2)).sum()
loss.backward()  # finding: NG101
apply_update(loss, torch.optim.SGD(net.parameters(), lr=0.1))
"""


def _write_project(folder: Path) -> Path:
    folder.mkdir()
    (folder / ROOT_MARKER).write_text("")
    (folder / "helpers.py").write_text(_HELPERS)
    (folder / ENTRY).write_text(_MAIN.replace("loss.backward()  # finding: NG101\n", ""))
    return folder


def test_a_folder_case_has_markers_by_module(tmp_path) -> None:
    case = parse_case(_write_project(tmp_path / "a_two_modules_bug"))
    assert case.is_project and case.is_bug
    assert (case.url, case.family) == ("https://example.org/report", "A")
    assert case.expected == {("helpers.py", 6, "NG101")}
    assert case.raises == ("helpers.py", 6, "does not require grad")


def test_a_folder_case_runs_from_its_root(tmp_path) -> None:
    if not HAVE_TORCH:
        pytest.skip("torch is not installed")
    case = parse_case(_write_project(tmp_path / "a_two_modules_bug"))
    outcome = run_under_torch([case.path])[case.name]
    assert (outcome["status"], outcome["file"], outcome["line"]) == ("raised", "helpers.py", 6)
    assert runtime_problem(case, outcome) is None
    assert runtime_problem(case, {**outcome, "file": "main.py"}) is not None
    assert not list(case.path.rglob("__pycache__"))


def test_a_folder_case_is_checked_as_a_project(tmp_path) -> None:
    """The command's findings, by module: here one the module-at-a-time analysis finds itself."""
    folder = _write_project(tmp_path / "a_two_modules_bug")
    (folder / ENTRY).write_text(_MAIN)
    case = parse_case(folder)
    assert ("main.py", 10, "NG101") in case.expected
    assert ("main.py", 10, "NG101") in findings_of(case)
