"""One file's work for the standalone command: read, check, (fix), as plain data.

Runs in worker processes under `--jobs`, so everything it returns is plain dicts and strings; the
check path never imports libcst (flake8_nograd.fixes is imported only when a file has a fix to apply).
"""
from __future__ import annotations

import ast
import os
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable, Dict, FrozenSet, List, Optional, Set, Tuple

from .checker import INTERNAL_ERROR, check_tree, internal_error_message
from .config import Config
from .findings import Finding
from .noqa import NoqaLines, file_is_exempt, physical_lines
from .rules import ALL_RULES, Rule
from .settings import Selection
from .sources import ChangedMeanwhile, SourceError, SourceFile, read_source, source_from_bytes, write_fixed

if TYPE_CHECKING:
    from .project.index import ProjectContext

SYNTAX_ERROR = "E999"
READ_ERROR = "E902"
MAX_FIX_PASSES = 5  # fixes that move code (wraps) are re-checked and applied over passes

Record = Dict[str, Any]


@dataclass(frozen=True)
class RunOptions:
    selection: Selection = Selection()
    config: Config = Config()
    fix: bool = False
    unsafe_fixes: bool = False
    diff: bool = False
    # Source read from standard input: a fixed file is not written but kept in FileResult.output.
    stdin: bool = False
    add_noqa: bool = False  # `check --add-noqa`: silence every finding with a `# noqa` comment
    # Real paths of what the command was given: a fix is written only to a file under one of them
    # (a symlink's target elsewhere is left alone unless the link itself was given). Empty: anywhere.
    write_roots: Tuple[str, ...] = ()

    @cached_property
    def codes(self) -> FrozenSet[str]:
        """The codes the selected rules report, and NG000 (an internal error is always shown)."""
        return frozenset(rule.code for rule in self.rules) | {INTERNAL_ERROR}

    @cached_property
    def rules(self) -> Tuple[Rule, ...]:
        """The rules to run: one whose code is not selected is not run at all."""
        return tuple(rule for rule in ALL_RULES if self.selection.selected(rule.code))


@dataclass
class FileResult:
    path: str
    findings: List[Record] = field(default_factory=list)  # what is left (after fixing)
    errors: List[Record] = field(default_factory=list)  # E999 / E902: the file was not checked
    fixed: List[Record] = field(default_factory=list)
    not_fixed: List[Record] = field(default_factory=list)
    diff: str = ""
    changed: bool = False
    output: Optional[bytes] = None  # the fixed file's bytes, for source read from standard input
    noqa_lines: int = 0  # lines given a `# noqa` comment by --add-noqa


def record(path: str, finding: Finding) -> Record:
    """A finding as plain data; columns 1-based as flake8 prints them, end column exclusive."""
    fix = finding.fix
    return {
        "path": path,
        "line": finding.line,
        "column": finding.col + 1,
        "end_line": finding.end_line or finding.line,
        "end_column": (finding.end_col if finding.end_col is not None else finding.col) + 1,
        "code": finding.code,
        "message": finding.message,
        "fix": None
        if fix is None or not fix.action
        else {"description": fix.description, "safe": fix.safe, "action": fix.action},
    }


def error_record(path: str, code: str, line: int, column: int, message: str) -> Record:
    return {
        "path": path, "line": line, "column": column, "end_line": line, "end_column": column,
        "code": code, "message": message, "fix": None,
    }


def lint_text(text: str, options: RunOptions, project: Optional["ProjectContext"] = None) -> List[Finding]:
    """Findings that are selected and not silenced by noqa (raises SyntaxError); `project`: what
    the rest of the file's project says (project_context_of)."""
    if file_is_exempt(text):
        return []
    # Known from the project index (this text, analysed before): no parse.
    findings = project.final_findings(text, options.codes) if project is not None else None
    if findings is None:
        # The index's walk of this text, when it holds with the project's answers: no parse.
        walked = project.walked_module(text) if project is not None else None
        tree = walked.tree if walked is not None else ast.parse(text)
        findings = check_tree(tree, text, options.config, options.rules, project=project)
    if findings and "noqa" in text.lower():
        noqa = NoqaLines(text)
        findings = [f for f in findings if not noqa.suppresses(f.line, f.code)]
    return findings


