# realworld: https://github.com/google/brax/pull/152
# family: B
"""The look-alike: each training step adds the held-out loss to a running total, but
monitor.checks.holdout_loss is decorated @torch.no_grad(), so the tensors it returns hold no graph
and the total keeps none."""
import torch
import torch.nn.functional as F

from monitor import checks


def fit(model, batches, holdout, optimizer):
    holdout_total = 0.0
    for inputs, targets in batches:
        loss = F.mse_loss(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        holdout_total += checks.holdout_loss(model, holdout)
    return holdout_total / len(batches)


if __name__ == "__main__":
    model = torch.nn.Linear(3, 1)
    batches = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(3)]
    average = fit(model, batches, (torch.randn(4, 3), torch.randn(4, 1)), torch.optim.SGD(model.parameters(), lr=0.1))
    assert average.grad_fn is None
