# realworld: https://github.com/Quantinuum/lambeq/pull/251
# family: B
"""A training loop that probes a held-out batch after every step: the probe's forward and loss
run under `torch.no_grad()`, and the result is accumulated outside the guard (`val_curve.append`,
`val_sum += probe`). A value computed under `no_grad` has no graph, so accumulating it keeps
nothing alive; the training loss itself is logged with `.item()`."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def train(model, loader, probe_batch, optimizer):
    val_curve = []
    val_sum = 0.0
    train_sum = 0.0
    xv, yv = probe_batch
    for x, y in loader:
        loss = F.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        train_sum += loss.item()
        with torch.no_grad():
            probe = F.mse_loss(model(xv), yv)
        val_curve.append(probe)
        val_sum += probe
    return train_sum / len(loader), val_sum / len(loader), val_curve


if __name__ == "__main__":
    reg = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = torch.optim.SGD(reg.parameters(), lr=0.05)
    data = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(3)]
    held_out = (torch.randn(6, 3), torch.randn(6, 1))
    tr, va, curve = train(reg, data, held_out, opt)
    assert va.grad_fn is None and all(t.grad_fn is None for t in curve)