def project_context_of(path: str, options: RunOptions) -> Optional["ProjectContext"]:
    """The project context of the file at `path`; None under --no-project (nothing is imported
    nor looked up then) or when the file belongs to no project."""
    if not options.config.project:
        return None
    from .project.session import project_context

    return project_context(path, options.config)


def syntax_error_record(path: str, error: SyntaxError) -> Record:
    """flake8's E999 line (its FileChecker._extract_syntax_information): row and column from the
    exception, the column printed one past it. Up to Python 3.9 the exception's details are a
    4-tuple whose offset is already 1-based, and flake8 takes one off (clamped to the first line
    of the text, rows counted from its last line); from 3.10 on (6-tuple) it takes the offset as is."""
    details = error.args[1] if len(error.args) > 1 and error.args[1] and len(error.args[1]) > 2 else ()
    row, column = (details[1] or 1, details[2] or 0) if details else (1, 0)
    if column > 0 and len(details) == 4:
        text = details[3]
        if text is not None:
            lines = text.rstrip("\n").split("\n")
            row -= len(lines) - 1
            column = min(column, len(lines[0]))
        column -= 1
    return error_record(path, SYNTAX_ERROR, row, column + 1, f"{type(error).__name__}: {error.args[0]}")


def process_file(path: str, options: RunOptions, raw: Optional[bytes] = None) -> FileResult:
    """Never raises (one bad file must not end the run, nor kill a `--jobs` worker): whatever
    goes wrong becomes one error record for the file, and the command exits 2 at the end.
    `raw`: the file's bytes when they do not come from `path` (standard input)."""
    try:
        return _process_file(path, options, raw)
    except Exception as error:  # noqa: B902 - a bug of ours, reported as NG000 for this file only
        result = FileResult(path)
        result.errors.append(error_record(path, INTERNAL_ERROR, 1, 1, internal_error_message(error, "checking")))
        return result


def _process_file(path: str, options: RunOptions, raw: Optional[bytes] = None) -> FileResult:
    if path.endswith(".ipynb"):
        from .notebooks import process_notebook

        return process_notebook(path, options, raw)
    result = FileResult(path)
    try:
        source = read_source(path) if raw is None else source_from_bytes(path, raw)
    except SourceError as error:
        result.errors.append(error_record(path, READ_ERROR, 1, 1, str(error)))
        return result
    project = project_context_of(path, options)
    try:
        findings = lint_text(source.text, options, project)
    except SyntaxError as error:
        result.errors.append(syntax_error_record(path, error))
        return result
    except ValueError as error:  # null bytes (a SyntaxError from Python 3.12 on)
        result.errors.append(error_record(path, SYNTAX_ERROR, 1, 1, f"{type(error).__name__}: {error}"))
        return result
    except (RecursionError, MemoryError) as error:
        # CPython's own parser gives up on code nested too deeply (it is not a bug of the file).
        detail = str(error) or "Python's parser ran out of memory"
        result.errors.append(
            error_record(path, SYNTAX_ERROR, 1, 1, f"{type(error).__name__}: {detail}; the code is nested too deeply for Python's parser")
        )
        return result
    internal = [f for f in findings if f.code == INTERNAL_ERROR]
    if internal:  # the analysis failed on this file: an error, whatever the selection
        result.errors.extend(record(path, f) for f in internal)
        return result
    if options.fix:
        findings = _fix(source, findings, options, result, project)
    elif options.add_noqa and findings:
        _add_noqa(source, findings, options, result)
        return result
    result.findings = [record(path, f) for f in findings]
    return result


def _add_noqa(source: SourceFile, findings: List[Finding], options: RunOptions, result: FileResult) -> None:
    """Silence every finding with a `# noqa` comment on its line, written like a fix (atomically,
    only if the file is still as read); what could not be written stays a finding."""
    from .add_noqa import add_noqa

    text, changed = add_noqa(source.text, findings)
    if not changed:
        return
    refusal = write_refusal(source.path, options)
    if refusal is not None:
        result.errors.append(error_record(source.path, READ_ERROR, 1, 1, refusal))
    elif write_or_report(source.path, source.encode, text, source.raw, result):
        result.noqa_lines = changed
        result.changed = True
        return
    result.findings = [record(source.path, f) for f in findings]


