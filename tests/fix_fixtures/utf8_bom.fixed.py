import torch


def score(model, x):
    with torch.enable_grad():
        return model(x)
