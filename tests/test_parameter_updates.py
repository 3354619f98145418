"""NG301/NG302 details the fixtures do not show: fix actions and targets, message wording."""
from __future__ import annotations

import textwrap

from flake8_nograd.checker import check_source

TRAINING_LOOP = textwrap.dedent(
    """\
    import torch

    model = torch.nn.Linear(2, 1)
    for step in range(3):
        model(torch.ones(4, 2)).pow(2).mean().backward()
        for p in model.parameters():
            p.add_(p.grad, alpha=-0.1)
            p.grad = None
        model.bias[0] = 0.0
    """
)


def test_ng301_fix_wraps_the_update_loop_and_the_statement():
    findings = [f for f in check_source(TRAINING_LOOP) if f.code == "NG301"]
    assert [(f.line, f.col) for f in findings] == [(6, 4), (9, 4)]
    loop, item = findings
    assert loop.fix.action == "wrap_no_grad" and loop.fix.safe
    assert loop.fix.target == (6, 4, 8, 21)  # the whole `for p in model.parameters():` loop
    assert item.fix.target == (9, 4, 9, 23)
    assert loop.message.endswith("wrap it in 'with torch.no_grad():'")
    assert "parameter 'p'" in loop.message and "(line 7)" in loop.message
    assert item.message.startswith("item assignment into parameter 'model.bias'")


SWITCH_IN_LOOP = textwrap.dedent(
    """\
    import torch


    def refresh(model, x, step, n):
        while step < n:
            torch.set_grad_enabled(True)
            for p in model.parameters():
                p.add_(x)
            step += 1
    """
)


def test_ng301_wraps_only_what_follows_a_grad_switch_in_the_loop():
    """A `with` around the whole `while` would not outlast the `set_grad_enabled(True)` inside it:
    the fix wraps the inner loop, and the fixed code has nothing left to report."""
    from flake8_nograd.fixes import apply_fixes

    (finding,) = check_source(SWITCH_IN_LOOP)
    assert (finding.code, finding.line, finding.col) == ("NG301", 7, 8)
    assert finding.fix.target == (7, 8, 8, 21)
    fixed = apply_fixes(SWITCH_IN_LOOP, [finding.fix]).source
    assert "        with torch.no_grad():\n            for p in model.parameters():\n" in fixed
    assert check_source(fixed) == []


OPTIMIZER = textwrap.dedent(
    """\
    import torch


    class Plain(torch.optim.Optimizer):
        @staticmethod
        def helper():
            pass

        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    p.sub_(group["lr"] * p.grad)
    """
)


def test_ng302_fix_decorates_the_def_and_the_updates_are_not_reported_twice():
    findings = check_source(OPTIMIZER)
    assert [(f.code, f.line, f.col) for f in findings] == [("NG302", 9, 4)]
    fix = findings[0].fix
    assert fix.action == "decorate_no_grad" and fix.safe
    assert fix.target[:2] == (9, 4)
    assert findings[0].message.startswith("'Plain.step' updates parameter 'p' in place (line 12)")
    assert findings[0].message.endswith("decorate step() with @torch.no_grad()")


def test_ng302_names_the_unguarded_call_for_a_plain_class():
    source = textwrap.dedent(
        """\
        import torch


        class SGD:
            def __init__(self, params, lr):
                self.params, self.lr = params, lr

            def step(self):
                for param in self.params:
                    param -= self.lr * param.grad


        w = torch.zeros(2, requires_grad=True)
        opt = SGD([w], 0.1)
        (w * 2).sum().backward()
        opt.step()
        """
    )
    findings = check_source(source)
    assert [(f.code, f.line) for f in findings] == [("NG302", 8)]
    assert "is called with grad enabled (line 16: 'opt.step()')" in findings[0].message


