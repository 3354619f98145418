"""Everything around the project index: the root, the files, module names, the cache, the options
and how both front ends hand each module its project context."""
import argparse
import ast
import contextlib
import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flake8_nograd import cli, runner
from flake8_nograd import checker
from flake8_nograd.config import Config
from flake8_nograd.plugin import Plugin
from flake8_nograd.project import cache as cache_module
from flake8_nograd.project import files as files_module
from flake8_nograd.project import session
from flake8_nograd.project.cache import CACHEDIR_TAG, ProjectCache
from flake8_nograd.project.files import find_project_root, list_project, module_names, project_files


def _touch(root: Path, *names: str, text: str = "") -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _no_marker_above(path: Path) -> bool:
    return not any(
        (parent / marker).exists() for parent in path.resolve().parents for marker in files_module.ROOT_MARKERS
    )


@pytest.fixture(autouse=True)
def _fresh_session():
    session.forget()
    yield
    session.forget()


# -- the project root ---------------------------------------------------------------------------
@pytest.mark.parametrize("marker", ["pyproject.toml", "setup.cfg", "setup.py", ".git"])
def test_the_root_is_the_nearest_folder_with_a_marker(tmp_path, marker):
    _touch(tmp_path, marker, "src/pkg/__init__.py", "src/pkg/mod.py")
    real = os.path.realpath(tmp_path)
    assert find_project_root(str(tmp_path / "src/pkg/mod.py")) == real
    assert find_project_root(str(tmp_path / "src/pkg")) == real
    assert find_project_root(str(tmp_path)) == real


def test_a_nested_project_wins_and_a_git_worktree_file_counts(tmp_path):
    _touch(tmp_path, "pyproject.toml", "tools/inner/.git", "tools/inner/lib.py")
    (tmp_path / ".git").mkdir()
    assert find_project_root(str(tmp_path / "tools/inner/lib.py")) == os.path.realpath(tmp_path / "tools/inner")
    assert find_project_root(str(tmp_path / "tools")) == os.path.realpath(tmp_path)


def test_no_root_without_a_marker(tmp_path):
    if not _no_marker_above(tmp_path):
        pytest.skip("a folder above the temporary folder holds a project marker")
    _touch(tmp_path, "a/b/c.py")
    assert find_project_root(str(tmp_path / "a/b/c.py")) is None
    assert session.project_context(str(tmp_path / "a/b/c.py"), Config()) is None


# -- the project's files ------------------------------------------------------------------------
def test_project_files_skip_hidden_folders_environments_and_build_output(tmp_path):
    _touch(
        tmp_path,
        "pyproject.toml", "train.py", "pkg/__init__.py", "pkg/model.py", "pkg/sub/deep.py", "notes.txt",
        "nb.ipynb", ".hidden/x.py", "pkg/.cache/y.py", "env/pyvenv.cfg", "env/lib/z.py", "lib/site-packages/w.py",
        "pkg/__pycache__/model.py", "build/lib/pkg/model.py", "dist/d.py", "node_modules/n.py", ".tox/t.py",
        ".eggs/e.py", "pkg.egg-info/i.py", "venv/v.py", "generated_api/g.py", "pkg/generated_x.py",
    )
    real = os.path.realpath(tmp_path)
    expected = [os.path.join(real, name) for name in ("pkg/__init__.py", "pkg/model.py", "pkg/sub/deep.py", "train.py")]
    assert project_files(str(tmp_path), ["generated_*"]) == expected
    assert project_files(str(tmp_path)) == sorted(expected + [os.path.join(real, "generated_api/g.py"), os.path.join(real, "pkg/generated_x.py")])


def test_project_files_are_real_paths_once_each(tmp_path):
    _touch(tmp_path, "pkg/a.py")
    (tmp_path / "link.py").symlink_to(tmp_path / "pkg/a.py")
    (tmp_path / "alias").symlink_to(tmp_path / "pkg", target_is_directory=True)
    _touch(tmp_path.parent, f"{tmp_path.name}-elsewhere/far.py")
    (tmp_path / "far_link.py").symlink_to(tmp_path.parent / f"{tmp_path.name}-elsewhere/far.py")
    assert project_files(str(tmp_path)) == [os.path.join(os.path.realpath(tmp_path), "pkg/a.py")]


