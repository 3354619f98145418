# realworld: https://github.com/HomebrewML/HeavyBall/issues/10
# family: A
"""A hand-written sign-momentum optimizer decorates `step()` with `@torch.no_grad()` (right for its
in-place updates) and, when given a closure, calls `closure()` bare inside it. The closure then runs
grad-off: its forward builds no graph and its `loss.backward()` raises. torch's own optimizers wrap
the call in `torch.enable_grad()`; this one forgot."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SignMomentum(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-2, beta=0.9):
        super().__init__(params, {"lr": lr, "beta": beta})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                buf = self.state[p].setdefault("buf", torch.zeros_like(p))
                buf.mul_(group["beta"]).add_(p.grad, alpha=1 - group["beta"])
                p.add_(buf.sign(), alpha=-group["lr"])
        return loss


def train(model, batches):
    opt = SignMomentum(model.parameters())
    for x, y in batches:
        def closure():
            opt.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()  # finding: NG101  # raises: does not require grad
            return loss

        opt.step(closure)


if __name__ == "__main__":
    net = nn.Linear(3, 2)
    train(net, [(torch.randn(4, 3), torch.randn(4, 2))])
