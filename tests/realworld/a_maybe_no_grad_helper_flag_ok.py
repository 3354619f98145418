# realworld: https://github.com/harvardnlp/annotated-transformer/issues/14
# family: A
"""Look-alike of backward under a project guard: the loss-compute object calls `maybe_no_grad()`, a
project helper that returns `torch.no_grad()` when there is no optimizer and
`contextlib.nullcontext()` otherwise, and back-propagates only when it has an optimizer. On that
path the guard is a no-op, so `loss.backward()` always has a graph; evaluation builds none."""
import contextlib
import torch
import torch.nn as nn
import torch.nn.functional as F


def maybe_no_grad(disable):
    return torch.no_grad() if disable else contextlib.nullcontext()


class LossCompute:
    def __init__(self, generator, opt=None):
        self.generator = generator
        self.opt = opt

    def __call__(self, hidden, target):
        with maybe_no_grad(self.opt is None):
            logits = self.generator(hidden)
            loss = F.cross_entropy(logits.flatten(0, 1), target.flatten())
            if self.opt is not None:
                self.opt.zero_grad()
                loss.backward()
                self.opt.step()
        return loss.item()


if __name__ == "__main__":
    gen = nn.Linear(8, 11)
    hidden, target = torch.randn(2, 5, 8), torch.randint(0, 11, (2, 5))
    LossCompute(gen, torch.optim.Adam(gen.parameters()))(hidden, target)
    LossCompute(gen)(hidden, target)
    assert gen.weight.grad is not None
