# realworld: https://github.com/MultimediaTechLab/YOLO/pull/83
# family: B
"""A detector's training epoch logs each loss component, weighted by the batch size, into a
`defaultdict` keyed by the component's name (`total_loss[name] += value * batch_size`). The parts
are the very tensors whose sum was just back-propagated, so each entry chains every step's graph
to the epoch total and host memory grows with the step count; the fix in the report was
`value.item() * batch_size`."""
from collections import defaultdict

import torch
import torch.nn as nn
import torch.nn.functional as F


class TinyDetector(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.body = nn.Linear(10, 16)
        self.box = nn.Linear(16, 4)
        self.cls = nn.Linear(16, classes)

    def forward(self, x):
        h = F.relu(self.body(x))
        return self.box(h), self.cls(h)


def train_one_epoch(model, loader, optimizer):
    total_loss = defaultdict(float)
    seen = 0
    for images, boxes, labels in loader:
        pred_box, pred_cls = model(images)
        loss_items = {
            "box": F.smooth_l1_loss(pred_box, boxes),
            "cls": F.cross_entropy(pred_cls, labels),
        }
        loss = sum(loss_items.values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        batch_size = images.shape[0]
        for name, value in loss_items.items():
            total_loss[name] += value * batch_size  # finding: NG202
        seen += batch_size
    return {name: total / seen for name, total in total_loss.items()}


if __name__ == "__main__":
    net = TinyDetector()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    data = [(torch.randn(4, 10), torch.randn(4, 4), torch.randint(0, 3, (4,))) for _ in range(3)]
    epoch_losses = train_one_epoch(net, data, opt)
    assert all(v.grad_fn is not None for v in epoch_losses.values())  # runtime-check: every step's graph is kept in the dict
