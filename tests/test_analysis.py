"""The shared analysis, asked directly: names, regions, guarded functions, value states."""
from __future__ import annotations

import ast
import textwrap

import pytest

from flake8_nograd.analysis import GradMode, Graph, ModuleAnalysis, RegionKind
from helpers import messages


def analyse(source: str) -> ModuleAnalysis:
    return ModuleAnalysis(ast.parse(textwrap.dedent(source)))


def statement_at(analysis: ModuleAnalysis, line: int):
    return next(s for s in analysis.statements if s.stmt.lineno == line)


@pytest.mark.parametrize(
    "imports, expr, expected",
    [
        ("import torch as T", "T.no_grad", "torch.no_grad"),
        ("from torch import no_grad as ng", "ng", "torch.no_grad"),
        ("import torch", "torch.autograd.no_grad", "torch.no_grad"),
        ("import torch", "torch.autograd.grad_mode.inference_mode", "torch.inference_mode"),
        ("import torch", "torch.autograd.grad", "torch.autograd.grad"),
        ("from torch.nn import functional as F", "F.cross_entropy", "torch.nn.functional.cross_entropy"),
        ("from torch import optim", "optim.Optimizer", "torch.optim.Optimizer"),
        ("import pytorch_lightning as pl", "pl.LightningModule", "lightning.pytorch.LightningModule"),
        ("import lightning.pytorch as L", "L.LightningModule", "lightning.pytorch.LightningModule"),
        ("import lightning as L", "L.LightningModule", "lightning.pytorch.LightningModule"),
        ("import numpy as np", "np.mean", "numpy.mean"),
        ("import torch\ntorch = None", "torch.no_grad", "torch.no_grad"),
    ],
)
def test_qualified_names(imports, expr, expected):
    analysis = analyse(f"{imports}\n{expr}\n")
    statement = analysis.statements[-1]
    assert analysis.qualname(statement.stmt.value, statement) == expected


def test_a_parameter_or_local_assignment_shadows_torch():
    analysis = analyse(
        """\
        import torch
        def f(torch):
            torch.no_grad
        def g():
            torch = make()
            torch.no_grad
        """
    )
    for line in (3, 6):
        statement = statement_at(analysis, line)
        assert analysis.qualname(statement.stmt.value, statement) is None


def test_regions_of_with_enable_grad_and_statements():
    analysis = analyse(
        """\
        import torch
        with torch.no_grad():
            a = 1
            with torch.enable_grad():
                b = 2
        torch.set_grad_enabled(False)
        c = 3
        torch.set_grad_enabled(True)
        d = 4
        with torch.set_grad_enabled(mode == "train"):
            e = 5
        """
    )
    modes = {line: analysis.region_at(statement_at(analysis, line).stmt).mode for line in (3, 5, 7, 9, 11)}
    assert modes == {3: GradMode.OFF, 5: GradMode.ON, 7: GradMode.OFF, 9: GradMode.ON, 11: GradMode.UNKNOWN}
    assert analysis.region_at(statement_at(analysis, 7).stmt).kind is RegionKind.STATEMENT


def test_only_inference_mode_leaves_inference_mode():
    """enable_grad(), no_grad() and set_grad_enabled() inside inference mode change nothing (checked
    under torch: tensors made there are inference tensors); inference_mode(False) leaves it."""
    analysis = analyse(
        """\
        import torch
        with torch.inference_mode():
            with torch.enable_grad():
                a = 1
            with torch.no_grad():
                b = 2
            torch.set_grad_enabled(True)
            c = 3
            with torch.inference_mode(False):
                d = 4
        def helper(x):
            with torch.enable_grad():
                return x * 2
        @torch.inference_mode()
        def serve(x):
            return helper(x)
        def train(x):
            with torch.enable_grad():
                return x * 2
        """
    )
    regions = {line: analysis.region_at(statement_at(analysis, line).stmt) for line in (4, 6, 8, 10, 13, 19)}
    for line in (4, 6, 8, 13):
        assert regions[line].inference and regions[line].mode is GradMode.OFF, line
    assert regions[10].mode is GradMode.ON and not regions[10].inference
    assert regions[19].mode is GradMode.ON and not regions[19].inference


