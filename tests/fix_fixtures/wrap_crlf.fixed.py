import torch

# fix: wrap_no_grad@7:5


def evaluate(model, loader):
    with torch.no_grad():
        for x in loader:
            # windows line endings stay
            print(model(x))
