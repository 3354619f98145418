# realworld: https://github.com/fastai/fastbook/pull/471
# family: C
"""The fastbook nudge written the legal ways: `weights[0].data *= 1.0001` goes around autograd,
the second nudge is under `with torch.no_grad():`, and a copy of the list (`[w.detach().clone()
...]`) can be written freely. The leaves keep requiring grad and a later backward reaches them.
Correct: nothing raises.
"""
import torch


def fresh(size):
    return torch.randn(size).requires_grad_()


def probe(xb, yb):
    weights = [fresh((4, 1)), fresh(1)]
    weights[0].data *= 1.0001
    with torch.no_grad():
        weights[1] *= 0.5
    trial = [w.detach().clone() for w in weights]
    trial[0] *= 2.0
    loss = (xb @ weights[0] + weights[1] - yb).pow(2).mean()
    loss.backward()
    return weights


if __name__ == "__main__":
    w, b = probe(torch.randn(6, 4), torch.randn(6, 1))
    assert w.grad is not None and b.is_leaf
