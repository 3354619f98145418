# realworld: https://github.com/martinarjovsky/WassersteinGAN/issues/32
# family: C
"""A WGAN critic is kept Lipschitz by clipping its weights after each critic step, through a small
helper `clip_(params, c)` that clamps every tensor it is given in place. The training loop calls
it with `critic.parameters()` and grad on, so the clamp in the helper raises "a leaf Variable that
requires grad is being used in an in-place operation"; the warm-up loop that calls it the same way
has the same bug at its own call.
"""
import torch
import torch.nn as nn


def clip_(params, c):
    for p in params:
        p.clamp_(-c, c)  # raises: leaf Variable that requires grad is being used in an in-place operation


def critic_steps(critic, real, fake, opt, n=2, c=0.01):
    for _ in range(n):
        opt.zero_grad()
        loss = critic(fake).mean() - critic(real).mean()
        loss.backward()
        opt.step()
        clip_(critic.parameters(), c)  # finding: NG301


def warm_up(critic, c=0.01):
    clip_(critic.parameters(), c)  # finding: NG301


if __name__ == "__main__":
    critic = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    opt = torch.optim.RMSprop(critic.parameters(), lr=5e-5)
    critic_steps(critic, torch.randn(6, 4), torch.randn(6, 4), opt)
    warm_up(critic)
