# realworld: https://github.com/dragen1860/MAML-Pytorch/issues/40
# family: A
"""The training loop scores each batch under no_grad (for the metrics) and hands that loss to
trainlib.helpers.apply_update, which back-propagates it: the loss has no graph, backward() raises."""
import torch
import torch.nn as nn

from train import fit

if __name__ == "__main__":
    model = nn.Linear(4, 3)
    batches = [(torch.randn(8, 4), torch.randint(0, 3, (8,))) for _ in range(2)]
    fit(model, batches, torch.optim.SGD(model.parameters(), lr=0.1))
