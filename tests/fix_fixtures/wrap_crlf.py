import torch

# fix: wrap_no_grad@7:5


def evaluate(model, loader):
    for x in loader:
        # windows line endings stay
        print(model(x))
