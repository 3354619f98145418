# realworld: https://github.com/bubbliiiing/faster-rcnn-pytorch/issues/35
# family: B
"""The module-level training script with the report's fix: the stats object sums `loss.item()`
and the step log keeps `(epoch, loss.item())` pairs, Python floats, so each step's graph is freed
after its backward. Correct."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class RunningStats:
    def __init__(self):
        self.loss_sum = 0.0
        self.batches = 0


if __name__ == "__main__":
    net = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 3))
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    loader = [(torch.randn(4, 6), torch.randint(0, 3, (4,))) for _ in range(3)]
    stats = RunningStats()
    step_log = []
    for epoch in range(2):
        for x, y in loader:
            loss = F.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            stats.loss_sum += loss.item()
            stats.batches += 1
            step_log.append((epoch, loss.item()))
    print(f"mean loss {stats.loss_sum / stats.batches}")
    assert isinstance(stats.loss_sum, float)
