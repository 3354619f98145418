# realworld: https://github.com/luxonis/luxonis-train/pull/366
# family: A
"""A confusion-matrix metric whose state tensor is allocated in `reset()` and accumulated in place
by `update()`, both called inside the `with torch.inference_mode():` validation block, so every
in-place write to the inference tensor happens in inference mode. After the block `compute()`
only reads it with out-of-place ops, which inference tensors allow outside inference mode; the
training steps between validations never touch it. Correct."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ConfusionMatrix:
    def __init__(self, num_classes):
        self.num_classes = num_classes
        self.matrix = None

    def reset(self):
        self.matrix = torch.zeros(self.num_classes, self.num_classes, dtype=torch.long)

    def update(self, preds, targets):
        index = targets * self.num_classes + preds
        self.matrix.view(-1).index_add_(0, index, torch.ones_like(index))

    def compute(self):
        hits = self.matrix.diagonal().float()
        return hits / self.matrix.sum(dim=1).clamp(min=1).float()


def validate(model, loader, metric):
    model.eval()
    with torch.inference_mode():
        metric.reset()
        for x, y in loader:
            metric.update(model(x).argmax(-1), y)
    model.train()
    return metric.compute()


if __name__ == "__main__":
    net = nn.Linear(5, 3)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    metric = ConfusionMatrix(3)
    val = [(torch.randn(4, 5), torch.randint(0, 3, (4,))) for _ in range(2)]
    for epoch in range(2):
        x, y = torch.randn(8, 5), torch.randint(0, 3, (8,))
        F.cross_entropy(net(x), y).backward()
        opt.step()
        opt.zero_grad()
        recall = validate(net, val, metric)
    assert not recall.requires_grad
