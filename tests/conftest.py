import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Commands the tests start in a subprocess (`python -m flake8_nograd`, flake8, pre-commit) import
# this checkout, not whatever flake8_nograd the environment has installed (a virtualenv shared by
# several worktrees has an editable install of one of them).
_ROOT = str(Path(__file__).resolve().parent.parent)
os.environ["PYTHONPATH"] = os.pathsep.join([_ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])

import pytest  # noqa: E402

_REPORT = pytest.StashKey[list]()


def pytest_addoption(parser):
    # pyproject.toml sets pytest-asyncio's loop scope for the language server's tests; where
    # pytest-asyncio is absent (Python 3.9: pytest-lsp needs 3.10) the key is declared here, so
    # pytest does not warn about an unknown option.
    try:
        import pytest_asyncio  # noqa: F401
    except ImportError:
        parser.addini("asyncio_default_fixture_loop_scope", "pytest-asyncio's loop scope (unused without it)")


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
