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

A folder in tests/realworld/ is a multi-file case (a project of its own): several modules, a
`setup.cfg` that makes the folder the project root, and `main.py`, the entry point the runtime
runs (the folder the working directory and first on sys.path). The header comments go in main.py;
the other markers may be in any module of the folder, and a finding or a `raises:` is then
(module, line): the module's path inside the folder. The checker runs over the whole folder as a
user would run it: `flake8-nograd check --select NG --format json <folder>`.
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

# A file case: (line, code) and (line, text); a folder case: (module, line, code) and (module, line,
# text), the module being its path inside the folder ("train.py", "pkg/helpers.py").
Expected = Tuple
ENTRY = "main.py"  # the module a folder case runs
ROOT_MARKER = "setup.cfg"  # makes a folder case its own project root


@dataclass
class Case:
    path: Path
    url: str
    family: str
    expected: Set[Expected] = field(default_factory=set)
    raises: Optional[Tuple] = None  # ([module,] line, text the message contains)
    runtime_checks: int = 0

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def is_bug(self) -> bool:
        return bool(self.expected)

    @property
    def is_project(self) -> bool:
        """A multi-file case: a folder, checked and run as a project."""
        return self.path.is_dir()


def family_of(code: str) -> str:
    return "ABCD"[int(code[2]) - 1]


def _header(path: Path, source: str) -> Tuple[str, str]:
    url = _URL.search(source)
    family = _FAMILY.search(source)
    if url is None or family is None:
        raise ValueError(f"{path.name}: needs '# realworld: <url>' and '# family: A|B|C|D' comments")
    return url.group(1), family.group(1)


def _read_markers(case: Case, source: str, module: Optional[str]) -> None:
    """Adds the markers of one file to the case; `module` (a folder case's file) prefixes each place."""
    where: Tuple[str, ...] = (module,) if module is not None else ()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        line = token.start[0]
        finding = _FINDING.search(token.string)
        if finding:
            case.expected |= {(*where, line, code.strip()) for code in finding.group(1).split(",")}
        raises = _RAISES.search(token.string)
        if raises:
            if case.raises is not None:
                raise ValueError(f"{case.name}: more than one 'raises:' marker")
            case.raises = (*where, line, raises.group(1))
        if _CHECK.search(token.string):
            case.runtime_checks += 1


def parse_case(path: Path) -> Case:
    if path.is_dir():
        return parse_project_case(path)
    source = path.read_text(encoding="utf-8")
    case = Case(path, *_header(path, source))
    _read_markers(case, source, None)
    return case


def project_modules(folder: Path) -> List[str]:
    """The Python files of a folder case, as paths inside it ("pkg/helpers.py")."""
    return sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*.py") if "__pycache__" not in p.parts
    )


def parse_project_case(folder: Path) -> Case:
    entry = folder / ENTRY
    if not entry.is_file():
        raise ValueError(f"{folder.name}: a folder case needs its entry point {ENTRY}")
    case = Case(folder, *_header(entry, entry.read_text(encoding="utf-8")))
    for module in project_modules(folder):
        _read_markers(case, (folder / module).read_text(encoding="utf-8"), module)
    return case


def case_paths() -> List[Path]:
    """Every case of the suite: the files, then the folders (those with an entry point)."""
    files = [path for path in sorted(REALWORLD.glob("*.py")) if not path.name.startswith("_")]
    folders = [path for path in sorted(REALWORLD.iterdir()) if path.is_dir() and (path / ENTRY).is_file()]
    return files + folders


def load_cases() -> List[Case]:
    return [parse_case(path) for path in case_paths()]


def findings_of(case: Case, codes: Optional[FrozenSet[str]] = None) -> Set[Expected]:
    """([module,] line, code) of every finding every rule reports on the case (opt-in rules too)."""
    if case.is_project:
        found = project_findings(case.path)
    else:
        from flake8_nograd.checker import check_source

        source = case.path.read_text(encoding="utf-8")
        found = {(f.line, f.code) for f in check_source(source, filename=str(case.path))}
    return {item for item in found if codes is None or item[-1] in codes}