def test_beyond_the_cap_there_are_no_project_files_and_the_reason_is_given(tmp_path):
    _touch(tmp_path, "a.py", "b.py", "c.py")
    assert list_project(str(tmp_path), limit=3).files == tuple(os.path.join(os.path.realpath(tmp_path), n) for n in ("a.py", "b.py", "c.py"))
    listing = list_project(str(tmp_path), limit=2)
    assert listing.files == ()
    assert listing.skipped == f"project analysis is off for {tmp_path}: more than 2 Python files"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads every folder")
def test_an_unreadable_folder_is_skipped(tmp_path):
    _touch(tmp_path, "ok.py", "locked/secret.py")
    (tmp_path / "locked").chmod(0)
    try:
        assert project_files(str(tmp_path)) == [os.path.join(os.path.realpath(tmp_path), "ok.py")]
        assert project_files(str(tmp_path / "locked")) == []
    finally:
        (tmp_path / "locked").chmod(0o755)


# -- module names -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path, names",
    [
        ("src/pkg/sub/mod.py", ["pkg.sub.mod", "src.pkg.sub.mod"]),
        ("src/pkg/__init__.py", ["pkg", "src.pkg"]),
        ("src/pkg/sub/__init__.py", ["pkg.sub", "src.pkg.sub"]),
        ("pkg2/util.py", ["pkg2.util"]),
        ("pkg2/__init__.py", ["pkg2"]),
        ("scripts/train.py", ["train", "scripts.train"]),
        ("train.py", ["train"]),
        ("tools/my-scripts/run.py", ["run"]),
        ("train-model.py", []),
        ("src/pkg/class.py", []),
    ],
)
def test_module_names(tmp_path, path, names):
    _touch(tmp_path, "src/pkg/__init__.py", "src/pkg/sub/__init__.py", "pkg2/__init__.py", path)
    assert module_names(str(tmp_path), str(tmp_path / path)) == names


def test_a_package_root_is_part_of_the_name_and_nothing_above_it(tmp_path):
    _touch(tmp_path, "__init__.py", "proj/__init__.py", "proj/core/__init__.py", "proj/core/ops.py")
    root = tmp_path / "proj"
    assert module_names(str(root), str(root / "core/ops.py")) == ["proj.core.ops", "core.ops"]


# -- the cache ----------------------------------------------------------------------------------
def test_a_stored_entry_reads_back_in_a_tagged_ignored_folder(tmp_path):
    cache = ProjectCache(str(tmp_path / "cache"))
    assert cache.load("k") is None
    cache.store("k", {"functions": ["f", "g"], "n": 3})
    assert cache.load("k") == {"functions": ["f", "g"], "n": 3}
    assert ProjectCache(str(tmp_path / "cache")).load("k") == {"functions": ["f", "g"], "n": 3}
    assert (tmp_path / "cache/.gitignore").read_text().splitlines()[-1] == "*"
    assert (tmp_path / "cache/CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55\n")
    assert (tmp_path / "cache/CACHEDIR.TAG").read_text() == CACHEDIR_TAG
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [".gitignore", "CACHEDIR.TAG", f"v{cache_module.STAMP}"]


def test_a_disabled_cache_misses_writes_nothing_and_its_lock_does_not_block(tmp_path):
    cache = ProjectCache(None)
    cache.store("k", {"a": 1})
    assert cache.load("k") is None and not cache.enabled
    with cache.lock("index"):
        with cache.lock("index"):  # no lock at all: no deadlock either
            pass


def test_another_versions_entries_are_never_read(tmp_path, monkeypatch):
    ProjectCache(str(tmp_path)).store("k", {"a": 1})
    monkeypatch.setattr(cache_module, "STAMP", "99.0.0-1")
    assert ProjectCache(str(tmp_path)).load("k") is None


