# realworld: https://github.com/hszhao/semseg/issues/60
# family: B
"""segkit.utils.evaluate switches the model to eval mode and runs it over the validation set, and
train.py calls it each epoch with grad still on: every prediction it keeps holds a graph."""
import torch

from train import fit

if __name__ == "__main__":
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Dropout(0.1), torch.nn.Linear(8, 2))
    data = [(torch.randn(4, 3), torch.randint(0, 2, (4,))) for _ in range(3)]
    predictions = fit(model, data, data, torch.optim.SGD(model.parameters(), lr=0.1))
    assert predictions.requires_grad  # runtime-check: evaluation built a graph per batch
