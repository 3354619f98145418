# realworld: https://github.com/xhwNobody/yolov5_prune_sfp/issues/17
# family: C
"""A multi-task detector keeps one prediction conv per task in an `nn.ModuleDict` and gives each
a focal-loss prior from `_initialize_biases()`, the way the thread's fix did: the bias view is
written inside `with torch.no_grad():`, and the helper `prior_(head, p)` that also writes a
head's bias is only ever called under a guard. Correct: nothing raises, the biases stay
trainable leaves.
"""
import math

import torch
import torch.nn as nn


def prior_(head, p):
    head.bias.fill_(math.log(p / (1 - p)))


class MultiHead(nn.Module):
    def __init__(self, channels=8, n_anchors=3, tasks=("box", "mask")):
        super().__init__()
        self.n_anchors = n_anchors
        self.heads = nn.ModuleDict({t: nn.Conv2d(channels, n_anchors * 6, 1) for t in tasks})
        self.aux = nn.ModuleDict({t: nn.Conv2d(channels, 1, 1) for t in tasks})
        self._initialize_biases()

    def _initialize_biases(self, prior=0.01):
        for name, head in self.heads.items():
            b = head.bias.view(self.n_anchors, -1)
            with torch.no_grad():
                b[:, 4] += math.log(prior / (1 - prior))
        for head in self.aux.values():
            with torch.no_grad():
                prior_(head, prior)

    def forward(self, feats):
        return {t: self.heads[t](feats) + self.aux[t](feats) for t in self.heads}


if __name__ == "__main__":
    net = MultiHead()
    sum(o.sum() for o in net(torch.randn(1, 8, 2, 2)).values()).backward()
    assert all(h.bias.is_leaf and h.bias.grad is not None for h in net.heads.values())
