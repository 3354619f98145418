# realworld: https://github.com/zhuangdizhu/FedGen/issues/15
# family: A
"""A federated server averages its users' test losses with NumPy, weighting each by the user's
sample count. The losses are computed with grad on, so the fix from the thread detaches them
first; the weighted sum then converts without error."""
import numpy as np
import torch
import torch.nn as nn


def user_test(model, inputs, labels):
    logits = model(inputs)
    return nn.functional.cross_entropy(logits, labels), len(labels)


def evaluate(models, data):
    results = [user_test(model, x, y) for model, (x, y) in zip(models, data)]
    test_losses = [loss.detach() for loss, _ in results]
    test_samples = [n for _, n in results]
    total = np.sum([n * loss.numpy() for n, loss in zip(test_samples, test_losses)])
    return total.item() / np.sum(test_samples)


if __name__ == "__main__":
    users = [nn.Linear(5, 3) for _ in range(3)]
    data = [(torch.randn(4 + i, 5), torch.randint(0, 3, (4 + i,))) for i in range(3)]
    print(round(evaluate(users, data), 3))
