# realworld: https://github.com/samuelyu2002/ImVisible/issues/2
# family: B
"""Each training step also scores a held-out batch through checks.holdout_loss and adds the tensor
it returns to a running total: the helper runs with grad on, so the total keeps every step's graph."""
import torch
import torch.nn.functional as F

import checks


def fit(model, batches, holdout, optimizer):
    holdout_total = 0.0
    for inputs, targets in batches:
        loss = F.mse_loss(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        holdout_total += checks.holdout_loss(model, holdout)  # finding: NG202
    return holdout_total / len(batches)


if __name__ == "__main__":
    model = torch.nn.Linear(3, 1)
    batches = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(3)]
    average = fit(model, batches, (torch.randn(4, 3), torch.randn(4, 1)), torch.optim.SGD(model.parameters(), lr=0.1))
    assert average.grad_fn is not None  # runtime-check: the running total holds the graphs
