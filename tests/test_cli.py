"""The console script end to end, in a subprocess: exit codes, formats, fix/--diff, --jobs, config,
and noqa/E999 output compared with flake8 itself."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from flake8_nograd.settings import Selection, parse_table_minimally

DATA = Path(__file__).resolve().parent / "data"
FIX_FIXTURES = Path(__file__).resolve().parent / "fix_fixtures"

NG401_FILE = """\
import torch


def predict(model, x):
    with torch.no_grad:
        return model(x)
"""
CLEAN_FILE = "import torch\n\n\ndef predict(model, x):\n    with torch.no_grad():\n        return model(x)\n"
NOQA_FILE = """\
import torch
import torch as T


def a(model, x):
    with torch.no_grad:  # noqa
        pass
    with torch.no_grad:  # noqa: NG401
        pass
    with torch.no_grad:  # noqa:NG4
        pass
    with torch.no_grad:  # NOQA : NG999
        pass
    with torch.no_grad:  # noqa: E501
        pass
    with torch.no_grad:  #noqa
        pass
    with torch.no_grad:  # noqa:NG401,NG402
        pass
    with (
        torch.no_grad
    ):  # noqa: NG401
        pass
    with T.inference_mode:  # noqa: ng401
        pass
    with T.inference_mode:
        pass
