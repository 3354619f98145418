# realworld: https://github.com/StanfordASL/neural-network-lyapunov/pull/140
# family: B
"""A VAE trainer's meters written correctly: the step converts its loss terms to Python floats in
one place (`terms = {"recon": recon.item(), ...}`) and the loop appends those numbers to
`meters[k]` and adds the total to `stats["loss"]` as `float(loss)`. Only numbers are accumulated,
so no step's graph outlives the step."""
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
    stats = {"loss": 0.0}
    for x in loader:
        recon_x, mu, logvar = model(x)
        recon = F.mse_loss(recon_x, x)
        kl = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
        loss = recon + beta * kl
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        terms = {"recon": recon.item(), "kl": kl.item()}
        for k, v in terms.items():
            meters[k].append(v)
        stats["loss"] += float(loss)
    return meters, stats


if __name__ == "__main__":
    vae = TinyVAE()
    opt = torch.optim.Adam(vae.parameters(), lr=1e-3)
    data = [torch.randn(4, 6) for _ in range(3)]
    meters, stats = train_epoch(vae, data, opt)
    assert all(isinstance(v, float) for vals in meters.values() for v in vals)
    assert isinstance(stats["loss"], float)
