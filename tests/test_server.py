"""The language server end to end: `flake8-nograd server` in a subprocess, driven over stdio by
pytest-lsp's client. Open a buggy file, receive the exact diagnostics, apply a code action, receive
none; changes (debounced), saves, notebooks, hover, settings, bad files. Skipped without pygls and
pytest-lsp (the `lsp` extra; pytest-lsp needs Python 3.10)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import pytest

pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities  # noqa: E402

pytestmark = pytest.mark.asyncio

TRAIN = """\
import torch
import torch.nn.functional as F


def train(model, loader, optimizer):
    for inputs, targets in loader:
        with torch.no_grad():
            loss = F.cross_entropy(model(inputs), targets)
        loss.backward()
        optimizer.step()


def predict(model, x):
    with torch.no_grad:
        return model(x)


def evaluate(model, loader):
    model.eval()
    total = 0
    for x, y in loader:
        total += (model(x).argmax(1) == y).sum().item()
    return total
"""
NG101_MESSAGE = (
    "'loss' was computed under torch.no_grad() (line 7) and has no graph; compute it outside "
    "'with torch.no_grad():' before calling backward()"
)
NG401_MESSAGE = "'torch.no_grad' is used without calling it, a TypeError at run time; write 'with torch.no_grad():'"
NG201_MESSAGE = (
    "'for' loop after model.eval() (line 19) runs 'model' (line 22) with grad enabled, building a graph "
    "for every iteration; wrap the loop in 'with torch.no_grad():' or decorate 'evaluate' with "
    "'@torch.no_grad()'"
)


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "flake8_nograd", "server"]))
async def client(lsp_client: LanguageClient):
    capabilities = client_capabilities("visual-studio-code")
    await lsp_client.initialize_session(types.InitializeParams(capabilities=capabilities))
    yield
    await lsp_client.shutdown_session()


def summary(diagnostics: Sequence[types.Diagnostic]) -> List[Tuple[str, int, int, int, int, str]]:
    """(code, start line, start character, end line, end character, message), 0-based as LSP counts."""
    return [
        (str(d.code), d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character, d.message)
        for d in diagnostics
    ]


async def open_file(client: LanguageClient, path: Path, text: str) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return uri


def change(client: LanguageClient, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


def apply(text: str, edits: Sequence[types.TextEdit]) -> str:
    """The text with whole-range edits applied (the server replaces a document whole)."""
    lines = text.splitlines(keepends=True)
    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        start = sum(len(line) for line in lines[: edit.range.start.line]) + edit.range.start.character
        end = sum(len(line) for line in lines[: edit.range.end.line]) + edit.range.end.character
        joined = "".join(lines)
        lines = (joined[:start] + edit.new_text + joined[end:]).splitlines(keepends=True)
    return "".join(lines)


async def test_open_a_buggy_file_fix_it_with_code_actions_and_the_diagnostics_go(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "train.py"
    path.write_text(TRAIN)
    uri = await open_file(client, path, TRAIN)
    assert summary(client.diagnostics[uri]) == [
        ("NG101", 8, 8, 8, 23, NG101_MESSAGE),
        ("NG401", 13, 9, 13, 22, NG401_MESSAGE),
        ("NG201", 20, 4, 21, 55, NG201_MESSAGE),
    ]
    first = client.diagnostics[uri][0]
    assert first.source == "flake8-nograd" and first.severity == types.DiagnosticSeverity.Warning
    assert first.code_description.href.endswith("/docs/rules/NG101.md")

    text = TRAIN
    for version, diagnostic in enumerate(list(client.diagnostics[uri])[1:], start=2):
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=diagnostic.range,
                context=types.CodeActionContext(diagnostics=[diagnostic], only=[types.CodeActionKind.QuickFix]),
            )
        )
        (action,) = actions
        assert action.kind == types.CodeActionKind.QuickFix and action.is_preferred
        text = apply(text, action.edit.changes[uri])
        change(client, uri, version, text)
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert "    with torch.no_grad():\n        return model(x)" in text
    assert "    with torch.no_grad():\n        for x, y in loader:" in text
    # NG101 has no automatic fix (where the loss should be computed is the author's choice).
    assert summary(client.diagnostics[uri]) == [("NG101", 8, 8, 8, 23, NG101_MESSAGE)]
    no_fix = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=client.diagnostics[uri][0].range,
            context=types.CodeActionContext(diagnostics=list(client.diagnostics[uri])),
        )
    )
    assert not no_fix
    change(client, uri, 10, text.replace("        with torch.no_grad():\n            loss =", "        if True:\n            loss ="))
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert list(client.diagnostics[uri]) == []


async def test_changes_are_debounced(client: LanguageClient, tmp_path: Path):
    uri = await open_file(client, tmp_path / "a.py", "import torch\n")
    assert list(client.diagnostics[uri]) == []
    published: List[int] = []
    text = "import torch\n"
    for version in range(2, 7):  # typing, faster than the debounce
        text += "with torch.no_grad:\n    pass\n"
        change(client, uri, version, text)
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    published.append(len(client.diagnostics[uri]))
    assert published == [5], "one check, of the last text"


async def test_save_checks_and_an_unsafe_fix_is_marked(client: LanguageClient, tmp_path: Path):
    source = (
        "import torch\n\n\ndef train(model, loader, optimizer):\n    total = 0\n    for x in loader:\n"
        "        loss = model(x).sum()\n        loss.backward()\n        optimizer.step()\n        total += loss\n"
        "    return total\n"
    )
    uri = await open_file(client, tmp_path / "t.py", source)
    (diagnostic,) = client.diagnostics[uri]
    assert diagnostic.code == "NG202"
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )
    titles = [(a.title, a.is_preferred) for a in actions]
    assert titles == [("NG202: " + next(a.title for a in actions).split(": ", 1)[1], False)]
    assert titles[0][0].endswith(" (unsafe)"), "NG202's fix is documented as unsafe"
    assert "total += loss.detach()" in apply(source, actions[0].edit.changes[uri])
    client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert [d.code for d in client.diagnostics[uri]] == ["NG202"]


async def test_fix_all_applies_every_safe_fix(client: LanguageClient, tmp_path: Path):
    source = "import torch\n\n\ndef f(m, x):\n    with torch.no_grad:\n        a = m(x)\n    with torch.no_grad:\n        return a\n"
    uri = await open_file(client, tmp_path / "f.py", source)
    assert [d.code for d in client.diagnostics[uri]] == ["NG401", "NG401"]
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)),
            context=types.CodeActionContext(diagnostics=[], only=[types.CodeActionKind.SourceFixAll]),
        )
    )
    (action,) = actions
    assert action.kind == "source.fixAll.flake8-nograd"
    assert apply(source, action.edit.changes[uri]) == source.replace("torch.no_grad:", "torch.no_grad():")


async def test_hover_on_a_diagnostic_shows_the_rule(client: LanguageClient, tmp_path: Path):
    uri = await open_file(client, tmp_path / "train.py", TRAIN)
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=13, character=12))
    )
    assert hover.contents.kind == types.MarkupKind.Markdown
    assert hover.contents.value == (
        "**NG401** `grad-guard-not-called`: a grad-mode context manager used in 'with' without calling it "
        "(TypeError).\n\n[NG401 rule page](https://github.com/flake8-nograd/flake8-nograd/blob/main/docs/rules/NG401.md)"
    )
    nothing = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=0, character=0))
    )
    assert nothing is None


async def test_settings_come_from_the_files_pyproject(client: LanguageClient, tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.flake8-nograd]\nignore = ["NG401"]\n')
    uri = await open_file(client, tmp_path / "train.py", TRAIN)
    assert [d.code for d in client.diagnostics[uri]] == ["NG101", "NG201"]


async def test_a_bad_file_gets_no_diagnostics_and_a_log_line(client: LanguageClient, tmp_path: Path):
    uri = await open_file(client, tmp_path / "train.py", TRAIN)
    assert len(client.diagnostics[uri]) == 3
    change(client, uri, 2, TRAIN + "def broken(:\n")
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert list(client.diagnostics[uri]) == []
    assert any(
        m.message.startswith(f"flake8-nograd: {tmp_path / 'train.py'}:24: not checked: SyntaxError")
        for m in client.log_messages
    ), [m.message for m in client.log_messages]
    change(client, uri, 3, "\x00")
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert list(client.diagnostics[uri]) == []
    change(client, uri, 4, TRAIN)  # the server lives on
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert len(client.diagnostics[uri]) == 3


async def test_columns_are_in_the_clients_units(client: LanguageClient, tmp_path: Path):
    """ast counts UTF-8 bytes; LSP (here UTF-16) counts code units."""
    source = "import torch\n\n\ndef f(m, x):\n    é = 0\n    print('😋é'); torch.no_grad()\n"
    uri = await open_file(client, tmp_path / "u.py", source)
    (diagnostic,) = client.diagnostics[uri]
    assert diagnostic.code == "NG402"
    # `print('😋é'); ` is 13 code points, 14 UTF-16 units (the emoji takes two), 17 UTF-8 bytes.
    assert (diagnostic.range.start.line, diagnostic.range.start.character) == (5, 4 + 14)
    assert diagnostic.range.end.character == 4 + 14 + len("torch.no_grad()")


def cell(uri: str, kind: types.NotebookCellKind = types.NotebookCellKind.Code) -> types.NotebookCell:
    return types.NotebookCell(kind=kind, document=uri)


async def test_notebook_cells_get_their_diagnostics_and_fixes(client: LanguageClient, tmp_path: Path):
    notebook_uri = (tmp_path / "explore.ipynb").as_uri()
    cells: Dict[str, Tuple[types.NotebookCellKind, str]] = {
        f"{notebook_uri}#c0": (types.NotebookCellKind.Markup, "# Training"),
        f"{notebook_uri}#c1": (types.NotebookCellKind.Code, "%matplotlib inline\nimport torch"),
        f"{notebook_uri}#c2": (types.NotebookCellKind.Code, "with torch.no_grad():\n    loss = model(x).sum()"),
        f"{notebook_uri}#c3": (types.NotebookCellKind.Code, "loss.backward()\nwith torch.no_grad:\n    pass"),
    }
    client.notebook_document_did_open(
        types.DidOpenNotebookDocumentParams(
            notebook_document=types.NotebookDocument(
                uri=notebook_uri, notebook_type="jupyter-notebook", version=1,
                cells=[cell(uri, kind) for uri, (kind, _) in cells.items()],
            ),
            cell_text_documents=[
                types.TextDocumentItem(uri=uri, language_id="markdown" if kind == types.NotebookCellKind.Markup else "python", version=1, text=text)
                for uri, (kind, text) in cells.items()
            ],
        )
    )
    last = f"{notebook_uri}#c3"
    while not all(uri in client.diagnostics for uri in cells):  # one notification per cell
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert summary(client.diagnostics[last]) == [
        ("NG101", 0, 0, 0, 15, "'loss' was computed under torch.no_grad() (cell 3, line 1) and has no graph; "
         "compute it outside 'with torch.no_grad():' before calling backward()"),
        ("NG401", 1, 5, 1, 18, NG401_MESSAGE),
    ]
    assert not client.diagnostics[f"{notebook_uri}#c1"] and not client.diagnostics[f"{notebook_uri}#c2"]
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=last), range=client.diagnostics[last][1].range,
            context=types.CodeActionContext(diagnostics=[client.diagnostics[last][1]], only=[types.CodeActionKind.QuickFix]),
        )
    )
    (action,) = actions
    assert list(action.edit.changes) == [last]
    assert action.edit.changes[last][0].new_text == "loss.backward()\nwith torch.no_grad():\n    pass"


async def test_a_notebook_cell_that_is_not_python_is_logged(client: LanguageClient, tmp_path: Path):
    """A cell IPython cannot run, tied to the others by a name: the notebook is not analysed, the
    cells get no diagnostics and the log says why."""
    notebook_uri = (tmp_path / "nb.ipynb").as_uri()
    texts = {f"{notebook_uri}#a": "import torch\nloss = 1", f"{notebook_uri}#b": "print loss\nwith torch.no_grad:\n    pass"}
    client.notebook_document_did_open(
        types.DidOpenNotebookDocumentParams(
            notebook_document=types.NotebookDocument(
                uri=notebook_uri, notebook_type="jupyter-notebook", version=1, cells=[cell(uri) for uri in texts]
            ),
            cell_text_documents=[
                types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text) for uri, text in texts.items()
            ],
        )
    )
    while not all(uri in client.diagnostics for uri in texts):
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert all(not client.diagnostics[uri] for uri in texts)
    assert any(
        "nb.ipynb:cell 2:1: not checked: SyntaxError: Missing parentheses in call to 'print'" in m.message
        and "they use names this cell mentions (loss, torch)" in m.message
        for m in client.log_messages
    ), [m.message for m in client.log_messages]
