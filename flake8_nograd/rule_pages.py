"""The rule pages (docs/rules/NGxxx.md), for `flake8-nograd rule NG101` and the language server's
hover.

pyproject.toml ships docs/rules inside the wheel as the package data of `flake8_nograd.docs`, so an
installed package holds the same pages the site is built from. A checkout (or an editable install,
whose import hook does not map a folder without `__init__.py`) reads them from docs/rules beside
the package.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

_CHECKOUT_PAGES = Path(__file__).resolve().parent.parent / "docs" / "rules"


def rule_page(code: str) -> Optional[str]:
    """The Markdown page of the rule `code`, or None when neither the package nor a checkout holds it."""
    from importlib.resources import files

    name = f"{code}.md"
    try:
        # Through the regular package: Python 3.9's files() fails on the folder's own name, a
        # namespace package there (no __init__.py).
        return (files("flake8_nograd") / "docs" / name).read_text(encoding="utf-8")
    except (ImportError, OSError, TypeError):
        pass
    try:
        return (_CHECKOUT_PAGES / name).read_text(encoding="utf-8")
    except OSError:
        return None
