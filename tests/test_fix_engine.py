"""The fix engine on its own: what it refuses, how names are chosen, how fixes compose."""
from __future__ import annotations

import ast
import textwrap

from flake8_nograd.findings import Fix, span
from flake8_nograd.fixes import apply_fixes


def _statement_fix(source: str, line: int, action: str = "wrap_no_grad") -> Fix:
    tree = ast.parse(source)
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.stmt) and n.lineno == line)
    return Fix("test", True, action, span(node))


def _fix_statement(source: str, line: int, action: str = "wrap_no_grad"):
    source = textwrap.dedent(source)
    return apply_fixes(source, [_statement_fix(source, line, action)])


def test_nothing_to_fix_returns_the_same_text():
    outcome = apply_fixes("import torch\nx = 1\n", [])
    assert outcome.source == "import torch\nx = 1\n" and not outcome.changed


def test_a_statement_sharing_its_line_is_not_wrapped():
    outcome = _fix_statement(
        """\
        import torch
        def update(p):
            p -= 1; p.grad = None
        """,
        3,
    )
    assert not outcome.changed
    assert "shares its line" in outcome.failed[0][1]


def test_a_one_line_suite_is_not_wrapped():
    outcome = _fix_statement(
        """\
        import torch
        def update(p):
            if p.grad is not None: p -= p.grad
        """,
        3,
    )
    # The `if` itself is a statement of its own line: wrapping it is fine.
    assert outcome.changed
    source = textwrap.dedent(
        """\
        import torch
        def update(p):
            if p.grad is not None: p -= p.grad
        """
    )
    inner = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.AugAssign))
    outcome = apply_fixes(source, [Fix("t", True, "wrap_no_grad", span(inner))])
    assert not outcome.changed and "could not locate" in outcome.failed[0][1]


def test_a_shadowed_torch_name_is_not_used_and_no_import_is_added():
    outcome = _fix_statement(
        """\
        def update(params, torch):
            for p in params:
                p -= p.grad
        """,
        2,
    )
    assert not outcome.changed and "'torch' is taken" in outcome.failed[0][1]


def test_a_local_import_is_used_where_it_is_visible():
    outcome = _fix_statement(
        """\
        def update(params):
            import torch as th
            for p in params:
                p -= p.grad
        """,
        3,
    )
    assert "    with th.no_grad():\n        for p in params:" in outcome.source


def test_a_shadowed_direct_import_falls_back_to_the_module_alias():
    outcome = _fix_statement(
        """\
        import torch
        from torch import no_grad

        def update(params, no_grad=False):
            for p in params:
                p -= p.grad
        """,
        5,
    )
    assert "with torch.no_grad():" in outcome.source


def test_import_torch_goes_after_the_docstring_when_there_are_no_imports():
    outcome = _fix_statement(
        '''\
        """Docs."""
        def update(params):
            for p in params:
                p -= p.grad
        ''',
        3,
    )
    assert outcome.source.startswith('"""Docs."""\nimport torch\n\ndef update')


def test_decorate_keeps_other_decorators_outermost_and_leaves_guarded_closures_alone():
    outcome = _fix_statement(
        """\
        import torch

        class Opt(torch.optim.Optimizer):
            @staticmethod
            def step(closure=None):
                with torch.enable_grad():
                    loss = closure()
                return loss
        """,
        5,
        "decorate_no_grad",
    )
    assert "    @staticmethod\n    @torch.no_grad()\n    def step" in outcome.source
    assert outcome.source.count("enable_grad") == 1


def test_append_item_parenthesises_what_needs_it():
    source = "total = 0\nloss = 1\ntotal += loss + 1\n"
    value = ast.parse(source).body[2].value
    outcome = apply_fixes(source, [Fix("t", True, "append_item", span(value))])
    assert outcome.source.endswith("total += (loss + 1).item()\n")


def test_the_same_fix_twice_is_applied_once():
    source = "import torch\nwith torch.no_grad:\n    pass\n"
    target = span(ast.parse(source).body[1].items[0].context_expr)
    fix = Fix("t", True, "add_call", target)
    outcome = apply_fixes(source, [fix, Fix("t2", True, "add_call", target)])
    assert outcome.source == "import torch\nwith torch.no_grad():\n    pass\n"


def test_a_fix_without_an_action_is_reported_not_applied():
    outcome = apply_fixes("x = 1\n", [Fix("suggestion only")])
    assert outcome.failed and not outcome.changed


