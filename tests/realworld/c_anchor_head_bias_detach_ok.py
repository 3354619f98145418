# realworld: https://github.com/ultralytics/yolov5/pull/8044
# family: C
"""The anchor-head prior written the safe ways: the objectness column goes through
`bias.data.view(...)` and the class columns through a `.detach()`ed view, so autograd does not see
either write, and the norm layers are initialised with `nn.init.constant_` / `nn.init.zeros_`
(which run under no_grad inside torch) from a function handed to `self.apply`. The bias stays a
trainable leaf: a training step afterwards gives it a gradient. Correct.
"""
import math

import torch
import torch.nn as nn


def _init_norm(m):
    if isinstance(m, nn.BatchNorm2d):
        nn.init.constant_(m.weight, 1.0)
        nn.init.zeros_(m.bias)


class AnchorHead(nn.Module):
    def __init__(self, channels=8, n_anchors=3, n_classes=4, prior=0.01):
        super().__init__()
        self.n_anchors, self.n_classes = n_anchors, n_classes
        self.stem = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU())
        self.pred = nn.Conv2d(channels, n_anchors * (5 + n_classes), 1)
        obj = self.pred.bias.data.view(n_anchors, -1)
        obj[:, 4] += math.log(prior / (1 - prior))
        cls = self.pred.bias.detach().view(n_anchors, -1)
        cls[:, 5:] += math.log(0.6 / (n_classes - 0.99))
        self.apply(_init_norm)

    def forward(self, feats):
        return self.pred(self.stem(feats))


if __name__ == "__main__":
    head = AnchorHead()
    opt = torch.optim.SGD(head.parameters(), lr=0.1)
    head(torch.randn(2, 8, 4, 4)).pow(2).mean().backward()
    opt.step()
    assert head.pred.bias.is_leaf and head.pred.bias.grad is not None
    assert head.pred.bias.view(3, -1)[0, 4] < -4.0
