# realworld: https://github.com/pnnl/neuromancer/pull/292
# family: B
"""An autoregressive forecaster is rolled out over a horizon inside each batch; the per-step errors
are collected, `torch.stack(step_losses).mean()` is back-propagated, and that mean is appended to a
per-batch curve for plotting. Collecting `step_losses` within the batch is needed for the backward,
but the appended mean still carries the whole rollout's graph, so `curve` keeps every batch's
rollout alive until training ends. It wanted `.item()` (or `.detach()`)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def fit(model, loader, optimizer, horizon=4):
    curve = []
    for history, future in loader:
        state = history[:, -1]
        step_losses = []
        for t in range(horizon):
            state = model(state)
            step_losses.append(F.l1_loss(state, future[:, t]))
        seq_loss = torch.stack(step_losses).mean()
        optimizer.zero_grad()
        seq_loss.backward()
        optimizer.step()
        curve.append(seq_loss)  # finding: NG202
    return curve


if __name__ == "__main__":
    dynamics = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 3))
    opt = torch.optim.Adam(dynamics.parameters(), lr=1e-3)
    data = [(torch.randn(2, 5, 3), torch.randn(2, 4, 3)) for _ in range(3)]
    losses = fit(dynamics, data, opt)
    assert all(t.grad_fn is not None for t in losses)  # runtime-check: every batch's rollout graph is kept
