"""The language server, `flake8-nograd server` (LSP over stdio; needs the `lsp` extra, pygls 2).

It is a front end like the command: each open document (a .py file, or a notebook's cells where
the client syncs notebook documents) is checked by runner.lint_text with the settings the command
would use for that file (its nearest pyproject.toml / [flake8] section) and its project context;
fixes are runner.fix_text's, restricted to the finding asked about. Nothing is re-analysed here.

    open, save        check now (a save also forgets the project index: other files may have changed)
    change            check after DEBOUNCE_SECONDS without a further change
    code action       one per fixable finding ("(unsafe)" and not preferred for unsafe fixes), and
                      "fix all safe fixes" as source.fixAll
    hover             the rule's summary and page on a finding's range

A document that cannot be checked (a syntax error while typing, a bug of ours) gets no
diagnostics and a window/logMessage line; no handler lets an exception out.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from . import __version__
from .findings import Finding
from .noqa import physical_lines
from .runner import FileResult, RunOptions, fix_text, lint_text, project_context_of, record
from .rules import RULES_BY_CODE

SOURCE = "flake8-nograd"
DEBOUNCE_SECONDS = 0.3
FIX_ALL_KIND = f"{types.CodeActionKind.SourceFixAll.value}.{SOURCE}"
CONFIG_FILES = ("pyproject.toml", "setup.cfg", "tox.ini", ".flake8")


@dataclass
class Checked:
    """One check of a document (or of a notebook, as one module): what the fixes and the hover need."""

    path: str
    text: str  # the module text the findings are positioned in
    options: RunOptions
    findings: List[Finding] = field(default_factory=list)
    notebook: Any = None  # notebooks.Notebook for a notebook
    cell_uris: Dict[int, str] = field(default_factory=dict)  # notebook cell index -> its document uri
    # uri -> [(diagnostic, finding)] as published
    published: Dict[str, List[Tuple[types.Diagnostic, Finding]]] = field(default_factory=dict)


class NogradServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            SOURCE,
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            notebook_document_sync=types.NotebookDocumentSyncOptions(
                notebook_selector=[
                    types.NotebookDocumentFilterWithNotebook(
                        notebook="jupyter-notebook", cells=[types.NotebookCellLanguage(language="python")]
                    )
                ],
                save=True,
            ),
        )
        self.debounce = DEBOUNCE_SECONDS
        self.pending: Dict[str, "asyncio.Task[None]"] = {}
        self.checked: Dict[str, Checked] = {}  # by document uri, or notebook uri
        self._options: Dict[str, RunOptions] = {}  # by folder

    # -- settings ----------------------------------------------------------------------------------
    def options_for(self, path: str) -> RunOptions:
        """The command's settings for a file in this folder (config files looked up from it)."""
        folder = os.path.dirname(os.path.abspath(path))
        if folder not in self._options:
            from .cli import analysis_settings, resolve_settings

            notes: List[str] = []
            settings = resolve_settings(None, notes, folder)
            for note in notes:
                self.log(note, types.MessageType.Warning)
            try:
                selection, _, config = analysis_settings(settings)
            except ValueError as error:
                self.log(f"{folder}: {error}; the defaults are used", types.MessageType.Warning)
                selection, _, config = analysis_settings({})
            self._options[folder] = RunOptions(selection=selection, config=config)
        return self._options[folder]

    def forget(self) -> None:
        """After a save: settings and the project index are read again on the next check."""
        self._options.clear()
        from .project.session import forget

        forget()

    def log(self, message: str, kind: types.MessageType = types.MessageType.Log) -> None:
        self.window_log_message(types.LogMessageParams(type=kind, message=f"{SOURCE}: {message}"))

    # -- checking ----------------------------------------------------------------------------------
    def check_text_document(self, uri: str) -> None:
        document = self.workspace.get_text_document(uri)
        path = document_path(uri)
        checked = Checked(path, document.source, self.options_for(path))
        if check(checked, self.log):
            lines = document.lines
            entries = []
            for finding in checked.findings:
                end_line = max(finding.end_line or finding.line, finding.line)
                end_col = finding.end_col if finding.end_col is not None else finding.col
                start_text, end_text = _line(lines, finding.line), _line(lines, end_line)
                start = types.Position(line=finding.line - 1, character=self.character(start_text, start_text, finding.col))
                end = types.Position(line=end_line - 1, character=self.character(end_text, end_text, end_col))
                entries.append((self.diagnostic(finding, start, end), finding))
            checked.published[uri] = entries
        self.publish(uri, checked)

    def check_notebook(self, notebook_uri: str) -> None:
        notebook_document = self.workspace.get_notebook_document(notebook_uri=notebook_uri)
        if notebook_document is None:
            return
        from .notebooks import NotebookError, is_python_notebook, parse_notebook

        path = document_path(notebook_uri)
        cells = []
        cell_uris: Dict[int, str] = {}
        for index, cell in enumerate(notebook_document.cells):
            text = self.workspace.get_text_document(cell.document).source
            code = cell.kind == types.NotebookCellKind.Code
            cells.append({"cell_type": "code" if code else "markdown", "metadata": {}, "source": text})
            cell_uris[index] = cell.document
        raw = json.dumps({"cells": cells, "metadata": notebook_document.metadata or {}, "nbformat": 4, "nbformat_minor": 5})
        previous = self.checked.get(notebook_uri)
        try:
            notebook = parse_notebook(path, raw.encode("utf-8"))
        except NotebookError as error:
            self.log(f"{path}: not checked: {error}")
            notebook = None
        checked = Checked(path, notebook.module_text if notebook else "", self.options_for(path), notebook=notebook)
        checked.cell_uris = cell_uris
        checked.published = {uri: [] for uri in cell_uris.values()}
        if previous is not None:
            checked.published.update({uri: [] for uri in previous.published})  # cleared if gone
        if notebook is not None and is_python_notebook(notebook):
            if not notebook.analysable or any(cell.error is not None for cell in notebook.cells):
                for error in notebook.error_records(path):
                    self.log(f"{path}:cell {error['cell']}:{error['line']}: not checked: {error['message']}")
            if notebook.analysable and check(checked, self.log):
                for finding in checked.findings:
                    relocated = notebook.relocate(record(path, finding))
                    uri = cell_uris.get(relocated["cell"] - 1)
                    if uri is None:
                        continue
                    lines = self.workspace.get_text_document(uri).lines
                    module_lines = physical_lines(checked.text)
                    end_line = max(finding.end_line or finding.line, finding.line)
                    end_col = finding.end_col if finding.end_col is not None else finding.col
                    if relocated["end_line"] == relocated["line"] and end_line != finding.line:
                        end_line, end_col = finding.line, finding.col  # the end is in another cell
                    start = types.Position(
                        line=relocated["line"] - 1,
                        character=self.character(
                            _line(lines, relocated["line"]), _line(module_lines, finding.line), finding.col,
                            relocated["column"] - (finding.col + 1),
                        ),
                    )
                    end = types.Position(
                        line=relocated["end_line"] - 1,
                        character=self.character(
                            _line(lines, relocated["end_line"]), _line(module_lines, end_line), end_col,
                            relocated["end_column"] - (end_col + 1),
                        ),
                    )
                    diagnostic = self.diagnostic(finding, start, end, relocated["message"])
                    checked.published.setdefault(uri, []).append((diagnostic, finding))
        self.checked[notebook_uri] = checked
        for uri, entries in checked.published.items():
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=[d for d, _ in entries])
            )

    def publish(self, uri: str, checked: Checked) -> None:
        self.checked[uri] = checked
        entries = checked.published.get(uri, [])
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[d for d, _ in entries]))

    def character(self, shown: str, counted: str, byte_column: int, shift: int = 0) -> int:
        """A column in the client's units: `byte_column` is ast's (UTF-8 bytes of `counted`, the
        line the analysis read), `shift` what IPython's clean-up removed before it in `shown`,
        the line as the client has it."""
        prefix = counted.encode("utf-8")[:max(byte_column, 0)].decode("utf-8", "replace")
        return self.workspace.position_codec.client_num_units(shown[: len(prefix) + shift])

    def diagnostic(
        self, finding: Finding, start: types.Position, end: types.Position, message: Optional[str] = None
    ) -> types.Diagnostic:
        """`message`: the finding's own, unless a notebook's says `(cell 3, line 1)` instead."""
        if _before(end, start):
            end = start
        rule = RULES_BY_CODE.get(finding.code)
        return types.Diagnostic(
            range=types.Range(start=start, end=end),
            message=message or finding.message,
            severity=types.DiagnosticSeverity.Warning,
            code=finding.code,
            code_description=types.CodeDescription(href=rule.docs_url()) if rule is not None else None,
            source=SOURCE,
        )

    def schedule(self, uri: str, notebook: bool = False) -> None:
        """Check `uri` once no change has come for `self.debounce` seconds."""
        pending = self.pending.pop(uri, None)
        if pending is not None:
            pending.cancel()
        self.pending[uri] = asyncio.ensure_future(self._check_later(uri, notebook))

    async def _check_later(self, uri: str, notebook: bool) -> None:
        await asyncio.sleep(self.debounce)
        self.pending.pop(uri, None)
        guarded(self, self.check_notebook if notebook else self.check_text_document, uri)

    # -- code actions and hover --------------------------------------------------------------------
    def code_actions(self, params: types.CodeActionParams) -> List[types.CodeAction]:
        uri = params.text_document.uri
        checked, owner = self.owner_of(uri)
        if checked is None or owner in self.pending:
            return []  # a check of the latest text is on its way: an edit made now would undo typing
        if checked.notebook is None and self.workspace.get_text_document(uri).source != checked.text:
            return []
        actions: List[types.CodeAction] = []
        wanted = params.context.only
        quick = not wanted or any(types.CodeActionKind.QuickFix.value.startswith(kind) for kind in wanted)
        for diagnostic, finding in checked.published.get(uri, []):
            if not quick or not _overlaps(diagnostic.range, params.range):
                continue
            fix = finding.fix
            if fix is None or not fix.action or fix.target is None:
                continue
            edit = self.fix_edit(checked, owner, [finding], unsafe=not fix.safe)
            if edit is None:
                continue
            actions.append(
                types.CodeAction(
                    title=f"{finding.code}: {fix.description}" + ("" if fix.safe else " (unsafe)"),
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[diagnostic],
                    is_preferred=fix.safe,
                    edit=edit,
                )
            )
        if not wanted or any(FIX_ALL_KIND.startswith(kind) for kind in wanted):
            safe = [f for _, f in checked.published.get(uri, []) if f.fix is not None and f.fix.action and f.fix.safe]
            edit = self.fix_edit(checked, owner, safe, unsafe=False) if safe else None
            if edit is not None:
                actions.append(types.CodeAction(title=f"{SOURCE}: fix all safe fixes", kind=FIX_ALL_KIND, edit=edit))
        return actions

    def owner_of(self, uri: str) -> Tuple[Optional[Checked], str]:
        """The check a document's findings come from, and the uri it is kept under (a cell's notebook)."""
        if uri in self.checked:
            return self.checked[uri], uri
        notebook = self.workspace.get_notebook_document(cell_uri=uri)
        if notebook is not None and notebook.uri in self.checked:
            return self.checked[notebook.uri], notebook.uri
        return None, uri

    def fix_edit(self, checked: Checked, owner: str, chosen: List[Finding], unsafe: bool) -> Optional[types.WorkspaceEdit]:
        """The edit applying the fixes of `chosen` (runner.fix_text, each pass re-checked), or None."""
        options = dataclasses.replace(checked.options, fix=True, unsafe_fixes=unsafe)
        wanted = set(chosen)
        scratch = FileResult(checked.path)
        refuse = (lambda f: None if f in wanted else "not asked for")
        notebook = checked.notebook
        if notebook is not None:
            refuse = (lambda f: notebook.refusal(f) if f in wanted else "not asked for")
        project = project_context_of(checked.path, options)
        text, _ = fix_text(checked.path, checked.text, checked.findings, options, scratch, refuse, project)
        if text == checked.text or not scratch.fixed:
            return None
        if notebook is None:
            return types.WorkspaceEdit(changes={owner: [self.replace_all(owner, text)]})
        from .notebooks import NotebookError

        try:
            sources = notebook.sources_from(text)
        except NotebookError as error:
            self.log(f"{checked.path}: fix not offered: {error}")
            return None
        changes = {}
        for index, source in sources.items():
            uri = checked.cell_uris.get(index)
            if uri is None:
                return None
            changes[uri] = [self.replace_all(uri, source)]
        return types.WorkspaceEdit(changes=changes)

    def replace_all(self, uri: str, text: str) -> types.TextEdit:
        lines = self.workspace.get_text_document(uri).lines
        end = types.Position(line=len(lines), character=0)
        if lines and not lines[-1].endswith(("\n", "\r")):
            end = types.Position(line=len(lines) - 1, character=self.workspace.position_codec.client_num_units(lines[-1]))
        return types.TextEdit(range=types.Range(start=types.Position(line=0, character=0), end=end), new_text=text)

    def hover(self, params: types.HoverParams) -> Optional[types.Hover]:
        checked, _ = self.owner_of(params.text_document.uri)
        if checked is None:
            return None
        parts = []
        for diagnostic, finding in checked.published.get(params.text_document.uri, []):
            if _contains(diagnostic.range, params.position):
                rule = RULES_BY_CODE.get(finding.code)
                if rule is not None:
                    parts.append(f"**{rule.code}** `{rule.name}`: {rule.summary}.\n\n[{rule.code} rule page]({rule.docs_url()})")
        if not parts:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n\n---\n\n".join(parts)))


