# realworld: https://github.com/Lightning-AI/pytorch-lightning/issues/4487
# family: A
"""A learned potential predicts forces as the negative gradient of its energy, computed with
`torch.autograd.grad` inside `forward`. Training calls `model(pos)` with grad on and works; the
evaluation helper wraps `model(pos)` in `torch.no_grad()` like any other validation loop, so the
energy inside `forward` has no graph and `torch.autograd.grad` raises there."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Potential(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1))

    def forward(self, pos):
        if not pos.requires_grad:
            pos = pos.requires_grad_(True)
        energy = self.net(pos).sum()
        (dE,) = torch.autograd.grad(energy, pos, create_graph=self.training)  # finding: NG101  # raises: does not require grad
        return energy, -dE


def train_step(model, pos, ref_forces, opt):
    _, forces = model(pos)
    loss = F.mse_loss(forces, ref_forces)
    opt.zero_grad()
    loss.backward()
    opt.step()


def force_error(model, frames):
    model.eval()
    err = 0.0
    with torch.no_grad():
        for pos, ref in frames:
            _, forces = model(pos)
            err += (forces - ref).abs().mean().item()
    return err / len(frames)


if __name__ == "__main__":
    pot = Potential()
    train_step(pot, torch.randn(5, 3), torch.randn(5, 3), torch.optim.Adam(pot.parameters()))
    force_error(pot, [(torch.randn(5, 3), torch.randn(5, 3))])