def _fixable(finding: Finding, options: RunOptions) -> bool:
    fix = finding.fix
    return fix is not None and bool(fix.action) and fix.target is not None and (fix.safe or options.unsafe_fixes)


def _fix(
    source: SourceFile, findings: List[Finding], options: RunOptions, result: FileResult,
    project: Optional["ProjectContext"] = None,
) -> List[Finding]:
    refusal = write_refusal(source.path, options)
    if refusal is not None:
        refuse_fixes(source.path, findings, options, result, refusal)
        return findings
    text, findings = fix_text(source.path, source.text, findings, options, result, project=project)
    if text == source.text:
        return findings
    result.changed = True
    if options.diff:
        import difflib  # only for `fix --diff`: not on the check path

        result.diff = "".join(
            difflib.unified_diff(
                physical_lines(source.text),
                physical_lines(text),
                fromfile=f"a/{os.path.normpath(source.path)}",
                tofile=f"b/{os.path.normpath(source.path)}",
            )
        )
    elif options.stdin:
        result.output = source.encode(text)
    elif not write_or_report(source.path, source.encode, text, source.raw, result):
        return lint_text(source.text, options, project)
    return findings


def write_refusal(path: str, options: RunOptions) -> Optional[str]:
    """Why the fixed file must not be written: the file the user's tools see at `path` (a symlink's
    target) lies outside every path the command was given. None when it may be written."""
    if not options.write_roots:
        return None
    target = os.path.normcase(os.path.realpath(path))
    for root in options.write_roots:
        root = os.path.normcase(root)
        if target == root or target.startswith(root.rstrip(os.sep) + os.sep):
            return None
    what = "a symlink to" if os.path.islink(path) else "reached through a symlinked folder:"
    return (
        f"'{path}' is {what} '{os.path.realpath(path)}', outside the paths being checked; it is left alone "
        f"(give '{path}' on the command line to fix it)"
    )


def refuse_fixes(path: str, findings: List[Finding], options: RunOptions, result: FileResult, reason: str) -> None:
    result.not_fixed.extend(dict(record(path, f), reason=reason) for f in findings if _fixable(f, options))


def write_or_report(path: str, encode: Callable[[str], bytes], text: str, original: bytes, result: FileResult) -> bool:
    """Write the fixed text (through a symlink, in place for hard links: sources.write_fixed); on a
    failure the file is as it was, and the fixes are reported as not fixed with an E902."""
    try:
        write_fixed(path, encode(text), expected=original)
    except (OSError, UnicodeEncodeError) as error:
        result.changed = False
        if isinstance(error, ChangedMeanwhile):
            reason, message = str(error), "the file changed while it was being fixed; it was not written"
        else:
            reason = f"could not write the file ({type(error).__name__}: {error})"
            message = f"{type(error).__name__}: could not write the fixed file"
        result.not_fixed.extend(dict(f, reason=reason) for f in result.fixed)
        result.fixed = []
        result.errors.append(error_record(path, READ_ERROR, 1, 1, message))
        return False
    return True


