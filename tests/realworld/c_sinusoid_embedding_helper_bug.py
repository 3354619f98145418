# realworld: https://github.com/huggingface/transformers/pull/8226
# family: C
"""A fixed sinusoidal position embedding subclasses `nn.Embedding` and fills its table through a
module-level helper, `fill_sinusoid_(self.weight)`. Inside the helper the argument is just a name,
but it is the embedding's weight Parameter (requires grad), and grad is on during construction,
so the slice assignment in the helper raises "a leaf Variable that requires grad is being used
in an in-place operation". The call in `__init__` decides the grad mode and is where the parameter
comes from, so the finding is at the call.
"""
import math

import torch
import torch.nn as nn


def sinusoid_table(n_pos, dim):
    pos = torch.arange(n_pos, dtype=torch.float32)[:, None]
    inv = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    return torch.cat([torch.sin(pos * inv), torch.cos(pos * inv)], dim=1)


def fill_sinusoid_(table):
    n_pos, dim = table.shape
    table[:] = sinusoid_table(n_pos, dim)  # raises: leaf Variable that requires grad is being used in an in-place operation
    return table


class SinusoidalPositions(nn.Embedding):
    def __init__(self, n_pos, dim):
        super().__init__(n_pos, dim)
        fill_sinusoid_(self.weight)  # finding: NG301

    def forward(self, input_ids):
        positions = torch.arange(input_ids.shape[1]).expand_as(input_ids)
        return super().forward(positions)


if __name__ == "__main__":
    positions = SinusoidalPositions(32, 8)
    print(positions(torch.zeros(2, 10, dtype=torch.long)).shape)
