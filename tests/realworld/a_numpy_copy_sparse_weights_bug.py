# realworld: https://github.com/microsoft/EdgeML/issues/119
# family: A
"""A sparse-training loop hard-thresholds its weight matrix every few epochs with NumPy:
`np.copy(W)` goes through `Tensor.__array__`, which calls `numpy()`, and `W` is a parameter, so it
raises on the first thresholding epoch (after the port from TensorFlow, where the same code ran)."""
import numpy as np
import torch
import torch.nn as nn



def train(inputs, targets, epochs):
    W = nn.Parameter(torch.randn(6, 4))
    optimizer = torch.optim.SGD([W], lr=0.05)
    for epoch in range(epochs):
        loss = ((inputs @ W - targets) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if epoch % 2 == 1:
            dense = np.copy(W)  # finding: NG104  # raises: Can't call numpy() on Tensor that requires grad
            keep = np.abs(dense) >= np.median(np.abs(dense))
            with torch.no_grad():
                W.mul_(torch.from_numpy(keep.astype(np.float32)))
    return W


if __name__ == "__main__":
    train(torch.randn(10, 6), torch.randn(10, 4), epochs=4)
