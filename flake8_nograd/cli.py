"""The standalone command: `flake8-nograd check|fix PATH...`, sharing the plugin's analysis, rule
codes, options and noqa handling.

Exit codes: 0 nothing to report; 1 findings remain (or, with `fix --diff`, a change is pending);
2 a usage error, or a file that could not be checked (syntax error, unreadable). `--exit-zero`
turns 1 into 0; it never hides a 2.
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, TextIO, Tuple

from . import __version__
from .config import OPTIONS, Config, register_argparse_options
from .formats import FORMATS, location, render
from .rules import ALL_RULES, RULES_BY_CODE
from .runner import FileResult, RunOptions, process_file, run_files, summarize
from .settings import DEFAULT_EXCLUDE, DEFAULT_SELECT, Selection, as_list, iter_python_files, load_config_files

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
PROGRESS_MIN_FILES = 20  # smaller runs finish before a bar is worth drawing


def _rules_epilog() -> str:
    lines = ["rules:"]
    for rule in ALL_RULES:
        lines.append(f"  {rule.code}  {rule.summary}")
        lines.append(f"         {rule.docs_url()}")
    lines += [
        "",
        "exit codes: 0 clean, 1 findings (or a pending change with fix --diff), 2 usage error or",
        "a file that could not be checked. Settings: [tool.flake8-nograd] in pyproject.toml, the",
        "[flake8] section of setup.cfg/tox.ini/.flake8; command-line flags win.",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: .)")
    common.add_argument("--select", help="comma-separated code prefixes to report (default: NG)")
    common.add_argument(
        "--extend-select", help="code prefixes to report in addition (e.g. NG203, which is off by default)"
    )
    common.add_argument("--ignore", help="comma-separated code prefixes not to report")
    common.add_argument("--exclude", help="comma-separated globs of files/folders to skip (replaces the defaults)")
    common.add_argument("--extend-exclude", help="comma-separated globs to skip, added to the defaults")
    common.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    common.add_argument("--exit-zero", action="store_true", help="exit 0 even when findings remain")
    common.add_argument("--jobs", "-j", type=_positive_int, default=None, help="files checked in parallel (default: all cores)")
    common.add_argument("--quiet", "-q", action="store_true", help="print findings only: no progress bar, no summary")
    common.add_argument("--statistics", action="store_true", help="count the findings of each code after them")
    common.add_argument(
        "--stdin-filename", metavar="NAME",
        help="with PATH '-': the name of the source read from standard input (for output, settings and its project)",
    )
    register_argparse_options(common.add_argument_group("analysis options (the same as flake8's)"))

    parser = argparse.ArgumentParser(
        prog="flake8-nograd",
        description="Find (and fix) PyTorch gradient-context mistakes.",
        epilog=_rules_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"flake8-nograd {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{check,fix,rule,server}")
    commands.required = True
    check = commands.add_parser(
        "check", parents=[common], help="report findings in flake8's format",
        epilog=_rules_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument(
        "--add-noqa", action="store_true",
        help="add '# noqa: NGxxx' to every line with a finding (merged into an existing noqa comment)",
    )
    check.add_argument("--fix", action="store_true", help="the same as the fix command")
    fix = commands.add_parser(
        "fix", parents=[common], help="apply the safe fixes in place",
        epilog=_rules_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for command in (check, fix):
        command.add_argument("--unsafe-fixes", action="store_true", help="also apply the fixes documented as unsafe")
    fix.add_argument("--diff", action="store_true", help="print a unified diff of the fixes; write nothing")
    rule = commands.add_parser("rule", help="print a rule's documentation page")
    rule.add_argument("code", nargs="?", help="a rule code, e.g. NG101")
    rule.add_argument("--all", action="store_true", help="print every rule's page")
    commands.add_parser(
        "server", help="run the language server (LSP over stdio; needs flake8-nograd[lsp])",
        description="The language server: diagnostics, quick fixes and hover for editors, over stdio.",
    )
    return parser


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def resolve_settings(args: Optional[argparse.Namespace], notes: List[str], start: Optional[str] = None) -> Dict[str, Any]:
    """Command line over pyproject.toml over [flake8]; keys as in config files. The files are
    looked up from `start` (default: the current folder) upwards; `args` None: files only."""
    from_files, file_notes = load_config_files(start or os.getcwd())
    notes.extend(file_notes)
    settings: Dict[str, Any] = dict(from_files)
    if args is None:
        return settings
    for key in ("select", "extend-select", "ignore", "exclude", "extend-exclude"):
        value = getattr(args, key.replace("-", "_"))
        if value is not None:
            settings[key] = as_list(value)
    for spec in OPTIONS:
        value = getattr(args, spec.dest)
        if value is not None:
            settings[spec.flag.lstrip("-")] = as_list(value) if spec.kind == "list" else value
    return settings


def analysis_settings(settings: Dict[str, Any]) -> Tuple[Selection, Tuple[str, ...], Config]:
    """The selection, exclude globs and analysis config that resolved settings say (raises
    ValueError for a bad flag value in a config file: `no-project = maybe`)."""
    selection = Selection(
        select=tuple(settings.get("select", DEFAULT_SELECT)) + tuple(settings.get("extend-select", ())),
        ignore=tuple(settings.get("ignore", ())) + tuple(settings.get("extend-ignore", ())),
        explicit_select="select" in settings or "extend-select" in settings,
    )
    exclude = tuple(settings.get("exclude", DEFAULT_EXCLUDE)) + tuple(settings.get("extend-exclude", ()))
    config = Config.from_values(
        argparse.Namespace(exclude=exclude, **{spec.dest: settings.get(spec.flag.lstrip("-"), ()) for spec in OPTIONS})
    )
    return selection, exclude, config


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on a usage error
    if args.command == "rule":
        return _print_rule(args, parser)
    if args.command == "server":
        return _serve()
    stdin = args.paths == ["-"]
    if "-" in args.paths and not stdin:
        parser.error("'-' (standard input) cannot be given with other paths")
    if args.stdin_filename is not None and not stdin:
        parser.error("--stdin-filename needs '-' as the path")
    fixing = args.command == "fix" or args.fix
    add_noqa = getattr(args, "add_noqa", False)
    if add_noqa and (fixing or stdin):
        parser.error("--add-noqa cannot be combined with --fix or with standard input")
    notes: List[str] = []
    # Source from standard input is configured like the file it names.
    start = os.path.dirname(os.path.abspath(args.stdin_filename)) if stdin and args.stdin_filename else None
    settings = resolve_settings(args, notes, start)
    try:
        selection, exclude, config = analysis_settings(settings)
    except ValueError as error:  # `no-project = maybe` in a config file
        parser.error(str(error))
    diff = fixing and getattr(args, "diff", False)
    options = RunOptions(
        selection=selection,
        config=config,
        fix=fixing,
        unsafe_fixes=fixing and args.unsafe_fixes,
        diff=diff,
        stdin=stdin,
        add_noqa=add_noqa,
        write_roots=tuple(os.path.realpath(p) for p in (args.paths or ["."]) if os.path.exists(p)),
    )
    stdout, stderr = sys.stdout, sys.stderr
    for stream in (stdout, stderr):
        # A file name that is not valid UTF-8 (surrogate escapes) is printed as its bytes, not a crash.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="surrogateescape")
            except (ValueError, OSError):
                pass
    for note in notes:
        if not args.quiet:
            print(f"flake8-nograd: {note}", file=stderr)

    # Everything imported so far lives until exit: keep it out of the collector's full passes, which
    # otherwise re-scan it every time the per-file analysis objects trigger one (about 4% of a run).
    gc.freeze()
    if stdin:
        return _check_stdin(args, options, stdout, stderr)
    paths = args.paths or ["."]
    missing = [p for p in paths if not os.path.exists(p)]
    for path in missing:
        print(f"{path}:0:1: E902 FileNotFoundError: no such file or folder", file=stdout)
    present = [p for p in paths if os.path.exists(p)]
    files = list(dict.fromkeys(iter_python_files(present, exclude)))
    if fixing:
        files = _one_name_per_file(files)
    if config.project and files:
        # Indexed here, before the workers start (forked ones inherit it); said once, not per worker.
        from .project.session import prepare

        for note in prepare(files, config):
            if not args.quiet:
                print(f"flake8-nograd: {note}", file=stderr)
    jobs = args.jobs or os.cpu_count() or 1
    progress = _Progress(len(files), stderr) if _wants_progress(len(files), stderr, args.quiet) else None
    results = run_files(files, options, jobs, progress)
    if options.config.project:
        from .project.session import flush

        flush()  # the findings kept for reuse, in one write per project
    if progress:
        progress.close()

    _report(results, args, stdout, stderr, options)
    return _finish(results, len(files), bool(missing), args, options, stdout, stderr)


def _finish(
    results: List[FileResult], files: int, missing: bool, args: argparse.Namespace, options: RunOptions,
    stdout: TextIO, stderr: TextIO,
) -> int:
    """Statistics, the summary line and the exit code."""
    if args.statistics:
        records = [r for result in results for r in result.errors + result.findings]
        # Beside a JSON or SARIF document the counts go to stderr, which keeps the document whole.
        (stdout if args.format == "text" and not options.stdin else stderr).write(statistics(records))
    checked, left, fixed, errored = summarize(results, files)
    if not args.quiet:
        print(_summary(checked, left, fixed, errored, options, results), file=stderr)
    if missing or errored:
        return EXIT_ERROR
    pending = options.diff and any(r.changed for r in results)
    if (left or pending) and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def statistics(records: List[Dict[str, Any]]) -> str:
    """flake8's `--statistics`: `count code text` for each code, in code order; the text is the
    rule's summary (the first message for an error code such as E999)."""
    counts: Dict[str, int] = {}
    first_message: Dict[str, str] = {}
    for r in records:
        counts[r["code"]] = counts.get(r["code"], 0) + 1
        first_message.setdefault(r["code"], r["message"])
    lines = []
    for code in sorted(counts):
        rule = RULES_BY_CODE.get(code)
        lines.append(f"{counts[code]:<5} {code} {rule.summary if rule is not None else first_message[code]}\n")
    return "".join(lines)


