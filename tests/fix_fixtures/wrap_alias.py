import torch as T

# NG301 (a loop that only updates) is wrapped whole, with the file's alias.


def sgd_update(params, lr=0.1):
    for p in params:
        p -= lr * p.grad  # in-place update of a leaf
    return params


if __name__ == "__main__":
    weights = [T.ones(2, requires_grad=True)]
    weights[0].sum().backward()
    sgd_update(weights)
