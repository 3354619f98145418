# realworld: https://github.com/Lightning-AI/pytorch-lightning/issues/6650
# family: A
"""Look-alike of the leaking grad switch: `estimate_noise()` saves the grad mode, switches it off
with `torch.set_grad_enabled(False)` and restores it in `finally`; `preview()` uses
`torch.set_grad_enabled(False)` as a context manager. Neither switch outlives its function, so the
training step that calls both still runs with grad on and `loss.backward()` works."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def estimate_noise(model, y):
    previous = torch.is_grad_enabled()
    torch.set_grad_enabled(False)
    try:
        return (y - model(y)).std().item()
    finally:
        torch.set_grad_enabled(previous)


def preview(model, y):
    with torch.set_grad_enabled(False):
        return model(y)[:1].clone()


def train_step(model, noisy, clean, opt):
    sigma = estimate_noise(model, noisy)
    thumb = preview(model, noisy)
    loss = F.mse_loss(noisy - sigma * model(noisy), clean)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item(), thumb


if __name__ == "__main__":
    net = nn.Sequential(nn.Linear(8, 8), nn.Tanh())
    clean = torch.randn(4, 8)
    _, thumb = train_step(net, clean + 0.1 * torch.randn(4, 8), clean, torch.optim.Adam(net.parameters()))
    assert torch.is_grad_enabled() and thumb.grad_fn is None
