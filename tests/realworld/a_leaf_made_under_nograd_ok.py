# realworld: https://github.com/pytorch/pytorch/pull/95232
# family: A
"""Correct adversarial training whose leaves are made under `torch.no_grad()`: the perturbation
(`torch.zeros(..., requires_grad=True)` and an `.uniform_()` start), a `.requires_grad_()` copy and
an `nn.Parameter` temperature all still require grad, since no_grad does not affect factories with
`requires_grad=True`, Parameters or `requires_grad_()`. The attack's gradients come from
`torch.autograd.grad` without `create_graph`, so they carry no graph; the final loss backprops."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def pgd_delta(model, x, y, eps=0.1, alpha=0.05, steps=2):
    with torch.no_grad():
        delta = torch.zeros(x.shape, requires_grad=True)
        delta.uniform_(-eps, eps)
    grad_norms = []
    for _ in range(steps):
        loss = F.cross_entropy(model(x + delta), y)
        (g,) = torch.autograd.grad(loss, delta)
        grad_norms.append(g.norm())
        with torch.no_grad():
            delta += alpha * g.sign()
            delta.clamp_(-eps, eps)
    return delta.detach(), grad_norms


def adversarial_step(model, temperature, x, y, opt):
    delta, norms = pgd_delta(model, x, y)
    with torch.no_grad():
        x_adv = (x + delta).requires_grad_()
    loss = F.cross_entropy(model(x_adv) / temperature, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return x_adv.grad, norms


if __name__ == "__main__":
    net = nn.Linear(4, 3)
    with torch.no_grad():
        temp = nn.Parameter(torch.ones(1) * 1.5)
    sgd = torch.optim.SGD(list(net.parameters()) + [temp], lr=0.1)
    gx, norms = adversarial_step(net, temp, torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1]), sgd)
    assert temp.grad is not None and gx is not None and norms[0].grad_fn is None
