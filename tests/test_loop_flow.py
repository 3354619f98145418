"""A loop nested in a training loop is judged by where its values go (analysis/loop_flow.py)."""
from __future__ import annotations

import pytest

from helpers import lint, messages

_TRAIN_STEP = """
import torch
import torch.nn.functional as F


def fit(model, optimizer, train_loader, val_loader):
    for step, (x, y) in enumerate(train_loader):
{before}
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y){extra}
        loss.backward()
        optimizer.step()
        if step % 10 == 0:
            model.eval()
            score = 0.0
            for vx, vy in val_loader:
                score += F.cross_entropy(model(vx), vy).item()
            model.train()
"""


def _program(before: str = "        pass", extra: str = "") -> str:
    return _TRAIN_STEP.format(before=before, extra=extra)


def test_a_validation_pass_whose_values_the_step_never_reads_is_reported():
    assert lint(_program()) == [(16, 13, "NG201")]


def test_no_decorate_advice_for_a_function_that_trains():
    (text,) = messages(_program())
    assert text.endswith("wrap the loop in 'with torch.no_grad():'")


@pytest.mark.parametrize(
    "before, extra",
    [
        ("        pass", " + 0.1 * score"),  # the previous validation's score reaches the loss
        ("        if step:\n            x = x + score", ""),  # bound under a test from the score
        ("        pass", "\n        loss += score"),  # added to the loss before its backward
    ],
)
def test_quiet_when_a_value_of_the_loop_may_reach_the_backward(before, extra):
    assert lint(_program(before, extra)) == []


def test_a_rebinding_before_the_backward_cuts_the_flow():
    # `score` is read, but bound afresh from the batch first: the validation's value is gone.
    program = _program("        score = x.mean()", " + score")
    assert lint(program) == [(16, 13, "NG201")]


def test_a_buffer_the_loop_fills_reaches_a_step_method_of_its_owner():
    source = """
    import torch


    class Agent:
        def learn(self, episodes):
            for _ in range(episodes):
                self.policy.eval()
                for obs in self.eval_data:
                    self.memory.append(self.policy(obs))
                self.update()

        def update(self):
            loss = torch.stack(self.memory).sum()
            loss.backward()
            self.optimizer.step()
    """
    assert [found for found in lint(source) if found[2] == "NG201"] == []


def test_an_object_handed_the_loop_outputs_may_hand_them_to_the_backward():
    source = """
    import torch


    def train(policy, optimizer, env, episodes):
        for _ in range(episodes):
            policy.eval()
            for obs in env.eval_observations:
                env.record(policy(obs))
            policy.train()
            loss = env.recorded_loss()
            loss.backward()
            optimizer.step()
    """
    assert [found for found in lint(source) if found[2] == "NG201"] == []


def test_calls_on_imported_modules_and_loggers_do_not_hide_a_validation_pass():
    source = """
    import torch
    import torch.nn.functional as F


    def train(model, optimizer, loader, val_loader, writer):
        for step, (x, y) in enumerate(loader):
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step % 100 == 0:
                model.eval()
                for vx, vy in val_loader:
                    writer.add_scalar("val", F.cross_entropy(model(vx), vy).item(), step)
                model.train()
    """
    assert lint(source) == [(14, 13, "NG201")]
