# realworld: https://github.com/Project-MONAI/GenerativeModels/issues/243
# family: B
"""A latent-space interpolation sampler calls the VAE's own `decode()` method step by step, as
the buggy reconstruction loops do, but the sampling function is decorated with
`@torch.no_grad()`: every decode runs grad-off and no frame carries a graph. Correct."""
import torch
import torch.nn as nn


class DenseVAE(nn.Module):
    def __init__(self, dim=16, latent=4):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(dim, 32), nn.ReLU(), nn.Linear(32, 2 * latent))
        self.dec = nn.Sequential(nn.Linear(latent, 32), nn.ReLU(), nn.Linear(32, dim))

    def encode(self, x):
        return self.enc(x).chunk(2, dim=-1)

    def decode(self, z):
        return torch.sigmoid(self.dec(z))


@torch.no_grad()
def interpolate(vae, x_a, x_b, steps):
    vae.eval()
    z_a, _ = vae.encode(x_a)
    z_b, _ = vae.encode(x_b)
    frames = []
    for t in torch.linspace(0.0, 1.0, steps):
        frames.append(vae.decode(torch.lerp(z_a, z_b, t)))
    return torch.stack(frames)


if __name__ == "__main__":
    vae = DenseVAE()
    graph_flags = []
    vae.dec.register_forward_hook(lambda mod, inp, out: graph_flags.append(out.requires_grad))
    film = interpolate(vae, torch.rand(1, 16), torch.rand(1, 16), steps=5)
    assert graph_flags and not any(graph_flags)
    assert film.grad_fn is None
