"""`flake8-nograd check --add-noqa`: a `# noqa: NGxxx` comment for every finding, as ruff's
`--add-noqa` does, so that a large code base can adopt the rules without fixing everything first.

The comment goes where flake8 (and noqa.NoqaLines) looks for it: on the reported line, or, when
that line ends inside a token that spans lines (a triple-quoted string) or with a backslash, on
the last line of the stretch the tokenizer reads as one (where a comment can be written); flake8
then applies it to every line of that stretch. An existing `# noqa: E501` there is merged into
(`# noqa: E501, NG101`: codes sorted, none twice); no other line is touched.
"""
from __future__ import annotations

import io
import re
import tokenize
from typing import Dict, Optional, Sequence, Set, Tuple

from .findings import Finding
from .noqa import NOQA_INLINE, physical_lines

_LINE_END = re.compile(r"(\r\n|\r|\n)\Z")
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)  # what NOQA_INLINE accepts as a code


def add_noqa(text: str, findings: Sequence[Finding]) -> Tuple[str, int]:
    """The text with every finding's code in a `# noqa` comment, and how many lines changed.
    Text the tokenizer cannot read is returned as it is (0 lines)."""
    lines = physical_lines(text)
    stretches = _stretches(text, len(lines))
    if stretches is None:
        return text, 0
    wanted: Dict[int, Set[str]] = {}
    for finding in findings:
        first, last = stretches.get(finding.line, (finding.line, finding.line))
        if not 1 <= first <= last <= len(lines):
            continue
        # flake8 reads the first `# noqa` of the stretch: merge into it, or add one at its end.
        target = next((n for n in range(first, last + 1) if NOQA_INLINE.search(lines[n - 1])), last)
        wanted.setdefault(target, set()).add(finding.code)
    changed = 0
    for number, codes in wanted.items():
        new = _with_codes(lines[number - 1], codes)
        if new != lines[number - 1]:
            lines[number - 1] = new
            changed += 1
    return "".join(lines), changed


def _stretches(text: str, line_count: int) -> Optional[Dict[int, Tuple[int, int]]]:
    """For each line, the first and last line of the stretch the tokenizer reads as one with it
    (up to an NL or NEWLINE token), as noqa.NoqaLines joins them; None when the text cannot be
    tokenized."""
    mapping: Dict[int, Tuple[int, int]] = {}
    first, last = line_count + 2, -1
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in (tokenize.ENDMARKER, tokenize.DEDENT):
                continue
            first, last = min(first, token.start[0]), max(last, token.end[0])
            if token.type in (tokenize.NL, tokenize.NEWLINE):
                for number in range(first, last + 1):
                    mapping[number] = (first, last)
                first, last = line_count + 2, -1
    except (tokenize.TokenError, SyntaxError):
        return None
    return mapping


def _with_codes(line: str, codes: Set[str]) -> str:
    """The line with `codes` in its `# noqa` comment (added at its end when it has none)."""
    ending_match = _LINE_END.search(line)
    ending = ending_match.group(1) if ending_match else ""
    body = line[: len(line) - len(ending)]
    match = NOQA_INLINE.search(body)
    if match is None:
        return f"{body.rstrip()}  # noqa: {', '.join(sorted(codes))}{ending}"
    if match.group("codes") is None:
        return line  # a bare `# noqa` already silences every code
    present = _CODE.findall(match.group("codes"))  # as written: flake8 compares codes case-sensitively
    merged = sorted(set(present) | codes)
    if merged == present:
        return line
    rest = body[match.end():]
    separator = " " if rest and match.group("codes")[-1:].isspace() else ""
    return f"{body[: match.start()]}# noqa: {', '.join(merged)}{separator}{rest}{ending}"
