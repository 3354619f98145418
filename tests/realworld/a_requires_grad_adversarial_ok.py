# realworld: https://github.com/BorealisAI/advertorch/issues/49
# family: A
"""PGD adversarial training: each attack step restarts from `x_adv.detach().requires_grad_()`, a
fresh leaf, because the gradient wanted is the one with respect to the perturbed input; the loss
is the model's output on that input, so it has a graph and `x_adv.grad` is filled. The model is
then trained on the finished adversarial batch. Switching requires_grad on here is the point, not
a way to silence an error. Correct."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def pgd_attack(model, x, y, eps=0.1, alpha=0.04, steps=3):
    x_adv = x + torch.empty_like(x).uniform_(-eps, eps)
    for _ in range(steps):
        x_adv = x_adv.detach().requires_grad_()
        loss = F.cross_entropy(model(x_adv), y)
        loss.backward()
        with torch.no_grad():
            x_adv = x_adv + alpha * x_adv.grad.sign()
            x_adv = torch.min(torch.max(x_adv, x - eps), x + eps)
    return x_adv.detach()


def adversarial_epoch(model, loader, opt):
    for x, y in loader:
        x_adv = pgd_attack(model, x, y)
        opt.zero_grad()
        loss = F.cross_entropy(model(x_adv), y)
        loss.backward()
        opt.step()
    return loss.item()


if __name__ == "__main__":
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    data = [(torch.randn(4, 8), torch.randint(0, 3, (4,))) for _ in range(2)]
    adversarial_epoch(net, data, torch.optim.SGD(net.parameters(), lr=0.05))
    assert net[0].weight.grad is not None
