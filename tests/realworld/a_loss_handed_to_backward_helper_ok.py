# realworld: https://github.com/Lightning-AI/pytorch-lightning/issues/19517
# family: A
"""The fix of that report's shape: the first forward runs under `torch.no_grad()` only to log a
reference loss, and the loss handed to the helper that back-propagates comes from a second
forward with grad on. The helper also logs values it never back-propagates."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def backward_step(loss, optimizer):
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def log_value(name, value):
    print(name, float(value))


def warm_up(model, batches, optimizer):
    model.train()
    for inputs, targets in batches:
        with torch.no_grad():
            reference = F.cross_entropy(model(inputs), targets)
        log_value("reference", reference)
        loss = F.cross_entropy(model(inputs), targets)
        backward_step(loss, optimizer)
        assert loss.grad_fn is not None  # runtime-check: the loss handed over has a graph


if __name__ == "__main__":
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    data = [(torch.randn(4, 8), torch.randint(0, 3, (4,))) for _ in range(2)]
    warm_up(net, data, torch.optim.SGD(net.parameters(), lr=0.1))
