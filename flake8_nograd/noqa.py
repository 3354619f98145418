"""`# noqa`, `# noqa: NG301` and `# flake8: noqa`, honoured exactly as flake8 7 honours them.

The regular expressions are flake8's (flake8/defaults.py). As in flake8, a `# noqa` comment anywhere
in a multi-line statement (one logical line: up to its NEWLINE token) applies to all its lines.
"""
from __future__ import annotations

import io
import re
import tokenize
from typing import Dict, List, Optional

NOQA_INLINE = re.compile(r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE)
NOQA_FILE = re.compile(r"\s*# flake8[:=]\s*noqa", re.IGNORECASE)
_SEPARATORS = re.compile(r"[,\s]")


def physical_lines(text: str) -> List[str]:
    """The lines as Python and flake8 count them: split at \\n, \\r\\n and \\r only.

    `str.splitlines` also splits at form feeds, \\x1c-\\x1e, \\x85 and \\u2028, which may appear
    inside a line of Python (a form feed between functions is common in older code); counting
    those would put every later line number off by one.
    """
    return io.StringIO(text, newline="").readlines()


def file_is_exempt(text: str) -> bool:
    """A line that is only `# flake8: noqa` turns off every check for the file (flake8's rule)."""
    # Every line NOQA_FILE matches holds `flake8:` or `flake8=` in some case: the common file is
    # decided by two substring searches (a case-insensitive regex search cost ten times more).
    lowered = text.lower()
    if "flake8:" not in lowered and "flake8=" not in lowered:
        return False
    return any(NOQA_FILE.match(line) for line in physical_lines(text))


class NoqaLines:
    """Which line's text flake8 searches for `# noqa` when a finding is reported on a line."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = physical_lines(text)
        self._mapping: Optional[Dict[int, str]] = None

    def line_for(self, line_number: int) -> str:
        if self._mapping is None:
            self._mapping = self._build()
        found = self._mapping.get(line_number)
        if found is not None:
            return found
        return self.lines[line_number - 1] if 1 <= line_number <= len(self.lines) else ""

    def _build(self) -> Dict[int, str]:
        mapping: Dict[int, str] = {}
        min_line, max_line = len(self.lines) + 2, -1
        try:
            for token in tokenize.generate_tokens(io.StringIO(self.text).readline):
                if token.type in (tokenize.ENDMARKER, tokenize.DEDENT):
                    continue
                min_line = min(min_line, token.start[0])
                max_line = max(max_line, token.end[0])
                if token.type in (tokenize.NL, tokenize.NEWLINE):
                    joined = "".join(self.lines[min_line - 1 : max_line])
                    for number in range(min_line, max_line + 1):
                        mapping[number] = joined
                    min_line, max_line = len(self.lines) + 2, -1
        except (tokenize.TokenError, SyntaxError):
            return {}
        return mapping

    def suppresses(self, line_number: int, code: str) -> bool:
        match = NOQA_INLINE.search(self.line_for(line_number))
        if match is None:
            return False
        codes_text = match.group("codes")
        if codes_text is None:
            return True
        codes = {item.strip() for item in _SEPARATORS.split(codes_text) if item.strip()}
        return code in codes or code.startswith(tuple(codes))
