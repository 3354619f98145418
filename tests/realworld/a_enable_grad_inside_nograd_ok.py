# realworld: https://github.com/Lightning-AI/pytorch-lightning/issues/19910
# family: A
"""Look-alike of enable_grad-inside-inference-mode: here the validation loop runs under
`torch.no_grad()` (as Lightning's validation during fit does), and the input-gradient penalty it
reports is computed inside `with torch.enable_grad():` on a fresh leaf. Unlike inference mode,
`no_grad` is undone by `enable_grad()`: the forward records a graph and `torch.autograd.grad`
works."""
import torch
import torch.nn as nn


def input_grad_norm(model, x):
    with torch.enable_grad():
        probe = x.detach().clone().requires_grad_(True)
        score = model(probe).logsumexp(dim=-1).sum()
        (g,) = torch.autograd.grad(score, probe)
    return g.norm(dim=-1).mean()


def validate(model, batches):
    model.eval()
    accs, norms = [], []
    with torch.no_grad():
        for x, y in batches:
            accs.append((model(x).argmax(-1) == y).float().mean().item())
            norms.append(input_grad_norm(model, x).item())
    model.train()
    return sum(accs) / len(accs), sum(norms) / len(norms)


if __name__ == "__main__":
    net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    validate(net, [(torch.randn(4, 5), torch.tensor([0, 1, 2, 0]))])