def test_functions_guarded_by_their_callers_transitively():
    analysis = analyse(
        """\
        import torch
        def leaf(x):
            return x
        def middle(x):
            return leaf(x)
        def mixed(x):
            return x
        class Runner:
            def score(self, x):
                return x
            def run(self, x):
                with torch.no_grad():
                    middle(x)
                    self.score(x)
                    mixed(x)
                mixed(x)
        """
    )
    bases = {f.name: f.base for f in analysis.functions if not f.is_module}
    assert bases["leaf"].mode is GradMode.OFF and bases["leaf"].kind is RegionKind.CALLERS
    assert bases["middle"].mode is GradMode.OFF
    assert bases["score"].mode is GradMode.OFF
    assert bases["mixed"].mode is GradMode.ON
    assert bases["run"].mode is GradMode.ON


def test_lightning_hooks_only_in_lightning_modules():
    analysis = analyse(
        """\
        import lightning.pytorch as pl
        class Base(pl.LightningModule):
            pass
        class Model(Base):
            def validation_step(self, batch, i):
                pass
            def on_validation_epoch_end(self):
                pass
            def training_step(self, batch, i):
                pass
        class Plain:
            def validation_step(self, batch, i):
                pass
        """
    )
    bases = [(f.name, f.class_node.name, f.base.kind) for f in analysis.functions if f.class_node is not None]
    assert bases == [
        ("validation_step", "Model", RegionKind.HOOK),
        ("on_validation_epoch_end", "Model", RegionKind.HOOK),
        ("training_step", "Model", RegionKind.DEFAULT),
        ("validation_step", "Plain", RegionKind.DEFAULT),
    ]


def graph_of(source: str, line: int) -> Graph:
    """The state of the value back-propagated at `line`."""
    analysis = analyse(source)
    backward = next(b for b in analysis.backward_calls if b.statement.stmt.lineno == line)
    return analysis.state_of(backward.values[0], backward.statement).graph


def test_states_merge_across_branches_and_loops():
    source = """\
        import torch
        def f(model, x, flag, loader):
            with torch.no_grad():
                a = model(x)
            if flag:
                a = model(x)
            a.backward()
            with torch.no_grad():
                b = model(x)
            for batch in loader:
                b = b * 2
            b.backward()
            with torch.no_grad():
                c = model(x)
            for batch in loader:
                c = c + model(batch)
            c.backward()
        """
    assert graph_of(source, 7) is Graph.UNKNOWN
    assert graph_of(source, 12) is Graph.NO_GRAPH
    assert graph_of(source, 17) is Graph.UNKNOWN


def test_states_through_methods_arithmetic_and_losses():
    source = """\
        import torch
        import torch.nn.functional as F
        from torch import nn
        criterion = nn.CrossEntropyLoss()
        def f(model, x, y):
            with torch.no_grad():
                out = model(x)
            a = out.mean().float() * 2 + 1
            a.backward()
            b = criterion(out, y)
            b.backward()
            c = F.nll_loss(out.log_softmax(-1), y)
            c.backward()
            d = out * model(x)
            d.backward()
        """
    assert graph_of(source, 9) is Graph.NO_GRAPH
    assert graph_of(source, 11) is Graph.NO_GRAPH
    assert graph_of(source, 13) is Graph.NO_GRAPH
    assert graph_of(source, 15) is Graph.HAS_GRAPH


def test_backward_wrappers_name_the_back_propagated_value():
    analysis = analyse(
        """\
        import torch
        scaler.scale(l1).backward()
        accelerator.backward(l2)
        self.fabric.backward(l3)
        self.manual_backward(l4)
        torch.autograd.grad(l5, params)
        torch.autograd.backward([l6, l7])
        l8.backward(gradient)
        """
    )
    values = [[ast.unparse(v) for v in b.values] for b in analysis.backward_calls]
    assert values == [["l1"], ["l2"], ["l3"], ["l4"], ["l5"], ["l6", "l7"], ["l8"]]


def test_a_free_torch_name_is_torch_but_other_free_names_are_unknown():
    analysis = analyse(
        """\
        torch.no_grad
        F.cross_entropy
        """
    )
    first, second = analysis.statements
    assert analysis.qualname(first.stmt.value, first) == "torch.no_grad"
    assert analysis.qualname(second.stmt.value, second) is None


def test_a_guard_entered_on_an_exit_stack_lasts_until_the_block_ends():
    analysis = analyse(
        """\
        import contextlib, torch
        with contextlib.ExitStack() as stack:
            a = 1
            stack.enter_context(torch.no_grad())
            b = 2
        c = 3
        """
    )
    modes = {line: analysis.region_at(statement_at(analysis, line).stmt).mode for line in (3, 5, 6)}
    assert modes == {3: GradMode.ON, 5: GradMode.OFF, 6: GradMode.ON}