@pytest.mark.parametrize(
    "content",
    ["", "{", "not json", "[1, 2]", '{"stamp": "x", "key": "k", "value": {}}', "\udcff", None],
)
def test_a_corrupt_entry_is_a_miss(tmp_path, content):
    cache = ProjectCache(str(tmp_path))
    cache.store("k", {"a": 1})
    entry = cache._entry_path("k")
    if content is None:
        Path(entry).write_bytes(b"\xff\xfe\x00garbage")
    elif content == "\udcff":
        Path(entry).write_text(json.dumps({"stamp": cache_module.STAMP, "key": "other", "value": {"a": 1}}))
    else:
        Path(entry).write_text(content)
    assert cache.load("k") is None
    cache.store("k", {"a": 2})  # and it is overwritten by the next store
    assert cache.load("k") == {"a": 2}


def test_a_failed_store_leaves_the_old_entry_and_no_temporary_file(tmp_path, monkeypatch):
    cache = ProjectCache(str(tmp_path))
    cache.store("k", {"version": 1})

    def fail(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_module.os, "replace", fail)
    cache.store("k", {"version": 2})
    monkeypatch.undo()
    assert ProjectCache(str(tmp_path)).load("k") == {"version": 1}
    assert [p.name for p in Path(ProjectCache(str(tmp_path)).entries).iterdir() if p.name.startswith(".tmp-")] == []
    assert not cache.enabled  # off for the rest of this process


def test_a_value_json_cannot_hold_is_not_stored(tmp_path):
    cache = ProjectCache(str(tmp_path))
    cache.store("k", {"a": object()})
    assert ProjectCache(str(tmp_path)).load("k") is None
    assert [p.name for p in Path(cache.entries).iterdir()] == []


def test_a_cache_folder_that_cannot_be_made_disables_the_cache(tmp_path):
    (tmp_path / "file").write_text("")
    cache = ProjectCache(str(tmp_path / "file" / "cache"))
    cache.store("k", {"a": 1})
    assert cache.load("k") is None and not cache.enabled
    with cache.lock("index"):
        pass


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes everywhere")
def test_a_read_only_cache_folder_disables_the_cache(tmp_path):
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o500)
    try:
        cache = ProjectCache(str(tmp_path / "ro" / "cache"))
        cache.store("k", {"a": 1})
        with cache.lock("index"):
            pass
        assert cache.load("k") is None and not cache.enabled
    finally:
        (tmp_path / "ro").chmod(0o755)


def _store_many(directory: str, writer: int) -> None:
    cache = ProjectCache(directory)
    for round_ in range(40):
        cache.store("shared", {"writer": writer, "round": round_, "payload": [writer] * 5000})


def test_concurrent_writers_leave_a_valid_entry(tmp_path):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_store_many, args=(str(tmp_path), n)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    value = ProjectCache(str(tmp_path)).load("shared")
    assert value is not None and value["round"] == 39 and value["payload"] == [value["writer"]] * 5000
    entries = Path(ProjectCache(str(tmp_path)).entries)
    assert [p.name for p in entries.iterdir() if p.suffix == ".json"] == [Path(ProjectCache(str(tmp_path))._entry_path("shared")).name]


def _hold_lock(directory: str, log: str, worker: int) -> None:
    import time

    cache = ProjectCache(directory)
    for _ in range(3):
        with cache.lock("index"):
            with open(log, "a") as handle:
                handle.write(f"start {worker}\n")
            time.sleep(0.02)  # another worker that got in now would write between start and end
            with open(log, "a") as handle:
                handle.write(f"end {worker}\n")


@pytest.mark.skipif(cache_module.fcntl is None and cache_module.msvcrt is None, reason="no file locks here")
def test_the_lock_lets_one_process_in_at_a_time(tmp_path):
    log = tmp_path / "log.txt"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_hold_lock, args=(str(tmp_path / "cache"), str(log), n)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    lines = log.read_text().splitlines()
    assert len(lines) == 24
    for start, end in zip(lines[::2], lines[1::2]):
        assert start.startswith("start ") and end == "end " + start.split()[1]