def _check_stdin(args: argparse.Namespace, options: RunOptions, stdout: TextIO, stderr: TextIO) -> int:
    """`check -` / `fix -`: the source is standard input's bytes, named --stdin-filename (default
    `stdin`, as flake8 names it). Fixing prints the fixed source (unchanged when nothing is fixed)
    on stdout, and the findings and fix lines on stderr, as ruff does."""
    name = args.stdin_filename or "stdin"
    raw = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode("utf-8")
    if options.config.project and args.stdin_filename:
        from .project.session import prepare

        for note in prepare([name], options.config):
            if not args.quiet:
                print(f"flake8-nograd: {note}", file=stderr)
    result = process_file(name, options, raw)
    if options.config.project:
        from .project.session import flush

        flush()
    results = [result] if result.findings or result.errors or result.fixed or result.not_fixed or result.changed else []
    if options.fix and not options.diff:
        stdout.buffer.write(result.output if result.output is not None else raw) if hasattr(stdout, "buffer") else stdout.write(
            (result.output if result.output is not None else raw).decode("utf-8", "replace")
        )
        stdout.flush()
        _report(results, args, stderr, stderr, options)
    else:
        _report(results, args, stdout, stderr, options)
    return _finish(results, 1, False, args, options, stdout, stderr)


