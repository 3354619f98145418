import torch


class ProjectOptimizer(torch.optim.Optimizer):
    """Runs update_param(p, group) for every parameter that has a gradient."""

    def update_param(self, p, group):
        raise NotImplementedError

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.update_param(p, group)
        return loss
