"""A notebook cell read as IPython reads it, without IPython: which lines are IPython syntax.

IPython (`IPython.core.inputtransformer2.TransformerManager.transform_cell`) turns a cell into
Python in three steps, and this module follows each, keeping every line where it is:

1. clean-up: leading blank lines dropped, the common indentation removed (IPython 9; IPython 8
   removed the first line's indentation from the lines starting with it, read as a fallback),
   `>>> ` and `In [1]: ` prompts stripped;
2. a cell magic (`%%time` on the first line) makes the whole cell a call; its body is Python
   only for the magics in PYTHON_CELL_MAGICS, which read it as a cell of its own;
3. escapes, found in Python's own tokens so that strings, comments, open brackets and backslash
   continuations are told apart exactly as IPython tells them: `%magic`, `!shell`, `?obj`, `obj?`
   (and `,` `;` `/` autocall quoting) only where a logical line starts, `x = %magic` and
   `x = !shell` after an assignment's `=`; an escape's own backslash continuation lines are
   its arguments.

Each escape becomes a placeholder on the same line (`pass  # flake8-nograd: ipython`, or for an
assignment `x = get_ipython()  # flake8-nograd: ipython`, so `x` is rebound to something unknown),
its continuation lines comment lines. A one-line cell that is not Python and starts with a line
magic's name (`pip install torch`) is run by IPython's automagic, and read as that magic.
"""
from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Sequence, Tuple

IPYTHON_MARK = "# flake8-nograd: ipython"
PLACEHOLDER = "pass  " + IPYTHON_MARK
ASSIGNED = "get_ipython()  " + IPYTHON_MARK  # after `x = `: what a magic or shell command returns
# Cell magics whose body is Python run in the kernel (the magic reads it as a cell); any other
# cell magic's cell (%%bash, %%writefile, %%html, ...) is not Python and is not read.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "python", "python3"})
# The line magics of IPython and ipykernel (with the POSIX shell aliases): the names automagic
# runs when a one-line cell is not Python (`pip install torch`, `matplotlib inline`).
LINE_MAGICS = frozenset(
    "alias alias_magic autoawait autocall automagic autosave bookmark cat cd clear code_wrap colors "
    "conda config connect_info cp debug dhist dirs doctest_mode ed edit env gui hist history "
    "killbgscripts ldir less lf lk ll load load_ext loadpy logoff logon logstart logstate logstop ls "
    "lsmagic lx macro magic mamba man matplotlib micromamba mkdir more mv notebook page pastebin pdb "
    "pdef pdoc pfile pinfo pinfo2 pip popd pprint precision prun psearch psource pushd pwd pycat "
    "pylab qtconsole quickref recall rehashx reload_ext rep rerun reset reset_selective rm rmdir run "
    "save sc set_env sx system tb time timeit unalias unload_ext uv who who_ls whos xdel xmode".split()
)
TRANSFORM_LIMIT = 500  # IPython gives up (RuntimeError) on a cell with this many escapes

_CLASSIC_PROMPT = re.compile(r"(>>>|\.\.\.)( |$)")
_CLASSIC_FIRST = re.compile(r">>>( |$)")
_IPYTHON_PROMPT = re.compile(r"((\[nav\]|\[ins\])? )?In \[\d+\]: |\s*\.{3,}: ?")
_INDENT = re.compile(r"[ \t]*(?=[^ \t\n])")  # textwrap.dedent's idea of a line's indentation
_HELP_END = re.compile(r"(%{0,2}(?!\d)[\w*]+(\.(?!\d)[\w*]+|\[-?[0-9]+\])*)(\?\??)$")
_USER_INPUT = re.compile(r"^(\s*)([,;/%]|!!?|\?\??)?\s*(%{0,2}[\w\.\*]*)(.*?$|$)")
_ESCAPES = frozenset("!?%,;/")
_OPEN, _CLOSE = frozenset("([{"), frozenset(")]}")
# Tokenizer errors IPython turns into an end of the tokens (IPython.utils.tokenutil).
_CAUGHT_TOKEN_ERRORS = (
    "unterminated string literal", "invalid non-printable character", "after line continuation character",
    "invalid decimal literal", "invalid binary literal", "invalid octal literal", "invalid hexadecimal literal",
    "in binary literal", "in octal literal", "expected EOF",
)