# -- options ------------------------------------------------------------------------------------
def test_config_reads_the_project_options():
    values = argparse.Namespace(no_project=True, no_cache="true", cache_dir="cache", exclude=["a", "b"], extend_exclude=["c", "a"])
    config = Config.from_values(values)
    assert (config.project, config.cache, config.cache_dir) == (False, False, os.path.abspath("cache"))
    assert config.project_exclude == ("a", "b", "c")
    assert (Config().project, Config().cache, Config().cache_dir, Config().project_exclude) == (True, True, None, ())
    assert Config.from_values(argparse.Namespace(no_project=("false",), no_cache=None)).project is True


def test_flake8_reads_the_project_options_from_its_config(tmp_path, monkeypatch):
    from flake8.api import legacy

    (tmp_path / "setup.cfg").write_text("[flake8]\nno-project = true\nno-cache = yes\ncache-dir = caches/ng\n")
    monkeypatch.chdir(tmp_path)
    options = legacy.get_style_guide().options
    config = Config.from_values(options)
    assert (config.project, config.cache, config.cache_dir) == (False, False, str(tmp_path / "caches/ng"))
    assert set(files_module.DEFAULT_EXCLUDE) >= set(config.project_exclude)  # flake8's defaults are ours too


def test_the_command_reads_the_project_options_from_config_files(tmp_path, monkeypatch):
    seen = {}

    def capture(paths, options, jobs, progress=None):
        seen["config"] = options.config
        return []

    monkeypatch.setattr(cli, "run_files", capture)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "setup.cfg").write_text("[flake8]\nno-project = true\ncache-dir = ng\n")
    assert cli.main(["check", "-q"]) == 0
    assert (seen["config"].project, seen["config"].cache, seen["config"].cache_dir) == (False, True, str(tmp_path / "ng"))
    (tmp_path / "pyproject.toml").write_text('[tool.flake8-nograd]\nno-project = false\nno-cache = true\n')
    assert cli.main(["check", "-q"]) == 0
    assert (seen["config"].project, seen["config"].cache) == (True, False)
    assert cli.main(["check", "-q", "--no-project", "--cache-dir", "elsewhere"]) == 0
    assert (seen["config"].project, seen["config"].cache_dir) == (False, str(tmp_path / "elsewhere"))
    assert seen["config"].project_exclude[:2] == (".git", ".hg")  # the command's default excludes


def test_a_flag_that_is_not_a_boolean_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "setup.cfg").write_text("[flake8]\nno-project = maybe\n")
    with pytest.raises(SystemExit) as stopped:
        cli.main(["check", "-q"])
    assert stopped.value.code == 2
    assert "no-project: not a boolean: 'maybe' (use true or false)" in capsys.readouterr().err


# -- the project context, as the front ends ask for it ------------------------------------------
class _FakeContext:
    """Stands for a ProjectContext: which module the front end asked about."""

    def __init__(self, module: str) -> None:
        self.module = module

    def final_findings(self, text, codes):
        return None  # nothing known in advance: the front end analyses the file

    def walked_module(self, text=None):
        return None  # no walk of the index's: the front end parses the file


class _FakeIndex:
    builds = []

    def __init__(self, root, files):
        self.root, self.files = root, files

    @classmethod
    def build(cls, root, files, config, cache, checked=(), store=True):
        cls.builds.append((root, list(files), cache.directory))
        return cls(root, files)

    def holds(self, path):
        return path in self.files

    def context_for(self, path):
        path = os.path.realpath(path)  # as the index does for a path it does not hold
        return _FakeContext(os.path.relpath(path, self.root)) if path in self.files else None


@pytest.fixture
def fake_index(monkeypatch):
    _FakeIndex.builds = []
    monkeypatch.setattr(session, "ProjectIndex", _FakeIndex)
    return _FakeIndex


