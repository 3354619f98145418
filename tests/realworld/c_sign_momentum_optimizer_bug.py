# realworld: https://github.com/pytorch/pytorch/pull/30258
# family: C
"""A hand-written sign-momentum optimizer (a small Lion-style rule) subclasses
`torch.optim.Optimizer` but its `step()` has no `@torch.no_grad()`, unlike the built-in
optimizers. The momentum buffers are plain tensors and update fine, but the parameter update
`p.add_(...)` runs with grad on and raises "a leaf Variable that requires grad is being used in an
in-place operation" on the first `opt.step()`.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SignMomentum(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, beta=0.9):
        super().__init__(params, dict(lr=lr, beta=beta))

    def step(self, closure=None):  # finding: NG302
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "buf" not in state:
                    state["buf"] = torch.zeros_like(p)
                buf = state["buf"]
                buf.mul_(group["beta"]).add_(p.grad, alpha=1 - group["beta"])
                p.add_(buf.sign(), alpha=-group["lr"])  # raises: leaf Variable that requires grad is being used in an in-place operation


if __name__ == "__main__":
    model = nn.Linear(4, 2)
    opt = SignMomentum(model.parameters(), lr=0.01)
    x, y = torch.randn(8, 4), torch.randn(8, 2)
    for _ in range(2):
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()
