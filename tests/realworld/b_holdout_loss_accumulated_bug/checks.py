import torch.nn.functional as F


def holdout_loss(model, holdout):
    """The loss on a fixed held-out batch, to watch for over-fitting."""
    inputs, targets = holdout
    return F.mse_loss(model(inputs), targets)