@pytest.fixture
def seen_projects(monkeypatch):
    """The `project` each front end hands to check_tree (the check itself runs without it)."""
    seen = []

    def spy(tree, source, config=None, rules=checker.ALL_RULES, project=None):
        seen.append(project.module if project is not None else None)
        return checker.check_tree(tree, source, config, rules)

    monkeypatch.setattr(runner, "check_tree", spy)
    monkeypatch.setattr("flake8_nograd.plugin.check_tree", spy)
    return seen


SOURCE = "import torch\n\nwith torch.no_grad:\n    pass\n"


def _project(tmp_path):
    _touch(tmp_path, "pyproject.toml", "pkg/__init__.py")
    _touch(tmp_path, "pkg/a.py", "pkg/b.py", text=SOURCE)
    return os.path.realpath(tmp_path)


def test_the_index_is_built_once_per_root_and_each_file_gets_its_context(tmp_path, fake_index):
    root = _project(tmp_path)
    assert session.project_context(str(tmp_path / "pkg/a.py"), Config()).module == os.path.join("pkg", "a.py")
    assert session.project_context(str(tmp_path / "pkg/b.py"), Config()).module == os.path.join("pkg", "b.py")
    files = [os.path.join(root, n) for n in ("pkg/__init__.py", "pkg/a.py", "pkg/b.py")]
    assert fake_index.builds == [(root, files, os.path.join(root, ".nograd_cache"))]
    session.project_context(str(tmp_path / "pkg/a.py"), Config(cache=False))
    session.project_context(str(tmp_path / "pkg/a.py"), Config(cache_dir=str(tmp_path / "c")))
    assert [build[2] for build in fake_index.builds] == [os.path.join(root, ".nograd_cache"), None, str(tmp_path / "c")]


def test_no_project_no_stdin_and_a_failing_index_mean_no_context(tmp_path, fake_index, monkeypatch):
    _project(tmp_path)
    assert session.project_context(str(tmp_path / "pkg/a.py"), Config(project=False)) is None
    assert session.project_context("stdin", Config()) is None and session.project_context("-", Config()) is None
    assert fake_index.builds == []
    calls = []

    def explode(root, files, config, cache, checked=(), store=True):
        calls.append(root)
        raise RuntimeError("index bug")

    monkeypatch.setattr(fake_index, "build", explode)
    assert session.project_context(str(tmp_path / "pkg/a.py"), Config()) is None
    assert session.project_context(str(tmp_path / "pkg/b.py"), Config()) is None
    assert len(calls) == 1  # not retried for every file


def test_the_command_hands_each_file_its_context(tmp_path, fake_index, seen_projects, monkeypatch):
    _project(tmp_path)
    result = runner.process_file(str(tmp_path / "pkg/a.py"), runner.RunOptions())
    assert [r["code"] for r in result.findings] == ["NG401"]
    fixed = runner.process_file(str(tmp_path / "pkg/b.py"), runner.RunOptions(fix=True))
    assert [r["code"] for r in fixed.fixed] == ["NG401"]
    assert seen_projects == [os.path.join("pkg", "a.py"), os.path.join("pkg", "b.py"), os.path.join("pkg", "b.py")]
    seen_projects.clear()
    runner.process_file(str(tmp_path / "pkg/a.py"), runner.RunOptions(config=Config(project=False)))
    assert seen_projects == [None]


def test_a_notebook_gets_a_context_for_its_imports(tmp_path, fake_index, seen_projects, monkeypatch):
    root = _project(tmp_path)
    notebook = {
        "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": SOURCE}],
        "metadata": {"language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5,
    }
    (tmp_path / "explore.ipynb").write_text(json.dumps(notebook))
    contexts = []
    monkeypatch.setattr(fake_index, "context_for", lambda self, path: contexts.append(path) or _FakeContext("explore"))
    result = runner.process_file(str(tmp_path / "explore.ipynb"), runner.RunOptions())
    assert [r["code"] for r in result.findings] == ["NG401"]
    assert contexts == [os.path.join(root, "explore.ipynb")] and seen_projects == ["explore"]


