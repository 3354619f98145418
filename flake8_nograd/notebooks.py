"""Jupyter notebooks (`.ipynb`) for the standalone command, without nbformat: the JSON is read here.

The code cells become one module, in cell order, so that a value computed in cell 2 under
`torch.no_grad()` is known when cell 5 calls `backward()` on it. Each cell is read as IPython
reads it (ipython_syntax.read_cell), line for line; two kinds of line stand in for what is not
Python, each keeping every other line's position:

- a cell boundary, a comment line between two cells (`CELL_BOUNDARY`); it also lets the fixer's
  output be cut back into cells, and the fixer never moves a comment across a statement;
- IPython syntax, replaced by a placeholder at the same indentation (ipython_syntax); cells of a
  cell magic running another language (`%%bash`, `%%writefile`) are left out.

Each cell is compiled on its own, as the kernel does. A cell that is not Python gets an E999 at
its cell; it is left out (its lines become comments) when no other cell uses a name it mentions,
and otherwise the notebook is not analysed.

Positions are reported as ruff reports them: `nb.ipynb:cell 3:5:1` (1-based index among all
cells, then the line inside the cell). Fixes rewrite only the changed cells' `source` values in
the file text, so outputs, metadata, key order, nbformat version and indentation stay byte-identical.
"""
from __future__ import annotations

import ast
import bisect
import difflib
import json
import os
import re
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from .ipython_syntax import IPYTHON_MARK, CellReading, read_cell

NOTEBOOK_SUFFIX = ".ipynb"
CELL_BOUNDARY = "# flake8-nograd: next cell"
SKIPPED_LINE = "# flake8-nograd: cell not valid Python"
_LINE_IN_MESSAGE = re.compile(r"\bline (\d+)\b")
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_IDENTIFIER = re.compile(r"(?<![\w.])[^\W\d]\w*")


class NotebookError(Exception):
    """A notebook that cannot be read (not JSON, not a notebook) or whose fix cannot be written back."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


def is_notebook(path: str) -> bool:
    return path.endswith(NOTEBOOK_SUFFIX)


@dataclass
class _Cell:
    index: int  # among all cells, 0-based
    source: str  # as in the notebook
    lines: List[str]  # `source` split at "\n", no line ends
    reading: CellReading  # the cell as IPython reads it, line for line
    error: Optional[SyntaxError] = None  # the reading is not Python: IPython cannot run the cell
    skipped: bool = False  # not valid, and left out of the analysis (blank comment lines instead)

    @property
    def python_lines(self) -> List[str]:
        """The cell's lines in the module the analysis reads."""
        if self.skipped:
            return [SKIPPED_LINE] * len(self.lines)
        return self.reading.lines

    def column_shift(self, line: int) -> int:
        """IPython's clean-up removed this much from the start of the line (a cell indented as a
        whole, a pasted prompt); reported columns are those of the cell as written."""
        return self.reading.shift(line)


@dataclass
class _SourceSpan:
    """Where a cell's `source` value sits in the file text, and where each of its strings starts."""

    start: int
    end: int
    is_list: bool
    element_offsets: List[int]  # offset of each element inside the joined source
    element_lines: List[int]  # 1-based file line where each element starts


