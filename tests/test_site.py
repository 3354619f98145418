"""The documentation site: it builds with `mkdocs build --strict`, its rule index is the rule
registry, and the version it shows is the package's."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import flake8_nograd
from flake8_nograd.rules import ALL_RULES

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import rules_table  # noqa: E402


def test_committed_rule_table_matches_the_registry():
    committed = rules_table.INDEX.read_text(encoding="utf-8")
    assert committed == rules_table.with_table(committed), "run: python scripts/rules_table.py"
    for rule in ALL_RULES:
        assert f"[{rule.code}]({rule.code}.md)" in committed


def test_every_registered_code_has_a_page_and_every_page_a_code():
    pages = {path.stem for path in (ROOT / "docs" / "rules").glob("NG*.md")}
    assert pages == {rule.code for rule in ALL_RULES}


def test_the_docs_name_the_package_version():
    version = flake8_nograd.__version__
    done = subprocess.run([sys.executable, "-m", "flake8_nograd", "--version"], capture_output=True, text=True)
    assert done.stdout.strip() == f"flake8-nograd {version}"
    for page in list((ROOT / "docs").glob("*.md")) + [ROOT / "README.md", ROOT / ".pre-commit-hooks.yaml"]:
        for rev in re.findall(r"rev: v(\S+)", page.read_text(encoding="utf-8")):
            assert rev == version, f"{page.name} pins rev v{rev}, the package is {version}"
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    released = re.findall(r"^## \[(\d[^\]]*)\]", changelog, re.M)
    assert released and released[0] == version, "the newest version in CHANGELOG.md is __version__"


def test_site_builds_strictly(tmp_path: Path):
    pytest.importorskip("mkdocs")
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    index = (site / "rules" / "index.html").read_text(encoding="utf-8")
    for rule in ALL_RULES:
        assert f'href="{rule.code}/"' in index or f'href="{rule.code}.html"' in index, rule.code
        assert (site / "rules" / rule.code / "index.html").exists()
    for page in ("integrations", "ci", "how-it-works", "cli", "configuration"):
        assert (site / page / "index.html").exists(), page
    assert f"flake8-nograd {flake8_nograd.__version__}" in (site / "index.html").read_text(encoding="utf-8")
