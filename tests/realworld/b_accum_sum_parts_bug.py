# realworld: https://github.com/JIA-Lab-research/DecoupleNet/issues/3
# family: B
"""A two-scale segmentation net is trained with one loss per scale; the step loss is
`sum(parts)`, back-propagated, and then added to the epoch total for logging. `sum()` of
graph-carrying losses is itself graph-carrying (and `backward()` just ran on it), so `epoch_loss`
keeps every step's graph alive until the epoch ends: memory grows with every batch. The total wanted
`loss.item()`."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class TwoScaleSeg(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.fine = nn.Conv2d(8, classes, 1)
        self.coarse = nn.Conv2d(8, classes, 1)

    def forward(self, x):
        f = F.relu(self.stem(x))
        return [self.fine(f), self.coarse(F.avg_pool2d(f, 2))]


def train_one_epoch(model, loader, optimizer):
    epoch_loss = 0.0
    for images, masks in loader:
        preds = model(images)
        targets = [masks, masks[:, ::2, ::2]]
        parts = [F.cross_entropy(p, t) for p, t in zip(preds, targets)]
        loss = sum(parts)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        epoch_loss += loss  # finding: NG202
    return epoch_loss / len(loader)


if __name__ == "__main__":
    net = TwoScaleSeg()
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    data = [(torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 8, 8))) for _ in range(3)]
    avg = train_one_epoch(net, data, opt)
    assert avg.grad_fn is not None  # runtime-check: every step's graph is kept
