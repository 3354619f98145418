# realworld: https://github.com/tkalayci71/embedding-inspector/issues/22
# family: A
"""An embedding inspector plots the first tokens' vectors against their dimension index. The rows
are sliced straight out of the embedding table, a parameter: a slice is a view that requires grad,
so `.numpy()` raises (the plotting worked only while the table had been loaded as a plain tensor)."""
import numpy as np
import torch
import torch.nn as nn

vocabulary = ["cat", "dog", "car", "tree"]
table = nn.Embedding(len(vocabulary), 6)


def inspect(count):
    rows = table.weight[:count]
    dims = torch.arange(rows.shape[1])
    return dims.numpy(), rows.numpy()  # finding: NG104  # raises: Can't call numpy() on Tensor that requires grad


if __name__ == "__main__":
    xs, ys = inspect(2)
    print(np.broadcast_to(xs, ys.shape).shape)