def project_findings(folder: Path) -> Set[Expected]:
    """(module, line, code) of what the command reports on the whole folder, run from inside it."""
    folder = folder.resolve()
    completed = subprocess.run(
        # --no-cache: nothing written into the case folders of the repository
        [sys.executable, "-m", "flake8_nograd", "check", "--select", "NG", "--format", "json", "--no-cache", str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(folder),
        env={**os.environ, "PYTHONPATH": _ROOT},  # this checkout's flake8_nograd
    )
    if completed.returncode not in (0, 1):  # 1: findings
        raise RuntimeError(f"flake8-nograd check failed on {folder.name}:\n{completed.stderr[-3000:]}")
    return {
        (Path(record["path"]).resolve().relative_to(folder).as_posix(), record["line"], record["code"])
        for record in json.loads(completed.stdout)
    }


# -- running the programs under torch ------------------------------------------------------------
def run_under_torch(paths: List[Path], timeout: float = 600.0) -> Dict[str, dict]:
    """Run each program as __main__ under torch, in a forked child of one process that imported
    torch once; returns, per file (or folder) name, {"status": "ok"} or {"status": "raised", "type",
    "message", "line"} (the line of the deepest frame in that file). A folder runs its main.py with
    the folder as the working directory and first on sys.path; "file" then names the module of the
    deepest frame in the folder."""
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
    folder = path if os.path.isdir(path) else None
    if folder is not None:  # a project: run from its root, importing its own modules
        sys.dont_write_bytecode = True  # no __pycache__ left in the case
        os.chdir(folder)
        sys.path.insert(0, folder)
    try:
        runpy.run_path(os.path.join(folder, ENTRY) if folder else path, run_name="__main__")
        outcome = {"status": "ok"}
    except BaseException as error:  # noqa: B902 - the outcome is the point
        frames = [
            f for f in traceback.extract_tb(error.__traceback__)
            if (f.filename.startswith(folder + os.sep) if folder else f.filename == path)
        ]
        outcome = {
            "status": "raised",
            "type": type(error).__name__,
            "message": str(error)[:500],
            "line": frames[-1].lineno if frames else 0,
        }
        if folder is not None:
            outcome["file"] = Path(frames[-1].filename).relative_to(folder).as_posix() if frames else ""
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
        *module, line, text = case.raises
        at = f"{module[0]}:{line}" if module else f"line {line}"
        if outcome.get("status") != "raised":
            return f"expected to raise {text!r} at {at}, but {outcome}"
        raised_at = [outcome.get("file"), outcome["line"]] if module else [outcome["line"]]
        if text not in outcome["message"] or raised_at != [*module, line]:
            return f"expected {text!r} at {at}, got {outcome}"
        return None
    if outcome.get("status") != "ok":
        return f"expected to run clean, got {outcome}"
    return None


def score(cases: List[Case], found_by_case: Optional[Dict[str, Set[Expected]]] = None) -> Dict[str, Dict[str, int]]:
    """Per family: required findings, those found, findings reported, those that are required."""
    totals = {family: {"required": 0, "found": 0, "reported": 0, "true": 0} for family in FAMILIES}
    for case in cases:
        found = found_by_case[case.name] if found_by_case is not None else findings_of(case)
        for item in case.expected:
            totals[family_of(item[-1])]["required"] += 1
            totals[family_of(item[-1])]["found"] += item in found
        for item in found:
            totals[family_of(item[-1])]["reported"] += 1
            totals[family_of(item[-1])]["true"] += item in case.expected
    return totals


def format_score(totals: Dict[str, Dict[str, int]]) -> str:
    rows = ["family  recall            precision"]
    for family, t in totals.items():
        recall = f"{t['found']}/{t['required']}" + (f" = {t['found'] / t['required']:.0%}" if t["required"] else "")
        precision = f"{t['true']}/{t['reported']}" + (f" = {t['true'] / t['reported']:.0%}" if t["reported"] else "")
        rows.append(f"{family:<7} {recall:<17} {precision}")
    return "\n".join(rows)


def format_multi_file(totals: Dict[str, Dict[str, int]]) -> str:
    """One line for the folder cases, all families together."""
    t = {key: sum(family[key] for family in totals.values()) for key in ("required", "found", "reported", "true")}
    recall = f"{t['found']}/{t['required']}" + (f" = {t['found'] / t['required']:.0%}" if t["required"] else "")
    precision = f"{t['true']}/{t['reported']}" + (f" = {t['true'] / t['reported']:.0%}" if t["reported"] else "")
    return f"multi-file: recall {recall}, precision {precision}"


def _place(item: Expected) -> str:
    *module, line, code = item
    return f"{code} at {module[0]}:{line}" if module else f"{code} at line {line}"


def report(paths: List[Path]) -> int:
    """For a case author: each file's runtime outcome and findings against its markers, then the score."""
    cases = [parse_case(path) for path in paths]
    outcomes = run_under_torch([case.path for case in cases])
    failures = 0
    found_by_case: Dict[str, Set[Expected]] = {}
    for case in cases:
        problem = runtime_problem(case, outcomes[case.name])
        if case.is_bug and case.raises is None and not case.runtime_checks:
            problem = "a bug must prove itself: add a 'raises:' marker or a 'runtime-check' assert"
        found = found_by_case[case.name] = findings_of(case)
        missed = sorted(case.expected - found)
        extra = sorted(found - case.expected)
        status = "RUNTIME-MISMATCH" if problem else ("ok" if not missed and not extra else "analysis-differs")
        failures += bool(problem)
        print(f"{case.name}{'/' if case.is_project else ''}: {status}" + (f" ({problem})" if problem else ""))
        for item in missed:
            print(f"    missed {_place(item)}")
        for item in extra:
            print(f"    extra  {_place(item)}")
    print(format_score(score(cases, found_by_case)))
    projects = [case for case in cases if case.is_project]
    if projects:
        print(format_multi_file(score(projects, found_by_case)))
    return 1 if failures else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--report"]:
        targets = [Path(arg) for arg in sys.argv[2:]] or case_paths()
        raise SystemExit(report(targets))
    _main(sys.argv[1:])
