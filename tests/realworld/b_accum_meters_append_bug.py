# realworld: https://github.com/pytorch/pytorch/issues/6925
# family: B
"""A VAE trainer records each loss term per step in a `defaultdict(list)` of meters
(`meters["kl"].append(kl)`) and averages them at the end of the epoch. The reconstruction and KL
terms are the tensors the step back-propagated, so each appended entry holds its step's encoder and
decoder graph: the meters keep every step's graph alive (the report's AverageMeter fed with `loss`
instead of `loss.item()` ran out of memory the same way)."""
from collections import defaultdict

import torch
import torch.nn as nn
import torch.nn.functional as F


class TinyVAE(nn.Module):
    def __init__(self, dim=6, latent=2):
        super().__init__()
        self.enc = nn.Linear(dim, 2 * latent)
        self.dec = nn.Linear(latent, dim)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, -1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.dec(z), mu, logvar


def train_epoch(model, loader, optimizer, beta=0.5):
    meters = defaultdict(list)
    for x in loader:
        recon_x, mu, logvar = model(x)
        recon = F.mse_loss(recon_x, x)
        kl = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
        optimizer.zero_grad()
        (recon + beta * kl).backward()
        optimizer.step()
        meters["recon"].append(recon)  # finding: NG202
        meters["kl"].append(kl)  # finding: NG202
    return meters


if __name__ == "__main__":
    vae = TinyVAE()
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    data = [torch.randn(4, 6) for _ in range(3)]
    logged = train_epoch(vae, data, opt)
    assert all(t.grad_fn is not None for v in logged.values() for t in v)  # runtime-check: graphs kept
