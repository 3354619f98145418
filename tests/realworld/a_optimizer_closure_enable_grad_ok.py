# realworld: https://github.com/nikhilvyas/SOAP/issues/7
# family: A
"""Look-alike of the bare-closure bug: this hand-written optimizer's `@torch.no_grad()` `step()`
calls `closure()` inside `with torch.enable_grad():`, as torch's own optimizers do, so the closure's
forward builds a graph and its `backward()` works. The same closure style with `torch.optim.LBFGS`
(which re-evaluates the closure several times per step) is correct too."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ScaledSGD(torch.optim.Optimizer):
    def __init__(self, params, lr=0.05):
        super().__init__(params, {"lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(p.grad / (p.grad.norm() + 1e-8), alpha=-group["lr"])
        return loss


def fit(model, x, y, opt, steps=2):
    losses = []
    for _ in range(steps):
        def closure():
            opt.zero_grad()
            loss = F.mse_loss(model(x), y)
            loss.backward()
            return loss

        losses.append(float(opt.step(closure)))
    return losses


if __name__ == "__main__":
    x, y = torch.randn(8, 3), torch.randn(8, 1)
    a, b = nn.Linear(3, 1), nn.Linear(3, 1)
    fit(a, x, y, ScaledSGD(a.parameters()))
    fit(b, x, y, torch.optim.LBFGS(b.parameters(), lr=0.5, max_iter=3))
    assert a.weight.grad is not None and b.weight.grad is not None
