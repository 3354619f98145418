"""Speed and memory of flake8-nograd, as ratios measured side by side (not part of the test suite).

    python tests/benchmarks/bench.py                    # a generated corpus (see corpus.py)
    python tests/benchmarks/bench.py --path ~/src/repo  # any directory of Python files
    python tests/benchmarks/bench.py --files 3000 --runs 7 --memory-lines 1000000
    python tests/benchmarks/bench.py --project [--path ~/src/repo]   # project-wide analysis

Prints medians of --runs runs (alternating the compared commands, so drift hits both) and each
ratio next to its target:
  flake8 + flake8-nograd / flake8 without it (--jobs 1)         <= 1.10
  flake8-nograd check (1 job) / read + ast.parse loop            <= 2.5
  check --jobs 1 / check --jobs N                                 (scaling)
  peak RSS: check over a large tree / check of its largest file   <= 1.5
  fix / check, on a tree where 1 file in 100 needs a fix          <= 1.5

`--project` measures the project index instead, on a generated project whose modules import each
other (corpus.generate_project) or on a copy of --path, each ratio once with a cold cache (the
cache folder removed before every run) and once warm with one file changed since the last run:
  flake8 + flake8-nograd / flake8 without it (--jobs 1)   cold <= 1.25, warm <= 1.10
  flake8-nograd check (1 job) / read + ast.parse loop      cold <= 3.0,  warm <= 2.5
  memory of the index: peak RSS of check minus check --no-project, MB per 100 k lines, at two
  project sizes (about the same figure at both when it grows linearly)

Commands run as an installed package runs: with bytecode caching on (a PYTHONDONTWRITEBYTECODE in
the environment is dropped for them; pip compiles .pyc files at install time) and after one
unmeasured warm-up run each.

`--instructions` also counts the ratios in CPU instructions under valgrind's callgrind: the same
count on every run, whatever else the machine is doing, so two versions can be compared on a noisy
machine (wall-time ratios of the same code vary by 0.2 on a busy 2-core machine). Counted once each:
  check / read + ast.parse: on the whole corpus (with --project: cold and warm, as above)
  flake8 with / without flake8-nograd (--jobs 1, the plugin dropped as in the wall-time run):
    on a fixed subset, since callgrind runs flake8 about 50 times slower (the whole default corpus
    would take over 10 minutes per command): every k-th file of the sorted corpus, about
    --instructions-files of them (300 by default, 0 for all), passed to flake8 by name. The
    plugin's fixed start-up cost weighs more on a subset than on the whole corpus, so the subset's
    ratio errs high, not low.
    With --project, a generated project of --instructions-files modules instead (the index reads
    the whole project whatever files flake8 is given, so a subset of files would not do), cold
    (cache removed before the counted run) and warm (one file changed since a run that filled the
    cache); with --path, the whole copy of it.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, List, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import generate, generate_lines, generate_project, inject_fixable, touch_one_module  # noqa: E402

PY = sys.executable
# flake8 exactly as installed, minus our plugin: the finder drops the flake8-nograd entry point.
FLAKE8_WITHOUT = (
    "import sys, flake8.plugins.finder as finder\n"
    "found = finder.find_plugins\n"
    "finder.find_plugins = lambda *a, **k: [p for p in found(*a, **k) if p.package != 'flake8-nograd']\n"
    "from flake8.main.cli import main\n"
    "sys.exit(main())\n"
)
PARSE_LOOP = (
    "import ast, os, sys\n"
    "for root, dirs, files in os.walk(sys.argv[1]):\n"
    "    for name in files:\n"
    "        if name.endswith('.py'):\n"
    "            with open(os.path.join(root, name), 'rb') as handle:\n"
    "                ast.parse(handle.read())\n"
)
# Runs a command and prints the peak RSS (KiB) of the children it waited for.
PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


# As installed: bytecode cached, so no run pays for compiling the package's own modules.
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def wall(command: Sequence[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=ENV)
    return time.perf_counter() - start


def instructions(command: Sequence[str]) -> int:
    """CPU instructions `command` executes, counted by callgrind (a fixed hash seed keeps it repeatable)."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
        env={**ENV, "PYTHONHASHSEED": "0"},
    )
    for line in done.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1])
    raise SystemExit(f"valgrind gave no instruction count:\n{done.stderr[-2000:]}")


