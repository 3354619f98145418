import torch
import torch.nn.functional as F

from ..reporting import record
from .steps import backward_and_step


def fit(model, batches, val_batch, optimizer):
    history = None
    for inputs, targets in batches:
        loss = F.mse_loss(model(inputs), targets)
        backward_and_step(loss, optimizer)
        with torch.no_grad():
            val_loss = F.mse_loss(model(val_batch[0]), val_batch[1])
        history = record("val", val_loss)
    return history
