# realworld: https://github.com/pyg-team/pytorch_geometric/pull/4424
# family: C
"""A radial-basis layer keeps learnable frequencies and a bias as `nn.Parameter`s and fills them
in its own `reset_parameters()`, which `__init__` calls. The method writes both in place
(`self.freq.copy_(...)`, `self.bias.uniform_(-a, a)`) with grad on, so building the layer raises
"a leaf Variable that requires grad is being used in an in-place operation" at the first write.
"""
import math

import torch
import torch.nn as nn


class RadialBasis(nn.Module):
    def __init__(self, n_radial=6, cutoff=5.0):
        super().__init__()
        self.cutoff = cutoff
        self.freq = nn.Parameter(torch.empty(n_radial))
        self.bias = nn.Parameter(torch.empty(n_radial))
        self.reset_parameters()

    def reset_parameters(self):
        self.freq.copy_(torch.arange(1, self.freq.numel() + 1) * math.pi)  # finding: NG301  # raises: leaf Variable that requires grad is being used in an in-place operation
        bound = 1 / math.sqrt(self.bias.numel())
        self.bias.uniform_(-bound, bound)  # finding: NG301

    def forward(self, dist):
        d = dist[:, None] / self.cutoff
        return torch.sin(self.freq * d) / d + self.bias


if __name__ == "__main__":
    layer = RadialBasis()
    print(layer(torch.rand(5) + 0.1).shape)