def test_the_plugin_hands_each_file_its_context(tmp_path, fake_index, seen_projects):
    _project(tmp_path)
    Plugin.parse_options(argparse.Namespace(filenames=[str(tmp_path / "pkg")], stdin_display_name="stdin"))
    try:
        assert len(fake_index.builds) == 1  # in flake8's main process, before any file
        tree = ast.parse(SOURCE)
        for filename in (str(tmp_path / "pkg/a.py"), "stdin", "-", str(tmp_path / "pkg/b.py")):
            found = [code for _, _, code, _ in Plugin(tree, SOURCE.splitlines(True), filename).run()]
            assert [text.split()[0] for text in found] == ["NG401"]
        assert seen_projects == [os.path.join("pkg", "a.py"), None, None, os.path.join("pkg", "b.py")]
        assert len(fake_index.builds) == 1
        Plugin.parse_options(argparse.Namespace(no_project=True, filenames=[str(tmp_path / "pkg")]))
        seen_projects.clear()
        list(Plugin(tree, SOURCE.splitlines(True), str(tmp_path / "pkg/a.py")).run())
        assert seen_projects == [None]
    finally:
        Plugin.config = Config()


def test_stdin_with_a_display_name_in_a_project_gets_that_files_context(tmp_path, fake_index, seen_projects):
    _project(tmp_path)
    display = str(tmp_path / "pkg/a.py")
    Plugin.parse_options(argparse.Namespace(filenames=["-"], stdin_display_name=display))
    try:
        list(Plugin(ast.parse(SOURCE), SOURCE.splitlines(True), display).run())
        assert seen_projects == [os.path.join("pkg", "a.py")]
    finally:
        Plugin.config = Config()


# -- in subprocesses: the cap's note, the imports of a --no-project run, both front ends agree -----
def _run(cwd, *code_and_args):
    return subprocess.run([sys.executable, *code_and_args], cwd=cwd, capture_output=True, text=True, timeout=300)


CAPPED = "import sys, flake8_nograd.project.files as files; files.MAX_PROJECT_FILES = 2\n"


def test_a_tree_beyond_the_cap_is_said_once_by_each_front_end(tmp_path):
    _project(tmp_path)
    note = f"flake8-nograd: project analysis is off for {os.path.realpath(tmp_path)}: more than 2 Python files"
    command = _run(tmp_path, "-c", CAPPED + "from flake8_nograd.cli import main; sys.exit(main())", "check", "-j", "2", ".")
    assert command.stderr.count(note) == 1, command.stderr
    assert command.stdout.count("NG401") == 2
    flake8 = _run(tmp_path, "-c", CAPPED + "from flake8.main.cli import main; sys.exit(main())", "--select", "NG", "-j", "2", ".")
    assert flake8.stderr.count(note) == 1, flake8.stderr
    assert flake8.stdout.count("NG401") == 2
    quiet = _run(tmp_path, "-c", CAPPED + "from flake8_nograd.cli import main; sys.exit(main())", "check", "--no-project", ".")
    assert "project analysis is off" not in quiet.stderr


def test_a_no_project_run_imports_neither_the_project_code_nor_libcst(tmp_path):
    _project(tmp_path)
    probe = (
        "import sys\nfrom flake8_nograd.cli import main\n"
        "main(['check', '-q', '-j', '1', '--exit-zero', *sys.argv[1:], '.'])\n"
        "print(sorted(m for m in ('flake8_nograd.project.session', 'flake8_nograd.project.files', 'libcst') if m in sys.modules))\n"
    )
    assert _run(tmp_path, "-c", probe, "--no-project").stdout.splitlines()[-1] == "[]"
    assert _run(tmp_path, "-c", probe).stdout.splitlines()[-1] == "['flake8_nograd.project.files', 'flake8_nograd.project.session']"


