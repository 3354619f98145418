from torch import nn, no_grad

# fix: wrap_no_grad@7:5


def ema_update(ema: nn.Module, model: nn.Module, decay: float = 0.999) -> None:
    with no_grad():
        for ema_p, p in zip(ema.parameters(), model.parameters()):
            ema_p.mul_(decay).add_(p.detach(), alpha=1 - decay)
