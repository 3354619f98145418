# realworld: https://github.com/mir-group/nequip/pull/1
# family: B
"""A mixture-of-experts model leaves a load-balancing loss on each routing layer; the step adds
their sum to the task loss and back-propagates, then logs the balance term with
`balance_log += sum(aux_losses)`. Each layer's balance loss carries the router's graph, so their
`sum()` does too: the log keeps every step's graph alive for the whole epoch. It wanted
`sum(aux_losses).item()`."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Router(nn.Module):
    def __init__(self, dim, experts=3):
        super().__init__()
        self.gate = nn.Linear(dim, experts)
        self.experts = nn.ModuleList(nn.Linear(dim, dim) for _ in range(experts))
        self.balance_loss = None

    def forward(self, x):
        weights = self.gate(x).softmax(-1)
        self.balance_loss = weights.mean(0).pow(2).sum() * weights.size(-1)
        return sum(w.unsqueeze(-1) * e(x) for w, e in zip(weights.unbind(-1), self.experts))


def train(model, head, loader, optimizer, coef=0.01):
    balance_log = 0.0
    for x, y in loader:
        out = head(model(x))
        aux_losses = [m.balance_loss for m in model if isinstance(m, Router)]
        loss = F.cross_entropy(out, y) + coef * sum(aux_losses)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        balance_log += sum(aux_losses)  # finding: NG202
    return balance_log


if __name__ == "__main__":
    moe = nn.Sequential(Router(6), nn.ReLU(), Router(6))
    clf = nn.Linear(6, 2)
    opt = torch.optim.SGD(list(moe.parameters()) + list(clf.parameters()), lr=0.1)
    data = [(torch.randn(5, 6), torch.randint(0, 2, (5,))) for _ in range(3)]
    logged = train(moe, clf, data, opt)
    assert logged.grad_fn is not None  # runtime-check: every step's router graph is kept by the log
