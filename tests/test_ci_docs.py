"""docs/ci.md's recipes, run: each code block after a `<!-- ci-test: ... -->` marker has its commands
(a workflow's `run:` steps, a GitLab job's `script:`, or a shell block) run in order, as a CI job
would, against a fixture project; the marker says the exit code and the output format expected.

    <!-- ci-test: fixture=buggy exit=1 output=sarif:flake8-nograd.sarif -->

Install steps (`pip install ...`) are skipped: the package under test is installed already.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
CI_DOC = ROOT / "docs" / "ci.md"
MARKED_BLOCK = re.compile(r"<!-- ci-test: (?P<marker>[^>]*?) -->\n```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)
CLEAN = "import torch\n\n\ndef predict(model, x):\n    with torch.no_grad():\n        return model(x)\n"


def demo_codes() -> set:
    """The codes the checker finds in the demo (default rules), which every format must carry."""
    from flake8_nograd.checker import check_source
    from flake8_nograd.rules import RULES_BY_CODE

    source = (ROOT / "docs" / "examples" / "train_buggy.py").read_text(encoding="utf-8")
    return {f.code for f in check_source(source) if RULES_BY_CODE[f.code].default_enabled}


def marked_blocks() -> List[Tuple[Dict[str, str], str, str]]:
    text = CI_DOC.read_text(encoding="utf-8")
    blocks = []
    for match in MARKED_BLOCK.finditer(text):
        marker = dict(item.split("=", 1) for item in match.group("marker").split())
        blocks.append((marker, match.group("lang"), match.group("body")))
    return blocks


def commands(lang: str, body: str) -> List[str]:
    if lang == "sh":
        lines = [line for line in body.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    else:
        yaml = pytest.importorskip("yaml")
        document = yaml.safe_load(body)
        lines = []
        if "jobs" in document:  # GitHub Actions
            for job in document["jobs"].values():
                lines += [step["run"] for step in job["steps"] if "run" in step]
        else:  # GitLab CI: every job's script
            for job in document.values():
                if isinstance(job, dict):
                    lines += job.get("script", [])
    return [line for line in lines if not re.match(r"\s*(python -m )?pip install\b", line)]


def make_fixture(kind: str, folder: Path) -> None:
    if kind == "buggy":
        shutil.copy(ROOT / "docs" / "examples" / "train_buggy.py", folder / "train.py")
    else:
        (folder / "predict.py").write_text(CLEAN)


def test_ci_doc_has_marked_recipes_for_github_and_gitlab():
    blocks = marked_blocks()
    assert len(blocks) >= 5
    bodies = "".join(body for _, _, body in blocks)
    assert "upload-sarif" in bodies and "--format github" in bodies and "script:" in bodies


BLOCKS = marked_blocks()


@pytest.mark.parametrize(
    "marker, lang, body", BLOCKS,
    ids=[f"{n}-{lang}-{m['fixture']}-exit{m['exit']}-{m['output'].split(':')[0]}" for n, (m, lang, _) in enumerate(BLOCKS)],
)
def test_recipe_runs_as_documented(tmp_path: Path, marker: Dict[str, str], lang: str, body: str):
    make_fixture(marker["fixture"], tmp_path)
    script = "set -e -o pipefail\n" + "\n".join(commands(lang, body)) + "\n"
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert done.returncode == int(marker["exit"]), done.stdout + done.stderr
    output, _, file_name = marker["output"].partition(":")
    produced = (tmp_path / file_name).read_text() if file_name else done.stdout
    buggy = marker["fixture"] == "buggy"
    if output == "github":
        lines = produced.splitlines()
        assert all(line.startswith("::warning file=") for line in lines) and bool(lines) == buggy
    elif output == "sarif":
        log = json.loads(produced)
        assert log["version"] == "2.1.0"
        assert {r["ruleId"] for r in log["runs"][0]["results"]} == demo_codes()
    elif output == "json":
        assert {r["code"] for r in json.loads(produced)} == demo_codes()
    elif output == "text":
        assert re.match(r"\./train\.py:\d+:\d+: NG\d{3} ", produced)
    elif output == "diff":
        assert produced.startswith("--- a/train.py\n+++ b/train.py\n")
    else:
        pytest.fail(f"unknown output kind {output!r}")
