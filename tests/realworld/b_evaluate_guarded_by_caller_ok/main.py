# realworld: https://github.com/skorch-dev/skorch/pull/219
# family: B
"""The look-alike: segkit.utils.evaluate has no guard of its own, and its only caller, the package's
training loop, runs it inside `with torch.no_grad():`; no prediction holds a graph."""
import torch

from segkit.train import fit

if __name__ == "__main__":
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Dropout(0.1), torch.nn.Linear(8, 2))
    data = [(torch.randn(4, 3), torch.randint(0, 2, (4,))) for _ in range(3)]
    predictions = fit(model, data, data, torch.optim.SGD(model.parameters(), lr=0.1))
    assert not predictions.requires_grad