@dataclass
class CellReading:
    """One cell as Python: `lines[i]` is cell line i as the analysis reads it."""

    lines: List[str]
    removed: List[str]  # what the clean-up took off the front of each line (indentation, prompt)
    ipython: List[int] = field(default_factory=list)  # 0-based lines that are (part of) IPython syntax
    python: bool = True  # False: a cell magic of another language; nothing in it to read
    failed: bool = False  # IPython cannot turn it into Python (it raises, or an escape stays)
    magic_head: Optional[int] = None  # the `%%time` line of a Python cell magic

    def shift(self, line: int) -> int:
        """Columns the clean-up removed from 1-based `line` (added back to reported columns)."""
        return len(self.removed[line - 1]) if 1 <= line <= len(self.removed) else 0

    def prefix(self) -> Optional[str]:
        """The text removed from every Python line, when it is one string ("" for none): then a
        rewritten cell can be given it back; None when lines lost different prefixes (prompts)."""
        found: Optional[str] = None
        placeholders = set(self.ipython)
        for number, line in enumerate(self.lines):
            if number in placeholders or not line.strip():
                continue
            if found is None:
                found = self.removed[number]
            elif self.removed[number] != found:
                return None
        return found or ""


def read_cell(source: str, legacy_indent: bool = False) -> CellReading:
    """The cell's reading; `legacy_indent` follows IPython 8's indentation clean-up instead of 9's."""
    lines = source.split("\n")
    if source.endswith("\n"):
        lines.pop()
    return _read(lines, legacy_indent)


def _read(lines: List[str], legacy_indent: bool) -> CellReading:
    reading = CellReading(list(lines), [""] * len(lines))
    first = next((n for n, line in enumerate(lines) if line and not line.isspace()), None)
    if first is None:
        return reading
    _dedent(reading, first, legacy_indent)
    _strip_prompts(reading, first)
    head = reading.lines[first]
    if head.startswith("%%") and not re.match(r"%%\w+\?", head):
        if head[2:].rstrip().partition(" ")[0] not in PYTHON_CELL_MAGICS:
            reading.python = False
            return reading
        # The magic runs its body through IPython's reading again (its own clean-up included).
        body = _read(reading.lines[first + 1 :], legacy_indent)
        reading.lines[first] = PLACEHOLDER
        reading.ipython.append(first)
        reading.magic_head = first
        offset = first + 1
        reading.lines[offset:] = body.lines
        reading.removed[offset:] = [a + b for a, b in zip(reading.removed[offset:], body.removed)]
        reading.ipython.extend(offset + n for n in body.ipython)
        reading.failed = body.failed
        return reading
    _transform_escapes(reading, first)
    _automagic(reading, first)
    return reading


# -- 1. clean-up --------------------------------------------------------------------------------
def _dedent(reading: CellReading, first: int, legacy: bool) -> None:
    lines = reading.lines
    if legacy:  # IPython 8: the first line's indentation, from each line that starts with it
        match = re.match(r"[ \t]+", lines[first])
        margin = match.group(0) if match else ""
        if not margin:
            return
        for number in range(first, len(lines)):
            if lines[number].startswith(margin):
                _remove(reading, number, len(margin))
        return
    margin_found: Optional[str] = None  # IPython 9: textwrap.dedent, the common indentation
    for line in lines[first:]:
        match = _INDENT.match(line)
        if match is None:
            continue
        indent = match.group(0)
        if margin_found is None:
            margin_found = indent
        elif indent.startswith(margin_found):
            pass
        elif margin_found.startswith(indent):
            margin_found = indent
        else:
            common = 0
            while common < min(len(indent), len(margin_found)) and indent[common] == margin_found[common]:
                common += 1
            margin_found = margin_found[:common]
    if not margin_found:
        return
    for number in range(first, len(lines)):
        if lines[number].startswith(margin_found) and _INDENT.match(lines[number]):
            _remove(reading, number, len(margin_found))


def _strip_prompts(reading: CellReading, first: int) -> None:
    """`>>> ` / `... ` and `In [3]: ` / `...: ` prompts of pasted sessions, as IPython strips them:
    when the first line has one, or the second line one of the continuation prompts."""
    lines = reading.lines
    for prompt, initial in ((_CLASSIC_PROMPT, _CLASSIC_FIRST), (_IPYTHON_PROMPT, _IPYTHON_PROMPT)):
        if initial.match(lines[first]) or (len(lines) > first + 1 and prompt.match(lines[first + 1])):
            for number in range(first, len(lines)):
                match = prompt.match(lines[number])
                if match:
                    _remove(reading, number, match.end())


