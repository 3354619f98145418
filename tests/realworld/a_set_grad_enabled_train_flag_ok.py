# realworld: https://github.com/pytorch/pytorch/pull/5555
# family: A
"""Look-alike of backward under a disabled guard: one `run_epoch()` serves training and
evaluation, switching autograd with `torch.set_grad_enabled(is_train)` where `is_train` is decided
at run time (an optimizer was passed). `loss.backward()` sits only on the training path, where grad
is on, so it always has a graph; the evaluation call builds none."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def run_epoch(model, batches, opt=None):
    is_train = opt is not None
    model.train(is_train)
    total, last = 0.0, None
    for x, y in batches:
        with torch.set_grad_enabled(is_train):
            loss = F.cross_entropy(model(x), y)
            if is_train:
                opt.zero_grad()
                loss.backward()
                opt.step()
        total += loss.item()
        last = loss
    return total / len(batches), last


if __name__ == "__main__":
    net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    data = [(torch.randn(4, 6), torch.tensor([0, 1, 2, 1])) for _ in range(2)]
    run_epoch(net, data, torch.optim.SGD(net.parameters(), lr=0.1))
    _, val_loss = run_epoch(net, data)
    assert val_loss.grad_fn is None
