# realworld: https://github.com/Lightning-AI/pytorch-lightning/issues/19517
# family: A
"""A trainer keeps the optimiser bookkeeping in one helper, `backward_step(loss)`. To save memory
on a warm-up pass, the author wraps the forward in `torch.no_grad()` and still hands the loss to
the helper: the loss has no graph, so the helper's `loss.backward()` raises, far from the cause."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def backward_step(loss, optimizer, clip=1.0):
    optimizer.zero_grad()
    loss.backward()  # raises: does not require grad
    torch.nn.utils.clip_grad_norm_(
        [p for group in optimizer.param_groups for p in group["params"]], clip
    )
    optimizer.step()


def warm_up(model, batches, optimizer):
    model.train()
    for inputs, targets in batches:
        with torch.no_grad():
            loss = F.cross_entropy(model(inputs), targets)
        backward_step(loss, optimizer)  # finding: NG101


if __name__ == "__main__":
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    data = [(torch.randn(4, 8), torch.randint(0, 3, (4,))) for _ in range(2)]
    warm_up(net, data, torch.optim.SGD(net.parameters(), lr=0.1))