def test_checking_a_module_leaves_no_reference_cycles():
    """Reference counting frees each module's analysis as soon as it is done: nothing is left for
    the cyclic collector, whose passes over such garbage cost a check run over 10% of its time."""
    import gc

    from flake8_nograd.checker import check_tree
    from helpers import FIXTURES, ROOT

    paths = sorted(FIXTURES.glob("NG*/*.py")) + [ROOT / "docs" / "examples" / "train_buggy.py"]
    sources = [path.read_text(encoding="utf-8") for path in paths]
    gc.collect()
    gc.disable()
    try:
        found = [check_tree(ast.parse(source), source) for source in sources]
        assert gc.collect() == 0
    finally:
        gc.enable()
    assert any(found), "the modules must reach the rules"


def held(source: str, line: int):
    """{key: kind} of what may hold an inference tensor where the statement on `line` starts."""
    analysis = analyse(source)
    return {key: resolved.taint.kind.value for key, resolved in analysis.inference.held_at(statement_at(analysis, line)).items()}


def test_inference_tensors_are_held_after_the_block_through_detach_views_and_branches():
    source = """\
        import torch
        def f(model, x, flag):
            with torch.inference_mode():
                feats = model(x)
                probs = feats.softmax(-1)
                n = probs.sum().item()
                loss_sum = 0.0
                loss_sum += probs.mean().item()
                pair = (probs, n)
            rows = probs.detach()[0]
            copy = probs.clone()
            scaled = probs * 2
            maybe = None
            if flag:
                maybe = probs.view(-1)
            first, count = pair
            return rows, copy, scaled, maybe, first
        """
    assert held(source, 17) == {
        "feats": "value", "probs": "tensor", "pair": "holder", "rows": "tensor", "maybe": "tensor", "first": "tensor"
    }


def test_inference_tensors_across_calls_containers_and_attributes():
    source = """\
        import torch
        from dataclasses import dataclass
        @dataclass
        class Batch:
            x: torch.Tensor
            target: torch.Tensor
        @torch.inference_mode()
        def prepare(teacher, x):
            return Batch(x, teacher(x).softmax(-1))
        def step(batch, bank):
            target = batch.target
            inputs = batch.x
            return target, inputs
        class Cache:
            @torch.inference_mode()
            def fill(self, encoder, xs):
                self.bank = [encoder(x) for x in xs]
            def first(self):
                entry = self.bank[0]
                return entry
        def main(teacher, x):
            batch = prepare(teacher, x)
            step(batch, [])
        """
    analysis = analyse(source)
    facts = analysis.inference
    for line, expected in ((13, {"target": "tensor"}), (20, {"entry": "value"})):
        assert {k: r.taint.kind.value for k, r in facts.held_at(statement_at(analysis, line)).items()} == expected
    resolved = facts.held_at(statement_at(analysis, 13))["target"]
    assert "passed as 'batch' by the call on line 23" in resolved.via
    assert facts.returned(next(f for f in analysis.functions if f.name == "prepare")).kind.value == "holder"


def test_no_inference_facts_without_an_inference_region():
    analysis = analyse(
        """\
        import torch
        with torch.inference_mode(False):
            x = torch.ones(2)
        x.add_(1)
        """
    )
    assert not analysis.inference.active and analysis.inference.uses == []


def test_optional_values_are_their_non_none_part_as_operands():
    from flake8_nograd.analysis.model import CONSTANT, NONE, Kind, ValueState, combine_states, merge_states

    loss = ValueState(Graph.HAS_GRAPH, kind=Kind.TENSOR)
    maybe = merge_states(NONE, loss)  # `self.aux = None` in __init__, a loss in forward
    assert maybe.graph is Graph.UNKNOWN  # appended as it is: it may be None
    assert combine_states(maybe, CONSTANT).graph is Graph.HAS_GRAPH  # `total + aux`: None would raise
    assert merge_states(maybe, loss) == maybe
    assert merge_states(CONSTANT, loss).graph is Graph.UNKNOWN  # 0 or a loss: `total + x` may be either


