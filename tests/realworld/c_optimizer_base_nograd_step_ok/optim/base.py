import torch


class ProjectOptimizer(torch.optim.Optimizer):
    """Runs update_param(p, group) for every parameter that has a gradient."""

    def update_param(self, p, group):
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.update_param(p, group)
        return loss