THREE_FILES = {
    "utils_eval.py": (
        "def evaluate(model, loader):\n"
        "    model.eval()\n"
        "    total = 0\n"
        "    for x, y in loader:\n"
        "        out = model(x)\n"
        "        total += (out.argmax(1) == y).sum()\n"
        "    return total\n"
    ),
    "helpers.py": (
        "import torch\n\n\n"
        "def apply_update(loss, optimizer):\n"
        "    optimizer.zero_grad()\n"
        "    loss.backward()\n"
        "    optimizer.step()\n\n\n"
        "def scale_weights(layer, factor):\n"
        "    layer.weight.mul_(factor)\n\n\n"
        "def broken(model, x):\n"
        "    with torch.no_grad:\n"
        "        return model(x)\n"
    ),
    "train.py": (
        "import torch\n"
        "import torch.nn.functional as F\n\n"
        "from helpers import apply_update, scale_weights\n"
        "from utils_eval import evaluate\n\n\n"
        "def train(model, loader, optimizer):\n"
        "    for x, y in loader:\n"
        "        with torch.no_grad():\n"
        "            loss = F.cross_entropy(model(x), y)\n"
        "        apply_update(loss, optimizer)\n"
        "    scale_weights(model.fc, 0.5)\n"
        "    with torch.no_grad():\n"
        "        acc = evaluate(model, loader)\n"
        "    for p in model.parameters():\n"
        "        p -= 0.1 * p.grad\n"
        "    return acc\n"
    ),
}


def _findings(output: str):
    found = set()
    for line in output.splitlines():
        path, line_number, column, rest = line.split(":", 3)
        found.add((os.path.normpath(path), int(line_number), int(column), rest.split()[0]))
    return found


@pytest.mark.parametrize("mode", [(), ("--no-project",)])
def test_both_front_ends_give_the_same_findings_on_a_project(tmp_path, mode):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'three'\n")
    for name, text in THREE_FILES.items():
        (tmp_path / name).write_text(text)
    flake8 = _run(tmp_path, "-m", "flake8", "--isolated", "--select", "NG", *mode, ".")
    command = _run(tmp_path, "-m", "flake8_nograd", "check", "--select", "NG", *mode, ".")
    assert flake8.stderr == "" and command.returncode == 1, (flake8.stderr, command.stderr)
    assert _findings(flake8.stdout) == _findings(command.stdout)
    alone = {("helpers.py", 15, 10, "NG401"), ("train.py", 16, 5, "NG301")}
    # With the project: the loss handed to helpers.apply_update (NG101) and the in-place update
    # in helpers.scale_weights called with grad on (NG301), both at the call in train.py.
    together = alone | {("train.py", 12, 9, "NG101"), ("train.py", 13, 5, "NG301")}
    assert _findings(command.stdout) == (alone if mode else together)


def test_the_minimal_toml_reader_reads_the_flags():
    from flake8_nograd.settings import parse_table_minimally

    text = '[tool.flake8-nograd]\nno-project = true\nno-cache = false  # kept\ncache-dir = "ng"\n'
    assert parse_table_minimally(text) == ({"no-project": True, "no-cache": False, "cache-dir": "ng"}, "")


def test_prepare_indexes_each_root_once_and_says_what_it_left_out(tmp_path, fake_index, monkeypatch):
    root = _project(tmp_path)
    other = tmp_path / "vendor" / "big"
    _touch(other, "setup.py", "x.py", "y.py")
    monkeypatch.setattr(files_module, "MAX_PROJECT_FILES", 2)
    notes = session.prepare([str(tmp_path / "pkg/a.py"), str(tmp_path / "pkg/b.py"), str(other / "x.py"), "-"], Config())
    assert [build[0] for build in fake_index.builds] == []  # 3 files in the first project too: over the cap
    big = os.path.realpath(other)
    assert notes == [
        f"project analysis is off for {root}: more than 2 Python files; files are checked one at a time (exclude folders with --extend-exclude)",
        f"project analysis is off for {big}: more than 2 Python files; files are checked one at a time (exclude folders with --extend-exclude)",
    ]
    monkeypatch.setattr(files_module, "MAX_PROJECT_FILES", 6)  # the outer project holds the inner one's 3 files
    session.forget()
    assert session.prepare([str(tmp_path / "pkg/a.py"), str(other / "y.py")], Config()) == []
    assert [build[0] for build in fake_index.builds] == [root, big]
    assert session.prepare([str(tmp_path / "pkg/a.py")], Config(project=False)) == []