def test_parts_of_containers_views_and_dicts():
    source = """\
        import torch
        from torch import nn
        class Head(nn.Module):
            def __init__(self):
                super().__init__()
                self.kv = nn.Linear(4, 8)
                self.lstm = nn.LSTM(4, 4)
            def step(self, x, loss):
                k, v = self.kv(x).chunk(2, -1)
                k.backward()
                a, b = self.lstm(x)
                a.backward()
                terms = {"ce": loss.detach(), "n": 3}
                for name in terms:
                    name.backward()
                for term in [loss.detach(), loss.detach()]:
                    term.backward()
                first, second = torch.split(self.kv(x), 4, -1)
                second.backward()
        """
    assert graph_of(source, 10) is Graph.HAS_GRAPH
    assert graph_of(source, 12) is Graph.HAS_GRAPH  # an LSTM returns (output, (h, c)), each with a graph
    assert graph_of(source, 15) is Graph.UNKNOWN  # a dict's keys
    assert graph_of(source, 17) is Graph.NO_GRAPH
    assert graph_of(source, 19) is Graph.HAS_GRAPH


def test_a_function_only_stored_in_a_registry_has_an_unknown_base():
    """Run from a lookup whose grad mode is not visible (G30); an unreferenced helper stays grad-on."""
    import ast as _ast

    from flake8_nograd.analysis import GradMode, ModuleAnalysis

    source = (
        "import torch\n"
        "def ema_(a, b):\n    pass\n"
        "def helper(a):\n    pass\n"
        "HOOKS = {'ema': ema_}\n"
    )
    analysis = ModuleAnalysis(_ast.parse(source))
    bases = {f.name: f.base.mode for f in analysis.functions if not f.is_module}
    assert bases == {"ema_": GradMode.UNKNOWN, "helper": GradMode.ON}


def test_ng201_names_a_dead_volatile_guard() -> None:
    """`Variable(x, volatile=True)` was PyTorch 0.3's guard; since 0.4 it is ignored with a warning
    (checked under torch 2.13), so the message says why the loop counts as unguarded."""
    source = """
        import torch
        from torch.autograd import Variable

        def score(net, loader):
            net.eval()
            hits = 0
            for x, y in loader:
                x = Variable(x, volatile={flag})
                hits += (net(x).argmax(1) == y).sum().item()
            return hits
        """
    dead = [text for text in messages(source.format(flag="True")) if "NG201" in text]
    assert dead == [
        "NG201 'for' loop after net.eval() (line 6) runs 'net' (line 10) with grad enabled "
        "('volatile=True' on line 9 has done nothing since PyTorch 0.4), building a graph "
        "for every iteration; wrap the loop in 'with torch.no_grad():' or decorate 'score' with "
        "'@torch.no_grad()'"
    ]
    plain = [text for text in messages(source.format(flag="False")) if "NG201" in text]
    assert len(plain) == 1 and "volatile" not in plain[0]


def test_stdlib_roots_are_known_on_every_supported_python() -> None:
    """`with mock.patch.object(model, ...)` is a stdlib context manager, not a project one that may
    switch grad off: Python 3.9 has no sys.stdlib_module_names, so the names are listed there."""
    from flake8_nograd.analysis.guards import stdlib_roots

    roots = stdlib_roots()
    assert {"unittest", "contextlib", "os", "math", "builtins"} <= roots
    assert not {"torch", "numpy", "flake8_nograd"} & roots


RECURRENT_STEP = """
import torch
from torch import nn


class Tracker(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 4)
        self.cell = nn.GRUCell(3, 4)
        self.frozen = nn.GRU(3, 4).requires_grad_(False)

    def fit(self, xs, h, c, state, g):
        for x in xs:
            out, (h, c) = self.lstm(x, (h, c))
            state = self.cell(x[0], state)
            _, g = self.frozen(x, g)
            print(out, h, c, state, g)
            state = state.detach()
            out.sum().backward()  # it trains: grad is on here, whoever calls it
"""


def test_recurrent_layers_return_their_state_with_a_graph_and_loops_keep_their_end_state():
    analysis = analyse(RECURRENT_STEP)
    printed = statement_at(analysis, 18)
    arguments = printed.stmt.value.args  # type: ignore[attr-defined]
    graphs = [analysis.state_of(argument, printed).graph for argument in arguments]
    # out, h, c of the LSTM and the GRUCell's state have a graph; the frozen GRU's state is
    # computed from its inputs alone (here unknown).
    assert graphs == [Graph.HAS_GRAPH] * 4 + [Graph.UNKNOWN]
    loop = statement_at(analysis, 14)
    assert analysis.state_after_iteration(loop, "h").graph is Graph.HAS_GRAPH
    assert analysis.state_after_iteration(loop, "state").graph is Graph.NO_GRAPH  # detached at the end
    assert analysis.state_after_iteration(loop, "missing").graph is Graph.UNKNOWN
