"""The realworld suite (tests/realworld/): the runtime labels every program, the rules must agree.

Every program runs under torch (skipped without it) and must do what its markers claim; the rules
must report exactly the marked findings. Programs the analysis does not get right yet are listed
in KNOWN_GAPS with the gap that explains them; they are strict xfails, so a program that starts
passing must be taken off the list.
"""
from __future__ import annotations

import importlib.util
from typing import Dict

import pytest

from realworld_cases import family_of, findings_of, load_cases, runtime_problem, run_under_torch

CASES = load_cases()
HAVE_TORCH = importlib.util.find_spec("torch") is not None

# file name -> why the analysis misses it (gap numbers from ../shared/gaps/realworld-gaps.md).
KNOWN_GAPS: Dict[str, str] = {
}


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
        assert {family_of(code) for _, code in case.expected} >= {case.family}
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
    assert set(KNOWN_GAPS) <= {case.name for case in CASES}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, marks=pytest.mark.xfail(reason=KNOWN_GAPS[case.name], strict=True))
        if case.name in KNOWN_GAPS
        else case
        for case in CASES
    ],
    ids=lambda case: case.name,
)
def test_findings_are_exactly_the_marked_ones(case) -> None:
    found = findings_of(case)
    assert sorted(found) == sorted(case.expected)
