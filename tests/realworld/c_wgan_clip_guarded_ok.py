# realworld: https://github.com/martinarjovsky/WassersteinGAN/issues/32
# family: C
"""The WGAN weight clipping written legally: the `clip_(params, c)` helper clamps in place, but
every call of it is under `with torch.no_grad():`, so the clamps touch no tensor autograd records;
the critic's BatchNorm running statistics are buffers, and the gradient penalty warm-up scales
gradients (`p.grad.mul_`), not parameters. Correct: nothing raises, the critic stays trainable.
"""
import torch
import torch.nn as nn


def clip_(params, c):
    for p in params:
        p.clamp_(-c, c)


def critic_steps(critic, real, fake, opt, n=2, c=0.01):
    for _ in range(n):
        opt.zero_grad()
        (critic(fake).mean() - critic(real).mean()).backward()
        for p in critic.parameters():
            p.grad.mul_(0.5)
        opt.step()
        with torch.no_grad():
            clip_(critic.parameters(), c)


def warm_up(critic, c=0.01):
    with torch.no_grad():
        clip_(critic.parameters(), c)


if __name__ == "__main__":
    critic = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    warm_up(critic)
    critic_steps(critic, torch.randn(6, 4), torch.randn(6, 4), torch.optim.RMSprop(critic.parameters(), lr=5e-5))
    assert all(p.requires_grad and p.is_leaf and p.abs().max() <= 0.01 + 1e-6 for p in critic.parameters())