def check(checked: Checked, log: Any) -> bool:
    """Fill `checked.findings` (runner.lint_text, with the project context); False, with a log
    line, when the text cannot be checked."""
    try:
        project = project_context_of(checked.path, checked.options)
        findings = lint_text(checked.text, checked.options, project)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        where = f":{error.lineno}" if isinstance(error, SyntaxError) and error.lineno else ""
        log(f"{checked.path}{where}: not checked: {type(error).__name__}: {getattr(error, 'msg', None) or error}")
        return False
    internal = [f for f in findings if f.code == "NG000"]
    if internal:
        log(f"{checked.path}: not checked: {internal[0].message}", types.MessageType.Error)
        return False
    checked.findings = findings
    return True


def document_path(uri: str) -> str:
    """The file a document is (its settings and project come from there); an unsaved buffer
    that is no file is named as flake8 names standard input."""
    path = to_fs_path(uri) if uri.startswith("file:") else None
    return path or "stdin"


def guarded(server: NogradServer, handler: Any, *args: Any) -> Any:
    """Run a handler; an exception (a bug of ours) becomes a log line, never a dead server."""
    try:
        return handler(*args)
    except Exception as error:  # noqa: B902 - the server must outlive any one document
        server.log(f"internal error: {type(error).__name__}: {error}; please report it", types.MessageType.Error)
        return None


