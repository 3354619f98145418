# realworld: https://github.com/pytorch/pytorch/issues/150181
# family: C
"""A Fourier-feature time embedding keeps its frequencies as a learnable `nn.Parameter` and fills
them with the integer harmonics by passing the parameter as `out=` to `torch.arange`. An `out=`
tensor that requires grad is not allowed while grad is on: the call raises "functions with
out=... arguments don't support automatic differentiation, but one of the arguments requires
grad". The random phases are written the same way into a registered buffer, which needs no grad
and is fine.
"""
import math

import torch
import torch.nn as nn


class FourierTimeEmbedding(nn.Module):
    def __init__(self, n_freqs=6, dim=16):
        super().__init__()
        self.register_buffer("phase", torch.empty(n_freqs))
        torch.rand(n_freqs, out=self.phase)
        self.freqs = nn.Parameter(torch.empty(n_freqs))
        torch.arange(1, n_freqs + 1, out=self.freqs)  # finding: NG301  # raises: don't support automatic differentiation
        self.out = nn.Linear(2 * n_freqs, dim)

    def forward(self, t):
        angles = 2 * math.pi * t[:, None] * self.freqs + self.phase
        return self.out(torch.cat([angles.sin(), angles.cos()], dim=-1))


if __name__ == "__main__":
    embed = FourierTimeEmbedding()
    t = torch.rand(5)
    embed(t).pow(2).mean().backward()
    print(embed.freqs.grad)
