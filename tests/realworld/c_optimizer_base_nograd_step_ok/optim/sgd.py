import torch

from .base import ProjectOptimizer


class PlainSGD(ProjectOptimizer):
    """SGD with each gradient entry clipped to [-clip, clip]."""

    def __init__(self, params, lr, clip=1.0):
        super().__init__(params, {"lr": lr, "clip": clip})

    def update_param(self, p, group):
        clip = group["clip"]
        p.add_(torch.clamp(p.grad, -clip, clip), alpha=-group["lr"])
