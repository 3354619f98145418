"""Every piece of code a message or fix description suggests is valid Python, whole, and says what
the fixer writes: single quotes in a message hold code (PyTorch's own error texts are in double
quotes), so each quoted piece must parse, never be cut ('...'), and a `.detach()` / `.item()` /
`.clone()` it suggests must apply to the whole expression."""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

from flake8_nograd.checker import check_source
from flake8_nograd.config import Config
from helpers import ROOT, fixture_config

# A quote opens after a space, '(' or the start and closes before a space, punctuation or the end
# ("iteration's graph" is no quote); code may hold quotes itself ('{'loss': loss}'), so the first
# closing quote after which the text parses wins.
_OPENING = re.compile(r"(?:(?<=^)|(?<=[\s(]))'")
_CLOSING = re.compile(r"'(?=$|[\s),;:.])")
_KEYWORDS = {"for", "while", "with", "def"}
_OPERATORS = {"@", "*", "/", "+", "-", "**", "//", "%"}  # an operator a message names ('@' with 'w')
_METHOD_ON_WHOLE = re.compile(r"^(.*)\.(detach|item|clone)\(\)$")


def _sources() -> Iterator[Path]:
    yield from sorted((ROOT / "tests" / "fixtures").rglob("*.py"))
    yield from sorted((ROOT / "tests" / "realworld").glob("*.py"))
    yield from sorted((ROOT / "docs" / "examples").glob("*.py"))


def _texts() -> List[Tuple[str, str]]:
    found = []
    for path in _sources():
        source = path.read_text()
        try:
            findings = check_source(source, fixture_config(source) if "config:" in source else Config())
        except SyntaxError:
            continue  # fixtures of invalid input
        for finding in findings:
            where = f"{path.relative_to(ROOT)}:{finding.line}"
            found.append((where, finding.text))
            if finding.fix is not None:
                found.append((where + " (fix)", finding.fix.description))
    return found


TEXTS = _texts()


def _parses(snippet: str) -> bool:
    """An expression or statement, a `with ...:` header, a decorator, a `def f` or a `.method()` tail."""
    if snippet in _KEYWORDS or snippet in _OPERATORS:
        return True
    candidates = [snippet]
    if snippet.startswith("with ") and snippet.endswith(":"):
        candidates = [snippet + "\n    pass"]
    elif snippet.startswith("@"):
        candidates = [snippet + "\ndef f(): pass"]
    elif snippet.startswith("def "):
        candidates = [snippet + "(): pass"]
    elif snippet.startswith("."):
        candidates = ["x" + snippet]
    for candidate in candidates:
        try:
            ast.parse(candidate)
        except SyntaxError:
            return False
    return True


def _quoted(text: str) -> List[str]:
    snippets = []
    position = 0
    while True:
        opening = _OPENING.search(text, position)
        if opening is None:
            return snippets
        start = opening.end()
        ends = [match.start() for match in _CLOSING.finditer(text, start + 1)]
        if not ends:
            return snippets
        end = next((end for end in ends if _parses(text[start:end])), ends[0])
        snippets.append(text[start:end])
        position = end + 1


def _method_covers_whole(snippet: str) -> bool:
    """`(a / n).detach()` or `loss.detach()`, not `a / n.detach()`: the call's receiver is the whole."""
    match = _METHOD_ON_WHOLE.match(snippet)
    if match is None or not match.group(1):
        return True
    statement = ast.parse(snippet).body[0]
    call = statement.value if isinstance(statement, (ast.Assign, ast.Expr)) else None  # `x = x.clone()` too
    receiver = match.group(1).split(" = ", 1)[-1] if isinstance(statement, ast.Assign) else match.group(1)
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and ast.unparse(call.func.value).replace(" ", "") in (receiver.replace(" ", ""), receiver[1:-1].replace(" ", ""))
    )


def test_there_are_messages_to_check() -> None:
    assert len(TEXTS) > 150
    assert any(".detach()'" in text for _, text in TEXTS)


