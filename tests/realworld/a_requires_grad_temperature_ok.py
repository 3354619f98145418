# realworld: https://github.com/gpleiss/temperature_scaling/issues/15
# family: A
"""Temperature scaling: the validation logits are computed once under `torch.no_grad()` and then
a single temperature is fitted with LBFGS. The temperature is a fresh leaf made with
`torch.zeros(1).requires_grad_()` and divides the logits inside the loss, so the loss has a graph
to that leaf even though the logits have none; backward fills its gradient. Correct."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def fit_temperature(model, loader, max_iter=30):
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(x) for x, _ in loader])
        labels = torch.cat([y for _, y in loader])
    log_t = torch.zeros(1).requires_grad_()
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    opt.step(closure)
    return log_t.exp().item(), log_t.grad


if __name__ == "__main__":
    clf = nn.Linear(5, 4)
    val = [(torch.randn(6, 5) * 3, torch.randint(0, 4, (6,))) for _ in range(3)]
    temperature, grad = fit_temperature(clf, val)
    assert grad is not None and temperature > 0