class Notebook:
    """A parsed notebook: its analysable code cells joined into `module_text`."""

    def __init__(
        self, path: str, raw_text: str, data: Dict[str, Any], trailing_bom: bool = False, raw: bytes = b""
    ) -> None:
        self.path = path
        self.raw = raw  # the file's bytes, as read
        self.raw_text = raw_text
        self.data = data
        self.bom = trailing_bom
        self.cells: List[_Cell] = []
        for index, cell in enumerate(data["cells"]):
            if cell.get("cell_type") != "code":
                continue
            prepared = _prepare_cell(index, _joined(cell.get("source", "")))
            if prepared is not None:
                self.cells.append(prepared)
        # A cell that is not valid Python is left out when nothing else can depend on it; if one
        # cannot be, the notebook is not analysed (each such cell still gets its E999 line).
        self.entangled: Dict[int, List[str]] = _entangled_invalid_cells(self.cells)
        self.analysable = not self.entangled
        for cell in self.cells:
            cell.skipped = cell.error is not None and self.analysable
        self.module_text = join_cells([cell.python_lines for cell in self.cells])
        self.spans = _locate_sources(raw_text, data)

    def error_records(self, path: str) -> List[Dict[str, Any]]:
        """One E999 line for each cell that is not valid Python, at its cell position."""
        from .runner import SYNTAX_ERROR, error_record, syntax_error_record

        records = []
        start = 1
        for cell in self.cells:
            error = cell.error
            if error is not None:
                if isinstance(error, SyntaxError):
                    found = syntax_error_record(path, error)
                else:
                    found = error_record(path, SYNTAX_ERROR, 1, 1, f"{type(error).__name__}: {error}")
                found["line"] = found["end_line"] = min(max(1, found["line"]), max(1, len(cell.lines))) + start - 1
                found["message"] = _LINE_IN_MESSAGE.sub(
                    lambda match: f"line {int(match.group(1)) + start - 1}", found["message"]
                )
                names = self.entangled.get(cell.index)
                if names:
                    found["message"] += (
                        "; the other cells are not checked either: they use names this cell mentions ("
                        + ", ".join(names[:5]) + (", ..." if len(names) > 5 else "") + ")"
                    )
                records.append(self.relocate(found))
            start += len(cell.lines) + 1
        return records

    # -- positions ---------------------------------------------------------------------------------
    def cell_position(self, module_line: int, module_text: Optional[str] = None) -> Tuple[int, int]:
        """(1-based cell number among all cells, 1-based line inside it) of a module line."""
        starts = _cell_starts(module_text if module_text is not None else self.module_text)
        if not starts or not self.cells:
            return 1, module_line
        slot = max(0, bisect.bisect_right(starts, module_line) - 1)
        slot = min(slot, len(self.cells) - 1)
        return self.cells[slot].index + 1, max(1, module_line - starts[slot] + 1)

    def file_line(self, cell_number: int, line: int) -> Optional[int]:
        """The line of the .ipynb file holding that cell line (for SARIF and GitHub annotations)."""
        if self.spans is None:
            return None
        span = self.spans.get(cell_number - 1)
        if span is None or not span.element_lines:
            return None
        cell = next((c for c in self.cells if c.index == cell_number - 1), None)
        if cell is None:
            return span.element_lines[0]
        offset = sum(len(text) + 1 for text in cell.lines[: line - 1])
        element = max(0, bisect.bisect_right(span.element_offsets, offset) - 1)
        return span.element_lines[element]

    def relocate(self, record: Dict[str, Any], module_text: Optional[str] = None) -> Dict[str, Any]:
        """A runner record with module positions turned into cell positions (`cell` added)."""
        cell, line = self.cell_position(record["line"], module_text)
        end_cell, end_line = self.cell_position(record["end_line"], module_text)
        moved = dict(record, cell=cell, line=line, end_line=end_line if end_cell == cell else line)
        shown = next((c for c in self.cells if c.index == cell - 1), None)
        if shown is not None:
            moved["column"] = record["column"] + shown.column_shift(line)
            moved["end_column"] = record["end_column"] + shown.column_shift(moved["end_line"])
        if "line " in record.get("message", ""):
            moved["message"] = self._cell_lines_in(record["message"], module_text)
        if end_cell != cell:
            moved["end_column"] = record["column"]
        file_line = self.file_line(cell, line)
        if file_line is not None:
            moved["file_line"] = file_line
            moved["file_end_line"] = self.file_line(cell, moved["end_line"]) or file_line
        return moved

    def _cell_lines_in(self, message: str, module_text: Optional[str]) -> str:
        """`(line 9)` in a message names a module line; say `(cell 5, line 2)` instead."""

        def replace(match: "re.Match[str]") -> str:
            cell, line = self.cell_position(int(match.group(1)), module_text)
            return f"cell {cell}, line {line}"

        return _LINE_IN_MESSAGE.sub(replace, message)

    def refusal(self, finding: Any) -> Optional[str]:
        """Why a fix on this finding's cell cannot be written back (the cell holds pasted prompts,
        or lines IPython's clean-up shortened unevenly), or None."""
        number, _ = self.cell_position(finding.line)
        cell = next((c for c in self.cells if c.index == number - 1), None)
        if cell is not None and cell.reading.prefix() is None:
            return f"cell {number} holds pasted prompts ('>>> ', 'In [1]: ') or uneven indentation; it is not rewritten"
        return None

    # -- writing fixes back --------------------------------------------------------------------------
    def sources_from(self, module_text: str) -> Dict[int, str]:
        """Each changed cell's new source (by cell index) from the fixed module text."""
        pieces = _split_cells(module_text)
        if len(pieces) != len(self.cells):
            raise NotebookError("the fix moved code across a cell boundary")
        changed: Dict[int, str] = {}
        for cell, python_lines in zip(self.cells, pieces):
            if python_lines == cell.python_lines:
                continue
            if cell.skipped:
                raise NotebookError(f"the fix changed cell {cell.index + 1}, which is not valid Python")
            prefix = cell.reading.prefix()
            if prefix is None:
                raise NotebookError(
                    f"cell {cell.index + 1} holds pasted prompts ('>>> ', 'In [1]: ') or uneven indentation; it is not rewritten"
                )
            text = "\n".join(_restore_ipython(cell, python_lines, prefix))
            if cell.source.endswith("\n") or not cell.source and python_lines:
                text += "\n"
            changed[cell.index] = text
        return changed

    def rewritten(self, sources: Dict[int, str]) -> str:
        """The file text with those cells' `source` replaced and every other byte kept."""
        if self.spans is None:
            return self._dumped(sources)
        text = self.raw_text
        ensure_ascii = _uses_ascii_escapes(text)
        for index in sorted(sources, reverse=True):
            span = self.spans.get(index)
            if span is None:
                return self._dumped(sources)
            old = text[span.start : span.end]
            value = _format_source(sources[index], old, span.is_list, text, span.start, ensure_ascii)
            text = text[: span.start] + value + text[span.end :]
        return text

    def _dumped(self, sources: Dict[int, str]) -> str:
        """Fallback for a file whose layout could not be traced: json.dumps with its indentation."""
        data = json.loads(self.raw_text)
        for index, source in sources.items():
            cell = data["cells"][index]
            cell["source"] = _split_keeping_ends(source) if isinstance(cell.get("source"), list) else source
        indent = _detect_indent(self.raw_text)
        dumped = json.dumps(data, indent=indent, ensure_ascii=_uses_ascii_escapes(self.raw_text))
        return dumped + ("\n" if self.raw_text.endswith("\n") else "")

    def cell_diff(self, sources: Dict[int, str]) -> str:
        """A unified diff per changed cell, headed `a/nb.ipynb:cell 3`."""
        chunks = []
        by_index = {cell.index: cell for cell in self.cells}
        name = os.path.normpath(self.path)
        for index in sorted(sources):
            old = by_index[index].source
            new = sources[index]
            chunks.extend(
                difflib.unified_diff(
                    _with_final_newline(old).splitlines(keepends=True),
                    _with_final_newline(new).splitlines(keepends=True),
                    fromfile=f"a/{name}:cell {index + 1}",
                    tofile=f"b/{name}:cell {index + 1}",
                )
            )
        return "".join(chunks)

    def encode(self, text: str) -> bytes:
        return text.encode("utf-8-sig" if self.bom else "utf-8")


