# realworld: https://github.com/pytorch/pytorch/pull/96405
# family: C
"""A training loop applies decoupled weight decay by hand after `opt.step()`: it collects the
matrix parameters into a list and shrinks them all at once with `torch._foreach_mul_`. The
foreach kernel checks every tensor like an in-place method does, and with grad on the first
parameter raises "a leaf Variable that requires grad is being used in an in-place operation"
(torch.optim only gets away with it because its `step()` runs under no_grad). The gradient check
below, which nudges `params[0]` of a parameter list in place, has the same bug; it is not reached.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def train(model, batches, lr=0.1, wd=0.01):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    decay = [p for p in model.parameters() if p.ndim > 1]
    for x, y in batches:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        torch._foreach_mul_(decay, 1 - lr * wd)  # finding: NG301  # raises: leaf Variable that requires grad is being used in an in-place operation


def finite_difference(model, x, y, eps=1e-3):
    params = list(model.parameters())
    params[0].add_(eps)  # finding: NG301
    up = F.cross_entropy(model(x), y).item()
    params[0].sub_(2 * eps)  # finding: NG301
    down = F.cross_entropy(model(x), y).item()
    params[0].add_(eps)  # finding: NG301
    return (up - down) / (2 * eps)


if __name__ == "__main__":
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    data = [(torch.randn(6, 4), torch.randint(0, 3, (6,))) for _ in range(3)]
    train(net, data)
    print(finite_difference(net, *data[0]))