HELPER_WRITES_ITS_ARGUMENT = textwrap.dedent(
    """\
    import torch
    from torch import nn


    def fill_(t, value):
        t[:] = value


    def init(m):
        m.bias.zero_()


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)
            fill_(self.fc.weight, 1.0)
            y = fill_(self.fc.bias, 0.0)
            self.apply(init)
            with torch.no_grad():
                fill_(self.fc.weight, 2.0)
            fill_(torch.zeros(2), 3.0)
    """
)


def test_ng301_in_a_helper_is_reported_at_each_grad_on_call():
    """The call's grad mode decides: one finding per unguarded call that passes a parameter (or a
    module to `apply`), naming the helper's line; the fix guards the call when it is a statement of
    its own, else the helper's write. The guarded call and the call with a plain tensor are quiet,
    and the helper itself, whose argument is not a parameter there, gives nothing."""
    findings = [f for f in check_source(HELPER_WRITES_ITS_ARGUMENT) if f.code == "NG301"]
    assert [(f.line, f.col) for f in findings] == [(17, 8), (18, 12), (19, 8)]
    called, assigned, applied = findings
    assert called.message == (
        "'fill_(self.fc.weight, 1.0)' updates parameter 'self.fc.weight' in place (line 6, in fill_) with grad "
        "enabled, which raises at run time; wrap the call in 'with torch.no_grad():'"
    )
    assert called.fix.action == "wrap_no_grad" and called.fix.target == (17, 8, 17, 34)
    assert assigned.message.endswith("(line 6, in fill_) with grad enabled, which raises at run time; "
                                     "wrap line 6 of 'fill_' in 'with torch.no_grad():'")
    assert assigned.fix.target == (6, 4, 6, 16)
    assert applied.message == (
        "'self.apply(init)' updates 'm.bias', a parameter of 'self', in place (line 10, in init) with grad "
        "enabled, which raises at run time; wrap the call in 'with torch.no_grad():'"
    )
    assert applied.fix.target == (19, 8, 19, 24)


TWO_CALLERS = textwrap.dedent(
    """\
    import torch
    from torch import nn


    def scale_(params, c):
        for p in params:
            p.mul_(c)


    def warm_up(model):
        scale_(model.parameters(), 0.5)


    def train(model, frozen):
        frozen.requires_grad_(False)
        scale_(model.parameters(), 0.9)
        scale_(frozen.parameters(), 0.9)
        scale_([torch.zeros(2)], 0.9)
        with torch.no_grad():
            scale_(model.parameters(), 0.9)
    """
)


def test_ng301_helper_given_a_parameter_collection_by_two_unguarded_callers():
    findings = check_source(TWO_CALLERS)
    assert [(f.code, f.line, f.col) for f in findings] == [("NG301", 11, 4), ("NG301", 16, 4)]
    assert findings[0].message.startswith(
        "'scale_(model.parameters(), 0.5)' updates the parameters in 'model.parameters()' in place (line 7, in scale_)"
    )


def test_argument_updates_summary_is_plain_and_follows_the_binding():
    import ast

    from flake8_nograd.analysis import ModuleAnalysis
    from flake8_nograd.analysis.parameters import LEAF, MODULE, PARAMETER, ArgumentUpdate

    analysis = ModuleAnalysis(ast.parse(HELPER_WRITES_ITS_ARGUMENT))
    fill, init = (f for f in analysis.functions if f.name in ("fill_", "init"))
    assert analysis.summaries.argument_updates(fill, "t", PARAMETER) == (ArgumentUpdate(6, 4, "t", "item assignment"),)
    assert analysis.summaries.argument_updates(fill, "t", LEAF) == (ArgumentUpdate(6, 4, "t", "item assignment"),)
    assert analysis.summaries.argument_updates(fill, "value", PARAMETER) == ()
    assert analysis.summaries.argument_updates(init, "m", MODULE) == (ArgumentUpdate(10, 4, "m.bias", ".zero_()"),)
    assert analysis.summaries.argument_updates(init, "m", PARAMETER) == ()
