"""NG301 in a helper that writes what it is given: the fix guards the call that passes the
parameter (a helper given an ordinary tensor keeps recording its write), a `model.apply(fn)` call
too, and an update written in place of its own is wrapped where it is."""
import torch
from torch import nn


def fill_ramp_(table):
    table[:] = torch.linspace(0.0, 1.0, table.numel()).view_as(table)


def init_norm(m):
    if isinstance(m, nn.LayerNorm):
        m.weight.fill_(1.0)


class Positions(nn.Module):
    def __init__(self, n=8, dim=4):
        super().__init__()
        self.table = nn.Embedding(n, dim)
        self.norm = nn.LayerNorm(dim)
        fill_ramp_(self.table.weight)
        self.apply(init_norm)
        w = self.norm.bias
        w.zero_()
