# realworld: https://github.com/Hunter-DDM/knowledge-neurons/issues/14
# family: C
"""The look-alike: the weight-editing helpers write a layer's weight in place, and every call of
them in the project is made under `with torch.no_grad():`, so no update is recorded by autograd."""
import torch
import torch.nn as nn

import modelutils.utils as mu


def edit_model(model, column, direction):
    with torch.no_grad():
        mu.scale_weights(model[0], 0.5)
        mu.shift_column(model[2], column, direction)


if __name__ == "__main__":
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 4))
    edit_model(model, 1, torch.ones(4))
    out = model(torch.randn(3, 6)).sum()
    out.backward()
    assert model[0].weight.grad is not None and model[0].weight.is_leaf
