import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest  # noqa: E402

_REPORT = pytest.StashKey[list]()


def pytest_configure(config):
    config.stash[_REPORT] = []


@pytest.fixture
def summary_report(request):
    """Lines a test wants shown at the end of the run, passed or not (e.g. finding counts)."""
    return request.config.stash[_REPORT]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = config.stash.get(_REPORT, [])
    if lines:
        terminalreporter.section("flake8-nograd over site-packages")
        for line in lines:
            terminalreporter.write_line(line)
