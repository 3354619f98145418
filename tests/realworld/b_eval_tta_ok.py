# realworld: https://github.com/Chen-Ziyang/VPTTA/issues/5
# family: B
"""Test-time adaptation (Tent-style): the evaluation loop minimises the entropy of each test
batch's predictions and updates the normalisation layers' affine parameters before moving on.
The loop back-propagates on purpose, so it must run with grad on even though it is an evaluation
over test data after `model.eval()`. Correct."""
import torch
import torch.nn as nn


def configure_for_adaptation(model):
    model.eval()
    params = []
    for module in model.modules():
        for p in module.parameters(recurse=False):
            p.requires_grad_(isinstance(module, nn.LayerNorm))
            if isinstance(module, nn.LayerNorm):
                params.append(p)
    return torch.optim.SGD(params, lr=1e-3, momentum=0.9)


def evaluate_with_adaptation(model, test_loader, opt):
    hits, n = 0, 0
    for x, y in test_loader:
        logits = model(x)
        entropy = -(logits.softmax(-1) * logits.log_softmax(-1)).sum(-1).mean()
        entropy.backward()
        opt.step()
        opt.zero_grad()
        hits += (logits.argmax(-1) == y).sum().item()
        n += y.numel()
    return hits / n


if __name__ == "__main__":
    net = nn.Sequential(nn.Linear(6, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, 3))
    before = net[1].weight.detach().clone()
    sgd = configure_for_adaptation(net)
    acc = evaluate_with_adaptation(net, [(torch.randn(4, 6), torch.randint(0, 3, (4,))) for _ in range(3)], sgd)
    assert not torch.equal(before, net[1].weight.detach())