def test_the_engine_does_not_load_libcst_for_the_check_path():
    import subprocess
    import sys

    code = (
        "import sys; from flake8_nograd.runner import lint_text, RunOptions;"
        "lint_text('import torch\\nwith torch.no_grad:\\n    pass\\n', RunOptions());"
        "import flake8_nograd.cli, flake8_nograd.plugin;"
        "assert 'libcst' not in sys.modules, 'libcst imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_expressions_whose_ast_span_includes_their_parentheses_are_found():
    source = "import torch\nconsts = ()\nval = 1\nconsts += (val,)\nbatch = list((x for x in range(3)))\n"
    tree = ast.parse(source)
    value = tree.body[3].value
    generator = tree.body[4].value.args[0]
    outcome = apply_fixes(
        source, [Fix("t", True, "append_detach", span(value)), Fix("t", True, "append_item", span(generator))]
    )
    assert not outcome.failed
    assert "consts += (val,).detach()\n" in outcome.source
    assert "list((x for x in range(3)).item())" in outcome.source


def test_unsafe_fixes_only_with_the_flag(tmp_path, monkeypatch):
    from flake8_nograd import runner
    from flake8_nograd.findings import Finding

    path = tmp_path / "update.py"
    source = "import torch\n\n\ndef update(params):\n    for p in params:\n        p -= p.grad\n"
    path.write_text(source)
    loop = ast.parse(source).body[1].body[0]

    def fake_check(tree, text, config=None, rules=(), project=None):
        if "with torch.no_grad():" in text:
            return []
        return [Finding(5, 4, "NG999", "test", Fix("wrap the loop", safe=False, action="wrap_no_grad", target=span(loop)))]

    monkeypatch.setattr(runner, "check_tree", fake_check)
    safe_only = runner.process_file(str(path), runner.RunOptions(selection=runner.Selection(("NG",)), fix=True))
    assert not safe_only.fixed and path.read_text() == source and len(safe_only.findings) == 1
    unsafe = runner.process_file(str(path), runner.RunOptions(fix=True, unsafe_fixes=True))
    assert [r["fixed"] for r in unsafe.fixed] == ["wrap the loop"] and unsafe.findings == []
    assert "    with torch.no_grad():\n        for p in params:\n            p -= p.grad\n" in path.read_text()


# -- every fix pass is proven: its findings go, and no new one comes --------------------------------
UPDATE_LOOP = "import torch\n\n\ndef update(params):\n    for p in params:\n        p -= p.grad\n"


def _loop_finding(text: str, code: str = "NG999"):
    from flake8_nograd.findings import Finding

    loop = next(node for node in ast.walk(ast.parse(text)) if isinstance(node, ast.For))
    return Finding(loop.lineno, loop.col_offset, code, "test", Fix("wrap the loop", True, "wrap_no_grad", span(loop)))


def _fix_file(tmp_path, monkeypatch, source: str, fake_check):
    from flake8_nograd import runner

    path = tmp_path / "update.py"
    path.write_text(source)
    monkeypatch.setattr(runner, "check_tree", fake_check)
    result = runner.process_file(str(path), runner.RunOptions(selection=runner.Selection(("NG",)), fix=True))
    return result, path.read_text()


def test_a_fix_that_leaves_its_finding_is_not_applied(tmp_path, monkeypatch):
    from flake8_nograd.runner import UNPROVEN_FIX

    # A buggy rule: it reports the loop again once it is wrapped, so the wrap proves nothing.
    result, after = _fix_file(tmp_path, monkeypatch, UPDATE_LOOP, lambda tree, text, config=None, rules=(), project=None: [_loop_finding(text)])
    assert after == UPDATE_LOOP and not result.changed and result.fixed == []
    assert [(r["code"], r["reason"]) for r in result.not_fixed] == [("NG999", UNPROVEN_FIX)]
    assert [r["code"] for r in result.findings] == ["NG999"]


def test_a_fix_that_brings_a_finding_of_another_code_is_not_applied(tmp_path, monkeypatch):
    from flake8_nograd.findings import Finding
    from flake8_nograd.runner import UNPROVEN_FIX

    def fake_check(tree, text, config=None, rules=(), project=None):
        if "with torch.no_grad():" in text:
            return [Finding(6, 12, "NG998", "appears only after the wrap")]
        return [_loop_finding(text)]

    result, after = _fix_file(tmp_path, monkeypatch, UPDATE_LOOP, fake_check)
    assert after == UPDATE_LOOP and result.fixed == []
    assert [(r["code"], r["reason"]) for r in result.not_fixed] == [("NG999", UNPROVEN_FIX)]


def test_the_fixes_that_prove_themselves_are_kept_when_another_code_fails(tmp_path, monkeypatch):
    from flake8_nograd import checker
    from flake8_nograd.runner import UNPROVEN_FIX

    source = "import torch\n\n\ndef show(data):\n    for x in data:\n        print(x)\n"
    source += "\n\ndef predict(model, x):\n    with torch.no_grad:\n        return model(x)\n"

    def real_rules_and_a_buggy_one(tree, text, config=None, rules=(), project=None):
        return checker.check_tree(tree, text, config, rules, project) + [_loop_finding(text)]

    result, after = _fix_file(tmp_path, monkeypatch, source, real_rules_and_a_buggy_one)
    assert after == source.replace("torch.no_grad:", "torch.no_grad():")  # NG401's fix, not the wrap
    assert [r["code"] for r in result.fixed] == ["NG401"]
    assert [(r["code"], r["reason"]) for r in result.not_fixed] == [("NG999", UNPROVEN_FIX)]
    assert [r["code"] for r in result.findings] == ["NG999"]