@pytest.mark.parametrize("where, text", TEXTS, ids=[where for where, _ in TEXTS])
def test_every_quoted_snippet_is_whole_valid_code(where: str, text: str) -> None:
    for snippet in _quoted(text):
        assert "..." not in snippet, f"cut snippet {snippet!r} in {text!r}"
        assert _parses(snippet), f"not Python: {snippet!r} in {text!r}"
        assert _method_covers_whole(snippet), f"the call covers only part: {snippet!r}"


def test_quoted_pieces_are_found_whole() -> None:
    assert _quoted("'{'a': loss}' holds a graph; 'loss' is kept, iteration's graph") == ["{'a': loss}", "loss"]


@pytest.mark.parametrize(
    "snippet, valid",
    [
        ("loss / len(loader).detach()", False),  # precedence: only len(...) is detached
        ("(loss / len(loader)).detach()", True),
        ("x / x.sum().detach()", False),
        ("outputs[0].detach()", True),
    ],
)
def test_the_whole_expression_check_itself(snippet: str, valid: bool) -> None:
    assert _method_covers_whole(snippet) is valid


def test_a_long_expression_is_named_by_line_not_cut() -> None:
    source = (
        "import torch\n"
        "def fit_chunks(model, loader, opt):\n"
        "    model.train()\n"
        "    total = 0\n"
        "    for batch, target in loader:\n"
        "        out = model(batch)\n"
        "        loss = torch.nn.functional.cross_entropy(out, target)\n"
        "        total += loss * batch.shape[0] / len(loader.dataset) + 0.0 * out.abs().mean()\n"
        "        opt.zero_grad()\n"
        "    return total\n"
    )
    texts = [f.message for f in check_source(source) if f.code == "NG202"]
    assert texts == [
        "the expression on line 8 has a graph and is added to 'total' on every iteration, which keeps every "
        "iteration's graph alive; accumulate '.detach()' applied to the whole expression on line 8"
    ]


def test_a_division_gets_detach_on_the_whole() -> None:
    source = (
        "import torch\n"
        "def fit(model, loader, opt):\n"
        "    running = 0\n"
        "    for x, y in loader:\n"
        "        loss = torch.nn.functional.mse_loss(model(x), y)\n"
        "        running += loss / len(loader)\n"
        "        opt.zero_grad()\n"
        "    return running\n"
    )
    texts = [f.text for f in check_source(source) if f.code == "NG202"]
    assert len(texts) == 1
    assert "accumulate '(loss / len(loader)).detach()'" in texts[0]


def test_decorator_advice_says_where_when_the_function_has_decorators() -> None:
    source = (
        "import torch\n"
        "def register(fn):\n"
        "    return fn\n"
        "@register\n"
        "def evaluate(model, loader):\n"
        "    model.eval()\n"
        "    correct = 0\n"
        "    for x, y in loader:\n"
        "        correct += (model(x).argmax(1) == y).sum().item()\n"
        "    return correct\n"
    )
    assert [f.message for f in check_source(source)] == [
        "'for' loop after model.eval() (line 6) runs 'model' (line 9) with grad enabled, building a graph for "
        "every iteration; wrap the loop in 'with torch.no_grad():' or decorate 'evaluate' with "
        "'@torch.no_grad()' directly above 'def evaluate', below its other decorators"
    ]


def test_a_detached_value_is_told_to_keep_its_graph_not_to_get_more_grad() -> None:
    source = (
        "import torch\n"
        "def train(model, x, y):\n"
        "    loss = torch.nn.functional.mse_loss(model(x), y).detach()\n"
        "    loss.requires_grad_()\n"
        "    loss.backward()\n"
    )
    assert [f.message for f in check_source(source)] == [
        "requires_grad switched on for 'loss', which was computed by .detach() and has no graph: backward() "
        "then runs but no parameter gets a gradient; remove the .detach() so that it keeps its graph"
    ]
