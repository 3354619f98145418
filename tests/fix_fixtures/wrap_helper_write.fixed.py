"""NG301 for a helper whose result the caller keeps (`table = fill_eye_(...)`): guarding that
statement would also run the rest of it without grad, so the fix guards the helper's write; the
helper called twice that way is fixed once."""
import torch
from torch import nn


def fill_eye_(weight, scale):
    with torch.no_grad():
        weight.copy_(torch.eye(*weight.shape) * scale)
    return weight.shape


class Mixer(nn.Module):
    def __init__(self, dim=4):
        super().__init__()
        self.a = nn.Linear(dim, dim)
        self.b = nn.Linear(dim, dim)
        shape_a = fill_eye_(self.a.weight, 1.0)
        shape_b = fill_eye_(self.b.weight, 0.5)
        self.shapes = (shape_a, shape_b)
