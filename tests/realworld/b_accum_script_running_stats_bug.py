# realworld: https://github.com/bubbliiiing/faster-rcnn-pytorch/issues/35
# family: B
"""A training script written at module level, notebook style: the running sums for the log live on
a small stats object (`stats.loss_sum += loss`), and each step's `(epoch, loss)` pair is kept for a
plot. Both hold the loss that was just back-propagated, with its graph, so every step's graph stays
alive until the script ends and host memory grows with the step count. The report's fix:
`loss.item()`."""
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
            stats.loss_sum += loss  # finding: NG202
            stats.batches += 1
            step_log.append((epoch, loss))  # finding: NG202
    print(f"mean loss {stats.loss_sum / stats.batches}")
    assert stats.loss_sum.grad_fn is not None  # runtime-check: the running sum keeps every step's graph
    assert all(entry[1].grad_fn is not None for entry in step_log)  # runtime-check: the log keeps each step's graph