def test_a_path_the_os_refuses_means_no_context(fake_index):
    assert session.project_context("a\0b.py", Config()) is None
    assert session.prepare(["a\0b.py"], Config()) == []


def test_a_symlinked_file_belongs_to_the_project_of_its_target(tmp_path, fake_index):
    _touch(tmp_path / "one", "pyproject.toml", "a.py", text=SOURCE)
    _touch(tmp_path / "two", "pyproject.toml", "b.py", text=SOURCE)
    (tmp_path / "one" / "b_link.py").symlink_to(tmp_path / "two" / "b.py")
    assert session.project_context(str(tmp_path / "one/a.py"), Config()).module == "a.py"
    assert session.project_context(str(tmp_path / "one/b_link.py"), Config()).module == "b.py"
    assert [os.path.basename(build[0]) for build in fake_index.builds] == ["one", "two"]


@pytest.mark.parametrize("key", ["3f2a9c.ast", "../../outside", "a/b", ".hidden", "é", "k" * 300, ""])
def test_every_key_is_one_file_inside_the_cache(tmp_path, key):
    cache = ProjectCache(str(tmp_path / "cache"))
    cache.store(key, {"key": key})
    cache.store(key + "2", {"key": key + "2"})
    assert cache.load(key) == {"key": key} and cache.load(key + "2") == {"key": key + "2"}
    entries = sorted(p for p in Path(cache.entries).iterdir() if p.suffix == ".json")
    assert len(entries) == 2 and all(p.parent == Path(cache.entries) for p in entries)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]


def test_the_index_is_built_holding_the_cache_lock(tmp_path, fake_index, monkeypatch):
    _project(tmp_path)
    held = []
    original = ProjectCache.lock

    @contextlib.contextmanager
    def watched(self, name):
        with original(self, name):
            held.append(("locked", name, self.directory))
            yield
            held.append("released")

    monkeypatch.setattr(ProjectCache, "lock", watched)
    monkeypatch.setattr(fake_index, "build", classmethod(lambda cls, root, files, config, cache, checked=(), store=True: held.append("build") or cls(root, files)))
    session.project_context(str(tmp_path / "pkg/a.py"), Config())
    assert held == [("locked", "index", os.path.join(os.path.realpath(tmp_path), ".nograd_cache")), "build", "released"]


def _kept_findings(root: Path) -> dict:
    """Module file name -> the codes of the findings kept with the project's answers, from the pack."""
    from flake8_nograd.project.index import ProjectIndex

    index = ProjectIndex.build(str(root), [str(root / name) for name in THREE_FILES], Config(), ProjectCache(str(root / ".nograd_cache")))
    return {
        os.path.basename(facts.path): sorted(record["code"] for record in facts.entry["informed"]["findings"])
        for facts in index._by_path.values()
        if "informed" in facts.entry
    }


@pytest.mark.parametrize("front_end", [("-m", "flake8", "--isolated", "--jobs", "2"), ("-m", "flake8_nograd", "check", "--jobs", "2")])
def test_findings_worked_out_in_parallel_workers_are_kept_in_the_cache(tmp_path, front_end):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'three'\n")
    for name, text in THREE_FILES.items():
        (tmp_path / name).write_text(text)
    done = _run(tmp_path, *front_end, "--select", "NG", ".")
    assert "Traceback" not in done.stderr and ":12:9: NG101" in done.stdout, (done.stdout, done.stderr)
    # train.py is checked with the project's answers in a worker: what it found there is kept.
    assert _kept_findings(tmp_path)["train.py"] == ["NG101", "NG301", "NG301"]
