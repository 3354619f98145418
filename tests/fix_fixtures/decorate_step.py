import torch
from torch.optim import Optimizer

# fix: decorate_no_grad@10:5


class PlainSGD(Optimizer):
    """SGD without momentum; step() must not record the parameter updates."""

    def step(self, closure=None):
        loss = None
        if closure is not None:
            loss = closure()  # the closure runs forward and backward
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(p.grad, alpha=-group["lr"])
        return loss
