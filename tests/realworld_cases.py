"""The realworld suite: programs modelled on public bug reports, labelled by running them under torch.

Each file in tests/realworld/ is a standalone program with these comments:

    # realworld: <URL of the public bug report, fix commit or Q&A thread it is modelled on>
    # family: A            (A = NG1xx, B = NG2xx, C = NG3xx, D = NG4xx: the family it exercises)
    ...  # finding: NG101    a finding with this code is required on this line (several: "NG101, NG202")
    ...  # raises: <text>    running the file raises an exception containing <text>, from this line
    assert ...  # runtime-check: <what it proves>    (an assert the program makes about autograd)

A file with a `finding:` marker is a bug; it must prove it at run time, by a `raises:` marker or
by a `runtime-check` assert (a graph kept alive, a graph built where none was wanted). A file
without one is a correct look-alike: it must run clean. The label is the runtime's: the suite
runs every file under torch (tests/test_realworld.py) and checks these claims.
"""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Set, Tuple

REALWORLD = Path(__file__).resolve().parent / "realworld"
_ROOT = str(REALWORLD.parent.parent)
if _ROOT not in sys.path:  # `python tests/realworld_cases.py --report` checks this checkout
    sys.path.insert(0, _ROOT)
FAMILIES = ("A", "B", "C", "D")

_URL = re.compile(r"#\s*realworld:\s*(\S+)")
_FAMILY = re.compile(r"#\s*family:\s*([ABCD])\b")
_FINDING = re.compile(r"#\s*finding:\s*(NG\d{3}(?:\s*,\s*NG\d{3})*)")
_RAISES = re.compile(r"#\s*raises:\s*(.+?)\s*$")
_CHECK = re.compile(r"#\s*runtime-check\b")

Expected = Tuple[int, str]  # (line, code)


@dataclass
class Case:
    path: Path
    url: str
    family: str
    expected: Set[Expected] = field(default_factory=set)
    raises: Optional[Tuple[int, str]] = None  # (line, text the message contains)
    runtime_checks: int = 0

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def is_bug(self) -> bool:
        return bool(self.expected)


def family_of(code: str) -> str:
    return "ABCD"[int(code[2]) - 1]


def parse_case(path: Path) -> Case:
    source = path.read_text(encoding="utf-8")
    url = _URL.search(source)
    family = _FAMILY.search(source)
    if url is None or family is None:
        raise ValueError(f"{path.name}: needs '# realworld: <url>' and '# family: A|B|C|D' comments")
    case = Case(path, url.group(1), family.group(1))
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        line = token.start[0]
        finding = _FINDING.search(token.string)
        if finding:
            case.expected |= {(line, code.strip()) for code in finding.group(1).split(",")}
        raises = _RAISES.search(token.string)
        if raises:
            if case.raises is not None:
                raise ValueError(f"{path.name}: more than one 'raises:' marker")
            case.raises = (line, raises.group(1))
        if _CHECK.search(token.string):
            case.runtime_checks += 1
    return case


def load_cases() -> List[Case]:
    return [parse_case(path) for path in sorted(REALWORLD.glob("*.py")) if not path.name.startswith("_")]


def findings_of(case: Case, codes: Optional[FrozenSet[str]] = None) -> Set[Expected]:
    """(line, code) of every finding every rule reports on the case (opt-in rules too)."""
    from flake8_nograd.checker import check_source

    source = case.path.read_text(encoding="utf-8")
    found = {(f.line, f.code) for f in check_source(source, filename=str(case.path))}
    return {item for item in found if codes is None or item[1] in codes}


# -- running the programs under torch ------------------------------------------------------------
def run_under_torch(paths: List[Path], timeout: float = 600.0) -> Dict[str, dict]:
    """Run each program as __main__ under torch, in a forked child of one process that imported
    torch once; returns, per file name, {"status": "ok"} or {"status": "raised", "type", "message",
    "line"} (the line of the deepest frame in that file)."""
    if not paths:
        return {}
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *(str(Path(p).resolve()) for p in paths)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(REALWORLD),
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the realworld runner failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.splitlines()[-1])


