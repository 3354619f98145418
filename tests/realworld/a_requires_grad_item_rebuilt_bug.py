# realworld: https://github.com/pytorch/pytorch/issues/95110
# family: A
"""A regression trainer clips each prediction in Python: it reads every output with `.item()`,
clamps it, and rebuilds the batch with `torch.tensor(...)`. The rebuilt scores carry no graph, so
`backward()` raised; the author added `scores.requires_grad_()`. Backward now runs, but the
gradient stops at the rebuilt leaf: the model's weights never get a gradient."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def clipped_scores(model, x, low=-1.0, high=1.0):
    values = [min(max(v.item(), low), high) for v in model(x).squeeze(-1)]
    scores = torch.tensor(values)
    scores.requires_grad_()  # finding: NG102
    return scores


def fit(model, loader, opt):
    for x, y in loader:
        loss = F.mse_loss(clipped_scores(model, x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


if __name__ == "__main__":
    reg = nn.Linear(3, 1)
    data = [(torch.randn(5, 3), torch.rand(5)) for _ in range(2)]
    fit(reg, data, torch.optim.SGD(reg.parameters(), lr=0.1))
    assert reg.weight.grad is None  # runtime-check: the rebuilt scores are a new leaf; the model gets no gradient
