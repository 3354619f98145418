# realworld: https://github.com/pytorch/examples/pull/779
# family: C
"""The hand-written SGD step as the fix wrote it: the update goes through `p.data.add_(...)`,
which autograd does not see; the gradients are rescaled in place (`p.grad.mul_`) and through a
`.detach()`ed view of a gradient, and a diagnostic perturbation writes a `.detach().view(...)` of
the output weight, which shares storage without autograd. Correct: nothing raises and the
parameters stay leaves.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def sgd_(params, lr):
    for p in params:
        if p.grad is not None:
            p.data.add_(p.grad, alpha=-lr)


def scale_grads_(params, c):
    for p in params:
        p.grad.mul_(c)
        p.grad.detach().view(-1)[:1].mul_(1.0)


def train_epoch(model, batches, lr=0.5):
    for x, y in batches:
        model.zero_grad()
        F.cross_entropy(model(x), y).backward()
        scale_grads_(model.parameters(), 0.5)
        sgd_(model.parameters(), lr)
    flat = model[-1].weight.detach().view(-1)
    flat[:2] += 1e-3


if __name__ == "__main__":
    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    train_epoch(net, [(torch.randn(5, 4), torch.randint(0, 3, (5,))) for _ in range(2)])
    assert all(p.is_leaf and p.requires_grad for p in net.parameters())
