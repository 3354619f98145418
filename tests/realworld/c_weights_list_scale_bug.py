# realworld: https://github.com/fastai/fastbook/pull/471
# family: C
"""A from-scratch linear classifier keeps its weight and bias as leaf tensors made with
`requires_grad_()` and collects them in a plain list for the update loop. Nudging the first one
through the list, `weights[0] *= 1.0001`, is an in-place write to a leaf that requires grad, and
with grad on it raises "a leaf Variable that requires grad is being used in an in-place operation".
"""
import torch


def fresh(size):
    return torch.randn(size).requires_grad_()


def predict(xb, w, b):
    return xb @ w + b


def probe(xb, yb):
    w1 = fresh((4, 1))
    b1 = fresh(1)
    weights = [w1, b1]
    before = (predict(xb, *weights) - yb).pow(2).mean().item()
    weights[0] *= 1.0001  # finding: NG301  # raises: leaf Variable that requires grad is being used in an in-place operation
    after = (predict(xb, *weights) - yb).pow(2).mean().item()
    return after - before


if __name__ == "__main__":
    print(probe(torch.randn(6, 4), torch.randn(6, 1)))