def _run_one(path: str, conn) -> None:  # in the forked child
    import runpy
    import traceback

    import torch

    torch.manual_seed(0)
    try:
        runpy.run_path(path, run_name="__main__")
        outcome = {"status": "ok"}
    except BaseException as error:  # noqa: B902 - the outcome is the point
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == path]
        outcome = {
            "status": "raised",
            "type": type(error).__name__,
            "message": str(error)[:500],
            "line": frames[-1].lineno if frames else 0,
        }
    conn.send(outcome)
    conn.close()


def _main(paths: List[str]) -> None:
    import multiprocessing

    import torch  # noqa: F401 - imported once, before the children are forked

    context = multiprocessing.get_context("fork")
    outcomes: Dict[str, dict] = {}
    for path in paths:
        path = os.path.abspath(path)
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_run_one, args=(path, send))
        child.start()
        send.close()
        if receive.poll(120):
            outcomes[os.path.basename(path)] = receive.recv()
        else:
            child.kill()
            outcomes[os.path.basename(path)] = {"status": "timeout"}
        child.join()
    print(json.dumps(outcomes))


def runtime_problem(case: Case, outcome: dict) -> Optional[str]:
    """Why the runtime disagrees with the case's claims, or None when it agrees."""
    if case.raises is not None:
        line, text = case.raises
        if outcome.get("status") != "raised":
            return f"expected to raise {text!r} at line {line}, but {outcome}"
        if text not in outcome["message"] or outcome["line"] != line:
            return f"expected {text!r} at line {line}, got {outcome}"
        return None
    if outcome.get("status") != "ok":
        return f"expected to run clean, got {outcome}"
    return None


def score(cases: List[Case]) -> Dict[str, Dict[str, int]]:
    """Per family: required findings, those found, findings reported, those that are required."""
    totals = {family: {"required": 0, "found": 0, "reported": 0, "true": 0} for family in FAMILIES}
    for case in cases:
        found = findings_of(case)
        for line, code in case.expected:
            totals[family_of(code)]["required"] += 1
            totals[family_of(code)]["found"] += (line, code) in found
        for line, code in found:
            totals[family_of(code)]["reported"] += 1
            totals[family_of(code)]["true"] += (line, code) in case.expected
    return totals


def format_score(totals: Dict[str, Dict[str, int]]) -> str:
    rows = ["family  recall            precision"]
    for family, t in totals.items():
        recall = f"{t['found']}/{t['required']}" + (f" = {t['found'] / t['required']:.0%}" if t["required"] else "")
        precision = f"{t['true']}/{t['reported']}" + (f" = {t['true'] / t['reported']:.0%}" if t["reported"] else "")
        rows.append(f"{family:<7} {recall:<17} {precision}")
    return "\n".join(rows)


def report(paths: List[Path]) -> int:
    """For a case author: each file's runtime outcome and findings against its markers, then the score."""
    cases = [parse_case(path) for path in paths]
    outcomes = run_under_torch([case.path for case in cases])
    failures = 0
    for case in cases:
        problem = runtime_problem(case, outcomes[case.name])
        if case.is_bug and case.raises is None and not case.runtime_checks:
            problem = "a bug must prove itself: add a 'raises:' marker or a 'runtime-check' assert"
        found = findings_of(case)
        missed = sorted(case.expected - found)
        extra = sorted(found - case.expected)
        status = "RUNTIME-MISMATCH" if problem else ("ok" if not missed and not extra else "analysis-differs")
        failures += bool(problem)
        print(f"{case.name}: {status}" + (f" ({problem})" if problem else ""))
        for line, code in missed:
            print(f"    missed {code} at line {line}")
        for line, code in extra:
            print(f"    extra  {code} at line {line}")
    print(format_score(score(cases)))
    return 1 if failures else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--report"]:
        targets = [Path(arg) for arg in sys.argv[2:]] or [
            path for path in sorted(REALWORLD.glob("*.py")) if not path.name.startswith("_")
        ]
        raise SystemExit(report(targets))
    _main(sys.argv[1:])
