# realworld: https://github.com/aimhubio/aim/pull/3188
# family: A
"""A training script's test stage runs under `torch.inference_mode()` and accumulates its metrics
with `.item()`: the running loss, correct count and total are Python numbers, not inference
tensors, so dividing them in place after the block is ordinary float arithmetic, and training
continues on fresh tensors in the next epoch. Correct."""
import torch
import torch.nn as nn
import torch.nn.functional as F


def test_stage(model, loader):
    model.eval()
    loss_sum, correct, total = 0.0, 0, 0
    with torch.inference_mode():
        for x, y in loader:
            logits = model(x)
            loss_sum += F.cross_entropy(logits, y).item()
            correct += (logits.argmax(1) == y).sum().item()
            total += y.numel()
    loss_sum /= len(loader)
    accuracy = correct / total
    accuracy *= 100
    model.train()
    return loss_sum, accuracy


def run(model, train_loader, test_loader, opt, epochs=2):
    history = []
    for _ in range(epochs):
        for x, y in train_loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        history.append(test_stage(model, test_loader))
    return history


if __name__ == "__main__":
    net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    train = [(torch.randn(4, 6), torch.randint(0, 3, (4,))) for _ in range(3)]
    test = [(torch.randn(4, 6), torch.randint(0, 3, (4,))) for _ in range(2)]
    print(run(net, train, test, torch.optim.SGD(net.parameters(), lr=0.1)))
