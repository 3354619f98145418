# realworld: https://github.com/deepinv/deepinv/issues/166
# family: A
"""`estimate_noise()` switches autograd off with `torch.set_grad_enabled(False)` to save memory and
returns without switching it back. The switch is process-wide, so the training step that calls it
goes on grad-off: its forward builds no graph and `loss.backward()` raises, although the step
itself contains no guard at all."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Denoiser(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8))

    def estimate_noise(self, y):
        torch.set_grad_enabled(False)
        residual = y - self.body(y)
        return residual.std().item()

    def forward(self, y, sigma):
        return y - sigma * self.body(y)


def train_step(model, noisy, clean, opt):
    sigma = model.estimate_noise(noisy)
    loss = F.mse_loss(model(noisy, sigma), clean)
    opt.zero_grad()
    loss.backward()  # finding: NG101  # raises: does not require grad
    opt.step()
    return loss.item()


if __name__ == "__main__":
    net = Denoiser()
    clean = torch.randn(4, 8)
    train_step(net, clean + 0.1 * torch.randn(4, 8), clean, torch.optim.Adam(net.parameters()))
