# realworld: https://github.com/zhouhaoyi/Informer2020/pull/668
# family: C
"""Three correct ways to fill tables in `__init__`: a calendar embedding switches its weight's
`requires_grad` off around the sine and cosine slice writes and back on after them; a
positional table is an ordinary tensor written by slices and then registered as a buffer (and
later rewritten in place, still a buffer); learnable Fourier frequencies are copied in under
`with torch.no_grad():` with `copy_`, which keeps them trainable (a factory call with
`out=self.freqs` under no_grad would also run, but clears `requires_grad`). Nothing raises.
"""
import math

import torch
import torch.nn as nn


def sincos(n, dim):
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    return pos * torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float32) / dim)


class TimeFeatures(nn.Module):
    def __init__(self, n_slots=24, dim=8, max_len=16, n_freqs=4):
        super().__init__()
        self.slot = nn.Embedding(n_slots, dim)
        self.slot.weight.requires_grad = False
        self.slot.weight[:, 0::2] = torch.sin(sincos(n_slots, dim))
        self.slot.weight[:, 1::2] = torch.cos(sincos(n_slots, dim))
        self.slot.weight.requires_grad = True
        pe = torch.zeros(max_len, dim)
        pe[:, 0::2] = torch.sin(sincos(max_len, dim))
        pe[:, 1::2] = torch.cos(sincos(max_len, dim))
        self.register_buffer("pe", pe)
        self.freqs = nn.Parameter(torch.empty(n_freqs))
        with torch.no_grad():
            self.freqs.copy_(torch.arange(1, n_freqs + 1))

    def shift_positions(self, offset):
        self.pe[:, 0::2] = torch.sin(sincos(self.pe.shape[0], self.pe.shape[1]) + offset)

    def forward(self, slots, t):
        return self.slot(slots) + self.pe[: slots.shape[1]], torch.sin(t[:, None] * self.freqs)


if __name__ == "__main__":
    feats = TimeFeatures()
    feats.shift_positions(0.5)
    a, b = feats(torch.randint(0, 24, (2, 10)), torch.rand(2))
    (a.sum() + b.sum()).backward()
    assert feats.freqs.grad is not None and feats.slot.weight.grad is not None
    assert not feats.pe.requires_grad
