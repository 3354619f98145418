"""Validation helper: the loop runs with grad on (NG201), wrapping it keeps comments in place."""
import torch
import torch.nn.functional as F

# fix: wrap_no_grad@13:5


def evaluate(model, loader):
    model.eval()
    correct = 0
    total = 0
    # one pass over the validation set
    with torch.no_grad():
        for inputs, targets in loader:  # batches of (x, y)
            logits = model(inputs)
            # count the hits
            correct += (logits.argmax(dim=1) == targets).sum().item()
            total += targets.numel()

            loss = F.cross_entropy(logits, targets)  # not used for backward
    return correct / max(total, 1), loss