"""


def run(args: List[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flake8_nograd", *args], cwd=cwd, capture_output=True, text=True, **kwargs
    )


def flake8(args: List[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flake8", "--isolated", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "predict.py").write_text(NG401_FILE)
    (tmp_path / "pkg" / "clean.py").write_text(CLEAN_FILE)
    return tmp_path


def test_console_script_is_installed():
    script = shutil.which("flake8-nograd", path=str(Path(sys.executable).parent))
    assert script, "pyproject [project.scripts] registers flake8-nograd"
    done = subprocess.run([script, "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("flake8-nograd ")


def test_check_prints_flake8s_format_and_exits_1(project: Path):
    done = run(["check", "pkg"], project)
    assert done.returncode == 1
    assert done.stdout == flake8(["--select", "NG", "pkg"], project).stdout
    assert done.stdout.startswith("pkg/predict.py:5:10: NG401 'torch.no_grad' is used without calling it")
    assert "2 files checked, 1 finding" in done.stderr


def test_check_exits_0_when_clean_and_exit_zero_turns_1_into_0(project: Path):
    assert run(["check", "pkg/clean.py"], project).returncode == 0
    assert run(["check", "--exit-zero", "pkg"], project).returncode == 0
    quiet = run(["check", "-q", "pkg/clean.py"], project)
    assert quiet.stdout == quiet.stderr == ""


@pytest.mark.parametrize("args", [[], ["lint", "."], ["check", "--format", "xml"], ["check", "--jobs", "0"]])
def test_usage_errors_exit_2(project: Path, args):
    assert run(args, project).returncode == 2


def test_help_lists_the_rules(project: Path):
    done = run(["--help"], project)
    from flake8_nograd.rules import ALL_RULES

    for rule in ALL_RULES:
        assert rule.code in done.stdout and rule.summary in done.stdout.replace("\n         ", " ")
    assert "--nograd-guards" in run(["check", "--help"], project).stdout


def test_noqa_is_honoured_exactly_as_flake8_does(tmp_path: Path):
    (tmp_path / "noqa_cases.py").write_text(NOQA_FILE)
    (tmp_path / "file_off.py").write_text("# flake8: noqa\n" + NG401_FILE)
    (tmp_path / "file_off_codes.py").write_text(NG401_FILE + "# flake8: noqa: E501\n")
    (tmp_path / "not_file_off.py").write_text(NG401_FILE + "x = 1  # flake8: noqa\n")
    ours = run(["check", "."], tmp_path).stdout
    theirs = flake8(["--select", "NG", "."], tmp_path).stdout
    assert sorted(ours.splitlines()) == sorted(theirs.splitlines())
    # Left: `# noqa: E501`, `#noqa` (no space), the multi-line `with (` (flake8 splits logical lines at
    # NL tokens inside brackets), `ng401` (codes are case-sensitive), the plain one, and the file whose
    # `# flake8: noqa` follows code. `# NOQA : NG999` is a blanket noqa (the codes need `:` right after).
    assert len(ours.splitlines()) == 6


def test_syntax_errors_print_e999_like_flake8_and_exit_2(project: Path):
    (project / "pkg" / "broken.py").write_text("def f(:\n    pass\n")
    done = run(["check", "pkg"], project)
    assert done.returncode == 2
    e999 = [line for line in done.stdout.splitlines() if "E999" in line]
    assert e999 == [line for line in flake8(["pkg/broken.py"], project).stdout.splitlines()]
    assert "NG401" in done.stdout, "the other files are still checked"


def test_an_undecodable_file_gets_one_line_and_the_run_goes_on(project: Path):
    (project / "pkg" / "latin.py").write_bytes(b"x = '\xe9'\n")
    done = run(["check", "pkg"], project)
    assert done.returncode == 2
    lines = [line for line in done.stdout.splitlines() if "latin.py" in line]
    assert len(lines) == 1 and "E902" in lines[0] and "UTF-8" in lines[0]
    assert "NG401" in done.stdout


def test_a_missing_path_is_an_error(project: Path):
    done = run(["check", "nope.py", "pkg"], project)
    assert done.returncode == 2 and "nope.py:0:1: E902" in done.stdout


def test_json_format(project: Path):
    done = run(["check", "--format", "json", "pkg"], project)
    [finding] = json.loads(done.stdout)
    assert finding == {
        "path": "pkg/predict.py",
        "line": 5,
        "column": 10,
        "end_line": 5,
        "end_column": 23,
        "code": "NG401",
        "message": finding["message"],
        "fix": {"description": "add the missing '()'", "safe": True, "action": "add_call"},
    }


def test_sarif_format_is_valid_sarif_2_1_0(project: Path):
    jsonschema = pytest.importorskip("jsonschema")
    (project / "pkg" / "broken.py").write_text("def f(:\n")
    done = run(["check", "--format", "sarif", "pkg"], project)
    log = json.loads(done.stdout)
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.validate(log, schema, cls=jsonschema.Draft4Validator)
    run_ = log["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    assert all(rule["helpUri"].endswith(f"{rule['id']}.md") for rule in rules if rule["id"].startswith("NG") and rule["id"] != "NG000")
    codes = {result["ruleId"]: result for result in run_["results"]}
    assert set(codes) == {"NG401", "E999"}
    assert rules[codes["NG401"]["ruleIndex"]]["id"] == "NG401"
    location = codes["NG401"]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "pkg/predict.py"
    assert location["region"]["startLine"] == 5 and location["region"]["startColumn"] == 10


def test_github_format(project: Path):
    done = run(["check", "--format", "github", "pkg"], project)
    assert done.stdout.startswith(
        "::warning file=pkg/predict.py,line=5,col=10,endLine=5,endColumn=23,title=NG401::NG401 'torch.no_grad'"
    )


def test_fix_rewrites_reports_and_a_second_run_changes_nothing(project: Path):
    target = project / "pkg" / "predict.py"
    clean = project / "pkg" / "clean.py"
    target.chmod(0o640)
    clean_mtime = clean.stat().st_mtime_ns
    done = run(["fix", "pkg"], project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == "pkg/predict.py:5:10: NG401 fixed: add the missing '()'\n"
    assert "1 fixed in 1 file" in done.stderr
    assert target.read_text() == CLEAN_FILE
    assert target.stat().st_mode & 0o777 == 0o640
    assert clean.stat().st_mtime_ns == clean_mtime
    assert not [p for p in (project / "pkg").iterdir() if p.name.startswith(".flake8-nograd-")]
    mtime = target.stat().st_mtime_ns
    again = run(["fix", "pkg"], project)
    assert again.returncode == 0 and again.stdout == "" and target.stat().st_mtime_ns == mtime
    assert run(["check", "pkg"], project).returncode == 0


def test_fix_diff_prints_a_diff_and_writes_nothing(project: Path):
    target = project / "pkg" / "predict.py"
    before, mtime = target.read_bytes(), target.stat().st_mtime_ns
    done = run(["fix", "--diff", "pkg"], project)
    assert done.returncode == 1, "a pending change"
    assert "--- a/pkg/predict.py\n+++ b/pkg/predict.py\n" in done.stdout
    assert "-    with torch.no_grad:\n+    with torch.no_grad():\n" in done.stdout
    assert target.read_bytes() == before and target.stat().st_mtime_ns == mtime


def test_fix_keeps_crlf_bom_and_cookie_files_as_the_pairs_say(tmp_path: Path):
    for name in ("utf8_bom", "encoding_cookie", "add_call_ng401"):
        shutil.copy(FIX_FIXTURES / f"{name}.py", tmp_path / f"{name}.py")
    done = run(["fix", "."], tmp_path)
    assert done.returncode == 1  # set_grad_enabled has no automatic fix and stays reported
    assert "NG401 'torch.set_grad_enabled'" in done.stdout
    for name in ("utf8_bom", "encoding_cookie", "add_call_ng401"):
        assert (tmp_path / f"{name}.py").read_bytes() == (FIX_FIXTURES / f"{name}.fixed.py").read_bytes()


def test_jobs_give_the_same_result_as_one_job(tmp_path: Path):
    for index in range(30):
        (tmp_path / f"m{index:02d}.py").write_text(NG401_FILE if index % 3 else CLEAN_FILE)
    (tmp_path / "broken.py").write_text("x = (\n")
    one = run(["check", "--jobs", "1", "--format", "json", "."], tmp_path)
    many = run(["check", "--jobs", "3", "--format", "json", "."], tmp_path)
    assert one.returncode == many.returncode == 2
    assert one.stdout == many.stdout and len(json.loads(one.stdout)) == 21
    assert "\r[" not in many.stderr, "no progress bar when stderr is not a terminal"


def test_progress_bar_only_on_a_terminal(tmp_path: Path):
    pty = pytest.importorskip("pty")
    for index in range(25):
        (tmp_path / f"m{index:02d}.py").write_text(CLEAN_FILE)
    primary, secondary = pty.openpty()
    done = subprocess.run(
        [sys.executable, "-m", "flake8_nograd", "check", "."],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=secondary, text=True,
    )
    os.close(secondary)
    shown = os.read(primary, 65536).decode()
    os.close(primary)
    assert done.returncode == 0 and "25/25 files" in shown and "25 files checked" in shown


def test_walking_skips_virtualenvs_git_and_excluded_globs(project: Path):
    venv = project / "pkg" / "env"
    venv.mkdir()
    (venv / "pyvenv.cfg").write_text("home = /usr\n")
    (venv / "bad.py").write_text(NG401_FILE)
    for folder in (".git", "__pycache__", ".venv"):
        (project / "pkg" / folder).mkdir()
        (project / "pkg" / folder / "bad.py").write_text(NG401_FILE)
    (project / "pkg" / "generated_bad.py").write_text(NG401_FILE)
    done = run(["check", "--extend-exclude", "generated_*", "pkg"], project)
    assert done.stdout.count("NG401") == 1
    assert "pkg/predict.py" in done.stdout


def test_config_files_and_command_line_precedence(project: Path):
    (project / "setup.cfg").write_text("[flake8]\nselect = E,W,F\nignore = E501,NG401\n")
    assert run(["check", "pkg"], project).returncode == 0, "[flake8] ignore applies"
    (project / "pyproject.toml").write_text('[tool.flake8-nograd]\nignore = ["NG402"]\n')
    assert run(["check", "pkg"], project).returncode == 1, "pyproject wins over [flake8]"
    assert run(["check", "--ignore", "NG4", "pkg"], project).returncode == 0, "the command line wins"
    assert run(["check", "--select", "NG401", "--ignore", "NG4", "pkg"], project).returncode == 1


def test_guards_option_is_read_from_pyproject(tmp_path: Path):
    (tmp_path / "m.py").write_text(
        "import torch\nfrom mylib import frozen\n\n\n@frozen\ndef evaluate(model, x):\n"
        "    loss = model(x)\n    loss.backward()\n"
    )
    with_option = '[tool.flake8-nograd]\nnograd-guards = ["frozen"]\n'
    plain = run(["check", "."], tmp_path).stdout
    (tmp_path / "pyproject.toml").write_text(with_option)
    configured = run(["check", "."], tmp_path).stdout
    flagged = run(["check", "--nograd-guards", "frozen", "."], tmp_path).stdout
    assert configured == flagged
    assert plain != configured or "NG101" not in configured


def test_minimal_pyproject_reader_for_pythons_without_tomllib():
    table, note = parse_table_minimally(
        '[project]\nname = "x"\n[tool.flake8-nograd]\n# why\nnograd-guards = [\n  "a",  # one\n  "b#c",\n]\n'
        'select = "NG3"\n[tool.other]\nselect = "X"\n'
    )
    assert note == "" and table == {"nograd-guards": ["a", "b#c"], "select": "NG3"}


def test_selection_follows_flake8s_longest_prefix_rule():
    selection = Selection(select=("NG",), ignore=("NG4",))
    assert selection.selected("NG101") and not selection.selected("NG401")
    assert Selection(select=("NG401",), ignore=("NG4",)).selected("NG401")
    assert not Selection(select=("NG4",), ignore=("NG4",)).selected("NG401")


def test_rules_off_by_default_need_an_explicit_select(tmp_path):
    """NG203 is off by default, as in flake8 (extend_default_ignore): on with --select/--extend-select."""
    (tmp_path / "infer.py").write_text(
        "import torch\n\nmodel = torch.nn.Linear(2, 2)\nmodel.eval()\nprediction = model(torch.ones(1, 2))\n"
    )
    base = [sys.executable, "-m", "flake8_nograd", "check", "--quiet", "infer.py"]
    run = lambda *extra: subprocess.run(base + list(extra), cwd=tmp_path, capture_output=True, text=True)  # noqa: E731
    assert run().stdout == ""
    for extra in (["--select", "NG"], ["--extend-select", "NG203"], ["--select", "NG203"]):
        assert run(*extra).stdout.startswith("infer.py:5:14: NG203 "), extra