def fix_text(
    path: str,
    text: str,
    findings: List[Finding],
    options: RunOptions,
    result: FileResult,
    refuse: Optional[Callable[[Finding], Optional[str]]] = None,
    project: Optional["ProjectContext"] = None,
) -> Tuple[str, List[Finding]]:
    """The text with the fixable findings fixed (over passes), and the findings left in it;
    what was (not) fixed is added to `result`. Writes nothing. `refuse` gives the reason a
    finding's fix must not be applied here (a notebook cell that cannot be rewritten), or None."""
    reported_failures = set()

    def not_fixed(finding: Finding, reason: str) -> None:
        if (finding.code, finding.message) not in reported_failures:
            reported_failures.add((finding.code, finding.message))
            result.not_fixed.append(dict(record(path, finding), reason=reason))

    unproven: Set[str] = set()  # codes whose fixes are not applied any more in this file
    for _ in range(MAX_FIX_PASSES):
        fixable = [f for f in findings if _fixable(f, options) and f.code not in unproven]
        if refuse is not None:
            allowed = []
            for finding in fixable:
                reason = refuse(finding)
                if reason is None:
                    allowed.append(finding)
                else:
                    not_fixed(finding, reason)
            fixable = allowed
        if not fixable:
            break
        from .fixes import apply_fixes  # libcst only when there is something to fix

        try:
            outcome = apply_fixes(text, [f.fix for f in fixable])  # type: ignore[misc]
        except Exception as error:  # noqa: B902 - e.g. libcst's recursion on deeply nested code
            if isinstance(error, RecursionError):
                reason = "the code is nested too deeply for the fixer"
            else:
                reason = f"the fixer failed ({internal_error_message(error, 'fixing')})"
            result.not_fixed.extend(dict(record(path, f), reason=reason) for f in fixable)
            break  # what earlier passes fixed (already re-parsed) is kept
        by_fix = {id(f.fix): f for f in fixable}
        for fix, reason in outcome.failed:
            finding = by_fix.get(id(fix))
            if finding is not None:
                not_fixed(finding, reason)
        if not outcome.changed or outcome.source == text:
            break
        applied = [by_fix[id(fix)] for fix in outcome.applied if id(fix) in by_fix]
        after = lint_text(outcome.source, options, project)
        failing = _unproven_codes(findings, applied, after)
        if failing:
            # A fix must remove its finding and bring no new one. This pass did not, so it is
            # dropped (a rule's bug, which the fuzz tests hunt) and nothing of it is written. When
            # the extra findings have the codes of fixes just applied, the pass is tried without
            # those fixes; otherwise it cannot be told which fix to blame and fixing stops.
            blamed = failing if failing <= {f.code for f in applied} else {f.code for f in fixable}
            for finding in fixable:
                if finding.code in blamed:
                    not_fixed(finding, UNPROVEN_FIX)
            unproven |= blamed
            continue
        for finding in applied:
            result.fixed.append(dict(record(path, finding), fixed=finding.fix.description))  # type: ignore[union-attr]
        text, findings = outcome.source, after
    return text, findings


UNPROVEN_FIX = "the fix would not remove the finding (or would bring a new one); please report it"


def _unproven_codes(before: List[Finding], applied: List[Finding], after: List[Finding]) -> Set[str]:
    """The codes for which the fixed text does not have `applied` fewer findings than before."""
    expected = Counter(f.code for f in before)
    expected.subtract(f.code for f in applied)
    return {code for code, count in Counter(f.code for f in after).items() if count > expected[code]}


def run_files(
    paths: List[str], options: RunOptions, jobs: int, progress: Optional[Any] = None
) -> List[FileResult]:
    """The results with something to say (findings, errors, fixes), in the order given; files in
    parallel processes when jobs > 1. Clean files leave nothing behind, so memory does not grow
    with the size of the tree."""
    results: List[FileResult] = []
    done = 0

    def keep(result: FileResult) -> None:
        nonlocal done
        done += 1
        if result.findings or result.errors or result.fixed or result.not_fixed or result.changed:
            results.append(result)
        if progress:
            progress(done)

    if jobs > 1 and len(paths) > 1:
        try:
            from concurrent.futures import ProcessPoolExecutor
            from functools import partial

            with ProcessPoolExecutor(max_workers=min(jobs, len(paths))) as pool:
                chunksize = max(1, len(paths) // (jobs * 8))
                for result in pool.map(partial(process_file, options=options), paths, chunksize=chunksize):
                    keep(result)
            return results
        except (OSError, ImportError, NotImplementedError, PermissionError):
            results, done = [], 0  # no process pool here (sandbox): one process does it all
    for path in paths:
        keep(process_file(path, options))
    return results


def summarize(results: List[FileResult], files_checked: int) -> Tuple[int, int, int, int]:
    """(files checked, findings left, findings fixed, files with errors)."""
    return (
        files_checked,
        sum(len(r.findings) for r in results),
        sum(len(r.fixed) for r in results),
        sum(1 for r in results if r.errors),
    )
