# realworld: https://github.com/nianticlabs/monodepth2/issues/24
# family: A
"""The reconstruction loss is shared by validation and training; common.torch_utils.frozen, the
project's guard (a contextlib context manager around torch.no_grad(), usable as a decorator), was
put on it for validation, so in training the loss has no graph and backward() raises."""
import torch

from losses import reconstruction_loss

if __name__ == "__main__":
    autoencoder = torch.nn.Sequential(torch.nn.Linear(6, 2), torch.nn.Linear(2, 6))
    optimizer = torch.optim.Adam(autoencoder.parameters(), lr=1e-3)
    for _ in range(2):
        batch = torch.randn(4, 6)
        loss = reconstruction_loss(autoencoder, batch)
        optimizer.zero_grad()
        loss.backward()  # finding: NG101  # raises: does not require grad
        optimizer.step()