def instructions_subset(tree: Path, files: int) -> List[str]:
    """Every k-th `.py` file of `tree` in sorted order, about `files` of them (all for 0): the same
    files on every run, with the corpus's mix of modules."""
    every = sorted(str(path) for path in tree.rglob("*.py"))
    if files <= 0 or files >= len(every):
        return every
    stride = -(-len(every) // files)
    return every[::stride]


def compare(runs: int, first: Callable[[], float], second: Callable[[], float]) -> tuple:
    """Medians of `runs` alternating measurements of two timed actions."""
    a: List[float] = []
    b: List[float] = []
    first(), second()  # warm-up: bytecode caches and the file system cache, not measured
    for index in range(runs):
        if index % 2:
            b.append(second())
            a.append(first())
        else:
            a.append(first())
            b.append(second())
    return statistics.median(a), statistics.median(b)


def peak_rss(command: Sequence[str]) -> int:
    out = subprocess.run([PY, "-c", PEAK_RSS, *command], capture_output=True, text=True, check=True, env=ENV).stdout
    return int(out.strip().splitlines()[-1])


def report(label: str, value: float, target: str = "") -> None:
    print(f"  {label:<58} {value:8.2f}{'   target ' + target if target else ''}")


def count(tree: Path) -> tuple:
    files = list(tree.rglob("*.py"))
    lines = sum(p.read_bytes().count(b"\n") for p in files)
    return files, lines


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", type=Path, help="measure this directory instead of a generated corpus")
    parser.add_argument("--files", type=int, default=2000, help="files in the generated corpus")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="N for the scaling measurement")
    parser.add_argument("--memory-lines", type=int, default=300_000, help="lines of the generated memory corpus")
    parser.add_argument("--skip-flake8", action="store_true", help="skip the (slow) flake8 comparison")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count check / parse and flake8 with / without in instructions (needs valgrind)",
    )
    parser.add_argument(
        "--instructions-files",
        type=int,
        default=300,
        help="files (--project: modules of a generated project) of the flake8 instruction counts; 0 for all",
    )
    parser.add_argument("--project", action="store_true", help="measure the project index (cold and warm cache)")
    args = parser.parse_args(list(argv) or None)

    work = Path(tempfile.mkdtemp(prefix="nograd-bench-"))
    if args.project:
        try:
            return measure_project(args, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    try:
        tree = args.path or work / "corpus"
        if args.path is None:
            generate(tree, args.files, fixable_share=0.01)
        files, lines = count(tree)
        print(f"corpus: {tree} ({len(files)} files, {lines} lines); medians of {args.runs} runs")
        check = [PY, "-m", "flake8_nograd", "check", "--exit-zero", "--quiet"]

        if not args.skip_flake8:
            with_plugin, without = compare(
                args.runs,
                lambda: wall([PY, "-m", "flake8", "--jobs", "1", "--exit-zero", str(tree)]),
                lambda: wall([PY, "-c", FLAKE8_WITHOUT, "--jobs", "1", "--exit-zero", str(tree)]),
            )
            print(f"  flake8 --jobs 1: with flake8-nograd {with_plugin:.2f}s, without {without:.2f}s")
            report("flake8 with / without flake8-nograd", with_plugin / without, "<= 1.10")

        ours, parse = compare(
            args.runs, lambda: wall([*check, "--jobs", "1", str(tree)]), lambda: wall([PY, "-c", PARSE_LOOP, str(tree)])
        )
        print(f"  check --jobs 1 {ours:.2f}s, read + ast.parse loop {parse:.2f}s")
        report("check (1 job) / read + ast.parse", ours / parse, "<= 2.5")
        if args.instructions:
            ours_ir = instructions([*check, "--jobs", "1", str(tree)])
            parse_ir = instructions([PY, "-c", PARSE_LOOP, str(tree)])
            print(f"  check --jobs 1 {ours_ir:,} instructions, read + ast.parse loop {parse_ir:,}")
            report("check (1 job) / read + ast.parse, in instructions", ours_ir / parse_ir, "<= 2.5")
            if not args.skip_flake8:
                subset = instructions_subset(tree, args.instructions_files)
                with_ir = instructions([PY, "-m", "flake8", "--jobs", "1", "--exit-zero", *subset])
                without_ir = instructions([PY, "-c", FLAKE8_WITHOUT, "--jobs", "1", "--exit-zero", *subset])
                print(
                    f"  flake8 --jobs 1 on {len(subset)} of the {len(files)} files: "
                    f"with flake8-nograd {with_ir:,} instructions, without {without_ir:,}"
                )
                report("flake8 with / without flake8-nograd, in instructions", with_ir / without_ir, "<= 1.10")
        parallel = statistics.median(wall([*check, "--jobs", str(args.jobs), str(tree)]) for _ in range(args.runs))
        report(f"check --jobs 1 / check --jobs {args.jobs} (speed-up)", ours / parallel)

        # fix on a copy where 1 file in 100 has a fixable finding, against check on the same tree
        # (a generated corpus has them already; a given tree gets them appended to 1% of its files).
        fix_times, check_times = [], []
        for _ in range(args.runs):
            copy = work / "fixcopy"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(tree, copy)
            if args.path is not None:
                inject_fixable(copy, 0.01)
            check_times.append(wall([*check, "--jobs", "1", str(copy)]))
            fix_times.append(wall([PY, "-m", "flake8_nograd", "fix", "--exit-zero", "--quiet", "--jobs", "1", str(copy)]))
        report("fix / check (1 file in 100 fixable)", statistics.median(fix_times) / statistics.median(check_times), "<= 1.5")

        memory_tree = work / "memory"
        if args.path is None:
            generate_lines(memory_tree, args.memory_lines)
        else:
            memory_tree = tree
        memory_files, memory_lines = count(memory_tree)
        largest = max(memory_files, key=lambda p: p.stat().st_size)
        tree_peak = peak_rss([*check, "--jobs", "1", str(memory_tree)])
        file_peak = peak_rss([*check, "--jobs", "1", str(largest)])
        print(f"  peak RSS over {len(memory_files)} files / {memory_lines} lines: {tree_peak} KiB; largest file alone: {file_peak} KiB")
        report("peak RSS tree / largest file", tree_peak / file_peak, "<= 1.5")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


# -- project mode -------------------------------------------------------------------------------
ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")


def project_copy(args: argparse.Namespace, work: Path, files: int, name: str) -> Path:
    """The tree to measure: a generated project, or a copy of --path (runs change a file and
    remove caches, never in the user's tree) with a root marker at its top."""
    tree = work / name
    if args.path is None:
        generate_project(tree, files)
        return tree
    shutil.copytree(args.path, tree, symlinks=True, ignore=shutil.ignore_patterns(".git", ".nograd_cache"))
    if not any((tree / marker).exists() for marker in ROOT_MARKERS):
        (tree / "setup.cfg").write_text("", encoding="utf-8")
    return tree


def clear_caches(tree: Path) -> None:
    for cache in list(tree.rglob(".nograd_cache")):
        shutil.rmtree(cache, ignore_errors=True)


def cold(tree: Path, command: Sequence[str]) -> Callable[[], float]:
    def run() -> float:
        clear_caches(tree)
        return wall(command)

    return run


def warm_one_changed(tree: Path, command: Sequence[str]) -> Callable[[], float]:
    """A run after one module changed since the previous run (whose cache is kept)."""
    counter = [0]

    def run() -> float:
        counter[0] += 1
        touch_one_module(tree, counter[0])
        return wall(command)

    return run


def measure_project_flake8_instructions(args: argparse.Namespace, work: Path, tree: Path) -> None:
    """flake8 with / without the plugin in instructions, cold and warm, on a generated project of
    --instructions-files modules (or on `tree`, the copy of --path, or with 0 for all)."""
    counted = tree
    if args.path is None and args.instructions_files > 0:
        counted = project_copy(args, work, args.instructions_files, "counted")
    counted_files, counted_lines = count(counted)
    flake8_with = [PY, "-m", "flake8", "--jobs", "1", "--exit-zero", str(counted)]
    flake8_without = [PY, "-c", FLAKE8_WITHOUT, "--jobs", "1", "--exit-zero", str(counted)]
    clear_caches(counted)
    cold_with = instructions(flake8_with)
    cold_without = instructions(flake8_without)
    # Warm: the cold run above filled the cache; each counted run follows a change of one module
    # (a content no earlier run of this tree had), as in the wall-time runs.
    touch_one_module(counted, args.runs + 2)
    warm_with = instructions(flake8_with)
    touch_one_module(counted, args.runs + 3)
    warm_without = instructions(flake8_without)
    print(
        f"  instructions, flake8 --jobs 1 on {'a smaller generated project, ' if counted != tree else ''}"
        f"{len(counted_files)} files / {counted_lines} lines: "
        f"cold with flake8-nograd {cold_with:,}, without {cold_without:,}; "
        f"warm (1 file changed) with {warm_with:,}, without {warm_without:,}"
    )
    report("flake8 with / without flake8-nograd, cold, instructions", cold_with / cold_without, "<= 1.25")
    report("flake8 with / without, warm, 1 changed, in instructions", warm_with / warm_without, "<= 1.10")


def measure_project(args: argparse.Namespace, work: Path) -> int:
    tree = project_copy(args, work, args.files, "project")
    files, lines = count(tree)
    print(f"project: {tree} ({len(files)} files, {lines} lines); medians of {args.runs} runs")
    check = [PY, "-m", "flake8_nograd", "check", "--exit-zero", "--quiet", "--jobs", "1"]
    flake8_with = [PY, "-m", "flake8", "--jobs", "1", "--exit-zero", str(tree)]
    flake8_without = [PY, "-c", FLAKE8_WITHOUT, "--jobs", "1", "--exit-zero", str(tree)]
    parse = [PY, "-c", PARSE_LOOP, str(tree)]

    if not args.skip_flake8:
        with_plugin, without = compare(args.runs, cold(tree, flake8_with), lambda: wall(flake8_without))
        print(f"  flake8 --jobs 1, cold cache: with flake8-nograd {with_plugin:.2f}s, without {without:.2f}s")
        report("flake8 with / without flake8-nograd, cold cache", with_plugin / without, "<= 1.25")
        wall(flake8_with)  # fills the cache
        with_plugin, without = compare(args.runs, warm_one_changed(tree, flake8_with), warm_one_changed(tree, flake8_without))
        print(f"  flake8 --jobs 1, warm cache, one file changed: with {with_plugin:.2f}s, without {without:.2f}s")
        report("flake8 with / without flake8-nograd, warm, 1 file changed", with_plugin / without, "<= 1.10")

    ours, reference = compare(args.runs, cold(tree, [*check, str(tree)]), lambda: wall(parse))
    print(f"  check --jobs 1, cold cache {ours:.2f}s, read + ast.parse loop {reference:.2f}s")
    report("check (1 job) / read + ast.parse, cold cache", ours / reference, "<= 3.0")
    wall([*check, str(tree)])
    warm, reference = compare(args.runs, warm_one_changed(tree, [*check, str(tree)]), lambda: wall(parse))
    print(f"  check --jobs 1, warm cache, one file changed {warm:.2f}s, read + ast.parse loop {reference:.2f}s")
    report("check (1 job) / read + ast.parse, warm, 1 file changed", warm / reference, "<= 2.5")
    alone, reference = compare(args.runs, lambda: wall([*check, "--no-project", str(tree)]), lambda: wall(parse))
    report("check --no-project (1 job) / read + ast.parse", alone / reference, "<= 2.5")
    if args.instructions:
        parse_ir = instructions(parse)
        clear_caches(tree)
        cold_ir = instructions([*check, str(tree)])
        touch_one_module(tree, args.runs + 1)
        warm_ir = instructions([*check, str(tree)])
        print(f"  instructions: check cold {cold_ir:,}, warm (1 file changed) {warm_ir:,}, read + ast.parse {parse_ir:,}")
        report("check / read + ast.parse, cold cache, in instructions", cold_ir / parse_ir, "<= 3.0")
        report("check / read + ast.parse, warm, 1 changed, in instructions", warm_ir / parse_ir, "<= 2.5")
        if not args.skip_flake8:
            measure_project_flake8_instructions(args, work, tree)

    # The index's memory: what a project run holds beyond a --no-project run, per 100 k lines,
    # at half the size and at the full size (linear growth gives about the same figure).
    sizes = [(tree, lines)]
    if args.path is None:
        half = project_copy(args, work, max(1, args.files // 2), "half")
        sizes.insert(0, (half, count(half)[1]))
    extra = []
    for measured, measured_lines in sizes:
        clear_caches(measured)
        project_peak = peak_rss([*check, str(measured)])
        alone_peak = peak_rss([*check, "--no-project", str(measured)])
        extra.append((measured_lines, project_peak - alone_peak))
        print(f"  peak RSS over {measured_lines} lines: {project_peak} KiB with the index, {alone_peak} KiB --no-project")
        report(f"index memory, MB per 100 k lines ({measured_lines} lines)", (project_peak - alone_peak) / 1024 * 100_000 / max(1, measured_lines))
    if len(extra) == 2 and extra[1][0] > extra[0][0]:
        # The growth between the two sizes, without what any project run costs once (imports).
        (small_lines, small), (large_lines, large) = extra
        report("index memory growth, MB per 100 k lines (half -> full)", (large - small) / 1024 * 100_000 / (large_lines - small_lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
