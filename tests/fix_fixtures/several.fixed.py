"""Several fixes in one file: an outer wrap covers an inner one, an accumulation inside it is
fixed too, and an NG401 elsewhere."""
import torch

# fix: wrap_no_grad@14:5
# fix: wrap_no_grad@16:9
# fix: append_item@17:18


def validate(model, loader, criterion):
    model.eval()
    total = 0.0
    # every batch
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
            loss = criterion(out, y)
            total += loss.item()
    return total


def predict(model, x):
    with torch.no_grad():
        return model(x)