def _remove(reading: CellReading, number: int, count: int) -> None:
    reading.removed[number] += reading.lines[number][:count]
    reading.lines[number] = reading.lines[number][count:]


# -- 3. escapes ---------------------------------------------------------------------------------
def _may_hold_escapes(lines: Sequence[str]) -> bool:
    """Cheap test first: most cells have no character an escape could be made of."""
    for line in lines:
        if "%" in line or "!" in line or "?" in line or line.lstrip()[:1] in _ESCAPES:
            return True
    return False


def _transform_escapes(reading: CellReading, first: int) -> None:
    """IPython's loop: tokenize, take the first escape (by position, help before a magic at the
    same place) whose transform succeeds, replace it, tokenize again."""
    lines = reading.lines
    if not _may_hold_escapes(lines[first:]):
        return
    for _ in range(TRANSFORM_LIMIT):
        try:
            groups = _tokens_by_line([line + "\n" for line in lines[first:]])
        except (SyntaxError, ValueError):  # IndentationError from the tokenizer: IPython raises it
            reading.failed = True
            return
        candidates = [
            found for found in (_magic_assign(groups), _system_assign(groups), _escaped(groups), _help_end(groups))
            if found is not None
        ]
        if not candidates:
            return
        for kind, row, column, _priority, question_row in sorted(candidates, key=lambda c: (c[1], c[2], c[3])):
            if _apply(reading, kind, first + row - 1, column, first + question_row - 1):
                break
        else:
            reading.failed = True  # an escape IPython cannot transform stays: not Python
            return
    reading.failed = True


def _apply(reading: CellReading, kind: str, start: int, column: int, question_line: int) -> bool:
    lines = reading.lines
    indent = lines[start][:column]
    if kind == "help":
        content = "".join(line + "\n" for line in lines[start : question_line + 1])[column:]
        if not _HELP_END.search(content):
            return False
        end = question_line
        replacement = indent + PLACEHOLDER
    else:
        end = start
        while end < len(lines) - 1 and (lines[end] + "\n").endswith("\\\n"):
            end += 1
        if kind == "assign":
            replacement = indent + ASSIGNED
        else:
            replacement = _escaped_line(indent, _assembled(lines, start, column, end))
    lines[start] = replacement
    blank = re.match(r"[ \t]*", lines[start]).group(0)  # type: ignore[union-attr]
    for number in range(start + 1, end + 1):
        lines[number] = blank + IPYTHON_MARK
    reading.ipython.extend(range(start, end + 1))
    return True


def _assembled(lines: List[str], start: int, column: int, end: int) -> str:
    """IPython's assemble_continued_line: the escape's text with its backslash continuations."""
    parts = [lines[start][column:] + "\n"] + [line + "\n" for line in lines[start + 1 : end + 1]]
    return " ".join([part.rstrip()[:-1] for part in parts[:-1]] + [parts[-1].rstrip()])


def _escaped_line(indent: str, line: str) -> str:
    """The placeholder of an escaped line; for the autocall escapes (`/f a b` -> `f(a, b)`,
    `,f a b` -> `f("a", "b")`, `;f a b` -> `f("a b")`) the call IPython writes, which may itself
    not be Python. A `/` without a name gives `(a)`, as IPython 8 reads it (IPython 9 refuses it:
    unknown stays silent, so it is not called an error here)."""
    escape = line[:1]
    if escape not in ",;/":
        return indent + PLACEHOLDER
    name, _, arguments = line[1:].partition(" ")
    if escape == ",":
        call = '{}("{}")'.format(name, '", "'.join(arguments.split()))
    elif escape == ";":
        call = '{}("{}")'.format(name, arguments)
    else:
        call = "{}({})".format(name, ", ".join(arguments.split()))
    return f"{indent}{call}  {IPYTHON_MARK}"


# The finders, as IPython's (a group is one logical line's tokens): (kind, row, column, priority,
# row of the help `?`).
Found = Tuple[str, int, int, int, int]


