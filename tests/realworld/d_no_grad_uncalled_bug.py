# realworld: https://github.com/Lightning-AI/pytorch-lightning/issues/5120
# family: D
"""A logging helper averages the per-worker losses for the progress bar and means to do it without
recording a graph, but writes `with torch.no_grad:`, naming the class instead of calling it. A
class is not a context manager, so the `with` statement itself raises "TypeError: 'type' object
does not support the context manager protocol" the first time a loss is logged (older Python
versions said `AttributeError: __enter__`).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def mean_for_logging(losses):
    with torch.no_grad:  # finding: NG401  # raises: does not support the context manager protocol
        stacked = torch.stack([loss.detach() for loss in losses])
        return stacked.mean().item()


def train_step(model, shards, opt):
    opt.zero_grad()
    losses = [F.mse_loss(model(x), y) for x, y in shards]
    sum(losses).backward()
    opt.step()
    return mean_for_logging(losses)


if __name__ == "__main__":
    net = nn.Linear(3, 1)
    shards = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(2)]
    print(train_step(net, shards, torch.optim.SGD(net.parameters(), lr=0.1)))