def _line(lines: Sequence[str], number: int) -> str:
    """Line `number` (1-based) without its ending; "" past the end."""
    return lines[number - 1].rstrip("\r\n") if 0 < number <= len(lines) else ""


def _overlaps(a: types.Range, b: types.Range) -> bool:
    return not (_before(a.end, b.start) or _before(b.end, a.start))


def _contains(span: types.Range, position: types.Position) -> bool:
    return not _before(position, span.start) and not _before(span.end, position)


def _before(a: types.Position, b: types.Position) -> bool:
    return (a.line, a.character) < (b.line, b.character)


def is_python_document(uri: str, language: str = "python") -> bool:
    return language == "python" or uri.endswith((".py", ".pyi"))


def create_server() -> NogradServer:
    server = NogradServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: NogradServer, params: types.DidOpenTextDocumentParams) -> None:
        if is_python_document(params.text_document.uri, params.text_document.language_id):
            guarded(ls, ls.check_text_document, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: NogradServer, params: types.DidChangeTextDocumentParams) -> None:
        if params.text_document.uri in ls.checked:
            ls.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: NogradServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.forget()
        if params.text_document.uri in ls.checked:
            guarded(ls, ls.check_text_document, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: NogradServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        pending = ls.pending.pop(uri, None)
        if pending is not None:
            pending.cancel()
        if ls.checked.pop(uri, None) is not None:
            ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_did_open(ls: NogradServer, params: types.DidOpenNotebookDocumentParams) -> None:
        guarded(ls, ls.check_notebook, params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def notebook_did_change(ls: NogradServer, params: types.DidChangeNotebookDocumentParams) -> None:
        ls.schedule(params.notebook_document.uri, notebook=True)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    def notebook_did_save(ls: NogradServer, params: types.DidSaveNotebookDocumentParams) -> None:
        ls.forget()
        guarded(ls, ls.check_notebook, params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_did_close(ls: NogradServer, params: types.DidCloseNotebookDocumentParams) -> None:
        checked = ls.checked.pop(params.notebook_document.uri, None)
        for uri in (checked.published if checked is not None else ()):
            ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, FIX_ALL_KIND]),
    )
    def code_action(ls: NogradServer, params: types.CodeActionParams) -> Optional[List[types.CodeAction]]:
        return guarded(ls, ls.code_actions, params) or None

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: NogradServer, params: types.HoverParams) -> Optional[types.Hover]:
        return guarded(ls, ls.hover, params)

    return server


def serve() -> None:
    """Speak LSP over stdin and stdout until the client says exit."""
    create_server().start_io()