def _print_rule(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """`rule NG101`: the rule's page (docs/rules/NG101.md, shipped in the package); `rule --all`."""
    from .rule_pages import rule_page

    if args.all == bool(args.code):
        parser.error("rule: give one code (rule NG101) or --all")
    codes = [rule.code for rule in ALL_RULES] if args.all else [args.code.strip().upper()]
    pages = []
    for code in codes:
        if code not in RULES_BY_CODE:
            known = ", ".join(rule.code for rule in ALL_RULES)
            print(f"flake8-nograd: unknown rule '{args.code}'; the rules are {known}", file=sys.stderr)
            return EXIT_ERROR
        page = rule_page(code)
        if page is None:
            rule = RULES_BY_CODE[code]
            page = f"# {code} {rule.name}\n\n{rule.summary}.\n\nSee {rule.docs_url()}\n"
        pages.append(page if page.endswith("\n") else page + "\n")
    sys.stdout.write("\n".join(pages))
    return EXIT_CLEAN


def _serve() -> int:
    """`server`: the language server over stdio, when pygls (the `lsp` extra) is installed."""
    try:
        import lsprotocol  # noqa: F401
        import pygls  # noqa: F401
    except ImportError:
        print(
            "flake8-nograd: the language server needs pygls: pip install \"flake8-nograd[lsp]\"", file=sys.stderr
        )
        return EXIT_ERROR
    from .server import serve

    serve()
    return EXIT_CLEAN


def _one_name_per_file(files: List[str]) -> List[str]:
    """For `fix`: a file reached under two names (a symlink and its target, two hard links) is
    fixed once, under the first name, so no write races another."""
    seen = set()
    kept = []
    for path in files:
        try:
            status = os.stat(path)
        except OSError:
            kept.append(path)  # reported as unreadable by the run
            continue
        identity = (status.st_dev, status.st_ino)
        if identity not in seen:
            seen.add(identity)
            kept.append(path)
    return kept


def _report(
    results: List[FileResult], args: argparse.Namespace, stdout: TextIO, stderr: TextIO, options: RunOptions
) -> None:
    records = [r for result in results for r in result.errors + result.findings]
    if options.fix:
        # What changed goes where the user reads it: stdout for text, stderr beside JSON/SARIF.
        changes = stdout if args.format == "text" else stderr
        for result in results:
            if options.diff and result.diff:
                stdout.write(result.diff)
            if not args.quiet or not options.diff:
                for fixed in result.fixed:
                    verb = "would fix" if options.diff else "fixed"
                    changes.write(f"{location(fixed)}: {fixed['code']} {verb}: {fixed['fixed']}\n")
            for failed in result.not_fixed:
                changes.write(f"{location(failed)}: {failed['code']} not fixed: {failed['reason']}\n")
        if options.diff and args.format == "text":
            return  # the diff is the output; what is left shows in the summary
    output = render(records, args.format)
    if output and (records or args.format != "text"):
        stdout.write(output)


def _summary(checked: int, left: int, fixed: int, errored: int, options: RunOptions, results: List[FileResult]) -> str:
    parts = [f"{checked} file{'s' if checked != 1 else ''} checked", f"{left} finding{'s' if left != 1 else ''}"]
    if options.fix:
        changed = sum(1 for r in results if r.changed)
        verb = "would be fixed" if options.diff else "fixed"
        parts.append(f"{fixed} {verb} in {changed} file{'s' if changed != 1 else ''}")
    if options.add_noqa:
        lines = sum(r.noqa_lines for r in results)
        changed = sum(1 for r in results if r.noqa_lines)
        parts.append(f"'# noqa' added to {lines} line{'s' if lines != 1 else ''} in {changed} file{'s' if changed != 1 else ''}")
    if errored:
        parts.append(f"{errored} file{'s' if errored != 1 else ''} could not be checked")
    return "flake8-nograd: " + ", ".join(parts)


def _wants_progress(count: int, stream: TextIO, quiet: bool) -> bool:
    isatty = getattr(stream, "isatty", None)
    return not quiet and count >= PROGRESS_MIN_FILES and bool(isatty and isatty())


class _Progress:
    """`[#####.....] 120/300 files` on one terminal line, redrawn in place, erased at the end."""

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.drawn = -1

    def __call__(self, done: int) -> None:
        filled = self.WIDTH * done // max(self.total, 1)
        if filled == self.drawn and done != self.total:
            return
        self.drawn = filled
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{self.total} files")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\r" + " " * (self.WIDTH + 30) + "\r")
        self.stream.flush()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
