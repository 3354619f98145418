# realworld: https://github.com/neuralmagic/sparseml/pull/94
# family: C
"""An anchor-based detection head gives its prediction conv a focal-loss prior: it reshapes the
bias to one row per anchor, `b = self.pred.bias.view(self.n_anchors, -1)`, and raises the
objectness column in place. `b` is a view of the bias Parameter, so with grad on the `+=` raises
"a view of a leaf Variable that requires grad is being used in an in-place operation". The norm
initialiser that `__init__` would run next, through `self.apply(...)`, has the same bug for a
module handed to it as an argument (`m.weight.fill_(1.0)`); it is not reached at run time.
"""
import math

import torch
import torch.nn as nn


def _init_norm(m):
    if isinstance(m, nn.BatchNorm2d):
        m.eps = 1e-3
        m.weight.fill_(1.0)


class AnchorHead(nn.Module):
    def __init__(self, channels=8, n_anchors=3, n_classes=4, prior=0.01):
        super().__init__()
        self.n_anchors = n_anchors
        self.stem = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU())
        self.pred = nn.Conv2d(channels, n_anchors * (5 + n_classes), 1)
        b = self.pred.bias.view(self.n_anchors, -1)
        b[:, 4] += math.log(prior / (1 - prior))  # finding: NG301  # raises: leaf Variable that requires grad is being used in an in-place operation
        self.apply(_init_norm)  # finding: NG301

    def forward(self, feats):
        return self.pred(self.stem(feats))


if __name__ == "__main__":
    head = AnchorHead()
    print(head(torch.randn(1, 8, 4, 4)).shape)
