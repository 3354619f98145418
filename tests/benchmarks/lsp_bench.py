"""How fast the language server answers, against the command on the same file (not a test).

    python tests/benchmarks/lsp_bench.py [--lines 2000] [--runs 7] [--path module.py]

Builds a module of about --lines lines from the generated corpus (corpus.py; its functions renamed
per copy, so it is one valid module of training, evaluation and model code) or takes --path, then
prints medians of --runs runs of:
  the command: `flake8-nograd check --no-cache FILE`, a process per run, as an editor's flake8
      extension runs a linter on every save;
  the server: the time from didOpen (the file's text changed each run, so nothing is reused) to its
      publishDiagnostics, in one running `flake8-nograd server`; and the same for a didChange,
      which waits the debounce (server.DEBOUNCE_SECONDS) first.
Target: the server's answer within 10x the command's time for the file (it is expected to be well
under 1x, since the server pays for starting Python and importing the package only once).
Needs pygls (`pip install -e ".[lsp]"`).
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import generate  # noqa: E402

from lsprotocol import types  # noqa: E402
from pygls.lsp.client import LanguageClient  # noqa: E402

PY = sys.executable


def build_module(folder: Path, lines: int) -> Path:
    """About `lines` lines of generated code in one module."""
    parts: List[str] = []
    count = 0
    corpus = folder / "corpus"
    generate(corpus, max(1, lines // 20), fixable_share=0.0, buggy_share=0.05)
    for path in sorted(corpus.rglob("*.py")):
        text = path.read_text()
        parts.append(text)
        count += text.count("\n")
        if count >= lines:
            break
    module = folder / "module.py"
    module.write_text("\n\n".join(parts))
    return module


def command_time(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run([PY, "-m", "flake8_nograd", "check", "--no-cache", "-q", str(path)], stdout=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


async def server_times(path: Path, runs: int) -> tuple:
    client = LanguageClient("lsp-bench", "1")
    arrived: "asyncio.Queue[types.PublishDiagnosticsParams]" = asyncio.Queue()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def published(params: types.PublishDiagnosticsParams) -> None:
        arrived.put_nowait(params)

    await client.start_io(PY, "-m", "flake8_nograd", "server")
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities(), process_id=None))
    client.initialized(types.InitializedParams())
    uri = path.resolve().as_uri()
    text = path.read_text()
    opens: List[float] = []
    changes: List[float] = []
    findings = 0
    for run in range(runs + 1):  # the first open is a warm-up
        start = time.perf_counter()
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=f"{text}\n# run {run}\n")
            )
        )
        findings = len((await arrived.get()).diagnostics)
        if run:
            opens.append(time.perf_counter() - start)
        start = time.perf_counter()
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=f"{text}\n# change {run}\n")],
            )
        )
        await arrived.get()
        if run:
            changes.append(time.perf_counter() - start)
        client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
        await arrived.get()  # the close clears the diagnostics
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return statistics.median(opens), statistics.median(changes), findings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--path", type=Path, help="measure this module instead of a generated one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        path = args.path or build_module(Path(work), args.lines)
        lines = path.read_text().count("\n")
        command_time(path)  # warm-up: bytecode compiled, files in the page cache
        command = statistics.median(command_time(path) for _ in range(args.runs))
        opened, changed, findings = asyncio.run(server_times(path, args.runs))
        from flake8_nograd.server import DEBOUNCE_SECONDS

        print(f"module: {lines} lines, {findings} findings")
        print(f"command (check, one process):      {command * 1000:8.1f} ms")
        print(f"server didOpen -> diagnostics:      {opened * 1000:8.1f} ms   ratio to the command {opened / command:5.2f}  (target <= 10)")
        print(
            f"server didChange -> diagnostics:    {changed * 1000:8.1f} ms   ({DEBOUNCE_SECONDS * 1000:.0f} ms of it the debounce;"
            f" ratio {changed / command:5.2f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
