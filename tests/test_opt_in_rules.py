"""Rules with `default_enabled = False` (NG203) are off in a plain flake8 run and on when selected."""
from __future__ import annotations

import subprocess
import sys

from flake8_nograd.rules import ALL_RULES
from helpers import FIXTURES


def flake8_codes(*args: str) -> set:
    path = FIXTURES / "NG203" / "bad_inference_helpers.py"
    result = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", *args, str(path)], capture_output=True, text=True
    )
    return {line.split(": ", 1)[1].split()[0] for line in result.stdout.splitlines() if ": " in line}


def test_ng203_is_the_opt_in_rule():
    assert [rule.code for rule in ALL_RULES if not rule.default_enabled] == ["NG203"]


def test_opt_in_rule_is_off_by_default():
    assert "NG203" not in flake8_codes()


def test_opt_in_rule_is_on_when_selected():
    assert "NG203" in flake8_codes("--extend-select", "NG203")
    assert "NG203" in flake8_codes("--select", "NG")