# -- reading ---------------------------------------------------------------------------------------
def read_notebook(path: str) -> Notebook:
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise NotebookError(f"{type(error).__name__}: {error.strerror or error}") from error
    return parse_notebook(path, raw)


def parse_notebook(path: str, raw: bytes) -> Notebook:
    bom = raw.startswith(b"\xef\xbb\xbf")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise NotebookError(f"UnicodeDecodeError: a notebook is UTF-8 JSON ({error.reason} at byte {error.start})") from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookError(f"JSONDecodeError: not a valid notebook: {error.msg}", error.lineno, error.colno) from error
    except RecursionError as error:
        raise NotebookError("RecursionError: the notebook's JSON is nested too deeply") from error
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        if isinstance(data, dict) and "worksheets" in data:
            raise NotebookError("not supported: an nbformat 3 notebook; convert it with 'jupyter nbconvert --to notebook'")
        raise NotebookError("not a notebook: the JSON has no 'cells' list")
    for number, cell in enumerate(data["cells"], 1):
        source = cell.get("source", "") if isinstance(cell, dict) else None
        if not isinstance(source, str) and not (isinstance(source, list) and all(isinstance(s, str) for s in source)):
            raise NotebookError(f"not a notebook: cell {number} has no text 'source'")
    return Notebook(path, text, data, bom, raw)


