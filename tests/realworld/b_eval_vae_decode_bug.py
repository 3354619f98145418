# realworld: https://github.com/NVlabs/NVAE/issues/24
# family: B
"""A VAE's reconstruction report runs the model through its own `encode()` / `decode()` methods
after `vae.eval()`, with grad on. eval() only changes dropout and batch norm: every batch records
a graph through the encoder and the decoder stack (the activations kept for a backward that never
comes), which is how a single-image check runs out of memory. The forward here is a method call,
not `vae(x)`, but it runs the model's layers all the same."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class DenseVAE(nn.Module):
    def __init__(self, dim=16, latent=4):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(dim, 32), nn.ReLU(), nn.Linear(32, 2 * latent))
        self.dec = nn.Sequential(nn.Linear(latent, 32), nn.ReLU(), nn.Linear(32, dim))

    def encode(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z):
        return torch.sigmoid(self.dec(z))

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.decode(z), mu, logvar


def reconstruction_report(vae, loader):
    vae.eval()
    worst, total, n = 0.0, 0.0, 0
    for x in loader:  # finding: NG201
        mu, _ = vae.encode(x)
        recon = vae.decode(mu)
        err = F.binary_cross_entropy(recon, x, reduction="none").sum(-1)
        worst = max(worst, err.max().item())
        total += err.sum().item()
        n += x.shape[0]
    return total / n, worst


if __name__ == "__main__":
    vae = DenseVAE()
    graph_flags = []
    vae.dec.register_forward_hook(lambda mod, inp, out: graph_flags.append(out.requires_grad))
    batches = [torch.rand(3, 16) for _ in range(4)]
    mean_err, worst_err = reconstruction_report(vae, batches)
    assert graph_flags and all(graph_flags)  # runtime-check: every decode() in the loop records a graph
