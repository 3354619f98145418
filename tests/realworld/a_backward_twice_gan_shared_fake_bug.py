# realworld: https://github.com/heykeetae/Self-Attention-GAN/issues/48
# family: A
"""A GAN step feeds the generator's images to the discriminator without detaching them, back-
propagates the discriminator's loss (which walks and frees the generator's graph too), then
back-propagates the generator's loss through the same images: that walks into the freed graph."""
import torch
import torch.nn as nn


class Trainer:
    def __init__(self):
        self.G = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 6), nn.Tanh())
        self.D = nn.Sequential(nn.Linear(6, 16), nn.LeakyReLU(0.1), nn.Linear(16, 1))
        self.g_optimizer = torch.optim.Adam(self.G.parameters(), lr=1e-3)
        self.d_optimizer = torch.optim.Adam(self.D.parameters(), lr=1e-3)

    def step(self, real):
        z = torch.randn(real.size(0), 4)
        fake_images = self.G(z)
        d_loss = torch.relu(1.0 - self.D(real)).mean() + torch.relu(1.0 + self.D(fake_images)).mean()
        self.d_optimizer.zero_grad()
        d_loss.backward()
        self.d_optimizer.step()
        g_loss = -self.D(fake_images).mean()
        self.g_optimizer.zero_grad()
        g_loss.backward()  # finding: NG105  # raises: Trying to backward through the graph a second time
        self.g_optimizer.step()


if __name__ == "__main__":
    Trainer().step(torch.randn(8, 6))
