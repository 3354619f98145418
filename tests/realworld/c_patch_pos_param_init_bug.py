# realworld: https://github.com/Atcold/NYU-DLSP20/issues/765
# family: C
"""A patch encoder builds its position table as an `nn.Parameter` in `__init__` (so it can be
fine-tuned later) and then fills the sine and cosine channels by slice assignment. The slices are
views of a leaf that requires grad, and grad is on while the module is built, so the first
assignment raises "a view of a leaf Variable that requires grad is being used in an in-place
operation". The class token above it is initialised through `nn.init.normal_`, which is correct.
"""
import math

import torch
import torch.nn as nn


class PatchEncoder(nn.Module):
    def __init__(self, n_patches=16, dim=8, patch_dim=12):
        super().__init__()
        self.proj = nn.Linear(patch_dim, dim)
        self.cls_token = nn.Parameter(torch.empty(1, 1, dim))
        nn.init.normal_(self.cls_token, std=0.02)
        self.pos = nn.Parameter(torch.zeros(1, n_patches + 1, dim))
        position = torch.arange(n_patches + 1, dtype=torch.float32).unsqueeze(1)
        div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
        self.pos[0, :, 0::2] = torch.sin(position * div)  # finding: NG301  # raises: leaf Variable that requires grad is being used in an in-place operation
        self.pos[0, :, 1::2] = torch.cos(position * div)  # finding: NG301

    def forward(self, patches):
        tokens = self.proj(patches)
        cls = self.cls_token.expand(patches.shape[0], -1, -1)
        return torch.cat([cls, tokens], dim=1) + self.pos


if __name__ == "__main__":
    encoder = PatchEncoder()
    print(encoder(torch.randn(2, 16, 12)).shape)