def is_python_notebook(notebook: Notebook) -> bool:
    """False for notebooks of another kernel language (R, Julia, ...): nothing in them to check."""
    metadata = notebook.data.get("metadata")
    if not isinstance(metadata, dict):
        return True
    for key, inner in (("language_info", "name"), ("kernelspec", "language")):
        value = metadata.get(key)
        if isinstance(value, dict) and isinstance(value.get(inner), str):
            return value[inner].lower() == "python"
    return True


def _joined(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


def _prepare_cell(index: int, source: str) -> Optional[_Cell]:
    """The cell as IPython reads it, and whether that is Python; None for a cell magic of another
    language (%%bash, %%writefile), which is left out."""
    reading = read_cell(source)
    if not reading.python:
        return None
    lines = source.split("\n")
    if source.endswith("\n"):
        lines.pop()
    cell = _Cell(index, source, lines, reading)
    cell.error = _invalid(reading)
    if cell.error is not None:
        # IPython 8 removed only the first line's indentation (from the lines starting with it).
        legacy = read_cell(source, legacy_indent=True)
        if legacy.lines != reading.lines and legacy.python and _invalid(legacy) is None:
            cell.reading, cell.error = legacy, None
    return cell


def _invalid(reading: CellReading) -> Optional[Exception]:
    """Why the reading is not Python (what IPython would raise running the cell), or None."""
    try:
        compile("\n".join(reading.lines) + "\n", "<cell>", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except SyntaxError as error:
        return error
    except (ValueError, RecursionError, MemoryError) as error:  # null bytes; nested too deeply
        return error
    if reading.failed:
        return SyntaxError("IPython cannot turn this cell into Python", ("<cell>", 1, 1, None))
    return None


def _entangled_invalid_cells(cells: List[_Cell]) -> Dict[int, List[str]]:
    """For each invalid cell that cannot be left out safely, the names that tie it to the others.

    Leaving a cell out is safe when the analysis of the other cells cannot depend on it: no name
    the cell mentions (outside strings and comments; attribute names after a `.` do not count) is
    used in another cell, so it can bind, rebind or mutate nothing the others read, nor call one
    of their functions (whose grad mode comes from their callers). Builtins it only calls or uses
    as a Python 2 statement (`print "done"`) do not count. Unknown stays silent: when a cell
    cannot even be tokenized, every word of its text counts."""
    invalid = [cell for cell in cells if cell.error is not None]
    if not invalid:
        return {}
    used: Set[str] = set()
    for cell in cells:
        if cell.error is None:
            used |= _names_used(cell.reading.lines)
    used.discard("get_ipython")  # our own placeholder for an assigned magic
    tied: Dict[int, List[str]] = {}
    for cell in invalid:
        shared = sorted(_names_mentioned(cell.reading.lines) & used)
        if shared:
            tied[cell.index] = shared
    return tied


def _names_used(lines: List[str]) -> Set[str]:
    names: Set[str] = set()
    tree = ast.parse("\n".join(lines) + "\n")
    for node in ast.walk(tree):
        kind = type(node)
        if kind is ast.Name:
            names.add(node.id)  # type: ignore[attr-defined]
        elif kind is ast.arg:
            names.add(node.arg)  # type: ignore[attr-defined]
        elif kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            names.add(node.name)  # type: ignore[attr-defined]
        elif kind is ast.alias:
            names.add((node.asname or node.name).partition(".")[0])  # type: ignore[attr-defined]
        elif kind in (ast.Global, ast.Nonlocal):
            names.update(node.names)  # type: ignore[attr-defined]
        elif kind.__name__ in ("ExceptHandler", "MatchAs", "MatchStar", "MatchMapping"):
            bound = getattr(node, "rest", None) if kind.__name__ == "MatchMapping" else getattr(node, "name", None)
            if bound:
                names.add(bound)
    return names


def _names_mentioned(lines: List[str]) -> Set[str]:
    """Identifiers an invalid cell mentions (from its tokens; every word when it cannot be tokenized)."""
    import builtins
    import io
    import keyword
    import tokenize

    text = "\n".join(line for line in lines if not line.rstrip().endswith(IPYTHON_MARK)) + "\n"
    tokens: List[tokenize.TokenInfo] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type not in (tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT):
                tokens.append(token)
    except (tokenize.TokenError, SyntaxError) as error:
        # An unclosed bracket ends the text with every token read; anything else stops midway.
        if not (isinstance(error, tokenize.TokenError) and "EOF in multi-line statement" in str(error.args[0])):
            return {word for word in _IDENTIFIER.findall(text) if not keyword.iskeyword(word)}
    names: Set[str] = set()
    for position, token in enumerate(tokens):
        if token.type != tokenize.NAME or keyword.iskeyword(token.string):
            continue
        before = tokens[position - 1] if position else None
        after = tokens[position + 1] if position + 1 < len(tokens) else None
        if before is not None and before.string == ".":
            continue
        if hasattr(builtins, token.string) and after is not None:
            called = after.string == "(" and (before is None or before.string not in ("def", "class"))
            statement = (before is None or before.type == tokenize.NEWLINE) and after.type in (
                tokenize.STRING, tokenize.NAME, tokenize.NUMBER
            )
            if called or statement:
                continue
        names.add(token.string)
    return names


def join_cells(cells: Sequence[List[str]]) -> str:
    lines: List[str] = []
    for number, cell_lines in enumerate(cells):
        if number:
            lines.append(CELL_BOUNDARY)
        lines.extend(cell_lines)
    return "\n".join(lines) + "\n" if lines else ""


def _cell_starts(module_text: str) -> List[int]:
    starts = [1]
    for number, line in enumerate(module_text.split("\n"), 1):
        if line == CELL_BOUNDARY:
            starts.append(number + 1)
    return starts


def _split_cells(module_text: str) -> List[List[str]]:
    lines = module_text.split("\n")
    if module_text.endswith("\n"):
        lines.pop()
    pieces: List[List[str]] = [[]]
    for line in lines:
        if line == CELL_BOUNDARY:
            pieces.append([])
        else:
            pieces[-1].append(line)
    return pieces if module_text else []


def _restore_ipython(cell: _Cell, python_lines: List[str], prefix: str) -> List[str]:
    """The cell's new lines as written: IPython lines put back where their placeholders ended up
    (re-indented with them), and the indentation IPython's clean-up removed given back."""
    reading = cell.reading
    placeholders = sorted(set(reading.ipython))
    restored: List[str] = []
    found = 0
    for line in python_lines:
        if not line.endswith(IPYTHON_MARK):
            restored.append(prefix + line if prefix and line.strip() else line)
            continue
        if found >= len(placeholders):
            raise NotebookError("the fix changed an IPython line")
        number = placeholders[found]
        old = reading.lines[number]
        if line.lstrip() != old.lstrip():
            raise NotebookError("the fix changed an IPython line")
        old_indent, new_indent = _indentation(old), _indentation(line)
        added = new_indent[: len(new_indent) - len(old_indent)] if len(new_indent) > len(old_indent) else ""
        if number == reading.magic_head and (added or any(text.strip() for text in restored)):
            raise NotebookError("the fix would move a cell magic off the cell's first line")
        removed = reading.removed[number]
        restored.append(removed + added + cell.lines[number][len(removed) :])
        found += 1
    if found != len(placeholders):
        raise NotebookError("the fix removed an IPython line")
    return restored


def _indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


# -- the file text: where each cell's source is ----------------------------------------------------
_decoder = json.JSONDecoder()


def _skip(text: str, position: int) -> int:
    return _WHITESPACE.match(text, position).end()  # type: ignore[union-attr]


def _locate_sources(text: str, data: Dict[str, Any]) -> Optional[Dict[int, _SourceSpan]]:
    """Spans of every cell's `source` value, or None when the layout cannot be traced (then fixes
    fall back to re-dumping the JSON)."""
    newlines = [match.start() for match in re.finditer("\n", text)]

    def line_of(position: int) -> int:
        return bisect.bisect_left(newlines, position) + 1

    spans: Dict[int, _SourceSpan] = {}
    try:
        position = _skip(text, 0)
        if text[position] != "{":
            return None
        position += 1
        cells_seen = 0
        while True:
            position = _skip(text, position)
            if text[position] == "}":
                break
            key, position = scanstring(text, position + 1)
            position = _skip(text, position)
            if text[position] != ":":
                return None
            position = _skip(text, position + 1)
            if key == "cells":
                cells_seen += 1
                position = _locate_cells(text, position, spans, line_of)
            else:
                _, position = _decoder.raw_decode(text, position)
            position = _skip(text, position)
            if text[position] == ",":
                position += 1
        if cells_seen != 1:
            return None
    except (IndexError, ValueError):
        return None
    # Trust the trace only if it read back exactly what json.loads read.
    for index, cell in enumerate(data["cells"]):
        span = spans.get(index)
        if "source" not in cell:
            continue
        if span is None or json.loads(text[span.start : span.end]) != cell["source"]:
            return None
    return spans


def _locate_cells(text: str, position: int, spans: Dict[int, _SourceSpan], line_of: Any) -> int:
    if text[position] != "[":
        raise ValueError("cells is not a list")
    position += 1
    index = 0
    while True:
        position, done = _next_member(text, position, "]")
        if done:
            return position
        if text[position] != "{":
            raise ValueError("a cell is not an object")
        position += 1
        while True:
            position, done = _next_member(text, position, "}")
            if done:
                break
            key, position = scanstring(text, position + 1)
            position = _skip(text, position)
            position = _skip(text, position + 1)  # the ':'
            start = position
            if key == "source" and text[position] == "[":
                offsets, lines, joined = [], [], 0
                position += 1
                while True:
                    position, done = _next_member(text, position, "]")
                    if done:
                        break
                    value, end = scanstring(text, position + 1)
                    offsets.append(joined)
                    lines.append(line_of(position))
                    joined += len(value)
                    position = end
                spans[index] = _SourceSpan(start, position, True, offsets, lines)
            else:
                _, position = _decoder.raw_decode(text, position)
                if key == "source":
                    spans[index] = _SourceSpan(start, position, False, [0], [line_of(start)])
        index += 1


def _next_member(text: str, position: int, closer: str) -> Tuple[int, bool]:
    """Past whitespace and commas inside a JSON array or object: (where the next member starts,
    False), or (just past `closer`, True) at the end of the container."""
    while True:
        position = _skip(text, position)
        if text[position] == closer:
            return position + 1, True
        if text[position] != ",":
            return position, False
        position += 1


def _format_source(source: str, old: str, is_list: bool, text: str, start: int, ensure_ascii: bool) -> str:
    """The new `source` value in the style of the old one (one string per line, same indentation)."""
    if not is_list:
        return json.dumps(source, ensure_ascii=ensure_ascii)
    elements = [json.dumps(line, ensure_ascii=ensure_ascii) for line in _split_keeping_ends(source)]
    if not elements:
        return "[]"
    line_start = text.rfind("\n", 0, start) + 1
    key_line = text[line_start:start]
    key_indent = key_line[: len(key_line) - len(key_line.lstrip())]
    inner = old[1:-1]
    if "\n" not in inner and inner.strip():
        return "[" + ", ".join(elements) + "]"  # all on one line: ["a\n", "b"]
    if inner.strip():
        before_first = inner[: len(inner) - len(inner.lstrip())]
        after_last = inner[len(inner.rstrip()) :]
        element_indent = before_first.rsplit("\n", 1)[-1]
        close_indent = after_last.rsplit("\n", 1)[1] if "\n" in after_last else ""
    else:
        element_indent, close_indent = key_indent + " ", key_indent
    return "[\n" + ",\n".join(element_indent + element for element in elements) + "\n" + close_indent + "]"


def _split_keeping_ends(source: str) -> List[str]:
    """nbformat's list form: one string per line, each ending in "\n" but the last."""
    return re.findall(r"[^\n]*\n|[^\n]+$", source)


def _uses_ascii_escapes(text: str) -> bool:
    """nbformat writes non-ASCII as is; keep \\uXXXX only in a file that already escapes so."""
    return text.isascii() and "\\u" in text


def _detect_indent(text: str) -> Optional[int]:
    lines = text.split("\n", 2)
    if len(lines) < 2:
        return None
    return len(lines[1]) - len(lines[1].lstrip(" "))


def _with_final_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _invalid_cells(notebook: Notebook) -> List[int]:
    return [cell.index for cell in notebook.cells if cell.error is not None]


# -- the command's work for one notebook ---------------------------------------------------------
def process_notebook(path: str, options: Any, raw: Optional[bytes] = None) -> Any:
    """`runner.process_file` for a notebook: the same result, positions as cells and lines;
    `raw`: the notebook's bytes when they do not come from `path` (standard input)."""
    from .checker import INTERNAL_ERROR
    from .runner import (
        READ_ERROR, SYNTAX_ERROR, FileResult, error_record, fix_text, lint_text, project_context_of, record,
        refuse_fixes, syntax_error_record, write_or_report, write_refusal,
    )

    result = FileResult(path)
    try:
        notebook = read_notebook(path) if raw is None else parse_notebook(path, raw)
    except NotebookError as error:
        result.errors.append(error_record(path, READ_ERROR, error.line, error.column, str(error)))
        return result
    if not is_python_notebook(notebook):
        return result
    result.errors.extend(notebook.error_records(path))
    if not notebook.analysable:
        return result
    text = notebook.module_text
    # A notebook is no module of the project, but what it imports from the project is known.
    project = project_context_of(path, options)
    try:
        findings = lint_text(text, options, project)
    except SyntaxError as error:
        result.errors.append(notebook.relocate(syntax_error_record(path, error)))
        return result
    except (ValueError, RecursionError, MemoryError) as error:  # null bytes; nested too deeply for CPython
        result.errors.append(error_record(path, SYNTAX_ERROR, 1, 1, f"{type(error).__name__}: {error}"))
        return result
    internal = [f for f in findings if f.code == INTERNAL_ERROR]
    if internal:  # the analysis failed on this notebook: an error, whatever the selection
        result.errors.extend(record(path, f) for f in internal)
        return result
    fixed_notebook = notebook
    refusal = write_refusal(path, options) if options.fix and findings else None
    if refusal is not None:
        refuse_fixes(path, findings, options, result, refusal)
        result.not_fixed = [notebook.relocate(r) for r in result.not_fixed]
    elif options.fix and findings:
        fixed_text, left = fix_text(path, text, findings, options, result, notebook.refusal, project)
        result.fixed = [notebook.relocate(r) for r in result.fixed]
        result.not_fixed = [notebook.relocate(r) for r in result.not_fixed]
        if fixed_text != text:
            try:
                sources = notebook.sources_from(fixed_text)
                new_raw = notebook.rewritten(sources)
                fixed_notebook = parse_notebook(path, notebook.encode(new_raw))
                if fixed_notebook.module_text != fixed_text:
                    raise NotebookError("the rewritten notebook does not read back as fixed")
                if _invalid_cells(fixed_notebook) != _invalid_cells(notebook):
                    raise NotebookError("the fix would leave a cell that is not valid Python")
            except NotebookError as error:
                # Nothing is written: what would have been fixed is reported as not fixed.
                result.not_fixed += [dict(r, reason=str(error)) for r in result.fixed]
                result.fixed = []
                fixed_notebook = notebook
            else:
                findings = left
                result.changed = True
                if options.diff:
                    result.diff = notebook.cell_diff(sources)
                elif options.stdin:
                    result.output = notebook.encode(new_raw)
                elif not write_or_report(path, notebook.encode, new_raw, notebook.raw, result):
                    findings, fixed_notebook = lint_text(text, options, project), notebook
        else:
            findings = left
    elif options.add_noqa and findings:
        findings = _add_noqa(notebook, findings, options, result)
    result.findings = [fixed_notebook.relocate(record(path, f)) for f in findings]
    return result


def _add_noqa(notebook: Notebook, findings: List[Any], options: Any, result: Any) -> List[Any]:
    """`--add-noqa` on a notebook: the comments are added to the module's lines and written back
    into the cells they belong to, as a fix is; returns the findings left (none once written)."""
    from .add_noqa import add_noqa
    from .runner import READ_ERROR, error_record, write_or_report, write_refusal

    text, changed = add_noqa(notebook.module_text, findings)
    if not changed:
        return findings
    refusal = write_refusal(notebook.path, options)
    if refusal is not None:
        result.errors.append(error_record(notebook.path, READ_ERROR, 1, 1, refusal))
        return findings
    try:
        new_raw = notebook.rewritten(notebook.sources_from(text))
        if parse_notebook(notebook.path, notebook.encode(new_raw)).module_text != text:
            raise NotebookError("the rewritten notebook does not read back as changed")
    except NotebookError as error:
        result.errors.append(error_record(notebook.path, READ_ERROR, 1, 1, f"'# noqa' not added: {error}"))
        return findings
    if not write_or_report(notebook.path, notebook.encode, new_raw, notebook.raw, result):
        return findings
    result.noqa_lines = changed
    result.changed = True
    return []
