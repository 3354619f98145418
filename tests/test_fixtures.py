"""Every fixture file: the findings are exactly the `# expect:` annotations (none in good_ files)."""
from __future__ import annotations

import pytest

from flake8_nograd.checker import check_source
from helpers import FIXTURES, expected_findings, fixture_config

FIXTURE_FILES = sorted(FIXTURES.glob("NG*/*.py"))


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_findings_match_annotations(path):
    source = path.read_text(encoding="utf-8")
    findings = check_source(source, fixture_config(source), filename=str(path))
    actual = {(f.line, f.col + 1, f.code) for f in findings}
    expected = expected_findings(source)
    if path.name.startswith("good_"):
        assert not expected, "good fixtures carry no expectations"
    else:
        assert expected, "bad fixtures must expect at least one finding"
    assert actual == expected, "\n".join(f.text + f"  @{f.line}:{f.col + 1}" for f in findings)


def test_every_rule_has_good_and_bad_fixtures():
    from flake8_nograd.rules import ALL_RULES

    for rule in ALL_RULES:
        names = [p.name for p in FIXTURES.glob(f"{rule.code}/*.py")]
        assert any(n.startswith("bad_") for n in names), rule.code
        assert any(n.startswith("good_") for n in names), rule.code
