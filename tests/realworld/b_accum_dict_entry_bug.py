# realworld: https://github.com/jokester-zzz/SSA-SC/issues/2
# family: B
"""A multi-task scene model is trained on semantic and depth targets; the loop keeps per-task
sums in a dict (`epoch_losses["sem"] += sem_loss`) for the epoch summary. Both losses were just
back-propagated through their sum, so they carry graphs, and a dict entry keeps them alive as well
as a plain variable would: every step's graph survives until the epoch ends. The entries wanted
`.item()`."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SceneNet(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.trunk = nn.Linear(8, 16)
        self.sem_head = nn.Linear(16, classes)
        self.depth_head = nn.Linear(16, 1)

    def forward(self, x):
        h = F.relu(self.trunk(x))
        return self.sem_head(h), self.depth_head(h).squeeze(-1)


def train_epoch(model, loader, optimizer, depth_weight=0.5):
    epoch_losses = {"sem": 0.0, "depth": 0.0}
    for points, labels, depth in loader:
        out = model(points)
        sem_loss = F.cross_entropy(out[0], labels)
        depth_loss = F.smooth_l1_loss(out[1], depth)
        optimizer.zero_grad()
        (sem_loss + depth_weight * depth_loss).backward()
        optimizer.step()
        epoch_losses["sem"] += sem_loss  # finding: NG202
        epoch_losses["depth"] += depth_loss  # finding: NG202
    return {k: v / len(loader) for k, v in epoch_losses.items()}


if __name__ == "__main__":
    net = SceneNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    data = [(torch.randn(6, 8), torch.randint(0, 5, (6,)), torch.rand(6)) for _ in range(3)]
    summary = train_epoch(net, data, opt)
    assert all(v.grad_fn is not None for v in summary.values())  # runtime-check: graphs kept in the dict
