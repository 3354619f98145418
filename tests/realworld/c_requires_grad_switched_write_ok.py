# realworld: https://github.com/riveSunder/yuca/issues/82
# family: C
"""A cellular-automaton model rewrites its learnable kernel parameters when the kernel radius
changes. Each write is bracketed by switching `requires_grad` off and back on: in a loop over
`self.parameters()` (`p.requires_grad = False; p.mul_(...); p.requires_grad = True`) and in a
helper that does the same with `requires_grad_(False)` / `requires_grad_(True)` around its fill.
While the flag is off the leaf does not require grad, so the writes are legal. Correct.
"""
import torch
import torch.nn as nn


def reset_(t, value):
    t.requires_grad_(False)
    t.fill_(value)
    t.requires_grad_(True)


class Automaton(nn.Module):
    def __init__(self, radius=3):
        super().__init__()
        self.mu = nn.Parameter(torch.full((1,), 0.15))
        self.sigma = nn.Parameter(torch.full((1,), 0.015))
        self.radius = radius

    def set_kernel_radius(self, radius):
        for p in self.parameters():
            p.requires_grad = False
            p.mul_(self.radius / radius)
            p.requires_grad = True
        self.radius = radius
        reset_(self.sigma, 0.02)

    def forward(self, grid):
        return torch.exp(-((grid - self.mu) ** 2) / (2 * self.sigma**2))


if __name__ == "__main__":
    ca = Automaton()
    ca.set_kernel_radius(6)
    ca(torch.rand(4, 4)).sum().backward()
    assert ca.mu.grad is not None and ca.sigma.is_leaf