def _assign_index(tokens: List[tokenize.TokenInfo]) -> Optional[int]:
    depth = 0
    for index, token in enumerate(tokens):
        text = token.string
        if text == "=" and depth == 0:
            return index
        if text in _OPEN:
            depth += 1
        elif text in _CLOSE and depth > 0:
            depth -= 1
    return None


def _magic_assign(groups: List[List[tokenize.TokenInfo]]) -> Optional[Found]:
    for tokens in groups:
        index = _assign_index(tokens)
        if index is not None and len(tokens) > index + 2 and tokens[index + 1].string == "%" and (
            tokens[index + 2].type == tokenize.NAME
        ):
            row, column = tokens[index + 1].start
            return ("assign", row, column, 10, row)
    return None


def _system_assign(groups: List[List[tokenize.TokenInfo]]) -> Optional[Found]:
    for tokens in groups:
        index = _assign_index(tokens)
        if index is None or tokens[index].line.strip().startswith("=") or len(tokens) < index + 2:
            continue
        if sys.version_info >= (3, 12):
            following = tokens[index + 1]
            if following.type == tokenize.OP and following.string == "!":
                return ("assign", following.start[0], following.start[1], 10, following.start[0])
            continue
        position = index + 1
        while position < len(tokens) and tokens[position].type == tokenize.ERRORTOKEN:
            if tokens[position].string == "!":
                row, column = tokens[position].start
                return ("assign", row, column, 10, row)
            if not tokens[position].string.isspace():
                break
            position += 1
    return None


def _escaped(groups: List[List[tokenize.TokenInfo]]) -> Optional[Found]:
    for tokens in groups:
        index = 0
        while index < len(tokens) and tokens[index].type in (tokenize.INDENT, tokenize.DEDENT):
            index += 1
        if index < len(tokens) and tokens[index].string in _ESCAPES:
            row, column = tokens[index].start
            return ("escape", row, column, 10, row)
    return None


def _help_end(groups: List[List[tokenize.TokenInfo]]) -> Optional[Found]:
    for tokens in groups:
        if len(tokens) > 2 and tokens[-2].string == "?":
            index = 0
            while tokens[index].type in (tokenize.INDENT, tokenize.DEDENT):
                index += 1
            row, column = tokens[index].start
            return ("help", row, column, 5, tokens[-2].start[0])
    return None


def _tokens_by_line(lines: List[str]) -> List[List[tokenize.TokenInfo]]:
    """IPython's make_tokens_by_line: tokens grouped by logical line (a bracket keeps a group
    open over lines); tokenizing stops quietly where the tokenizer gives up."""
    groups: List[List[tokenize.TokenInfo]] = [[]]
    depth = 0
    try:
        for token in _tokens(lines):
            groups[-1].append(token)
            if token.type == tokenize.NEWLINE or (token.type == tokenize.NL and depth <= 0):
                groups.append([])
            elif token.type == tokenize.OP and token.string in _OPEN:
                depth += 1
            elif token.type == tokenize.OP and token.string in _CLOSE and depth > 0:
                depth -= 1
    except tokenize.TokenError:
        pass
    if not groups[-1]:
        groups.pop()
    return groups


def _tokens(lines: List[str]) -> Iterator[tokenize.TokenInfo]:
    seen: Optional[tokenize.TokenInfo] = None
    try:
        for token in tokenize.generate_tokens(io.StringIO("".join(lines)).readline):
            seen = token
            yield token
    except tokenize.TokenError as error:
        if not any(message in str(error.args[0]) for message in _CAUGHT_TOKEN_ERRORS):
            raise
        start = (seen.start[0], seen.end[0]) if seen else (1, 0)
        yield tokenize.TokenInfo(tokenize.ERRORTOKEN, "", start, start, seen.line if seen else "")


def _automagic(reading: CellReading, first: int) -> None:
    """A one-line cell IPython's shell runs as a magic, automagic being on by default: not Python,
    first word a line magic's name, not an assignment to it."""
    if reading.ipython or len(reading.lines) - first != 1:
        return
    line = reading.lines[first]
    match = _USER_INPUT.match(line)
    if match is None or match.group(2) or match.group(3) not in LINE_MAGICS:
        return
    if match.group(4).lstrip()[:1] in ("=", ","):
        return
    try:
        ast.parse(line)
    except SyntaxError:
        reading.lines[first] = match.group(1) + PLACEHOLDER
        reading.ipython.append(first)
